//! `v4l2:/dev/videoN`: a V4L2 camera (a USB webcam, or the Pi camera through libcamera's V4L2
//! compatibility layer), through the `v4l` crate.
//!
//! A capture opens a short memory-mapped stream, drops a few warm-up frames (auto exposure) and
//! keeps one. Streaming only while capturing costs a little start-up time per frame but never
//! hands out a frame that waited seconds in a driver queue between two captures.

use cavs_config::Resolution;
use image::{DynamicImage, RgbImage};
use v4l::FourCC;
use v4l::buffer::Type;
use v4l::io::traits::CaptureStream;
use v4l::prelude::*;
use v4l::video::Capture;

use super::{FrameSource, SourceError};

/// Frames dropped at the start of each capture while exposure settles.
const WARMUP_FRAMES: usize = 3;

/// A V4L2 capture device.
pub struct V4l2Source {
    path: String,
    device: Device,
    format: Option<v4l::Format>,
}

impl V4l2Source {
    /// Opens the device node (e.g. `/dev/video0`).
    pub fn open(path: &str) -> Result<Self, SourceError> {
        let device = Device::with_path(path).map_err(|e| camera(path, format!("open: {e}")))?;
        Ok(V4l2Source {
            path: path.to_owned(),
            device,
            format: None,
        })
    }

    /// Asks for MJPEG (or else YUYV) at `want`; the driver answers with what it can do.
    fn configure(&mut self, want: Resolution) -> Result<v4l::Format, SourceError> {
        if let Some(format) = &self.format
            && format.width == want.width
            && format.height == want.height
        {
            return Ok(*format);
        }
        let mut chosen = None;
        for fourcc in [b"MJPG", b"YUYV"] {
            let mut format = self
                .device
                .format()
                .map_err(|e| camera(&self.path, format!("get format: {e}")))?;
            format.width = want.width;
            format.height = want.height;
            format.fourcc = FourCC::new(fourcc);
            let set = self
                .device
                .set_format(&format)
                .map_err(|e| camera(&self.path, format!("set format: {e}")))?;
            if set.fourcc == FourCC::new(fourcc) {
                chosen = Some(set);
                break;
            }
        }
        let format =
            chosen.ok_or_else(|| camera(&self.path, "supports neither MJPG nor YUYV".into()))?;
        tracing::info!(device = %self.path, format = %format, "camera format set");
        self.format = Some(format);
        Ok(format)
    }
}

impl FrameSource for V4l2Source {
    fn next_image(&mut self, want: Resolution) -> Result<Option<DynamicImage>, SourceError> {
        let format = self.configure(want)?;
        let mut stream = MmapStream::with_buffers(&self.device, Type::VideoCapture, 2)
            .map_err(|e| camera(&self.path, format!("stream: {e}")))?;
        stream.set_timeout(std::time::Duration::from_secs(5));
        for _ in 0..WARMUP_FRAMES {
            stream
                .next()
                .map_err(|e| camera(&self.path, format!("capture: {e}")))?;
        }
        let (buf, meta) = stream
            .next()
            .map_err(|e| camera(&self.path, format!("capture: {e}")))?;
        let used = (meta.bytesused as usize).min(buf.len());
        let data = &buf[..used];
        let image = if format.fourcc == FourCC::new(b"MJPG") {
            image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
                .map_err(|e| camera(&self.path, format!("MJPG frame: {e}")))?
        } else {
            yuyv_to_rgb(data, format.width, format.height, format.stride)
                .ok_or_else(|| camera(&self.path, "short YUYV frame".into()))?
        };
        Ok(Some(image))
    }

    fn describe(&self) -> String {
        format!("V4L2 camera {}", self.path)
    }
}

fn camera(path: &str, reason: String) -> SourceError {
    SourceError::Camera {
        device: path.to_owned(),
        reason,
    }
}

/// Converts packed YUYV 4:2:2 (BT.601) to RGB.
fn yuyv_to_rgb(data: &[u8], width: u32, height: u32, stride: u32) -> Option<DynamicImage> {
    let stride = (stride.max(width * 2)) as usize;
    // YUYV packs two pixels in four bytes, so its width is always even.
    if !width.is_multiple_of(2) || data.len() < stride * height as usize {
        return None;
    }
    let clamp = |v: f32| v.clamp(0.0, 255.0) as u8;
    let mut img = RgbImage::new(width, height);
    for y in 0..height {
        let row = &data[y as usize * stride..];
        for x in (0..width).step_by(2) {
            let i = x as usize * 2;
            let (y0, u, y1, v) = (
                row[i] as f32,
                row[i + 1] as f32 - 128.0,
                row[i + 2] as f32,
                row[i + 3] as f32 - 128.0,
            );
            for (dx, yy) in [(0, y0), (1, y1)] {
                if x + dx < width {
                    img.put_pixel(
                        x + dx,
                        y,
                        image::Rgb([
                            clamp(yy + 1.402 * v),
                            clamp(yy - 0.344 * u - 0.714 * v),
                            clamp(yy + 1.772 * u),
                        ]),
                    );
                }
            }
        }
    }
    Some(DynamicImage::ImageRgb8(img))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_and_colour() {
        // Two pixels per 4 bytes: Y0 U Y1 V. Neutral chroma gives grey.
        let grey = yuyv_to_rgb(&[100, 128, 200, 128], 2, 1, 4).expect("converts");
        let grey = grey.to_rgb8();
        assert_eq!(grey.get_pixel(0, 0).0, [100, 100, 100]);
        assert_eq!(grey.get_pixel(1, 0).0, [200, 200, 200]);
        // Strong V is red.
        let red = yuyv_to_rgb(&[76, 85, 76, 255], 2, 1, 4)
            .expect("converts")
            .to_rgb8();
        let [r, g, b] = red.get_pixel(0, 0).0;
        assert!(r > 200 && g < 40 && b < 40, "{r} {g} {b}");
        // Short buffers and odd widths are refused, not indexed past.
        assert!(yuyv_to_rgb(&[0; 3], 2, 1, 4).is_none());
        assert!(yuyv_to_rgb(&[0; 8], 3, 1, 6).is_none());
    }
}
