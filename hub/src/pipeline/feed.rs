//! The hub's feed from an external broker: one task polls the hub's MQTT client, subscribes
//! again after every (re)connect, and routes each publish without waiting — device frames,
//! status and heartbeats to the actors (as the embedded bridge does), workers' results and
//! presence to [`RemoteWorkers`], dynamic-security replies to [`Dynsec`]. While the broker is
//! unreachable the feed counts as down in `/api/health` and retries with a capped backoff.

use std::time::Duration;

use rumqttc::{ConnectReturnCode, Event, Packet, SubscribeReasonCode};

use super::bridge::{BridgeAlive, Targets, dispatch};
use super::remote::RemoteWorkers;
use crate::broker::dynsec::{DYNSEC_RESPONSE_TOPIC, Dynsec};
use crate::broker::external::{ExternalLink, SUBSCRIPTIONS, subscribe_all};
use cavs_models::protocol::WorkerTopic;

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where the feed routes what it reads.
pub(crate) struct Routes {
    /// Device publishes.
    pub targets: Targets,
    /// Workers' results and presence.
    pub remote: RemoteWorkers,
    /// Dynamic-security replies.
    pub dynsec: Option<Dynsec>,
}

/// Starts the feed task; the returned flag is up while the hub is connected.
pub(crate) fn start(link: ExternalLink, routes: Routes) -> BridgeAlive {
    let alive = BridgeAlive::default();
    let connected = alive.clone();
    tokio::spawn(async move {
        let ExternalLink { client, mut events } = link;
        let mut backoff = Duration::from_millis(200);
        let bootstrapping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    if ack.code == ConnectReturnCode::Success {
                        backoff = Duration::from_millis(200);
                        connected.set(true);
                        subscribe_all(&client);
                        tracing::info!("connected to the external MQTT broker");
                        if let Some(dynsec) = routes.dynsec.clone() {
                            spawn_bootstrap(dynsec, std::sync::Arc::clone(&bootstrapping));
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    route(&publish.topic, publish.payload, &routes);
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|c| matches!(c, SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        tracing::error!(
                            refused,
                            filters = ?SUBSCRIPTIONS,
                            "the external broker refused subscriptions of the hub's account: give it the hub role (docs/scaling.md)"
                        );
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    connected.set(false);
                    tracing::warn!(%error, retry_in = ?backoff, "external MQTT broker unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
    alive
}

/// Once per hub run (again after a reconnect until it succeeds): the hub's own account gets
/// its service role, then the broker's accounts are reconciled with the database.
fn spawn_bootstrap(dynsec: Dynsec, running: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    // One bootstrap at a time, none once the hub is ready.
    if dynsec.is_ready() || running.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async move {
        match dynsec.bootstrap().await {
            Ok(true) => match dynsec.sync().await {
                Ok(report) => {
                    dynsec.set_ready();
                    tracing::info!(
                        ensured = report.ensured,
                        revoked = report.revoked,
                        "broker accounts reconciled with the database"
                    );
                }
                Err(error) => {
                    tracing::error!(%error, "broker accounts not reconciled with the database")
                }
            },
            Ok(false) => {}
            Err(error) => tracing::error!(
                %error,
                "the hub's broker account could not be given its service role"
            ),
        }
        running.store(false, Ordering::Release);
    });
}

fn route(topic: &str, payload: bytes::Bytes, routes: &Routes) {
    if topic == DYNSEC_RESPONSE_TOPIC {
        if let Some(dynsec) = &routes.dynsec {
            dynsec.on_response(&payload);
        }
        return;
    }
    match WorkerTopic::parse(topic) {
        Some(WorkerTopic::Results(worker)) => routes.remote.result(&worker, &payload),
        Some(WorkerTopic::Status(worker)) => routes.remote.presence(&worker, &payload),
        None => dispatch(topic, payload, &routes.targets),
    }
}
