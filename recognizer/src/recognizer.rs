//! The `Recognizer` facade: detection, landmarks, alignment and descriptors.

use burn::tensor::Device;
use image::{DynamicImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::align::{dlib_rect, landmarks_to_image};
use crate::detect::{decode_ssd, decode_tiny};
use crate::error::RecognizerError;
use crate::nets::landmarks::{self, LandmarkNet};
use crate::nets::recognition::{self, RecognitionNet};
use crate::nets::ssd::{self, SsdNet};
use crate::nets::tiny::TinyNet;
use crate::preprocess::{
    FACE_MEAN, Normalize, PixelRect, RgbView, TINY_MEAN, clip_floor, prepare_input,
};
use crate::scan::{self, ScanLimits, ScanMode};
use crate::types::{BoundingBox, Descriptor, Detection, FaceAnalysis};
use crate::weights;

/// Which face detector to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// SSD MobileNet v1 at 512×512: slower, finds more (and smaller) faces. The default.
    #[default]
    Ssd,
    /// Tiny face detector at `tiny_input_size`: fast, misses more faces.
    Tiny,
}

/// Settings of a [`Recognizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecognizerConfig {
    /// Detector to use.
    pub detector: DetectorKind,
    /// Detections must score strictly above this (face-api default 0.5 for both detectors).
    pub min_confidence: f32,
    /// NMS: a box is suppressed when its IoU with a better box is above this. face-api uses
    /// 0.5 for SSD and 0.4 for the tiny detector ([`RecognizerConfig::tiny`] sets 0.4).
    pub nms_iou: f32,
    /// Detections whose shorter side is below this many pixels are dropped (0 keeps all).
    pub min_face_size: u32,
    /// At most this many faces per image (the best-scoring ones).
    pub max_faces: usize,
    /// Input side of the tiny detector: a multiple of 32 in 32..=1024 (face-api default 416).
    pub tiny_input_size: u32,
    /// Faces per forward pass of the landmark and recognition nets.
    pub batch_size: usize,
    /// How frames are scanned: face-api's single pass, or (default) that pass plus a fine
    /// pass for small faces in frames larger than the detector input.
    pub scan: ScanMode,
    /// Multiscale: shorter side in frame pixels of the smallest face to look for.
    pub smallest_face: u32,
    /// Multiscale: at most this many scaled pixels in the fine pass (bounds the cost of huge
    /// frames; their smallest findable face grows instead).
    pub max_scan_pixels: usize,
}

impl Default for RecognizerConfig {
    fn default() -> Self {
        Self {
            detector: DetectorKind::Ssd,
            min_confidence: 0.5,
            nms_iou: 0.5,
            min_face_size: 0,
            max_faces: 100,
            tiny_input_size: 416,
            batch_size: 16,
            scan: ScanMode::Multiscale,
            smallest_face: ScanLimits::default().smallest_face,
            max_scan_pixels: ScanLimits::default().max_fine_pixels,
        }
    }
}

impl RecognizerConfig {
    /// face-api's tiny-detector defaults (input 416, score 0.5, NMS IoU 0.4).
    pub fn tiny() -> Self {
        Self {
            detector: DetectorKind::Tiny,
            nms_iou: 0.4,
            ..Self::default()
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), RecognizerError> {
        if !(0.0..1.0).contains(&self.min_confidence) {
            return Err(RecognizerError::Config(format!(
                "min_confidence must be in [0, 1), got {}",
                self.min_confidence
            )));
        }
        if !(self.nms_iou > 0.0 && self.nms_iou <= 1.0) {
            return Err(RecognizerError::Config(format!(
                "nms_iou must be in (0, 1], got {}",
                self.nms_iou
            )));
        }
        if !self.tiny_input_size.is_multiple_of(32) || !(32..=1024).contains(&self.tiny_input_size)
        {
            return Err(RecognizerError::Config(format!(
                "tiny_input_size must be a multiple of 32 in 32..=1024, got {}",
                self.tiny_input_size
            )));
        }
        if !(8..=4096).contains(&self.smallest_face) {
            return Err(RecognizerError::Config(format!(
                "smallest_face must be in 8..=4096 px, got {}",
                self.smallest_face
            )));
        }
        if self.max_scan_pixels < 65_536 {
            return Err(RecognizerError::Config(format!(
                "max_scan_pixels must be at least 65536, got {}",
                self.max_scan_pixels
            )));
        }
        if self.batch_size == 0 || self.max_faces == 0 {
            return Err(RecognizerError::Config(
                "batch_size and max_faces must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Face detection + 68 landmarks + 128-D descriptors, with the vendored face-api weights on
/// burn's `flex` CPU backend.
///
/// `Recognizer` is `Send` and `Sync`: its networks are read-only (scratch buffers are per
/// thread), so worker threads may share one behind an `Arc`; every call runs single-threaded on
/// the calling thread.
#[derive(Debug)]
pub struct Recognizer {
    config: RecognizerConfig,
    ssd: SsdNet,
    tiny: TinyNet,
    landmarks: LandmarkNet,
    recognition: RecognitionNet,
}

impl Recognizer {
    /// Loads the embedded weights (verifying their SHA-256) and builds the networks.
    pub fn new(config: RecognizerConfig) -> Result<Self, RecognizerError> {
        config.validate()?;
        crate::alloc::tune_allocator();
        let started = std::time::Instant::now();
        let device = Device::flex();
        let ssd = SsdNet::new(&weights::load_model(&weights::SSD_MOBILENETV1)?, &device)?;
        let tiny = TinyNet::new(&weights::load_model(&weights::TINY_FACE_DETECTOR)?, &device)?;
        let landmarks =
            LandmarkNet::new(&weights::load_model(&weights::FACE_LANDMARK_68)?, &device)?;
        let recognition =
            RecognitionNet::new(&weights::load_model(&weights::FACE_RECOGNITION)?, &device)?;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "face networks loaded (weights verified)"
        );
        Ok(Self {
            config,
            ssd,
            tiny,
            landmarks,
            recognition,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RecognizerConfig {
        &self.config
    }

    /// Detects faces with the configured detector and scan (by default the multi-scale scan:
    /// face-api's pass plus a fine pass for small faces, see [`crate::scan`]).
    pub fn detect(&self, img: &DynamicImage) -> Result<Vec<Detection>, RecognizerError> {
        let rgb = to_rgb(img)?;
        self.detect_scan(&rgb)
    }

    /// The limits of the multi-scale scan from the config.
    pub fn scan_limits(&self) -> ScanLimits {
        ScanLimits {
            smallest_face: self.config.smallest_face,
            max_fine_pixels: self.config.max_scan_pixels,
            detector_face_px: match self.config.detector {
                DetectorKind::Ssd => scan::SSD_MIN_FACE_PX,
                DetectorKind::Tiny => scan::TINY_MIN_FACE_PX,
            },
            level0_side: match self.config.detector {
                DetectorKind::Ssd => ssd::INPUT_SIZE as f64,
                DetectorKind::Tiny => f64::from(self.config.tiny_input_size),
            },
            ..ScanLimits::default()
        }
    }

    /// face-api's single pass with the given detector over the whole frame fitted to the
    /// detector input (other settings from the config; no multi-scale scan). Used for parity.
    pub fn detect_with(
        &self,
        img: &DynamicImage,
        kind: DetectorKind,
    ) -> Result<Vec<Detection>, RecognizerError> {
        let rgb = to_rgb(img)?;
        self.detect_rgb(&rgb, kind)
    }

    pub(crate) fn detect_rgb(
        &self,
        rgb: &RgbImage,
        kind: DetectorKind,
    ) -> Result<Vec<Detection>, RecognizerError> {
        let c = &self.config;
        let (w, h) = rgb.dimensions();
        let view = RgbView::full(rgb);
        let mut dets = match kind {
            DetectorKind::Ssd => {
                let n = ssd::INPUT_SIZE;
                let mut input = vec![0f32; 3 * n * n];
                prepare_input(&view, n, false, Normalize::Ssd, &mut input);
                let raw = self.ssd.forward(input)?;
                decode_ssd(
                    &raw,
                    &self.ssd.anchors,
                    w,
                    h,
                    c.min_confidence,
                    c.nms_iou,
                    c.max_faces,
                )
            }
            DetectorKind::Tiny => {
                let n = c.tiny_input_size as usize;
                let mut input = vec![0f32; 3 * n * n];
                prepare_input(
                    &view,
                    n,
                    false,
                    Normalize::MeanDiv255(TINY_MEAN),
                    &mut input,
                );
                let raw = self.tiny.forward(input, n)?;
                decode_tiny(&raw, n, w, h, c.min_confidence, c.nms_iou, c.max_faces)
            }
        };
        let min = c.min_face_size as f32;
        dets.retain(|d| d.bbox.width.min(d.bbox.height) >= min);
        Ok(dets)
    }

    /// Detects faces, then computes landmarks, the aligned crop and the descriptor of every
    /// face (faces batched through the nets).
    pub fn analyze(&self, img: &DynamicImage) -> Result<Vec<FaceAnalysis>, RecognizerError> {
        let rgb = to_rgb(img)?;
        let dets = self.detect_scan(&rgb)?;
        self.embed_rgb(&rgb, &dets)
    }

    /// Landmarks, aligned crop and descriptor for given detections (e.g. from [`Self::detect`]
    /// or a known face box). Detections with no pixel inside the image are skipped.
    pub fn embed_faces(
        &self,
        img: &DynamicImage,
        dets: &[Detection],
    ) -> Result<Vec<FaceAnalysis>, RecognizerError> {
        let rgb = to_rgb(img)?;
        self.embed_rgb(&rgb, dets)
    }

    pub(crate) fn embed_rgb(
        &self,
        rgb: &RgbImage,
        dets: &[Detection],
    ) -> Result<Vec<FaceAnalysis>, RecognizerError> {
        let (w, h) = rgb.dimensions();
        let valid: Vec<(Detection, PixelRect)> = dets
            .iter()
            .filter_map(|d| {
                clip_floor(d.bbox.x, d.bbox.y, d.bbox.width, d.bbox.height, w, h).map(|r| (*d, r))
            })
            .collect();
        let mut out = Vec::with_capacity(valid.len());
        for chunk in valid.chunks(self.config.batch_size) {
            // 1. landmarks, batched
            let n = landmarks::INPUT_SIZE;
            let plane = 3 * n * n;
            let mut input = vec![0f32; plane * chunk.len()];
            for ((_, r), dst) in chunk.iter().zip(input.chunks_exact_mut(plane)) {
                prepare_input(
                    &RgbView::new(rgb, *r),
                    n,
                    true,
                    Normalize::MeanDiv255(FACE_MEAN),
                    dst,
                );
            }
            let raw = self.landmarks.forward(input, chunk.len())?;
            // 2. aligned rects
            let mut faces = Vec::with_capacity(chunk.len());
            for ((det, r), raw) in chunk.iter().zip(&raw) {
                let pts = landmarks_to_image(raw, *r, det.bbox.x, det.bbox.y);
                let rect = dlib_rect(&pts, r.width, r.height).and_then(|a| {
                    clip_floor(a[0] as f32, a[1] as f32, a[2] as f32, a[3] as f32, w, h)
                });
                faces.push((*det, pts, rect));
            }
            // 3. descriptors, batched over the faces that have a crop
            let n = recognition::INPUT_SIZE;
            let plane = 3 * n * n;
            let with_crop: Vec<PixelRect> = faces.iter().filter_map(|f| f.2).collect();
            let mut input = vec![0f32; plane * with_crop.len()];
            for (r, dst) in with_crop.iter().zip(input.chunks_exact_mut(plane)) {
                prepare_input(
                    &RgbView::new(rgb, *r),
                    n,
                    true,
                    Normalize::MeanDiv255(FACE_MEAN),
                    dst,
                );
            }
            let mut descs = self
                .recognition
                .forward(input, with_crop.len())?
                .into_iter();
            for (det, pts, rect) in faces {
                let (descriptor, aligned_box, crop) = match rect {
                    Some(r) => {
                        let d = descs.next().ok_or_else(|| {
                            RecognizerError::Weights(
                                "recognition net returned too few descriptors".into(),
                            )
                        })?;
                        let crop =
                            image::imageops::crop_imm(rgb, r.x, r.y, r.width, r.height).to_image();
                        let bb = BoundingBox {
                            x: r.x as f32,
                            y: r.y as f32,
                            width: r.width as f32,
                            height: r.height as f32,
                        };
                        (Descriptor(d), bb, crop)
                    }
                    None => (
                        Descriptor([0.0; 128]),
                        BoundingBox::default(),
                        RgbImage::new(0, 0),
                    ),
                };
                out.push(FaceAnalysis {
                    detection: det,
                    landmarks: pts,
                    aligned_box,
                    crop,
                    descriptor,
                });
            }
        }
        Ok(out)
    }

    /// Descriptors of already aligned face crops (any size; each is padded to a square and
    /// resized to 150×150), in one batched pass per `batch_size` crops.
    pub fn embed_crops(&self, crops: &[RgbImage]) -> Result<Vec<Descriptor>, RecognizerError> {
        let n = recognition::INPUT_SIZE;
        let plane = 3 * n * n;
        let mut out = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(self.config.batch_size) {
            let mut input = vec![0f32; plane * chunk.len()];
            for (c, dst) in chunk.iter().zip(input.chunks_exact_mut(plane)) {
                prepare_input(
                    &RgbView::full(c),
                    n,
                    true,
                    Normalize::MeanDiv255(FACE_MEAN),
                    dst,
                );
            }
            out.extend(
                self.recognition
                    .forward(input, chunk.len())?
                    .into_iter()
                    .map(Descriptor),
            );
        }
        Ok(out)
    }

    /// Raw access to the networks for tests and benchmarks.
    pub fn nets(&self) -> Nets<'_> {
        Nets {
            ssd: &self.ssd,
            tiny: &self.tiny,
            landmarks: &self.landmarks,
            recognition: &self.recognition,
        }
    }
}

/// Borrowed networks of a [`Recognizer`] (for layer-level tests and benchmarks).
#[derive(Debug, Clone, Copy)]
pub struct Nets<'a> {
    /// SSD MobileNet v1.
    pub ssd: &'a SsdNet,
    /// Tiny face detector.
    pub tiny: &'a TinyNet,
    /// 68-point landmark net.
    pub landmarks: &'a LandmarkNet,
    /// Recognition net.
    pub recognition: &'a RecognitionNet,
}

pub(crate) fn to_rgb(img: &DynamicImage) -> Result<RgbImage, RecognizerError> {
    if img.width() == 0 || img.height() == 0 {
        return Err(RecognizerError::EmptyImage {
            width: img.width(),
            height: img.height(),
        });
    }
    Ok(match img {
        DynamicImage::ImageRgb8(i) => i.clone(),
        other => other.to_rgb8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizer_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Recognizer>();
    }

    #[test]
    fn config_validation() {
        assert!(RecognizerConfig::default().validate().is_ok());
        assert!(RecognizerConfig::tiny().validate().is_ok());
        let bad = RecognizerConfig {
            tiny_input_size: 100,
            ..RecognizerConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
