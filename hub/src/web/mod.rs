//! The web app for teachers and admins, served at `/` beside the API: its embedded files with
//! entity tags, and the security headers of every response (a strict Content-Security-Policy
//! on the app, `nosniff` and no framing everywhere).

mod assets;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Request, Response};

/// The app's policy: its own scripts, styles and API only; face crops are shown from blob
/// URLs made of authenticated fetches; no inline code, no framing, no plugins.
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The API's policy: JSON and images are never to run anything or be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Paths the API (and its documentation and metrics) own.
fn is_api_path(path: &str) -> bool {
    ["/api", "/docs", "/metrics"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Serves the web app for GET and HEAD outside the API; everything else goes to `inner`.
pub struct WebApp<E> {
    inner: E,
}

impl<E> WebApp<E> {
    /// The app in front of `inner` (the API).
    pub fn new(inner: E) -> Self {
        WebApp { inner }
    }
}

fn set(response: &mut Response, name: header::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
}

/// Headers of every response: no MIME sniffing, no framing, no referrer.
fn common_headers(response: &mut Response) {
    set(response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(response, header::X_FRAME_OPTIONS, "DENY");
    set(response, header::REFERRER_POLICY, "no-referrer");
}

fn asset_response(req: &Request, asset: assets::Asset) -> Response {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let mut response = if fresh {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .finish()
    } else if req.method() == Method::HEAD {
        Response::builder()
            .content_type(asset.media_type)
            .header(header::CONTENT_LENGTH, asset.bytes.len())
            .finish()
    } else {
        Response::builder()
            .content_type(asset.media_type)
            .body(asset.bytes)
    };
    set(&mut response, header::ETAG, asset.etag);
    // Revalidate each time: a new hub version is picked up at once, unchanged files cost a 304.
    set(&mut response, header::CACHE_CONTROL, "no-cache");
    set(&mut response, header::CONTENT_SECURITY_POLICY, APP_CSP);
    set(
        &mut response,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    response
}

impl<E: Endpoint<Output = Response>> Endpoint for WebApp<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        let serves_app = !is_api_path(&path) && matches!(*req.method(), Method::GET | Method::HEAD);
        if serves_app && let Some(asset) = assets::for_path(&path) {
            let mut response = asset_response(&req, asset);
            common_headers(&mut response);
            return Ok(response);
        }
        let mut response = self.inner.call(req).await?;
        common_headers(&mut response);
        if !path.starts_with("/docs") {
            // Swagger UI runs inline scripts of its own; everything else is data.
            set(&mut response, header::CONTENT_SECURITY_POLICY, API_CSP);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_left_to_the_api() {
        for path in [
            "/api",
            "/api/health",
            "/docs",
            "/docs/index.html",
            "/metrics",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/", "/app.css", "/js/app.js", "/apis", "/documents"] {
            assert!(!is_api_path(path), "{path}");
        }
    }
}
