//! Face recognition for CAVS: burn ports of the face-api networks (face detectors, 68-point
//! landmarks, 128-D descriptor), the tfjs weight loader, alignment and the `Gallery` matcher.
//!
//! This crate knows nothing of MQTT, HTTP or the database.
//!
//! ```no_run
//! use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, decode_image};
//! let rec = Recognizer::new(RecognizerConfig::default())?;
//! let img = decode_image(&std::fs::read("photo.jpg")?, &DecodeLimits::default())?;
//! for face in rec.analyze(&img)? {
//!     println!("{:?} {}", face.detection.bbox, face.descriptor.0[0]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod align;
pub mod alloc;
pub mod decode;
pub mod detect;
pub mod error;
pub mod gallery;
pub mod multiscale;
pub mod nets;
pub mod parity;
pub mod portrait;
pub mod preprocess;
pub mod recognizer;
pub mod scan;
pub mod types;
pub mod weights;

pub use decode::{DecodeLimits, decode_file, decode_image};
pub use error::RecognizerError;
pub use gallery::{
    Gallery, Match, MatchClass, Thresholds, confidence_from_distance, distance_for_confidence,
};
pub use recognizer::{DetectorKind, Nets, Recognizer, RecognizerConfig};
pub use scan::{ScanLimits, ScanMode};
pub use types::{BoundingBox, Descriptor, Detection, FaceAnalysis};
