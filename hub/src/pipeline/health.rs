//! DeviceHealth: one `DeviceMonitor` actor per device tracks its status, heartbeats and frames,
//! stores status and `last_seen`, and publishes `stale` (retained) when heartbeats stop even
//! without a last will. The `DeviceHealth` actor routes reports to the monitors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use cavs_models::protocol::{DeviceState, Heartbeat, StatusPayload, Topic, config_payload};
use cavs_models::store::Store;
use cavs_models::{Device, DeviceStatus};
use chrono::Utc;

use super::health_writes::{HealthWrite, StatusNote, WriteSlot};
use super::lifecycle::{Lifecycle, Step};
use super::metrics::{Metrics, StateLabel};
use crate::broker::Publisher;

/// A publish on a device's status topic.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StatusReport {
    /// Device id from the topic.
    pub device_id: String,
    /// Payload.
    pub payload: Bytes,
}

/// A publish on a device's heartbeat topic.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HeartbeatReport {
    /// Device id from the topic.
    pub device_id: String,
    /// Payload.
    pub payload: Bytes,
}

/// A frame from the device was accepted.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct FrameSeen {
    /// Device id.
    pub device_id: String,
}

/// A device was registered or changed (`Some`) or deleted (`None`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeviceUpdated {
    /// Device id.
    pub device_id: String,
    /// The device as stored now.
    pub device: Option<Device>,
}

/// Timing of health checks, and the frame rate advertised to devices in their config.
#[derive(Debug, Clone, Copy)]
pub struct HealthTiming {
    /// Frames per second admitted per device (`max_fps` of the retained config).
    pub device_max_fps: f32,
    /// Heartbeat interval agents use.
    pub heartbeat: Duration,
    /// Missed heartbeats before `stale`.
    pub missed_for_stale: u32,
}

impl HealthTiming {}

/// Routes device reports to one monitor per device and keeps the `cavs_devices` gauge.
pub struct DeviceHealth {
    monitors: HashMap<String, Addr<DeviceMonitor>>,
    states: HashMap<String, DeviceState>,
    store: Store,
    publisher: Publisher,
    timing: HealthTiming,
    metrics: Arc<Metrics>,
}

impl DeviceHealth {
    /// A registry that starts one monitor per device in `devices`.
    pub fn new(
        store: Store,
        publisher: Publisher,
        timing: HealthTiming,
        metrics: Arc<Metrics>,
    ) -> Self {
        DeviceHealth {
            monitors: HashMap::new(),
            states: HashMap::new(),
            store,
            publisher,
            timing,
            metrics,
        }
    }

    fn start_monitor(&mut self, device: &Device, registry: Addr<DeviceHealth>) {
        let state = if device.status == DeviceStatus::Active {
            // The broker (and with it every connection) restarted with the hub.
            match device.state {
                DeviceState::Online | DeviceState::Stale => DeviceState::Offline,
                DeviceState::Disabled => DeviceState::Unknown,
                other => other,
            }
        } else {
            DeviceState::Disabled
        };
        let monitor = DeviceMonitor {
            device_id: device.device_id.clone(),
            lifecycle: Lifecycle::new(
                state,
                device.status == DeviceStatus::Active,
                self.timing.heartbeat,
                self.timing.missed_for_stale,
            ),
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            timing: self.timing,
            registry,
            writes: WriteSlot::default(),
            max_fps: self.timing.device_max_fps,
        }
        .start();
        // Re-publish retained status and config: rumqttd keeps retained messages in memory only.
        monitor.do_send(Republish {
            state,
            config: Some(config_payload(&device.config, self.timing.device_max_fps)),
        });
        self.monitors.insert(device.device_id.clone(), monitor);
        self.set_state(&device.device_id, state);
    }

    fn set_state(&mut self, device_id: &str, state: DeviceState) {
        self.states.insert(device_id.to_owned(), state);
        self.refresh_gauge();
    }

    fn refresh_gauge(&self) {
        for state in [
            DeviceState::Online,
            DeviceState::Offline,
            DeviceState::Stale,
            DeviceState::Disabled,
            DeviceState::Unknown,
        ] {
            let count = self.states.values().filter(|s| **s == state).count();
            self.metrics
                .devices
                .get_or_create(&StateLabel {
                    state: state.as_str().to_owned(),
                })
                .set(count as i64);
        }
    }

    fn monitor(&self, device_id: &str) -> Option<&Addr<DeviceMonitor>> {
        let monitor = self.monitors.get(device_id);
        if monitor.is_none() {
            tracing::warn!(device_id, "report from an unregistered device ignored");
        }
        monitor
    }
}

/// Reports the health router's mailbox holds at most; the bridge counts what does not fit.
pub const HEALTH_MAILBOX: usize = 1024;

impl Actor for DeviceHealth {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(HEALTH_MAILBOX);
    }
}

/// Loads every device and starts its monitor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LoadDevices(pub Vec<Device>);

impl Handler<LoadDevices> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, LoadDevices(devices): LoadDevices, ctx: &mut Context<Self>) {
        for device in &devices {
            self.start_monitor(device, ctx.address());
        }
    }
}

impl Handler<StatusReport> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, report: StatusReport, _: &mut Context<Self>) {
        let status = match StatusPayload::from_slice(&report.payload) {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(device_id = report.device_id, %error, "malformed status ignored");
                return;
            }
        };
        if let Some(monitor) = self.monitor(&report.device_id) {
            monitor.do_send(AgentStatus(status.state));
        }
    }
}

impl Handler<HeartbeatReport> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, report: HeartbeatReport, _: &mut Context<Self>) {
        match Heartbeat::from_slice(&report.payload) {
            Ok(heartbeat) => {
                if let Some(monitor) = self.monitor(&report.device_id) {
                    monitor.do_send(Seen {
                        heartbeat: Some(heartbeat),
                    });
                }
            }
            Err(error) => {
                tracing::warn!(device_id = report.device_id, %error, "malformed heartbeat ignored")
            }
        }
    }
}

impl Handler<FrameSeen> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, seen: FrameSeen, _: &mut Context<Self>) {
        if let Some(monitor) = self.monitors.get(&seen.device_id) {
            monitor.do_send(Seen { heartbeat: None });
        }
    }
}

impl Handler<DeviceUpdated> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, update: DeviceUpdated, ctx: &mut Context<Self>) {
        match update.device {
            Some(device) => match self.monitors.get(&device.device_id) {
                Some(monitor) => monitor.do_send(Reconfigure(device)),
                None => self.start_monitor(&device, ctx.address()),
            },
            None => {
                if let Some(monitor) = self.monitors.remove(&update.device_id) {
                    monitor.do_send(Retire);
                }
                self.states.remove(&update.device_id);
                self.refresh_gauge();
            }
        }
    }
}

/// A monitor's state changed (for the gauge).
#[derive(Message)]
#[rtype(result = "()")]
struct StateChanged {
    device_id: String,
    state: DeviceState,
}

impl Handler<StateChanged> for DeviceHealth {
    type Result = ();

    fn handle(&mut self, msg: StateChanged, _: &mut Context<Self>) {
        if self.monitors.contains_key(&msg.device_id) {
            self.set_state(&msg.device_id, msg.state);
        }
    }
}

/// Tracks one device.
pub struct DeviceMonitor {
    device_id: String,
    lifecycle: Lifecycle,
    store: Store,
    publisher: Publisher,
    timing: HealthTiming,
    registry: Addr<DeviceHealth>,
    writes: WriteSlot,
    max_fps: f32,
}

impl Actor for DeviceMonitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let tick = (self.timing.heartbeat / 2).max(Duration::from_millis(100));
        ctx.run_interval(tick, |monitor, ctx| {
            let step = monitor.lifecycle.tick(Instant::now());
            monitor.apply(step, ctx);
        });
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Republish {
    state: DeviceState,
    config: Option<Vec<u8>>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct AgentStatus(DeviceState);

#[derive(Message)]
#[rtype(result = "()")]
struct Seen {
    heartbeat: Option<Heartbeat>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Reconfigure(Device);

#[derive(Message)]
#[rtype(result = "()")]
struct Retire;

impl DeviceMonitor {
    /// Applies a lifecycle step: tells the registry of a change and stores the state (with
    /// `last_seen` when online), publishing the retained status when the hub decided it.
    fn apply(&mut self, step: Option<Step>, ctx: &mut Context<Self>) {
        let Some(step) = step else { return };
        if step.changed {
            tracing::info!(
                device_id = self.device_id,
                state = step.state.as_str(),
                "device state"
            );
            self.registry.do_send(StateChanged {
                device_id: self.device_id.clone(),
                state: step.state,
            });
        }
        let last_seen = self.lifecycle.last_seen().map(|seen| {
            Utc::now() - chrono::Duration::from_std(seen.elapsed()).unwrap_or_default()
        });
        let write = HealthWrite {
            state: step.state,
            seen_at: matches!(step.state, DeviceState::Online).then(Utc::now),
            publish: step.publish.map(|reason| StatusNote {
                reason: Some(reason),
                last_seen,
            }),
        };
        self.write(write, ctx);
    }

    /// Stores (and publishes) `write` after the device's write in flight, if any.
    fn write(&mut self, write: HealthWrite, ctx: &mut Context<Self>) {
        if let Some(write) = self.writes.offer(write) {
            self.start_write(write, ctx);
        }
    }

    fn start_write(&mut self, write: HealthWrite, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let publisher = self.publisher.clone();
        let device_id = self.device_id.clone();
        let work = async move {
            let HealthWrite {
                state,
                seen_at,
                publish,
            } = write;
            if let Err(error) = store.devices().set_health(&device_id, state, seen_at).await {
                tracing::error!(%error, device_id, "could not store device health");
            }
            if let Some(note) = publish {
                publish_status(&publisher, &device_id, state, note.last_seen, note.reason).await;
            }
        };
        ctx.spawn(work.into_actor(self).map(|(), monitor, ctx| {
            if let Some(next) = monitor.writes.finished() {
                monitor.start_write(next, ctx);
            }
        }));
    }
}

async fn publish_status(
    publisher: &Publisher,
    device_id: &str,
    state: DeviceState,
    last_seen: Option<chrono::DateTime<Utc>>,
    reason: Option<String>,
) {
    let status = StatusPayload {
        last_seen,
        reason,
        ..StatusPayload::now(state)
    };
    match serde_json::to_vec(&status) {
        Ok(payload) => {
            publisher
                .publish(Topic::status(device_id).to_string(), payload, true)
                .await
        }
        Err(error) => tracing::warn!(%error, "could not encode status"),
    }
}

impl Handler<Republish> for DeviceMonitor {
    type Result = ();

    fn handle(&mut self, msg: Republish, ctx: &mut Context<Self>) {
        let reason = match msg.state {
            DeviceState::Disabled => Some("disabled by an admin".to_owned()),
            DeviceState::Offline => Some("hub restarted".to_owned()),
            _ => None,
        };
        self.write(
            HealthWrite {
                state: msg.state,
                seen_at: None,
                publish: Some(StatusNote {
                    reason,
                    last_seen: None,
                }),
            },
            ctx,
        );
        if let Some(config) = msg.config {
            let publisher = self.publisher.clone();
            let topic = Topic::config(&self.device_id).to_string();
            ctx.spawn(async move { publisher.publish(topic, config, true).await }.into_actor(self));
        }
    }
}

impl Handler<AgentStatus> for DeviceMonitor {
    type Result = ();

    fn handle(&mut self, AgentStatus(state): AgentStatus, ctx: &mut Context<Self>) {
        let step = self.lifecycle.agent_status(state, Instant::now());
        self.apply(step, ctx);
    }
}

impl Handler<Seen> for DeviceMonitor {
    type Result = ();

    fn handle(&mut self, seen: Seen, ctx: &mut Context<Self>) {
        if let Some(heartbeat) = &seen.heartbeat {
            tracing::debug!(
                device_id = self.device_id,
                uptime = heartbeat.uptime,
                spool = heartbeat.spool_depth,
                "heartbeat"
            );
        }
        let step = self
            .lifecycle
            .heard(seen.heartbeat.is_some(), Instant::now());
        self.apply(step, ctx);
    }
}

impl Handler<Reconfigure> for DeviceMonitor {
    type Result = ();

    fn handle(&mut self, Reconfigure(device): Reconfigure, ctx: &mut Context<Self>) {
        let config = Some(config_payload(&device.config, self.max_fps));
        let step = self
            .lifecycle
            .reconfigured(device.status == DeviceStatus::Active);
        self.apply(step, ctx);
        if let Some(config) = config {
            let publisher = self.publisher.clone();
            let topic = Topic::config(&self.device_id).to_string();
            ctx.spawn(async move { publisher.publish(topic, config, true).await }.into_actor(self));
        }
    }
}

impl Handler<Retire> for DeviceMonitor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        let publisher = self.publisher.clone();
        let device_id = self.device_id.clone();
        // Clear the retained topics of a deleted device (an empty retained payload).
        ctx.wait(
            async move {
                publisher
                    .publish(Topic::status(&device_id).to_string(), Vec::new(), true)
                    .await;
                publisher
                    .publish(Topic::config(&device_id).to_string(), Vec::new(), true)
                    .await;
            }
            .into_actor(self),
        );
        ctx.stop();
    }
}
