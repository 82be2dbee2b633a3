//! `file:PATH`: one image, captured again at every tick (the change gate then skips repeats).

use std::path::{Path, PathBuf};

use cavs_config::Resolution;
use image::DynamicImage;

use super::{FrameSource, SourceError, load_image};

/// A single image file, decoded once.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    image: DynamicImage,
}

impl FileSource {
    /// Reads and decodes `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SourceError> {
        let path = path.as_ref().to_owned();
        let image = load_image(&path)?;
        Ok(FileSource { path, image })
    }
}

impl FrameSource for FileSource {
    fn next_image(&mut self, _want: Resolution) -> Result<Option<DynamicImage>, SourceError> {
        Ok(Some(self.image.clone()))
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
