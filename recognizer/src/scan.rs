//! The multi-scale scan plan: which detector passes find faces from `smallest_face` pixels up
//! to the whole frame, and how their detections are merged. Pure decisions, no networks: the
//! [`crate::Recognizer`] runs the plan.
//!
//! face-api runs SSD once on the frame fitted to 512 px, so a 1080p frame shrinks 3.75× and
//! faces under ~60 px vanish. The scan keeps that pass (level 0: the original's detections,
//! boxes and scores are kept unchanged) and adds a *fine* level at a scale where the
//! smallest wanted face is as large as the SSD needs, plus a *middle* level on frames where
//! the two are far apart (1440p and up). Each runs the net fully convolutionally on the scaled
//! frame (no repeated work between overlapping tiles), split into overlapping windows only
//! when the scaled frame is too large for one pass.

use serde::{Deserialize, Serialize};

use crate::types::{BoundingBox, Detection};

/// Shorter side (in detector-input pixels) of the smallest face the SSD still finds with a
/// clear score (`examples/scan_sweep.rs` measures it: 20–30 px faces of the classroom frames
/// score ≥ 0.8 from scale 0.6 up, erratically below it). The fine level scales the frame so
/// that `smallest_face` becomes this large (24 px → scale 0.6).
pub const SSD_MIN_FACE_PX: f64 = 14.4;
/// The same for the tiny detector (its stride-32 grid needs faces about three times larger:
/// 25-px faces score ≥ 0.5 only from a 1.25× upscale on the classroom frames).
pub const TINY_MIN_FACE_PX: f64 = 35.0;
/// Fine-level boxes with a width/height ratio outside this range are not faces (the net's
/// boxes for faces larger than its two heads handle); level 0 finds those faces.
pub const FACE_ASPECT: (f32, f32) = (0.45, 1.8);
/// Shorter side (in detector-input pixels) above which a level-0 box is kept as face-api's.
pub const RELIABLE_FACE_PX: f64 = 32.0;
/// Largest face (input pixels) the fine level's two heads are asked to find whole.
const FINE_MAX_FACE_PX: f64 = 128.0;
/// Input side of the face-api SSD pass.
const LEVEL0_SIDE: f64 = 512.0;
/// A fine level is only worth running when it is at least this much finer than level 0.
const MIN_LEVEL_RATIO: f64 = 1.25;
/// Above this ratio between the finest level and level 0 a middle level (their geometric
/// mean, two heads) is added, so that every face size has a level that sees it with context
/// at a comfortable size: two heads reach ~190 input px, and level 0 misses faces without
/// context (tight crops) below ~100 px. 1080p (ratio 2.25) needs none; 1440p and 4K do.
const MID_LEVEL_RATIO: f64 = 2.4;
/// Boxes closer than this to an inner window edge are left to the neighbouring window.
const SEAM_MARGIN_PX: f64 = 3.0;

/// How frames are scanned for faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// face-api's single pass over the frame fitted to the detector input: for near cameras
    /// and small frames (faces of at least ~1/30 of the frame's longer side).
    Single,
    /// The face-api pass plus a fine pass at native-like resolution for small faces. The
    /// default.
    #[default]
    Multiscale,
}

/// Limits of the multi-scale scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanLimits {
    /// Shorter side in frame pixels of the smallest face to look for.
    pub smallest_face: u32,
    /// At most this many scaled pixels in the fine level (bounds cost and memory on huge
    /// frames: the smallest face found grows instead).
    pub max_fine_pixels: usize,
    /// At most this many input pixels per fine window.
    pub max_window_pixels: usize,
    /// Shorter side (detector-input pixels) of the smallest face the detector finds:
    /// [`SSD_MIN_FACE_PX`] or [`TINY_MIN_FACE_PX`].
    pub detector_face_px: f64,
    /// Input side of the level-0 pass (512 for SSD, `tiny_input_size` for tiny).
    pub level0_side: f64,
}

impl Default for ScanLimits {
    fn default() -> Self {
        Self {
            smallest_face: 24,
            max_fine_pixels: 2_100_000,
            max_window_pixels: 1_300_000,
            detector_face_px: SSD_MIN_FACE_PX,
            level0_side: LEVEL0_SIDE,
        }
    }
}

/// One detector input of the fine level, in scaled-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Left column and top row in the scaled frame.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Scaled pixels of content (width, height); the input is padded to multiples of 32.
    pub width: usize,
    /// Content height.
    pub height: usize,
}

impl Window {
    /// The padded detector input (multiples of 32).
    pub fn input(&self) -> (usize, usize) {
        (self.width.div_ceil(32) * 32, self.height.div_ceil(32) * 32)
    }
}

/// The fine level of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct FineLevel {
    /// Scaled pixels per frame pixel.
    pub scale: f64,
    /// Scaled frame size.
    pub scaled: (usize, usize),
    /// Windows covering the scaled frame, overlapping by `overlap`.
    pub windows: Vec<Window>,
    /// Overlap of neighbouring windows in scaled pixels.
    pub overlap: usize,
    /// SSD predictor heads to run: 2 (stride 16 and 32, faces up to ~190 input px) on a
    /// middle level, or on the fine level when it is the only one, as they must also catch
    /// faces level 0 misses (tight crops without context); 1 (stride 16, up to ~100 px) on
    /// the finest level below a middle level.
    pub heads: usize,
}

/// What to run on a `width × height` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPlan {
    /// Scale of the face-api pass (512 / longer side).
    pub level0_scale: f64,
    /// The fine levels, coarsest first (none when the frame is small enough for level 0).
    pub fine: Vec<FineLevel>,
}

/// Plans the scan of a `width × height` frame.
pub fn plan(width: u32, height: u32, mode: ScanMode, limits: &ScanLimits) -> ScanPlan {
    let (w, h) = (f64::from(width), f64::from(height));
    let level0_scale = limits.level0_side / w.max(h).max(1.0);
    let mut plan = ScanPlan {
        level0_scale,
        fine: Vec::new(),
    };
    if mode == ScanMode::Single || width == 0 || height == 0 {
        return plan;
    }
    let wanted = limits.detector_face_px / f64::from(limits.smallest_face.max(1));
    let budget = (limits.max_fine_pixels as f64 / (w * h)).sqrt();
    // No upscaling: below the detector's own minimum, `smallest_face` acts as that minimum.
    let scale = wanted.min(1.0).min(budget);
    // Not worth it, or a frame so thin at that scale that no face fits across it.
    if scale < level0_scale * MIN_LEVEL_RATIO || w.min(h) * scale < limits.detector_face_px * 2.0 {
        return plan;
    }
    let mid = scale > level0_scale * MID_LEVEL_RATIO;
    if mid {
        let mid = (scale * level0_scale).sqrt();
        plan.fine.push(level((w, h), mid, level0_scale, 2, limits));
    }
    plan.fine.push(level(
        (w, h),
        scale,
        level0_scale,
        if mid { 1 } else { 2 },
        limits,
    ));
    plan
}

fn level(
    (w, h): (f64, f64),
    scale: f64,
    level0_scale: f64,
    heads: usize,
    limits: &ScanLimits,
) -> FineLevel {
    let scaled = (
        ((w * scale).floor() as usize).max(1),
        ((h * scale).floor() as usize).max(1),
    );
    // Faces that level 0 does not resolve reliably must fit whole in some window.
    let needed = (RELIABLE_FACE_PX / level0_scale * scale).min(FINE_MAX_FACE_PX);
    let overlap = (needed.ceil() as usize + 2 * SEAM_MARGIN_PX as usize).next_multiple_of(8);
    let windows = split_windows(scaled, overlap, limits.max_window_pixels.max(64 * 64));
    FineLevel {
        scale,
        scaled,
        windows,
        overlap,
        heads,
    }
}

/// Splits a scaled frame into the fewest overlapping windows whose padded input stays
/// within `max_pixels`, cutting the longer window side first.
pub fn split_windows((w, h): (usize, usize), overlap: usize, max_pixels: usize) -> Vec<Window> {
    let (mut nx, mut ny) = (1usize, 1usize);
    let side = |n: usize, len: usize| (len + (n - 1) * overlap).div_ceil(n);
    loop {
        let (tw, th) = (side(nx, w), side(ny, h));
        let input = tw.div_ceil(32) * 32 * th.div_ceil(32) * 32;
        if input <= max_pixels || (tw <= overlap * 2 && th <= overlap * 2) {
            break;
        }
        if tw >= th { nx += 1 } else { ny += 1 }
    }
    let (tw, th) = (side(nx, w), side(ny, h));
    let starts = |n: usize, t: usize, len: usize| -> Vec<usize> {
        (0..n)
            .map(|i| if n == 1 { 0 } else { (len - t) * i / (n - 1) })
            .collect()
    };
    let mut out = Vec::with_capacity(nx * ny);
    for y in starts(ny, th.min(h), h) {
        for x in starts(nx, tw.min(w), w) {
            out.push(Window {
                x,
                y,
                width: tw.min(w),
                height: th.min(h),
            });
        }
    }
    out
}

/// Whether a box (in window pixels) touches an edge of `window` that is inside the scaled
/// frame: the neighbouring window, which overlaps it, sees that face whole.
pub fn on_inner_seam(b: &BoundingBox, window: &Window, scaled: (usize, usize)) -> bool {
    let m = SEAM_MARGIN_PX as f32;
    (window.x > 0 && b.x < m)
        || (window.y > 0 && b.y < m)
        || (window.x + window.width < scaled.0 && b.x + b.width > window.width as f32 - m)
        || (window.y + window.height < scaled.1 && b.y + b.height > window.height as f32 - m)
}

/// A detection and the scale (detector-input pixels per frame pixel) it was found at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaledDetection {
    /// The detection in frame pixels.
    pub detection: Detection,
    /// Scale of the pass that found it.
    pub scale: f64,
    /// Whether it came from level 0 (face-api's pass).
    pub level0: bool,
}

/// Whether two boxes are the same face: IoU above `iou`, or most of the smaller box inside
/// the larger (a face found at two scales, one box cut tighter).
pub fn same_face(a: &BoundingBox, b: &BoundingBox, iou: f32) -> bool {
    let ix = (a.x + a.width).min(b.x + b.width) - a.x.max(b.x);
    let iy = (a.y + a.height).min(b.y + b.height) - a.y.max(b.y);
    let inter = ix.max(0.0) * iy.max(0.0);
    let smaller = a.area().min(b.area());
    a.iou(b) > iou || (smaller > 0.0 && inter / smaller > 0.7)
}

/// Merges the detections of every pass. Level-0 faces large enough to be reliable are kept
/// exactly as face-api returns them (already its NMS'd, at most `max`); the rest are added
/// best score first unless they are the same face as one already kept, up to `max` faces in
/// all. Returned best first.
pub fn merge(cands: Vec<ScaledDetection>, iou: f32, max: usize) -> Vec<Detection> {
    let reliable = |c: &ScaledDetection| {
        c.level0
            && f64::from(c.detection.bbox.width.min(c.detection.bbox.height)) * c.scale
                >= RELIABLE_FACE_PX
    };
    let (kept, mut rest): (Vec<ScaledDetection>, Vec<ScaledDetection>) =
        cands.into_iter().partition(reliable);
    let mut kept: Vec<Detection> = kept.into_iter().map(|c| c.detection).take(max).collect();
    rest.sort_by(|a, b| b.detection.score.total_cmp(&a.detection.score));
    for c in rest {
        if kept.len() >= max {
            break;
        }
        if !kept
            .iter()
            .any(|k| same_face(&k.bbox, &c.detection.bbox, iou))
        {
            kept.push(c.detection);
        }
    }
    kept.sort_by(|a, b| b.score.total_cmp(&a.score));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32, h: f32, score: f32) -> Detection {
        Detection {
            bbox: BoundingBox {
                x,
                y,
                width: w,
                height: h,
            },
            score,
        }
    }

    #[test]
    fn small_frames_and_single_mode_get_one_pass() {
        let l = ScanLimits::default();
        assert!(plan(640, 480, ScanMode::Multiscale, &l).fine.is_empty());
        assert!(plan(1920, 1080, ScanMode::Single, &l).fine.is_empty());
        assert!(plan(0, 0, ScanMode::Multiscale, &l).fine.is_empty());
        // 960 px: level 0 at 0.53, the fine level (0.6) is not finer enough.
        assert!(plan(960, 540, ScanMode::Multiscale, &l).fine.is_empty());
    }

    #[test]
    fn hd_frame_gets_one_fine_level_in_one_window() {
        let p = plan(1920, 1080, ScanMode::Multiscale, &ScanLimits::default());
        assert_eq!(p.fine.len(), 1);
        let fine = &p.fine[0];
        assert_eq!(fine.heads, 2);
        assert!((fine.scale - SSD_MIN_FACE_PX / 24.0).abs() < 1e-9);
        assert_eq!(fine.scaled, (1152, 648));
        assert_eq!(fine.windows.len(), 1);
        assert_eq!(fine.windows[0].input(), (1152, 672));
    }

    #[test]
    fn larger_frames_add_a_middle_level_with_two_heads() {
        let p = plan(2560, 1440, ScanMode::Multiscale, &ScanLimits::default());
        assert_eq!(p.fine.len(), 2);
        let (mid, fine) = (&p.fine[0], &p.fine[1]);
        assert!((mid.scale - (p.level0_scale * fine.scale).sqrt()).abs() < 1e-9);
        assert_eq!((mid.heads, fine.heads), (2, 1));
        assert!(mid.scale < fine.scale);
    }

    #[test]
    fn uhd_frame_is_capped_and_split_into_covering_windows() {
        let l = ScanLimits::default();
        let p = plan(3840, 2160, ScanMode::Multiscale, &l);
        let fine = p.fine.last().expect("fine level");
        let (sw, sh) = fine.scaled;
        assert!(sw * sh <= l.max_fine_pixels, "{sw}x{sh}");
        assert!(fine.windows.len() >= 2);
        for win in &fine.windows {
            let (iw, ih) = win.input();
            assert!(iw * ih <= l.max_window_pixels, "{win:?}");
        }
        // Every scaled pixel is covered, and neighbours overlap by at least `overlap`.
        for y in (0..sh).step_by(7) {
            for x in (0..sw).step_by(7) {
                assert!(
                    fine.windows
                        .iter()
                        .any(|w| x >= w.x && x < w.x + w.width && y >= w.y && y < w.y + w.height)
                );
            }
        }
        let mut xs: Vec<_> = fine.windows.iter().map(|w| (w.x, w.width)).collect();
        xs.sort();
        xs.dedup();
        for pair in xs.windows(2) {
            assert!(pair[0].0 + pair[0].1 >= pair[1].0 + fine.overlap);
        }
    }

    #[test]
    fn extreme_frames_get_bounded_windows() {
        let l = ScanLimits::default();
        // A frame too thin for a face at the fine scale gets no fine level at all.
        assert!(plan(33, 2000, ScanMode::Multiscale, &l).fine.is_empty());
        assert!(plan(1, 100_000, ScanMode::Multiscale, &l).fine.is_empty());
        for (w, h) in [(1, 100_000), (100_000, 1), (33, 2000), (8000, 5000)] {
            let p = plan(w, h, ScanMode::Multiscale, &l);
            for level in &p.fine {
                let (sw, sh) = level.scaled;
                assert!(sw * sh <= l.max_fine_pixels, "{w}x{h}: {sw}x{sh}");
                assert!(!level.windows.is_empty(), "{w}x{h}");
                for win in &level.windows {
                    let (iw, ih) = win.input();
                    assert!(iw * ih <= l.max_window_pixels, "{w}x{h}: {win:?}");
                    assert!(win.x + win.width <= sw && win.y + win.height <= sh);
                }
            }
        }
    }

    #[test]
    fn seam_boxes_are_left_to_the_neighbour() {
        let win = Window {
            x: 100,
            y: 0,
            width: 200,
            height: 200,
        };
        let scaled = (400, 200);
        let b = |x: f32, w: f32| det(x, 50.0, w, 30.0, 0.9).bbox;
        assert!(on_inner_seam(&b(1.0, 20.0), &win, scaled));
        assert!(on_inner_seam(&b(180.0, 19.0), &win, scaled));
        assert!(!on_inner_seam(&b(50.0, 20.0), &win, scaled));
        // The frame's own top and bottom edges are not seams.
        let top = det(50.0, 0.0, 20.0, 30.0, 0.9).bbox;
        assert!(!on_inner_seam(&top, &win, scaled));
    }

    #[test]
    fn merge_keeps_reliable_level0_boxes_and_adds_new_faces() {
        let l0 = ScaledDetection {
            detection: det(100.0, 100.0, 200.0, 220.0, 0.7),
            scale: 0.25,
            level0: true,
        };
        // The same face seen finer with a higher score: level 0's box stays.
        let fine_dup = ScaledDetection {
            detection: det(105.0, 95.0, 190.0, 215.0, 0.95),
            scale: 0.66,
            level0: false,
        };
        let fine_new = ScaledDetection {
            detection: det(600.0, 100.0, 30.0, 34.0, 0.8),
            scale: 0.66,
            level0: false,
        };
        // A tiny level-0 box of the new face loses to the fine one (better score).
        let l0_small = ScaledDetection {
            detection: det(598.0, 99.0, 33.0, 36.0, 0.55),
            scale: 0.25,
            level0: true,
        };
        let out = merge(vec![fine_dup, l0_small, fine_new, l0], 0.5, 10);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], fine_new.detection);
        assert_eq!(out[1], l0.detection);
        assert_eq!(merge(vec![fine_new, l0], 0.5, 1).len(), 1);
    }

    #[test]
    fn reliable_level0_boxes_are_never_merged_away() {
        // face-api returned both (its own NMS kept them): the scan keeps both.
        let a = ScaledDetection {
            detection: det(0.0, 0.0, 200.0, 200.0, 0.9),
            scale: 0.5,
            level0: true,
        };
        let b = ScaledDetection {
            detection: det(20.0, 20.0, 150.0, 150.0, 0.6),
            ..a
        };
        assert_eq!(merge(vec![a, b], 0.5, 10).len(), 2);
    }

    #[test]
    fn a_box_inside_a_larger_one_is_the_same_face() {
        let big = det(0.0, 0.0, 100.0, 100.0, 0.9).bbox;
        let inner = det(20.0, 20.0, 40.0, 40.0, 0.9).bbox;
        let apart = det(200.0, 0.0, 40.0, 40.0, 0.9).bbox;
        assert!(same_face(&big, &inner, 0.5));
        assert!(!same_face(&big, &apart, 0.5));
    }
}
