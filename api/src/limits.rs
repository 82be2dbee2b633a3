//! Request body limit: refuses bodies larger than `max_upload_bytes` with 413 — at once when
//! `Content-Length` announces one, else as soon as the reader of the body passes the limit.
//! Nothing is buffered here: the body streams to the handler, which reads it only after the
//! request is authenticated (poem-openapi extracts the security scheme before the body), so an
//! unauthenticated client announcing a large upload gets its 401 without sending it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use poem::http::StatusCode;
use poem::http::header::CONTENT_LENGTH;
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::io::{AsyncRead, ReadBuf};

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

/// A body reader that fails once more than `left` bytes come through, and says so in
/// `exceeded` (the handler's own error is then replaced by a 413).
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: Arc<AtomicBool>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Limited<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = (buf.filled().len() - before) as u64;
                if read > this.left {
                    this.exceeded.store(true, Ordering::Relaxed);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "request body too large",
                    )));
                }
                this.left -= read;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
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
        let exceeded = Arc::new(AtomicBool::new(false));
        let body = req.take_body();
        req.set_body(Body::from_async_read(Limited {
            inner: body.into_async_read(),
            left: self.max,
            exceeded: Arc::clone(&exceeded),
        }));
        let result = self.inner.call(req).await;
        if exceeded.load(Ordering::Relaxed) {
            return Ok(too_large(self.max));
        }
        result.map(IntoResponse::into_response)
    }
}
