//! The admin HTTP endpoint (axum): `/healthz`, `/readyz`, `/metrics`, `/stats`, `/cluster`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use relaycache::{Error, KeyOps};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::Shared;

/// Serves the admin routes on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve<C: KeyOps + 'static>(
    listener: TcpListener,
    shared: Arc<Shared<C>>,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz::<C>))
        .route("/metrics", get(metrics::<C>))
        .route("/stats", get(stats::<C>))
        .route("/cluster", get(cluster::<C>))
        .with_state(shared);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "admin endpoint stopped");
    }
}

/// 200 when the cache answers `ping`, 503 with the reason otherwise.
async fn readyz<C: KeyOps>(State(shared): State<Arc<Shared<C>>>) -> Response {
    match shared.cache.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

async fn metrics<C: KeyOps>(State(shared): State<Arc<Shared<C>>>) -> Response {
    let stats = shared.cache.stats().await.ok();
    let cluster = shared.cache.cluster_info().await.ok();
    let body = shared
        .metrics
        .render(stats.as_ref(), cluster.as_ref(), shared.mode);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn stats<C: KeyOps>(State(shared): State<Arc<Shared<C>>>) -> Response {
    let m = &shared.metrics;
    let cache = match shared.cache.stats().await {
        Ok(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
        Err(Error::Unsupported { .. }) => serde_json::Value::Null,
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let body = serde_json::json!({
        "mode": shared.mode,
        "backend": shared.cache.name(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": shared.started.elapsed().as_secs(),
        "cache": cache,
        "server": {
            "connected_clients": m.connected.load(Ordering::Relaxed),
            "connections_total": m.connections_total.load(Ordering::Relaxed),
            "connections_rejected": m.connections_rejected.load(Ordering::Relaxed),
            "commands_total": m.commands_total(),
        },
    });
    axum::Json(body).into_response()
}

async fn cluster<C: KeyOps>(State(shared): State<Arc<Shared<C>>>) -> Response {
    match shared.cache.cluster_info().await {
        Ok(info) => axum::Json(info).into_response(),
        Err(Error::Unsupported { .. }) => (
            StatusCode::NOT_FOUND,
            format!("not clustered (mode {})\n", shared.mode),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}
