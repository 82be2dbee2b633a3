//! argon2id hashing of passwords and device secrets, and verification on a bounded blocking
//! pool so that a burst of sign-ins never occupies the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::StoreError;

/// Hashes a password or device secret with argon2id (random salt, PHC string).
pub fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| StoreError::Storage(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Storage(format!("argon2: {e}")))
}

/// True when `secret` matches the argon2 PHC `hash`; a malformed hash never matches.
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// At most this many argon2 computations run at once: each costs ~19 MiB and tens of ms of a
/// core, so a burst of sign-ins queues here instead of taking every core and the memory.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`verify_secret`] on tokio's blocking pool (never on an async worker), at most
/// two at a time process-wide.
pub async fn verify_secret_bounded(hash: String, secret: String) -> bool {
    let Ok(_slot) = ARGON2_SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_secret(&hash, &secret))
        .await
        .unwrap_or(false)
}

/// [`hash_secret`] on tokio's blocking pool, sharing [`verify_secret_bounded`]'s slots.
pub async fn hash_secret_bounded(secret: String) -> Result<String, StoreError> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|e| StoreError::Storage(format!("argon2 pool: {e}")))?;
    tokio::task::spawn_blocking(move || hash_secret(&secret))
        .await
        .map_err(|e| StoreError::Storage(format!("argon2 task: {e}")))?
}

/// A valid argon2 hash of a random string, checked against when a username is unknown so the
/// answer takes as long as for a known one.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1kJcOlUsQNL0J2QBvq8MmyzsxYxHQ6z9pt2vqgQ3Jk4";
