//! What a worker makes of one frame: the envelope's image through the recognizer, as a
//! [`WorkerResult`]. No store, no gallery, no signature check (the hub admits frames; a worker
//! only finds faces).

use std::panic::{AssertUnwindSafe, catch_unwind};

use cavs_models::protocol::{ResultFace, ResultOutcome, WorkerResult, decode_frame};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerError, decode_image};

use crate::pipeline::pool::encode_jpeg;

/// Why a publish could not be read as a frame at all (nothing to send to the hub: the hub
/// refuses the same envelope itself).
#[derive(Debug, thiserror::Error)]
#[error("not a frame envelope: {0}")]
pub struct NotAFrame(#[from] cavs_models::protocol::ProtocolError);

/// Finds every face of the frame in `envelope`.
pub fn recognize_frame(
    recognizer: &Recognizer,
    limits: &DecodeLimits,
    worker_id: &str,
    envelope: &[u8],
) -> Result<WorkerResult, NotAFrame> {
    let (header, image) = decode_frame(envelope)?;
    let mut result = WorkerResult {
        frame_id: header.frame_id,
        device_id: header.device_id,
        worker_id: worker_id.to_owned(),
        outcome: ResultOutcome::Faces,
        detail: None,
        faces: Vec::new(),
    };
    let analysed = catch_unwind(AssertUnwindSafe(|| -> Result<_, RecognizerError> {
        let decoded = decode_image(image, limits)?;
        let faces = recognizer.analyze(&decoded)?;
        Ok(faces
            .into_iter()
            .map(|face| {
                let bbox = face.detection.bbox;
                (
                    ResultFace {
                        bbox: [bbox.x, bbox.y, bbox.width, bbox.height],
                        score: face.detection.score,
                        descriptor: face.descriptor.0.to_vec(),
                        crop_bytes: 0,
                    },
                    encode_jpeg(&face.crop),
                )
            })
            .collect::<Vec<_>>())
    }));
    match analysed {
        Ok(Ok(faces)) => result.faces = faces,
        Ok(Err(error)) => {
            result.outcome = ResultOutcome::Undecodable;
            result.detail = Some(error.to_string());
        }
        Err(_) => {
            result.outcome = ResultOutcome::Failed;
            result.detail = Some("recognition panicked".into());
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavs_models::protocol::{FrameHeader, encode_frame};
    use cavs_recognizer::RecognizerConfig;

    fn envelope(image: &[u8]) -> Vec<u8> {
        encode_frame(&FrameHeader::new_jpeg("cam-1", "room-1", 1, 0, 0), image)
    }

    #[test]
    fn a_frame_becomes_its_faces_and_junk_is_told_apart() {
        let recognizer = Recognizer::new(RecognizerConfig::default()).expect("weights load");
        let limits = DecodeLimits::default();
        let photo = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/faces/dev/_group/obama_and_biden.jpg"),
        )
        .expect("dev photo");
        let result =
            recognize_frame(&recognizer, &limits, "7", &envelope(&photo)).expect("an envelope");
        assert_eq!(result.outcome, ResultOutcome::Faces);
        // The same faces as the hub's in-process recognition of the same image.
        let in_process = recognizer
            .analyze(&decode_image(&photo, &limits).expect("decodes"))
            .expect("analyses");
        assert!(result.faces.len() >= 2, "both people found");
        assert_eq!(result.faces.len(), in_process.len());
        for ((face, _), expected) in result.faces.iter().zip(&in_process) {
            assert_eq!(face.descriptor, expected.descriptor.0.to_vec());
            assert_eq!(face.bbox[0], expected.detection.bbox.x);
        }
        assert!(
            result
                .faces
                .iter()
                .all(|(_, crop)| crop.starts_with(&[0xFF, 0xD8]))
        );
        let read = WorkerResult::from_slice(&result.to_vec()).expect("wire round trip");
        assert_eq!(read.faces.len(), result.faces.len());

        let junk = recognize_frame(&recognizer, &limits, "7", &envelope(b"not a jpeg"))
            .expect("an envelope");
        assert_eq!(junk.outcome, ResultOutcome::Undecodable);
        assert!(recognize_frame(&recognizer, &limits, "7", b"xx").is_err());
    }
}
