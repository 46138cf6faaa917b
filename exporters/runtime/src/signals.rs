//! SIGINT/SIGTERM → the daemon's shutdown token. A daemon that does not stop
//! within the grace period after the signal is ended, so a pod never hangs in
//! Terminating; a second signal ends it at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub(crate) fn install(token: CancellationToken, grace: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let signal = tokio::select! {
            s = wait_signal() => s,
            _ = token.cancelled() => return,
        };
        tracing::info!(
            signal,
            "stopping: finishing work, flushing samples, writing staleness markers"
        );
        token.cancel();
        // A little beyond the flush grace so the daemon's own deadline acts first.
        tokio::select! {
            s = wait_signal() => {
                tracing::warn!(signal = s, "second signal: exiting now");
                std::process::exit(130);
            }
            _ = tokio::time::sleep(grace + Duration::from_secs(5)) => {
                tracing::error!(?grace, "did not stop within the grace period; exiting");
                std::process::exit(1);
            }
        }
    })
}

async fn wait_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// For one-shot commands and servers that do not use [`crate::Runtime`]: a token
/// cancelled on SIGINT/SIGTERM, with the same grace-then-exit behaviour.
pub fn shutdown_on_signal(grace: Duration) -> CancellationToken {
    let token = CancellationToken::new();
    install(token.clone(), grace);
    token
}
