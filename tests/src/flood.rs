//! A flood of junk publishes from one camera while another keeps sending real frames: shared
//! by the `flood` test (correctness) and the `flood` bench binary (RSS figure).

use std::time::{Duration, Instant};

use cavs_models::protocol::Topic;
use rumqttc::{Event, Incoming, QoS};

use crate::{TestHub, camera_frame, device_client, faces_dir, signed_frame};

/// What a flood run saw.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    /// Junk publishes the broker acknowledged.
    pub junk_sent: u64,
    /// Their size each, in bytes.
    pub junk_bytes: usize,
    /// Real frames sent by the other camera.
    pub good_sent: u64,
    /// Frames the hub committed.
    pub committed: u64,
    /// Junk publishes the hub read and dropped (`malformed`, `oversize` or `bridge_full`); the
    /// rest were overwritten in the broker's bounded topic log before the hub read them.
    pub junk_dropped: u64,
    /// Peak resident memory of this process while flooding, KiB.
    pub peak_rss_kib: u64,
    /// Resident memory before the flood, KiB.
    pub start_rss_kib: u64,
}

/// Resident memory of this process, KiB (0 where `/proc` is missing).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Floods `hub` for `duration` from `cam-junk` (publishes of `junk_bytes` bytes, QoS 1, up to
/// four in flight, back to back) while `cam-good` sends one real frame a second; both must be
/// registered with `secret` (`cam-good` in `room-good`, `cam-junk` in `room-junk`). Returns
/// once the good frames are committed, or 30 s after the flood.
pub async fn flood(
    hub: &TestHub,
    secret: &str,
    duration: Duration,
    junk_bytes: usize,
) -> anyhow::Result<FloodReport> {
    let start_rss_kib = rss_kib();
    let photo = faces_dir().join("obama/obama-480p.jpg");
    let jpeg = camera_frame(&photo, 640, 480)?;
    let (junk, mut junk_loop) = device_client(hub, "cam-junk", secret);
    let (good, mut good_loop) = device_client(hub, "cam-good", secret);
    let junk_topic = Topic::frames("room-junk", "cam-junk").to_string();
    let good_topic = Topic::frames("room-good", "cam-good").to_string();
    let metrics = std::sync::Arc::clone(&hub.hub.pipeline.parts().metrics);
    let committed_before = metrics.frames_committed.get();

    let junk_payload: Vec<u8> = (0..junk_bytes).map(|i| (i * 7919 % 251) as u8).collect();
    let flooding = tokio::spawn(async move {
        let until = Instant::now() + duration;
        let (mut acked, mut pending) = (0u64, 0u32);
        while Instant::now() < until {
            while pending < 4
                && junk
                    .try_publish(&junk_topic, QoS::AtLeastOnce, false, junk_payload.clone())
                    .is_ok()
            {
                pending += 1;
            }
            match tokio::time::timeout(Duration::from_secs(5), junk_loop.poll()).await {
                Ok(Ok(Event::Incoming(Incoming::PubAck(_)))) => {
                    acked += 1;
                    pending = pending.saturating_sub(1);
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => pending = 0,
            }
        }
        acked
    });
    let secret = secret.to_owned();
    let sending = tokio::spawn(async move {
        let until = Instant::now() + duration;
        let mut next = Instant::now();
        let mut sent = 0u64;
        while Instant::now() < until {
            if Instant::now() >= next {
                let (_, envelope) =
                    signed_frame("cam-good", "room-good", &secret, sent + 1, &jpeg)?;
                if good
                    .try_publish(&good_topic, QoS::AtLeastOnce, false, envelope)
                    .is_ok()
                {
                    sent += 1;
                }
                next += Duration::from_secs(1);
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), good_loop.poll()).await;
        }
        anyhow::Ok((sent, good_loop))
    });
    let mut peak_rss_kib = start_rss_kib;
    while !flooding.is_finished() || !sending.is_finished() {
        peak_rss_kib = peak_rss_kib.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let junk_sent = flooding.await?;
    let (good_sent, mut good_loop) = sending.await??;
    // Let the last good frames through (the good loop is polled to deliver their PUBACKs).
    let until = Instant::now() + Duration::from_secs(30);
    while metrics.frames_committed.get() - committed_before < good_sent && Instant::now() < until {
        let _ = tokio::time::timeout(Duration::from_millis(100), good_loop.poll()).await;
        peak_rss_kib = peak_rss_kib.max(rss_kib());
    }
    Ok(FloodReport {
        junk_sent,
        junk_bytes,
        good_sent,
        committed: metrics.frames_committed.get() - committed_before,
        junk_dropped: ["malformed", "oversize", "bridge_full"]
            .iter()
            .map(|reason| metrics.dropped_count(reason))
            .sum(),
        peak_rss_kib,
        start_rss_kib,
    })
}
