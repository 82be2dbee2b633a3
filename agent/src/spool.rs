//! The offline spool: every frame is written here before it is published and removed only after
//! the hub's final ack (see [`crate::delivery`]), so frames survive broker and hub outages and
//! agent restarts.
//!
//! Layout: one file per frame, `{seq:020}.frame`, written to `{seq:020}.tmp`, flushed to disk and
//! renamed (atomic on POSIX file systems). A file holds
//! `b"CAVSSPL1" | u64 BE payload length | SHA-256 of payload (32 bytes) | payload`, the payload
//! being the signed frame envelope. A file whose magic, length or checksum does not match is
//! reported as [`SpoolError::Corrupt`]; the runner logs it, deletes it and goes on with the next.
//!
//! The total size is capped: storing a frame that would pass the cap first deletes the oldest
//! frames and counts them in [`Spool::dropped`]. Sequence numbers only grow, also across restarts:
//! a small `seq.hi` file reserves them in blocks so that restarting never reuses one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"CAVSSPL1";
const HEADER_LEN: usize = 8 + 8 + 32;
const EXT: &str = "frame";
const HI_FILE: &str = "seq.hi";
const SEQ_BLOCK: u64 = 1024;

/// Why the spool failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file system operation failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A spool file is damaged.
    #[error("corrupt spool entry {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// One frame is larger than the whole spool.
    #[error("a frame of {bytes} bytes does not fit in a spool of {cap} bytes")]
    TooLarge {
        /// Frame file size.
        bytes: u64,
        /// The cap.
        cap: u64,
    },
}

/// A bounded on-disk FIFO of frame envelopes keyed by sequence number.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    cap_bytes: u64,
    entries: BTreeMap<u64, u64>,
    total_bytes: u64,
    next_seq: u64,
    seq_hi: u64,
    dropped: u64,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, capped at `cap_bytes`. Leftover
    /// temporary files of an interrupted write are deleted.
    pub fn open(dir: impl AsRef<Path>, cap_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        let mut entries = BTreeMap::new();
        let mut total_bytes = 0;
        for entry in fs::read_dir(&dir).map_err(|source| io(&dir, source))? {
            let entry = entry.map_err(|source| io(&dir, source))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".tmp") {
                if stem.parse::<u64>().is_ok() {
                    tracing::warn!(file = %path.display(), "deleting an unfinished spool write");
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".frame")
                .and_then(|stem| stem.parse::<u64>().ok())
            else {
                continue;
            };
            let len = entry.metadata().map_err(|source| io(&path, source))?.len();
            entries.insert(seq, len);
            total_bytes += len;
        }
        let stored_hi = match fs::read_to_string(dir.join(HI_FILE)) {
            Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
            Err(e) if e.kind() == ErrorKind::NotFound => 0,
            Err(source) => return Err(io(&dir.join(HI_FILE), source)),
        };
        let after_entries = entries.keys().next_back().map_or(1, |last| last + 1);
        let mut spool = Spool {
            dir,
            cap_bytes,
            entries,
            total_bytes,
            next_seq: stored_hi.max(after_entries).max(1),
            seq_hi: 0,
            dropped: 0,
        };
        spool.reserve_block()?;
        Ok(spool)
    }

    fn reserve_block(&mut self) -> Result<(), SpoolError> {
        let hi = self.next_seq + SEQ_BLOCK;
        write_atomic(&self.dir, HI_FILE, hi.to_string().as_bytes())?;
        self.seq_hi = hi;
        Ok(())
    }

    /// Hands out the next sequence number (never reused, also across restarts).
    pub fn next_seq(&mut self) -> Result<u64, SpoolError> {
        if self.next_seq >= self.seq_hi {
            self.reserve_block()?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Stores `payload` as frame `seq`, durably, dropping the oldest frames if the cap needs it.
    pub fn store(&mut self, seq: u64, payload: &[u8]) -> Result<(), SpoolError> {
        let size = (HEADER_LEN + payload.len()) as u64;
        if size > self.cap_bytes {
            return Err(SpoolError::TooLarge {
                bytes: size,
                cap: self.cap_bytes,
            });
        }
        while self.total_bytes + size > self.cap_bytes {
            let Some((&oldest, _)) = self.entries.iter().next() else {
                break;
            };
            self.remove(oldest)?;
            self.dropped += 1;
            tracing::warn!(
                seq = oldest,
                dropped_total = self.dropped,
                cap_bytes = self.cap_bytes,
                "spool full: dropped the oldest frame"
            );
        }
        let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        file.extend_from_slice(&Sha256::digest(payload));
        file.extend_from_slice(payload);
        write_atomic(&self.dir, &file_name(seq), &file)?;
        if let Some(old) = self.entries.insert(seq, size) {
            self.total_bytes -= old;
        }
        self.total_bytes += size;
        Ok(())
    }

    /// Reads and checks frame `seq`.
    pub fn read(&self, seq: u64) -> Result<Vec<u8>, SpoolError> {
        let path = self.path_of(seq);
        let data = fs::read(&path).map_err(|source| io(&path, source))?;
        let corrupt = |reason: String| SpoolError::Corrupt {
            path: path.clone(),
            reason,
        };
        if data.len() < HEADER_LEN || &data[..8] != MAGIC {
            return Err(corrupt(format!("bad header ({} bytes)", data.len())));
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&data[8..16]);
        let len = u64::from_be_bytes(len_bytes);
        let payload = &data[HEADER_LEN..];
        if payload.len() as u64 != len {
            return Err(corrupt(format!(
                "length says {len} bytes, file holds {}",
                payload.len()
            )));
        }
        if Sha256::digest(payload).as_slice() != &data[16..48] {
            return Err(corrupt("checksum mismatch".into()));
        }
        Ok(payload.to_vec())
    }

    /// Deletes frame `seq`; false if it was not there (already acknowledged or dropped).
    pub fn remove(&mut self, seq: u64) -> Result<bool, SpoolError> {
        let Some(size) = self.entries.remove(&seq) else {
            return Ok(false);
        };
        self.total_bytes -= size;
        let path = self.path_of(seq);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
            Err(source) => Err(io(&path, source)),
        }
    }

    /// The first stored sequence number after `after` (or the oldest one).
    pub fn next_after(&self, after: Option<u64>) -> Option<u64> {
        match after {
            None => self.entries.keys().next().copied(),
            Some(a) => self.entries.range(a + 1..).next().map(|(k, _)| *k),
        }
    }

    /// Stored sequence numbers, oldest first.
    pub fn seqs(&self) -> Vec<u64> {
        self.entries.keys().copied().collect()
    }

    /// Number of frames waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no frame waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes on disk used by frames.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Frames dropped by the size cap since the spool was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds frame `seq`.
    pub fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(file_name(seq))
    }
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.{EXT}")
}

fn io(path: &Path, source: std::io::Error) -> SpoolError {
    SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `dir/name` through a temporary file, fsync and rename, then syncs the directory.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<(), SpoolError> {
    let tmp = dir.join(format!(
        "{}.tmp",
        name.strip_suffix(&format!(".{EXT}")).unwrap_or(name)
    ));
    let target = dir.join(name);
    let mut file = File::create(&tmp).map_err(|source| io(&tmp, source))?;
    file.write_all(data).map_err(|source| io(&tmp, source))?;
    file.sync_all().map_err(|source| io(&tmp, source))?;
    drop(file);
    fs::rename(&tmp, &target).map_err(|source| io(&target, source))?;
    // Make the rename itself durable; not every file system supports syncing a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(spool: &mut Spool, payload: &[u8]) -> u64 {
        let seq = spool.next_seq().expect("seq");
        spool.store(seq, payload).expect("store");
        seq
    }

    #[test]
    fn stores_reads_and_removes_in_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(tmp.path(), 1 << 20).expect("open");
        let a = push(&mut spool, b"first");
        let b = push(&mut spool, b"second");
        assert!(a < b);
        assert_eq!(spool.len(), 2);
        assert_eq!(spool.next_after(None), Some(a));
        assert_eq!(spool.next_after(Some(a)), Some(b));
        assert_eq!(spool.next_after(Some(b)), None);
        assert_eq!(spool.read(b).expect("read"), b"second");
        assert!(spool.remove(a).expect("remove"));
        assert!(!spool.remove(a).expect("second remove"));
        assert_eq!(spool.seqs(), vec![b]);
        assert_eq!(spool.bytes(), (HEADER_LEN + 6) as u64);
    }

    #[test]
    fn survives_reopen_and_never_reuses_sequence_numbers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (kept, last) = {
            let mut spool = Spool::open(tmp.path(), 1 << 20).expect("open");
            let kept = push(&mut spool, b"kept");
            let last = push(&mut spool, b"acked");
            spool.remove(last).expect("remove");
            (kept, last)
        };
        // A leftover temporary file of a write cut short by a crash.
        fs::write(tmp.path().join("00000000000000000099.tmp"), b"half").expect("write");
        let mut spool = Spool::open(tmp.path(), 1 << 20).expect("reopen");
        assert_eq!(spool.seqs(), vec![kept]);
        assert_eq!(spool.read(kept).expect("read"), b"kept");
        assert!(!tmp.path().join("00000000000000000099.tmp").exists());
        assert!(push(&mut spool, b"new") > last);
    }

    #[test]
    fn cap_drops_oldest_first_and_counts() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let frame = vec![7u8; 100];
        let per = (HEADER_LEN + frame.len()) as u64;
        let mut spool = Spool::open(tmp.path(), per * 3).expect("open");
        let seqs: Vec<u64> = (0..5).map(|_| push(&mut spool, &frame)).collect();
        assert_eq!(spool.seqs(), seqs[2..].to_vec());
        assert_eq!(spool.dropped(), 2);
        assert!(spool.bytes() <= per * 3);
        assert!(matches!(
            spool.store(99, &vec![0u8; (per * 3) as usize]),
            Err(SpoolError::TooLarge { .. })
        ));
    }

    #[test]
    fn corruption_is_detected() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(tmp.path(), 1 << 20).expect("open");
        let a = push(&mut spool, b"payload-a");
        let b = push(&mut spool, b"payload-b");
        let c = push(&mut spool, b"payload-c");
        let mut data = fs::read(spool.path_of(a)).expect("read");
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(spool.path_of(a), data).expect("write");
        fs::write(spool.path_of(b), b"junk").expect("write");
        assert!(matches!(spool.read(a), Err(SpoolError::Corrupt { .. })));
        assert!(matches!(spool.read(b), Err(SpoolError::Corrupt { .. })));
        assert_eq!(spool.read(c).expect("intact"), b"payload-c");
    }
}
