//! `cavs-hub broker sync` and `broker add-worker`: run by the hub when it is up (over its local
//! admin channel), or by the command itself against the store and the external broker when the
//! hub is stopped.

use std::time::Duration;

use cavs_config::HubSettings;
use cavs_models::protocol::is_valid_id;
use cavs_models::store::Store;
use rumqttc::{ConnectReturnCode, Event, Packet, QoS};

use super::BrokerError;
use super::dynsec::{DYNSEC_RESPONSE_TOPIC, Dynsec};

/// Why a broker command cannot run in this hub.
pub const NO_DYNSEC: &str = "this hub provisions no broker accounts: set broker = \"external\" and broker_provisioning = \"dynsec\"";

/// Reconciles and says what it did.
pub async fn sync(dynsec: &Dynsec) -> Result<String, String> {
    let report = dynsec.sync().await.map_err(|e| e.to_string())?;
    Ok(format!(
        "broker accounts reconciled: {} brought up to date, {} removed",
        report.ensured, report.revoked
    ))
}

/// Creates (or rotates) worker `id`'s account with a new password, shown once.
pub async fn add_worker(dynsec: &Dynsec, id: &str) -> Result<String, String> {
    if !is_valid_id(id) {
        return Err(format!("worker id `{id}`: 1-64 of A-Z a-z 0-9 _ . -"));
    }
    let password = hex::encode(rand::random::<[u8; 24]>());
    dynsec
        .worker(id, &password)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "worker {id}: broker username {} password {password} (shown once; set CAVS_BROKER_USERNAME and CAVS_BROKER_PASSWORD for `cavs-hub worker --id {id}`)",
        cavs_models::protocol::worker_client_id(id)
    ))
}

/// A dynamic-security client of its own, for commands run with the hub stopped: connects under
/// the hub's service account and routes the replies; dropped with the returned task.
pub async fn standalone(
    settings: &HubSettings,
    store: Store,
) -> Result<(Dynsec, tokio::task::JoinHandle<()>), BrokerError> {
    let mut link = super::external::connect(settings)?;
    let dynsec = Dynsec::new(
        link.client.clone(),
        store,
        settings.broker_username.clone().unwrap_or_default(),
    );
    // Wait for the connection and the reply subscription before anything is sent.
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match link.events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack)))
                    if ack.code == ConnectReturnCode::Success =>
                {
                    link.client
                        .subscribe(DYNSEC_RESPONSE_TOPIC, QoS::AtLeastOnce)
                        .await
                        .map_err(|e| BrokerError::External(e.to_string()))?;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(BrokerError::External(error.to_string())),
            }
        }
    })
    .await
    .map_err(|_| BrokerError::External("no answer from the broker within 10 s".into()))?;
    connected?;
    let routes = dynsec.clone();
    let mut events = link.events;
    let task = tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(publish)) = event
                && publish.topic == DYNSEC_RESPONSE_TOPIC
            {
                routes.on_response(&publish.payload);
            }
        }
    });
    Ok((dynsec, task))
}
