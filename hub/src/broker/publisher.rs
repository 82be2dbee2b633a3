//! The hub's publishing link into its own broker.

use std::sync::Arc;

use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{Packet, Publish};
use tokio::sync::Mutex;

/// Publishes (retained or not) into the embedded broker. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    tx: Arc<Mutex<LinkTx>>,
    // Kept so the link stays registered; nothing is subscribed on it.
    _rx: Arc<std::sync::Mutex<LinkRx>>,
}

impl Publisher {
    pub(crate) fn new(tx: LinkTx, rx: LinkRx) -> Self {
        Publisher {
            tx: Arc::new(Mutex::new(tx)),
            _rx: Arc::new(std::sync::Mutex::new(rx)),
        }
    }

    /// Publishes `payload` on `topic`; a failure is logged, never fatal.
    pub async fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) {
        let packet = Packet::Publish(
            Publish::new(topic.clone().into_bytes(), payload, retain),
            None,
        );
        let mut tx = self.tx.lock().await;
        if let Err(error) = tx.send(packet).await {
            tracing::warn!(%error, topic, "could not publish into the broker");
        }
    }
}
