//! Encryption at rest of the files that hold faces (face crops, enrollment photos): AES-256-GCM
//! (ring) with a random 96-bit nonce per file. A sealed file is
//! `CAVSENC1 | key id (8) | nonce (12) | ciphertext | tag (16)`; the magic and key id are
//! authenticated as associated data. The key id (the first 8 bytes of the key's SHA-256) lets a
//! key ring open files sealed with an earlier key while a rotation is under way.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// The first bytes of every sealed file.
pub const SEALED_MAGIC: &[u8; 8] = b"CAVSENC1";
/// Bytes of a key (256 bits).
pub const KEY_LEN: usize = 32;
const KEY_ID_LEN: usize = 8;
const HEADER_LEN: usize = SEALED_MAGIC.len() + KEY_ID_LEN + NONCE_LEN;
const TAG_LEN: usize = 16;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// A key that is not 64 hex digits.
    #[error("a data key must be 64 hex digits (256 bits)")]
    BadKey,
    /// The bytes are not a sealed file.
    #[error("not a sealed file")]
    NotSealed,
    /// Sealed with a key this ring does not hold.
    #[error("sealed with an unknown key (id {0})")]
    UnknownKey(String),
    /// The ciphertext or its header was altered, or the key is wrong.
    #[error("the sealed data failed authentication")]
    Tampered,
    /// The system's random source failed.
    #[error("no random nonce available")]
    Random,
}

struct DataKey {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

impl DataKey {
    fn new(bytes: &[u8; KEY_LEN]) -> Result<Self, SealError> {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        Ok(DataKey {
            id,
            key: LessSafeKey::new(key),
        })
    }
}

/// Parses 64 hex digits into a key.
pub fn parse_key(hex_text: &str) -> Result<[u8; KEY_LEN], SealError> {
    let bytes = hex::decode(hex_text.trim()).map_err(|_| SealError::BadKey)?;
    bytes.try_into().map_err(|_| SealError::BadKey)
}

/// A key ring: seals with its first key, opens with any of them.
pub struct Sealer {
    keys: Vec<DataKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sealer({} key(s), sealing with {})",
            self.keys.len(),
            self.key_id()
        )
    }
}

impl Sealer {
    /// A ring sealing with `current` that also opens what `older` keys sealed.
    pub fn new(current: &[u8; KEY_LEN], older: &[[u8; KEY_LEN]]) -> Result<Self, SealError> {
        let mut keys = vec![DataKey::new(current)?];
        for key in older {
            keys.push(DataKey::new(key)?);
        }
        Ok(Sealer {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// A ring with one fresh random key that is kept nowhere: for tests and tools whose sealed
    /// data need not outlive the process.
    pub fn ephemeral() -> Result<Self, SealError> {
        Self::new(&Self::random_key()?, &[])
    }

    /// A fresh random key (for a new data dir, a rotation, or tests).
    pub fn random_key() -> Result<[u8; KEY_LEN], SealError> {
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| SealError::Random)?;
        Ok(key)
    }

    /// The id of the sealing key, as hex (safe to log: it does not reveal the key).
    pub fn key_id(&self) -> String {
        hex::encode(self.keys[0].id)
    }

    /// True when `bytes` look like a sealed file.
    pub fn is_sealed(bytes: &[u8]) -> bool {
        bytes.len() >= HEADER_LEN + TAG_LEN && bytes.starts_with(SEALED_MAGIC)
    }

    /// True when `bytes` were sealed with this ring's sealing key (nothing to re-seal).
    pub fn is_current(&self, bytes: &[u8]) -> bool {
        Self::is_sealed(bytes)
            && bytes[SEALED_MAGIC.len()..SEALED_MAGIC.len() + KEY_ID_LEN] == self.keys[0].id
    }

    /// Seals `plain` with the sealing key and a fresh nonce.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(SEALED_MAGIC);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&out[..SEALED_MAGIC.len() + KEY_ID_LEN]),
                &mut body,
            )
            .map_err(|_| SealError::Tampered)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`Sealer::seal`] made, with whichever key of the ring sealed it.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if !Self::is_sealed(sealed) {
            return Err(SealError::NotSealed);
        }
        let (header, body) = sealed.split_at(HEADER_LEN);
        let id = &header[SEALED_MAGIC.len()..SEALED_MAGIC.len() + KEY_ID_LEN];
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(hex::encode(id)))?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&header[SEALED_MAGIC.len() + KEY_ID_LEN..]);
        let mut body = body.to_vec();
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..SEALED_MAGIC.len() + KEY_ID_LEN]),
                &mut body,
            )
            .map_err(|_| SealError::Tampered)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5];

    fn ring() -> Sealer {
        Sealer::new(&Sealer::random_key().unwrap(), &[]).unwrap()
    }

    #[test]
    fn sealed_bytes_open_to_the_original_and_hide_its_magic() {
        let sealer = ring();
        let sealed = sealer.seal(JPEG).unwrap();
        assert!(sealed.starts_with(SEALED_MAGIC) && !sealed.windows(3).any(|w| w == &JPEG[..3]));
        assert!(Sealer::is_sealed(&sealed) && sealer.is_current(&sealed));
        assert_eq!(sealer.open(&sealed).unwrap(), JPEG);
        assert_ne!(
            sealer.seal(JPEG).unwrap(),
            sealed,
            "a fresh nonce every time"
        );
    }

    #[test]
    fn altered_bytes_another_key_and_plain_files_are_refused() {
        let sealer = ring();
        let mut sealed = sealer.seal(JPEG).unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(sealer.open(&sealed), Err(SealError::Tampered));
        let other = ring().seal(JPEG).unwrap();
        assert!(matches!(sealer.open(&other), Err(SealError::UnknownKey(_))));
        assert_eq!(sealer.open(JPEG), Err(SealError::NotSealed));
    }

    #[test]
    fn a_ring_opens_what_an_older_key_sealed_and_seals_with_the_new_one() {
        let old_key = Sealer::random_key().unwrap();
        let old = Sealer::new(&old_key, &[]).unwrap();
        let sealed_before = old.seal(JPEG).unwrap();
        let rotated = Sealer::new(&Sealer::random_key().unwrap(), &[old_key]).unwrap();
        assert!(!rotated.is_current(&sealed_before));
        assert_eq!(rotated.open(&sealed_before).unwrap(), JPEG);
        assert!(rotated.is_current(&rotated.seal(JPEG).unwrap()));
    }

    #[test]
    fn keys_are_64_hex_digits() {
        let key = Sealer::random_key().unwrap();
        assert_eq!(parse_key(&hex::encode(key)).unwrap(), key);
        assert_eq!(parse_key("abcd"), Err(SealError::BadKey));
        assert_eq!(parse_key(&"zz".repeat(32)), Err(SealError::BadKey));
    }
}
