//! Frame signatures: HMAC-SHA256 over a canonical form of the header and the image's SHA-256.
//!
//! The key is not the device secret itself but a signing key derived from it
//! (`HMAC-SHA256(key = secret, msg = "cavs/v1/frame-signing-key")`): the hub stores only that
//! derived key and an argon2 hash of the secret, so a leaked database cannot be used to log in to
//! the broker as the device.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{FrameHeader, ProtocolError};

type HmacSha256 = Hmac<Sha256>;

const KEY_DERIVATION_LABEL: &[u8] = b"cavs/v1/frame-signing-key";

/// A device's 32-byte frame-signing key, derived from its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Derives the signing key from a device secret (the string issued by the REST API).
    pub fn derive(device_secret: &str) -> Self {
        let mut mac = mac_with_key(device_secret.as_bytes());
        mac.update(KEY_DERIVATION_LABEL);
        SigningKey(mac.finalize().into_bytes().into())
    }

    /// The key as lowercase hex (how the hub stores it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads a key stored with [`SigningKey::to_hex`].
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(SigningKey(bytes))
    }
}

fn mac_with_key(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

/// The canonical message a signature covers: the header's fields (all but `sig`) one per line in
/// a fixed order, then the lowercase hex SHA-256 of the image bytes.
pub(crate) fn canonical_message(header: &FrameHeader, image: &[u8]) -> String {
    format!(
        "v={}\nframe_id={}\ndevice_id={}\nclassroom_id={}\ncaptured_at={}\nseq={}\ncontent_type={}\nwidth={}\nheight={}\nimage_sha256={}",
        header.v,
        header.frame_id,
        header.device_id,
        header.classroom_id,
        header.captured_at,
        header.seq,
        header.content_type,
        header.width,
        header.height,
        hex::encode(Sha256::digest(image)),
    )
}

/// Computes the signature of `header` + `image` and stores it in `header.sig`.
pub fn sign_header(header: &mut FrameHeader, image: &[u8], key: &SigningKey) {
    let mut mac = mac_with_key(&key.0);
    mac.update(canonical_message(header, image).as_bytes());
    header.sig = hex::encode(mac.finalize().into_bytes());
}

/// Checks `header.sig` against the header and image in constant time.
pub fn verify_header(
    header: &FrameHeader,
    image: &[u8],
    key: &SigningKey,
) -> Result<(), ProtocolError> {
    let sig = hex::decode(&header.sig).map_err(|_| ProtocolError::BadSignature)?;
    let mut mac = mac_with_key(&key.0);
    mac.update(canonical_message(header, image).as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| ProtocolError::BadSignature)
}
