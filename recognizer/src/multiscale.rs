//! Runs the fine level of a [`crate::scan::ScanPlan`] on a detector network: each window of
//! the scaled frame is one fully convolutional pass; its boxes are decoded in input pixels,
//! cleaned of seam cuts and mapped back to frame pixels.

use image::RgbImage;

use crate::detect::{decode_ssd_raw, nms, tiny_cells};
use crate::error::RecognizerError;
use crate::nets::ssd::SsdNet;
use crate::nets::tiny::TinyNet;
use crate::preprocess::{Normalize, RgbView, ScaledWindow, TINY_MEAN, prepare_window};
use crate::recognizer::{DetectorKind, Recognizer};
use crate::scan;
use crate::scan::{FACE_ASPECT, FineLevel, ScaledDetection, on_inner_seam};
use crate::types::{BoundingBox, Detection};

impl Recognizer {
    /// Runs the configured scan: level 0, then the plan's finer levels, merged.
    pub(crate) fn detect_scan(&self, rgb: &RgbImage) -> Result<Vec<Detection>, RecognizerError> {
        let c = self.config();
        let (w, h) = rgb.dimensions();
        let plan = scan::plan(w, h, c.scan, &self.scan_limits());
        let level0 = self.detect_rgb(rgb, c.detector)?;
        if plan.fine.is_empty() {
            return Ok(level0);
        }
        let level0_scale = plan.level0_scale;
        let mut cands: Vec<ScaledDetection> = level0
            .into_iter()
            .map(|detection| ScaledDetection {
                detection,
                scale: level0_scale,
                level0: true,
            })
            .collect();
        let detector = match c.detector {
            DetectorKind::Ssd => FineDetector::Ssd(self.nets().ssd),
            DetectorKind::Tiny => FineDetector::Tiny(self.nets().tiny),
        };
        let settings = PassSettings {
            min_confidence: c.min_confidence,
            nms_iou: c.nms_iou,
            max_faces: c.max_faces,
        };
        // Too-small fine boxes go before the merge, so they cannot displace a kept level-0 box
        // of the same face (level 0 is already filtered by `detect_rgb`).
        let min = c.min_face_size as f32;
        for fine in &plan.fine {
            cands.extend(
                detect_fine(detector, rgb, fine, &settings)?
                    .into_iter()
                    .filter(|d| d.detection.bbox.width.min(d.detection.bbox.height) >= min),
            );
        }
        Ok(scan::merge(cands, c.nms_iou, c.max_faces))
    }
}

/// The detector that runs the fine level.
#[derive(Debug, Clone, Copy)]
pub enum FineDetector<'a> {
    /// SSD, the level's first one or two heads.
    Ssd(&'a SsdNet),
    /// The tiny detector.
    Tiny(&'a TinyNet),
}

/// Score and NMS settings of a pass.
#[derive(Debug, Clone, Copy)]
pub struct PassSettings {
    /// Scores must be strictly above this.
    pub min_confidence: f32,
    /// NMS IoU within one window.
    pub nms_iou: f32,
    /// At most this many boxes per window.
    pub max_faces: usize,
}

/// Detects faces over every window of `fine`; boxes in frame pixels.
pub fn detect_fine(
    detector: FineDetector<'_>,
    rgb: &RgbImage,
    fine: &FineLevel,
    settings: &PassSettings,
) -> Result<Vec<ScaledDetection>, RecognizerError> {
    let (w, h) = rgb.dimensions();
    let ratio = (
        f64::from(w) / fine.scaled.0 as f64,
        f64::from(h) / fine.scaled.1 as f64,
    );
    let view = RgbView::full(rgb);
    let mut out = Vec::new();
    let mut input = Vec::new();
    for win in &fine.windows {
        let (iw, ih) = win.input();
        let norm = match detector {
            FineDetector::Ssd(_) => Normalize::Ssd,
            FineDetector::Tiny(_) => Normalize::MeanDiv255(TINY_MEAN),
        };
        input.clear();
        input.resize(3 * iw * ih, 0.0);
        // The padding of the input to a multiple of 32 is filled with real pixels where the
        // frame goes on (inner edges), with face-api's padding only past the frame's edge.
        let content = (iw.min(fine.scaled.0 - win.x), ih.min(fine.scaled.1 - win.y));
        let sw = ScaledWindow {
            ratio,
            origin: (win.x, win.y),
            content,
            input: (iw, ih),
        };
        prepare_window(&view, &sw, norm, &mut input);
        let raw = match detector {
            FineDetector::Ssd(net) => ssd_candidates(net, &input, (iw, ih), fine.heads, settings)?,
            FineDetector::Tiny(net) => tiny_candidates(net, &input, iw, ih, settings)?,
        };
        // Shape and seam filters before NMS, so a box left to the neighbouring window cannot
        // suppress one this window keeps.
        let cands: Vec<(f64, BoundingBox)> = raw
            .into_iter()
            .filter(|(_, b)| {
                let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
                bh > 0.0 && (FACE_ASPECT.0..=FACE_ASPECT.1).contains(&((bw / bh) as f32))
            })
            .filter_map(|(score, b)| Some((score, clamp_to((b[0], b[1], b[2], b[3]), content)?)))
            .filter(|(_, bbox)| !on_inner_seam(bbox, win, fine.scaled))
            .collect();
        let corners: Candidates = cands
            .iter()
            .map(|(score, b)| {
                let (x, y) = (f64::from(b.x), f64::from(b.y));
                let (x1, y1) = (x + f64::from(b.width), y + f64::from(b.height));
                (*score, [x, y, x1, y1])
            })
            .collect();
        let keep = nms(
            &corners,
            f64::from(settings.nms_iou),
            settings.max_faces,
            false,
        );
        for i in keep {
            let (score, bbox) = cands[i];
            out.push(ScaledDetection {
                detection: Detection {
                    bbox: BoundingBox {
                        x: ((f64::from(bbox.x) + win.x as f64) * ratio.0) as f32,
                        y: ((f64::from(bbox.y) + win.y as f64) * ratio.1) as f32,
                        width: (f64::from(bbox.width) * ratio.0) as f32,
                        height: (f64::from(bbox.height) * ratio.1) as f32,
                    },
                    score: score as f32,
                },
                scale: fine.scale,
                level0: false,
            });
        }
    }
    Ok(out)
}

/// (score, [x0, y0, x1, y1] in input pixels) above the score threshold.
type Candidates = Vec<(f64, [f64; 4])>;

fn ssd_candidates(
    net: &SsdNet,
    input: &[f32],
    (iw, ih): (usize, usize),
    heads: usize,
    s: &PassSettings,
) -> Result<Candidates, RecognizerError> {
    let grid = net.forward_grid(input, ih, iw, heads)?;
    let (boxes, scores) = decode_ssd_raw(&grid.raw, &grid.anchors);
    Ok(boxes
        .iter()
        .zip(&scores)
        .filter(|(_, sc)| **sc > f64::from(s.min_confidence))
        .map(|(b, sc)| (*sc, [b[1], b[0], b[3], b[2]]))
        .collect())
}

fn tiny_candidates(
    net: &TinyNet,
    input: &[f32],
    iw: usize,
    ih: usize,
    s: &PassSettings,
) -> Result<Candidates, RecognizerError> {
    let raw = net.forward_grid(input.to_vec(), ih, iw)?;
    Ok(tiny_cells(&raw, (ih / 32, iw / 32), s.min_confidence)
        .into_iter()
        .map(|(score, [cx, cy, cw, ch])| {
            let (x, y, bw, bh) = (cx * 32.0, cy * 32.0, cw * 32.0, ch * 32.0);
            (
                score,
                [x - bw / 2.0, y - bh / 2.0, x + bw / 2.0, y + bh / 2.0],
            )
        })
        .collect())
}

/// Clamps a box to the window's content (as face-api clamps to the image); `None` when
/// nothing is left.
fn clamp_to((x0, y0, x1, y1): (f64, f64, f64, f64), (w, h): (usize, usize)) -> Option<BoundingBox> {
    let x0 = x0.max(0.0);
    let y0 = y0.max(0.0);
    let x1 = x1.min(w as f64);
    let y1 = y1.min(h as f64);
    (x1 > x0 && y1 > y0).then_some(BoundingBox {
        x: x0 as f32,
        y: y0 as f32,
        width: (x1 - x0) as f32,
        height: (y1 - y0) as f32,
    })
}
