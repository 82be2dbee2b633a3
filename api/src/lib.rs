//! The CAVS REST API (poem-openapi): auth, students, attendance, devices, audit and capture,
//! with the OpenAPI document at `/api/openapi.json` and Swagger UI at `/docs`.
//!
//! The API reaches the recognition pipeline only through the [`Pipeline`] trait, which the hub
//! implements; everything else goes through the [`Store`](cavs_models::store::Store).
//!
//! People authenticate with a Bearer JWT from `POST /api/auth/login` (HS256, simplejwt-style
//! claims); devices call `POST /api/capture` with HTTP Basic (device id, device secret). Every
//! error is `application/problem+json` with a stable `type` URI (see [`error`]).

mod account;
mod account_types;
mod attendance;
mod audit;
pub mod auth;
mod capture;
mod config;
mod consent;
mod data_rights;
mod devices;
pub mod enroll;
pub mod error;
mod events;
mod health;
pub mod jwt;
mod limits;
mod manual_attendance;
pub mod pagination;
pub mod photos;
pub mod retention;
mod review_aids;
pub mod setup;
mod sign_out;
mod students;
mod tags;
pub mod text;
mod timeparam;
mod users;

pub use cavs_models::pipeline::{
    Candidate, CaptureFace, CaptureOutcome, CaptureRequest, EnrollmentFace, Pipeline,
    PipelineError, PipelineHealth, RecordEvents,
};
pub use config::ApiConfig;
pub use setup::FirstRunCode;

use std::collections::HashSet;
use std::sync::Arc;

use cavs_models::store::Store;
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// Shared state of every handler.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// The recognition pipeline (implemented by the hub).
    pub pipeline: Arc<dyn Pipeline>,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Attendance events: the live stream reads them, reviews add to them.
    pub events: RecordEvents,
    /// The one-time code of the first-run page (empty once the hub has an account).
    pub first_run: FirstRunCode,
}

/// The version reported by `/api/health` and the OpenAPI document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

type Apis = (
    health::HealthApi,
    account::AccountApi,
    users::UsersApi,
    students::StudentsApi,
    data_rights::DataRightsApi,
    consent::ConsentApi,
    attendance::AttendanceApi,
    review_aids::ReviewAidsApi,
    events::EventsApi,
    setup::SetupApi,
    sign_out::SignOutApi,
    devices::DevicesApi,
    audit::AuditApi,
    capture::CaptureApi,
);

fn service(state: &ApiState) -> OpenApiService<Apis, ()> {
    let apis = (
        health::HealthApi::new(state.clone()),
        account::AccountApi::new(state.clone()),
        users::UsersApi::new(state.clone()),
        students::StudentsApi::new(state.clone()),
        data_rights::DataRightsApi::new(state.clone()),
        consent::ConsentApi::new(state.clone()),
        attendance::AttendanceApi::new(state.clone()),
        review_aids::ReviewAidsApi::new(state.clone()),
        events::EventsApi::new(state.clone()),
        setup::SetupApi::new(state.clone()),
        sign_out::SignOutApi::new(state.clone()),
        devices::DevicesApi::new(state.clone()),
        audit::AuditApi::new(state.clone()),
        capture::CaptureApi::new(state.clone()),
    );
    OpenApiService::new(apis, "CAVS API", VERSION)
        .description(
            "Classroom attendance from camera photos. People sign in with `POST /api/auth/login` \
             and send `Authorization: Bearer <access>`; devices post photos to \
             `POST /api/capture` with HTTP Basic (device id, device secret). Errors are \
             `application/problem+json`.",
        )
        .server("/api")
}

/// The OpenAPI document (JSON) of the API.
pub fn openapi_json(state: &ApiState) -> String {
    service(state).spec()
}

/// CORS for the configured origins (`*` allows any).
fn cors(origins: &[String]) -> Cors {
    let cors = Cors::new()
        .allow_credentials(false)
        .allow_headers(["authorization", "content-type"])
        .allow_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"]);
    if origins.iter().any(|o| o.trim() == "*") {
        return cors;
    }
    let allowed: HashSet<String> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .collect();
    cors.allow_origins_fn(move |origin| allowed.contains(origin))
}

/// Builds the whole HTTP application: `/api/...`, `/api/openapi.json` and `/docs`.
pub fn app(state: ApiState) -> impl Endpoint + 'static {
    let service = service(&state);
    let allow = error::AllowTable::from_spec(&service.spec());
    let spec = service.spec_endpoint();
    let ui = service.swagger_ui();
    let max_upload = state.config.max_upload_bytes;
    let origins = state.config.cors_allowed_origins.clone();
    let routes = Route::new()
        .at("/api/openapi.json", spec)
        .nest("/docs", ui)
        .nest("/api", service)
        .data(state);
    let inner = error::ProblemEndpoint::new(
        limits::BodyLimit::new(routes, max_upload).with(poem::middleware::Tracing),
        allow,
    );
    error::ProblemEndpoint::new(
        inner.with_if(!origins.is_empty(), cors(&origins)),
        error::AllowTable::default(),
    )
}
