//! Publishes the end-to-end frame acknowledgements (`cavs/v1/devices/{device}/acks`) from one
//! task fed by a bounded queue: the router never waits on the broker, and an ack that does not
//! fit is counted (`cavs_acks_dropped_total`) — its device simply sends the frame again and gets
//! a `duplicate` ack for it.

use std::sync::Arc;
use std::time::Duration;

use cavs_models::protocol::{FrameAck, Topic};
use tokio::sync::mpsc;

use super::metrics::Metrics;
use crate::broker::Publisher;

/// Acks waiting to be published, at most.
pub const ACK_QUEUE: usize = 4096;

/// Hands acks to the publishing task. Cheap to clone.
#[derive(Clone)]
pub struct Acks {
    tx: mpsc::Sender<(String, FrameAck)>,
    metrics: Arc<Metrics>,
}

impl Acks {
    /// Starts the publishing task (on the current tokio runtime).
    pub fn start(publisher: Publisher, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(String, FrameAck)>(ACK_QUEUE);
        let published = Arc::clone(&metrics);
        tokio::spawn(async move {
            while let Some((device, ack)) = rx.recv().await {
                publisher
                    .publish(Topic::acks(&device).to_string(), ack.to_vec(), false)
                    .await;
                published.acks_published.inc();
            }
        });
        Acks { tx, metrics }
    }

    /// Queues `ack` for `device`; counted and logged when the queue is full.
    pub fn send(&self, device: &str, ack: FrameAck) {
        if let Err(error) = self.tx.try_send((device.to_owned(), ack)) {
            self.metrics.acks_dropped.inc();
            tracing::warn!(device_id = device, %error, "frame ack not queued; the device will send the frame again");
        }
    }

    /// Waits (at most `within`) until every queued ack was handed to the broker.
    pub async fn flush(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.tx.capacity() < self.tx.max_capacity() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("acks still queued at shutdown; their devices will send again");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
