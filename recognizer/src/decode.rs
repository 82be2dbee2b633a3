//! Safe decoding of untrusted image bytes.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::RecognizerError;

/// Limits for [`decode_image`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum width × height (default 40 000 000).
    pub max_pixels: u64,
    /// Rotate/flip according to the EXIF orientation (default true).
    pub apply_orientation: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            apply_orientation: true,
        }
    }
}

fn map_err(e: image::ImageError) -> RecognizerError {
    match e {
        image::ImageError::Unsupported(u) => RecognizerError::UnsupportedFormat(u.to_string()),
        image::ImageError::Limits(l) => RecognizerError::Decode(format!("limit exceeded: {l}")),
        other => RecognizerError::Decode(other.to_string()),
    }
}

/// Decodes a JPEG or PNG from memory, never panicking on bad input.
///
/// The format is sniffed from the bytes; the size is checked against `limits.max_pixels`
/// before any pixel is decoded; the EXIF orientation is applied when asked. Any colour type
/// the decoders support (grey, grey+alpha, RGB, RGBA, 16-bit, CMYK JPEG) is returned as is;
/// the [`crate::Recognizer`] converts to 8-bit RGB itself.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DynamicImage, RecognizerError> {
    if bytes.is_empty() {
        return Err(RecognizerError::EmptyInput);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(RecognizerError::Io)?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => {}
        Some(f) => return Err(RecognizerError::UnsupportedFormat(format!("{f:?}"))),
        None => {
            return Err(RecognizerError::UnsupportedFormat(
                "unrecognised bytes".into(),
            ));
        }
    }
    let mut decoder = reader.into_decoder().map_err(map_err)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Err(RecognizerError::EmptyImage {
            width: w,
            height: h,
        });
    }
    if pixels > limits.max_pixels {
        return Err(RecognizerError::TooLarge {
            pixels,
            limit: limits.max_pixels,
        });
    }
    let mut lim = image::Limits::default();
    // 16-bit RGBA is 8 bytes per pixel; leave room for the decoder's own buffers.
    lim.max_alloc = Some(limits.max_pixels.saturating_mul(16).max(1 << 26));
    decoder.set_limits(lim).map_err(map_err)?;
    let orientation = if limits.apply_orientation {
        decoder.orientation().ok()
    } else {
        None
    };
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_err)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

/// Reads and decodes a file with [`decode_image`].
pub fn decode_file(
    path: impl AsRef<std::path::Path>,
    limits: &DecodeLimits,
) -> Result<DynamicImage, RecognizerError> {
    let bytes = std::fs::read(path)?;
    decode_image(&bytes, limits)
}
