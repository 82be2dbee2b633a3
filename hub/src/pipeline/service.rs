//! Starts the actors and implements the API's [`Pipeline`] trait on top of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use async_trait::async_trait;
use bytes::Bytes;
use cavs_config::HubSettings;
use cavs_models::pipeline::{
    Candidate, CaptureOutcome, CaptureRequest, EnrollmentFace, Pipeline, PipelineError,
    PipelineHealth, RecordEvents,
};
use cavs_models::protocol::{AttendanceEvent, AttendanceEventKind, SigningKey, Topic};
use cavs_models::store::Store;
use cavs_models::{Device, DeviceStatus};
use cavs_recognizer::{DecodeLimits, Descriptor, RecognizerConfig, Thresholds};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::acks::Acks;
use super::bridge::BridgeAlive;
use super::gallery::SharedGallery;
use super::health::{DeviceHealth, DeviceUpdated, HealthTiming, LoadDevices};
use super::messages::FrameJob;
use super::metrics::Metrics;
use super::policy::{AdmissionLimits, KnownDevice, MAX_REPLAY_AGE};
use super::pool::{self, Embed, RecognizerWorker, WorkersAlive};
use super::remote::{Recognition, RemoteWorkers};
use super::router::{
    DRAIN_GRACE, Drain, FrameRouter, REMEMBERED_FRAME_IDS, RouterLimits, SeedFrameIds, SetDevice,
    SetDevices, SubmitCapture,
};
use super::writer::{AttendanceWriter, WriterSettings};
use crate::HubError;
use crate::broker::dynsec::Dynsec;
use crate::broker::{BrokerFeed, Identities, RunningBroker};

/// The running actors.
#[derive(Clone)]
pub struct PipelineParts {
    /// FrameRouter.
    pub router: Addr<FrameRouter>,
    /// RecognizerPool.
    pub pool: Addr<RecognizerWorker>,
    /// DeviceHealth.
    pub health: Addr<DeviceHealth>,
    /// AttendanceWriter.
    pub writer: Addr<AttendanceWriter>,
    /// Frame acknowledgements.
    pub acks: Acks,
    /// Whether the bridge thread runs.
    pub bridge: BridgeAlive,
    /// Recognition workers alive.
    pub workers: WorkersAlive,
    /// Shared gallery.
    pub gallery: SharedGallery,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Attendance events for in-process subscribers (the API's live stream).
    pub events: RecordEvents,
}

/// The hub's implementation of the API's pipeline interface.
#[derive(Clone)]
pub struct HubPipeline {
    parts: PipelineParts,
    store: Store,
    /// The broker's sessions: ended when an account or a device changes.
    identities: Identities,
    /// The external broker's accounts (`broker_provisioning = "dynsec"`).
    dynsec: Option<Dynsec>,
}

/// How long a REST capture waits for its result.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(30);

fn known(device: &Device, signing_key: Option<&str>) -> KnownDevice {
    KnownDevice {
        classroom_id: device.classroom_id.clone(),
        signing_key: signing_key.and_then(SigningKey::from_hex),
        active: device.status == DeviceStatus::Active,
    }
}

/// Publishes the reviews the API reports (the writer publishes its own events) on the
/// classroom's MQTT `events` topic, so MQTT subscribers see every kind of event.
fn spawn_review_events(
    mut events: tokio::sync::broadcast::Receiver<AttendanceEvent>,
    publisher: crate::broker::Publisher,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) if event.kind == AttendanceEventKind::Reviewed => {
                    match serde_json::to_vec(&event) {
                        Ok(payload) => {
                            publisher
                                .publish(
                                    Topic::events(event.classroom_id.clone()).to_string(),
                                    payload,
                                    false,
                                )
                                .await
                        }
                        Err(error) => tracing::warn!(%error, "could not encode a review event"),
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "review events skipped: the MQTT publisher fell behind"
                    )
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// The recognizer configuration the settings ask for.
pub fn recognizer_config(settings: &HubSettings) -> RecognizerConfig {
    let mut config = match settings.detector {
        cavs_config::DetectorKind::Ssd => RecognizerConfig::default(),
        cavs_config::DetectorKind::Tiny => RecognizerConfig::tiny(),
    };
    config.min_face_size = settings.min_face_size;
    config.scan = match settings.scan {
        cavs_config::ScanMode::Multiscale => cavs_recognizer::ScanMode::Multiscale,
        cavs_config::ScanMode::Single => cavs_recognizer::ScanMode::Single,
    };
    config.smallest_face = settings.smallest_face;
    config
}

impl HubPipeline {
    /// Starts every actor (inside the current actix system), loads the gallery and devices,
    /// and starts the broker bridge.
    pub async fn start(
        settings: &HubSettings,
        store: Store,
        broker: RunningBroker,
        sealer: Arc<cavs_models::sealing::Sealer>,
    ) -> Result<Self, HubError> {
        let RunningBroker {
            feed,
            publisher,
            identities,
            dynsec,
        } = broker;
        let metrics = Metrics::new();
        let gallery = SharedGallery::default();
        gallery.reload(&store).await?;
        let limits = DecodeLimits {
            max_pixels: settings.max_image_pixels,
            ..DecodeLimits::default()
        };
        let workers = settings.recognizer_workers();
        let (pool, workers_alive) = pool::start(
            workers,
            recognizer_config(settings),
            limits,
            gallery.clone(),
            Arc::clone(&metrics),
        )?;
        let acks = Acks::start(publisher.clone(), Arc::clone(&metrics));
        let events = RecordEvents::default();
        spawn_review_events(events.subscribe(), publisher.clone());
        let writer = AttendanceWriter::new(
            store.clone(),
            publisher.clone(),
            events.clone(),
            WriterSettings {
                thresholds: Thresholds {
                    high: settings.threshold_high,
                    medium: settings.threshold_medium,
                },
                auto_approve: settings.auto_approve,
                session_window: chrono::Duration::minutes(i64::from(
                    settings.session_window_minutes,
                )),
                data_dir: settings.data_dir.clone(),
                sealer,
            },
            Arc::clone(&metrics),
        )
        .start();
        let health = DeviceHealth::new(
            store.clone(),
            publisher.clone(),
            HealthTiming {
                device_max_fps: settings.device_max_fps,
                heartbeat: Duration::from_secs(u64::from(settings.heartbeat_secs.max(1))),
                missed_for_stale: settings.stale_after_missed_heartbeats,
            },
            Arc::clone(&metrics),
        )
        .start();
        let remote = RemoteWorkers::new(Arc::clone(&metrics));
        let (recognition, max_inflight) = match &feed {
            BrokerFeed::Embedded(..) => (Recognition::InProcess(pool.clone()), workers * 2),
            // Frames wait on worker processes, not on this pool: many more are in flight.
            BrokerFeed::External(_) => (
                Recognition::Workers {
                    local: pool.clone(),
                    remote: remote.clone(),
                    deadline: Duration::from_secs(u64::from(settings.worker_deadline_secs)),
                    gallery: gallery.clone(),
                    metrics: Arc::clone(&metrics),
                },
                (workers * 2).max(settings.max_inflight_frames),
            ),
        };
        let router = FrameRouter::new(
            RouterLimits {
                max_inflight,
                max_queued: settings.max_inflight_frames.max(1),
                device_max_fps: settings.device_max_fps,
                admission: AdmissionLimits {
                    clock_skew: Duration::from_secs(u64::from(settings.frame_clock_skew_secs)),
                    max_image_bytes: settings.mqtt_max_payload_bytes,
                    max_pixels: settings.max_image_pixels,
                },
            },
            recognition,
            writer.clone(),
            health.clone(),
            acks.clone(),
            Arc::clone(&metrics),
        )
        .start();
        // Frames committed before a restart stay duplicates (the writer's transaction checks
        // every id anyway; this spares recognising them again).
        let horizon = chrono::Duration::from_std(
            MAX_REPLAY_AGE + Duration::from_secs(u64::from(settings.frame_clock_skew_secs)),
        )
        .unwrap_or_else(|_| chrono::Duration::days(1));
        let seen = store
            .frames()
            .ids_since(chrono::Utc::now() - horizon, REMEMBERED_FRAME_IDS)
            .await?;
        router.do_send(SeedFrameIds(seen));

        let devices = store.devices().all().await?;
        let mut known_devices = HashMap::new();
        for device in &devices {
            let key = store
                .devices()
                .credentials(&device.device_id)
                .await?
                .and_then(|c| c.signing_key);
            known_devices.insert(device.device_id.clone(), known(device, key.as_deref()));
        }
        router.do_send(SetDevices(known_devices));
        identities.set_devices(
            devices
                .iter()
                .map(|d| (d.device_id.clone(), d.classroom_id.clone())),
        );
        health.do_send(LoadDevices(devices));
        let bridge = match feed {
            BrokerFeed::Embedded(tx, rx) => super::bridge::start(
                (tx, rx),
                router.clone(),
                health.clone(),
                Arc::clone(&metrics),
            )
            .map_err(HubError::Thread)?,
            BrokerFeed::External(link) => super::feed::start(
                *link,
                super::feed::Routes {
                    targets: super::bridge::Targets::new(
                        router.clone(),
                        health.clone(),
                        Arc::clone(&metrics),
                    ),
                    remote,
                    dynsec: dynsec.clone(),
                },
            ),
        };
        tracing::info!(workers, "recognition pipeline started");
        Ok(HubPipeline {
            parts: PipelineParts {
                router,
                pool,
                health,
                writer,
                acks,
                bridge,
                workers: workers_alive,
                gallery,
                metrics,
                events,
            },
            store,
            identities,
            dynsec,
        })
    }

    /// The running actors.
    pub fn parts(&self) -> &PipelineParts {
        &self.parts
    }

    /// The external broker's provisioning, when the hub does it.
    pub fn dynsec(&self) -> Option<Dynsec> {
        self.dynsec.clone()
    }

    /// Stops taking frames, waits (at most [`DRAIN_GRACE`]) until every admitted frame is
    /// committed and its ack handed to the broker. Frames still waiting then are simply not
    /// acknowledged: their devices keep them and send them again.
    pub async fn drain(&self) {
        let (done, drained) = oneshot::channel();
        let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
        if self.parts.router.send(Drain(done)).await.is_ok() {
            match tokio::time::timeout_at(deadline, drained).await {
                Ok(_) => tracing::info!("every admitted frame committed"),
                Err(_) => tracing::warn!(
                    grace = ?DRAIN_GRACE,
                    "frames still in the pipeline at the end of the grace period; their devices will send them again"
                ),
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.parts
            .acks
            .flush(left.max(Duration::from_millis(500)))
            .await;
    }
}

#[async_trait]
impl Pipeline for HubPipeline {
    async fn capture(&self, request: CaptureRequest) -> Result<CaptureOutcome, PipelineError> {
        let (reply, outcome) = oneshot::channel();
        self.parts.router.do_send(SubmitCapture(FrameJob {
            frame_id: Uuid::now_v7(),
            device_id: request.device_id,
            classroom_id: request.classroom_id,
            captured_at: request.captured_at,
            image: Bytes::from(request.image),
            received_at: Instant::now(),
            arrival: 0,
            reply: Some(reply),
        }));
        match tokio::time::timeout(CAPTURE_TIMEOUT, outcome).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PipelineError::Unavailable(
                "pipeline dropped the capture".into(),
            )),
            Err(_) => Err(PipelineError::Busy),
        }
    }

    async fn embed_photo(&self, image: Vec<u8>) -> Result<Vec<EnrollmentFace>, PipelineError> {
        self.parts
            .pool
            .send(Embed(image))
            .await
            .map_err(|e| PipelineError::Unavailable(e.to_string()))?
    }

    async fn gallery_changed(&self) {
        if let Err(error) = self.parts.gallery.reload(&self.store).await {
            tracing::error!(%error, "could not reload the face gallery");
        }
    }

    async fn device_changed(&self, device_id: &str, device: Option<&Device>) {
        let known_device = match device {
            Some(device) => {
                let key = match self.store.devices().credentials(&device.device_id).await {
                    Ok(creds) => creds.and_then(|c| c.signing_key),
                    Err(error) => {
                        tracing::error!(%error, device_id, "could not read device credentials");
                        None
                    }
                };
                Some(known(device, key.as_deref()))
            }
            None => None,
        };
        self.parts.router.do_send(SetDevice {
            device_id: device_id.to_owned(),
            known: known_device,
        });
        self.parts.health.do_send(DeviceUpdated {
            device_id: device_id.to_owned(),
            device: device.cloned(),
        });
        let moved = self
            .identities
            .set_device(device_id, device.map(|d| d.classroom_id.as_str()));
        if moved || device.is_none_or(|d| d.status != DeviceStatus::Active) {
            let ended = self.identities.end_sessions_of(device_id);
            if ended > 0 {
                tracing::info!(
                    device_id,
                    "device's MQTT session ended: deleted, deactivated or moved"
                );
            }
        }
        if moved {
            let ended = self.identities.end_teacher_sessions();
            tracing::info!(
                device_id,
                ended,
                "device moved classroom: teachers' MQTT sessions ended"
            );
        }
        if let Some(dynsec) = &self.dynsec {
            if let Err(error) = dynsec.device(device_id, device, None).await {
                tracing::error!(%error, device_id, "device's broker account not updated; run `cavs-hub broker sync`");
            }
            if let Err(error) = dynsec.teachers().await {
                tracing::error!(%error, "teachers' broker roles not updated; run `cavs-hub broker sync`");
            }
        }
    }

    async fn account_changed(&self, username: &str) {
        let ended = self.identities.end_sessions_of(username);
        tracing::info!(username, ended, "account changed: its MQTT sessions ended");
        if let Some(dynsec) = &self.dynsec
            && let Err(error) = dynsec.person(username, None).await
        {
            tracing::error!(%error, username, "account's broker role not updated; run `cavs-hub broker sync`");
        }
    }

    async fn broker_password(&self, username: &str, password: &str) {
        let Some(dynsec) = &self.dynsec else {
            return;
        };
        let result = match self.store.devices().by_device_id(username).await {
            Ok(device) => dynsec.device(username, Some(&device), Some(password)).await,
            Err(_) => dynsec.person(username, Some(password)).await,
        };
        if let Err(error) = result {
            tracing::error!(%error, username, "password not set on the external broker");
        }
    }

    async fn candidates(&self, descriptor: Vec<f32>, limit: usize) -> Vec<Candidate> {
        let Some(query) = Descriptor::from_slice(&descriptor) else {
            return Vec::new();
        };
        let gallery = self.parts.gallery.snapshot();
        tokio::task::spawn_blocking(move || {
            gallery
                .nearest_subjects(&query, limit)
                .into_iter()
                .map(|m| Candidate {
                    student_id: m.subject.id,
                    full_name: m.subject.name.to_string(),
                    distance: m.distance,
                    confidence: m.confidence,
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    fn health(&self) -> PipelineHealth {
        let parts = &self.parts;
        let workers_alive = parts.workers.count();
        let mut down = Vec::new();
        if !parts.bridge.is_alive() {
            down.push("bridge".to_owned());
        }
        if !parts.router.connected() {
            down.push("router".to_owned());
        }
        if !parts.writer.connected() {
            down.push("writer".to_owned());
        }
        if workers_alive == 0 {
            down.push("workers".to_owned());
        }
        PipelineHealth {
            down,
            workers_alive,
        }
    }
}
