//! Box decoding and non-maximum suppression for both detectors, as in face-api.

use crate::nets::ssd::SsdRaw;
use crate::nets::tiny::ANCHORS;
use crate::preprocess::js_round;
use crate::types::{BoundingBox, Detection};

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// (x0, y0, x1, y1) IoU; 0 for empty boxes.
fn iou_corners(a: [f64; 4], b: [f64; 4]) -> f64 {
    let (ax0, ax1) = (a[0].min(a[2]), a[0].max(a[2]));
    let (ay0, ay1) = (a[1].min(a[3]), a[1].max(a[3]));
    let (bx0, bx1) = (b[0].min(b[2]), b[0].max(b[2]));
    let (by0, by1) = (b[1].min(b[3]), b[1].max(b[3]));
    let aa = (ax1 - ax0) * (ay1 - ay0);
    let ab = (bx1 - bx0) * (by1 - by0);
    if aa <= 0.0 || ab <= 0.0 {
        return 0.0;
    }
    let inter = (ax1.min(bx1) - ax0.max(bx0)).max(0.0) * (ay1.min(by1) - ay0.max(by0)).max(0.0);
    inter / (aa + ab - inter)
}

/// Greedy NMS over (score, corners) candidates: highest score first, a candidate is dropped
/// when its IoU with a kept box is above `iou_threshold`. On equal scores the earlier
/// candidate goes first, or the later one when `later_wins_ties` (face-api's tiny detector).
/// Returns kept indices.
pub(crate) fn nms(
    cands: &[(f64, [f64; 4])],
    iou_threshold: f64,
    max: usize,
    later_wins_ties: bool,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| {
        cands[b]
            .0
            .partial_cmp(&cands[a].0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(if later_wins_ties {
                b.cmp(&a)
            } else {
                a.cmp(&b)
            })
    });
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.len() >= max {
            break;
        }
        if keep
            .iter()
            .all(|&k| iou_corners(cands[i].1, cands[k].1) <= iou_threshold)
        {
            keep.push(i);
        }
    }
    keep
}

/// Reshaped-size correction factors (`S / round(W·S/max)`, `S / round(H·S/max)`).
fn correction(size: usize, w: u32, h: u32) -> (f64, f64) {
    let s = size as f64;
    let m = f64::from(w.max(h));
    let rw = js_round(f64::from(w) * s / m).max(1.0);
    let rh = js_round(f64::from(h) * s / m).max(1.0);
    (s / rw, s / rh)
}

/// The tiny detector's cells and anchors scoring above `threshold` in its raw output
/// (`gh·gw·25`, row/col/channel order): (score, [centre x, centre y, width, height]) in grid
/// cells, in row/col/anchor order.
pub(crate) fn tiny_cells(
    raw: &[f32],
    (gh, gw): (usize, usize),
    threshold: f32,
) -> Vec<(f64, [f64; 4])> {
    let mut out = Vec::new();
    for r in 0..gh {
        for c in 0..gw {
            for (a, (aw, ah)) in ANCHORS.iter().enumerate() {
                let base = (r * gw + c) * 25 + a * 5;
                let Some(t) = raw.get(base..base + 5) else {
                    continue;
                };
                let score = sigmoid(f64::from(t[4]));
                if score > f64::from(threshold) {
                    out.push((
                        score,
                        [
                            c as f64 + sigmoid(f64::from(t[0])),
                            r as f64 + sigmoid(f64::from(t[1])),
                            f64::from(t[2]).exp() * f64::from(*aw),
                            f64::from(t[3]).exp() * f64::from(*ah),
                        ],
                    ));
                }
            }
        }
    }
    out
}

/// Decodes the tiny detector's raw output (`G·G·25`, row/col/channel order).
pub fn decode_tiny(
    raw: &[f32],
    size: usize,
    img_w: u32,
    img_h: u32,
    score_threshold: f32,
    iou_threshold: f32,
    max: usize,
) -> Vec<Detection> {
    let g = size / 32;
    let (cx_f, cy_f) = correction(size, img_w, img_h);
    let gf = g as f64;
    let cands: Vec<(f64, [f64; 4])> = tiny_cells(raw, (g, g), score_threshold)
        .into_iter()
        .map(|(score, [cx, cy, cw, ch])| {
            let x = cx / gf * cx_f;
            let y = cy / gf * cy_f;
            let bw = cw / gf * cx_f;
            let bh = ch / gf * cy_f;
            (
                score,
                [x - bw / 2.0, y - bh / 2.0, x + bw / 2.0, y + bh / 2.0],
            )
        })
        .collect();
    let (w, h) = (f64::from(img_w), f64::from(img_h));
    nms(&cands, f64::from(iou_threshold), max, true)
        .into_iter()
        .map(|i| {
            let (s, b) = cands[i];
            Detection {
                bbox: BoundingBox {
                    x: (b[0] * w) as f32,
                    y: (b[1] * h) as f32,
                    width: ((b[2] - b[0]) * w) as f32,
                    height: ((b[3] - b[1]) * h) as f32,
                },
                score: s as f32,
            }
        })
        .collect()
}

/// Decodes SSD outputs against the anchors; returns the decoded (ymin, xmin, ymax, xmax)
/// boxes and sigmoid scores.
pub fn decode_ssd_raw(raw: &SsdRaw, anchors: &[[f32; 4]]) -> (Vec<[f64; 4]>, Vec<f64>) {
    let mut boxes = Vec::with_capacity(anchors.len());
    let mut scores = Vec::with_capacity(anchors.len());
    for ((t, a), cl) in raw.boxes.iter().zip(anchors).zip(&raw.classes) {
        let a = a.map(f64::from);
        let t = t.map(f64::from);
        let ah = a[2] - a[0];
        let aw = a[3] - a[1];
        let acy = a[0] + ah / 2.0;
        let acx = a[1] + aw / 2.0;
        let cy = t[0] / 10.0 * ah + acy;
        let cx = t[1] / 10.0 * aw + acx;
        let hh = (t[2] / 5.0).exp() * ah / 2.0;
        let hw = (t[3] / 5.0).exp() * aw / 2.0;
        boxes.push([cy - hh, cx - hw, cy + hh, cx + hw]);
        scores.push(sigmoid(f64::from(cl[1])));
    }
    (boxes, scores)
}

/// SSD decoding + NMS + mapping to image pixels.
pub fn decode_ssd(
    raw: &SsdRaw,
    anchors: &[[f32; 4]],
    img_w: u32,
    img_h: u32,
    score_threshold: f32,
    iou_threshold: f32,
    max: usize,
) -> Vec<Detection> {
    let (boxes, scores) = decode_ssd_raw(raw, anchors);
    let cands: Vec<(f64, [f64; 4])> = boxes
        .iter()
        .zip(&scores)
        .filter(|(_, s)| **s > f64::from(score_threshold))
        .map(|(b, s)| (*s, *b))
        .collect();
    let (px, py) = correction(crate::nets::ssd::INPUT_SIZE, img_w, img_h);
    let (w, h) = (f64::from(img_w), f64::from(img_h));
    nms(&cands, f64::from(iou_threshold), max, false)
        .into_iter()
        .map(|i| {
            let (s, b) = cands[i];
            let top = b[0].max(0.0) * py;
            let bottom = b[2].min(1.0) * py;
            let left = b[1].max(0.0) * px;
            let right = b[3].min(1.0) * px;
            Detection {
                bbox: BoundingBox {
                    x: (left * w) as f32,
                    y: (top * h) as f32,
                    width: ((right - left) * w) as f32,
                    height: ((bottom - top) * h) as f32,
                },
                score: s as f32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_suppresses_overlaps_and_keeps_order() {
        let c = vec![
            (0.6, [0.0, 0.0, 1.0, 1.0]),
            (0.9, [0.05, 0.0, 1.05, 1.0]),
            (0.7, [5.0, 5.0, 6.0, 6.0]),
        ];
        assert_eq!(nms(&c, 0.5, 10, false), vec![1, 2]);
        assert_eq!(nms(&c, 0.5, 1, false), vec![1]);
        let tie = vec![(0.8, [0.0, 0.0, 1.0, 1.0]), (0.8, [0.0, 0.0, 1.0, 1.0])];
        assert_eq!(nms(&tie, 0.5, 10, false), vec![0]);
        assert_eq!(nms(&tie, 0.5, 10, true), vec![1]);
        let tie = vec![(0.8, [0.0, 0.0, 1.0, 1.0]), (0.8, [0.0, 0.0, 1.0, 1.0])];
        assert_eq!(nms(&tie, 0.5, 10, false), vec![0]);
        assert_eq!(nms(&tie, 0.5, 10, true), vec![1]);
    }

    #[test]
    fn correction_uses_half_up_rounding() {
        // 1920x1350 at 416: 1350*416/1920 = 292.5 -> 293
        let (cx, cy) = correction(416, 1920, 1350);
        assert_eq!(cx, 1.0);
        assert!((cy - 416.0 / 293.0).abs() < 1e-12);
    }
}
