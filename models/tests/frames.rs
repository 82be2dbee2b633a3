//! One transaction per frame, de-duplicated by frame id, on the real embedded engines.

mod common;

use cavs_models::store::{FaceWrite, FrameCommit, FrameCommitted, Store};
use cavs_models::*;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

fn new_record(student: Option<Uuid>, confidence: f32, at: DateTime<Utc>) -> NewAttendance {
    NewAttendance {
        device_id: "cam-1".into(),
        classroom_id: "room-1".into(),
        predicted_student_id: student,
        confidence,
        distance: Some(0.3),
        timestamp: at,
        review_status: ReviewStatus::Pending,
        captured_image_path: Some("crops/a.jpg".into()),
        session_start: at,
        descriptor: None,
    }
}

fn frame(faces: Vec<FaceWrite>, at: DateTime<Utc>) -> FrameCommit {
    FrameCommit {
        frame_id: Uuid::now_v7(),
        device_id: "cam-1".into(),
        classroom_id: "room-1".into(),
        captured_at: at,
        faces,
    }
}

async fn student(store: &Store) -> Uuid {
    store
        .students()
        .create(
            &StudentFields {
                student_number: "S1".into(),
                full_name: "Ada Lovelace".into(),
                email: None,
                department: None,
                year: None,
            },
            &Actor::System,
        )
        .await
        .expect("student")
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_commits_once_even_when_sent_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    let at = Utc::now();
    let (first, record_id, unknown_id) = {
        let store = Store::open(&url).await.expect("opens");
        let ada = student(&store).await;
        let record_id = Uuid::now_v7();
        let unknown_id = Uuid::now_v7();
        // Ada twice in one frame (a detector double) and one unknown face: the second face
        // observes the record the first one creates, inside the same transaction.
        let first = frame(
            vec![
                FaceWrite::Create {
                    id: record_id,
                    new: new_record(Some(ada), 0.7, at),
                },
                FaceWrite::Observe {
                    id: record_id,
                    confidence: 0.9,
                    distance: Some(0.2),
                    timestamp: at,
                    image_path: Some("crops/b.jpg".into()),
                    descriptor: None,
                },
                FaceWrite::Create {
                    id: unknown_id,
                    new: new_record(None, 0.0, at),
                },
            ],
            at,
        );
        let FrameCommitted::Recorded(records) =
            store.frames().commit(&first).await.expect("commit")
        else {
            panic!("a new frame is recorded");
        };
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].id, record_id);
        assert_eq!(records[1].frame_count, 2);
        assert!((records[1].confidence - 0.9).abs() < 1e-6);
        assert_eq!(
            records[1].captured_image_path.as_deref(),
            Some("crops/b.jpg")
        );
        assert_eq!(records[2].predicted_student_id, None);
        assert!(store.frames().exists(first.frame_id).await.expect("exists"));
        (first, record_id, unknown_id)
    };

    let store = common::reopen(&url).await;
    assert!(matches!(
        store.frames().commit(&first).await.expect("second commit"),
        FrameCommitted::Duplicate
    ));
    let record = store.attendance().get(record_id).await.expect("record");
    assert_eq!(record.frame_count, 2, "the re-sent frame is not counted");
    let unknown = store.attendance().get(unknown_id).await.expect("unknown");
    assert_eq!(unknown.frame_count, 1);
    let audit = store
        .audit()
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("audit");
    let creates = audit
        .items
        .iter()
        .filter(|e| e.action == "create" && e.target_table == "attendance")
        .count();
    assert_eq!(creates, 2, "one audit entry per created record");
    let ids = store
        .frames()
        .ids_since(at - Duration::minutes(1), 10)
        .await
        .expect("ids");
    assert_eq!(ids, vec![first.frame_id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_face_writes_nothing_of_its_frame() {
    let store = Store::open("mem://").await.expect("opens");
    let at = Utc::now();
    let created = Uuid::now_v7();
    let broken = frame(
        vec![
            FaceWrite::Create {
                id: created,
                new: new_record(None, 0.0, at),
            },
            FaceWrite::Observe {
                id: Uuid::now_v7(),
                confidence: 0.5,
                distance: None,
                timestamp: at,
                image_path: None,
                descriptor: None,
            },
        ],
        at,
    );
    assert!(store.frames().commit(&broken).await.is_err());
    assert!(
        !store
            .frames()
            .exists(broken.frame_id)
            .await
            .expect("exists")
    );
    assert!(
        store.attendance().get(created).await.is_err(),
        "rolled back"
    );
    // The same frame id commits once the problem is gone.
    let fixed = FrameCommit {
        faces: broken.faces[..1].to_vec(),
        ..broken
    };
    assert!(matches!(
        store.frames().commit(&fixed).await.expect("commit"),
        FrameCommitted::Recorded(records) if records.len() == 1
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn frames_without_faces_and_the_purge_of_old_markers() {
    let store = Store::open("mem://").await.expect("opens");
    let now = Utc::now();
    let old = frame(Vec::new(), now - Duration::days(3));
    let new = frame(Vec::new(), now);
    for f in [&old, &new] {
        assert!(matches!(
            store.frames().commit(f).await.expect("commit"),
            FrameCommitted::Recorded(records) if records.is_empty()
        ));
    }
    assert_eq!(
        store
            .frames()
            .purge_before(now - Duration::days(2))
            .await
            .expect("purge"),
        1
    );
    assert!(!store.frames().exists(old.frame_id).await.expect("old"));
    assert!(store.frames().exists(new.frame_id).await.expect("new"));
}

fn face_at(x: f32) -> Vec<f32> {
    let mut d = vec![0.0; 128];
    d[0] = x;
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_keeps_the_descriptor_of_its_most_confident_face() {
    let store = Store::open("mem://").await.expect("opens");
    let at = Utc::now();
    let id = Uuid::now_v7();
    let mut new = new_record(None, 0.4, at);
    new.descriptor = Some(face_at(1.0));
    let observe = |confidence: f32, x: f32| FaceWrite::Observe {
        id,
        confidence,
        distance: None,
        timestamp: at,
        image_path: None,
        descriptor: Some(face_at(x)),
    };
    store
        .frames()
        .commit(&frame(vec![FaceWrite::Create { id, new }], at))
        .await
        .expect("commit");
    assert_eq!(
        store.attendance().descriptor(id).await.expect("read"),
        Some(face_at(1.0))
    );
    store
        .frames()
        .commit(&frame(vec![observe(0.2, 2.0)], at))
        .await
        .expect("commit");
    assert_eq!(
        store.attendance().descriptor(id).await.expect("read"),
        Some(face_at(1.0)),
        "a less confident face leaves the descriptor"
    );
    store
        .frames()
        .commit(&frame(vec![observe(0.6, 3.0)], at))
        .await
        .expect("commit");
    assert_eq!(
        store.attendance().descriptor(id).await.expect("read"),
        Some(face_at(3.0)),
        "a more confident face brings its descriptor"
    );
    let unknown = store
        .attendance()
        .unknown_faces(&cavs_models::store::UnknownFacesFilter::default(), 10)
        .await
        .expect("unknown faces");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].record.id, id);
    assert_eq!(unknown[0].descriptor, face_at(3.0));

    let mut bad = new_record(None, 0.4, at);
    bad.descriptor = Some(vec![f32::NAN; 128]);
    let refused = store
        .frames()
        .commit(&frame(
            vec![FaceWrite::Create {
                id: Uuid::now_v7(),
                new: bad,
            }],
            at,
        ))
        .await;
    assert!(
        matches!(refused, Err(cavs_models::store::StoreError::Invalid(_))),
        "{refused:?}"
    );
}
