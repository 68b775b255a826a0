//! One instance of a component per test process, started by the first test that asks for it.
//!
//! The instance lives in a `static` and is never dropped; the watchdog stops its processes when the test
//! process ends. A failed start is remembered, so every later test fails at once with the same message
//! instead of waiting for its own time-out.

use std::future::Future;

use crate::error::Error;

/// Where a shared instance (or its start-up failure) is kept.
pub(crate) type SharedCell<T> = tokio::sync::OnceCell<Result<T, String>>;

/// The instance in `cell`, started with `start` if no test started it yet.
pub(crate) async fn get_or_start<T, F, Fut>(
    cell: &'static SharedCell<T>,
    component: &'static str,
    start: F,
) -> Result<&'static T, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = cell
        .get_or_init(|| async { start().await.map_err(|e| e.to_string()) })
        .await;
    started.as_ref().map_err(|message| Error::SharedFailed {
        component,
        message: message.clone(),
    })
}
