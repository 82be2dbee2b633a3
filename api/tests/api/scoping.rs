//! Classroom scoping (OWASP API1): a teacher bound to `room-1` sees and reviews only room-1's
//! records and devices; another classroom's record or device answers 404 on every endpoint,
//! exactly as if it did not exist. Admins bind teachers with `/api/auth/register` and
//! `PUT /api/users/{id}`.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use cavs_models::{Actor, NewAttendance, ReviewStatus};

use crate::common::Env;

/// A pending record of `classroom` whose face crop exists on disk.
async fn record_with_crop(env: &Env, device: &str, classroom: &str) -> Uuid {
    let crop = format!("crops/{device}.jpg");
    env.write_crop(&crop, b"\xff\xd8\xff\xe0 face crop");
    let timestamp = Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap();
    env.store
        .attendance()
        .create(
            &NewAttendance {
                device_id: device.into(),
                classroom_id: classroom.into(),
                predicted_student_id: None,
                confidence: 0.4,
                distance: Some(0.7),
                timestamp,
                review_status: ReviewStatus::Pending,
                captured_image_path: Some(crop),
                session_start: timestamp,
                descriptor: None,
            },
            &Actor::Device(device.into()),
        )
        .await
        .expect("record")
        .id
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Two classrooms with a record and a device each; `alice` teaches room-1 only.
async fn two_classrooms() -> (Env, String, Uuid, Uuid) {
    let env = Env::new().await;
    let mine = record_with_crop(&env, "cam-1", "room-1").await;
    let theirs = record_with_crop(&env, "cam-2", "room-2").await;
    env.device("cam-1", "room-1").await;
    env.device("cam-2", "room-2").await;
    let (user, pair) = env.teacher_of("alice", &["room-1"]).await;
    assert_eq!(user["classrooms"], json!(["room-1"]));
    let token = pair["access"].as_str().expect("access").to_owned();
    (env, token, mine, theirs)
}

#[tokio::test]
async fn a_teachers_lists_hold_only_their_classrooms() {
    let (env, alice, mine, _) = two_classrooms().await;
    for uri in ["/api/attendance", "/api/attendance/pending"] {
        let page = env.get(uri, &alice).await;
        page.assert_status(200);
        assert_eq!(ids(&page.json), vec![mine.to_string()], "{uri}");
        assert_eq!(page.json["total"], 1, "{uri}");
        // Asking for the other classroom by name finds nothing either.
        let other = env.get(&format!("{uri}?classroom_id=room-2"), &alice).await;
        assert_eq!(other.json["total"], 0, "{uri}");
        // The admin sees both.
        assert_eq!(env.get(uri, &env.admin).await.json["total"], 2, "{uri}");
    }
    let devices = env.get("/api/devices", &alice).await;
    devices.assert_status(200);
    let names: Vec<&str> = devices.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["device_id"].as_str().expect("device id"))
        .collect();
    assert_eq!(names, vec!["cam-1"]);
    assert_eq!(devices.json["total"], 1);
    assert_eq!(
        env.get("/api/devices?classroom_id=room-2", &alice)
            .await
            .json["total"],
        0
    );
}

#[tokio::test]
async fn another_classrooms_record_is_not_found_on_every_endpoint() {
    let (env, alice, mine, theirs) = two_classrooms().await;
    // Own classroom: readable, image served, reviewable.
    env.get(&format!("/api/attendance/{mine}"), &alice)
        .await
        .assert_status(200);
    let image = env
        .get(&format!("/api/attendance/{mine}/image"), &alice)
        .await;
    image.assert_status(200);
    env.post(
        &format!("/api/attendance/{mine}/review"),
        &alice,
        json!({ "decision": "approve" }),
    )
    .await
    .assert_status(200);

    // Other classroom: 404 like a record that does not exist, and nothing changes.
    let unknown = Uuid::now_v7();
    for id in [theirs, unknown] {
        let read = env.get(&format!("/api/attendance/{id}"), &alice).await;
        read.assert_problem(404, "not-found");
        assert_eq!(
            read.json["detail"],
            format!("attendance record {id} not found")
        );
        env.get(&format!("/api/attendance/{id}/image"), &alice)
            .await
            .assert_problem(404, "not-found");
        env.post(
            &format!("/api/attendance/{id}/review"),
            &alice,
            json!({ "decision": "reject", "notes": "not mine" }),
        )
        .await
        .assert_problem(404, "not-found");
    }
    let stored = env.store.attendance().get(theirs).await.expect("record");
    assert_eq!(stored.review_status, ReviewStatus::Pending);
    assert_eq!(stored.notes, None);
    // The admin still reads it and its image.
    env.get(&format!("/api/attendance/{theirs}"), &env.admin)
        .await
        .assert_status(200);
    env.get(&format!("/api/attendance/{theirs}/image"), &env.admin)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn another_classrooms_device_is_not_found() {
    let (env, alice, _, _) = two_classrooms().await;
    env.get("/api/devices/cam-1", &alice)
        .await
        .assert_status(200);
    let by_name = env.get("/api/devices/cam-2", &alice).await;
    by_name.assert_problem(404, "not-found");
    assert_eq!(by_name.json["detail"], "device `cam-2` not found");
    let uuid = env.get("/api/devices/cam-2", &env.admin).await.json["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let by_id = env.get(&format!("/api/devices/{uuid}"), &alice).await;
    by_id.assert_problem(404, "not-found");
    // Exactly the answer for a record id that does not exist.
    let unknown = Uuid::now_v7();
    let missing = env.get(&format!("/api/devices/{unknown}"), &alice).await;
    missing.assert_problem(404, "not-found");
    assert_eq!(
        by_id.json["detail"],
        missing.json["detail"]
            .as_str()
            .expect("detail")
            .replace(&unknown.to_string(), &uuid)
    );
}

#[tokio::test]
async fn an_admin_rebinds_a_teacher_and_it_applies_at_once() {
    let (env, alice, _, theirs) = two_classrooms().await;
    let user_id = env
        .store
        .users()
        .by_username("alice")
        .await
        .expect("alice")
        .id;
    let users = env.get("/api/users", &env.admin).await;
    users.assert_status(200);
    assert_eq!(users.json["total"], 3);
    env.get("/api/users", &alice)
        .await
        .assert_problem(403, "forbidden");
    env.get(&format!("/api/users/{user_id}"), &alice)
        .await
        .assert_problem(403, "forbidden");
    let one = env.get(&format!("/api/users/{user_id}"), &env.admin).await;
    one.assert_status(200);
    assert_eq!(one.json["classrooms"], json!(["room-1"]));

    let changed = env
        .put(
            &format!("/api/users/{user_id}"),
            &env.admin,
            json!({ "classrooms": ["room-2", "room-1", "room-2"] }),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.json["classrooms"], json!(["room-1", "room-2"]));
    assert_eq!(changed.json["role"], "teacher");
    assert_eq!(changed.json["active"], true);
    // The same token now sees room-2, and the broker was told to end alice's sessions.
    env.get(&format!("/api/attendance/{theirs}"), &alice)
        .await
        .assert_status(200);
    assert_eq!(env.account_changes(), vec!["alice".to_owned()]);

    // Bad classroom ids and unknown users are typed errors.
    env.put(
        &format!("/api/users/{user_id}"),
        &env.admin,
        json!({ "classrooms": ["room/#"] }),
    )
    .await
    .assert_problem(422, "validation-error");
    env.post(
        "/api/auth/register",
        &env.admin,
        json!({ "username": "bob", "password": "long enough", "role": "teacher", "classrooms": ["a b"] }),
    )
    .await
    .assert_problem(422, "validation-error");
    env.put(
        &format!("/api/users/{}", Uuid::now_v7()),
        &env.admin,
        json!({ "active": false }),
    )
    .await
    .assert_problem(404, "not-found");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_disabled() {
    let env = Env::new().await;
    let admin_id = env
        .store
        .users()
        .by_username("admin")
        .await
        .expect("admin")
        .id;
    for change in [json!({ "active": false }), json!({ "role": "teacher" })] {
        env.put(&format!("/api/users/{admin_id}"), &env.admin, change)
            .await
            .assert_problem(409, "conflict");
    }
    // With a second admin, the first may step down.
    let teacher_id = env
        .store
        .users()
        .by_username("teacher")
        .await
        .expect("t")
        .id;
    env.put(
        &format!("/api/users/{teacher_id}"),
        &env.admin,
        json!({ "role": "admin" }),
    )
    .await
    .assert_status(200);
    let demoted = env
        .put(
            &format!("/api/users/{admin_id}"),
            &env.admin,
            json!({ "role": "teacher" }),
        )
        .await;
    demoted.assert_status(200);
    assert_eq!(demoted.json["role"], "teacher");
    // Role changes apply at once: the same token is now a teacher's.
    env.get("/api/users", &env.admin)
        .await
        .assert_problem(403, "forbidden");
}
