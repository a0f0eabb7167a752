//! Waiting for the signals that stop the server: SIGINT (Ctrl-C) and SIGTERM.

use std::future::Future;

/// Resolves when the process receives SIGINT or SIGTERM (on non-Unix systems: Ctrl-C).
///
/// On Unix the handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives between the call and the first poll is not lost (and does not kill the process).
/// Call it inside a Tokio runtime.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM received"),
                        _ = int.recv() => tracing::info!("SIGINT received"),
                    }
                }
                (Err(e), Ok(mut int)) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                    int.recv().await;
                    tracing::info!("SIGINT received");
                }
                (Ok(mut term), Err(e)) => {
                    tracing::warn!(error = %e, "cannot listen for SIGINT; only SIGTERM stops the server");
                    term.recv().await;
                    tracing::info!("SIGTERM received");
                }
                (Err(e), Err(_)) => {
                    tracing::warn!(error = %e, "cannot listen for SIGINT or SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
