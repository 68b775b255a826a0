//! Waiting in tests for something the system does asynchronously (a controller's write, a broker's
//! ACL, a mapper's report): poll until it shows, or fail naming what did not show.

use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `probe` every [`POLL_INTERVAL`] until it returns `Ok(Some(value))`. `Ok(None)` and errors both
/// mean "not yet"; after `timeout` the last error (or, if the probe only ever said "not yet", a timeout)
/// is returned, with `what` in its context.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let outcome = probe().await;
        if let Ok(Some(value)) = outcome {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(match outcome {
                Err(error) => error.context(format!("waiting {timeout:?} for {what}")),
                _ => anyhow::anyhow!("{what}: not after {timeout:?}"),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_it_shows_and_names_what_never_did() -> anyhow::Result<()> {
        let mut calls = 0;
        let value = eventually("the third call", Duration::from_secs(5), || {
            calls += 1;
            let now = calls;
            async move {
                match now {
                    1 => anyhow::bail!("not ready"),
                    2 => Ok(None),
                    _ => Ok(Some(now)),
                }
            }
        })
        .await?;
        assert_eq!(value, 3);

        let never = eventually("a value", Duration::from_millis(250), || async { Ok(None::<()>) }).await;
        assert_eq!(
            never.map_err(|e| e.to_string()),
            Err("a value: not after 250ms".to_owned())
        );
        let failing = eventually("a value", Duration::from_millis(250), || async {
            anyhow::bail!("connection refused") as anyhow::Result<Option<()>>
        })
        .await;
        let error = failing.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert_eq!(error, "waiting 250ms for a value: connection refused");
        Ok(())
    }
}
