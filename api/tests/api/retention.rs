//! The retention schedule against the real embedded store and real files, with the clock given
//! to the purge (days pass without waiting): a dry run changes nothing; a purge deletes expired
//! records and unknown faces with their crops, drops expired crops and descriptors from kept
//! records, expires the enrolled faces (and photos) of students not seen for long, and is
//! audited.

use std::path::Path;

use cavs_api::retention::purge;
use cavs_models::retention::RetentionPolicy;
use cavs_models::store::Store;
use cavs_models::*;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

const POLICY: RetentionPolicy = RetentionPolicy {
    crop_days: 30,
    record_days: 365,
    embedding_days: 1095,
};

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn write_file(dir: &Path, relative: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, b"face bytes").expect("write");
}

async fn student(store: &Store, number: &str) -> Uuid {
    let fields = StudentFields {
        student_number: number.into(),
        full_name: format!("Student {number}"),
        email: None,
        department: None,
        year: None,
    };
    store
        .students()
        .create(&fields, &Actor::System)
        .await
        .expect("student")
        .id
}

/// A record of `who` (None: an unknown face) captured at `at`, with a crop file and a
/// descriptor.
async fn record(store: &Store, dir: &Path, who: Option<Uuid>, at: DateTime<Utc>) -> (Uuid, String) {
    let crop = format!("crops/{}.jpg", Uuid::now_v7());
    write_file(dir, &crop);
    let new = NewAttendance {
        device_id: "cam-1".into(),
        classroom_id: "room-1".into(),
        predicted_student_id: who,
        confidence: if who.is_some() { 0.8 } else { 0.0 },
        distance: Some(0.4),
        timestamp: at,
        review_status: ReviewStatus::Pending,
        captured_image_path: Some(crop.clone()),
        session_start: at,
        descriptor: Some(vec![0.01; EMBEDDING_LEN]),
    };
    let created = store
        .attendance()
        .create(&new, &Actor::Device("cam-1".into()))
        .await
        .expect("record");
    (created.id, crop)
}

async fn enroll(store: &Store, dir: &Path, who: Uuid) -> String {
    let photo = format!("enrollment/{who}/{}.jpg", Uuid::now_v7());
    write_file(dir, &photo);
    let consent = ConsentFields {
        granted: true,
        given_by: "a parent".into(),
        notice_version: "v1".into(),
    };
    store
        .students()
        .record_consent(who, &consent, &Actor::System)
        .await
        .expect("consent");
    store
        .faces()
        .add(
            who,
            &vec![0.02; EMBEDDING_LEN],
            Some(&photo),
            &Actor::System,
        )
        .await
        .expect("face");
    photo
}

/// The stored row of attendance record `id`, if it is still there.
async fn stored_record(store: &Store, id: Uuid) -> Option<serde_json::Value> {
    store
        .table_rows("attendance")
        .await
        .expect("rows")
        .into_iter()
        .find(|row| {
            row["id"]
                .as_str()
                .is_some_and(|s| s.contains(&id.to_string()))
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retention_schedule_expires_crops_records_unknown_faces_and_enrollments() {
    let store = Store::open("mem://").await.expect("store");
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path();
    let t0 = Utc::now();
    let (ana, ben, cleo, dan) = (
        student(&store, "S-ANA").await,
        student(&store, "S-BEN").await,
        student(&store, "S-CLEO").await,
        student(&store, "S-DAN").await,
    );
    let ana_photo = enroll(&store, dir, ana).await;
    let ben_photo = enroll(&store, dir, ben).await;
    let cleo_photo = enroll(&store, dir, cleo).await;
    let dan_photo = enroll(&store, dir, dan).await;
    let (old, old_crop) = record(&store, dir, Some(ana), t0 - days(10)).await;
    let (named, named_crop) = record(&store, dir, Some(ben), t0).await;
    let (unknown, unknown_crop) = record(&store, dir, None, t0).await;
    let (recent, recent_crop) = record(&store, dir, Some(ana), t0 + days(350)).await;
    let (_, cleo_crop) = record(&store, dir, Some(cleo), t0 + days(1440)).await;
    record(&store, dir, Some(dan), t0 + days(700)).await;

    // 360 days on: `old` is past the record retention, `named` and `unknown` past the crop
    // retention, `recent` within both; no enrollment is 3 years old.
    let later = t0 + days(360);
    let dry = purge(&store, dir, &POLICY, later, true, &Actor::System)
        .await
        .expect("dry run");
    assert!(dry.purge.dry_run);
    assert_eq!(
        (
            dry.purge.records_deleted,
            dry.purge.unknown_faces_deleted,
            dry.purge.crops_expired,
            dry.purge.faces_deleted
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(dry.files_deleted, 0);
    for crop in [&old_crop, &named_crop, &unknown_crop] {
        assert!(dir.join(crop).exists(), "a dry run deletes no file: {crop}");
    }
    assert!(
        stored_record(&store, old).await.is_some(),
        "a dry run deletes no record"
    );

    let applied = purge(&store, dir, &POLICY, later, false, &Actor::System)
        .await
        .expect("purge");
    assert_eq!(
        (
            applied.purge.records_deleted,
            applied.purge.unknown_faces_deleted,
            applied.purge.crops_expired
        ),
        (1, 1, 1)
    );
    assert_eq!(applied.files_deleted, 3);
    assert!(
        stored_record(&store, old).await.is_none(),
        "expired record deleted"
    );
    assert!(
        stored_record(&store, unknown).await.is_none(),
        "expired unknown face deleted"
    );
    let kept = stored_record(&store, named)
        .await
        .expect("the record stays");
    assert!(
        kept.get("captured_image_path").is_none_or(|v| v.is_null()),
        "{kept}"
    );
    assert!(kept.get("descriptor").is_none_or(|v| v.is_null()), "{kept}");
    assert_eq!(kept["review_status"], "pending");
    let untouched = stored_record(&store, recent).await.expect("recent stays");
    assert!(untouched["descriptor"].is_array(), "{untouched}");
    for crop in [&old_crop, &named_crop, &unknown_crop] {
        assert!(!dir.join(crop).exists(), "expired crop deleted: {crop}");
    }
    assert!(
        dir.join(&recent_crop).exists(),
        "a crop within retention stays"
    );
    let audit = store
        .audit()
        .list(
            &AuditFilter {
                action: Some("purge".into()),
                ..AuditFilter::default()
            },
            &PageRequest {
                page: 1,
                page_size: 10,
            },
        )
        .await
        .expect("audit");
    assert_eq!(audit.items.len(), 1, "one audit entry per purge");
    assert_eq!(audit.items[0].meta["records_deleted"], 1);
    assert_eq!(audit.items[0].meta["unknown_faces_deleted"], 1);

    let faces_of = |id| {
        let store = store.clone();
        async move { store.faces().for_student(id).await.expect("faces").len() }
    };
    // Day 1100: the records of days 0, 350 and 700 are past the record retention and go; Ben,
    // last seen on day 0, is over 3 years unseen and loses his enrolled face and photo.
    let applied = purge(&store, dir, &POLICY, t0 + days(1100), false, &Actor::System)
        .await
        .expect("purge");
    assert_eq!(applied.purge.records_deleted, 3);
    assert_eq!(
        (applied.purge.students_expired, applied.purge.faces_deleted),
        (1, 1)
    );
    assert_eq!(faces_of(ben).await, 0);
    assert!(!dir.join(&ben_photo).exists());

    // Day 1450: Ana, last seen on day 350, is over 3 years unseen; Dan, last seen on day 700 (a
    // record an earlier purge deleted: the student keeps when they were last seen), and Cleo,
    // seen on day 1440, keep theirs.
    let much_later = t0 + days(1450);
    let applied = purge(&store, dir, &POLICY, much_later, false, &Actor::System)
        .await
        .expect("purge");
    assert_eq!(
        (applied.purge.students_expired, applied.purge.faces_deleted),
        (1, 1)
    );
    assert_eq!(faces_of(ana).await, 0);
    assert_eq!(
        faces_of(dan).await,
        1,
        "seen within 3 years, though the record is gone"
    );
    assert_eq!(faces_of(cleo).await, 1);
    assert!(!dir.join(&ana_photo).exists());
    assert!(dir.join(&dan_photo).exists() && dir.join(&cleo_photo).exists());
    assert!(dir.join(&cleo_crop).exists(), "a crop 10 days old stays");
    // Students themselves stay (their records may still be within the record retention).
    assert!(store.students().get(ana).await.is_ok());

    // Nothing else is due at that time.
    let again = purge(&store, dir, &POLICY, much_later, true, &Actor::System)
        .await
        .expect("dry run");
    assert!(again.purge.is_empty(), "{again}");
}
