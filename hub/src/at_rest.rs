//! Encryption at rest of the face files (crops under `crops/`, enrollment photos under
//! `enrollment/`): the data key, from `CAVS_DATA_KEY` or generated once into
//! `{data_dir}/data_key` (mode 0600), and the pass that seals every file not sealed with it —
//! files written before encryption existed, and files of an earlier key during a rotation.
//!
//! A rotation (`cavs-hub rotate-key`, hub stopped) writes the new key to `data_key.next`,
//! re-seals every file with it, then renames it over `data_key`. If it is interrupted, the
//! next start (or run) finds `data_key.next`, seals with it, opens with both keys, and finishes.

use std::io::Write;
use std::path::{Path, PathBuf};

use cavs_models::sealing::{KEY_LEN, SealError, Sealer, parse_key};
use secrecy::{ExposeSecret, SecretString};

/// The generated key's file under the data dir.
pub const DATA_KEY_FILE: &str = "data_key";
/// The next key's file while a rotation runs.
pub const NEXT_DATA_KEY_FILE: &str = "data_key.next";
/// The folders (under the data dir) whose files are sealed.
pub const SEALED_DIRS: [&str; 2] = ["crops", "enrollment"];

/// Why the data key could not be loaded or the files sealed.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    /// A key file could not be read or written.
    #[error("data key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key that is not 64 hex digits.
    #[error("data key {origin}: {source}")]
    Key {
        /// `CAVS_DATA_KEY` or the file.
        origin: String,
        /// The cause.
        source: SealError,
    },
    /// Rotation asked for while the key comes from the environment.
    #[error(
        "the data key comes from CAVS_DATA_KEY, so the hub cannot replace it: rotate-key works on the key the hub keeps in the data dir (CAVS_DATA_KEY unset)"
    )]
    ConfiguredKey,
    /// Some files could not be opened with any known key (left as they are).
    #[error("{0} file(s) could not be re-sealed (see the log); the rotation is not finished")]
    Unsealable(u64),
}

/// What a sealing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealPass {
    /// Plain files sealed (written before encryption at rest).
    pub sealed: u64,
    /// Files of an earlier key sealed again with the current one.
    pub resealed: u64,
    /// Files already sealed with the current key.
    pub current: u64,
    /// Files no key opens (left unchanged, logged).
    pub failed: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AtRestError + '_ {
    move |source| AtRestError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn read_key(path: &Path) -> Result<Option<[u8; KEY_LEN]>, AtRestError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text)
            .map(Some)
            .map_err(|source| AtRestError::Key {
                origin: path.display().to_string(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `key` as hex into a new file `path`, mode 0600, synced.
fn write_key(path: &Path, key: &[u8; KEY_LEN]) -> Result<(), AtRestError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(hex::encode(key).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

fn random_key() -> Result<[u8; KEY_LEN], AtRestError> {
    Sealer::random_key().map_err(|source| AtRestError::Key {
        origin: "generation".into(),
        source,
    })
}

fn ring(current: &[u8; KEY_LEN], older: &[[u8; KEY_LEN]]) -> Result<Sealer, AtRestError> {
    Sealer::new(current, older).map_err(|source| AtRestError::Key {
        origin: "ring".into(),
        source,
    })
}

/// The key ring for `data_dir`: the configured key, or the kept one (generated on first use,
/// with a warning), with the next key first while a rotation is unfinished.
pub fn load_sealer(
    configured: Option<&SecretString>,
    data_dir: &Path,
) -> Result<Sealer, AtRestError> {
    if let Some(key) = configured {
        let key = parse_key(key.expose_secret()).map_err(|source| AtRestError::Key {
            origin: "CAVS_DATA_KEY".into(),
            source,
        })?;
        return ring(&key, &[]);
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let path = data_dir.join(DATA_KEY_FILE);
    let current = match read_key(&path)? {
        Some(key) => key,
        None => {
            let key = random_key()?;
            write_key(&path, &key)?;
            tracing::warn!(path = %path.display(), "no CAVS_DATA_KEY set: generated the key that encrypts face files and kept it in the data dir (back it up with the database)");
            key
        }
    };
    match read_key(&data_dir.join(NEXT_DATA_KEY_FILE))? {
        Some(next) => ring(&next, &[current]),
        None => ring(&current, &[]),
    }
}

/// Every file below the sealed folders of `data_dir`, and how many entries could not be
/// looked at (an unreadable folder, a symlink or other non-regular entry): those count as
/// failures, so a rotation never finishes without them. Leftover temporary files of an
/// interrupted pass are removed (the file they were replacing is still whole).
fn sealed_files(data_dir: &Path) -> (Vec<PathBuf>, u64) {
    let mut files = Vec::new();
    let mut problems = 0;
    let mut stack: Vec<PathBuf> = SEALED_DIRS.iter().map(|d| data_dir.join(d)).collect();
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                tracing::warn!(%error, dir = %dir.display(), "cannot read a folder of face files");
                problems += 1;
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else {
                problems += 1;
                continue;
            };
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == TEMP_EXTENSION) => {
                    let _ = std::fs::remove_file(&path);
                }
                Ok(t) if t.is_file() => files.push(path),
                _ => {
                    tracing::warn!(path = %path.display(), "not a regular file among the face files: left as it is");
                    problems += 1;
                }
            }
        }
    }
    files.sort();
    (files, problems)
}

/// Extension of the temporary file a sealed file is written to before it replaces the old one.
const TEMP_EXTENSION: &str = "sealing";

/// Writes `bytes` to `temp`, synced, then renames it over `path`.
fn replace_synced(temp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(temp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Seals every file below the sealed folders that is not sealed with `sealer`'s current key
/// (written through a temporary file and renamed, so a crash leaves the old file or the new).
pub fn seal_all(data_dir: &Path, sealer: &Sealer) -> SealPass {
    let (files, problems) = sealed_files(data_dir);
    let mut pass = SealPass {
        failed: problems,
        ..SealPass::default()
    };
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            pass.failed += 1;
            continue;
        };
        if sealer.is_current(&bytes) {
            pass.current += 1;
            continue;
        }
        let (plain, was_sealed) = if Sealer::is_sealed(&bytes) {
            match sealer.open(&bytes) {
                Ok(plain) => (plain, true),
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "a sealed face file no known key opens: left as it is");
                    pass.failed += 1;
                    continue;
                }
            }
        } else {
            (bytes, false)
        };
        let temp = path.with_extension(TEMP_EXTENSION);
        let written = sealer
            .seal(&plain)
            .map_err(std::io::Error::other)
            .and_then(|sealed| replace_synced(&temp, &path, &sealed));
        match written {
            Ok(()) if was_sealed => pass.resealed += 1,
            Ok(()) => pass.sealed += 1,
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "cannot seal a face file");
                let _ = std::fs::remove_file(&temp);
                pass.failed += 1;
            }
        }
    }
    pass
}

/// Finishes an interrupted rotation once every file is sealed with the next key: the next key
/// becomes the key. Nothing to do without `data_key.next`.
pub fn finish_rotation(data_dir: &Path, pass: &SealPass) -> Result<bool, AtRestError> {
    let next = data_dir.join(NEXT_DATA_KEY_FILE);
    if !next.exists() {
        return Ok(false);
    }
    if pass.failed > 0 {
        return Err(AtRestError::Unsealable(pass.failed));
    }
    let path = data_dir.join(DATA_KEY_FILE);
    std::fs::rename(&next, &path).map_err(io(&path))?;
    Ok(true)
}

/// The first step of `cavs-hub rotate-key` (the hub stopped): a next key, unless an
/// interrupted rotation left one. [`load_sealer`] then seals with it; the caller seals every
/// file ([`seal_all`]) and descriptor with it and calls [`finish_rotation`].
pub fn begin_rotation(
    configured: Option<&SecretString>,
    data_dir: &Path,
) -> Result<(), AtRestError> {
    if configured.is_some() {
        return Err(AtRestError::ConfiguredKey);
    }
    // The current key must exist (and be valid) before a next one is made.
    load_sealer(None, data_dir)?;
    let next_path = data_dir.join(NEXT_DATA_KEY_FILE);
    if !next_path.exists() {
        write_key(&next_path, &random_key()?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];

    fn plain_crop(dir: &Path) -> PathBuf {
        let path = dir.join("crops/room-1/2026-12-04/frame-0.jpg");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, JPEG).unwrap();
        path
    }

    #[test]
    fn the_key_is_generated_once_with_mode_0600_and_plain_files_get_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let crop = plain_crop(dir.path());
        let sealer = load_sealer(None, dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(DATA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load_sealer(None, dir.path()).unwrap();
        assert_eq!(sealer.key_id(), again.key_id(), "the kept key is reused");
        let pass = seal_all(dir.path(), &sealer);
        assert_eq!((pass.sealed, pass.resealed, pass.failed), (1, 0, 0));
        let bytes = std::fs::read(&crop).unwrap();
        assert!(!bytes.starts_with(&JPEG[..3]));
        assert_eq!(again.open(&bytes).unwrap(), JPEG);
        assert_eq!(
            seal_all(dir.path(), &sealer).current,
            1,
            "a second pass changes nothing"
        );
    }

    #[test]
    fn rotation_reseals_every_file_and_an_interrupted_one_finishes_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let crop = plain_crop(dir.path());
        let before = load_sealer(None, dir.path()).unwrap();
        seal_all(dir.path(), &before);
        begin_rotation(None, dir.path()).unwrap();
        let rotating = load_sealer(None, dir.path()).unwrap();
        let pass = seal_all(dir.path(), &rotating);
        assert!(finish_rotation(dir.path(), &pass).unwrap());
        let key_id = rotating.key_id();
        assert_eq!(pass.resealed, 1);
        assert_ne!(key_id, before.key_id());
        assert!(!dir.path().join(NEXT_DATA_KEY_FILE).exists());
        let after = load_sealer(None, dir.path()).unwrap();
        assert_eq!(after.key_id(), key_id);
        assert_eq!(after.open(&std::fs::read(&crop).unwrap()).unwrap(), JPEG);
        assert!(
            before.open(&std::fs::read(&crop).unwrap()).is_err(),
            "the old key no longer opens it"
        );

        // Interrupted: a next key written, no file sealed with it yet.
        write_key(
            &dir.path().join(NEXT_DATA_KEY_FILE),
            &Sealer::random_key().unwrap(),
        )
        .unwrap();
        let resumed = load_sealer(None, dir.path()).unwrap();
        assert_ne!(resumed.key_id(), key_id, "seals with the next key");
        assert_eq!(
            resumed.open(&std::fs::read(&crop).unwrap()).unwrap(),
            JPEG,
            "opens with both"
        );
        let pass = seal_all(dir.path(), &resumed);
        assert!(finish_rotation(dir.path(), &pass).unwrap());
        assert_eq!(
            load_sealer(None, dir.path()).unwrap().key_id(),
            resumed.key_id()
        );
    }

    #[test]
    fn a_configured_key_is_used_and_cannot_be_rotated_by_the_hub() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretString::from(hex::encode([7u8; KEY_LEN]));
        let sealer = load_sealer(Some(&key), dir.path()).unwrap();
        assert!(!dir.path().join(DATA_KEY_FILE).exists());
        assert_eq!(sealer.open(&sealer.seal(JPEG).unwrap()).unwrap(), JPEG);
        assert!(matches!(
            begin_rotation(Some(&key), dir.path()),
            Err(AtRestError::ConfiguredKey)
        ));
        let bad = SecretString::from("not hex".to_owned());
        assert!(matches!(
            load_sealer(Some(&bad), dir.path()),
            Err(AtRestError::Key { .. })
        ));
    }
}
