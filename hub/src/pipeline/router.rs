//! FrameRouter: validates envelopes, de-duplicates, rate-limits per device and feeds the
//! recognizer pool with bounded in-flight work, dropping (and counting) the oldest queued frame
//! of a classroom when overloaded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use cavs_api::PipelineError;
use cavs_models::protocol::{
    CONTENT_TYPE_JPEG, ProtocolError, SigningKey, decode_frame, verify_header,
};
use uuid::Uuid;

use super::health::{DeviceHealth, FrameSeen};
use super::messages::FrameJob;
use super::metrics::{DeviceLabel, Metrics};
use super::pool::{Recognize, Recognized, RecognizerWorker};
use super::writer::{AttendanceWriter, WriteFrame};

/// Oldest capture time accepted beyond the clock skew: frames an agent spooled during an outage
/// arrive late but still count for the time they were captured.
pub const MAX_REPLAY_AGE: Duration = Duration::from_secs(24 * 3600);

/// What the router trusts about a registered device.
#[derive(Debug, Clone)]
pub struct KnownDevice {
    /// Registered classroom.
    pub classroom_id: String,
    /// Frame-signing key, if credentials were issued.
    pub signing_key: Option<SigningKey>,
    /// Whether it may send frames.
    pub active: bool,
}

/// Limits the router enforces.
#[derive(Debug, Clone)]
pub struct RouterLimits {
    /// Frames handed to the pool at once.
    pub max_inflight: usize,
    /// Frames waiting beyond those; the oldest of a classroom is dropped past this.
    pub max_queued: usize,
    /// Frames per second accepted from one device.
    pub device_max_fps: f32,
    /// Largest accepted distance between `captured_at` and the hub's clock.
    pub clock_skew: Duration,
    /// Largest image, in bytes.
    pub max_image_bytes: usize,
    /// Largest image, in pixels (from the header's width × height).
    pub max_pixels: u64,
}

/// A publish on a frame topic, as the bridge received it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IncomingFrame {
    /// Classroom segment of the topic.
    pub classroom: String,
    /// Device segment of the topic.
    pub device: String,
    /// Envelope bytes.
    pub payload: Bytes,
}

/// A REST capture (already authenticated by the API).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitCapture(pub FrameJob);

/// Adds, replaces (`Some`) or forgets (`None`) one device.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetDevice {
    /// Device id.
    pub device_id: String,
    /// What to trust, or `None` to forget it.
    pub known: Option<KnownDevice>,
}

/// Replaces every known device.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetDevices(pub HashMap<String, KnownDevice>);

/// Router counters, for tests and the load benchmark.
#[derive(Message)]
#[rtype(result = "RouterStats")]
pub struct GetStats;

/// Snapshot of the router's queues.
#[derive(Debug, Clone, Copy, MessageResponse)]
pub struct RouterStats {
    /// Frames at the pool now.
    pub inflight: usize,
    /// Frames waiting.
    pub queued: usize,
}

/// Remembers recent frame ids to ignore QoS 1 redeliveries.
struct SeenFrames {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
    capacity: usize,
}

impl SeenFrames {
    fn new(capacity: usize) -> Self {
        SeenFrames {
            ids: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// True if `id` is new (and remembers it).
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

/// Token bucket per device.
struct Bucket {
    tokens: f32,
    last: Instant,
}

/// The FrameRouter actor.
pub struct FrameRouter {
    devices: HashMap<String, KnownDevice>,
    seen: SeenFrames,
    buckets: HashMap<String, Bucket>,
    queues: HashMap<String, VecDeque<FrameJob>>,
    queued: usize,
    inflight: usize,
    limits: RouterLimits,
    pool: Addr<RecognizerWorker>,
    writer: Addr<AttendanceWriter>,
    health: Addr<DeviceHealth>,
    metrics: Arc<Metrics>,
}

impl Actor for FrameRouter {
    type Context = Context<Self>;
}

/// Why a frame was dropped: the `reason` label of `cavs_frames_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a valid v1 envelope.
    Malformed,
    /// Header ids differ from the topic's.
    TopicMismatch,
    /// Device not registered or without credentials.
    UnknownDevice,
    /// Device disabled by an admin.
    DeviceDisabled,
    /// Classroom differs from the device's registered one.
    WrongClassroom,
    /// Signature does not verify.
    BadSignature,
    /// Image type other than JPEG.
    UnsupportedType,
    /// Image larger than the limits.
    Oversize,
    /// Capture time too far from the hub's clock.
    ClockSkew,
    /// A frame id seen before.
    Duplicate,
    /// Device over its frame rate.
    RateLimited,
    /// Pipeline full: oldest queued frame of the classroom dropped.
    Overloaded,
    /// The image could not be decoded.
    Undecodable,
}

impl DropReason {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::TopicMismatch => "topic_mismatch",
            DropReason::UnknownDevice => "unknown_device",
            DropReason::DeviceDisabled => "device_disabled",
            DropReason::WrongClassroom => "wrong_classroom",
            DropReason::BadSignature => "bad_signature",
            DropReason::UnsupportedType => "unsupported_type",
            DropReason::Oversize => "oversize",
            DropReason::ClockSkew => "clock_skew",
            DropReason::Duplicate => "duplicate",
            DropReason::RateLimited => "rate_limited",
            DropReason::Overloaded => "overloaded",
            DropReason::Undecodable => "undecodable",
        }
    }
}

impl FrameRouter {
    /// A router feeding `pool` and `writer`.
    pub fn new(
        limits: RouterLimits,
        pool: Addr<RecognizerWorker>,
        writer: Addr<AttendanceWriter>,
        health: Addr<DeviceHealth>,
        metrics: Arc<Metrics>,
    ) -> Self {
        FrameRouter {
            devices: HashMap::new(),
            seen: SeenFrames::new(100_000),
            buckets: HashMap::new(),
            queues: HashMap::new(),
            queued: 0,
            inflight: 0,
            limits,
            pool,
            writer,
            health,
            metrics,
        }
    }

    fn drop_frame(&self, reason: DropReason, device: &str, detail: &str) {
        self.metrics.dropped(reason.as_str());
        match reason {
            DropReason::Duplicate | DropReason::RateLimited | DropReason::Overloaded => {
                tracing::debug!(
                    device_id = device,
                    reason = reason.as_str(),
                    detail,
                    "frame dropped"
                )
            }
            _ => tracing::warn!(
                device_id = device,
                reason = reason.as_str(),
                detail,
                "frame dropped"
            ),
        }
    }

    /// Checks an envelope; on success returns the job to run.
    fn validate(&mut self, frame: IncomingFrame) -> Result<FrameJob, (DropReason, String)> {
        let received_at = Instant::now();
        let (header, image) = decode_frame(&frame.payload).map_err(|e| {
            let reason = match e {
                ProtocolError::HeaderTooLarge(_) => DropReason::Oversize,
                _ => DropReason::Malformed,
            };
            (reason, e.to_string())
        })?;
        if header.device_id != frame.device || header.classroom_id != frame.classroom {
            return Err((
                DropReason::TopicMismatch,
                format!(
                    "header says {}/{}, topic {}/{}",
                    header.classroom_id, header.device_id, frame.classroom, frame.device
                ),
            ));
        }
        let known = self
            .devices
            .get(&header.device_id)
            .ok_or((DropReason::UnknownDevice, "not registered".to_owned()))?;
        if !known.active {
            return Err((DropReason::DeviceDisabled, "device is not active".into()));
        }
        if known.classroom_id != header.classroom_id {
            return Err((
                DropReason::WrongClassroom,
                format!("registered in {}", known.classroom_id),
            ));
        }
        let key = known.signing_key.as_ref().ok_or((
            DropReason::UnknownDevice,
            "no credentials issued".to_owned(),
        ))?;
        verify_header(&header, image, key)
            .map_err(|e| (DropReason::BadSignature, e.to_string()))?;
        if header.content_type != CONTENT_TYPE_JPEG {
            return Err((DropReason::UnsupportedType, header.content_type.clone()));
        }
        let pixels = u64::from(header.width) * u64::from(header.height);
        if image.len() > self.limits.max_image_bytes || pixels > self.limits.max_pixels {
            return Err((
                DropReason::Oversize,
                format!("{} bytes, {}x{}", image.len(), header.width, header.height),
            ));
        }
        let captured_at = header
            .captured_at()
            .map_err(|e| (DropReason::Malformed, e.to_string()))?;
        // Ahead of the hub's clock by more than the allowed skew, or older than a spooled frame
        // can plausibly be (an agent replays its spool after an outage: signed at capture).
        let age = chrono::Utc::now() - captured_at;
        let too_new = (-age)
            .to_std()
            .is_ok_and(|ahead| ahead > self.limits.clock_skew);
        let too_old = age
            .to_std()
            .is_ok_and(|old| old > self.limits.clock_skew + MAX_REPLAY_AGE);
        if too_new || too_old {
            let skew = age.abs();
            return Err((
                DropReason::ClockSkew,
                format!(
                    "captured_at {} is {}s from the hub clock",
                    header.captured_at,
                    skew.num_seconds()
                ),
            ));
        }
        if !self.seen.insert(header.frame_id) {
            return Err((DropReason::Duplicate, header.frame_id.to_string()));
        }
        if !self.take_token(&header.device_id, received_at) {
            return Err((
                DropReason::RateLimited,
                format!("over {} fps", self.limits.device_max_fps),
            ));
        }
        let image_offset = frame.payload.len() - image.len();
        Ok(FrameJob {
            frame_id: header.frame_id,
            device_id: header.device_id,
            classroom_id: header.classroom_id,
            captured_at,
            image: frame.payload.slice(image_offset..),
            received_at,
            reply: None,
        })
    }

    fn take_token(&mut self, device: &str, now: Instant) -> bool {
        let rate = self.limits.device_max_fps.max(0.01);
        let burst = (rate * 2.0).max(1.0);
        let bucket = self.buckets.entry(device.to_owned()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f32();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn accept(&mut self, job: FrameJob, ctx: &mut Context<Self>) {
        self.metrics
            .frames_received
            .get_or_create(&DeviceLabel {
                device: job.device_id.clone(),
            })
            .inc();
        self.health.do_send(FrameSeen {
            device_id: job.device_id.clone(),
        });
        if self.inflight < self.limits.max_inflight {
            self.dispatch(job, ctx);
            return;
        }
        let classroom = job.classroom_id.clone();
        self.queues
            .entry(classroom.clone())
            .or_default()
            .push_back(job);
        self.queued += 1;
        if self.queued > self.limits.max_queued {
            self.shed(&classroom);
        }
    }

    /// Drops the oldest queued frame of `classroom` (or, if it has only the newcomer, of the
    /// longest queue).
    fn shed(&mut self, classroom: &str) {
        let victim_classroom = match self.queues.get(classroom) {
            Some(queue) if queue.len() > 1 => classroom.to_owned(),
            _ => self
                .queues
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(c, _)| c.clone())
                .unwrap_or_else(|| classroom.to_owned()),
        };
        if let Some(job) = self
            .queues
            .get_mut(&victim_classroom)
            .and_then(VecDeque::pop_front)
        {
            self.queued -= 1;
            self.drop_frame(DropReason::Overloaded, &job.device_id, "pipeline full");
            if let Some(reply) = job.reply {
                let _ = reply.send(Err(PipelineError::Busy));
            }
        }
    }

    fn dispatch(&mut self, job: FrameJob, ctx: &mut Context<Self>) {
        self.inflight += 1;
        let sent = self.pool.send(Recognize(job));
        ctx.spawn(sent.into_actor(self).map(|result, router, ctx| {
            router.inflight -= 1;
            match result {
                Ok(recognized) => router.recognized(recognized),
                Err(error) => tracing::error!(%error, "recognizer pool unavailable"),
            }
            router.dispatch_next(ctx);
        }));
    }

    fn recognized(&mut self, recognized: Recognized) {
        if let Err(error) = &recognized.faces {
            self.drop_frame(
                DropReason::Undecodable,
                &recognized.job.device_id,
                &error.to_string(),
            );
        }
        self.writer.do_send(WriteFrame(recognized));
    }

    /// Sends the oldest waiting frame (across classrooms) to the pool.
    fn dispatch_next(&mut self, ctx: &mut Context<Self>) {
        while self.inflight < self.limits.max_inflight && self.queued > 0 {
            let oldest = self
                .queues
                .iter()
                .filter_map(|(c, q)| q.front().map(|job| (c.clone(), job.received_at)))
                .min_by_key(|(_, at)| *at)
                .map(|(c, _)| c);
            let Some(classroom) = oldest else { break };
            let Some(job) = self
                .queues
                .get_mut(&classroom)
                .and_then(VecDeque::pop_front)
            else {
                break;
            };
            self.queued -= 1;
            self.dispatch(job, ctx);
        }
    }
}

impl Handler<IncomingFrame> for FrameRouter {
    type Result = ();

    fn handle(&mut self, frame: IncomingFrame, ctx: &mut Context<Self>) {
        let device = frame.device.clone();
        match self.validate(frame) {
            Ok(job) => self.accept(job, ctx),
            Err((reason, detail)) => self.drop_frame(reason, &device, &detail),
        }
    }
}

impl Handler<SubmitCapture> for FrameRouter {
    type Result = ();

    fn handle(&mut self, SubmitCapture(job): SubmitCapture, ctx: &mut Context<Self>) {
        self.accept(job, ctx);
    }
}

impl Handler<SetDevice> for FrameRouter {
    type Result = ();

    fn handle(&mut self, msg: SetDevice, _: &mut Context<Self>) {
        match msg.known {
            Some(known) => {
                self.devices.insert(msg.device_id, known);
            }
            None => {
                self.devices.remove(&msg.device_id);
            }
        }
    }
}

impl Handler<SetDevices> for FrameRouter {
    type Result = ();

    fn handle(&mut self, SetDevices(devices): SetDevices, _: &mut Context<Self>) {
        self.devices = devices;
    }
}

impl Handler<GetStats> for FrameRouter {
    type Result = RouterStats;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> RouterStats {
        RouterStats {
            inflight: self.inflight,
            queued: self.queued,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_frames_forget_the_oldest_past_capacity() {
        let mut seen = SeenFrames::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        assert!(seen.insert(ids[0]));
        assert!(!seen.insert(ids[0]));
        assert!(seen.insert(ids[1]));
        assert!(seen.insert(ids[2]));
        assert!(seen.insert(ids[0]), "evicted ids are new again");
        assert!(!seen.insert(ids[2]));
    }
}
