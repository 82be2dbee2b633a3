//! The JWT signing key: from settings, or generated once and kept in the data dir.

use std::fs;
use std::io::Write;
use std::path::Path;

use secrecy::SecretString;

/// File under the data dir holding the generated key.
pub const SECRET_FILE: &str = "secret_key";

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Reading or writing the key file failed.
    #[error("secret key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is too short to be a key.
    #[error("secret key file {0} holds fewer than 32 characters")]
    TooShort(String),
}

/// Returns the configured key, or the one kept in `data_dir` (creating it, mode 0600, with
/// 256 random bits on first use and logging a warning).
pub fn load_or_create(
    configured: Option<&SecretString>,
    data_dir: &Path,
) -> Result<SecretString, SecretError> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    let path = data_dir.join(SECRET_FILE);
    let io = |source| SecretError::Io {
        path: path.display().to_string(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            if key.len() < 32 {
                return Err(SecretError::TooShort(path.display().to_string()));
            }
            Ok(SecretString::from(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(io)?;
            let key = hex::encode(rand::random::<[u8; 32]>());
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(io)?;
            file.write_all(key.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::warn!(
                path = %path.display(),
                "no CAVS_SECRET_KEY set: generated a random JWT key and kept it in the data dir"
            );
            Ok(SecretString::from(key))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(None, dir.path()).expect("created");
        let second = load_or_create(None, dir.path()).expect("read back");
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);
        let configured = SecretString::from("x".repeat(40));
        let used = load_or_create(Some(&configured), dir.path()).expect("configured");
        assert_eq!(used.expose_secret(), configured.expose_secret());
    }
}
