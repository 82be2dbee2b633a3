//! BrokerBridge: reads device publishes from the broker's local link on its own thread and
//! turns them into actor messages. It only parses the topic and posts to bounded mailboxes
//! (`try_send`), so it never waits on a slow actor: a frame that does not fit (mailbox full, or
//! the byte budget of frames in transit spent) is counted as `bridge_full` and left to its
//! device, which sends it again when no ack comes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use cavs_models::protocol::{FRAMES_FILTER, HEARTBEAT_FILTER, STATUS_FILTER, Topic};
use rumqttd::Notification;
use rumqttd::local::{LinkRx, LinkTx};

use super::health::{DeviceHealth, HeartbeatReport, StatusReport};
use super::metrics::Metrics;
use super::policy::{DropReason, InboxBudget};
use super::router::{FrameRouter, IncomingFrame};

/// Bytes of frames in transit from the bridge to the router, at most (a few full-size frames).
pub const INBOX_BYTES: usize = 64 * 1024 * 1024;

/// True while the bridge thread runs (cleared when it ends, also by a panic).
#[derive(Debug, Clone, Default)]
pub struct BridgeAlive(Arc<AtomicBool>);

impl BridgeAlive {
    /// Whether the bridge runs.
    pub fn is_alive(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Sets it (the external feed: connected to the broker or not).
    pub(crate) fn set(&self, alive: bool) {
        self.0.store(alive, Ordering::Release);
    }
}

/// Clears [`BridgeAlive`] when the bridge thread ends, however it ends.
struct AliveGuard(BridgeAlive);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        (self.0).0.store(false, Ordering::Release);
    }
}

/// What the bridge (and the external feed) posts to.
pub(crate) struct Targets {
    router: Addr<FrameRouter>,
    health: Addr<DeviceHealth>,
    budget: InboxBudget,
    metrics: Arc<Metrics>,
}

impl Targets {
    /// Targets with the bridge's byte budget of frames in transit ([`INBOX_BYTES`]).
    pub(crate) fn new(
        router: Addr<FrameRouter>,
        health: Addr<DeviceHealth>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Targets {
            router,
            health,
            budget: InboxBudget::new(INBOX_BYTES),
            metrics,
        }
    }
}

/// Subscribes the link to frames, status and heartbeats and starts the bridge thread.
pub fn start(
    link: (LinkTx, LinkRx),
    router: Addr<FrameRouter>,
    health: Addr<DeviceHealth>,
    metrics: Arc<Metrics>,
) -> std::io::Result<BridgeAlive> {
    let alive = BridgeAlive(Arc::new(AtomicBool::new(true)));
    let guard = AliveGuard(alive.clone());
    let targets = Targets::new(router, health, metrics);
    let (mut tx, mut rx) = link;
    for filter in [FRAMES_FILTER, STATUS_FILTER, HEARTBEAT_FILTER] {
        if let Err(error) = tx.subscribe(filter) {
            tracing::error!(%error, filter, "bridge could not subscribe");
        }
    }
    std::thread::Builder::new()
        .name("mqtt-bridge".into())
        .spawn(move || {
            let _guard = guard;
            // Keep the sending half alive: dropping it would close the link.
            let _tx = tx;
            loop {
                match rx.recv() {
                    Ok(Some(Notification::Forward(forward))) => {
                        let topic = String::from_utf8_lossy(&forward.publish.topic).into_owned();
                        dispatch(&topic, forward.publish.payload, &targets);
                    }
                    Ok(Some(Notification::Unschedule)) => {
                        // The router paused us because our buffer filled: ask for more.
                        if let Err(error) = rx.ready() {
                            tracing::error!(%error, "bridge link lost");
                            break;
                        }
                    }
                    Ok(Some(_)) | Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, "bridge link closed");
                        break;
                    }
                }
            }
        })?;
    Ok(alive)
}

/// Routes one device publish (frames to the router, status and heartbeats to the health
/// actor) without waiting: what does not fit is counted.
pub(crate) fn dispatch(topic: &str, payload: bytes::Bytes, targets: &Targets) {
    let health = &targets.health;
    match Topic::parse(topic) {
        Ok(Topic::Frames { classroom, device }) => {
            let bytes = payload.len();
            let Some(ticket) = targets.budget.take(bytes) else {
                targets.metrics.dropped(DropReason::BridgeFull.as_str());
                tracing::warn!(
                    device_id = device,
                    bytes,
                    "frame not taken: frames in transit over their byte budget"
                );
                return;
            };
            let frame = IncomingFrame {
                classroom,
                device,
                payload,
                ticket: Some(ticket),
            };
            if let Err(error) = targets.router.try_send(frame) {
                let device = match &error {
                    actix::prelude::SendError::Full(f) | actix::prelude::SendError::Closed(f) => {
                        f.device.clone()
                    }
                };
                targets.metrics.dropped(DropReason::BridgeFull.as_str());
                tracing::warn!(
                    device_id = device,
                    "frame not taken: the router's mailbox is full or closed"
                );
            }
        }
        Ok(Topic::Status { device }) => {
            // An empty retained payload clears the topic; nothing to track.
            if !payload.is_empty()
                && health
                    .try_send(StatusReport {
                        device_id: device.clone(),
                        payload,
                    })
                    .is_err()
            {
                report_dropped(targets, &device, "status");
            }
        }
        Ok(Topic::Heartbeat { device }) => {
            let report = HeartbeatReport {
                device_id: device.clone(),
                payload,
            };
            if health.try_send(report).is_err() {
                report_dropped(targets, &device, "heartbeat");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(topic, %error, "publish on an invalid topic ignored"),
    }
}

/// Counts a status or heartbeat the health actor had no room for (the next one replaces it).
fn report_dropped(targets: &Targets, device: &str, kind: &str) {
    targets.metrics.health_reports_dropped.inc();
    tracing::debug!(
        device_id = device,
        kind,
        "device report dropped: health mailbox full"
    );
}
