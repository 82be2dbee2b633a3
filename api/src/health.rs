//! `GET /api/health`: is the database reachable, which version runs.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::{ApiState, VERSION};

#[derive(Tags)]
enum HealthTags {
    /// Liveness and readiness.
    Health,
}

/// Health report.
#[derive(Debug, Object)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok`, or the database error.
    pub database: String,
    /// Schema version recorded in the database.
    #[oai(nullable)]
    pub schema_version: Option<i64>,
    /// Hub version.
    pub version: String,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// Everything works.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

pub(crate) struct HealthApi {
    state: ApiState,
}

impl HealthApi {
    pub(crate) fn new(state: ApiState) -> Self {
        HealthApi { state }
    }
}

#[OpenApi(tag = "HealthTags::Health")]
impl HealthApi {
    /// Reports whether the hub and its database work (no authentication).
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> HealthResponse {
        let store = &self.state.store;
        match store.ping().await {
            Ok(()) => HealthResponse::Ok(Json(Health {
                status: "ok".into(),
                database: "ok".into(),
                schema_version: store.schema_version().await.ok().flatten(),
                version: VERSION.into(),
            })),
            Err(error) => HealthResponse::Unavailable(Json(Health {
                status: "degraded".into(),
                database: error.to_string(),
                schema_version: None,
                version: VERSION.into(),
            })),
        }
    }
}
