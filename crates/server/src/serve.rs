//! The accept loop, with the limits `axum::serve` does not have (SPEC 15). A client that opens
//! connections and never finishes its headers or its body held a file descriptor forever; about 1,100
//! of them starved the desk and Meta's webhooks timed out. Here:
//! - headers must arrive within `server.header_read_timeout_seconds` (hyper closes the connection);
//! - a body must arrive within `server.body_read_timeout_seconds` (the request fails with 408);
//! - at most `server.max_connections` connections are open; further ones wait in the kernel's
//!   backlog until one closes, so the desk never runs out of descriptors;
//! - a `Content-Length` over the body limit is answered 413 before any of the body is read.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::AppState;

/// How long a connection may take, and how many there may be.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown`; then stops accepting and waits for open connections
/// to finish their requests (the caller bounds that wait with the grace period).
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut warned_full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(max_connections = limits.max_connections, "connection limit reached; new connections wait");
                    warned_full = true;
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    () = shutdown.cancelled() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning; the connection stays queued.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        warned_full = false;
        let app = app.clone();
        // The peer address keys the sign-in rate limit (`ConnectInfo`).
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req.map(Body::new)).await.unwrap_or_else(|never| match never {})) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// 413 for a declared `Content-Length` over the limit, before any of the body is read (the body
/// limit alone only notices once that much has arrived).
pub async fn refuse_oversized(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let limit = if crate::attachments::is_upload_path(request.uri().path()) {
        crate::attachments::MAX_UPLOAD_BODY_BYTES.max(state.max_body_bytes)
    } else {
        state.max_body_bytes
    };
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        if request.uri().path() == "/webhooks/whatsapp" {
            crate::metrics::Metrics::inc(&state.metrics.webhooks_too_large, 1);
        }
        return ApiError::TooLarge(limit).into_response();
    }
    next.run(request).await
}

/// Raises the soft limit on open files to the hard limit where the system allows, and says what it
/// is: every connection holds one, and running out stalls webhooks.
pub fn log_file_descriptor_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let needed = u64::try_from(max_connections).unwrap_or(u64::MAX).saturating_add(128);
            if limit < needed {
                tracing::warn!(
                    open_files = limit,
                    max_connections,
                    "the open-file limit is below server.max_connections plus the desk's own files; raise it (ulimit -n) or lower max_connections"
                );
            } else {
                tracing::info!(open_files = limit, max_connections, "open-file limit");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
    }
}
