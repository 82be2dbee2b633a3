//! Consent: no photo of a student without consent is enrolled (409 `consent-required`), every
//! decision is kept and shown, a withdrawal deletes the student's faces and photos at once,
//! and students who opt out are marked present by hand.

use serde_json::json;

use crate::common::{Env, photo};

fn decision(granted: bool) -> serde_json::Value {
    json!({ "granted": granted, "given_by": "Ada's father", "notice_version": "2026-09" })
}

#[tokio::test]
async fn photos_need_consent_and_a_withdrawal_deletes_the_faces_at_once() {
    let env = Env::new().await;
    let student = env.student_without_consent("C1", "Barack Obama").await;
    assert_eq!(student["consent"], serde_json::Value::Null);
    let id = student["id"].as_str().expect("id").to_owned();
    let photos = format!("/api/students/{id}/photos");
    let upload = [("obama.jpg", photo("obama/obama-240p.jpg"))];
    env.upload_photos(&photos, &env.admin, &upload)
        .await
        .assert_problem(409, "consent-required");
    assert_eq!(
        env.store
            .faces()
            .for_student(id.parse().expect("uuid"))
            .await
            .expect("faces")
            .len(),
        0
    );

    let consent = format!("/api/students/{id}/consent");
    env.post(&consent, &env.teacher, decision(true))
        .await
        .assert_problem(403, "forbidden");
    env.post(
        &consent,
        &env.admin,
        json!({ "granted": true, "given_by": "", "notice_version": "v" }),
    )
    .await
    .assert_problem(400, "malformed-request");
    let granted = env.post(&consent, &env.admin, decision(true)).await;
    granted.assert_status(200);
    assert_eq!(granted.json["student"]["consent"]["granted"], true);
    assert_eq!(
        granted.json["student"]["consent"]["given_by"],
        "Ada's father"
    );
    assert_eq!(
        granted.json["student"]["consent"]["notice_version"],
        "2026-09"
    );
    assert!(
        granted.json["student"]["consent"]["recorded_by"].is_string(),
        "the admin who recorded it"
    );
    env.upload_photos(&photos, &env.admin, &upload)
        .await
        .assert_status(201);
    let shown = env.get(&format!("/api/students/{id}"), &env.teacher).await;
    assert_eq!(shown.json["face_count"], 1);
    assert_eq!(shown.json["consent"]["granted"], true);
    let photo_dir = env.data_dir().join("enrollment").join(&id);
    let stored = std::fs::read_dir(&photo_dir).expect("photos kept").count();
    assert_eq!(stored, 1);

    let changes = env.gallery_changes();
    let withdrawn = env.post(&consent, &env.admin, decision(false)).await;
    withdrawn.assert_status(200);
    assert_eq!(withdrawn.json["faces_deleted"], 1);
    assert_eq!(withdrawn.json["photos_deleted"], 1);
    assert_eq!(withdrawn.json["student"]["face_count"], 0);
    assert_eq!(withdrawn.json["student"]["consent"]["granted"], false);
    assert!(
        env.gallery_changes() > changes,
        "the gallery forgets them at once"
    );
    assert_eq!(std::fs::read_dir(&photo_dir).map_or(0, |d| d.count()), 0);
    env.upload_photos(&photos, &env.admin, &upload)
        .await
        .assert_problem(409, "consent-required");

    let export = env
        .get(&format!("/api/students/{id}/export"), &env.admin)
        .await;
    export.assert_status(200);
    let history: Vec<bool> = export.json["consent_history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|c| c["granted"].as_bool().expect("granted"))
        .collect();
    assert_eq!(
        history,
        vec![true, false],
        "every decision kept, oldest first"
    );
    let audit = env
        .get("/api/audit?action=consent_withdrawn", &env.admin)
        .await;
    assert_eq!(audit.json["total"], 1);
}

#[tokio::test]
async fn a_teacher_marks_a_student_present_by_hand_once_per_session_in_their_classrooms() {
    let env = Env::new().await;
    env.student_without_consent("M1", "Opted Out").await;
    let (_, tokens) = env.teacher_of("ms-brown", &["room-1"]).await;
    let teacher = tokens["access"].as_str().expect("access").to_owned();
    let body = json!({ "student_id": "M1", "classroom_id": "room-1", "notes": "opted out of recognition" });

    let created = env.post("/api/attendance", &teacher, body.clone()).await;
    created.assert_status(201);
    let record = &created.json;
    assert_eq!(record["review_status"], "approved");
    assert_eq!(record["predicted_name"], "Opted Out");
    assert_eq!(record["device_id"], "manual");
    assert_eq!(record["notes"], "opted out of recognition");
    assert_eq!(record["image_url"], serde_json::Value::Null, "no face crop");
    let me = env.get("/api/auth/me", &teacher).await;
    assert_eq!(record["reviewer_id"], me.json["id"]);
    let listed = env.get("/api/attendance?student_id=M1", &teacher).await;
    assert_eq!(listed.json["total"], 1);

    env.post("/api/attendance", &teacher, body.clone())
        .await
        .assert_problem(409, "conflict");
    env.post(
        "/api/attendance",
        &teacher,
        json!({ "student_id": "M1", "classroom_id": "room-2" }),
    )
    .await
    .assert_problem(403, "forbidden");
    env.post(
        "/api/attendance",
        &teacher,
        json!({ "student_id": "NOBODY", "classroom_id": "room-1" }),
    )
    .await
    .assert_problem(404, "not-found");
    env.post(
        "/api/attendance",
        &teacher,
        json!({ "student_id": "M1", "classroom_id": "room-1", "timestamp": "2999-01-01T00:00:00Z" }),
    )
    .await
    .assert_status(422);
    // An earlier lesson is its own session.
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    env.post(
        "/api/attendance",
        &env.admin,
        json!({ "student_id": "M1", "classroom_id": "room-2", "timestamp": earlier }),
    )
    .await
    .assert_status(201);
}
