//! A whole classroom through the real hub with its default scan: the middle-distance 1080p
//! frame of `shared/faces/classroom/make_scenes.py` (16 seats, every one of 8 enrolled
//! students twice, faces 45–90 px) published by a camera over MQTT becomes one pending
//! record per student. Needs python3 with Pillow (the README's set-up).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cavs_models::ReviewStatus;
use cavs_tests::{TestHub, camera_frame, device_client, signed_frame};
use rumqttc::QoS;

const SECRET: &str = "cam-secret-class";

#[actix::test]
async fn a_classroom_frame_names_every_student() {
    let scenes = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/faces/classroom/make_scenes.py"
        ))
        .arg(scenes.path())
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "make_scenes.py failed (is Pillow installed?)"
    );

    let hub = TestHub::start(|s| s.recognizer_workers = 2)
        .await
        .expect("hub starts");
    let mut enrolled = Vec::new();
    let mut photos: Vec<_> = std::fs::read_dir(scenes.path().join("enroll"))
        .expect("enroll dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    photos.sort();
    for photo in &photos {
        let name = photo
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        let student = hub
            .enroll(&name, &name, std::slice::from_ref(photo))
            .await
            .expect("enroll");
        enrolled.push(student.id);
    }
    assert_eq!(enrolled.len(), 8);
    hub.register_device("cam-class", "room-9", SECRET)
        .await
        .expect("device");
    let (camera, mut camera_loop) = device_client(&hub, "cam-class", SECRET);
    let camera_task = tokio::spawn(async move {
        loop {
            if camera_loop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let jpeg = camera_frame(&scenes.path().join("scene_2.png"), 1920, 1080).expect("frame");
    let (_, envelope) = signed_frame("cam-class", "room-9", SECRET, 1, &jpeg).expect("sign");
    camera
        .publish(
            cavs_models::protocol::Topic::frames("room-9", "cam-class").to_string(),
            QoS::AtLeastOnce,
            false,
            envelope,
        )
        .await
        .expect("publish");

    let until = Instant::now() + Duration::from_secs(60);
    let records = loop {
        let page = hub.records().await.expect("records");
        let named: HashSet<_> = page.iter().filter_map(|r| r.predicted_student_id).collect();
        if named.len() >= enrolled.len() || Instant::now() > until {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    camera_task.abort();
    let named: HashSet<_> = records
        .iter()
        .filter_map(|r| r.predicted_student_id)
        .collect();
    let unknown = records
        .iter()
        .filter(|r| r.predicted_student_id.is_none())
        .count();
    assert_eq!(
        named,
        enrolled.iter().copied().collect::<HashSet<_>>(),
        "every student in the room is named: {records:#?}"
    );
    assert!(unknown <= 1, "{unknown} unknown-face records: {records:#?}");
    assert!(
        records
            .iter()
            .filter(|r| r.predicted_student_id.is_some())
            .all(|r| r.review_status == ReviewStatus::Pending),
        "matches wait for review"
    );
    hub.hub.shutdown().await;
}
