//! Admission: is a publish on a frame topic a frame the hub may record? Checks the envelope, the
//! device's registration, its signature, the image limits and the capture time, given the clock
//! reading passed in.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use cavs_models::protocol::{
    CONTENT_TYPE_JPEG, ProtocolError, SigningKey, decode_frame, verify_header,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DropReason;

/// Oldest capture time accepted beyond the clock skew: frames an agent spooled during an outage
/// arrive late but still count for the time they were captured.
pub const MAX_REPLAY_AGE: Duration = Duration::from_secs(24 * 3600);

/// What the router trusts about a registered device.
#[derive(Debug, Clone)]
pub struct KnownDevice {
    /// Registered classroom.
    pub classroom_id: String,
    /// Frame-signing key, if credentials were issued.
    pub signing_key: Option<SigningKey>,
    /// Whether it may send frames.
    pub active: bool,
}

/// Limits admission enforces.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// Largest accepted distance between `captured_at` and the hub's clock.
    pub clock_skew: Duration,
    /// Largest image, in bytes.
    pub max_image_bytes: usize,
    /// Largest image, in pixels (from the header's width × height).
    pub max_pixels: u64,
}

/// A frame that passed admission.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// Frame id.
    pub frame_id: Uuid,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// Where the image lies in the payload.
    pub image: Range<usize>,
}

/// Why a frame was refused, and (when the header could be read) which frame it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The drop reason.
    pub reason: DropReason,
    /// A sentence for the log.
    pub detail: String,
    /// The header's frame id, if the header could be read.
    pub frame_id: Option<Uuid>,
}

/// The registered devices and the limits: decides on each frame.
#[derive(Debug, Clone)]
pub struct Admission {
    devices: HashMap<String, KnownDevice>,
    limits: AdmissionLimits,
}

impl Admission {
    /// Admission with no device known yet.
    pub fn new(limits: AdmissionLimits) -> Self {
        Admission {
            devices: HashMap::new(),
            limits,
        }
    }

    /// Adds or replaces (`Some`) or forgets (`None`) one device.
    pub fn set_device(&mut self, device_id: String, known: Option<KnownDevice>) {
        match known {
            Some(known) => {
                self.devices.insert(device_id, known);
            }
            None => {
                self.devices.remove(&device_id);
            }
        }
    }

    /// Replaces every known device.
    pub fn set_devices(&mut self, devices: HashMap<String, KnownDevice>) {
        self.devices = devices;
    }

    /// Checks the envelope `payload` published on the frame topic of `device` in `classroom`,
    /// at hub time `now`.
    pub fn admit(
        &self,
        classroom: &str,
        device: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Admitted, Refusal> {
        let (header, image) = decode_frame(payload).map_err(|e| Refusal {
            reason: match e {
                ProtocolError::HeaderTooLarge(_) => DropReason::Oversize,
                _ => DropReason::Malformed,
            },
            detail: e.to_string(),
            frame_id: None,
        })?;
        let frame_id = header.frame_id;
        let refuse = |reason: DropReason, detail: String| Refusal {
            reason,
            detail,
            frame_id: Some(frame_id),
        };
        if header.device_id != device || header.classroom_id != classroom {
            return Err(refuse(
                DropReason::TopicMismatch,
                format!(
                    "header says {}/{}, topic {classroom}/{device}",
                    header.classroom_id, header.device_id
                ),
            ));
        }
        let known = self
            .devices
            .get(device)
            .ok_or_else(|| refuse(DropReason::UnknownDevice, "not registered".into()))?;
        if !known.active {
            return Err(refuse(
                DropReason::DeviceDisabled,
                "device is not active".into(),
            ));
        }
        if known.classroom_id != header.classroom_id {
            return Err(refuse(
                DropReason::WrongClassroom,
                format!("registered in {}", known.classroom_id),
            ));
        }
        let key = known
            .signing_key
            .as_ref()
            .ok_or_else(|| refuse(DropReason::UnknownDevice, "no credentials issued".into()))?;
        verify_header(&header, image, key)
            .map_err(|e| refuse(DropReason::BadSignature, e.to_string()))?;
        if header.content_type != CONTENT_TYPE_JPEG {
            return Err(refuse(
                DropReason::UnsupportedType,
                header.content_type.clone(),
            ));
        }
        let pixels = u64::from(header.width) * u64::from(header.height);
        if image.len() > self.limits.max_image_bytes || pixels > self.limits.max_pixels {
            return Err(refuse(
                DropReason::Oversize,
                format!("{} bytes, {}x{}", image.len(), header.width, header.height),
            ));
        }
        let captured_at = header
            .captured_at()
            .map_err(|e| refuse(DropReason::Malformed, e.to_string()))?;
        // Ahead of the hub's clock by more than the allowed skew, or older than a spooled frame
        // can plausibly be (an agent replays its spool after an outage: signed at capture).
        let age = now - captured_at;
        let too_new = (-age)
            .to_std()
            .is_ok_and(|ahead| ahead > self.limits.clock_skew);
        let too_old = age
            .to_std()
            .is_ok_and(|old| old > self.limits.clock_skew + MAX_REPLAY_AGE);
        if too_new || too_old {
            return Err(refuse(
                DropReason::ClockSkew,
                format!(
                    "captured_at {} is {}s from the hub clock",
                    header.captured_at,
                    age.abs().num_seconds()
                ),
            ));
        }
        let start = payload.len() - image.len();
        Ok(Admitted {
            frame_id,
            captured_at,
            image: start..payload.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavs_models::protocol::{FrameHeader, encode_frame, sign_header};

    const SECRET: &str = "device-secret-of-cam-1";

    fn admission() -> Admission {
        let mut admission = Admission::new(AdmissionLimits {
            clock_skew: Duration::from_secs(300),
            max_image_bytes: 1000,
            max_pixels: 640 * 480,
        });
        admission.set_device(
            "cam-1".into(),
            Some(KnownDevice {
                classroom_id: "room-1".into(),
                signing_key: Some(SigningKey::derive(SECRET)),
                active: true,
            }),
        );
        admission
    }

    fn envelope(edit: impl FnOnce(&mut FrameHeader), image: &[u8], secret: &str) -> Vec<u8> {
        let mut header = FrameHeader::new_jpeg("cam-1", "room-1", 1, 640, 480);
        edit(&mut header);
        sign_header(&mut header, image, &SigningKey::derive(secret));
        encode_frame(&header, image)
    }

    fn refused(admission: &Admission, topic: (&str, &str), payload: &[u8]) -> DropReason {
        admission
            .admit(topic.0, topic.1, payload, Utc::now())
            .expect_err("refused")
            .reason
    }

    const TOPIC: (&str, &str) = ("room-1", "cam-1");

    #[test]
    fn a_signed_frame_of_a_registered_device_is_admitted() {
        let payload = envelope(|_| {}, b"jpeg-bytes", SECRET);
        let admitted = admission()
            .admit("room-1", "cam-1", &payload, Utc::now())
            .expect("admitted");
        assert_eq!(&payload[admitted.image.clone()], b"jpeg-bytes");
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let a = admission();
        assert_eq!(refused(&a, TOPIC, b"\x00\x00"), DropReason::Malformed);
        let ok = envelope(|_| {}, b"jpeg", SECRET);
        assert_eq!(
            refused(&a, ("room-2", "cam-1"), &ok),
            DropReason::TopicMismatch
        );
        let other = envelope(|h| h.device_id = "cam-9".into(), b"jpeg", SECRET);
        assert_eq!(
            refused(&a, ("room-1", "cam-9"), &other),
            DropReason::UnknownDevice
        );
        assert_eq!(
            refused(&a, TOPIC, &envelope(|_| {}, b"jpeg", "wrong-secret")),
            DropReason::BadSignature
        );
        let png = envelope(|h| h.content_type = "image/png".into(), b"png", SECRET);
        assert_eq!(refused(&a, TOPIC, &png), DropReason::UnsupportedType);
        let big = envelope(|_| {}, &[0u8; 1001], SECRET);
        assert_eq!(refused(&a, TOPIC, &big), DropReason::Oversize);
        let wide = envelope(|h| h.width = 4000, b"jpeg", SECRET);
        assert_eq!(refused(&a, TOPIC, &wide), DropReason::Oversize);
        let ahead = envelope(
            |h| h.captured_at = (Utc::now() + chrono::Duration::minutes(10)).to_rfc3339(),
            b"jpeg",
            SECRET,
        );
        assert_eq!(refused(&a, TOPIC, &ahead), DropReason::ClockSkew);
        let ancient = envelope(
            |h| h.captured_at = (Utc::now() - chrono::Duration::hours(25)).to_rfc3339(),
            b"jpeg",
            SECRET,
        );
        assert_eq!(refused(&a, TOPIC, &ancient), DropReason::ClockSkew);
        let spooled = envelope(
            |h| h.captured_at = (Utc::now() - chrono::Duration::hours(20)).to_rfc3339(),
            b"jpeg",
            SECRET,
        );
        assert!(
            a.admit("room-1", "cam-1", &spooled, Utc::now()).is_ok(),
            "a frame spooled for hours still counts"
        );
    }

    #[test]
    fn registration_changes_decide_later_frames() {
        let mut a = admission();
        let ok = envelope(|_| {}, b"jpeg", SECRET);
        let mut known = KnownDevice {
            classroom_id: "room-1".into(),
            signing_key: Some(SigningKey::derive(SECRET)),
            active: false,
        };
        a.set_device("cam-1".into(), Some(known.clone()));
        assert_eq!(refused(&a, TOPIC, &ok), DropReason::DeviceDisabled);
        known.active = true;
        known.classroom_id = "room-2".into();
        a.set_device("cam-1".into(), Some(known.clone()));
        assert_eq!(refused(&a, TOPIC, &ok), DropReason::WrongClassroom);
        known.classroom_id = "room-1".into();
        known.signing_key = None;
        a.set_device("cam-1".into(), Some(known));
        assert_eq!(refused(&a, TOPIC, &ok), DropReason::UnknownDevice);
        a.set_device("cam-1".into(), None);
        let refusal = a
            .admit("room-1", "cam-1", &ok, Utc::now())
            .expect_err("gone");
        assert_eq!(refusal.reason, DropReason::UnknownDevice);
        assert!(refusal.frame_id.is_some(), "the ack can name the frame");
    }
}
