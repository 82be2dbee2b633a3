//! Attendance lists, filters, review, delete, the face crop and the whole teacher flow.

use chrono::{Duration, TimeZone, Utc};
use poem::http::Method;
use serde_json::json;
use uuid::Uuid;

use cavs_models::{Actor, NewAttendance, ReviewStatus};

use crate::common::Env;

async fn record(
    env: &Env,
    device: &str,
    classroom: &str,
    student: Option<Uuid>,
    day: u32,
    image: Option<&str>,
) -> Uuid {
    let timestamp = Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0).unwrap();
    env.store
        .attendance()
        .create(
            &NewAttendance {
                device_id: device.into(),
                classroom_id: classroom.into(),
                predicted_student_id: student,
                confidence: 0.7,
                distance: Some(0.5),
                timestamp,
                review_status: ReviewStatus::Pending,
                captured_image_path: image.map(str::to_owned),
                session_start: timestamp,
                descriptor: None,
            },
            &Actor::Device(device.into()),
        )
        .await
        .expect("record")
        .id
}

#[tokio::test]
async fn whole_teacher_flow_login_pending_approve_audit() {
    let env = Env::new().await;
    let s = env.student("S1", "Ada").await;
    let sid: Uuid = s["id"].as_str().unwrap().parse().unwrap();
    let rec = record(&env, "cam-1", "room-1", Some(sid), 3, None).await;

    // Login as the teacher.
    let pair = env.login("teacher").await;
    let token = pair["access"].as_str().unwrap();
    // Pending list shows the record in the agreed shape.
    let pending = env.get("/api/attendance/pending", token).await;
    pending.assert_status(200);
    assert_eq!(pending.json["total"], 1);
    let item = &pending.json["items"][0];
    for key in [
        "id",
        "device_id",
        "classroom_id",
        "predicted_student_id",
        "predicted_name",
        "confidence",
        "distance",
        "timestamp",
        "review_status",
        "reviewer_id",
        "review_timestamp",
        "notes",
        "image_url",
    ] {
        assert!(item.get(key).is_some(), "missing {key} in {item}");
    }
    assert_eq!(item["predicted_name"], "Ada");
    assert_eq!(item["review_status"], "pending");
    // Approve.
    let reviewed = env
        .post(
            &format!("/api/attendance/{rec}/review"),
            token,
            json!({ "decision": "approve", "notes": "present" }),
        )
        .await;
    reviewed.assert_status(200);
    assert_eq!(reviewed.json["review_status"], "approved");
    assert_eq!(reviewed.json["notes"], "present");
    let teacher = env.store.users().by_username("teacher").await.unwrap();
    assert_eq!(reviewed.json["reviewer_id"], teacher.id.to_string());
    assert!(reviewed.json["review_timestamp"].is_string());
    // No longer pending.
    assert_eq!(
        env.get("/api/attendance/pending", token).await.json["total"],
        0
    );
    // The admin's audit log shows the review by the teacher.
    let audit = env
        .get(
            &format!("/api/audit?action=review&target_id={rec}"),
            &env.admin,
        )
        .await;
    audit.assert_status(200);
    assert_eq!(audit.json["total"], 1);
    let entry = &audit.json["items"][0];
    assert_eq!(entry["user_id"], teacher.id.to_string());
    assert_eq!(entry["actor_kind"], "user");
    assert_eq!(entry["target_table"], "attendance");
    assert_eq!(entry["meta"]["decision"], "approved");
    // Filtered by user too.
    let by_user = env
        .get(
            &format!("/api/audit?user_id={}&target_table=attendance", teacher.id),
            &env.admin,
        )
        .await;
    assert_eq!(by_user.json["total"], 1);
}

#[tokio::test]
async fn filters_reassign_reject_delete() {
    let env = Env::new().await;
    let a: Uuid = env.student("A1", "Alice").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let b: Uuid = env.student("B1", "Bob").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r1 = record(&env, "cam-1", "room-1", Some(a), 3, None).await;
    let r2 = record(&env, "cam-2", "room-2", Some(b), 4, None).await;
    let r3 = record(&env, "cam-1", "room-1", None, 5, None).await;
    let t = &env.teacher;
    let envr = &env;
    let total =
        move |uri: String| async move { envr.get(&uri, t).await.json["total"].as_u64().unwrap() };
    assert_eq!(total("/api/attendance".into()).await, 3);
    assert_eq!(total("/api/attendance?classroom_id=room-1".into()).await, 2);
    assert_eq!(total("/api/attendance?device_id=cam-2".into()).await, 1);
    assert_eq!(total(format!("/api/attendance?student_id={a}")).await, 1);
    assert_eq!(total("/api/attendance?student_id=B1".into()).await, 1);
    assert_eq!(
        total("/api/attendance?date_from=2025-03-04".into()).await,
        2
    );
    assert_eq!(
        total("/api/attendance?date_from=2025-03-04&date_to=2025-03-04".into()).await,
        1
    );
    assert_eq!(
        total("/api/attendance?date_to=2025-03-04T00:00:00Z".into()).await,
        1
    );
    assert_eq!(
        total("/api/attendance?status=pending&limit=1&offset=1".into()).await,
        3
    );
    env.get("/api/attendance?status=maybe", t)
        .await
        .assert_status(400);
    env.get("/api/attendance?date_from=yesterday", t)
        .await
        .assert_status(400);

    // Reassign r3 (unknown face) to Bob and approve; reject r2.
    let re = env
        .post(
            &format!("/api/attendance/{r3}/review"),
            t,
            json!({ "decision": "approve", "student_id": "B1", "notes": "it is Bob" }),
        )
        .await;
    re.assert_status(200);
    assert_eq!(re.json["predicted_student_id"], b.to_string());
    assert_eq!(re.json["predicted_name"], "Bob");
    let rejected = env
        .post(
            &format!("/api/attendance/{r2}/review"),
            t,
            json!({ "decision": "reject" }),
        )
        .await;
    assert_eq!(rejected.json["review_status"], "rejected");
    assert_eq!(total("/api/attendance?status=rejected".into()).await, 1);
    // Bad reviews.
    env.post(
        &format!("/api/attendance/{r1}/review"),
        t,
        json!({ "decision": "maybe" }),
    )
    .await
    .assert_status(400);
    env.post(
        &format!("/api/attendance/{r1}/review"),
        t,
        json!({ "decision": "approve", "student_id": "NOPE" }),
    )
    .await
    .assert_problem(422, "unknown-student");
    env.post(
        &format!("/api/attendance/{}/review", Uuid::now_v7()),
        t,
        json!({ "decision": "approve" }),
    )
    .await
    .assert_problem(404, "not-found");
    env.get("/api/attendance/not-a-uuid", t)
        .await
        .assert_problem(404, "not-found");

    // Delete (admin) is audited.
    env.send(
        Method::DELETE,
        &format!("/api/attendance/{r1}"),
        Some(&env.admin),
        None,
    )
    .await
    .assert_status(204);
    env.get(&format!("/api/attendance/{r1}"), t)
        .await
        .assert_problem(404, "not-found");
    let audit = env
        .get(
            &format!(
                "/api/audit?action=delete&target_table=attendance&date_from={}",
                (Utc::now() - Duration::hours(1)).date_naive()
            ),
            &env.admin,
        )
        .await;
    assert_eq!(audit.json["total"], 1);
}

#[tokio::test]
async fn face_crop_is_served_opened_from_its_sealed_file() {
    let env = Env::new().await;
    let jpeg = crate::common::photo("obama/obama_small.jpg");
    env.write_crop("crops/a.jpg", &jpeg);
    let on_disk = std::fs::read(env.data_dir().join("crops/a.jpg")).unwrap();
    assert!(!on_disk.starts_with(&[0xFF, 0xD8]), "sealed at rest");
    let rec = record(&env, "cam-1", "room-1", None, 3, Some("crops/a.jpg")).await;
    let listed = env
        .get(&format!("/api/attendance/{rec}"), &env.teacher)
        .await;
    let url = listed.json["image_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/attendance/{rec}/image"));
    let image = env.get(&url, &env.teacher).await;
    image.assert_status(200);
    assert_eq!(image.content_type, "image/jpeg");
    assert_eq!(image.bytes, jpeg);
    // A file that is not sealed (or sealed with another key) is not served.
    std::fs::write(env.data_dir().join("crops/plain.jpg"), &jpeg).unwrap();
    let plain = record(&env, "cam-1", "room-1", None, 3, Some("crops/plain.jpg")).await;
    env.get(&format!("/api/attendance/{plain}/image"), &env.teacher)
        .await
        .assert_problem(404, "not-found");
    // A path escaping the data dir is refused.
    let evil = record(&env, "cam-1", "room-1", None, 3, Some("../../etc/passwd")).await;
    env.get(&format!("/api/attendance/{evil}/image"), &env.teacher)
        .await
        .assert_problem(404, "not-found");
}
