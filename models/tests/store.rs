//! The SurrealDB store against the real embedded engines (mem and surrealkv on disk).

mod common;

use cavs_models::protocol::{DeviceConfig, DeviceState};
use cavs_models::store::{SCHEMA_VERSION, Store, StoreError, TokenUse, verify_secret};
use cavs_models::*;
use chrono::{Duration, Utc};

async fn mem() -> Store {
    Store::open("mem://").await.expect("mem store opens")
}

fn student(number: &str, name: &str) -> StudentFields {
    StudentFields {
        student_number: number.into(),
        full_name: name.into(),
        email: Some(format!("{number}@school.test")),
        department: Some("Physics".into()),
        year: Some(2),
    }
}

fn device(id: &str, classroom: &str) -> DeviceFields {
    DeviceFields {
        device_id: id.into(),
        classroom_id: classroom.into(),
        location: Some("back wall".into()),
        status: DeviceStatus::Active,
        config: DeviceConfig::default(),
    }
}

fn consent(granted: bool) -> ConsentFields {
    ConsentFields {
        granted,
        given_by: "a parent".into(),
        notice_version: "notice-2026-09".into(),
    }
}

async fn grant_consent(store: &Store, id: uuid::Uuid) {
    store
        .students()
        .record_consent(id, &consent(true), &Actor::System)
        .await
        .expect("consent");
}

fn embedding(seed: f32) -> Vec<f32> {
    (0..EMBEDDING_LEN)
        .map(|i| seed + i as f32 / 1000.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_dropping_and_reopening_the_on_disk_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    let (student_id, device_id) = {
        let store = Store::open(&url).await.expect("opens");
        let s = store
            .students()
            .create(&student("S1", "Ada Lovelace"), &Actor::System)
            .await
            .expect("student");
        grant_consent(&store, s.id).await;
        store
            .faces()
            .add(s.id, &embedding(0.1), Some("faces/s1.jpg"), &Actor::System)
            .await
            .expect("face");
        let d = store
            .devices()
            .create(&device("cam-1", "room-1"), &Actor::System)
            .await
            .expect("device");
        (s.id, d.id)
    };
    let store = common::reopen(&url).await;
    let s = store
        .students()
        .get(student_id)
        .await
        .expect("student kept");
    assert_eq!(s.full_name, "Ada Lovelace");
    assert_eq!(s.face_count, 1);
    let faces = store.faces().for_student(student_id).await.expect("faces");
    assert_eq!(faces.len(), 1);
    assert!((faces[0].embedding[5] - (0.1 + 0.005)).abs() < 1e-6);
    assert_eq!(
        store
            .devices()
            .get(device_id)
            .await
            .expect("device")
            .device_id,
        "cam-1"
    );
    assert_eq!(
        store.schema_version().await.expect("version"),
        Some(SCHEMA_VERSION)
    );
    let audit = store
        .audit()
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("audit");
    assert_eq!(
        audit.total, 4,
        "one audit entry per mutation (student, consent, face, device)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unique_violations_are_conflicts() {
    let store = mem().await;
    store
        .students()
        .create(&student("S1", "A"), &Actor::System)
        .await
        .expect("first");
    let dup = store
        .students()
        .create(&student("S1", "B"), &Actor::System)
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("S1")),
        "{dup:?}"
    );

    store
        .devices()
        .create(&device("cam-1", "r1"), &Actor::System)
        .await
        .expect("first device");
    let dup = store
        .devices()
        .create(&device("cam-1", "r2"), &Actor::System)
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let user = NewUser {
        username: "teacher1".into(),
        password: "correct horse".into(),
        role: Role::Teacher,
        classrooms: vec![],
    };
    store
        .users()
        .create(&user, &Actor::System)
        .await
        .expect("first user");
    let dup = store.users().create(&user, &Actor::System).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    // An update onto a taken number conflicts too, and the failed transaction wrote no audit.
    let other = store
        .students()
        .create(&student("S2", "C"), &Actor::System)
        .await
        .expect("second");
    let before = audit_total(&store).await;
    let clash = store
        .students()
        .update(other.id, &student("S1", "C"), &Actor::System)
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(audit_total(&store).await, before);
}

async fn audit_total(store: &Store) -> u64 {
    store
        .audit()
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("audit")
        .total
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_records_and_bad_data_are_typed() {
    let store = mem().await;
    let missing = uuid::Uuid::now_v7();
    assert!(matches!(
        store.students().get(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.devices().find("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.attendance().get(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .faces()
            .add(missing, &embedding(0.0), None, &Actor::System)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let s = store
        .students()
        .create(&student("S9", "Z"), &Actor::System)
        .await
        .expect("student");
    assert!(matches!(
        store
            .faces()
            .add(s.id, &[0.0; 3], None, &Actor::System)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .students()
            .create(&student("", "x"), &Actor::System)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .devices()
            .create(&device("bad/id", "r"), &Actor::System)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn students_search_paginate_and_delete_with_faces() {
    let store = mem().await;
    for i in 0..7 {
        let s = store
            .students()
            .create(
                &student(&format!("S{i}"), &format!("Student {i}")),
                &Actor::System,
            )
            .await
            .expect("create");
        grant_consent(&store, s.id).await;
        store
            .faces()
            .add(s.id, &embedding(i as f32), None, &Actor::System)
            .await
            .expect("face");
    }
    let page = store
        .students()
        .list(
            None,
            &PageRequest {
                page: 2,
                page_size: 3,
            },
        )
        .await
        .expect("list");
    assert_eq!(page.total, 7);
    assert_eq!(
        page.items
            .iter()
            .map(|s| s.student_number.as_str())
            .collect::<Vec<_>>(),
        ["S3", "S4", "S5"]
    );
    let found = store
        .students()
        .list(Some("student 6"), &PageRequest::default())
        .await
        .expect("search");
    assert_eq!(found.total, 1);
    let s6 = store.students().find("S6").await.expect("by number");
    assert_eq!(s6.id, found.items[0].id);
    assert_eq!(
        store
            .students()
            .find(&s6.id.to_string())
            .await
            .expect("by id")
            .id,
        s6.id
    );
    store
        .students()
        .delete(s6.id, &Actor::System)
        .await
        .expect("delete");
    assert_eq!(store.faces().all().await.expect("faces").len(), 6);
    assert!(
        store
            .faces()
            .for_student(s6.id)
            .await
            .expect("faces")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attendance_session_review_and_audit() {
    let store = mem().await;
    let s = store
        .students()
        .create(&student("S1", "Ada"), &Actor::System)
        .await
        .expect("student");
    let other = store
        .students()
        .create(&student("S2", "Bob"), &Actor::System)
        .await
        .expect("student");
    let teacher = store
        .users()
        .create(
            &NewUser {
                username: "t".into(),
                password: "password1".into(),
                role: Role::Teacher,
                classrooms: vec![],
            },
            &Actor::System,
        )
        .await
        .expect("teacher");
    let session_start = Utc::now() - Duration::minutes(5);
    let new = NewAttendance {
        device_id: "cam-1".into(),
        classroom_id: "room-1".into(),
        predicted_student_id: Some(s.id),
        confidence: 0.7,
        distance: Some(0.4),
        timestamp: Utc::now(),
        review_status: ReviewStatus::Pending,
        captured_image_path: Some("crops/a.jpg".into()),
        session_start,
        descriptor: None,
    };
    let record = store
        .attendance()
        .create(&new, &Actor::Device("cam-1".into()))
        .await
        .expect("create");
    assert_eq!(record.predicted_name.as_deref(), Some("Ada"));
    let again = store
        .attendance()
        .find_session("room-1", s.id, session_start)
        .await
        .expect("find")
        .expect("same session");
    assert_eq!(again.id, record.id);
    let lower = store
        .attendance()
        .observe_again(record.id, 0.5, Some(0.6), Utc::now(), Some("crops/b.jpg"))
        .await
        .expect("lower");
    assert_eq!((lower.frame_count, lower.confidence), (2, 0.7));
    assert_eq!(lower.captured_image_path.as_deref(), Some("crops/a.jpg"));
    let higher = store
        .attendance()
        .observe_again(record.id, 0.9, Some(0.2), Utc::now(), Some("crops/c.jpg"))
        .await
        .expect("higher");
    assert_eq!(higher.frame_count, 3);
    assert!((higher.confidence - 0.9).abs() < 1e-6);
    assert_eq!(higher.captured_image_path.as_deref(), Some("crops/c.jpg"));

    let pending = store
        .attendance()
        .list(
            &AttendanceFilter {
                review_status: Some(ReviewStatus::Pending),
                classroom_id: Some("room-1".into()),
                ..AttendanceFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .expect("pending");
    assert_eq!(pending.total, 1);

    let reviewed = store
        .attendance()
        .review(
            record.id,
            &Review {
                decision: ReviewStatus::Approved,
                student_id: Some(other.id),
                notes: Some("was Bob".into()),
                reviewer_id: teacher.id,
            },
        )
        .await
        .expect("review");
    assert_eq!(reviewed.review_status, ReviewStatus::Approved);
    assert_eq!(reviewed.predicted_student_id, Some(other.id));
    assert_eq!(reviewed.predicted_name.as_deref(), Some("Bob"));
    assert_eq!(reviewed.reviewer_id, Some(teacher.id));
    assert!(reviewed.review_timestamp.is_some());

    let by_teacher = store
        .audit()
        .list(
            &AuditFilter {
                user_id: Some(teacher.id),
                ..AuditFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .expect("audit");
    assert_eq!(by_teacher.total, 1);
    assert_eq!(by_teacher.items[0].action, "review");
    assert_eq!(by_teacher.items[0].target_id, Some(record.id.to_string()));
    assert_eq!(by_teacher.items[0].actor, Actor::User(teacher.id));

    let bad = store
        .attendance()
        .review(
            record.id,
            &Review {
                decision: ReviewStatus::Rejected,
                student_id: Some(uuid::Uuid::now_v7()),
                notes: None,
                reviewer_id: teacher.id,
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::NotFound { .. })), "{bad:?}");
    assert_eq!(
        store
            .attendance()
            .get(record.id)
            .await
            .expect("get")
            .review_status,
        ReviewStatus::Approved,
        "a failed review changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_login_devices_credentials_and_tokens() {
    let store = mem().await;
    let admin = store
        .users()
        .create(
            &NewUser {
                username: "admin".into(),
                password: "s3cret-pass".into(),
                role: Role::Admin,
                classrooms: vec![],
            },
            &Actor::System,
        )
        .await
        .expect("admin");
    assert_eq!(admin.role, Role::Admin);
    let ok = store
        .users()
        .verify_login("admin", "s3cret-pass")
        .await
        .expect("login");
    assert_eq!(ok.map(|u| u.id), Some(admin.id));
    assert!(
        store
            .users()
            .verify_login("admin", "wrong")
            .await
            .expect("login")
            .is_none()
    );
    assert!(
        store
            .users()
            .verify_login("ghost", "x")
            .await
            .expect("login")
            .is_none()
    );
    assert!(matches!(
        store
            .users()
            .create(
                &NewUser {
                    username: "short".into(),
                    password: "123".into(),
                    role: Role::Teacher,
                    classrooms: vec![],
                },
                &Actor::System
            )
            .await,
        Err(StoreError::Invalid(_))
    ));

    let d = store
        .devices()
        .create(&device("cam-7", "room-7"), &Actor::User(admin.id))
        .await
        .expect("device");
    assert!(!d.has_secret);
    assert_eq!(d.state, DeviceState::Unknown);
    let hash = cavs_models::store::hash_secret("dev-secret").expect("hash");
    let d = store
        .devices()
        .set_credentials(d.id, &hash, "00ff", &Actor::User(admin.id))
        .await
        .expect("credentials");
    assert!(d.has_secret);
    let creds = store
        .devices()
        .credentials("cam-7")
        .await
        .expect("q")
        .expect("some");
    assert!(verify_secret(
        creds.secret_hash.as_deref().expect("hash"),
        "dev-secret"
    ));
    assert!(!verify_secret(
        creds.secret_hash.as_deref().expect("hash"),
        "other"
    ));
    assert_eq!(creds.signing_key.as_deref(), Some("00ff"));
    let seen = Utc::now();
    store
        .devices()
        .set_health("cam-7", DeviceState::Online, Some(seen))
        .await
        .expect("health");
    let d = store.devices().find("cam-7").await.expect("find");
    assert_eq!(d.state, DeviceState::Online);
    assert!(
        d.last_seen
            .is_some_and(|t| (t - seen).num_milliseconds().abs() < 5)
    );

    // Rotation: a fresh token is spent once; presenting it again revokes its family, so
    // the successor issued for it stops working too.
    let family = uuid::Uuid::new_v4();
    let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let later = Utc::now() + Duration::minutes(5);
    let tokens = store.tokens();
    tokens
        .issue(first, admin.id, family, later)
        .await
        .expect("issue");
    assert_eq!(
        tokens.consume(first).await.expect("consume"),
        TokenUse::Fresh {
            user_id: admin.id,
            family
        }
    );
    tokens
        .issue(second, admin.id, family, later)
        .await
        .expect("issue");
    assert_eq!(
        tokens.consume(first).await.expect("reuse"),
        TokenUse::Reused { user_id: admin.id }
    );
    assert_eq!(
        tokens.consume(second).await.expect("successor"),
        TokenUse::Revoked
    );
    let expired = uuid::Uuid::now_v7();
    tokens
        .issue(
            expired,
            admin.id,
            uuid::Uuid::new_v4(),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("issue");
    assert_eq!(
        tokens.consume(expired).await.expect("expired"),
        TokenUse::Unknown
    );
    // Another family stays live until the user's tokens are revoked.
    let other = uuid::Uuid::now_v7();
    tokens
        .issue(other, admin.id, uuid::Uuid::new_v4(), later)
        .await
        .expect("issue");
    assert_eq!(tokens.revoke_user(admin.id).await.expect("revoke"), 1);
    assert_eq!(
        tokens.consume(other).await.expect("revoked"),
        TokenUse::Revoked
    );
    // The purge removes the revoked and the expired ones: all four.
    assert_eq!(tokens.purge().await.expect("purge"), 4);
    assert_eq!(
        tokens.consume(first).await.expect("gone"),
        TokenUse::Unknown
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_classrooms_deactivation_and_password_changes() {
    let store = mem().await;
    let users = store.users();
    let new = |name: &str, role, classrooms: &[&str]| NewUser {
        username: name.into(),
        password: "password-1".into(),
        role,
        classrooms: classrooms.iter().map(|c| c.to_string()).collect(),
    };
    let admin = users
        .create(&new("admin", Role::Admin, &[]), &Actor::System)
        .await
        .expect("admin");
    let teacher = users
        .create(
            &new("t", Role::Teacher, &["room-2", "room-1", "room-2"]),
            &Actor::System,
        )
        .await
        .expect("teacher");
    assert_eq!(teacher.classrooms, vec!["room-1", "room-2"]);
    assert_eq!(
        teacher.scope(),
        ClassroomScope::Only(vec!["room-1".into(), "room-2".into()])
    );
    assert_eq!(admin.scope(), ClassroomScope::All);
    assert!(matches!(
        users
            .create(&new("bad", Role::Teacher, &["a/b"]), &Actor::System)
            .await,
        Err(StoreError::Invalid(_))
    ));

    // The only admin cannot be demoted or disabled.
    for change in [
        UserUpdate {
            active: Some(false),
            ..UserUpdate::default()
        },
        UserUpdate {
            role: Some(Role::Teacher),
            ..UserUpdate::default()
        },
    ] {
        assert!(matches!(
            users.update(admin.id, &change, &Actor::System).await,
            Err(StoreError::Conflict(_))
        ));
    }
    assert!(users.get(admin.id).await.expect("admin").active);

    // Deactivation revokes refresh tokens with it; classrooms are replaced.
    let jti = uuid::Uuid::now_v7();
    store
        .tokens()
        .issue(
            jti,
            teacher.id,
            uuid::Uuid::new_v4(),
            Utc::now() + Duration::minutes(5),
        )
        .await
        .expect("issue");
    let changed = users
        .update(
            teacher.id,
            &UserUpdate {
                active: Some(false),
                classrooms: Some(vec!["room-3".into()]),
                role: None,
            },
            &Actor::User(admin.id),
        )
        .await
        .expect("update");
    assert!(!changed.active);
    assert_eq!(changed.classrooms, vec!["room-3"]);
    assert_eq!(changed.role, Role::Teacher);
    assert_eq!(
        store.tokens().consume(jti).await.expect("consume"),
        TokenUse::Revoked
    );
    assert!(
        users
            .verify_login("t", "password-1")
            .await
            .expect("login")
            .is_none()
    );

    // A password change revokes tokens and stamps the change.
    let jti = uuid::Uuid::now_v7();
    store
        .tokens()
        .issue(
            jti,
            admin.id,
            uuid::Uuid::new_v4(),
            Utc::now() + Duration::minutes(5),
        )
        .await
        .expect("issue");
    assert!(admin.credentials_changed_at.is_none());
    let admin = users
        .set_password(admin.id, "new-password-2", &Actor::User(admin.id))
        .await
        .expect("password");
    assert!(admin.credentials_changed_at.is_some());
    assert!(
        users
            .password_matches(admin.id, "new-password-2")
            .await
            .expect("match")
    );
    assert!(
        !users
            .password_matches(admin.id, "password-1")
            .await
            .expect("old")
    );
    assert_eq!(
        store.tokens().consume(jti).await.expect("consume"),
        TokenUse::Revoked
    );
    assert!(matches!(
        users.set_password(admin.id, "short", &Actor::System).await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_is_idempotent() {
    let store = mem().await;
    assert_eq!(store.migrate().await.expect("again"), SCHEMA_VERSION);
    assert_eq!(store.migrate().await.expect("again"), SCHEMA_VERSION);
    store.ping().await.expect("ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_consenting_student_is_enrolled_and_matched_and_withdrawal_deletes_their_faces() {
    let store = mem().await;
    let s = store
        .students()
        .create(&student("S1", "Ada Lovelace"), &Actor::System)
        .await
        .expect("student");
    assert_eq!(s.consent, None, "never asked");
    assert!(matches!(
        store
            .faces()
            .add(s.id, &embedding(0.1), None, &Actor::System)
            .await,
        Err(StoreError::ConsentRequired { .. })
    ));
    let recorded = store
        .students()
        .record_consent(s.id, &consent(true), &Actor::System)
        .await
        .expect("grant");
    assert!(recorded.student.has_consent());
    let shown = recorded.student.consent.expect("latest decision");
    assert_eq!(
        (shown.given_by.as_str(), shown.notice_version.as_str()),
        ("a parent", "notice-2026-09")
    );
    for seed in [0.1, 0.2] {
        store
            .faces()
            .add(
                s.id,
                &embedding(seed),
                Some("enrollment/x.jpg"),
                &Actor::System,
            )
            .await
            .expect("face with consent");
    }
    assert_eq!(store.faces().all().await.expect("gallery").len(), 2);

    let at = Utc::now();
    let seen = store
        .attendance()
        .create(
            &NewAttendance {
                device_id: "cam-1".into(),
                classroom_id: "room-1".into(),
                predicted_student_id: Some(s.id),
                confidence: 0.9,
                distance: Some(0.3),
                timestamp: at,
                review_status: ReviewStatus::Pending,
                captured_image_path: None,
                session_start: at,
                descriptor: Some(embedding(0.15)),
            },
            &Actor::Device("cam-1".into()),
        )
        .await
        .expect("record");
    assert!(
        store
            .attendance()
            .descriptor(seen.id)
            .await
            .expect("descriptor")
            .is_some()
    );

    let withdrawn = store
        .students()
        .record_consent(s.id, &consent(false), &Actor::System)
        .await
        .expect("withdraw");
    assert_eq!(
        store
            .attendance()
            .descriptor(seen.id)
            .await
            .expect("descriptor"),
        None,
        "the face template kept with their record goes too"
    );
    assert_eq!(withdrawn.faces_deleted, 2);
    assert_eq!(withdrawn.photo_paths.len(), 2);
    assert!(!withdrawn.student.has_consent());
    assert_eq!(withdrawn.student.face_count, 0);
    assert!(store.faces().all().await.expect("gallery").is_empty());
    assert!(matches!(
        store
            .faces()
            .add(s.id, &embedding(0.3), None, &Actor::System)
            .await,
        Err(StoreError::ConsentRequired { .. })
    ));
    let history = store
        .students()
        .consent_history(s.id)
        .await
        .expect("history");
    assert_eq!(
        history.iter().map(|c| c.granted).collect::<Vec<_>>(),
        vec![true, false],
        "every decision kept, oldest first"
    );
    assert!(matches!(
        store
            .students()
            .record_consent(
                s.id,
                &ConsentFields {
                    given_by: " ".into(),
                    ..consent(true)
                },
                &Actor::System
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn descriptors_are_sealed_with_the_data_key_and_plain_ones_get_sealed() {
    use cavs_models::sealing::Sealer;
    use std::sync::Arc;
    let plain_store = mem().await;
    let s = plain_store
        .students()
        .create(&student("S1", "Ada Lovelace"), &Actor::System)
        .await
        .expect("student");
    grant_consent(&plain_store, s.id).await;
    // Written without a key (a database from before encryption at rest).
    plain_store
        .faces()
        .add(s.id, &embedding(0.1), None, &Actor::System)
        .await
        .expect("plain face");
    let sealer = Arc::new(Sealer::new(&Sealer::random_key().expect("key"), &[]).expect("ring"));
    let store = plain_store.with_sealer(Arc::clone(&sealer));
    assert_eq!(
        store.faces().all().await.expect("gallery")[0].0.embedding,
        embedding(0.1),
        "a plain descriptor still reads"
    );
    store
        .faces()
        .add(s.id, &embedding(0.2), None, &Actor::System)
        .await
        .expect("sealed face");
    assert_eq!(
        store.seal_descriptors().await.expect("sealed"),
        1,
        "the plain one"
    );
    assert_eq!(
        store.seal_descriptors().await.expect("sealed"),
        0,
        "nothing left"
    );
    for row in store.table_rows("face").await.expect("rows") {
        assert!(
            row["embedding"].is_string(),
            "sealed at rest: {}",
            row["embedding"]
        );
    }
    let mut read: Vec<Vec<f32>> = store
        .faces()
        .for_student(s.id)
        .await
        .expect("faces")
        .into_iter()
        .map(|f| f.embedding)
        .collect();
    read.sort_by(|a, b| a[0].total_cmp(&b[0]));
    assert_eq!(
        read,
        vec![embedding(0.1), embedding(0.2)],
        "and open to the same values"
    );
}
