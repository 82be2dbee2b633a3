//! Comparison with the original face-api outputs (`shared/faces/reference/*.json`), used by
//! the parity test and by `cavs-recognize parity`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::decode::{DecodeLimits, decode_file};
use crate::error::RecognizerError;
use crate::recognizer::{DetectorKind, Recognizer};
use crate::types::{BoundingBox, FaceAnalysis};

/// A reference output file (`dev.json`, `dev-png.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceFile {
    /// One entry per image, in input order.
    pub results: Vec<ReferenceImage>,
    /// Timing of the reference run (ms).
    #[serde(default)]
    pub timing: serde_json::Value,
}

/// Reference output for one image.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceImage {
    /// File name.
    pub image: String,
    /// Per detector: `ssd_mobilenetv1`, `tiny_face_detector`.
    #[serde(default)]
    pub detectors: std::collections::HashMap<String, ReferenceDetector>,
}

/// Reference output of one detector on one image.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceDetector {
    /// Faces with landmarks and descriptors.
    pub faces: Vec<ReferenceFace>,
}

/// One reference face.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceFace {
    /// `[x, y, w, h]` pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Detector score.
    pub score: f32,
    /// 68 points.
    pub landmarks: Vec<[f32; 2]>,
    /// 128 floats.
    pub descriptor: Vec<f32>,
}

impl ReferenceFace {
    /// The box as a [`BoundingBox`].
    pub fn bounding_box(&self) -> BoundingBox {
        BoundingBox {
            x: self.bbox[0],
            y: self.bbox[1],
            width: self.bbox[2],
            height: self.bbox[3],
        }
    }
}

/// Reads a reference JSON file.
pub fn load_reference(path: &Path) -> Result<ReferenceFile, RecognizerError> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RecognizerError::Decode(format!("{}: {e}", path.display())))
}

/// Name of a detector in the reference files.
pub fn reference_key(kind: DetectorKind) -> &'static str {
    match kind {
        DetectorKind::Ssd => "ssd_mobilenetv1",
        DetectorKind::Tiny => "tiny_face_detector",
    }
}

/// One reference face compared with its best-overlapping face of ours.
#[derive(Debug, Clone, Serialize)]
pub struct FaceComparison {
    /// Image file name.
    pub image: String,
    /// Box IoU (0 when we found nothing there).
    pub iou: f32,
    /// Mean euclidean landmark error, pixels.
    pub landmark_mean_px: f32,
    /// Descriptor L2 distance to the reference descriptor.
    pub descriptor_l2: f32,
    /// |score difference|.
    pub score_diff: f32,
}

/// Aggregate of a parity run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ParityReport {
    /// Detector compared.
    pub detector: String,
    /// Images compared.
    pub images: usize,
    /// Reference faces.
    pub reference_faces: usize,
    /// Faces we found.
    pub our_faces: usize,
    /// Reference faces with no face of ours at IoU ≥ 0.5.
    pub missed: usize,
    /// Per-face comparisons (matched faces only).
    pub faces: Vec<FaceComparison>,
    /// Median descriptor L2.
    pub descriptor_l2_median: f32,
    /// Maximum descriptor L2.
    pub descriptor_l2_max: f32,
    /// Minimum box IoU.
    pub iou_min: f32,
    /// Maximum per-face mean landmark error (px).
    pub landmark_mean_px_max: f32,
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Compares one image's faces with the reference faces.
pub fn compare_faces(
    image: &str,
    ours: &[FaceAnalysis],
    theirs: &[ReferenceFace],
    report: &mut ParityReport,
) {
    report.images += 1;
    report.reference_faces += theirs.len();
    report.our_faces += ours.len();
    for t in theirs {
        let tb = t.bounding_box();
        let best = ours
            .iter()
            .map(|o| (o.detection.bbox.iou(&tb), o))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((iou, o)) if iou >= 0.5 => {
                let lm = o
                    .landmarks
                    .iter()
                    .zip(&t.landmarks)
                    .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
                    .sum::<f32>()
                    / t.landmarks.len().max(1) as f32;
                let l2 = o
                    .descriptor
                    .0
                    .iter()
                    .zip(&t.descriptor)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
                    .sqrt();
                report.faces.push(FaceComparison {
                    image: image.to_string(),
                    iou,
                    landmark_mean_px: lm,
                    descriptor_l2: l2,
                    score_diff: (o.detection.score - t.score).abs(),
                });
            }
            _ => report.missed += 1,
        }
    }
}

/// Finishes the aggregate figures.
pub fn finish(report: &mut ParityReport) {
    let mut l2: Vec<f32> = report.faces.iter().map(|f| f.descriptor_l2).collect();
    report.descriptor_l2_max = l2.iter().copied().fold(0.0, f32::max);
    report.descriptor_l2_median = median(&mut l2);
    report.iou_min = report.faces.iter().map(|f| f.iou).fold(1.0, f32::min);
    report.landmark_mean_px_max = report
        .faces
        .iter()
        .map(|f| f.landmark_mean_px)
        .fold(0.0, f32::max);
}

/// Runs `rec` (with detector `kind`) on the PNGs of `png_dir` listed in `reference` (all, or
/// those whose name is in `only`) and compares with the reference.
pub fn run_png_parity(
    rec: &Recognizer,
    kind: DetectorKind,
    reference: &ReferenceFile,
    png_dir: &Path,
    only: Option<&[&str]>,
) -> Result<ParityReport, RecognizerError> {
    let mut report = ParityReport {
        detector: reference_key(kind).to_string(),
        ..ParityReport::default()
    };
    let limits = DecodeLimits {
        apply_orientation: false,
        ..DecodeLimits::default()
    };
    for r in &reference.results {
        if only.is_some_and(|o| !o.contains(&r.image.as_str())) {
            continue;
        }
        let Some(det) = r.detectors.get(reference_key(kind)) else {
            continue;
        };
        let img = decode_file(png_dir.join(&r.image), &limits)?;
        let dets = rec.detect_with(&img, kind)?;
        let ours = rec.embed_faces(&img, &dets)?;
        compare_faces(&r.image, &ours, &det.faces, &mut report);
    }
    finish(&mut report);
    Ok(report)
}
