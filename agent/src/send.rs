//! `cavs-agent send IMAGE...`: publish the given images once, wait for the broker's
//! acknowledgements and exit (for installers checking a camera's credentials, and for tests).
//!
//! It connects with the device's credentials but without a last will and without touching the
//! retained status, so it does not disturb what the hub shows for the device.

use std::path::PathBuf;
use std::time::Duration;

use cavs_config::{AgentSettings, ExposeSecret};
use rumqttc::{Event, Incoming, Outgoing, QoS};
use tokio::time::{Instant, timeout_at};

use crate::link::{Connection, Tag, Topics, mqtt_options};
use crate::pipeline::{Signer, encode_jpeg};
use crate::source::load_image;
use crate::{AgentError, MAX_FRAME_BYTES};

/// Publishes each image (fitted to the configured resolution, JPEG at the configured quality,
/// signed) as one frame, QoS 1, and returns once the broker acknowledged all of them, or fails
/// after `timeout`.
pub async fn send_images(
    settings: &AgentSettings,
    images: &[PathBuf],
    timeout: Duration,
) -> Result<usize, AgentError> {
    let secret = settings
        .device_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default();
    let signer = Signer::new(&settings.device_id, &settings.classroom_id, &secret);
    // Encode everything first: a bad file fails before anything is published.
    let base_seq = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let mut frames = Vec::with_capacity(images.len());
    for (i, path) in images.iter().enumerate() {
        let image = load_image(path)?;
        let jpeg = encode_jpeg(&image, settings.resolution, settings.jpeg_quality)?;
        let (header, bytes) = signer.envelope(&jpeg, base_seq + i as u64);
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(AgentError::FrameTooLarge(bytes.len()));
        }
        tracing::info!(file = %path.display(), frame_id = %header.frame_id, width = header.width, height = header.height, bytes = bytes.len(), "frame ready");
        frames.push(bytes);
    }

    let topics = Topics::new(settings);
    let mut conn = Connection::start(mqtt_options(settings, &topics, false)?);
    let deadline = Instant::now() + timeout;
    let mut acked = 0usize;
    let total = frames.len();
    let mut frames = frames.into_iter().enumerate();
    loop {
        let event = match timeout_at(deadline, conn.next_event()).await {
            Err(_) => {
                return Err(AgentError::Broker(format!(
                    "timed out after {timeout:?} with {acked} of {total} frames acknowledged"
                )));
            }
            Ok(None) => return Err(AgentError::Broker("connection closed".into())),
            Ok(Some(Err(e))) => return Err(AgentError::Broker(e.to_string())),
            Ok(Some(Ok(event))) => event,
        };
        match event {
            Event::Incoming(Incoming::ConnAck(_)) => conn.connected = true,
            Event::Outgoing(Outgoing::Publish(pkid)) => conn.on_sent(pkid),
            Event::Incoming(Incoming::PubAck(ack)) if conn.on_acked(ack.pkid).is_some() => {
                acked += 1;
            }
            _ => {}
        }
        if conn.connected {
            while conn.frames_pending() < 8 {
                let Some((i, bytes)) = frames.next() else {
                    break;
                };
                if !conn.publish(
                    &topics.frames,
                    QoS::AtLeastOnce,
                    false,
                    bytes,
                    Tag::Frame(i as u64),
                ) {
                    return Err(AgentError::Broker("request queue full".into()));
                }
            }
        }
        if acked == total {
            break;
        }
    }
    let _ = conn.client.try_disconnect();
    while let Ok(Some(Ok(event))) = timeout_at(deadline, conn.next_event()).await {
        if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
            break;
        }
    }
    Ok(acked)
}
