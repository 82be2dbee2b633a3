//! Request body limit: refuses bodies larger than `max_upload_bytes` with 413 before they are
//! buffered (by `Content-Length` when announced, else while reading).

use poem::http::StatusCode;
use poem::http::header::CONTENT_LENGTH;
use poem::{Endpoint, IntoResponse, Request, Response};
use tokio::io::AsyncReadExt;

use crate::error::problem_response;

/// Middleware endpoint enforcing the body limit.
pub(crate) struct BodyLimit<E> {
    inner: E,
    max: u64,
}

impl<E> BodyLimit<E> {
    pub(crate) fn new(inner: E, max: u64) -> Self {
        BodyLimit { inner, max }
    }
}

fn too_large(max: u64) -> Response {
    problem_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        format!("the request body exceeds the {max}-byte limit"),
    )
}

impl<E: Endpoint> Endpoint for BodyLimit<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        if let Some(length) = req.headers().get(CONTENT_LENGTH) {
            match length
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                Some(length) if length > self.max => return Ok(too_large(self.max)),
                Some(0) => return self.inner.call(req).await.map(IntoResponse::into_response),
                Some(_) => {}
                None => {
                    return Ok(problem_response(
                        StatusCode::BAD_REQUEST,
                        "bad-request",
                        "malformed Content-Length".into(),
                    ));
                }
            }
        }
        let body = req.take_body();
        let mut buffer = Vec::new();
        let read = body
            .into_async_read()
            .take(self.max.saturating_add(1))
            .read_to_end(&mut buffer)
            .await;
        if let Err(error) = read {
            return Ok(problem_response(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("cannot read the request body: {error}"),
            ));
        }
        if buffer.len() as u64 > self.max {
            return Ok(too_large(self.max));
        }
        req.set_body(buffer);
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
