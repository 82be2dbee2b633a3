//! Devices CRUD, credentials, and the capture endpoint's device authentication and input
//! checks.

use poem::http::Method;
use poem::test::{TestForm, TestFormField};
use serde_json::json;

use cavs_models::protocol::SigningKey;
use cavs_models::store::verify_secret;

use crate::common::{Answer, Env, MAX_UPLOAD, photo, read};

#[tokio::test]
async fn crud_credentials_and_config_notifications() {
    let env = Env::new().await;
    let created = env
        .post(
            "/api/devices",
            &env.admin,
            json!({ "device_id": "cam-1", "classroom_id": "room-1", "location": "back wall",
                    "config": { "enabled": true, "capture_interval_ms": 2000, "resolution": "1280x720", "jpeg_quality": 90 } }),
        )
        .await;
    created.assert_status(201);
    for key in [
        "id",
        "device_id",
        "classroom_id",
        "location",
        "status",
        "last_seen",
        "config",
    ] {
        assert!(created.json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(created.json["status"], "active");
    assert_eq!(created.json["has_secret"], false);
    assert_eq!(created.json["config"]["capture_interval_ms"], 2000);
    let id = created.json["id"].as_str().unwrap().to_owned();
    env.device("cam-2", "room-2").await;

    let listed = env
        .get("/api/devices?classroom_id=room-1", &env.teacher)
        .await;
    assert_eq!(listed.json["total"], 1);
    env.get(&format!("/api/devices/{id}"), &env.teacher)
        .await
        .assert_status(200);
    env.get("/api/devices/cam-1", &env.teacher)
        .await
        .assert_status(200);
    env.get("/api/devices/cam-404", &env.teacher)
        .await
        .assert_problem(404, "not-found");
    env.post(
        "/api/devices",
        &env.admin,
        json!({ "device_id": "cam-1", "classroom_id": "r" }),
    )
    .await
    .assert_problem(409, "conflict");
    env.post(
        "/api/devices",
        &env.admin,
        json!({ "device_id": "bad id/x", "classroom_id": "r" }),
    )
    .await
    .assert_status(400);

    // Update publishes the config.
    let updated = env
        .send(
            Method::PUT,
            "/api/devices/cam-1",
            Some(&env.admin),
            Some(json!({ "device_id": "cam-1", "classroom_id": "room-1", "status": "inactive",
                         "config": { "enabled": false, "capture_interval_ms": 1000, "resolution": "640x480", "jpeg_quality": 70 } })),
        )
        .await;
    updated.assert_status(200);
    assert_eq!(updated.json["status"], "inactive");
    assert_eq!(updated.json["config"]["enabled"], false);
    let changes = env.pipeline.device_changes.lock().unwrap().clone();
    assert!(changes.contains(&("cam-1".to_owned(), true)), "{changes:?}");

    // Credentials: shown once, stored hashed, the old secret stops working.
    let first = env
        .post("/api/devices/cam-2/credentials", &env.admin, json!({}))
        .await;
    first.assert_status(201);
    assert_eq!(first.json["device_id"], "cam-2");
    let secret1 = first.json["secret"].as_str().unwrap().to_owned();
    let creds = env
        .store
        .devices()
        .credentials("cam-2")
        .await
        .unwrap()
        .unwrap();
    let hash1 = creds.secret_hash.clone().unwrap();
    assert_ne!(hash1, secret1);
    assert!(verify_secret(&hash1, &secret1));
    assert_eq!(
        creds.signing_key.unwrap(),
        SigningKey::derive(&secret1).to_hex()
    );
    let second = env
        .post("/api/devices/cam-2/credentials", &env.admin, json!({}))
        .await;
    let secret2 = second.json["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret1, secret2);
    let hash2 = env
        .store
        .devices()
        .credentials("cam-2")
        .await
        .unwrap()
        .unwrap()
        .secret_hash
        .unwrap();
    assert!(!verify_secret(&hash2, &secret1));
    assert!(verify_secret(&hash2, &secret2));
    let device = env.get("/api/devices/cam-2", &env.admin).await;
    assert_eq!(device.json["has_secret"], true);
    assert!(device.json.get("secret").is_none() && device.json.get("secret_hash").is_none());
    // Old secret refused at the capture endpoint, new one accepted.
    capture(
        &env,
        "cam-2",
        &secret1,
        "cam-2",
        "room-2",
        photo("obama/obama_small.jpg"),
    )
    .await
    .assert_problem(401, "unauthorized");
    capture(
        &env,
        "cam-2",
        &secret2,
        "cam-2",
        "room-2",
        photo("obama/obama_small.jpg"),
    )
    .await
    .assert_status(200);

    // Delete announces the removal.
    env.send(Method::DELETE, "/api/devices/cam-2", Some(&env.admin), None)
        .await
        .assert_status(204);
    let changes = env.pipeline.device_changes.lock().unwrap().clone();
    assert_eq!(changes.last(), Some(&("cam-2".to_owned(), false)));
    let audit = env.get("/api/audit?target_table=device", &env.admin).await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"issue_credentials") && actions.contains(&"delete"),
        "{actions:?}"
    );
}

async fn capture(
    env: &Env,
    user: &str,
    password: &str,
    device_id: &str,
    classroom_id: &str,
    image: Vec<u8>,
) -> Answer {
    let form = TestForm::new()
        .field(
            TestFormField::bytes(image)
                .name("image")
                .filename("frame.jpg")
                .content_type("image/jpeg"),
        )
        .text("device_id", device_id)
        .text("classroom_id", classroom_id)
        .text("timestamp", "2025-03-03T09:00:00Z");
    let basic = basic(user, password);
    read(
        env.client
            .post("/api/capture")
            .header("authorization", basic)
            .multipart(form)
            .send()
            .await,
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[tokio::test]
async fn capture_checks_device_auth_and_input() {
    let env = Env::new().await;
    env.device("cam-1", "room-1").await;
    env.device("cam-2", "room-2").await;
    let secret = env
        .post("/api/devices/cam-1/credentials", &env.admin, json!({}))
        .await
        .json["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let image = photo("obama/obama_small.jpg");

    // Accepted: faces reported in the original shape plus `faces`.
    let ok = capture(&env, "cam-1", &secret, "cam-1", "room-1", image.clone()).await;
    ok.assert_status(200);
    for key in [
        "record_id",
        "predicted_student_id",
        "predicted_name",
        "confidence",
        "status",
        "faces",
    ] {
        assert!(ok.json.get(key).is_some(), "missing {key}: {}", ok.json);
    }
    assert_eq!(ok.json["faces"].as_array().unwrap().len(), 1);

    // Wrong secret, unknown device, device without credentials: 401.
    capture(&env, "cam-1", "wrong", "cam-1", "room-1", image.clone())
        .await
        .assert_problem(401, "unauthorized");
    capture(&env, "cam-9", &secret, "cam-9", "room-1", image.clone())
        .await
        .assert_problem(401, "unauthorized");
    capture(&env, "cam-2", &secret, "cam-2", "room-2", image.clone())
        .await
        .assert_problem(401, "unauthorized");
    // Another device's id in the form: 403; wrong classroom: 422.
    capture(&env, "cam-1", &secret, "cam-2", "room-1", image.clone())
        .await
        .assert_problem(403, "forbidden");
    capture(&env, "cam-1", &secret, "cam-1", "room-2", image.clone())
        .await
        .assert_problem(422, "wrong-classroom");
    // Not an image: 415; corrupt JPEG: 422; too large: 413.
    capture(
        &env,
        "cam-1",
        &secret,
        "cam-1",
        "room-1",
        b"GIF89a....".to_vec(),
    )
    .await
    .assert_problem(415, "unsupported-media-type");
    let mut corrupt = image.clone();
    corrupt.truncate(100);
    capture(&env, "cam-1", &secret, "cam-1", "room-1", corrupt)
        .await
        .assert_problem(422, "invalid-image");
    capture(
        &env,
        "cam-1",
        &secret,
        "cam-1",
        "room-1",
        vec![0xFF; (MAX_UPLOAD + 1) as usize],
    )
    .await
    .assert_problem(413, "payload-too-large");
    // Missing field: 400.
    let form = TestForm::new().text("device_id", "cam-1");
    let missing = read(
        env.client
            .post("/api/capture")
            .header("authorization", basic("cam-1", &secret))
            .multipart(form)
            .send()
            .await,
    )
    .await;
    assert_eq!(missing.status.as_u16(), 400, "{}", missing.json);
    assert!(missing.content_type.starts_with("application/problem+json"));
    // Inactive device: 403.
    env.send(
        Method::PUT,
        "/api/devices/cam-1",
        Some(&env.admin),
        Some(json!({ "device_id": "cam-1", "classroom_id": "room-1", "status": "inactive" })),
    )
    .await
    .assert_status(200);
    capture(&env, "cam-1", &secret, "cam-1", "room-1", image)
        .await
        .assert_problem(403, "forbidden");
}
