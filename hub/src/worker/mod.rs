//! `cavs-hub worker --id N`: a recognition worker process with no database and no broker of
//! its own. It joins the external broker as `cavs-hub-worker-{N}` (MQTT 5, a persistent session
//! under that stable id), takes frames from the `cavs-workers` shared subscription, recognises
//! them on its own threads and publishes the faces on `cavs/v1/workers/{N}/results`; it
//! acknowledges a frame (manual acks) only once its result is handed on, so a worker that dies
//! mid-frame leaves the frame to its session (and to the hub's deadline). The hub matches the
//! faces against its gallery, writes the records and acknowledges the devices.

mod recognize;

pub use recognize::{NotAFrame, recognize_frame};

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cavs_agent::broker::parse_broker_url;
use cavs_config::HubSettings;
use cavs_models::protocol::{
    WORKER_FRAMES_FILTER, WorkerPresence, WorkerResult, WorkerState, is_valid_id, worker_client_id,
    worker_results_topic, worker_status_topic,
};
use cavs_recognizer::{DecodeLimits, Recognizer};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

use crate::broker::external::{account_password, tls_for};

/// Default seconds the broker keeps a worker's session (and queues its share of frames)
/// after it disconnects; a worker back within it gets them, past it they are the hub's to
/// recognise after its deadline.
pub const DEFAULT_SESSION_EXPIRY_SECS: u32 = 60;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its stable id (`[A-Za-z0-9_.-]`, as device ids).
    pub id: String,
    /// Recognition threads.
    pub threads: usize,
    /// Seconds its broker session outlives a disconnect.
    pub session_expiry_secs: u32,
}

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Bad id or broker settings.
    #[error("worker settings: {0}")]
    Settings(String),
    /// The recognition networks could not be loaded.
    #[error(transparent)]
    Recognizer(#[from] cavs_recognizer::RecognizerError),
    /// A recognition thread could not be started.
    #[error("recognition thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// What a worker did, for its exit line.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerStats {
    /// Frames whose result was handed on (and which were then acknowledged).
    pub frames: u64,
    /// Publishes that were not frame envelopes (acknowledged and dropped).
    pub refused: u64,
    /// Frames left unacknowledged because the backlog was full.
    pub left: u64,
}

/// Frames taken from the broker but not yet handed to the threads, at most (the broker may
/// send more than the receive maximum asks); beyond it a frame is left unacknowledged, with
/// its session and the hub's deadline.
pub const MAX_BACKLOG: usize = 256;

/// A frame handed to the recognition threads.
type Job = Publish;
/// What comes back from them: the frame (to acknowledge) and its result, if it was a frame.
type Done = (Publish, Option<WorkerResult>);

fn client_options(
    settings: &HubSettings,
    options: &WorkerOptions,
) -> Result<MqttOptions, WorkerError> {
    let url = settings
        .broker_url
        .as_deref()
        .ok_or_else(|| WorkerError::Settings("broker_url (CAVS_BROKER_URL) is not set".into()))?;
    let address = parse_broker_url(url).map_err(|e| WorkerError::Settings(e.to_string()))?;
    let client_id = worker_client_id(&options.id);
    let mut mqtt = MqttOptions::new(&client_id, address.host, address.port);
    let offline = WorkerPresence {
        state: WorkerState::Offline,
        threads: options.threads as u32,
    };
    mqtt.set_keep_alive(Duration::from_secs(10))
        .set_clean_start(false)
        .set_session_expiry_interval(Some(options.session_expiry_secs))
        .set_manual_acks(true)
        // The broker sends no more unacknowledged frames than the threads have room for.
        .set_receive_maximum(Some((options.threads * 2).clamp(1, 64) as u16))
        .set_max_packet_size(Some((settings.mqtt_max_payload_bytes + 64 * 1024) as u32))
        .set_request_channel_capacity(256)
        .set_last_will(LastWill::new(
            worker_status_topic(&options.id),
            offline.to_vec(),
            QoS::AtLeastOnce,
            true,
            None,
        ));
    let username = settings.broker_username.clone().unwrap_or(client_id);
    mqtt.set_credentials(username, account_password(settings));
    if let Some(transport) = tls_for(settings, address.tls).map_err(WorkerError::Settings)? {
        mqtt.set_transport(transport);
    }
    Ok(mqtt)
}

/// Starts `threads` recognition threads taking jobs from one queue.
fn start_threads(
    recognizer: Arc<Recognizer>,
    limits: DecodeLimits,
    options: &WorkerOptions,
    done: tokio::sync::mpsc::Sender<Done>,
) -> Result<mpsc::SyncSender<Job>, WorkerError> {
    let (jobs, queue) = mpsc::sync_channel::<Job>(options.threads * 2 + 8);
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..options.threads.max(1) {
        let (queue, recognizer, done) = (Arc::clone(&queue), Arc::clone(&recognizer), done.clone());
        let worker_id = options.id.clone();
        std::thread::Builder::new()
            .name(format!("recognize-{n}"))
            .spawn(move || loop {
                let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                    Ok(job) => job,
                    Err(_) => return,
                };
                let result = match recognize_frame(&recognizer, &limits, &worker_id, &job.payload) {
                    Ok(result) => Some(result),
                    Err(error) => {
                        let topic = String::from_utf8_lossy(&job.topic).into_owned();
                        tracing::warn!(topic, %error, "publish on a frame topic is not a frame; dropped");
                        None
                    }
                };
                if done.blocking_send((job, result)).is_err() {
                    return;
                }
            })?;
    }
    Ok(jobs)
}

/// Runs the worker until `shutdown` resolves: then it leaves the shared subscription, lets
/// frames in hand finish, marks itself offline and disconnects.
pub async fn run(
    settings: &HubSettings,
    options: WorkerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<WorkerStats, WorkerError> {
    if !is_valid_id(&options.id) {
        return Err(WorkerError::Settings(format!(
            "worker id `{}`: 1-64 of A-Z a-z 0-9 _ . -",
            options.id
        )));
    }
    let recognizer = Arc::new(Recognizer::new(
        crate::pipeline::service::recognizer_config(settings),
    )?);
    let limits = DecodeLimits {
        max_pixels: settings.max_image_pixels,
        ..DecodeLimits::default()
    };
    let (client, mut events) = AsyncClient::new(client_options(settings, &options)?, 256);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<Done>(options.threads * 2 + 8);
    let jobs = start_threads(recognizer, limits, &options, done_tx)?;
    let results_topic = worker_results_topic(&options.id);
    let status_topic = worker_status_topic(&options.id);
    let online = WorkerPresence {
        state: WorkerState::Online,
        threads: options.threads as u32,
    };
    let mut stats = WorkerStats::default();
    let mut in_hand = 0usize;
    let mut backlog: std::collections::VecDeque<Publish> = std::collections::VecDeque::new();
    let mut stopping = false;
    let mut backoff = Duration::from_millis(200);
    tokio::pin!(shutdown);
    tracing::info!(
        worker = options.id,
        threads = options.threads,
        "recognition worker starting"
    );
    loop {
        // Hand waiting frames to the threads while they have room.
        while let Some(frame) = backlog.pop_front() {
            match jobs.try_send(frame) {
                Ok(()) => in_hand += 1,
                Err(mpsc::TrySendError::Full(frame)) => {
                    backlog.push_front(frame);
                    break;
                }
                Err(mpsc::TrySendError::Disconnected(_)) => {
                    return Err(WorkerError::Settings("recognition threads ended".into()));
                }
            }
        }
        if stopping && in_hand == 0 && backlog.is_empty() {
            break;
        }
        tokio::select! {
            () = &mut shutdown, if !stopping => {
                stopping = true;
                tracing::info!(worker = options.id, in_hand, "stopping: leaving the shared subscription");
                let _ = client.try_unsubscribe(WORKER_FRAMES_FILTER);
            }
            done = done_rx.recv() => {
                let Some((frame, result)) = done else { break };
                in_hand = in_hand.saturating_sub(1);
                match result {
                    Some(result) => {
                        if let Err(error) = client
                            .publish(&results_topic, QoS::AtLeastOnce, false, result.to_vec())
                            .await
                        {
                            // Not acknowledged: the broker hands the frame out again.
                            tracing::error!(%error, "result not handed on");
                            continue;
                        }
                        stats.frames += 1;
                    }
                    None => stats.refused += 1,
                }
                if let Err(error) = client.ack(&frame).await {
                    tracing::warn!(%error, "frame not acknowledged; the broker will send it again");
                }
            }
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_millis(200);
                    tracing::info!(worker = options.id, session_present = ack.session_present, "connected to the broker");
                    let _ = client.try_publish(&status_topic, QoS::AtLeastOnce, true, online.to_vec());
                    if !stopping {
                        let _ = client.try_subscribe(WORKER_FRAMES_FILTER, QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(frame))) => {
                    if backlog.len() < MAX_BACKLOG {
                        backlog.push_back(frame);
                    } else {
                        // Not acknowledged: it stays with the session (and the hub's deadline).
                        stats.left += 1;
                        tracing::warn!(topic = %String::from_utf8_lossy(&frame.topic), "recognition backlog full: frame left unacknowledged");
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if stopping {
                        break;
                    }
                    tracing::warn!(%error, retry_in = ?backoff, "broker unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
    let offline = WorkerPresence {
        state: WorkerState::Offline,
        threads: options.threads as u32,
    };
    let _ = client.try_publish(&status_topic, QoS::AtLeastOnce, true, offline.to_vec());
    let _ = client.try_disconnect();
    // Let the event loop send the last packets (bounded).
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while events.poll().await.is_ok() {}
    })
    .await;
    tracing::info!(
        worker = options.id,
        frames = stats.frames,
        "recognition worker stopped"
    );
    Ok(stats)
}
