//! The binary frame envelope: `u32 big-endian header length | header JSON | image bytes`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ProtocolError;

/// Protocol version carried in every frame header.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest header JSON accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The only image type v1 frames carry.
pub const CONTENT_TYPE_JPEG: &str = "image/jpeg";

/// The JSON header of a frame envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameHeader {
    /// Protocol version, [`PROTOCOL_VERSION`].
    pub v: u8,
    /// Unique frame id (UUID v7: time-ordered); the hub ignores repeats.
    pub frame_id: Uuid,
    /// The sending device (must match the topic and the MQTT username).
    pub device_id: String,
    /// The classroom (must match the topic and the device's registered classroom).
    pub classroom_id: String,
    /// Capture time, RFC 3339, exactly as signed.
    pub captured_at: String,
    /// The device's frame counter.
    pub seq: u64,
    /// MIME type of the image bytes ([`CONTENT_TYPE_JPEG`]).
    pub content_type: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Lowercase hex HMAC-SHA256 signature (see `sign_header`).
    #[serde(default)]
    pub sig: String,
}

impl FrameHeader {
    /// A new unsigned header for a JPEG frame captured now.
    pub fn new_jpeg(
        device_id: impl Into<String>,
        classroom_id: impl Into<String>,
        seq: u64,
        width: u32,
        height: u32,
    ) -> Self {
        FrameHeader {
            v: PROTOCOL_VERSION,
            frame_id: Uuid::now_v7(),
            device_id: device_id.into(),
            classroom_id: classroom_id.into(),
            captured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            seq,
            content_type: CONTENT_TYPE_JPEG.to_owned(),
            width,
            height,
            sig: String::new(),
        }
    }

    /// The capture time parsed from `captured_at`.
    pub fn captured_at(&self) -> Result<chrono::DateTime<chrono::Utc>, ProtocolError> {
        chrono::DateTime::parse_from_rfc3339(&self.captured_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| {
                ProtocolError::MalformedHeader(format!(
                    "captured_at `{}` is not RFC 3339: {e}",
                    self.captured_at
                ))
            })
    }
}

/// Builds the envelope bytes for `header` and `image`.
pub fn encode_frame(header: &FrameHeader, image: &[u8]) -> Vec<u8> {
    // Serialising a struct of plain fields cannot fail.
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(4 + json.len() + image.len());
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(image);
    out
}

/// Splits an envelope into its header and image bytes, checking lengths and the version.
/// The signature is checked separately (`verify_header`), with the device's key.
pub fn decode_frame(bytes: &[u8]) -> Result<(FrameHeader, &[u8]), ProtocolError> {
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<4>() else {
        return Err(ProtocolError::Truncated(format!(
            "{} bytes, need at least 4",
            bytes.len()
        )));
    };
    let header_len = u32::from_be_bytes(*len_bytes) as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(ProtocolError::HeaderTooLarge(header_len));
    }
    if rest.len() < header_len {
        return Err(ProtocolError::Truncated(format!(
            "header length {header_len} but only {} bytes follow",
            rest.len()
        )));
    }
    let (json, image) = rest.split_at(header_len);
    let header: FrameHeader =
        serde_json::from_slice(json).map_err(|e| ProtocolError::MalformedHeader(e.to_string()))?;
    if header.v != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion(header.v));
    }
    if image.is_empty() {
        return Err(ProtocolError::EmptyImage);
    }
    Ok((header, image))
}

#[cfg(test)]
mod tests {
    use super::super::{SigningKey, sign_header, verify_header};
    use super::*;

    fn signed(image: &[u8], secret: &str) -> FrameHeader {
        let mut header = FrameHeader::new_jpeg("cam-1", "room-1", 7, 640, 480);
        sign_header(&mut header, image, &SigningKey::derive(secret));
        header
    }

    #[test]
    fn envelope_round_trips_and_verifies() {
        let image = b"\xff\xd8 not really a jpeg \xff\xd9";
        let header = signed(image, "s3cret");
        let bytes = encode_frame(&header, image);
        let (decoded, decoded_image) = decode_frame(&bytes).expect("decodes");
        assert_eq!(decoded, header);
        assert_eq!(decoded_image, image);
        assert_eq!(decoded.sig.len(), 64);
        verify_header(&decoded, decoded_image, &SigningKey::derive("s3cret")).expect("valid");
        assert!(decoded.captured_at().is_ok());
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let image = b"image-bytes";
        let header = signed(image, "s3cret");
        let key = SigningKey::derive("s3cret");
        assert_eq!(
            verify_header(&header, image, &SigningKey::derive("other")),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            verify_header(&header, b"image-bytez", &key),
            Err(ProtocolError::BadSignature)
        );
        let mut moved = header.clone();
        moved.classroom_id = "room-2".into();
        assert_eq!(
            verify_header(&moved, image, &key),
            Err(ProtocolError::BadSignature)
        );
        let mut garbage = header;
        garbage.sig = "zz".into();
        assert_eq!(
            verify_header(&garbage, image, &key),
            Err(ProtocolError::BadSignature)
        );
    }

    #[test]
    fn known_signature_vector() {
        // Fixed vector for third-party implementers (also printed in docs/mqtt.md).
        let header = FrameHeader {
            v: 1,
            frame_id: Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").expect("uuid"),
            device_id: "cam-101".into(),
            classroom_id: "room-101".into(),
            captured_at: "2026-01-05T09:00:00.000Z".into(),
            seq: 1,
            content_type: CONTENT_TYPE_JPEG.into(),
            width: 640,
            height: 480,
            sig: String::new(),
        };
        // Computed independently with Python's hmac/hashlib (see docs/mqtt.md).
        let key = SigningKey::derive("device-secret");
        assert_eq!(
            key.to_hex(),
            "d1f74398205e768422b26f6c04dad10756dc0640d9e1b000fb4ce27270594b94"
        );
        let mut signed = header.clone();
        sign_header(&mut signed, b"JPEG", &key);
        assert_eq!(
            signed.sig,
            "0196ca2e45e289778754b8ffccd9aab96ff927ca0840090936dba1f92312a525"
        );
        assert_eq!(SigningKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(SigningKey::from_hex("abc"), None);
    }

    #[test]
    fn malformed_envelopes_are_typed_errors() {
        assert!(matches!(
            decode_frame(b""),
            Err(ProtocolError::Truncated(_))
        ));
        assert!(matches!(
            decode_frame(&[0, 0]),
            Err(ProtocolError::Truncated(_))
        ));
        assert!(matches!(
            decode_frame(&[0, 0, 0, 50, b'{']),
            Err(ProtocolError::Truncated(_))
        ));
        assert!(matches!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff]),
            Err(ProtocolError::HeaderTooLarge(_))
        ));
        let mut bad_json = vec![0, 0, 0, 3];
        bad_json.extend_from_slice(b"{x}img");
        assert!(matches!(
            decode_frame(&bad_json),
            Err(ProtocolError::MalformedHeader(_))
        ));
        let header = FrameHeader::new_jpeg("d", "r", 0, 1, 1);
        assert_eq!(
            decode_frame(&encode_frame(&header, b"")),
            Err(ProtocolError::EmptyImage)
        );
        let mut v2 = header;
        v2.v = 2;
        assert_eq!(
            decode_frame(&encode_frame(&v2, b"x")),
            Err(ProtocolError::UnsupportedVersion(2))
        );
    }
}
