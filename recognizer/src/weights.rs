//! Loader for the TensorFlow.js weight files (manifest JSON + binary shard) vendored in
//! `recognizer/weights/`: SHA-256 verification against `weights/SHA256SUMS` and uint8
//! dequantisation exactly as tfjs does it (`f32(f64(q) * scale + min)`).

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::RecognizerError;

/// One model's embedded files.
#[derive(Debug, Clone, Copy)]
pub struct ModelFiles {
    /// File prefix, e.g. `face_recognition_model`.
    pub name: &'static str,
    /// Contents of `<name>-weights_manifest.json`.
    pub manifest: &'static [u8],
    /// Contents of the single shard `<name>.bin`.
    pub shard: &'static [u8],
}

/// `weights/SHA256SUMS`, embedded.
pub const SHA256SUMS: &str = include_str!("../weights/SHA256SUMS");

macro_rules! model_files {
    ($name:literal) => {
        ModelFiles {
            name: $name,
            manifest: include_bytes!(concat!("../weights/", $name, "-weights_manifest.json")),
            shard: include_bytes!(concat!("../weights/", $name, ".bin")),
        }
    };
}

/// Tiny face detector weights.
pub const TINY_FACE_DETECTOR: ModelFiles = model_files!("tiny_face_detector_model");
/// SSD MobileNet v1 weights.
pub const SSD_MOBILENETV1: ModelFiles = model_files!("ssd_mobilenetv1_model");
/// 68-point landmark net weights.
pub const FACE_LANDMARK_68: ModelFiles = model_files!("face_landmark_68_model");
/// Face recognition net weights.
pub const FACE_RECOGNITION: ModelFiles = model_files!("face_recognition_model");

#[derive(Debug, Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Debug, Deserialize)]
struct Quantization {
    dtype: String,
    scale: f64,
    min: f64,
}

/// A dequantised weight tensor in TensorFlow layout.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTensor {
    /// Shape as in the manifest (TensorFlow order, e.g. HWIO for conv filters).
    pub shape: Vec<usize>,
    /// Values, row-major. int32 graph constants are stored as their (rounded) float value.
    pub values: Vec<f32>,
}

/// All tensors of one model, by manifest name.
#[derive(Debug, Clone, Default)]
pub struct WeightMap {
    tensors: HashMap<String, WeightTensor>,
}

impl WeightMap {
    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Adds (or replaces) a tensor: for maps built in code, e.g. layer tests.
    pub fn insert(&mut self, name: &str, tensor: WeightTensor) {
        self.tensors.insert(name.to_string(), tensor);
    }

    /// Looks a tensor up by name.
    pub fn get(&self, name: &str) -> Result<&WeightTensor, RecognizerError> {
        self.tensors
            .get(name)
            .ok_or_else(|| RecognizerError::Weights(format!("missing tensor `{name}`")))
    }

    /// Looks a tensor up by name and checks its shape.
    pub fn get_shaped(
        &self,
        name: &str,
        shape: &[usize],
    ) -> Result<&WeightTensor, RecognizerError> {
        let t = self.get(name)?;
        if t.shape != shape {
            return Err(RecognizerError::Weights(format!(
                "tensor `{name}` has shape {:?}, expected {:?}",
                t.shape, shape
            )));
        }
        Ok(t)
    }
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks `bytes` against the line for `file_name` in a `sha256sum`-style list.
pub fn verify_checksum(sums: &str, file_name: &str, bytes: &[u8]) -> Result<(), RecognizerError> {
    let expected = sums
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?, it.next()?.trim_start_matches('*')))
        })
        .find(|(_, f)| *f == file_name)
        .map(|(h, _)| h.to_ascii_lowercase())
        .ok_or_else(|| RecognizerError::Weights(format!("no checksum listed for {file_name}")))?;
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(RecognizerError::Weights(format!(
            "checksum mismatch for {file_name}: expected {expected}, got {actual}"
        )));
    }
    Ok(())
}

/// Verifies both files of `model` against [`SHA256SUMS`] and parses them.
pub fn load_model(model: &ModelFiles) -> Result<WeightMap, RecognizerError> {
    verify_checksum(
        SHA256SUMS,
        &format!("{}-weights_manifest.json", model.name),
        model.manifest,
    )?;
    verify_checksum(SHA256SUMS, &format!("{}.bin", model.name), model.shard)?;
    parse_manifest(model.manifest, &[model.shard])
}

/// Parses a tfjs weights manifest and its shards (one per path, in order) into tensors.
///
/// Entries are read back to back in manifest order; uint8-quantised entries are dequantised
/// as `f32(f64(q) * scale + min)` (int32 ones rounded), raw float32/int32 read little-endian.
pub fn parse_manifest(manifest: &[u8], shards: &[&[u8]]) -> Result<WeightMap, RecognizerError> {
    let groups: Vec<ManifestGroup> = serde_json::from_slice(manifest)
        .map_err(|e| RecognizerError::Weights(format!("bad manifest: {e}")))?;
    let mut shard_iter = shards.iter();
    let mut tensors = HashMap::new();
    for g in groups {
        let mut buf: Vec<u8> = Vec::new();
        for p in &g.paths {
            let s = shard_iter
                .next()
                .ok_or_else(|| RecognizerError::Weights(format!("missing shard {p}")))?;
            buf.extend_from_slice(s);
        }
        let mut off = 0usize;
        for w in g.weights {
            let n: usize = w.shape.iter().product();
            let values = match &w.quantization {
                Some(q) => {
                    if q.dtype != "uint8" {
                        return Err(RecognizerError::Weights(format!(
                            "unsupported quantization {} for {}",
                            q.dtype, w.name
                        )));
                    }
                    let raw = buf.get(off..off + n).ok_or_else(|| {
                        RecognizerError::Weights(format!("shard too short for {}", w.name))
                    })?;
                    off += n;
                    raw.iter()
                        .map(|&b| {
                            let v = f64::from(b) * q.scale + q.min;
                            if w.dtype == "int32" {
                                v.round() as f32
                            } else {
                                v as f32
                            }
                        })
                        .collect::<Vec<f32>>()
                }
                None => {
                    let raw = buf.get(off..off + 4 * n).ok_or_else(|| {
                        RecognizerError::Weights(format!("shard too short for {}", w.name))
                    })?;
                    off += 4 * n;
                    raw.chunks_exact(4)
                        .map(|c| {
                            let b = [c[0], c[1], c[2], c[3]];
                            match w.dtype.as_str() {
                                "int32" => i32::from_le_bytes(b) as f32,
                                _ => f32::from_le_bytes(b),
                            }
                        })
                        .collect()
                }
            };
            tensors.insert(
                w.name,
                WeightTensor {
                    shape: w.shape,
                    values,
                },
            );
        }
        if off != buf.len() {
            return Err(RecognizerError::Weights(format!(
                "shard has {} bytes, manifest describes {off}",
                buf.len()
            )));
        }
    }
    Ok(WeightMap { tensors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_models_load_with_expected_counts() {
        for (m, n) in [
            (TINY_FACE_DETECTOR, 19),
            (SSD_MOBILENETV1, 151),
            (FACE_LANDMARK_68, 49),
            (FACE_RECOGNITION, 117),
        ] {
            let w = load_model(&m).expect("load");
            assert_eq!(w.len(), n, "{}", m.name);
        }
    }

    #[test]
    fn dequantisation_matches_tfjs_formula() {
        let w = load_model(&FACE_RECOGNITION).expect("load");
        let t = w
            .get_shaped("conv32_down/conv/filters", &[7, 7, 3, 32])
            .expect("t");
        let q = FACE_RECOGNITION.shard[0];
        let expected = (f64::from(q) * 0.0005260649557207145 + -0.07101876902229645) as f32;
        assert_eq!(t.values[0].to_bits(), expected.to_bits());
        // a raw float32 tensor
        let f = w
            .get_shaped("conv64_down/conv1/conv/filters", &[3, 3, 32, 64])
            .expect("f");
        assert!(f.values.iter().all(|v| v.is_finite()));
        assert!(f.values.iter().any(|v| *v != 0.0));
    }

    #[test]
    fn corrupted_bytes_fail_the_checksum() {
        let mut bad = FACE_LANDMARK_68.shard.to_vec();
        bad[10] ^= 1;
        let err = verify_checksum(SHA256SUMS, "face_landmark_68_model.bin", &bad).unwrap_err();
        assert!(matches!(err, RecognizerError::Weights(m) if m.contains("checksum mismatch")));
    }

    #[test]
    fn short_shard_is_an_error() {
        let short = &FACE_LANDMARK_68.shard[..100];
        assert!(parse_manifest(FACE_LANDMARK_68.manifest, &[short]).is_err());
    }
}
