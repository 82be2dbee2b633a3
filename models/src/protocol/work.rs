//! The recognition workers' part of the protocol (scale-out on an external broker):
//!
//! * workers take device frames from the shared subscription [`WORKER_FRAMES_FILTER`] (the
//!   broker hands each frame to one member of the `cavs-workers` group);
//! * each worker publishes what it found in a frame on `cavs/v1/workers/{worker}/results`
//!   ([`WorkerResult`], binary: a 4-byte big-endian header length, the JSON header, then the
//!   face crops' JPEG bytes one after the other);
//! * each worker keeps a retained `cavs/v1/workers/{worker}/status` ([`WorkerPresence`]), set
//!   to `offline` by its last will when it dies, so the hub knows whether any worker runs.
//!
//! Workers never see the gallery: matching faces against enrolled students stays in the hub.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ProtocolError, TOPIC_ROOT, is_valid_id};

/// Shared-subscription group every recognition worker joins.
pub const WORKER_GROUP: &str = "cavs-workers";
/// The workers' shared subscription to every device's frames.
pub const WORKER_FRAMES_FILTER: &str = "$share/cavs-workers/cavs/v1/classrooms/+/devices/+/frames";
/// Filter matching every worker's results topic (the hub subscribes to it).
pub const WORKER_RESULTS_FILTER: &str = "cavs/v1/workers/+/results";
/// Filter matching every worker's retained presence topic.
pub const WORKER_STATUS_FILTER: &str = "cavs/v1/workers/+/status";
/// Prefix of a worker's MQTT client id (inside the hub's reserved `cavs-hub` namespace, so no
/// device id can take it): `cavs-hub-worker-{id}`.
pub const WORKER_CLIENT_PREFIX: &str = "cavs-hub-worker-";
/// Largest result header accepted (a frame with a few hundred faces fits).
pub const MAX_RESULT_HEADER_BYTES: usize = 4 * 1024 * 1024;
/// Result format version.
pub const RESULT_VERSION: u8 = 1;

/// The MQTT client id (and broker account) of worker `id`.
pub fn worker_client_id(id: &str) -> String {
    format!("{WORKER_CLIENT_PREFIX}{id}")
}

/// `cavs/v1/workers/{worker}/results`.
pub fn worker_results_topic(worker: &str) -> String {
    format!("{TOPIC_ROOT}/workers/{worker}/results")
}

/// `cavs/v1/workers/{worker}/status`.
pub fn worker_status_topic(worker: &str) -> String {
    format!("{TOPIC_ROOT}/workers/{worker}/status")
}

/// Which worker topic a topic string is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerTopic {
    /// `cavs/v1/workers/{worker}/results`.
    Results(String),
    /// `cavs/v1/workers/{worker}/status`.
    Status(String),
}

impl WorkerTopic {
    /// Parses a worker topic; `None` for every other topic (and invalid worker ids).
    pub fn parse(topic: &str) -> Option<Self> {
        let rest = topic.strip_prefix(TOPIC_ROOT)?.strip_prefix("/workers/")?;
        let (worker, kind) = rest.split_once('/')?;
        if !is_valid_id(worker) {
            return None;
        }
        match kind {
            "results" => Some(WorkerTopic::Results(worker.to_owned())),
            "status" => Some(WorkerTopic::Status(worker.to_owned())),
            _ => None,
        }
    }
}

/// A worker's retained presence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerPresence {
    /// `online` while it takes frames, `offline` once it stopped or died (its last will).
    pub state: WorkerState,
    /// Recognition threads it runs.
    #[serde(default)]
    pub threads: u32,
}

/// Whether a worker takes frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Taking frames.
    Online,
    /// Stopped or dead.
    Offline,
}

impl WorkerPresence {
    /// Parses a presence payload.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::MalformedPayload {
            kind: "worker status",
            reason: e.to_string(),
        })
    }

    /// JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What a worker made of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutcome {
    /// Faces were looked for (the list may be empty).
    Faces,
    /// The image could not be decoded or analysed: it never will be.
    Undecodable,
    /// Recognition failed in the worker (a panic): the hub treats it as final too.
    Failed,
}

/// One face a worker found: where, how sure the detector is, the 128-d descriptor, and the
/// length of its aligned JPEG crop in the result's byte section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFace {
    /// `[x, y, width, height]` in frame pixels.
    pub bbox: [f32; 4],
    /// Detector score.
    pub score: f32,
    /// Face descriptor (128 values).
    pub descriptor: Vec<f32>,
    /// Bytes of this face's crop JPEG.
    pub crop_bytes: u32,
}

/// The JSON header of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ResultHeader {
    v: u8,
    frame_id: Uuid,
    device_id: String,
    worker_id: String,
    outcome: ResultOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(default)]
    faces: Vec<ResultFace>,
}

/// A worker's result for one frame, with each face's crop.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerResult {
    /// The frame's id (from its envelope).
    pub frame_id: Uuid,
    /// The device that sent it (from its envelope).
    pub device_id: String,
    /// The worker that recognised it.
    pub worker_id: String,
    /// What it made of the frame.
    pub outcome: ResultOutcome,
    /// Why, for `undecodable` and `failed`.
    pub detail: Option<String>,
    /// The faces, each with its crop JPEG.
    pub faces: Vec<(ResultFace, Vec<u8>)>,
}

fn truncated(what: String) -> ProtocolError {
    ProtocolError::Truncated(what)
}

impl WorkerResult {
    /// The wire bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let header = ResultHeader {
            v: RESULT_VERSION,
            frame_id: self.frame_id,
            device_id: self.device_id.clone(),
            worker_id: self.worker_id.clone(),
            outcome: self.outcome,
            detail: self.detail.clone(),
            faces: self
                .faces
                .iter()
                .map(|(face, crop)| ResultFace {
                    crop_bytes: crop.len() as u32,
                    ..face.clone()
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let crops: usize = self.faces.iter().map(|(_, c)| c.len()).sum();
        let mut out = Vec::with_capacity(4 + json.len() + crops);
        out.extend_from_slice(&(json.len() as u32).to_be_bytes());
        out.extend_from_slice(&json);
        for (_, crop) in &self.faces {
            out.extend_from_slice(crop);
        }
        out
    }

    /// Parses wire bytes, checking every length (a result is input from the network).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(truncated(format!("result of {} bytes", bytes.len())));
        };
        let header_len = u32::from_be_bytes(*len) as usize;
        if header_len > MAX_RESULT_HEADER_BYTES {
            return Err(ProtocolError::HeaderTooLarge(header_len));
        }
        if rest.len() < header_len {
            return Err(truncated(format!(
                "result header length {header_len} but only {} bytes follow",
                rest.len()
            )));
        }
        let (json, mut crops) = rest.split_at(header_len);
        let header: ResultHeader = serde_json::from_slice(json)
            .map_err(|e| ProtocolError::MalformedHeader(e.to_string()))?;
        if header.v != RESULT_VERSION {
            return Err(ProtocolError::UnsupportedVersion(header.v));
        }
        let mut faces = Vec::with_capacity(header.faces.len());
        for face in header.faces {
            if face.descriptor.len() != 128 || face.descriptor.iter().any(|v| !v.is_finite()) {
                return Err(ProtocolError::MalformedHeader(
                    "a face descriptor is not 128 finite numbers".into(),
                ));
            }
            let n = face.crop_bytes as usize;
            if crops.len() < n {
                return Err(truncated(format!(
                    "a crop of {n} bytes but {} left",
                    crops.len()
                )));
            }
            let (crop, left) = crops.split_at(n);
            crops = left;
            faces.push((face, crop.to_vec()));
        }
        if !crops.is_empty() {
            return Err(truncated(format!(
                "{} bytes after the last crop",
                crops.len()
            )));
        }
        Ok(WorkerResult {
            frame_id: header.frame_id,
            device_id: header.device_id,
            worker_id: header.worker_id,
            outcome: header.outcome,
            detail: header.detail,
            faces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> WorkerResult {
        WorkerResult {
            frame_id: Uuid::now_v7(),
            device_id: "cam-1".into(),
            worker_id: "2".into(),
            outcome: ResultOutcome::Faces,
            detail: None,
            faces: vec![
                (
                    ResultFace {
                        bbox: [1.0, 2.0, 30.0, 40.0],
                        score: 0.9,
                        descriptor: vec![0.25; 128],
                        crop_bytes: 0,
                    },
                    vec![0xFF, 0xD8, 1, 2, 3],
                ),
                (
                    ResultFace {
                        bbox: [5.0, 6.0, 70.0, 80.0],
                        score: 0.7,
                        descriptor: vec![-0.5; 128],
                        crop_bytes: 0,
                    },
                    vec![9; 17],
                ),
            ],
        }
    }

    #[test]
    fn a_result_round_trips_with_its_crops() {
        let sent = result();
        let read = WorkerResult::from_slice(&sent.to_vec()).expect("parses");
        assert_eq!(read.frame_id, sent.frame_id);
        assert_eq!(read.faces.len(), 2);
        assert_eq!(read.faces[0].1, sent.faces[0].1);
        assert_eq!(read.faces[1].1, vec![9; 17]);
        assert_eq!(read.faces[1].0.crop_bytes, 17);
        assert_eq!(read.faces[0].0.descriptor, vec![0.25; 128]);
    }

    #[test]
    fn truncated_padded_and_malformed_results_are_refused() {
        let bytes = result().to_vec();
        for cut in [0, 3, 10, bytes.len() - 1] {
            assert!(
                WorkerResult::from_slice(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(WorkerResult::from_slice(&padded).is_err());
        let mut short = result();
        short.faces[0].0.descriptor.truncate(10);
        assert!(WorkerResult::from_slice(&short.to_vec()).is_err());
        let mut huge = vec![0xFF; 4];
        huge.extend_from_slice(b"{}");
        assert_eq!(
            WorkerResult::from_slice(&huge),
            Err(ProtocolError::HeaderTooLarge(u32::MAX as usize))
        );
    }

    #[test]
    fn worker_topics_parse_and_others_do_not() {
        assert_eq!(
            WorkerTopic::parse(&worker_results_topic("3")),
            Some(WorkerTopic::Results("3".into()))
        );
        assert_eq!(
            WorkerTopic::parse(&worker_status_topic("w-1")),
            Some(WorkerTopic::Status("w-1".into()))
        );
        for other in [
            "cavs/v1/workers/+/results",
            "cavs/v1/workers/a/b/results",
            "cavs/v1/devices/a/status",
            "cavs/v1/workers/a/other",
        ] {
            assert_eq!(WorkerTopic::parse(other), None, "{other}");
        }
        assert_eq!(worker_client_id("1"), "cavs-hub-worker-1");
    }
}
