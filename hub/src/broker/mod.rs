//! The hub's MQTT broker. Embedded (the default): rumqttd configured from [`HubSettings`], device
//! and user authentication, and the hub's own local links (the bridge that feeds the actors and
//! the publisher for retained status, config and events). External: the hub is a client of
//! Mosquitto or EMQX ([`external`]) and provisions accounts there ([`dynsec`]).

pub mod acl;
pub mod admin;
mod auth;
pub mod dynsec;
pub mod dynsec_plan;
pub mod external;
pub mod identities;
mod publisher;

pub use auth::BrokerAuth;
pub use identities::Identities;
pub use publisher::Publisher;

use std::collections::HashMap;

use cavs_config::HubSettings;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};

use crate::tls::TlsFiles;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// rumqttd refused a local link.
    #[error("broker link: {0}")]
    Link(Box<rumqttd::local::LinkError>),
    /// The broker thread could not be spawned.
    #[error("broker thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The external broker's settings cannot be used.
    #[error("external broker: {0}")]
    External(String),
}

/// Bytes kept per topic log segment (a segment always takes at least one message, so a topic
/// holds at most `SEGMENT_COUNT` × (this + one message)). The hub's bridge reads frames within
/// milliseconds; a frame the broker overwrites before the bridge read it is never acknowledged,
/// so its camera sends it again — the log only has to bridge scheduling hiccups, not outages.
const SEGMENT_BYTES: usize = 1024 * 1024;
/// Segments kept per topic: together with [`SEGMENT_BYTES`] this bounds memory per topic (every
/// device has four topics, so this multiplies by the number of cameras).
const SEGMENT_COUNT: usize = 2;

/// rumqttd configuration for the hub: an MQTT 3.1.1 listener on `mqtt_addr` and, with `tls`,
/// one with TLS on `mqtts_addr`; no console, no metrics listener, payloads up to
/// `mqtt_max_payload_bytes`, `auth` deciding who connects and the topic ACL ([`acl`]) deciding
/// what each client may publish and subscribe to (on both listeners alike).
pub fn broker_config(settings: &HubSettings, auth: BrokerAuth, tls: Option<&TlsFiles>) -> Config {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: settings.mqtt_max_payload_bytes,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
        authorize: None,
    };
    let identities = auth.identities();
    connections.set_authorization_handler(move |client_id, username, action| {
        identities.allows(client_id, username, action)
    });
    connections.set_auth_handler(move |client_id, username, password| {
        let peer = rumqttd::connecting_peer().map(|addr| addr.ip());
        let auth = auth.clone();
        async move { auth.check(client_id, username, password, peer).await }
    });
    let mut servers = HashMap::from([(
        "cavs".to_owned(),
        ServerSettings {
            name: "cavs-mqtt-v4".into(),
            listen: settings.mqtt_addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: connections.clone(),
        },
    )]);
    if let Some(files) = tls {
        servers.insert(
            "cavs-tls".to_owned(),
            ServerSettings {
                name: "cavs-mqtts-v4".into(),
                listen: settings.mqtts_addr,
                tls: Some(TlsConfig::Rustls {
                    // No client certificates: devices and people log in with passwords.
                    capath: None,
                    certpath: files.cert_path.display().to_string(),
                    keypath: files.key_path.display().to_string(),
                }),
                next_connection_delay_ms: 1,
                connections,
            },
        );
    }
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: settings.mqtt_max_connections,
            max_outgoing_packet_count: 200,
            max_segment_size: SEGMENT_BYTES,
            max_segment_count: SEGMENT_COUNT,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(servers),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    }
}

/// Where the hub reads device publishes from.
pub enum BrokerFeed {
    /// The embedded broker's local link (read by the bridge thread).
    Embedded(rumqttd::local::LinkTx, rumqttd::local::LinkRx),
    /// The hub's client of an external broker (polled by the feed task).
    External(Box<external::ExternalLink>),
}

/// A started broker with the hub's links to it.
pub struct RunningBroker {
    /// Where device publishes arrive.
    pub feed: BrokerFeed,
    /// Publisher of retained status/config and events.
    pub publisher: Publisher,
    /// Sessions and device classrooms the embedded broker's topic ACL decides on (empty with
    /// an external broker, which decides itself).
    pub identities: Identities,
    /// Provisioning of the external broker's accounts (`broker_provisioning = "dynsec"`).
    pub dynsec: Option<dynsec::Dynsec>,
}

/// Starts the broker the settings name: the embedded one, or the hub's client of an external
/// one (which connects when the pipeline's feed first polls it).
pub fn start_any(
    settings: &HubSettings,
    auth: BrokerAuth,
    tls: Option<&TlsFiles>,
    store: &cavs_models::store::Store,
) -> Result<RunningBroker, BrokerError> {
    match settings.broker {
        cavs_config::BrokerMode::Embedded => start(settings, auth, tls),
        cavs_config::BrokerMode::External => {
            let link = external::connect(settings)?;
            let publisher = Publisher::external(link.client.clone());
            let dynsec = (settings.broker_provisioning == cavs_config::BrokerProvisioning::Dynsec)
                .then(|| {
                    dynsec::Dynsec::new(
                        link.client.clone(),
                        store.clone(),
                        settings.broker_username.clone().unwrap_or_default(),
                    )
                });
            Ok(RunningBroker {
                feed: BrokerFeed::External(Box::new(link)),
                publisher,
                identities: auth.identities(),
                dynsec,
            })
        }
    }
}

/// Builds the broker, opens its local links and starts it on a dedicated thread.
pub fn start(
    settings: &HubSettings,
    auth: BrokerAuth,
    tls: Option<&TlsFiles>,
) -> Result<RunningBroker, BrokerError> {
    let identities = auth.identities();
    let mut broker = Broker::new(broker_config(settings, auth, tls));
    let link = |name: &str| {
        broker
            .link(name)
            .map_err(|e| BrokerError::Link(Box::new(e)))
    };
    let (bridge_tx, bridge_rx) = link("cavs-hub-bridge")?;
    let (publisher_tx, publisher_rx) = link("cavs-hub-publisher")?;
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded MQTT broker stopped");
            }
        })?;
    Ok(RunningBroker {
        feed: BrokerFeed::Embedded(bridge_tx, bridge_rx),
        publisher: Publisher::new(publisher_tx, publisher_rx),
        identities,
        dynsec: None,
    })
}
