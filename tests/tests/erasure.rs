//! A student's rights over their data, against a real hub: the export holds everything kept
//! about them, and an erasure leaves nothing of them in the database or the data dir (their
//! enrollment photo, their records' face crops, their name in the audit log), while the other
//! students' data stays; afterwards a frame of them is an unknown face.

use std::path::{Path, PathBuf};

use cavs_models::pipeline::CaptureRequest;
use cavs_models::{Actor, Role, StudentFields};
use cavs_tests::http::{call, sign_in};
use cavs_tests::{TestHub, camera_frame, faces_dir};

const PASSWORD: &str = "erasure-test-password";
const NAME: &str = "Erin Erasable";
const NUMBER: &str = "S-ERASE-1";
const NOTE: &str = "Erin came in late";

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_path_buf());
            }
        }
    }
    found
}

/// Sends `photo` as a camera frame of `cam-1` in `room-1`; the records it made.
/// `GET /api/students/{NUMBER}/export` as the admin.
async fn export_of_the_student(base: &str, token: &str) -> cavs_tests::http::HttpAnswer {
    call(
        base,
        "GET",
        &format!("/api/students/{NUMBER}/export"),
        token,
        None,
    )
    .await
    .expect("export")
}

async fn capture(hub: &TestHub, photo: &Path) -> Vec<uuid::Uuid> {
    let outcome = cavs_api::Pipeline::capture(
        &hub.hub.pipeline,
        CaptureRequest {
            device_id: "cam-1".into(),
            classroom_id: "room-1".into(),
            captured_at: chrono::Utc::now(),
            image: camera_frame(photo, 640, 480).expect("frame"),
        },
    )
    .await
    .expect("captured");
    outcome
        .faces
        .iter()
        .filter_map(|f| f.record.as_ref().map(|r| r.id))
        .collect()
}

#[actix::test]
async fn an_erased_student_leaves_nothing_behind_and_their_export_held_everything() {
    let hub = TestHub::start(|s| s.recognizer_workers = 1)
        .await
        .expect("hub starts");
    hub.register_device("cam-1", "room-1", "erasure-cam-secret")
        .await
        .expect("device");
    hub.add_user("admin", PASSWORD, Role::Admin, &[])
        .await
        .expect("admin");
    let base = format!("http://{}", hub.hub.http_addr);
    let token = sign_in(&base, "admin", PASSWORD).await.expect("sign in");
    let dev = faces_dir();

    // The student to erase is enrolled through the API, so their photo is kept on disk.
    let erin = hub
        .hub
        .store
        .students()
        .create(
            &StudentFields {
                student_number: NUMBER.into(),
                full_name: NAME.into(),
                ..StudentFields::default()
            },
            &Actor::System,
        )
        .await
        .expect("student");
    hub.hub
        .store
        .students()
        .record_consent(erin.id, &cavs_tests::test_consent(), &Actor::System)
        .await
        .expect("consent");
    // curl runs off the test's thread: the hub answers on this same (single-threaded) runtime.
    let mut curl = std::process::Command::new("curl");
    curl.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg("-F")
        .arg(format!("photos=@{}", dev.join("obama/obama.jpg").display()))
        .arg(format!("{base}/api/students/{}/photos", erin.id));
    let upload = tokio::task::spawn_blocking(move || curl.output())
        .await
        .expect("curl task")
        .expect("curl runs (README set-up)");
    assert_eq!(String::from_utf8_lossy(&upload.stdout), "201", "{upload:?}");
    let keep = hub
        .enroll("S-KEEP-1", "Joe Biden", &[dev.join("biden/biden.jpg")])
        .await
        .expect("enroll");
    let enrollment_dir = PathBuf::from("enrollment").join(erin.id.to_string());
    assert!(
        files_below(hub.data_dir.path())
            .iter()
            .any(|f| f.starts_with(&enrollment_dir)),
        "the enrollment photo is on disk"
    );

    // Attendance of both, one of Erin's records reviewed with a note that names her.
    let erins = capture(&hub, &dev.join("obama/obama1.jpg")).await;
    let keeps = capture(&hub, &dev.join("biden/biden2.jpg")).await;
    assert_eq!((erins.len(), keeps.len()), (1, 1), "one record each");
    let records = hub.records().await.expect("records");
    let erins_record = records.iter().find(|r| r.id == erins[0]).expect("record");
    assert_eq!(erins_record.predicted_student_id, Some(erin.id));
    let erins_crop = erins_record.captured_image_path.clone().expect("crop");
    let keeps_crop = records
        .iter()
        .find(|r| r.id == keeps[0])
        .and_then(|r| r.captured_image_path.clone())
        .expect("crop");
    // At rest every face file is sealed: no file of the data dir starts like a JPEG or a PNG,
    // and the API serves the crop opened.
    let data = hub.data_dir.path();
    for file in files_below(data) {
        if !data.join(&file).is_file() {
            continue; // the admin socket
        }
        let head: Vec<u8> = std::fs::read(data.join(&file))
            .expect("read")
            .into_iter()
            .take(8)
            .collect();
        assert!(
            !head.starts_with(&[0xFF, 0xD8, 0xFF]) && !head.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is an image in clear",
            file.display()
        );
    }
    // And the descriptors in the database are sealed too.
    for (table, field) in [("face", "embedding"), ("attendance", "descriptor")] {
        for row in hub.hub.store.table_rows(table).await.expect("rows") {
            assert!(
                row[field].is_string() || row[field].is_null(),
                "{table}.{field} in clear: {}",
                row[field]
            );
        }
    }
    let mut fetch = std::process::Command::new("curl");
    fetch
        .args(["-sS", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{base}/api/attendance/{}/image", erins[0]));
    let served = tokio::task::spawn_blocking(move || fetch.output())
        .await
        .expect("curl task")
        .expect("curl runs");
    assert!(
        served.stdout.starts_with(&[0xFF, 0xD8, 0xFF]),
        "the crop is served as a JPEG"
    );

    let review = call(
        &base,
        "POST",
        &format!("/api/attendance/{}/review", erins[0]),
        &token,
        Some(serde_json::json!({ "decision": "approve", "notes": NOTE })),
    )
    .await
    .expect("review");
    assert_eq!(review.status, 200, "{review:?}");

    // The export holds the profile, the face, the record and its review.
    let export = export_of_the_student(&base, &token).await;
    assert_eq!(export.status, 200, "{export:?}");
    let doc = &export.json;
    assert_eq!(doc["student"]["full_name"], NAME);
    assert_eq!(doc["faces"].as_array().map(Vec::len), Some(1), "{doc}");
    let exported = doc["attendance"].as_array().expect("attendance");
    assert_eq!(exported.len(), 1, "{doc}");
    assert_eq!(exported[0]["record"]["id"], erins[0].to_string());
    let actions: Vec<&str> = exported[0]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"review"), "{actions:?}");
    assert!(
        doc.to_string().contains(NOTE),
        "the review note is exported"
    );
    assert!(
        !doc.to_string().contains("Joe Biden"),
        "nobody else's data: {doc}"
    );

    // Erase.
    let erased = call(
        &base,
        "POST",
        &format!("/api/students/{}/erase", erin.id),
        &token,
        None,
    )
    .await
    .expect("erase");
    assert_eq!(erased.status, 200, "{erased:?}");
    let report = &erased.json;
    assert_eq!(report["records_deleted"], 1, "{report}");
    assert_eq!(report["crops_deleted"], 1, "{report}");
    assert_eq!(report["faces_deleted"], 1, "{report}");
    assert_eq!(report["photos_deleted"], 1, "{report}");
    assert!(
        report["audit_entries_redacted"].as_u64() >= Some(4),
        "student creation, face, record creation and review: {report}"
    );

    // The data dir: neither the enrollment photo nor the crop remain; the other student's
    // crop does.
    let files = files_below(hub.data_dir.path());
    assert!(
        !files.iter().any(|f| f.starts_with(&enrollment_dir)),
        "{files:?}"
    );
    assert!(!files.contains(&PathBuf::from(&erins_crop)), "{files:?}");
    assert!(files.contains(&PathBuf::from(&keeps_crop)), "{files:?}");

    // The database: no table holds the name, the number, the note or the id.
    let store = &hub.hub.store;
    let mut everything = String::new();
    for table in cavs_models::store::TABLES {
        let rows = store.table_rows(table).await.expect("rows");
        everything.push_str(&serde_json::to_string(&rows).expect("json"));
    }
    for trace in [NAME, NUMBER, NOTE, "Erin"] {
        assert!(
            !everything.contains(trace),
            "`{trace}` remains in the database"
        );
    }
    assert!(
        !store
            .attendance()
            .list(
                &cavs_models::AttendanceFilter::default(),
                &cavs_models::PageRequest {
                    page: 1,
                    page_size: 500
                }
            )
            .await
            .expect("records")
            .items
            .iter()
            .any(|r| r.predicted_student_id == Some(erin.id)),
        "no record names the erased student"
    );
    assert!(everything.contains("Joe Biden"), "the other student stays");
    assert!(
        everything.contains("\"erase\""),
        "the erasure itself is audited"
    );
    let again = export_of_the_student(&base, &token).await;
    assert_eq!(again.status, 404, "{again:?}");

    // A new frame of them is an unknown face; the other student is still recognised.
    let after = capture(&hub, &dev.join("obama/obama2.jpg")).await;
    let records = hub.records().await.expect("records");
    let record = records.iter().find(|r| r.id == after[0]).expect("record");
    assert_eq!(record.predicted_student_id, None, "{record:?}");
    let biden = capture(&hub, &dev.join("biden/biden.jpg")).await;
    let records = hub.records().await.expect("records");
    assert!(
        records
            .iter()
            .any(|r| biden.contains(&r.id) && r.predicted_student_id == Some(keep.id))
    );
}
