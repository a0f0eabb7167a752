//! The admin HTTP endpoint (axum): `/healthz`, `/readyz`, `/metrics`, `/stats`, `/cluster`; HTTPS
//! with `server.admin.tls` (hyper over the RESP listener's TLS configuration).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use relaycache::{Error, KeyOps};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::server::Shared;
use crate::tls;

/// At shutdown, how long requests in flight on HTTPS connections get before they are cut off.
const HTTPS_STOP_WAIT: Duration = Duration::from_millis(1500);

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
        .with_state(shared.clone());
    if let (true, Some(tls)) = (shared.config.admin.tls, &shared.tls) {
        let timeout = shared.config.limits.tls_handshake_timeout;
        serve_https(listener, app, tls.clone(), timeout, shutdown).await;
        return;
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "admin endpoint stopped");
    }
}

/// Serves `app` over HTTPS: one task per connection (handshake within `handshake_timeout`, then
/// HTTP/1.1), owned by a `JoinSet`; at shutdown, stops accepting, lets each connection finish its
/// request in flight for a bounded time, and aborts what is left.
async fn serve_https(
    listener: TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let (app, tls, shutdown) = (app.clone(), tls.clone(), shutdown.clone());
        connections.spawn(async move {
            let stream = tokio::select! {
                () = shutdown.cancelled() => return,
                handshake = tls::handshake(&tls, stream, handshake_timeout) => match handshake {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "admin: closing connection");
                        return;
                    }
                },
            };
            let service = TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "admin: HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    let finish = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(HTTPS_STOP_WAIT, finish).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "admin: HTTPS connections still open at shutdown; cutting them off"
        );
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
