//! `GET /api/health`: is the database reachable, do the pipeline's parts run (bridge, router,
//! writer, recognition workers), which version runs.

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
    /// `ok` (a degraded hub answers 503 with a [`HealthProblem`]).
    pub status: String,
    /// `ok`, or the database error.
    pub database: String,
    /// `ok`, or the pipeline parts that stopped (e.g. `workers stopped`).
    pub pipeline: String,
    /// Recognition workers alive.
    pub workers: u32,
    /// Schema version recorded in the database.
    #[oai(nullable)]
    pub schema_version: Option<i64>,
    /// Hub version.
    pub version: String,
}

/// The 503 answer: a problem document (RFC 9457, like every error of the API) whose extension
/// members carry the health report.
#[derive(Debug, Object)]
pub struct HealthProblem {
    /// `https://cavs.dev/problems/unavailable`.
    #[oai(rename = "type")]
    pub kind: String,
    /// `Service unavailable`.
    pub title: String,
    /// 503.
    pub status: u16,
    /// Which part does not work.
    pub detail: String,
    /// `ok`, or the database error.
    pub database: String,
    /// `ok`, or the pipeline parts that stopped.
    pub pipeline: String,
    /// Recognition workers alive.
    pub workers: u32,
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
    /// The database does not answer, or a pipeline part stopped.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<HealthProblem>),
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
        let pipeline = self.state.pipeline.health();
        let pipeline_text = if pipeline.is_ok() {
            "ok".to_owned()
        } else {
            format!("{} stopped", pipeline.down.join(", "))
        };
        let workers = u32::try_from(pipeline.workers_alive).unwrap_or(u32::MAX);
        let (database, schema_version) = match store.ping().await {
            Ok(()) => ("ok".to_owned(), store.schema_version().await.ok().flatten()),
            Err(error) => (error.to_string(), None),
        };
        if database == "ok" && pipeline.is_ok() {
            return HealthResponse::Ok(Json(Health {
                status: "ok".into(),
                database,
                pipeline: pipeline_text,
                workers,
                schema_version,
                version: VERSION.into(),
            }));
        }
        let detail = if database == "ok" {
            format!("pipeline: {pipeline_text}")
        } else {
            "database unavailable".to_owned()
        };
        let problem = crate::error::problem(503, "unavailable", detail);
        HealthResponse::Unavailable(Json(HealthProblem {
            kind: problem.kind,
            title: problem.title,
            status: problem.status,
            detail: problem.detail,
            database,
            pipeline: pipeline_text,
            workers,
            schema_version,
            version: VERSION.into(),
        }))
    }
}
