//! `GET /api/events`: the live stream of attendance events (server-sent events) for the web
//! app, fed by the hub's [`RecordEvents`](cavs_models::pipeline::RecordEvents): new records,
//! records seen again, and reviews, of the classrooms the caller may see.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use poem::web::sse::Event;
use poem_openapi::payload::EventStream;
use poem_openapi::{Object, OpenApi};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use cavs_models::protocol::{AttendanceEvent, AttendanceEventKind};
use cavs_models::{AttendanceRecord, ClassroomScope};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::error::ApiResult;
use crate::tags::ApiTags;

/// A keep-alive comment this often holds the stream open through idle timeouts.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A stream ends after this long, so the client reconnects and its credentials, role and
/// classrooms are checked again.
const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// One event of the stream: `attendance` (a record changed: fetch it) or `resync` (events
/// were missed: reload the list).
#[derive(Debug, Clone, Object)]
pub struct LiveEvent {
    /// `created`, `updated` or `reviewed`; `resync` when events were missed.
    pub kind: String,
    /// The record (absent for `resync`).
    pub record_id: Option<Uuid>,
    /// The frame that caused it (none for reviews).
    pub frame_id: Option<Uuid>,
    /// The record's classroom.
    pub classroom_id: Option<String>,
    /// The device that saw the face.
    pub device_id: Option<String>,
    /// The matched (or reviewed) student.
    pub student_id: Option<Uuid>,
    /// That student's name.
    pub predicted_name: Option<String>,
    /// Match confidence in [0, 1].
    pub confidence: Option<f32>,
    /// `pending`, `approved` or `rejected`.
    pub review_status: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// For `resync`: how many events were missed.
    pub missed: Option<u64>,
}

impl From<AttendanceEvent> for LiveEvent {
    fn from(e: AttendanceEvent) -> Self {
        let kind = match e.kind {
            AttendanceEventKind::Created => "created",
            AttendanceEventKind::Updated => "updated",
            AttendanceEventKind::Reviewed => "reviewed",
        };
        LiveEvent {
            kind: kind.to_owned(),
            record_id: Some(e.record_id),
            frame_id: e.frame_id,
            classroom_id: Some(e.classroom_id),
            device_id: Some(e.device_id),
            student_id: e.student_id,
            predicted_name: e.predicted_name,
            confidence: Some(e.confidence),
            review_status: Some(e.review_status),
            at: e.at,
            missed: None,
        }
    }
}

/// The event a review of `record` reports.
pub fn reviewed(record: &AttendanceRecord) -> AttendanceEvent {
    AttendanceEvent::of(AttendanceEventKind::Reviewed, record, None)
}

/// Where a subscription stands: its receiver, what the caller may see, when it ends.
struct Subscription {
    events: tokio::sync::broadcast::Receiver<AttendanceEvent>,
    scope: ClassroomScope,
    ends: tokio::time::Instant,
}

impl Subscription {
    /// The next event the caller may see, `None` when the stream ends.
    async fn next(&mut self) -> Option<LiveEvent> {
        loop {
            let received = tokio::select! {
                received = self.events.recv() => received,
                () = tokio::time::sleep_until(self.ends) => return None,
            };
            match received {
                Ok(event) if self.scope.allows(&event.classroom_id) => return Some(event.into()),
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    return Some(LiveEvent {
                        kind: "resync".into(),
                        record_id: None,
                        frame_id: None,
                        classroom_id: None,
                        device_id: None,
                        student_id: None,
                        predicted_name: None,
                        confidence: None,
                        review_status: None,
                        at: Utc::now(),
                        missed: Some(missed),
                    });
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

pub(crate) struct EventsApi {
    state: ApiState,
}

impl EventsApi {
    pub(crate) fn new(state: ApiState) -> Self {
        EventsApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Attendance")]
impl EventsApi {
    /// Live attendance events of the caller's classrooms as server-sent events: `attendance`
    /// events (a record was created, seen again or reviewed) and `resync` (the client fell
    /// more than 1024 events behind and should reload). A comment line every 15 s keeps the
    /// connection open; the stream ends after 15 minutes, and the client reconnects.
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<EventStream<BoxStream<'static, LiveEvent>>> {
        let subscription = Subscription {
            events: self.state.events.subscribe(),
            scope: auth.0.scope(),
            ends: tokio::time::Instant::now() + STREAM_LIFETIME,
        };
        let live = stream::unfold(subscription, |mut s| async move {
            s.next().await.map(|event| (event, s))
        })
        .boxed();
        Ok(EventStream::new(live)
            .keep_alive(KEEP_ALIVE)
            .to_event(|event| {
                let name = if event.kind == "resync" {
                    "resync"
                } else {
                    "attendance"
                };
                Event::message(poem_openapi::types::ToJSON::to_json_string(&event)).event_type(name)
            }))
    }
}
