//! `cavs-agent run`: captures on a timer, spools every frame, publishes the spool in order over
//! MQTT at the hub's pace, deletes a frame only when the hub's ack says its outcome is final
//! ([`crate::delivery`]), keeps status and heartbeat up to date and applies the hub's config
//! live.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cavs_config::{AgentSettings, ExposeSecret};
use cavs_models::protocol::{CONFIG_MAX_FPS_KEY, DeviceState, FrameAck, Heartbeat, decode_frame};
use rumqttc::{Event, Incoming, Outgoing, QoS};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until, timeout_at};

use crate::delivery::{AckEffect, Delivery};
use crate::link::{
    Connection, Tag, Topics, cpu_temp_c, disk_free, mqtt_options, offline_will, status_json,
};
use crate::live::Live;
use crate::pipeline::{Capture, Signer, Step};
use crate::spool::Spool;
use crate::{AgentError, source};

/// First wait before reconnecting; it doubles up to `reconnect_max_ms`.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// How long a clean shutdown waits for the `offline` status and pending frames to be acknowledged.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Counters of one run.
#[derive(Debug, Default)]
struct Counters {
    captured: AtomicU64,
    skipped: AtomicU64,
    sent: AtomicU64,
    given_up: AtomicU64,
}

/// What a run did, returned when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunStats {
    /// Frames captured and stored in the spool.
    pub frames_captured: u64,
    /// Frames the change gate skipped.
    pub frames_skipped: u64,
    /// Frames the hub acknowledged as recorded (now or before).
    pub frames_sent: u64,
    /// Frames still in the spool at exit.
    pub spool_depth: u64,
    /// Frames the spool's size cap dropped, and frames given up after the hub never answered.
    pub spool_dropped: u64,
}

fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    spool.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the agent until `shutdown` completes, then publishes a retained `offline` status and
/// disconnects cleanly.
pub async fn run(
    settings: AgentSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<RunStats, AgentError> {
    let secret = settings
        .device_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default();
    let source = source::open(&settings.source, settings.source_loop)?;
    let spool = Spool::open(
        &settings.spool_dir,
        settings.spool_max_mb.saturating_mul(1 << 20),
    )?;
    tracing::info!(
        device = %settings.device_id,
        classroom = %settings.classroom_id,
        source = %source.describe(),
        spool = %settings.spool_dir.display(),
        waiting = spool.len(),
        "agent starting"
    );
    let spool = Arc::new(Mutex::new(spool));
    let topics = Topics::new(&settings);
    let options = mqtt_options(&settings, &topics, true)?;
    let (live_tx, live_rx) = watch::channel(Live::from_settings(&settings));
    let counters = Arc::new(Counters::default());
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);

    let capture = Capture::new(
        source,
        settings.change_threshold,
        Signer::new(&settings.device_id, &settings.classroom_id, &secret),
    );
    let capture_task = tokio::spawn(capture_loop(
        capture,
        spool.clone(),
        live_rx,
        wake.clone(),
        stop_rx,
        counters.clone(),
    ));

    let mut runner = Runner {
        device_id: settings.device_id.clone(),
        topics,
        spool: spool.clone(),
        live_tx,
        counters: counters.clone(),
        started: Instant::now(),
        delivery: Delivery::new(Instant::now()),
    };
    runner
        .main_loop(
            options,
            Duration::from_millis(settings.reconnect_max_ms),
            Duration::from_secs(settings.heartbeat_secs),
            wake,
            shutdown,
        )
        .await;

    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(10), capture_task)
        .await
        .is_err()
    {
        tracing::warn!("capture still busy at shutdown; leaving it");
    }
    let spool = lock(&spool);
    let stats = RunStats {
        frames_captured: counters.captured.load(Ordering::Relaxed),
        frames_skipped: counters.skipped.load(Ordering::Relaxed),
        frames_sent: counters.sent.load(Ordering::Relaxed),
        spool_depth: spool.len() as u64,
        spool_dropped: spool.dropped() + counters.given_up.load(Ordering::Relaxed),
    };
    tracing::info!(?stats, "agent stopped");
    Ok(stats)
}

struct Runner {
    device_id: String,
    topics: Topics,
    spool: Arc<Mutex<Spool>>,
    live_tx: watch::Sender<Live>,
    counters: Arc<Counters>,
    started: Instant,
    /// Frames in flight to the hub, pace and retries.
    delivery: Delivery,
}

async fn next_event(
    conn: &mut Option<Connection>,
) -> Option<Result<Event, rumqttc::ConnectionError>> {
    match conn {
        Some(c) => c.next_event().await,
        None => std::future::pending().await,
    }
}

impl Runner {
    async fn main_loop(
        &mut self,
        options: rumqttc::MqttOptions,
        max_backoff: Duration,
        heartbeat_every: Duration,
        wake: Arc<Notify>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut conn: Option<Connection> = None;
        let mut retry_at = Instant::now();
        let mut backoff = MIN_BACKOFF;
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let unsent = !lock(&self.spool).is_empty();
            let wakeup = self
                .delivery
                .next_wakeup(unsent)
                .filter(|_| conn.as_ref().is_some_and(|c| c.connected));
            tokio::select! {
                _ = &mut shutdown => break,
                event = next_event(&mut conn) => match event {
                    Some(Ok(event)) => {
                        if let Some(c) = conn.as_mut()
                            && self.on_event(c, event)
                        {
                            backoff = MIN_BACKOFF;
                        }
                    }
                    Some(Err(e)) => {
                        let depth = lock(&self.spool).len();
                        tracing::warn!(error = %e, retry_in = ?backoff, spool_depth = depth, "broker unreachable; spooling frames");
                        self.delivery.connection_lost();
                        conn = None;
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(max_backoff.max(MIN_BACKOFF));
                    }
                    None => {
                        self.delivery.connection_lost();
                        conn = None;
                        retry_at = Instant::now() + backoff;
                    }
                },
                _ = sleep_until(wakeup.unwrap_or_else(Instant::now)), if wakeup.is_some() => {}
                _ = sleep_until(retry_at), if conn.is_none() => {
                    tracing::debug!("connecting to the broker");
                    let mut options = options.clone();
                    options.set_last_will(offline_will(&self.topics));
                    conn = Some(Connection::start(options));
                }
                _ = wake.notified() => {}
                _ = heartbeat.tick() => {
                    if let Some(c) = conn.as_mut().filter(|c| c.connected) {
                        self.publish_heartbeat(c);
                    }
                }
            }
            if let Some(c) = conn.as_mut() {
                self.feed(c);
            }
        }
        if let Some(mut c) = conn.filter(|c| c.connected) {
            self.say_goodbye(&mut c).await;
        }
    }

    /// Handles one event; true on a successful CONNACK.
    fn on_event(&mut self, c: &mut Connection, event: Event) -> bool {
        match event {
            Event::Incoming(Incoming::ConnAck(_)) => {
                c.connected = true;
                tracing::info!(device = %self.device_id, "connected to the broker");
                for topic in [&self.topics.config, &self.topics.acks] {
                    if let Err(e) = c.client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                        tracing::warn!(error = %e, topic, "could not subscribe");
                    }
                }
                let online = status_json(DeviceState::Online, None);
                c.publish(
                    &self.topics.status,
                    QoS::AtLeastOnce,
                    true,
                    online,
                    Tag::Other,
                );
                return true;
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => c.on_sent(pkid),
            Event::Incoming(Incoming::PubAck(ack)) => {
                // The broker has the frame; it stays in the spool until the hub's ack.
                if let Some(seq) = c.on_acked(ack.pkid) {
                    tracing::trace!(seq, "frame taken by the broker");
                }
            }
            Event::Incoming(Incoming::Publish(publish)) if publish.topic == self.topics.config => {
                self.apply_config(&publish.payload);
            }
            Event::Incoming(Incoming::Publish(publish)) if publish.topic == self.topics.acks => {
                self.on_hub_ack(&publish.payload);
            }
            _ => {}
        }
        false
    }

    /// The hub's ack of a frame: delete it when final, else wait as asked.
    fn on_hub_ack(&mut self, payload: &[u8]) {
        let ack = match FrameAck::from_slice(payload) {
            Ok(ack) => ack,
            Err(e) => {
                tracing::warn!(device = %self.device_id, error = %e, "ignoring a malformed ack");
                return;
            }
        };
        match self.delivery.acked(&ack, Instant::now()) {
            AckEffect::Delete { seq, recorded } => {
                if let Err(e) = lock(&self.spool).remove(seq) {
                    tracing::warn!(error = %e, seq, "could not remove an acknowledged frame");
                }
                if recorded {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(seq, frame_id = %ack.frame_id, "frame recorded by the hub");
                } else {
                    tracing::warn!(seq, frame_id = %ack.frame_id, reason = ?ack.reason, "the hub rejected a frame; deleted");
                }
            }
            AckEffect::Retry(seq) => {
                tracing::debug!(seq, reason = ?ack.reason, retry_after_ms = ?ack.retry_after_ms, "the hub asked to send a frame again later");
            }
            AckEffect::Unknown => {
                tracing::trace!(frame_id = %ack.frame_id, "ack of no frame in flight")
            }
        }
    }

    fn apply_config(&mut self, payload: &[u8]) {
        if payload.is_empty() {
            tracing::debug!("config topic cleared; keeping the current config");
            return;
        }
        if let Some(max_fps) = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| {
                v.get(CONFIG_MAX_FPS_KEY)
                    .and_then(serde_json::Value::as_f64)
            })
        {
            self.delivery.set_hub_rate(max_fps as f32);
        }
        let current = *self.live_tx.borrow();
        match current.apply(payload) {
            Ok(next) if next != current => {
                tracing::info!(
                    device = %self.device_id,
                    enabled = next.enabled,
                    interval_ms = next.interval.as_millis() as u64,
                    resolution = %next.resolution,
                    jpeg_quality = next.jpeg_quality,
                    "config applied"
                );
                self.live_tx.send_replace(next);
            }
            Ok(_) => tracing::debug!("config unchanged"),
            Err(e) => tracing::warn!(
                device = %self.device_id,
                error = %e,
                "ignoring malformed config; keeping the current one"
            ),
        }
    }

    /// Publishes spooled frames, oldest first, while the window and the pace allow.
    fn feed(&mut self, c: &mut Connection) {
        if !c.connected {
            return;
        }
        loop {
            let mut spool = lock(&self.spool);
            let now = Instant::now();
            let picked = self.delivery.pick(spool.seqs(), now);
            for seq in self.delivery.take_given_up() {
                self.counters.given_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(seq, "the hub never answered for this frame; giving it up");
                if let Err(e) = spool.remove(seq) {
                    tracing::warn!(error = %e, seq, "could not delete a given-up frame");
                }
            }
            let Some(seq) = picked else { return };
            let read = spool
                .read(seq)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    decode_frame(&bytes)
                        .map(|(header, _)| header.frame_id)
                        .map_err(|e| e.to_string())
                        .map(|id| (id, bytes))
                });
            match read {
                Ok((frame_id, bytes)) => {
                    drop(spool);
                    if !c.publish(
                        &self.topics.frames,
                        QoS::AtLeastOnce,
                        false,
                        bytes,
                        Tag::Frame(seq),
                    ) {
                        return;
                    }
                    self.delivery.sent(seq, frame_id, now);
                }
                Err(e) => {
                    tracing::warn!(error = %e, seq, "skipping corrupt spool entry");
                    if let Err(e) = spool.remove(seq) {
                        tracing::warn!(error = %e, seq, "could not delete a bad spool entry");
                    }
                    self.delivery.forget(seq);
                }
            }
        }
    }

    fn publish_heartbeat(&self, c: &mut Connection) {
        let (depth, dropped, disk_free) = {
            let spool = lock(&self.spool);
            (spool.len() as u64, spool.dropped(), disk_free(spool.dir()))
        };
        let beat = Heartbeat {
            uptime: self.started.elapsed().as_secs(),
            frames_sent: self.counters.sent.load(Ordering::Relaxed),
            spool_depth: depth,
            cpu_temp_c: cpu_temp_c(),
            disk_free,
            spool_dropped: dropped,
            frames_skipped: self.counters.skipped.load(Ordering::Relaxed),
        };
        let payload = serde_json::to_vec(&beat).unwrap_or_default();
        c.publish(
            &self.topics.heartbeat,
            QoS::AtMostOnce,
            false,
            payload,
            Tag::Other,
        );
    }

    /// Publishes the retained `offline` status, waits (bounded) for it and any frames in flight to
    /// be acknowledged, and disconnects.
    async fn say_goodbye(&mut self, c: &mut Connection) {
        let offline = status_json(DeviceState::Offline, Some("agent stopped"));
        c.publish(
            &self.topics.status,
            QoS::AtLeastOnce,
            true,
            offline,
            Tag::Other,
        );
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !c.idle() {
            match timeout_at(deadline, c.next_event()).await {
                Ok(Some(Ok(event))) => {
                    self.on_event(c, event);
                }
                _ => break,
            }
        }
        if c.client.try_disconnect().is_ok() {
            // Let the event loop write the DISCONNECT packet.
            while let Ok(Some(Ok(event))) = timeout_at(deadline, c.next_event()).await {
                if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
                    break;
                }
            }
        }
    }
}

async fn capture_loop(
    mut capture: Capture,
    spool: Arc<Mutex<Spool>>,
    mut live: watch::Receiver<Live>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    tracing::info!(source = %capture.describe(), "capture started");
    let mut exhausted_logged = false;
    loop {
        let config = *live.borrow_and_update();
        let started = Instant::now();
        if config.enabled {
            let shared = spool.clone();
            let job = tokio::task::spawn_blocking(move || {
                let outcome = capture.step(&config, &shared);
                (capture, outcome)
            });
            let outcome;
            (capture, outcome) = match job.await {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "capture task failed; capture stops");
                    return;
                }
            };
            match outcome {
                Ok(Step::Stored { seq, bytes }) => {
                    counters.captured.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(seq, bytes, "frame spooled");
                    wake.notify_one();
                }
                Ok(Step::Skipped(diff)) => {
                    counters.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(diff, "unchanged frame skipped");
                }
                Ok(Step::Exhausted) => {
                    if !exhausted_logged {
                        tracing::info!("source has no more images; waiting for shutdown");
                        exhausted_logged = true;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "capture failed"),
            }
        }
        tokio::select! {
            _ = sleep_until(started + config.interval) => {}
            changed = live.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
