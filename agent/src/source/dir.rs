//! `dir:PATH`: the JPEG and PNG files of a directory, replayed in file-name order.

use std::path::{Path, PathBuf};

use cavs_config::Resolution;
use image::DynamicImage;

use super::{FrameSource, SourceError, load_image};

/// Replays a directory's images in name order, optionally looping.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    looping: bool,
}

impl DirSource {
    /// Lists `dir`'s `.jpg`, `.jpeg` and `.png` files (case-insensitive), sorted by name.
    pub fn open(dir: impl AsRef<Path>, looping: bool) -> Result<Self, SourceError> {
        let dir = dir.as_ref().to_owned();
        let io = |source| SourceError::Io {
            path: dir.clone(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"));
            if is_image && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(SourceError::Empty(dir));
        }
        files.sort();
        Ok(DirSource {
            dir,
            files,
            next: 0,
            looping,
        })
    }

    /// The files in replay order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl FrameSource for DirSource {
    fn next_image(&mut self, _want: Resolution) -> Result<Option<DynamicImage>, SourceError> {
        if self.next >= self.files.len() {
            if !self.looping {
                return Ok(None);
            }
            self.next = 0;
        }
        let path = &self.files[self.next];
        // Advance first so one unreadable file does not stall the replay.
        self.next += 1;
        load_image(path).map(Some)
    }

    fn describe(&self) -> String {
        format!(
            "directory {} ({} images{})",
            self.dir.display(),
            self.files.len(),
            if self.looping { ", looping" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANT: Resolution = Resolution {
        width: 64,
        height: 48,
    };

    fn write_png(dir: &Path, name: &str, shade: u8) {
        let img = image::RgbImage::from_pixel(4, 3, image::Rgb([shade, shade, shade]));
        img.save(dir.join(name)).expect("write png");
    }

    #[test]
    fn replays_in_name_order_then_stops_or_loops() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write_png(tmp.path(), "b.png", 20);
        write_png(tmp.path(), "a.png", 10);
        std::fs::write(tmp.path().join("notes.txt"), "x").expect("write");
        let shade = |img: DynamicImage| img.to_rgb8().get_pixel(0, 0)[0];

        let mut once = DirSource::open(tmp.path(), false).expect("open");
        assert_eq!(once.files().len(), 2);
        assert_eq!(once.next_image(WANT).expect("a").map(shade), Some(10));
        assert_eq!(once.next_image(WANT).expect("b").map(shade), Some(20));
        assert!(once.next_image(WANT).expect("end").is_none());

        let mut looping = DirSource::open(tmp.path(), true).expect("open");
        let shades: Vec<u8> = (0..5)
            .map(|_| shade(looping.next_image(WANT).expect("img").expect("some")))
            .collect();
        assert_eq!(shades, [10, 20, 10, 20, 10]);
    }

    #[test]
    fn unreadable_file_is_an_error_and_replay_moves_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("a.jpg"), b"not a jpeg").expect("write");
        write_png(tmp.path(), "b.png", 30);
        let mut src = DirSource::open(tmp.path(), false).expect("open");
        assert!(matches!(
            src.next_image(WANT),
            Err(SourceError::Decode { .. })
        ));
        assert!(src.next_image(WANT).expect("b").is_some());
    }

    #[test]
    fn empty_directory_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            DirSource::open(tmp.path(), true),
            Err(SourceError::Empty(_))
        ));
    }
}
