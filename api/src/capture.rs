//! `POST /api/capture`: a device posts a photo (HTTP Basic device credentials); it goes
//! through the same pipeline as MQTT frames.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{Multipart, Object, OpenApi};
use uuid::Uuid;

use crate::ApiState;
use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult};
use crate::photos;
use crate::tags::ApiTags;
use cavs_models::pipeline::{CaptureFace, CaptureRequest};

/// A captured photo.
#[derive(Debug, Multipart)]
pub struct CaptureForm {
    /// JPEG or PNG image.
    pub image: Upload,
    /// The device (must equal the authenticated device).
    pub device_id: String,
    /// Its classroom (must equal the device's registered classroom).
    pub classroom_id: String,
    /// Capture time, RFC 3339 (default: now).
    pub timestamp: Option<String>,
}

/// One face found in the photo.
#[derive(Debug, Object)]
pub struct CaptureFaceOut {
    /// `[x, y, width, height]` in image pixels.
    pub bbox: Vec<f32>,
    /// Detector score.
    pub score: f32,
    /// The matched student, if any.
    #[oai(nullable)]
    pub student_id: Option<Uuid>,
    /// Their name.
    #[oai(nullable)]
    pub student_name: Option<String>,
    /// Distance to the best match.
    #[oai(nullable)]
    pub distance: Option<f32>,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The attendance record this face was written to.
    #[oai(nullable)]
    pub record_id: Option<Uuid>,
    /// That record's review state (`pending`, `approved`, `rejected`), if any.
    #[oai(nullable)]
    pub status: Option<String>,
}

impl From<CaptureFace> for CaptureFaceOut {
    fn from(f: CaptureFace) -> Self {
        CaptureFaceOut {
            bbox: f.bbox.to_vec(),
            score: f.score,
            student_id: f.student_id,
            student_name: f.student_name,
            distance: f.distance,
            confidence: f.confidence,
            record_id: f.record.as_ref().map(|r| r.id),
            status: f
                .record
                .as_ref()
                .map(|r| r.review_status.as_str().to_owned()),
        }
    }
}

/// What the hub did with the photo (the original design's shape plus `faces`).
#[derive(Debug, Object)]
pub struct CaptureOut {
    /// The record of the best face, if one was written.
    #[oai(nullable)]
    pub record_id: Option<Uuid>,
    /// The best face's student, if matched.
    #[oai(nullable)]
    pub predicted_student_id: Option<Uuid>,
    /// Their name.
    #[oai(nullable)]
    pub predicted_name: Option<String>,
    /// The best face's confidence (0 when no face).
    pub confidence: f32,
    /// The best face's record state (`pending`, `approved`, `rejected`), `unknown` when a face
    /// was found but no record written, `no_face` when no face was found.
    pub status: String,
    /// Every face found, best match first.
    pub faces: Vec<CaptureFaceOut>,
}

pub(crate) struct CaptureApi {
    state: ApiState,
}

impl CaptureApi {
    pub(crate) fn new(state: ApiState) -> Self {
        CaptureApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Capture")]
impl CaptureApi {
    /// Submits a photo from a device (HTTP Basic: device id and device secret).
    #[oai(path = "/capture", method = "post")]
    async fn capture(&self, auth: DeviceAuth, form: CaptureForm) -> ApiResult<Json<CaptureOut>> {
        let device = auth.0;
        if form.device_id != device.device_id {
            return Err(ApiError::forbidden(format!(
                "authenticated as device `{}` but the form names `{}`",
                device.device_id, form.device_id
            )));
        }
        if form.classroom_id != device.classroom_id {
            return Err(ApiError::with_slug(
                422,
                "wrong-classroom",
                format!(
                    "device `{}` is registered in classroom `{}`, not `{}`",
                    device.device_id, device.classroom_id, form.classroom_id
                ),
            ));
        }
        let captured_at = match form.timestamp.as_deref().map(str::trim) {
            None | Some("") => Utc::now(),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_request(format!("`timestamp` must be RFC 3339, got `{text}`"))
                })?,
        };
        let image = form
            .image
            .into_vec()
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read upload: {e}")))?;
        if photos::sniff(&image).is_none() {
            return Err(ApiError::with_slug(
                415,
                "unsupported-media-type",
                "`image` must be a JPEG or PNG",
            ));
        }
        let outcome = self
            .state
            .pipeline
            .capture(CaptureRequest {
                device_id: device.device_id.clone(),
                classroom_id: device.classroom_id.clone(),
                captured_at,
                image,
            })
            .await?;
        let faces: Vec<CaptureFaceOut> = outcome.faces.into_iter().map(Into::into).collect();
        let best = faces.first();
        let answer = CaptureOut {
            record_id: best.and_then(|f| f.record_id),
            predicted_student_id: best.and_then(|f| f.student_id),
            predicted_name: best.and_then(|f| f.student_name.clone()),
            confidence: best.map_or(0.0, |f| f.confidence),
            status: match best {
                None => "no_face".to_owned(),
                Some(f) => f.status.clone().unwrap_or_else(|| "unknown".to_owned()),
            },
            faces,
        };
        tracing::debug!(device = %device.device_id, faces = answer.faces.len(), "capture handled");
        Ok(Json(answer))
    }
}
