//! The HTTP server: the API application plus graceful shutdown.

use std::net::SocketAddr;

use std::sync::Arc;

use cavs_api::ApiState;
use poem::{IntoResponse, Route};

use crate::pipeline::metrics::Metrics;
use poem::listener::{Acceptor, Listener, TcpListener};
use tokio::sync::oneshot;

use crate::{HTTP_GRACE, HubError};

/// A connection with no bytes moving for this long is closed (idle keep-alives and clients
/// that open connections and go silent, holding a slot each).
const HTTP_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Binds `addr`, serves the API until the returned sender fires, and reports the bound address.
pub(crate) async fn serve(
    addr: SocketAddr,
    state: ApiState,
    metrics: Arc<Metrics>,
) -> Result<(SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>), HubError> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .map_err(|source| HubError::Http { addr, source })?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    // On a loopback listener only this machine can reach `/metrics` (the usual Prometheus
    // set-up); on any other address it needs an admin's access token.
    let protected = !bound.ip().is_loopback();
    let metrics_state = state.clone();
    let app = Route::new()
        .at(
            "/metrics",
            poem::get(poem::endpoint::make(move |req: poem::Request| {
                let (metrics, state) = (metrics.clone(), metrics_state.clone());
                async move {
                    if protected
                        && let Err(error) = cavs_api::auth::require_admin_bearer(&state, &req).await
                    {
                        return error.into_response();
                    }
                    poem::Response::builder()
                        .content_type("text/plain; version=0.0.4")
                        .body(metrics.render())
                }
            })),
        )
        .nest("/", cavs_api::app(state));
    let done = tokio::spawn(async move {
        let server = poem::Server::new_with_acceptor(acceptor).idle_timeout(HTTP_IDLE_TIMEOUT);
        let result = server
            .run_with_graceful_shutdown(
                app,
                async {
                    let _ = stop_rx.await;
                },
                Some(HTTP_GRACE),
            )
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "HTTP server failed");
        }
    });
    Ok((bound, stop_tx, done))
}
