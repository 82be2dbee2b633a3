//! The HTTP server: the API application plus graceful shutdown.

use std::net::SocketAddr;

use std::sync::Arc;

use cavs_api::ApiState;
use poem::Route;

use crate::pipeline::metrics::Metrics;
use poem::listener::{Acceptor, Listener, TcpListener};
use tokio::sync::oneshot;

use crate::{HTTP_GRACE, HubError};

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
    let app = Route::new()
        .at(
            "/metrics",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("text/plain; version=0.0.4")
                    .body(metrics.render())
            })),
        )
        .nest("/", cavs_api::app(state));
    let done = tokio::spawn(async move {
        let server = poem::Server::new_with_acceptor(acceptor);
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
