//! Shared test setup: an in-memory store, the app, users and tokens, and a test pipeline
//! built on the real recognizer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use cavs_api::{
    ApiConfig, ApiState, CaptureFace, CaptureOutcome, CaptureRequest, EnrollmentFace, Pipeline,
    PipelineError, PipelineHealth,
};
use cavs_models::store::Store;
use cavs_models::{Actor, Device, NewUser, Role};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, decode_image};
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::http::StatusCode;
use poem::test::{TestClient, TestForm, TestFormField};
use serde_json::Value;

/// The dev photos.
pub const FACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/dev");

/// Password of every test user.
pub const PASSWORD: &str = "correct horse battery";

/// The JWT secret of the tests.
pub const SECRET: &str = "test-secret-key-0123456789abcdef";

/// Upload limit of the tests.
pub const MAX_UPLOAD: u64 = 2 * 1024 * 1024;

static RECOGNIZER: LazyLock<Mutex<Recognizer>> = LazyLock::new(|| {
    Mutex::new(Recognizer::new(RecognizerConfig::default()).expect("recognizer loads"))
});

/// Reads a dev photo.
pub fn photo(relative: &str) -> Vec<u8> {
    std::fs::read(format!("{FACES}/{relative}")).expect("dev photo")
}

/// A plain grey PNG with no face.
pub fn blank_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(96, 96, image::Rgb([128, 128, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png encodes");
    bytes.into_inner()
}

/// Runs the shared recognizer on an image: captures with `analyze`, enrollment photos with
/// `analyze_portrait` as the hub does (tight crops retried with a margin).
fn analyze_with(
    bytes: &[u8],
    portrait: bool,
) -> Result<Vec<cavs_recognizer::FaceAnalysis>, PipelineError> {
    let img = decode_image(bytes, &DecodeLimits::default())
        .map_err(|e| PipelineError::BadImage(e.to_string()))?;
    let recognizer = RECOGNIZER.lock().unwrap_or_else(|p| p.into_inner());
    let faces = if portrait {
        recognizer.analyze_portrait(&img)
    } else {
        recognizer.analyze(&img)
    };
    faces.map_err(|e| PipelineError::Unavailable(e.to_string()))
}

/// A pipeline on the real recognizer that counts gallery, device and account notifications; capture
/// reports the faces found without writing records.
#[derive(Default)]
pub struct TestPipeline {
    pub gallery_changes: AtomicUsize,
    pub device_changes: Mutex<Vec<(String, bool)>>,
    pub account_changes: Mutex<Vec<String>>,
    /// Parts reported as stopped by `health()`.
    pub down: Mutex<Vec<String>>,
    /// What `candidates()` answers.
    pub candidates: Mutex<Vec<cavs_api::Candidate>>,
}

#[async_trait::async_trait]
impl Pipeline for TestPipeline {
    async fn capture(&self, request: CaptureRequest) -> Result<CaptureOutcome, PipelineError> {
        let faces = tokio::task::spawn_blocking(move || analyze_with(&request.image, false))
            .await
            .map_err(|e| PipelineError::Unavailable(e.to_string()))??;
        Ok(CaptureOutcome {
            faces: faces
                .into_iter()
                .map(|f| CaptureFace {
                    bbox: [
                        f.detection.bbox.x,
                        f.detection.bbox.y,
                        f.detection.bbox.width,
                        f.detection.bbox.height,
                    ],
                    score: f.detection.score,
                    student_id: None,
                    student_name: None,
                    distance: None,
                    confidence: 0.0,
                    record: None,
                })
                .collect(),
        })
    }

    async fn embed_photo(&self, image: Vec<u8>) -> Result<Vec<EnrollmentFace>, PipelineError> {
        let faces = tokio::task::spawn_blocking(move || analyze_with(&image, true))
            .await
            .map_err(|e| PipelineError::Unavailable(e.to_string()))??;
        Ok(faces
            .into_iter()
            .map(|f| EnrollmentFace {
                bbox: [
                    f.detection.bbox.x,
                    f.detection.bbox.y,
                    f.detection.bbox.width,
                    f.detection.bbox.height,
                ],
                score: f.detection.score,
                descriptor: f.descriptor.0.to_vec(),
            })
            .collect())
    }

    async fn gallery_changed(&self) {
        self.gallery_changes.fetch_add(1, Ordering::SeqCst);
    }

    /// These tests run no gallery: the nearest students come from `self.candidates`.
    async fn candidates(&self, _descriptor: Vec<f32>, limit: usize) -> Vec<cavs_api::Candidate> {
        let mut near = self
            .candidates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        near.truncate(limit);
        near
    }

    fn health(&self) -> PipelineHealth {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner()).clone();
        PipelineHealth {
            workers_alive: if down.iter().any(|p| p == "workers") {
                0
            } else {
                2
            },
            down,
        }
    }

    async fn device_changed(&self, device_id: &str, device: Option<&Device>) {
        self.device_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((device_id.to_owned(), device.is_some()));
    }

    async fn account_changed(&self, username: &str) {
        self.account_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(username.to_owned());
    }
}

/// One test's world.
pub struct Env {
    pub store: Store,
    pub pipeline: Arc<TestPipeline>,
    pub config: Arc<ApiConfig>,
    pub client: TestClient<BoxEndpoint<'static, poem::Response>>,
    pub admin: String,
    pub teacher: String,
    pub data_dir: tempfile::TempDir,
    /// The attendance events the API reads and adds to.
    pub events: cavs_api::RecordEvents,
}

/// A response: status, content type, JSON body (Null when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: poem::http::HeaderMap,
    pub json: Value,
    pub bytes: Vec<u8>,
}

impl Answer {
    /// Asserts a problem+json error with this status and `type` slug.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.json);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {} for {}",
            self.content_type,
            self.json
        );
        assert_eq!(
            self.json["type"].as_str(),
            Some(format!("https://cavs.dev/problems/{slug}").as_str()),
            "body: {}",
            self.json
        );
        assert_eq!(self.json["status"].as_u64(), Some(u64::from(status)));
        assert!(self.json["title"].is_string() && self.json["detail"].is_string());
    }

    /// Asserts this status.
    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.json);
    }
}

/// Sends a request and reads the answer.
pub async fn read(response: poem::test::TestResponse) -> Answer {
    let response = response.0;
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.into_body().into_vec().await.unwrap_or_default();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        headers,
        json,
        bytes,
    }
}

impl Env {
    /// A fresh store with an admin (`admin`) and a teacher (`teacher`, bound to `room-1` and
    /// `room-2`), both signed in.
    pub async fn new() -> Env {
        Self::with_origins(Vec::new()).await
    }

    /// As [`Env::new`], with CORS origins.
    pub async fn with_origins(origins: Vec<String>) -> Env {
        let store = Store::open("mem://").await.expect("store opens");
        for (name, role) in [("admin", Role::Admin), ("teacher", Role::Teacher)] {
            store
                .users()
                .create(
                    &NewUser {
                        username: name.into(),
                        password: PASSWORD.into(),
                        role,
                        classrooms: vec!["room-1".into(), "room-2".into()],
                    },
                    &Actor::System,
                )
                .await
                .expect("user created");
        }
        let data_dir = tempfile::tempdir().expect("temp dir");
        let config = Arc::new(ApiConfig {
            secret_key: SECRET.to_owned().into(),
            access_minutes: 5,
            refresh_minutes: 60,
            max_upload_bytes: MAX_UPLOAD,
            cors_allowed_origins: origins,
            data_dir: data_dir.path().to_path_buf(),
            session_window: chrono::Duration::minutes(60),
            sealer: Arc::new(cavs_models::sealing::Sealer::ephemeral().expect("sealer")),
        });
        let pipeline = Arc::new(TestPipeline::default());
        let events = cavs_api::RecordEvents::default();
        let state = ApiState {
            store: store.clone(),
            pipeline: pipeline.clone(),
            config: config.clone(),
            events: events.clone(),
            first_run: cavs_api::FirstRunCode::none(),
        };
        let client = TestClient::new(cavs_api::app(state).map_to_response().boxed());
        let mut env = Env {
            store,
            pipeline,
            config,
            client,
            admin: String::new(),
            teacher: String::new(),
            data_dir,
            events,
        };
        env.admin = env.login("admin").await["access"]
            .as_str()
            .expect("access token")
            .to_owned();
        env.teacher = env.login("teacher").await["access"]
            .as_str()
            .expect("access token")
            .to_owned();
        env
    }

    /// Logs in; returns the token pair.
    pub async fn login(&self, username: &str) -> Value {
        let answer = self
            .send(
                Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({ "username": username, "password": PASSWORD })),
            )
            .await;
        answer.assert_status(200);
        answer.json
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.body_json(&body);
        }
        read(request.send().await).await
    }

    /// PUT JSON as `token`.
    pub async fn put(&self, uri: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, uri, Some(token), Some(body)).await
    }

    /// Signs in with a password; returns the answer.
    pub async fn sign_in(&self, username: &str, password: &str) -> Answer {
        self.send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(serde_json::json!({ "username": username, "password": password })),
        )
        .await
    }

    /// Exchanges a refresh token; returns the answer.
    pub async fn refresh(&self, refresh: &Value) -> Answer {
        self.send(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(serde_json::json!({ "refresh": refresh })),
        )
        .await
    }

    /// Registers a teacher bound to `classrooms` (as admin) and signs them in; returns the
    /// user's JSON and the token pair.
    pub async fn teacher_of(&self, username: &str, classrooms: &[&str]) -> (Value, Value) {
        let created = self
            .post(
                "/api/auth/register",
                &self.admin,
                serde_json::json!({
                    "username": username, "password": PASSWORD, "role": "teacher",
                    "classrooms": classrooms,
                }),
            )
            .await;
        created.assert_status(201);
        (created.json, self.login(username).await)
    }

    /// Usernames whose MQTT sessions the API asked the pipeline to end.
    pub fn account_changes(&self) -> Vec<String> {
        self.pipeline
            .account_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// GET as `token`.
    pub async fn get(&self, uri: &str, token: &str) -> Answer {
        self.send(Method::GET, uri, Some(token), None).await
    }

    /// POST JSON as `token`.
    pub async fn post(&self, uri: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, uri, Some(token), Some(body)).await
    }

    /// Uploads photos (field `photos`) as `token`.
    pub async fn upload_photos(&self, uri: &str, token: &str, files: &[(&str, Vec<u8>)]) -> Answer {
        let mut form = TestForm::new();
        for (name, bytes) in files {
            form = form.field(
                TestFormField::bytes(bytes.clone())
                    .name("photos")
                    .filename(*name)
                    .content_type("image/jpeg"),
            );
        }
        read(
            self.client
                .post(uri)
                .header("authorization", format!("Bearer {token}"))
                .multipart(form)
                .send()
                .await,
        )
        .await
    }

    /// Creates a student as admin, without any consent decision; returns its JSON.
    pub async fn student_without_consent(&self, number: &str, name: &str) -> Value {
        let answer = self
            .post(
                "/api/students",
                &self.admin,
                serde_json::json!({ "student_number": number, "full_name": name }),
            )
            .await;
        answer.assert_status(201);
        answer.json
    }

    /// Creates a student as admin and records their consent (so photos can be enrolled);
    /// returns the student's JSON.
    pub async fn student(&self, number: &str, name: &str) -> Value {
        self.student_without_consent(number, name).await;
        let answer = self
            .post(
                &format!("/api/students/{number}/consent"),
                &self.admin,
                serde_json::json!({ "granted": true, "given_by": "a parent", "notice_version": "v1" }),
            )
            .await;
        answer.assert_status(200);
        answer.json["student"].clone()
    }

    /// Writes a face crop at `relative` under the data dir, sealed as the hub seals crops.
    pub fn write_crop(&self, relative: &str, plain: &[u8]) {
        let path = self.data_dir().join(relative);
        std::fs::create_dir_all(path.parent().expect("crop dir")).expect("crop dir");
        let sealed = self.config.sealer.seal(plain).expect("sealed");
        std::fs::write(&path, sealed).expect("crop written");
    }

    /// Creates a device as admin; returns its JSON.
    pub async fn device(&self, device_id: &str, classroom: &str) -> Value {
        let answer = self
            .post(
                "/api/devices",
                &self.admin,
                serde_json::json!({ "device_id": device_id, "classroom_id": classroom }),
            )
            .await;
        answer.assert_status(201);
        answer.json
    }

    /// Gallery notifications so far.
    pub fn gallery_changes(&self) -> usize {
        self.pipeline.gallery_changes.load(Ordering::SeqCst)
    }

    /// The data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }
}
