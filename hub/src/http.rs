//! The HTTP server: the API application plus graceful shutdown.

use std::net::SocketAddr;

use std::sync::Arc;

use cavs_api::ApiState;
use poem::{IntoResponse, Route};

use crate::pipeline::metrics::Metrics;
use crate::tls::TlsFiles;
use poem::listener::{Acceptor, Listener, RustlsCertificate, RustlsConfig, TcpListener};
use tokio::sync::oneshot;

use crate::{HTTP_GRACE, HubError};

/// The running HTTP server.
pub(crate) struct Served {
    /// Where plain HTTP is served (the real port when 0 was asked for).
    pub http_addr: SocketAddr,
    /// Where HTTPS is served, when TLS is configured.
    pub https_addr: Option<SocketAddr>,
    /// Fire to stop gracefully.
    pub stop: oneshot::Sender<()>,
    /// Ends when the server has stopped.
    pub done: tokio::task::JoinHandle<()>,
}

/// A connection with no bytes moving for this long is closed (idle keep-alives and clients
/// that open connections and go silent, holding a slot each).
const HTTP_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Binds `addr` (and, with `https`, its address with TLS), serves the API until the returned
/// sender fires, and reports the bound addresses.
pub(crate) async fn serve(
    addr: SocketAddr,
    https: Option<(SocketAddr, TlsFiles)>,
    state: ApiState,
    metrics: Arc<Metrics>,
) -> Result<Served, HubError> {
    let plain = TcpListener::bind(addr);
    let with_tls = https.is_some();
    let listener = match https {
        None => plain.boxed(),
        Some((https_addr, files)) => {
            let certificate = RustlsCertificate::new()
                .cert(files.cert_pem)
                .key(files.key_pem);
            plain
                .combine(
                    TcpListener::bind(https_addr).rustls(RustlsConfig::new().fallback(certificate)),
                )
                .boxed()
        }
    };
    let acceptor = listener
        .into_acceptor()
        .await
        .map_err(|source| HubError::Http { addr, source })?;
    let bound: Vec<SocketAddr> = acceptor
        .local_addr()
        .iter()
        .filter_map(|a| a.as_socket_addr().copied())
        .collect();
    let http_addr = bound.first().copied().unwrap_or(addr);
    let https_addr = if with_tls {
        bound.get(1).copied()
    } else {
        None
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    // On loopback listeners only this machine can reach `/metrics` (the usual Prometheus
    // set-up); when either listener faces the network it needs an admin's access token.
    let protected = bound.iter().any(|a| !a.ip().is_loopback());
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
    let app = crate::web::WebApp::new(app);
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
    Ok(Served {
        http_addr,
        https_addr,
        stop: stop_tx,
        done,
    })
}
