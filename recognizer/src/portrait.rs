//! Enrollment from ID-style photos: [`Recognizer::analyze_portrait`].

use image::{DynamicImage, RgbImage};

use crate::error::RecognizerError;
use crate::recognizer::{Recognizer, to_rgb};
use crate::types::{BoundingBox, FaceAnalysis};

/// Photos up to this longer side are retried with a margin by
/// [`Recognizer::analyze_portrait`] (ID-style crops are small; a large photo with no face has
/// no face).
pub const PORTRAIT_MAX_SIDE: u32 = 1024;
/// Margins tried around a face-less portrait, as fractions of its longer side (measured on
/// ID-style crops cut 0–30 px inside the jaw line: a full-side margin found all, half most).
const PORTRAIT_MARGINS: [f64; 2] = [1.0, 0.5];
/// Colour of the margin (mid grey, close to what the nets' normalisation calls zero).
const PORTRAIT_MARGIN_RGB: [u8; 3] = [128, 128, 128];

/// Moves a face found in a photo padded by `m` px back into the photo's pixels: boxes clipped
/// to the photo, landmarks shifted. Unlike elsewhere, `crop` keeps the pixels the descriptor
/// was computed from (margin included), so it can be larger than `aligned_box`. `None` for a
/// box that lies in the margin only.
fn shift_face(mut f: FaceAnalysis, m: f32, w: u32, h: u32) -> Option<FaceAnalysis> {
    let clip = |b: BoundingBox| {
        let x0 = (b.x - m).clamp(0.0, w as f32);
        let y0 = (b.y - m).clamp(0.0, h as f32);
        let x1 = (b.x + b.width - m).clamp(0.0, w as f32);
        let y1 = (b.y + b.height - m).clamp(0.0, h as f32);
        BoundingBox {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        }
    };
    f.detection.bbox = clip(f.detection.bbox);
    if f.detection.bbox.area() <= 0.0 {
        return None;
    }
    f.aligned_box = clip(f.aligned_box);
    for p in &mut f.landmarks {
        p[0] -= m;
        p[1] -= m;
    }
    Some(f)
}

impl Recognizer {
    /// [`Recognizer::analyze`] for enrollment photos. Schools keep tight ID-style crops (the face
    /// cut at chin and hairline, no margin); the detectors need some context around a face
    /// and find nothing there. When the first pass finds no face in a photo of at most
    /// [`PORTRAIT_MAX_SIDE`] px, it is retried with a uniform grey margin (the photo's
    /// longer side, then half of it) and the faces are reported in the photo's own pixels.
    pub fn analyze_portrait(
        &self,
        img: &DynamicImage,
    ) -> Result<Vec<FaceAnalysis>, RecognizerError> {
        let rgb = to_rgb(img)?;
        let faces = self.embed_rgb(&rgb, &self.detect_scan(&rgb)?)?;
        let (w, h) = rgb.dimensions();
        if !faces.is_empty() || w.max(h) > PORTRAIT_MAX_SIDE {
            return Ok(faces);
        }
        for fraction in PORTRAIT_MARGINS {
            let margin = ((f64::from(w.max(h)) * fraction).round() as u32).max(1);
            let mut padded = RgbImage::from_pixel(
                w + 2 * margin,
                h + 2 * margin,
                image::Rgb(PORTRAIT_MARGIN_RGB),
            );
            image::imageops::replace(&mut padded, &rgb, i64::from(margin), i64::from(margin));
            // face-api's single pass: the padded photo is one face on grey, not a classroom.
            let dets = self.detect_rgb(&padded, self.config().detector)?;
            let m = margin as f32;
            let faces: Vec<FaceAnalysis> = self
                .embed_rgb(&padded, &dets)?
                .into_iter()
                .filter_map(|f| shift_face(f, m, w, h))
                .collect();
            if !faces.is_empty() {
                return Ok(faces);
            }
        }
        Ok(Vec::new())
    }
}
