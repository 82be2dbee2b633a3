//! The hub as a client of an external broker (`broker = "external"`): one MQTT 3.1.1 session
//! under the service account (`broker_username`, client id `cavs-hub`), subscribed to every
//! device's frames, status and heartbeat, the workers' results and presence, and the
//! dynamic-security replies. The event loop is driven by [`crate::pipeline::feed`].

use std::time::Duration;

use cavs_agent::broker::{parse_broker_url, tls_transport};
use cavs_config::HubSettings;
use cavs_models::protocol::{
    FRAMES_FILTER, HEARTBEAT_FILTER, RESERVED_CLIENT_PREFIX, STATUS_FILTER, WORKER_RESULTS_FILTER,
    WORKER_STATUS_FILTER,
};
use rumqttc::{AsyncClient, EventLoop, MqttOptions, QoS};
use secrecy::ExposeSecret;

use super::BrokerError;
use super::dynsec::DYNSEC_RESPONSE_TOPIC;

/// Requests the client queues before `publish` waits for the event loop.
const CLIENT_QUEUE: usize = 1024;
/// Largest packet the hub reads: results carry every face crop of a frame.
const MAX_INCOMING_BYTES: usize = 32 * 1024 * 1024;

/// What the hub subscribes to on the external broker (again after every reconnect: the
/// session is clean, devices send again whatever was not acknowledged).
pub const SUBSCRIPTIONS: [&str; 6] = [
    FRAMES_FILTER,
    STATUS_FILTER,
    HEARTBEAT_FILTER,
    WORKER_RESULTS_FILTER,
    WORKER_STATUS_FILTER,
    DYNSEC_RESPONSE_TOPIC,
];

/// The hub's client id on an external broker (pin the service account to it).
pub const HUB_CLIENT_ID: &str = RESERVED_CLIENT_PREFIX;

/// Options for a client of the external broker in `settings` under `client_id`, with the
/// username and password given (the hub's service account, or a worker's account).
pub fn client_options(
    settings: &HubSettings,
    client_id: &str,
    max_incoming: usize,
) -> Result<MqttOptions, BrokerError> {
    let url = settings.broker_url.as_deref().unwrap_or_default();
    let address = parse_broker_url(url).map_err(|e| BrokerError::External(e.to_string()))?;
    let mut options = MqttOptions::new(client_id, address.host, address.port);
    options
        .set_keep_alive(Duration::from_secs(10))
        .set_clean_session(true)
        .set_max_packet_size(max_incoming, settings.mqtt_max_payload_bytes + 64 * 1024);
    if let Some(username) = &settings.broker_username {
        options.set_credentials(username, account_password(settings));
    }
    if let Some(transport) = tls_for(settings, address.tls).map_err(BrokerError::External)? {
        options.set_transport(transport);
    }
    Ok(options)
}

/// The password of the settings' broker account (empty when unset).
pub fn account_password(settings: &HubSettings) -> String {
    settings
        .broker_password
        .as_ref()
        .map(|p| p.expose_secret().to_owned())
        .unwrap_or_default()
}

/// The TLS transport (trusting only `broker_ca_file`) for an `mqtts://` broker; `None` for
/// `mqtt://`.
pub fn tls_for(settings: &HubSettings, tls: bool) -> Result<Option<rumqttc::Transport>, String> {
    if !tls {
        return Ok(None);
    }
    let ca = settings
        .broker_ca_file
        .as_deref()
        .ok_or_else(|| "mqtts:// needs broker_ca_file".to_owned())?;
    tls_transport(ca).map(Some).map_err(|e| e.to_string())
}

/// The hub's connection to the external broker, not yet polled.
pub struct ExternalLink {
    /// The client (publishes and subscriptions).
    pub client: AsyncClient,
    /// Its event loop; the feed polls it.
    pub events: EventLoop,
}

/// Prepares the hub's client (the connection is made when the feed first polls it).
pub fn connect(settings: &HubSettings) -> Result<ExternalLink, BrokerError> {
    let options = client_options(
        settings,
        HUB_CLIENT_ID,
        MAX_INCOMING_BYTES.max(settings.mqtt_max_payload_bytes + 64 * 1024),
    )?;
    let (client, events) = AsyncClient::new(options, CLIENT_QUEUE);
    Ok(ExternalLink { client, events })
}

/// Subscribes `client` to [`SUBSCRIPTIONS`] without waiting (called on every CONNACK from
/// inside the event loop, which must not block on its own queue).
pub fn subscribe_all(client: &AsyncClient) {
    for filter in SUBSCRIPTIONS {
        if let Err(error) = client.try_subscribe(filter, QoS::AtLeastOnce) {
            tracing::error!(%error, filter, "could not subscribe on the external broker");
        }
    }
}
