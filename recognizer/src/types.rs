//! Public result types.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in image pixels (may extend past the image border).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BoundingBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

impl BoundingBox {
    /// Area (0 for degenerate boxes).
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with `other` (0 when either is empty).
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let ix = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let iy = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        let inter = ix.max(0.0) * iy.max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// A detected face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Face box in image pixels.
    pub bbox: BoundingBox,
    /// Detector score in (0, 1).
    pub score: f32,
}

/// A 128-D face descriptor (not unit length; norms are ≈ 1.4–1.5). Faces of the same person
/// are typically closer than 0.6 in euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Descriptor(pub [f32; 128]);

impl Descriptor {
    /// Euclidean distance to `other`.
    pub fn distance(&self, other: &Descriptor) -> f32 {
        squared_distance(&self.0, &other.0).sqrt()
    }

    /// The values as a slice.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Builds a descriptor from a slice of exactly 128 values.
    pub fn from_slice(v: &[f32]) -> Option<Descriptor> {
        let arr: [f32; 128] = v.try_into().ok()?;
        Some(Descriptor(arr))
    }
}

/// Squared euclidean distance of two 128-D vectors (8 independent accumulators so that it
/// vectorises).
#[inline]
pub fn squared_distance(a: &[f32; 128], b: &[f32; 128]) -> f32 {
    let mut acc = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            let d = ca[k] - cb[k];
            acc[k] += d * d;
        }
    }
    acc.iter().sum()
}

impl Serialize for Descriptor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Descriptor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<f32>::deserialize(d)?;
        let n = v.len();
        Descriptor::from_slice(&v).ok_or_else(|| serde::de::Error::invalid_length(n, &"128 floats"))
    }
}

/// Everything computed for one face.
#[derive(Debug, Clone)]
pub struct FaceAnalysis {
    /// The detection the rest was computed from.
    pub detection: Detection,
    /// 68 landmarks `[x, y]` in image pixels (face-api / iBUG order: jaw 0–16, brows 17–26,
    /// nose 27–35, eyes 36–47, mouth 48–67).
    pub landmarks: Vec<[f32; 2]>,
    /// The rectangle cut out for the recognition net (face-api's dlib-style rect, clipped to
    /// the image), in image pixels.
    pub aligned_box: BoundingBox,
    /// The pixels of `aligned_box` (not resized; the net sees it padded to a square and
    /// resized to 150×150). Empty when the rect is empty.
    pub crop: image::RgbImage,
    /// The 128-D descriptor (all zeros when the crop is empty, as in face-api).
    pub descriptor: Descriptor,
}
