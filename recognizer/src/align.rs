//! Landmark post-processing and face-api's dlib-style recognition rect.

use crate::nets::landmarks::INPUT_SIZE;
use crate::preprocess::PixelRect;

/// Maps the landmark net's raw output for a crop of `crop` size to image pixels, shifted by
/// the raw (unclipped, unfloored) detection origin `(ox, oy)` exactly as face-api does.
pub fn landmarks_to_image(raw: &[f32; 136], crop: PixelRect, ox: f32, oy: f32) -> Vec<[f32; 2]> {
    let (w, h) = (f64::from(crop.width), f64::from(crop.height));
    let n = INPUT_SIZE as f64;
    let s = n / w.max(h);
    let (sw, sh) = (w * s, h * s);
    let pad_x = if sw < sh { (sh - sw) / 2.0 } else { 0.0 };
    let pad_y = if sh < sw { (sw - sh) / 2.0 } else { 0.0 };
    raw.chunks_exact(2)
        .map(|p| {
            let xr = (f64::from(p[0]) * n - pad_x) / sw;
            let yr = (f64::from(p[1]) * n - pad_y) / sh;
            [
                (xr * w + f64::from(ox)) as f32,
                (yr * h + f64::from(oy)) as f32,
            ]
        })
        .collect()
}

/// face-api's `align(useDlibAlignment)` rect from 68 image-space landmarks: centred on the
/// eyes and mouth, side `floor(d / 0.45)`; `crop_w`/`crop_h` (the landmark crop size) cap the
/// size near the left/top border. Returns (x, y, w, h) before clipping to the image.
pub fn dlib_rect(pts: &[[f32; 2]], crop_w: u32, crop_h: u32) -> Option<[f64; 4]> {
    if pts.len() != 68 {
        return None;
    }
    let mean = |a: usize, b: usize| {
        let n = (b - a) as f64;
        let (sx, sy) = pts[a..b].iter().fold((0.0, 0.0), |(x, y), p| {
            (x + f64::from(p[0]), y + f64::from(p[1]))
        });
        (sx / n, sy / n)
    };
    let le = mean(36, 42);
    let re = mean(42, 48);
    let mo = mean(48, 68);
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let d = (dist(mo, le) + dist(mo, re)) / 2.0;
    let size = (d / 0.45).floor();
    let cx = (le.0 + re.0 + mo.0) / 3.0;
    let cy = (le.1 + re.1 + mo.1) / 3.0;
    let x = (cx - 0.5 * size).max(0.0).floor();
    let y = (cy - 0.43 * size).max(0.0).floor();
    Some([
        x,
        y,
        size.min(f64::from(crop_w) + x),
        size.min(f64::from(crop_h) + y),
    ])
}
