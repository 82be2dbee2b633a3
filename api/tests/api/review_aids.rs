//! Review aids: nearest students of a record's face, unknown faces grouped by likeness,
//! labelling a group in one action, the explicit enroll-from-record action, the first-run
//! endpoint on a hub that has accounts, and reviews reaching the live event stream.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use cavs_api::Candidate;
use cavs_models::protocol::AttendanceEventKind;
use cavs_models::{Actor, NewAttendance, ReviewStatus};

use crate::common::Env;

/// A descriptor at `x` along the first axis (distances between them are |x - y|).
fn face_at(x: f32) -> Vec<f32> {
    let mut d = vec![0.0; 128];
    d[0] = x;
    d
}

/// A pending unknown-face record of `classroom` with a crop on disk and `descriptor`.
async fn unknown(env: &Env, classroom: &str, minute: i64, descriptor: Option<Vec<f32>>) -> Uuid {
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap() + Duration::minutes(minute);
    let crop = format!("crops/{classroom}-{minute}.jpg");
    env.write_crop(&crop, b"\xff\xd8\xff\xe0 face crop");
    env.store
        .attendance()
        .create(
            &NewAttendance {
                device_id: "cam-1".into(),
                classroom_id: classroom.into(),
                predicted_student_id: None,
                confidence: 0.3,
                distance: None,
                timestamp: at,
                review_status: ReviewStatus::Pending,
                captured_image_path: Some(crop),
                session_start: at,
                descriptor,
            },
            &Actor::Device("cam-1".into()),
        )
        .await
        .expect("record")
        .id
}

fn group_sizes(answer: &Value) -> Vec<u64> {
    answer["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["size"].as_u64().expect("size"))
        .collect()
}

#[tokio::test]
async fn unknown_faces_group_by_likeness_within_the_callers_classrooms() {
    let env = Env::new().await;
    let a = unknown(&env, "room-1", 0, Some(face_at(0.0))).await;
    let b = unknown(&env, "room-2", 60 * 24, Some(face_at(0.3))).await;
    let far = unknown(&env, "room-1", 5, Some(face_at(3.0))).await;
    unknown(&env, "room-1", 6, None).await; // kept no descriptor: not grouped
    let (_, alice) = env.teacher_of("alice", &["room-1"]).await;
    let alice = alice["access"].as_str().expect("token");
    unknown(&env, "room-9", 7, Some(face_at(0.1))).await;

    let admin = env.get("/api/attendance/unknown-groups", &env.admin).await;
    admin.assert_status(200);
    assert_eq!(group_sizes(&admin.json), [3, 1], "{}", admin.json);
    assert_eq!(admin.json["threshold"], json!(0.5));

    let teacher = env
        .get("/api/attendance/unknown-groups", &env.teacher)
        .await;
    assert_eq!(group_sizes(&teacher.json), [2, 1], "{}", teacher.json);
    let pair = &teacher.json["groups"][0];
    assert_eq!(pair["record_ids"], json!([b, a]), "newest first");
    assert_eq!(pair["group_id"], json!(b));
    assert_eq!(pair["classroom_ids"], json!(["room-1", "room-2"]));
    assert_eq!(teacher.json["groups"][1]["record_ids"], json!([far]));

    let only_room_1 = env.get("/api/attendance/unknown-groups", alice).await;
    assert_eq!(
        group_sizes(&only_room_1.json),
        [1, 1],
        "{}",
        only_room_1.json
    );
    let day = env
        .get(
            "/api/attendance/unknown-groups?date_from=2025-03-04&date_to=2025-03-04",
            &env.admin,
        )
        .await;
    assert_eq!(group_sizes(&day.json), [1], "{}", day.json);
}

#[tokio::test]
async fn a_group_is_labelled_in_one_action_after_every_record_is_checked() {
    let env = Env::new().await;
    let ada = env.student("S1", "Ada Lovelace").await;
    let a = unknown(&env, "room-1", 0, Some(face_at(0.0))).await;
    let b = unknown(&env, "room-1", 1, Some(face_at(0.2))).await;
    let elsewhere = unknown(&env, "room-9", 2, Some(face_at(0.1))).await;

    let refused = env
        .post(
            "/api/attendance/label",
            &env.teacher,
            json!({"record_ids": [a, elsewhere], "student_id": "S1"}),
        )
        .await;
    refused.assert_problem(404, "not-found");
    let untouched = env.get(&format!("/api/attendance/{a}"), &env.admin).await;
    assert_eq!(
        untouched.json["review_status"], "pending",
        "nothing changed"
    );

    for body in [
        json!({"record_ids": [a]}),
        json!({"record_ids": [a], "student_id": "S1", "new_student": {"student_number": "S9", "full_name": "X"}}),
    ] {
        env.post("/api/attendance/label", &env.teacher, body)
            .await
            .assert_problem(422, "validation-error");
    }
    env.post(
        "/api/attendance/label",
        &env.teacher,
        json!({"record_ids": [a], "student_id": "nobody"}),
    )
    .await
    .assert_problem(422, "unknown-student");
    env.post(
        "/api/attendance/label",
        &env.teacher,
        json!({"record_ids": [a], "new_student": {"student_number": "S2", "full_name": "Bob"}}),
    )
    .await
    .assert_problem(403, "forbidden");

    let labelled = env
        .post(
            "/api/attendance/label",
            &env.teacher,
            json!({"record_ids": [a, b], "student_id": "S1", "notes": "same child"}),
        )
        .await;
    labelled.assert_status(200);
    assert_eq!(labelled.json["student"]["id"], ada["id"]);
    for record in labelled.json["records"].as_array().expect("records") {
        assert_eq!(record["review_status"], "approved");
        assert_eq!(record["predicted_student_id"], ada["id"]);
        assert_eq!(record["predicted_name"], "Ada Lovelace");
    }
    let groups = env
        .get("/api/attendance/unknown-groups", &env.teacher)
        .await;
    assert_eq!(
        group_sizes(&groups.json),
        Vec::<u64>::new(),
        "labelled faces leave the groups"
    );

    let newcomer = env
        .post(
            "/api/attendance/label",
            &env.admin,
            json!({"record_ids": [elsewhere], "new_student": {"student_number": "S2", "full_name": "Bob Newcomer"}}),
        )
        .await;
    newcomer.assert_status(200);
    assert_eq!(newcomer.json["student"]["student_number"], "S2");
    assert_eq!(
        newcomer.json["records"][0]["predicted_name"],
        "Bob Newcomer"
    );
    let bob = env.get("/api/students/S2", &env.admin).await;
    assert_eq!(bob.json["face_count"], 0, "labelling enrolls no face");
}

#[tokio::test]
async fn candidates_name_the_nearest_students_of_a_visible_record() {
    let env = Env::new().await;
    let ada = env.student("S1", "Ada Lovelace").await;
    let ada_id: Uuid = ada["id"].as_str().expect("id").parse().expect("uuid");
    *env.pipeline.candidates.lock().expect("lock") = vec![
        Candidate {
            student_id: ada_id,
            full_name: "Ada Lovelace".into(),
            distance: 0.42,
            confidence: 0.8,
        },
        Candidate {
            student_id: Uuid::now_v7(), // deleted since the gallery was built
            full_name: "Gone".into(),
            distance: 0.5,
            confidence: 0.7,
        },
    ];
    let with_face = unknown(&env, "room-1", 0, Some(face_at(0.0))).await;
    let without = unknown(&env, "room-1", 1, None).await;
    let elsewhere = unknown(&env, "room-9", 2, Some(face_at(0.0))).await;

    let near = env
        .get(
            &format!("/api/attendance/{with_face}/candidates"),
            &env.teacher,
        )
        .await;
    near.assert_status(200);
    assert_eq!(near.json["record_id"], json!(with_face));
    let candidates = near.json["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 1, "{}", near.json);
    assert_eq!(candidates[0]["student_number"], "S1");
    assert_eq!(candidates[0]["full_name"], "Ada Lovelace");
    assert!((candidates[0]["distance"].as_f64().expect("distance") - 0.42).abs() < 1e-6);

    let limited = env
        .get(
            &format!("/api/attendance/{with_face}/candidates?limit=1"),
            &env.admin,
        )
        .await;
    assert_eq!(limited.json["candidates"].as_array().map(Vec::len), Some(1));
    let none = env
        .get(
            &format!("/api/attendance/{without}/candidates"),
            &env.teacher,
        )
        .await;
    assert_eq!(none.json["candidates"], json!([]));
    env.get(
        &format!("/api/attendance/{elsewhere}/candidates"),
        &env.teacher,
    )
    .await
    .assert_problem(404, "not-found");
    env.get("/api/attendance/not-a-uuid/candidates", &env.teacher)
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn a_reviewed_face_joins_enrollment_only_through_its_own_action() {
    let env = Env::new().await;
    let ada = env.student("S1", "Ada Lovelace").await;
    let record = unknown(&env, "room-1", 0, Some(face_at(0.25))).await;
    let enroll = format!("/api/attendance/{record}/enroll");

    env.post(&enroll, &env.admin, json!({}))
        .await
        .assert_problem(409, "conflict");
    let approved = env
        .post(
            &format!("/api/attendance/{record}/review"),
            &env.teacher,
            json!({"decision": "approve", "student_id": "S1"}),
        )
        .await;
    approved.assert_status(200);
    let after_review = env.get("/api/students/S1", &env.admin).await;
    assert_eq!(
        after_review.json["face_count"], 0,
        "approving enrolls nothing"
    );

    env.post(&enroll, &env.teacher, json!({}))
        .await
        .assert_problem(403, "forbidden");
    let before = env
        .pipeline
        .gallery_changes
        .load(std::sync::atomic::Ordering::SeqCst);
    let face = env.post(&enroll, &env.admin, json!({})).await;
    face.assert_status(201);
    assert_eq!(face.json["student_id"], ada["id"]);
    let kept = face.json["source_path"].as_str().expect("source path");
    assert!(kept.starts_with("enrollment/"), "{kept}");
    assert!(
        env.data_dir().join(kept).is_file(),
        "the crop is kept as an enrollment photo"
    );
    let student = env.get("/api/students/S1", &env.admin).await;
    assert_eq!(student.json["face_count"], 1);
    let faces = env
        .store
        .faces()
        .for_student(ada["id"].as_str().expect("id").parse().expect("uuid"))
        .await
        .expect("faces");
    assert_eq!(
        faces[0].embedding,
        face_at(0.25),
        "the record's descriptor is enrolled"
    );
    assert_eq!(
        env.pipeline
            .gallery_changes
            .load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );
    let no_descriptor = unknown(&env, "room-1", 1, None).await;
    env.post(
        &format!("/api/attendance/{no_descriptor}/review"),
        &env.admin,
        json!({"decision": "approve", "student_id": "S1"}),
    )
    .await
    .assert_status(200);
    env.post(
        &format!("/api/attendance/{no_descriptor}/enroll"),
        &env.admin,
        json!({}),
    )
    .await
    .assert_problem(422, "validation-error");
}

#[tokio::test]
async fn reviews_reach_the_live_event_stream_and_setup_is_closed_once_accounts_exist() {
    let env = Env::new().await;
    let mut events = env.events.subscribe();
    let record = unknown(&env, "room-1", 0, None).await;
    env.post(
        &format!("/api/attendance/{record}/review"),
        &env.teacher,
        json!({"decision": "reject"}),
    )
    .await
    .assert_status(200);
    let event = events.try_recv().expect("a review event");
    assert_eq!(event.kind, AttendanceEventKind::Reviewed);
    assert_eq!(event.record_id, record);
    assert_eq!(event.review_status, "rejected");

    env.send(poem::http::Method::GET, "/api/events", None, None)
        .await
        .assert_problem(401, "unauthorized");

    let status = env
        .send(poem::http::Method::GET, "/api/setup", None, None)
        .await;
    status.assert_status(200);
    assert_eq!(status.json, json!({"needed": false}));
    env.send(
        poem::http::Method::POST,
        "/api/setup",
        None,
        Some(json!({"code": "ABCDEFGHJKLM", "username": "eve", "password": "long-enough-pw"})),
    )
    .await
    .assert_problem(409, "conflict");
}
