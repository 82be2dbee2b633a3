//! The MQTT side: broker address, client options (credentials, last will, packet size), topics,
//! payloads, and one connection whose event loop runs in its own task.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use cavs_config::{AgentSettings, ExposeSecret};
use cavs_models::protocol::{DeviceState, StatusPayload, Topic};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::broker::{parse_broker_url, tls_transport};
use crate::{AGENT_VERSION, AgentError, MAX_FRAME_BYTES};

/// Largest MQTT packet the client sends or accepts (the frame plus topic and header room).
pub const MAX_PACKET_BYTES: usize = MAX_FRAME_BYTES + 4096;

/// The topics of one device.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Where frames go.
    pub frames: String,
    /// Retained status.
    pub status: String,
    /// Heartbeats.
    pub heartbeat: String,
    /// Retained config from the hub.
    pub config: String,
    /// The hub's frame acknowledgements.
    pub acks: String,
}

impl Topics {
    /// The topics of the configured device and classroom.
    pub fn new(settings: &AgentSettings) -> Self {
        Topics {
            frames: Topic::frames(&settings.classroom_id, &settings.device_id).to_string(),
            status: Topic::status(&settings.device_id).to_string(),
            heartbeat: Topic::heartbeat(&settings.device_id).to_string(),
            config: Topic::config(&settings.device_id).to_string(),
            acks: Topic::acks(&settings.device_id).to_string(),
        }
    }
}

/// The status JSON published (retained) on the status topic.
pub fn status_json(state: DeviceState, reason: Option<&str>) -> Vec<u8> {
    let status = StatusPayload {
        agent_version: Some(AGENT_VERSION.to_owned()),
        reason: reason.map(str::to_owned),
        ..StatusPayload::now(state)
    };
    serde_json::to_vec(&status).unwrap_or_default()
}

/// Reads the SoC temperature (Raspberry Pi and most Linux boards), in °C.
pub fn cpu_temp_c() -> Option<f32> {
    let text = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp").ok()?;
    text.trim().parse::<f32>().ok().map(|milli| milli / 1000.0)
}

/// Free bytes for unprivileged users on the file system holding `path`.
pub fn disk_free(path: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Client options: client id and username = device id, password = secret, 8 MiB packets, TLS
/// with the pinned CA for `mqtts://`, and (for `run`) a retained `offline` last will.
pub fn mqtt_options(
    settings: &AgentSettings,
    topics: &Topics,
    with_will: bool,
) -> Result<MqttOptions, AgentError> {
    let broker = parse_broker_url(&settings.broker_url)?;
    let mut options = MqttOptions::new(settings.device_id.clone(), broker.host, broker.port);
    if broker.tls {
        let ca_file = settings.ca_file.as_deref().ok_or_else(|| AgentError::Tls {
            path: String::new(),
            reason: "mqtts:// needs ca_file (the hub's ca.pem)".to_owned(),
        })?;
        options.set_transport(tls_transport(ca_file)?);
    }
    let secret = settings
        .device_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default();
    options
        .set_credentials(settings.device_id.clone(), secret)
        .set_keep_alive(Duration::from_secs(20))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    if with_will {
        options.set_last_will(offline_will(topics));
    }
    Ok(options)
}

/// The last will: a retained `offline` status. Its `since` can only be the time the will is
/// built (the broker publishes it as is), so the runner builds a fresh one for every connection.
pub fn offline_will(topics: &Topics) -> LastWill {
    LastWill::new(
        topics.status.clone(),
        status_json(DeviceState::Offline, Some("connection lost")),
        QoS::AtLeastOnce,
        true,
    )
}

/// What a publish was, so its packet id can be tied back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// Frame `seq` of the spool.
    Frame(u64),
    /// Status, heartbeat or anything else not tracked.
    Other,
}

/// One connection attempt: the client handle, the events of its event loop (which runs in its own
/// task) and the bookkeeping that maps QoS 1 packet ids to spool frames.
///
/// rumqttc hands out packet ids when it sends, in the order the publishes were queued, and reports
/// each as `Outgoing::Publish(pkid)`: queueing tags in the same order ties them together. A
/// connection is never reused after an error (its unacknowledged frames are still in the spool
/// and are published again on the next connection), so rumqttc's own resending is never relied on.
pub struct Connection {
    /// The client handle.
    pub client: AsyncClient,
    events: mpsc::Receiver<Result<Event, rumqttc::ConnectionError>>,
    task: JoinHandle<()>,
    queued: VecDeque<Tag>,
    inflight: HashMap<u16, u64>,
    frames_pending: usize,
    /// True after the broker's successful CONNACK.
    pub connected: bool,
}

impl Connection {
    /// Starts connecting with `options`.
    pub fn start(options: MqttOptions) -> Self {
        let (client, eventloop) = AsyncClient::new(options, 64);
        let (tx, events) = mpsc::channel(64);
        let task = tokio::spawn(drive(eventloop, tx));
        Connection {
            client,
            events,
            task,
            queued: VecDeque::new(),
            inflight: HashMap::new(),
            frames_pending: 0,
            connected: false,
        }
    }

    /// The next event; `None` when the event loop stopped.
    pub async fn next_event(&mut self) -> Option<Result<Event, rumqttc::ConnectionError>> {
        self.events.recv().await
    }

    /// Queues a publish without waiting; false if the request queue is full.
    pub fn publish(
        &mut self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
        tag: Tag,
    ) -> bool {
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => {
                self.queued.push_back(tag);
                if matches!(tag, Tag::Frame(_)) {
                    self.frames_pending += 1;
                }
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "publish not queued");
                false
            }
        }
    }

    /// Records that rumqttc sent the next queued publish with packet id `pkid`.
    pub fn on_sent(&mut self, pkid: u16) {
        if let Some(Tag::Frame(seq)) = self.queued.pop_front()
            && pkid != 0
        {
            self.inflight.insert(pkid, seq);
        }
    }

    /// The spool frame acknowledged by PUBACK `pkid`, if it was one.
    pub fn on_acked(&mut self, pkid: u16) -> Option<u64> {
        let seq = self.inflight.remove(&pkid)?;
        self.frames_pending = self.frames_pending.saturating_sub(1);
        Some(seq)
    }

    /// Frames queued or sent on this connection and not yet acknowledged.
    pub fn frames_pending(&self) -> usize {
        self.frames_pending
    }

    /// True while any publish (frame or other) awaits its packet id or acknowledgement.
    pub fn idle(&self) -> bool {
        self.queued.is_empty() && self.inflight.is_empty()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn drive(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Result<Event, rumqttc::ConnectionError>>,
) {
    loop {
        let event = eventloop.poll().await;
        let failed = event.is_err();
        if tx.send(event).await.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_free_of_the_temp_dir() {
        assert!(disk_free(&std::env::temp_dir()).is_some_and(|b| b > 0));
        assert_eq!(
            disk_free(std::path::Path::new("/definitely/not/here")),
            None
        );
    }

    #[test]
    fn status_payload_carries_version() {
        let status =
            StatusPayload::from_slice(&status_json(DeviceState::Online, None)).expect("json");
        assert_eq!(status.state, DeviceState::Online);
        assert_eq!(status.agent_version.as_deref(), Some(AGENT_VERSION));
    }
}
