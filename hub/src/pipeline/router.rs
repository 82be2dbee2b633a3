//! FrameRouter: drives the admission, rate, de-duplication and queue policies ([`super::policy`])
//! and moves each admitted frame through the pool and the writer. A frame holds its in-flight
//! slot until the writer has committed its outcome; every MQTT frame's outcome (or the reason it
//! was dropped) goes back to its device as an ack, so the agent deletes it only when the hub has
//! recorded it or can never record it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use cavs_models::pipeline::PipelineError;
use cavs_models::protocol::{AckOutcome, FrameAck};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::acks::Acks;
use super::health::{DeviceHealth, FrameSeen};
use super::messages::{FrameFailureKind, FrameJob, WriteOutcome};
use super::metrics::{DeviceLabel, Metrics};
use super::policy::{
    Admission, AdmissionLimits, DropReason, FrameIds, FrameQueues, InboxTicket, KnownDevice, Offer,
    RETRY_AFTER, RateLimiter, Seen,
};
use super::pool::Recognized;
use super::remote::Recognition;
use super::writer::{AttendanceWriter, WriteFrame};

/// Messages the router's mailbox holds at most; the bridge counts what does not fit.
pub const ROUTER_MAILBOX: usize = 256;
/// Done frame ids remembered in memory (the store's markers cover the rest).
pub const REMEMBERED_FRAME_IDS: usize = 200_000;

/// Limits the router enforces.
#[derive(Debug, Clone)]
pub struct RouterLimits {
    /// Frames between dispatch and commit at once.
    pub max_inflight: usize,
    /// Frames waiting beyond those; the oldest of a classroom is shed past this.
    pub max_queued: usize,
    /// Frames per second admitted from one device.
    pub device_max_fps: f32,
    /// Envelope checks.
    pub admission: AdmissionLimits,
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
    /// The payload's share of the bridge's byte budget, returned once the frame is handled.
    pub ticket: Option<InboxTicket>,
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

/// Frame ids committed before a restart (from the store's markers).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SeedFrameIds(pub Vec<Uuid>);

/// Stop taking frames and answer once every admitted frame is committed (the caller bounds the
/// wait). Frames arriving afterwards are dropped unacknowledged, so their devices keep them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain(pub oneshot::Sender<()>);

/// Router counters, for tests and the load benchmark.
#[derive(Message)]
#[rtype(result = "RouterStats")]
pub struct GetStats;

/// Snapshot of the router's queues.
#[derive(Debug, Clone, Copy, MessageResponse)]
pub struct RouterStats {
    /// Frames between dispatch and commit now.
    pub inflight: usize,
    /// Frames waiting.
    pub queued: usize,
}

/// The FrameRouter actor.
pub struct FrameRouter {
    admission: Admission,
    rate: RateLimiter,
    ids: FrameIds,
    queues: FrameQueues<FrameJob>,
    arrivals: u64,
    draining: Vec<oneshot::Sender<()>>,
    stopping: bool,
    recognition: Recognition,
    writer: Addr<AttendanceWriter>,
    health: Addr<DeviceHealth>,
    acks: Acks,
    metrics: Arc<Metrics>,
}

impl Actor for FrameRouter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(ROUTER_MAILBOX);
    }
}

impl FrameRouter {
    /// A router having frames recognised by `recognition`, written by `writer`, and
    /// acknowledging through `acks`.
    pub fn new(
        limits: RouterLimits,
        recognition: Recognition,
        writer: Addr<AttendanceWriter>,
        health: Addr<DeviceHealth>,
        acks: Acks,
        metrics: Arc<Metrics>,
    ) -> Self {
        FrameRouter {
            admission: Admission::new(limits.admission),
            rate: RateLimiter::new(limits.device_max_fps),
            ids: FrameIds::new(REMEMBERED_FRAME_IDS),
            queues: FrameQueues::new(limits.max_inflight, limits.max_queued),
            arrivals: 0,
            draining: Vec::new(),
            stopping: false,
            recognition,
            writer,
            health,
            acks,
            metrics,
        }
    }

    /// Counts and logs a drop, and tells the device what it means for the frame.
    fn drop_frame(&self, reason: DropReason, device: &str, frame_id: Option<Uuid>, detail: &str) {
        self.metrics.dropped(reason.as_str());
        if reason.is_routine() {
            tracing::debug!(
                device_id = device,
                reason = reason.as_str(),
                detail,
                "frame dropped"
            );
        } else {
            tracing::warn!(
                device_id = device,
                reason = reason.as_str(),
                detail,
                "frame dropped"
            );
        }
        let (Some(frame_id), Some(outcome)) = (frame_id, reason.ack()) else {
            return;
        };
        let retry_after_ms = (outcome == AckOutcome::Retry).then(|| {
            let wait = match reason {
                DropReason::RateLimited => self.rate.retry_after(device).max(RETRY_AFTER),
                _ => RETRY_AFTER,
            };
            wait.as_millis() as u64
        });
        self.acks.send(
            device,
            FrameAck {
                frame_id,
                outcome,
                reason: Some(reason.as_str().to_owned()),
                retry_after_ms,
                faces: None,
            },
        );
    }

    fn on_frame(&mut self, frame: IncomingFrame, ctx: &mut Context<Self>) {
        let IncomingFrame {
            classroom,
            device,
            payload,
            ticket: _ticket,
        } = frame;
        if self.stopping {
            self.drop_frame(DropReason::ShuttingDown, &device, None, "hub stopping");
            return;
        }
        let admitted = match self
            .admission
            .admit(&classroom, &device, &payload, chrono::Utc::now())
        {
            Ok(admitted) => admitted,
            Err(refusal) => {
                self.drop_frame(refusal.reason, &device, refusal.frame_id, &refusal.detail);
                return;
            }
        };
        let frame_id = admitted.frame_id;
        match self.ids.begin(frame_id) {
            Seen::New => {}
            Seen::InProgress => {
                self.drop_frame(
                    DropReason::InProgress,
                    &device,
                    Some(frame_id),
                    "sent again",
                );
                return;
            }
            Seen::Done => {
                self.drop_frame(
                    DropReason::Duplicate,
                    &device,
                    Some(frame_id),
                    "recorded before",
                );
                return;
            }
        }
        let received_at = Instant::now();
        if !self.rate.allow(&device, received_at) {
            self.ids.abandon(frame_id);
            let detail = format!("over {} fps", self.rate.rate());
            self.drop_frame(DropReason::RateLimited, &device, Some(frame_id), &detail);
            return;
        }
        let job = FrameJob {
            frame_id,
            device_id: device,
            classroom_id: classroom,
            captured_at: admitted.captured_at,
            image: payload.slice(admitted.image),
            received_at,
            arrival: 0,
            reply: None,
        };
        self.accept(job, ctx);
    }

    fn accept(&mut self, mut job: FrameJob, ctx: &mut Context<Self>) {
        self.arrivals += 1;
        job.arrival = self.arrivals;
        self.metrics
            .frames_received
            .get_or_create(&DeviceLabel {
                device: job.device_id.clone(),
            })
            .inc();
        self.health.do_send(FrameSeen {
            device_id: job.device_id.clone(),
        });
        match self.queues.offer(job) {
            Offer::Dispatch(job) => self.dispatch(job, ctx),
            Offer::Queued => {}
            Offer::Shed(victim) => self.give_up(victim, DropReason::Overloaded, "pipeline full"),
        }
    }

    /// Drops an admitted frame that will not be recorded now.
    fn give_up(&mut self, job: FrameJob, reason: DropReason, detail: &str) {
        self.ids.abandon(job.frame_id);
        match job.reply {
            Some(reply) => {
                self.metrics.dropped(reason.as_str());
                let _ = reply.send(Err(match reason {
                    DropReason::ShuttingDown => {
                        PipelineError::Unavailable("the hub is stopping".into())
                    }
                    _ => PipelineError::Busy,
                }));
            }
            None => self.drop_frame(reason, &job.device_id, Some(job.frame_id), detail),
        }
    }

    /// Recognises, then writes, then frees the slot and acknowledges.
    fn dispatch(&mut self, job: FrameJob, ctx: &mut Context<Self>) {
        let recognition = self.recognition.clone();
        let writer = self.writer.clone();
        let device = job.device_id.clone();
        let frame_id = job.frame_id;
        let mqtt = job.is_mqtt();
        let work = async move {
            let Recognized { mut job, faces } = match recognition.recognize(job).await {
                Ok(recognized) => recognized,
                Err(error) => return WriteOutcome::Failed(format!("recognizer pool: {error}")),
            };
            // The JPEG is not needed any more: release it before the (possibly slow) write.
            job.image = Bytes::new();
            match writer.send(WriteFrame(Recognized { job, faces })).await {
                Ok(outcome) => outcome,
                Err(error) => WriteOutcome::Failed(format!("attendance writer: {error}")),
            }
        };
        ctx.spawn(work.into_actor(self).map(move |outcome, router, ctx| {
            router.queues.complete();
            router.finished(&device, frame_id, mqtt, outcome);
            router.dispatch_next(ctx);
        }));
    }

    fn finished(&mut self, device: &str, frame_id: Uuid, mqtt: bool, outcome: WriteOutcome) {
        let ack = |outcome, faces| FrameAck {
            frame_id,
            outcome,
            reason: None,
            retry_after_ms: None,
            faces,
        };
        match outcome {
            WriteOutcome::Recorded { faces } => {
                self.ids.done(frame_id);
                self.metrics.frames_committed.inc();
                if mqtt {
                    self.acks
                        .send(device, ack(AckOutcome::Recorded, Some(faces)));
                }
            }
            WriteOutcome::Duplicate => {
                self.ids.done(frame_id);
                if mqtt {
                    self.drop_frame(
                        DropReason::Duplicate,
                        device,
                        Some(frame_id),
                        "recorded before a restart",
                    );
                }
            }
            WriteOutcome::Rejected(kind) => {
                self.ids.done(frame_id);
                let reason = match kind {
                    FrameFailureKind::Undecodable => DropReason::Undecodable,
                    FrameFailureKind::Panicked => DropReason::RecognitionFailed,
                };
                let frame = mqtt.then_some(frame_id);
                self.drop_frame(reason, device, frame, "no faces could be read");
            }
            WriteOutcome::Failed(detail) => {
                self.ids.abandon(frame_id);
                let frame = mqtt.then_some(frame_id);
                self.drop_frame(DropReason::StoreFailed, device, frame, &detail);
            }
        }
    }

    /// Sends waiting frames to the pool while slots are free; answers drain requests once idle.
    fn dispatch_next(&mut self, ctx: &mut Context<Self>) {
        while let Some(job) = self.queues.take_next() {
            self.dispatch(job, ctx);
        }
        if self.queues.inflight() == 0 && self.queues.queued() == 0 {
            for waiter in self.draining.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

impl Handler<IncomingFrame> for FrameRouter {
    type Result = ();

    fn handle(&mut self, frame: IncomingFrame, ctx: &mut Context<Self>) {
        self.on_frame(frame, ctx);
    }
}

impl Handler<SubmitCapture> for FrameRouter {
    type Result = ();

    fn handle(&mut self, SubmitCapture(job): SubmitCapture, ctx: &mut Context<Self>) {
        if self.stopping {
            self.give_up(job, DropReason::ShuttingDown, "hub stopping");
            return;
        }
        self.ids.begin(job.frame_id);
        self.accept(job, ctx);
    }
}

impl Handler<SetDevice> for FrameRouter {
    type Result = ();

    fn handle(&mut self, msg: SetDevice, _: &mut Context<Self>) {
        if msg.known.is_none() {
            self.rate.forget(&msg.device_id);
        }
        self.admission.set_device(msg.device_id, msg.known);
    }
}

impl Handler<SetDevices> for FrameRouter {
    type Result = ();

    fn handle(&mut self, SetDevices(devices): SetDevices, _: &mut Context<Self>) {
        self.admission.set_devices(devices);
    }
}

impl Handler<SeedFrameIds> for FrameRouter {
    type Result = ();

    fn handle(&mut self, SeedFrameIds(ids): SeedFrameIds, _: &mut Context<Self>) {
        // Oldest first, so the newest stay when there are more than the memory holds.
        for id in ids.into_iter().rev() {
            self.ids.done(id);
        }
    }
}

impl Handler<Drain> for FrameRouter {
    type Result = ();

    fn handle(&mut self, Drain(done): Drain, ctx: &mut Context<Self>) {
        if !self.stopping {
            self.stopping = true;
            tracing::info!(
                inflight = self.queues.inflight(),
                queued = self.queues.queued(),
                "frame intake stopped; draining"
            );
        }
        self.draining.push(done);
        self.dispatch_next(ctx);
    }
}

impl Handler<GetStats> for FrameRouter {
    type Result = RouterStats;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> RouterStats {
        RouterStats {
            inflight: self.queues.inflight(),
            queued: self.queues.queued(),
        }
    }
}

/// How long a graceful stop waits for admitted frames to be committed.
pub const DRAIN_GRACE: Duration = Duration::from_secs(20);
