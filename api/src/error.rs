//! The one error type of the API and the middleware that turns every error — ours, poem's and
//! poem-openapi's (parse, auth, unknown route, wrong method) — into `application/problem+json`.

use cavs_models::store::StoreError;
use poem::http::StatusCode;
use poem::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use cavs_models::pipeline::PipelineError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Base of the stable problem `type` URIs.
pub const PROBLEM_BASE: &str = "https://cavs.dev/problems/";

/// An RFC 9457 problem: the body of every error answer.
#[derive(Debug, Clone, PartialEq, Object, serde::Deserialize)]
pub struct Problem {
    /// Stable URI naming the kind of problem, e.g. `https://cavs.dev/problems/not-found`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human-readable summary of the kind.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
}

/// Every failure a handler can answer with; each carries a [`Problem`].
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed request (bad JSON, bad parameter, bad multipart).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing, expired or tampered credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(
        Json<Problem>,
        /// The scheme to authenticate with.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// Authenticated, but the role may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such record.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// A unique value is taken.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The upload exceeds the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The upload is not a JPEG or PNG image.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Well-formed but unacceptable (validation, wrong number of faces, corrupt image).
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many failed attempts: try again after the given number of seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<Problem>,
        /// Seconds to wait before the next attempt.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// Unexpected server failure.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The database or recognition pipeline is unavailable or busy.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

/// Short title of a status code.
fn title_of(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Payload too large",
        415 => "Unsupported media type",
        422 => "Unprocessable content",
        429 => "Too many requests",
        500 => "Internal server error",
        503 => "Service unavailable",
        _ => "Error",
    }
}

/// Default problem slug of a status code.
fn slug_of(status: u16) -> &'static str {
    match status {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        409 => "conflict",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "validation-error",
        429 => "too-many-requests",
        503 => "unavailable",
        _ => "internal",
    }
}

/// Builds a problem with the given slug (the last segment of its `type` URI).
pub fn problem(status: u16, slug: &str, detail: impl Into<String>) -> Problem {
    Problem {
        kind: format!("{PROBLEM_BASE}{slug}"),
        title: title_of(status).to_owned(),
        status,
        detail: detail.into(),
    }
}

impl ApiError {
    /// An error of `status` with a specific problem slug.
    pub fn with_slug(status: u16, slug: &str, detail: impl Into<String>) -> Self {
        let body = Json(problem(status, slug, detail));
        match status {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthorized(body, "Bearer".into()),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            409 => ApiError::Conflict(body),
            413 => ApiError::PayloadTooLarge(body),
            415 => ApiError::UnsupportedMediaType(body),
            422 => ApiError::Unprocessable(body),
            503 => ApiError::Unavailable(body),
            _ => ApiError::Internal(body),
        }
    }

    /// 409 `consent-required`: the student has not granted consent to face recognition.
    pub fn consent_required(detail: impl Into<String>) -> Self {
        ApiError::with_slug(409, "consent-required", detail)
    }

    /// 429 `too-many-failures`, with `Retry-After` in whole seconds (at least 1).
    pub fn too_many_failures(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        ApiError::TooManyRequests(
            Json(problem(
                429,
                "too-many-failures",
                format!("too many failed sign-ins: try again in {} s", secs.max(1)),
            )),
            secs.max(1),
        )
    }

    /// 400 `bad-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::with_slug(400, "bad-request", detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::with_slug(401, "unauthorized", detail)
    }

    /// 401 for a device (asks for Basic credentials).
    pub fn device_unauthorized(detail: impl Into<String>) -> Self {
        ApiError::Unauthorized(
            Json(problem(401, "unauthorized", detail)),
            "Basic realm=\"cavs-devices\"".into(),
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::with_slug(403, "forbidden", detail)
    }

    /// 404 `not-found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::with_slug(404, "not-found", detail)
    }

    /// 422 `validation-error`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::with_slug(422, "validation-error", detail)
    }

    /// 500 `internal` (the detail is logged, not shown).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::with_slug(500, "internal", "internal server error")
    }

    /// The problem carried.
    pub fn problem(&self) -> &Problem {
        match self {
            ApiError::BadRequest(p)
            | ApiError::Unauthorized(p, _)
            | ApiError::TooManyRequests(p, _)
            | ApiError::Forbidden(p)
            | ApiError::NotFound(p)
            | ApiError::Conflict(p)
            | ApiError::PayloadTooLarge(p)
            | ApiError::UnsupportedMediaType(p)
            | ApiError::Unprocessable(p)
            | ApiError::Internal(p)
            | ApiError::Unavailable(p) => &p.0,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.problem();
        write!(f, "{} {}: {}", p.status, p.title, p.detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what } => ApiError::not_found(format!("{what} not found")),
            StoreError::Conflict(message) => ApiError::with_slug(409, "conflict", message),
            StoreError::ConsentRequired { .. } => ApiError::consent_required(error.to_string()),
            StoreError::Invalid(message) => ApiError::invalid(message),
            StoreError::Connect { .. } => {
                tracing::error!(%error, "database unavailable");
                ApiError::with_slug(503, "unavailable", "database unavailable")
            }
            StoreError::Storage(message) => ApiError::internal(message),
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::BadImage(message) => ApiError::with_slug(
                422,
                "invalid-image",
                format!("not a readable image: {message}"),
            ),
            PipelineError::TooLarge(message) => ApiError::with_slug(
                413,
                "payload-too-large",
                format!("image too large: {message}"),
            ),
            PipelineError::Busy => {
                ApiError::with_slug(503, "busy", "the recognition pipeline is busy; retry later")
            }
            PipelineError::Unavailable(message) => {
                tracing::error!(%message, "pipeline unavailable");
                ApiError::with_slug(
                    503,
                    "unavailable",
                    "the recognition pipeline is unavailable",
                )
            }
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// The methods of every documented path, to answer 405 with an `Allow` header.
#[derive(Debug, Default)]
pub(crate) struct AllowTable(Vec<(Vec<String>, String)>);

impl AllowTable {
    /// Reads the paths and methods of an OpenAPI document whose server is `/api`.
    pub(crate) fn from_spec(spec: &str) -> Self {
        let value: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut table = Vec::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods: Vec<String> = item
                    .as_object()
                    .map(|ops| {
                        ops.keys()
                            .filter(|m| {
                                matches!(m.as_str(), "get" | "post" | "put" | "delete" | "patch")
                            })
                            .map(|m| m.to_ascii_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                let segments = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                table.push((segments, methods.join(", ")));
            }
        }
        AllowTable(table)
    }

    /// The `Allow` value for a request path (`/api/...`).
    fn allow(&self, path: &str) -> Option<&str> {
        let rest = path.strip_prefix("/api")?;
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .map(|(_, methods)| methods.as_str())
    }
}

/// Middleware endpoint: answers every error, and every error status without a problem body,
/// as `application/problem+json` (405 with an `Allow` header).
pub(crate) struct ProblemEndpoint<E> {
    inner: E,
    allow: AllowTable,
}

impl<E> ProblemEndpoint<E> {
    pub(crate) fn new(inner: E, allow: AllowTable) -> Self {
        ProblemEndpoint { inner, allow }
    }

    fn with_allow(&self, path: &str, mut response: Response) -> Response {
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.allow.allow(path)
            && let Ok(value) = poem::http::HeaderValue::from_str(allow)
        {
            response
                .headers_mut()
                .insert(poem::http::header::ALLOW, value);
        }
        response
    }
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

/// Slug for framework errors, from their status and message.
fn framework_slug(status: StatusCode, message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    match status.as_u16() {
        400 if lower.contains("json") || lower.contains("payload") => "malformed-request",
        400 if lower.contains("multipart") => "malformed-multipart",
        400 => "bad-request",
        other => slug_of(other),
    }
}

/// The problem response of a status with a message.
pub(crate) fn problem_response(status: StatusCode, slug: &str, detail: String) -> Response {
    let body = problem(status.as_u16(), slug, detail);
    let mut response = Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(
            serde_json::to_vec(&serde_json::json!({
                "type": body.kind,
                "title": body.title,
                "status": body.status,
                "detail": body.detail,
            }))
            .unwrap_or_default(),
        );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

impl<E: Endpoint> Endpoint for ProblemEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        let path = req.uri().path().to_owned();
        self.problem(req).await.map(|r| self.with_allow(&path, r))
    }
}

impl<E: Endpoint> ProblemEndpoint<E> {
    async fn problem(&self, req: Request) -> poem::Result<Response> {
        let outcome = self.inner.call(req).await;
        let response = match outcome {
            Ok(output) => output.into_response(),
            Err(error) => {
                let status = error.status();
                let message = error.to_string();
                let response = error.into_response();
                if is_problem(&response) {
                    return Ok(response);
                }
                let status = if status.is_success() {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    status
                };
                if status.is_server_error() {
                    tracing::error!(%message, "request failed");
                }
                let detail = if message.is_empty() {
                    title_of(status.as_u16()).to_owned()
                } else if status.is_server_error() {
                    "internal server error".to_owned()
                } else {
                    message.clone()
                };
                return Ok(problem_response(
                    status,
                    framework_slug(status, &message),
                    detail,
                ));
            }
        };
        let status = response.status();
        if (status.is_client_error() || status.is_server_error()) && !is_problem(&response) {
            let body = response.into_body().into_string().await.unwrap_or_default();
            let detail = if body.trim().is_empty() {
                title_of(status.as_u16()).to_owned()
            } else {
                body
            };
            let slug = framework_slug(status, &detail);
            return Ok(problem_response(status, slug, detail));
        }
        Ok(response)
    }
}
