//! `synthetic`: a moving test pattern at the configured resolution (tests and dry runs).

use cavs_config::Resolution;
use image::{DynamicImage, Rgb, RgbImage};

use super::{FrameSource, SourceError};

/// Generates a different pattern on every call, so the change gate never skips it.
#[derive(Debug, Default)]
pub struct SyntheticSource {
    count: u32,
}

impl FrameSource for SyntheticSource {
    fn next_image(&mut self, want: Resolution) -> Result<Option<DynamicImage>, SourceError> {
        let n = self.count;
        self.count = self.count.wrapping_add(1);
        let shift = n.wrapping_mul(37);
        let img = RgbImage::from_fn(want.width, want.height, |x, y| {
            let band = ((x / 16 + y / 16 + n) % 2) as u8 * 120;
            Rgb([
                (x.wrapping_add(shift) % 256) as u8,
                (y.wrapping_add(shift / 2) % 256) as u8,
                band.wrapping_add((n.wrapping_mul(53) % 100) as u8),
            ])
        });
        Ok(Some(DynamicImage::ImageRgb8(img)))
    }

    fn describe(&self) -> String {
        "synthetic test pattern".to_owned()
    }
}
