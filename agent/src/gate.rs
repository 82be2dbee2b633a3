//! The change gate: skips a frame that is nearly identical to the last one sent.
//!
//! Each image is reduced to a 32×24 grey thumbnail; the mean absolute difference between
//! thumbnails, scaled to 0..1, is compared with the `change_threshold` setting.

use image::DynamicImage;

const THUMB_W: u32 = 32;
const THUMB_H: u32 = 24;

/// Remembers the last sent frame's thumbnail.
#[derive(Debug, Clone)]
pub struct ChangeGate {
    threshold: f32,
    last: Option<Vec<u8>>,
}

/// What the gate decided for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateDecision {
    /// Send it (first frame, gate off, or changed by this much).
    Send(Option<f32>),
    /// Skip it: it differs from the last sent frame by only this much.
    Skip(f32),
}

impl ChangeGate {
    /// A gate with the given threshold in 0..=1; 0 lets every frame through.
    pub fn new(threshold: f32) -> Self {
        ChangeGate {
            threshold,
            last: None,
        }
    }

    /// Compares `image` with the last sent frame; when it is sent, remembers it.
    pub fn check(&mut self, image: &DynamicImage) -> GateDecision {
        if self.threshold <= 0.0 {
            return GateDecision::Send(None);
        }
        let thumb = thumbnail(image);
        let diff = self.last.as_deref().map(|last| difference(last, &thumb));
        match diff {
            Some(d) if d < self.threshold => GateDecision::Skip(d),
            _ => {
                self.last = Some(thumb);
                GateDecision::Send(diff)
            }
        }
    }
}

fn thumbnail(image: &DynamicImage) -> Vec<u8> {
    image
        .thumbnail_exact(THUMB_W, THUMB_H)
        .to_luma8()
        .into_raw()
}

/// Mean absolute difference of two thumbnails, in 0..=1.
fn difference(a: &[u8], b: &[u8]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 1.0;
    }
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f32 / (a.len() as f32 * 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn flat(shade: u8) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 48, Rgb([shade, shade, shade])))
    }

    #[test]
    fn skips_near_duplicates_and_sends_changes() {
        let mut gate = ChangeGate::new(0.02);
        assert_eq!(gate.check(&flat(100)), GateDecision::Send(None));
        assert!(matches!(gate.check(&flat(101)), GateDecision::Skip(d) if d < 0.01));
        assert!(matches!(gate.check(&flat(160)), GateDecision::Send(Some(d)) if d > 0.2));
        // Compared with the last *sent* frame (160), not the last seen one.
        assert!(matches!(gate.check(&flat(158)), GateDecision::Skip(_)));
    }

    #[test]
    fn threshold_zero_sends_everything() {
        let mut gate = ChangeGate::new(0.0);
        for _ in 0..3 {
            assert_eq!(gate.check(&flat(7)), GateDecision::Send(None));
        }
    }
}
