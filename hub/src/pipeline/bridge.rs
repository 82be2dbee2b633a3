//! BrokerBridge: reads device publishes from the broker's local link on its own thread and
//! turns them into actor messages. It only parses the topic and posts to mailboxes, so it never
//! waits on a slow actor (the FrameRouter does the shedding).

use actix::Addr;
use cavs_models::protocol::{FRAMES_FILTER, HEARTBEAT_FILTER, STATUS_FILTER, Topic};
use rumqttd::Notification;
use rumqttd::local::{LinkRx, LinkTx};

use super::health::{DeviceHealth, HeartbeatReport, StatusReport};
use super::router::{FrameRouter, IncomingFrame};

/// Subscribes the link to frames, status and heartbeats and starts the bridge thread.
pub fn start(
    link: (LinkTx, LinkRx),
    router: Addr<FrameRouter>,
    health: Addr<DeviceHealth>,
) -> std::io::Result<()> {
    let (mut tx, mut rx) = link;
    for filter in [FRAMES_FILTER, STATUS_FILTER, HEARTBEAT_FILTER] {
        if let Err(error) = tx.subscribe(filter) {
            tracing::error!(%error, filter, "bridge could not subscribe");
        }
    }
    std::thread::Builder::new()
        .name("mqtt-bridge".into())
        .spawn(move || {
            // Keep the sending half alive: dropping it would close the link.
            let _tx = tx;
            loop {
                match rx.recv() {
                    Ok(Some(Notification::Forward(forward))) => {
                        let topic = String::from_utf8_lossy(&forward.publish.topic).into_owned();
                        dispatch(&topic, forward.publish.payload, &router, &health);
                    }
                    Ok(Some(Notification::Unschedule)) => {
                        // The router paused us because our buffer filled: ask for more.
                        if let Err(error) = rx.ready() {
                            tracing::error!(%error, "bridge link lost");
                            break;
                        }
                    }
                    Ok(Some(_)) | Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, "bridge link closed");
                        break;
                    }
                }
            }
        })?;
    Ok(())
}

fn dispatch(
    topic: &str,
    payload: bytes::Bytes,
    router: &Addr<FrameRouter>,
    health: &Addr<DeviceHealth>,
) {
    match Topic::parse(topic) {
        Ok(Topic::Frames { classroom, device }) => router.do_send(IncomingFrame {
            classroom,
            device,
            payload,
        }),
        Ok(Topic::Status { device }) => {
            // An empty retained payload clears the topic; nothing to track.
            if !payload.is_empty() {
                health.do_send(StatusReport {
                    device_id: device,
                    payload,
                });
            }
        }
        Ok(Topic::Heartbeat { device }) => health.do_send(HeartbeatReport {
            device_id: device,
            payload,
        }),
        Ok(_) => {}
        Err(error) => tracing::warn!(topic, %error, "publish on an invalid topic ignored"),
    }
}
