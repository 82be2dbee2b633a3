//! Frame sources: a V4L2 camera, a directory replayed in order, a single file, or a synthetic
//! pattern for tests. [`open`] parses the `source` setting (`v4l2:/dev/video0`, `dir:PATH`,
//! `file:PATH`, `synthetic`).

mod dir;
mod file;
mod synthetic;
#[cfg(feature = "v4l2")]
mod v4l2;

use std::path::PathBuf;

use cavs_config::Resolution;
use image::DynamicImage;

pub use dir::DirSource;
pub use file::FileSource;
pub use synthetic::SyntheticSource;
#[cfg(feature = "v4l2")]
pub use v4l2::V4l2Source;

/// Why a source could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The `source` setting is not one of the known forms.
    #[error("unknown source `{0}` (expected v4l2:DEVICE, dir:PATH, file:PATH or synthetic)")]
    Unknown(String),
    /// `v4l2:` was asked for but the binary was built without the `v4l2` feature.
    #[error("source `{0}` needs the `v4l2` cargo feature (build with --features v4l2)")]
    V4l2Disabled(String),
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An image file could not be decoded.
    #[error("{path}: not a readable image: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// A directory holds no JPEG or PNG files.
    #[error("{0}: no .jpg, .jpeg or .png files")]
    Empty(PathBuf),
    /// The camera failed.
    #[error("camera {device}: {reason}")]
    Camera {
        /// The device path.
        device: String,
        /// What went wrong.
        reason: String,
    },
}

/// Something that yields images, one per capture tick.
pub trait FrameSource: Send {
    /// The next image, or `None` when the source is exhausted (a directory without looping).
    /// `want` is the configured resolution: sources that can capture at a size (camera,
    /// synthetic) use it; the pipeline fits every image into it afterwards anyway.
    fn next_image(&mut self, want: Resolution) -> Result<Option<DynamicImage>, SourceError>;

    /// A short description for logs.
    fn describe(&self) -> String;
}

/// Opens the source named by a `source` setting. `looping` applies to `dir:` sources.
pub fn open(spec: &str, looping: bool) -> Result<Box<dyn FrameSource>, SourceError> {
    if let Some(path) = spec.strip_prefix("dir:") {
        Ok(Box::new(DirSource::open(path, looping)?))
    } else if let Some(path) = spec.strip_prefix("file:") {
        Ok(Box::new(FileSource::open(path)?))
    } else if spec == "synthetic" {
        Ok(Box::new(SyntheticSource::default()))
    } else if let Some(device) = spec.strip_prefix("v4l2:") {
        open_v4l2(device, spec)
    } else {
        Err(SourceError::Unknown(spec.to_owned()))
    }
}

#[cfg(feature = "v4l2")]
fn open_v4l2(device: &str, _spec: &str) -> Result<Box<dyn FrameSource>, SourceError> {
    Ok(Box::new(V4l2Source::open(device)?))
}

#[cfg(not(feature = "v4l2"))]
fn open_v4l2(_device: &str, spec: &str) -> Result<Box<dyn FrameSource>, SourceError> {
    Err(SourceError::V4l2Disabled(spec.to_owned()))
}

/// Decodes an image file, guessing its format from its content.
pub fn load_image(path: &std::path::Path) -> Result<DynamicImage, SourceError> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|source| SourceError::Io {
            path: path.to_owned(),
            source,
        })?;
    reader.decode().map_err(|source| SourceError::Decode {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_disabled_specs_are_refused() {
        assert!(matches!(
            open("rtsp://x", false),
            Err(SourceError::Unknown(_))
        ));
        assert!(matches!(
            open("dir:/definitely/not/here", false),
            Err(SourceError::Io { .. })
        ));
        #[cfg(not(feature = "v4l2"))]
        assert!(matches!(
            open("v4l2:/dev/video0", false),
            Err(SourceError::V4l2Disabled(_))
        ));
        assert!(open("synthetic", false).is_ok());
    }
}
