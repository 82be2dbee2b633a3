//! Small MQTT client helpers for the broker tests: wait for the CONNACK, collect what a
//! client receives for a while, keep an event loop polled. Every loop is bounded in time.

use std::time::{Duration, Instant};

use rumqttc::{ConnectReturnCode, Event, EventLoop, Packet, SubscribeReasonCode};

/// Polls until the CONNACK (true when accepted) or an error (false), at most 10 s.
pub async fn connack(event_loop: &mut EventLoop) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(10), event_loop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                return ack.code == ConnectReturnCode::Success;
            }
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return false,
        }
    }
    false
}

/// What a client received in a window.
#[derive(Debug, Default)]
pub struct Received {
    /// (topic, payload) of every publish.
    pub publishes: Vec<(String, Vec<u8>)>,
    /// Return codes of every SUBACK.
    pub subacks: Vec<Vec<SubscribeReasonCode>>,
    /// True when the connection failed at least once (closed by the broker).
    pub disconnected: bool,
}

/// Everything a client receives for `window`. After a connection error the loop is not
/// polled again (rumqttc would reconnect).
pub async fn collect(event_loop: &mut EventLoop, window: Duration) -> Received {
    let mut received = Received::default();
    let until = Instant::now() + window;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, event_loop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => received
                .publishes
                .push((p.topic.clone(), p.payload.to_vec())),
            Ok(Ok(Event::Incoming(Packet::SubAck(ack)))) => received.subacks.push(ack.return_codes),
            Ok(Ok(_)) => {}
            Ok(Err(_)) => {
                received.disconnected = true;
                break;
            }
            Err(_) => break,
        }
    }
    received
}

/// True when every code granted the subscription.
pub fn granted(codes: &[SubscribeReasonCode]) -> bool {
    codes
        .iter()
        .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
}

/// Keeps `event_loop` polled in the background (reconnecting after errors).
pub fn spawn_poll(mut event_loop: EventLoop) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if event_loop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
}
