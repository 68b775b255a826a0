//! The shutdown signal every binary waits for: SIGTERM (how Kubernetes stops a pod) or SIGINT (Ctrl-C).
//!
//! In: nothing. Out: a future that completes with the [`Signal`] that came, logged at `info`.

use std::fmt;

use tokio::signal::unix::{SignalKind, signal as unix_signal};

/// The signal that asked the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Interrupt,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        })
    }
}

/// Completes on the first SIGTERM or SIGINT. When the SIGTERM handler cannot be installed (said at
/// `error`), only SIGINT is awaited.
pub async fn signal() -> Signal {
    let terminate = async {
        match unix_signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let received = tokio::select! {
        () = terminate => Signal::Terminate,
        () = interrupt => Signal::Interrupt,
    };
    tracing::info!(signal = %received, "stopping");
    received
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn sigterm_completes_the_signal_future() {
        let waiting = tokio::spawn(signal());
        // Let the task install its handlers before the signal comes (without them SIGTERM ends the
        // test process, which fails the test too).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "nothing happened yet");
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .expect("sending SIGTERM to this process");
        let received = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert_eq!(received.ok().and_then(Result::ok), Some(Signal::Terminate));
    }
}
