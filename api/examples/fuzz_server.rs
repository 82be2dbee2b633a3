//! A stand-alone API server for fuzzing the HTTP layer without the hub: in-memory store, a
//! stub pipeline (finds no face), one admin. `scripts/fuzz-api.sh --standalone` runs it.
//!
//! `cargo run --release -p cavs-api --example fuzz_server -- ADDR USERNAME PASSWORD`

use std::sync::Arc;

use cavs_api::{
    ApiConfig, ApiState, CaptureOutcome, CaptureRequest, EnrollmentFace, Pipeline, PipelineError,
};
use cavs_models::store::Store;
use cavs_models::{Actor, Device, NewUser, Role};

struct StubPipeline;

#[async_trait::async_trait]
impl Pipeline for StubPipeline {
    async fn capture(&self, _request: CaptureRequest) -> Result<CaptureOutcome, PipelineError> {
        Ok(CaptureOutcome { faces: Vec::new() })
    }

    async fn embed_photo(&self, _image: Vec<u8>) -> Result<Vec<EnrollmentFace>, PipelineError> {
        Ok(Vec::new())
    }

    async fn gallery_changed(&self) {}

    async fn device_changed(&self, _device_id: &str, _device: Option<&Device>) {}

    /// No broker in this server: no sessions to end.
    async fn account_changed(&self, _username: &str) {}

    async fn candidates(&self, _descriptor: Vec<f32>, _limit: usize) -> Vec<cavs_api::Candidate> {
        Vec::new()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8000".into());
    let username = args.next().unwrap_or_else(|| "admin".into());
    let password = args.next().unwrap_or_else(|| "admin-password".into());
    let store = Store::open("mem://").await?;
    store
        .users()
        .create(
            &NewUser {
                username,
                password,
                role: Role::Admin,
                classrooms: vec![],
            },
            &Actor::System,
        )
        .await?;
    let data_dir = std::env::temp_dir().join(format!("cavs-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let state = ApiState {
        store,
        pipeline: Arc::new(StubPipeline),
        config: Arc::new(ApiConfig {
            secret_key: "fuzz-server-secret-key".to_owned().into(),
            access_minutes: 60,
            refresh_minutes: 120,
            max_upload_bytes: 5 * 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            data_dir,
            session_window: chrono::Duration::minutes(60),
            sealer: Arc::new(cavs_models::sealing::Sealer::ephemeral().expect("sealer")),
        }),
        events: cavs_api::RecordEvents::default(),
        first_run: cavs_api::FirstRunCode::none(),
    };
    eprintln!("listening on http://{addr}");
    poem::Server::new(poem::listener::TcpListener::bind(addr))
        .run(cavs_api::app(state))
        .await?;
    Ok(())
}
