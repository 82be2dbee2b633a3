//! The hub's publishing side: a local link into the embedded broker, or the hub's client of an
//! external one.

use std::sync::Arc;

use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{Packet, Publish};
use tokio::sync::Mutex;

/// Where publishes go.
#[derive(Clone)]
enum Sink {
    /// The embedded broker's local link.
    Embedded {
        tx: Arc<Mutex<LinkTx>>,
        // Kept so the link stays registered; nothing is subscribed on it.
        _rx: Arc<std::sync::Mutex<LinkRx>>,
    },
    /// The hub's MQTT client of an external broker (QoS 1).
    External(rumqttc::AsyncClient),
}

/// Publishes (retained or not) into the hub's broker. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    sink: Sink,
}

impl Publisher {
    pub(crate) fn new(tx: LinkTx, rx: LinkRx) -> Self {
        Publisher {
            sink: Sink::Embedded {
                tx: Arc::new(Mutex::new(tx)),
                _rx: Arc::new(std::sync::Mutex::new(rx)),
            },
        }
    }

    /// A publisher through the hub's client of an external broker.
    pub(crate) fn external(client: rumqttc::AsyncClient) -> Self {
        Publisher {
            sink: Sink::External(client),
        }
    }

    /// Publishes `payload` on `topic`; a failure is logged, never fatal.
    pub async fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) {
        match &self.sink {
            Sink::Embedded { tx, .. } => {
                let packet = Packet::Publish(
                    Publish::new(topic.clone().into_bytes(), payload, retain),
                    None,
                );
                let mut tx = tx.lock().await;
                if let Err(error) = tx.send(packet).await {
                    tracing::warn!(%error, topic, "could not publish into the broker");
                }
            }
            Sink::External(client) => {
                if let Err(error) = client
                    .publish(&topic, rumqttc::QoS::AtLeastOnce, retain, payload)
                    .await
                {
                    tracing::warn!(%error, topic, "could not publish to the external broker");
                }
            }
        }
    }
}
