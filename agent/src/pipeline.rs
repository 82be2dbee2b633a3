//! One capture step: source → fit to the resolution → change gate → JPEG → signed envelope →
//! spool.

use std::sync::{Arc, Mutex};

use cavs_config::Resolution;
use cavs_models::protocol::{FrameHeader, SigningKey, encode_frame, sign_header};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ExtendedColorType};

use crate::gate::{ChangeGate, GateDecision};
use crate::live::Live;
use crate::source::FrameSource;
use crate::spool::Spool;
use crate::{AgentError, MAX_FRAME_BYTES};

/// A JPEG ready to be signed.
#[derive(Debug, Clone)]
pub struct Jpeg {
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Scales `image` down to fit within `max` (keeping its aspect ratio; never enlarging it) and
/// encodes it as JPEG at `quality` (1..=100).
pub fn encode_jpeg(image: &DynamicImage, max: Resolution, quality: u8) -> Result<Jpeg, AgentError> {
    let fitted;
    let image = if image.width() > max.width || image.height() > max.height {
        // `thumbnail` averages with integer arithmetic: much lighter than a filtered resize
        // (no float copy of the image) and as good for shrinking.
        fitted = image.thumbnail(max.width, max.height);
        &fitted
    } else {
        image
    };
    let converted;
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => {
            converted = other.to_rgb8();
            &converted
        }
    };
    let mut bytes = Vec::with_capacity(64 * 1024);
    JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100)).encode(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        ExtendedColorType::Rgb8,
    )?;
    Ok(Jpeg {
        bytes,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Signs frames for one device.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    device_id: String,
    classroom_id: String,
}

impl Signer {
    /// A signer with the key derived from `device_secret`.
    pub fn new(device_id: &str, classroom_id: &str, device_secret: &str) -> Self {
        Signer {
            key: SigningKey::derive(device_secret),
            device_id: device_id.to_owned(),
            classroom_id: classroom_id.to_owned(),
        }
    }

    /// The signed envelope (`u32 length | header JSON | JPEG`) of frame `seq`.
    pub fn envelope(&self, jpeg: &Jpeg, seq: u64) -> (FrameHeader, Vec<u8>) {
        let mut header = FrameHeader::new_jpeg(
            self.device_id.clone(),
            self.classroom_id.clone(),
            seq,
            jpeg.width,
            jpeg.height,
        );
        sign_header(&mut header, &jpeg.bytes, &self.key);
        let bytes = encode_frame(&header, &jpeg.bytes);
        (header, bytes)
    }
}

/// What one capture step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A frame was stored in the spool under this sequence number.
    Stored {
        /// Spool sequence number (also the frame's `seq`).
        seq: u64,
        /// Envelope size in bytes.
        bytes: usize,
    },
    /// The change gate skipped a near-identical frame.
    Skipped(f32),
    /// The source has no more images.
    Exhausted,
}

/// The capture side of the agent: owns the source and the gate.
pub struct Capture {
    source: Box<dyn FrameSource>,
    gate: ChangeGate,
    signer: Signer,
}

impl Capture {
    /// A capture pipeline over `source`.
    pub fn new(source: Box<dyn FrameSource>, change_threshold: f32, signer: Signer) -> Self {
        Capture {
            source,
            gate: ChangeGate::new(change_threshold),
            signer,
        }
    }

    /// The source's description.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// Captures one image with the settings in `live` and stores its signed envelope in `spool`.
    /// Blocking (decoding, encoding, disk): call it off the async runtime.
    pub fn step(&mut self, live: &Live, spool: &Arc<Mutex<Spool>>) -> Result<Step, AgentError> {
        let Some(image) = self.source.next_image(live.resolution)? else {
            return Ok(Step::Exhausted);
        };
        if let GateDecision::Skip(diff) = self.gate.check(&image) {
            return Ok(Step::Skipped(diff));
        }
        let jpeg = encode_jpeg(&image, live.resolution, live.jpeg_quality)?;
        let mut spool = spool.lock().unwrap_or_else(|e| e.into_inner());
        let seq = spool.next_seq()?;
        let (_, bytes) = self.signer.envelope(&jpeg, seq);
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(AgentError::FrameTooLarge(bytes.len()));
        }
        spool.store(seq, &bytes)?;
        Ok(Step::Stored {
            seq,
            bytes: bytes.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavs_models::protocol::{decode_frame, verify_header};

    #[test]
    fn step_spools_signed_frames_and_gate_skips_repeats() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let photo = tmp.path().join("still.png");
        image::RgbImage::from_fn(80, 60, |x, y| image::Rgb([x as u8 * 3, y as u8 * 4, 90]))
            .save(&photo)
            .expect("write png");
        let spool = Arc::new(Mutex::new(
            Spool::open(tmp.path().join("spool"), 1 << 20).expect("spool"),
        ));
        let live = Live {
            enabled: true,
            interval: std::time::Duration::from_millis(100),
            resolution: Resolution {
                width: 40,
                height: 40,
            },
            jpeg_quality: 75,
        };
        let source =
            crate::source::open(&format!("file:{}", photo.display()), false).expect("open");
        let mut capture = Capture::new(source, 0.02, Signer::new("cam-1", "room-1", "secret"));
        let Step::Stored { seq, .. } = capture.step(&live, &spool).expect("first") else {
            panic!("the first frame must be stored");
        };
        assert!(matches!(
            capture.step(&live, &spool).expect("second"),
            Step::Skipped(_)
        ));
        let stored = spool.lock().expect("lock").read(seq).expect("read");
        let (header, image) = decode_frame(&stored).expect("envelope");
        assert_eq!((header.seq, header.width, header.height), (seq, 40, 30));
        verify_header(&header, image, &SigningKey::derive("secret")).expect("signature");
    }

    #[test]
    fn fits_within_resolution_and_signs() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(800, 400));
        let max = Resolution {
            width: 320,
            height: 240,
        };
        let jpeg = encode_jpeg(&img, max, 70).expect("encode");
        assert_eq!((jpeg.width, jpeg.height), (320, 160));
        assert_eq!(&jpeg.bytes[..2], &[0xff, 0xd8]);
        let small = encode_jpeg(
            &DynamicImage::ImageRgb8(image::RgbImage::new(100, 80)),
            max,
            70,
        )
        .expect("encode");
        assert_eq!((small.width, small.height), (100, 80));

        let signer = Signer::new("cam-1", "room-1", "secret");
        let (header, bytes) = signer.envelope(&jpeg, 42);
        let (decoded, image) = decode_frame(&bytes).expect("decode");
        assert_eq!(decoded, header);
        assert_eq!(decoded.seq, 42);
        assert_eq!((decoded.width, decoded.height), (320, 160));
        verify_header(&decoded, image, &SigningKey::derive("secret")).expect("signature");
    }
}
