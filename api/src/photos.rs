//! Checks shared by photo uploads and bulk enrollment: what kind of image the bytes are and
//! whether an enrollment photo holds exactly one face.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use cavs_models::pipeline::{EnrollmentFace, Pipeline, PipelineError};

/// Supported image formats (sniffed from the bytes, not the declared type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
}

impl ImageKind {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
        }
    }

    /// Media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
        }
    }
}

/// The image kind of `bytes`, from their magic number.
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(ImageKind::Png)
    } else {
        None
    }
}

/// Why an enrollment photo was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoRejection {
    /// The bytes are not a JPEG or PNG.
    NotAnImage,
    /// JPEG/PNG magic, but the decoder refused it.
    Unreadable(String),
    /// No face was found.
    NoFace,
    /// More than one face was found.
    MultipleFaces(usize),
}

impl PhotoRejection {
    /// Stable slug (the end of the problem `type`).
    pub fn slug(&self) -> &'static str {
        match self {
            PhotoRejection::NotAnImage => "unsupported-media-type",
            PhotoRejection::Unreadable(_) => "invalid-image",
            PhotoRejection::NoFace => "no-face",
            PhotoRejection::MultipleFaces(_) => "multiple-faces",
        }
    }
}

impl fmt::Display for PhotoRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhotoRejection::NotAnImage => f.write_str("not a JPEG or PNG image"),
            PhotoRejection::Unreadable(reason) => write!(f, "unreadable image ({reason})"),
            PhotoRejection::NoFace => f.write_str("no face found"),
            PhotoRejection::MultipleFaces(n) => {
                write!(f, "{n} faces found (an enrollment photo needs exactly one)")
            }
        }
    }
}

/// Embeds an enrollment photo and keeps it only if it shows exactly one face. Pipeline
/// failures other than a bad image (busy, unavailable) are returned as errors.
pub async fn single_face(
    pipeline: &dyn Pipeline,
    bytes: Vec<u8>,
) -> Result<Result<EnrollmentFace, PhotoRejection>, PipelineError> {
    if sniff(&bytes).is_none() {
        return Ok(Err(PhotoRejection::NotAnImage));
    }
    let mut faces = match pipeline.embed_photo(bytes).await {
        Ok(faces) => faces,
        Err(PipelineError::BadImage(reason)) | Err(PipelineError::TooLarge(reason)) => {
            return Ok(Err(PhotoRejection::Unreadable(reason)));
        }
        Err(other) => return Err(other),
    };
    Ok(match faces.len() {
        0 => Err(PhotoRejection::NoFace),
        1 => Ok(faces.remove(0)),
        n => Err(PhotoRejection::MultipleFaces(n)),
    })
}

/// How a stored photo path is shown to clients: a path relative to the data dir as is; any
/// other (an absolute path or one with `..`, as bulk enrollment records the folder it read)
/// only by its file name, so no response reveals the server's directory layout.
pub fn shown_path(stored: &str) -> String {
    let path = Path::new(stored);
    let relative = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if relative {
        stored.to_owned()
    } else {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Joins a stored relative path to `base`, refusing absolute paths and `..`.
pub fn resolve_under(base: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    if relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        Some(base.join(relative))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_paths_never_reveal_server_directories() {
        assert_eq!(shown_path("photos/S1/a.jpg"), "photos/S1/a.jpg");
        assert_eq!(shown_path("/srv/school/enroll/S1/a.jpg"), "a.jpg");
        assert_eq!(shown_path("../../etc/passwd"), "passwd");
    }
}
