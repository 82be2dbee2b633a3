//! Frames to attendance records through the real hub: embedded broker on a loopback port,
//! mem store, real photos and model weights.

use std::time::{Duration, Instant};

use cavs_models::protocol::{DeviceState, StatusPayload, Topic};
use cavs_models::{AttendanceRecord, ReviewStatus};
use cavs_tests::{TestHub, device_client, faces_dir, signed_frame};
use rumqttc::{Event, Packet, QoS};

const SECRET: &str = "cam-secret-0001";

async fn records(hub: &TestHub) -> Vec<AttendanceRecord> {
    hub.records().await.expect("list records")
}

/// Polls until `done` holds for the records or the deadline passes.
async fn wait_for_records(
    hub: &TestHub,
    deadline: Duration,
    done: impl Fn(&[AttendanceRecord]) -> bool,
) -> Vec<AttendanceRecord> {
    let until = Instant::now() + deadline;
    loop {
        let found = records(hub).await;
        if done(&found) || Instant::now() > until {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix::test]
async fn frames_become_pending_records_and_device_health_is_retained() {
    let hub = TestHub::start(|s| s.recognizer_workers = 2)
        .await
        .expect("hub starts");
    let dev = faces_dir();
    let obama = hub
        .enroll("S-OBAMA", "Barack Obama", &[dev.join("obama/obama.jpg")])
        .await
        .expect("enroll obama");
    let biden = hub
        .enroll("S-BIDEN", "Joe Biden", &[dev.join("biden/biden.jpg")])
        .await
        .expect("enroll biden");
    hub.register_device("cam-1", "room-1", SECRET)
        .await
        .expect("device");
    hub.hub
        .store
        .users()
        .create(
            &cavs_models::NewUser {
                username: "watcher".into(),
                password: "watcher-pass".into(),
                role: cavs_models::Role::Admin,
                classrooms: vec![],
            },
            &cavs_models::Actor::System,
        )
        .await
        .expect("admin");

    // An admin watches every device's status, like `mosquitto_sub -t 'cavs/v1/devices/+/status'`.
    let (watcher, mut watcher_loop) = rumqttc::AsyncClient::new(
        hub.mqtt_options("user:watcher:1", "watcher", "watcher-pass"),
        16,
    );
    watcher
        .subscribe("cavs/v1/devices/+/status", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let (status_tx, mut statuses) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match watcher_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Ok(status) = StatusPayload::from_slice(&p.payload) {
                        let _ = status_tx.send((p.topic.clone(), status.state));
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });

    // The camera: connects, announces itself online, publishes signed frames.
    let (camera, mut camera_loop) = device_client(&hub, "cam-1", SECRET);
    let camera_task = tokio::spawn(async move {
        loop {
            if camera_loop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let online = serde_json::to_vec(&StatusPayload::now(DeviceState::Online)).expect("json");
    camera
        .publish(
            Topic::status("cam-1").to_string(),
            QoS::AtLeastOnce,
            true,
            online,
        )
        .await
        .expect("online");

    let topic = Topic::frames("room-1", "cam-1").to_string();
    let obama_frames = [
        "obama1.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "obama-480p.jpg",
        "obama-720p.jpg",
    ];
    let mut seq = 0;
    let mut first_envelope = Vec::new();
    for name in obama_frames {
        let jpeg = std::fs::read(dev.join("obama").join(name)).expect("photo");
        seq += 1;
        let (_, envelope) = signed_frame("cam-1", "room-1", SECRET, seq, &jpeg).expect("frame");
        if first_envelope.is_empty() {
            first_envelope = envelope.clone();
        }
        camera
            .publish(&topic, QoS::AtLeastOnce, false, envelope)
            .await
            .expect("publish");
    }
    let biden_jpeg = std::fs::read(dev.join("biden/biden2.jpg")).expect("photo");
    seq += 1;
    let (_, envelope) = signed_frame("cam-1", "room-1", SECRET, seq, &biden_jpeg).expect("frame");
    camera
        .publish(&topic, QoS::AtLeastOnce, false, envelope)
        .await
        .expect("publish");
    // A redelivered frame (same frame_id) is ignored.
    camera
        .publish(&topic, QoS::AtLeastOnce, false, first_envelope)
        .await
        .expect("publish");

    let found = wait_for_records(&hub, Duration::from_secs(90), |r| {
        r.iter().map(|r| r.frame_count).sum::<u64>() >= 6
    })
    .await;
    let of = |id| {
        found
            .iter()
            .filter(|r| r.predicted_student_id == Some(id))
            .collect::<Vec<_>>()
    };
    let obama_records = of(obama.id);
    assert_eq!(
        obama_records.len(),
        1,
        "one record per student per session: {found:#?}"
    );
    assert_eq!(
        obama_records[0].frame_count, 5,
        "every Obama frame counted once"
    );
    assert_eq!(obama_records[0].review_status, ReviewStatus::Pending);
    assert_eq!(
        obama_records[0].predicted_name.as_deref(),
        Some("Barack Obama")
    );
    assert!(obama_records[0].captured_image_path.is_some());
    let biden_records = of(biden.id);
    assert_eq!(biden_records.len(), 1, "{found:#?}");
    assert_eq!(biden_records[0].review_status, ReviewStatus::Pending);
    let metrics = &hub.hub.pipeline.parts().metrics;
    // The redelivered copy arrives while the first is being recognised (`in_progress`) or after
    // it was committed (`duplicate`): either way it is not counted again.
    assert_eq!(
        metrics.dropped_count("duplicate") + metrics.dropped_count("in_progress"),
        1
    );

    // A stranger's face becomes an unknown record.
    let stranger = std::fs::read(dev.join("kit_harington/john1.jpeg")).expect("photo");
    seq += 1;
    let (_, envelope) = signed_frame("cam-1", "room-1", SECRET, seq, &stranger).expect("frame");
    camera
        .publish(&topic, QoS::AtLeastOnce, false, envelope)
        .await
        .expect("publish");
    let found = wait_for_records(&hub, Duration::from_secs(60), |r| {
        r.iter().any(|r| r.predicted_student_id.is_none())
    })
    .await;
    let unknown: Vec<_> = found
        .iter()
        .filter(|r| r.predicted_student_id.is_none())
        .collect();
    assert_eq!(unknown.len(), 1, "{found:#?}");
    assert_eq!(unknown[0].review_status, ReviewStatus::Pending);

    // A forged signature is dropped and counted; nothing is recorded.
    seq += 1;
    let (_, forged) =
        signed_frame("cam-1", "room-1", "wrong-secret", seq, &biden_jpeg).expect("frame");
    camera
        .publish(&topic, QoS::AtLeastOnce, false, forged)
        .await
        .expect("publish");
    let until = Instant::now() + Duration::from_secs(20);
    while metrics.dropped_count("bad_signature") == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metrics.dropped_count("bad_signature"), 1);
    let total_frames: u64 = records(&hub).await.iter().map(|r| r.frame_count).sum();
    assert_eq!(total_frames, 7, "the forged frame added nothing");

    // The watcher saw the camera online; dropping its connection yields the retained offline.
    let until = Instant::now() + Duration::from_secs(20);
    let mut saw_online = false;
    while !saw_online && Instant::now() < until {
        if let Ok(Some((topic, state))) =
            tokio::time::timeout(Duration::from_millis(500), statuses.recv()).await
        {
            saw_online = topic == "cavs/v1/devices/cam-1/status" && state == DeviceState::Online;
        }
    }
    assert!(saw_online, "watcher sees online");
    camera_task.abort(); // the TCP connection drops without DISCONNECT: the last will fires
    drop(camera);
    let until = Instant::now() + Duration::from_secs(30);
    let mut saw_offline = false;
    while !saw_offline && Instant::now() < until {
        if let Ok(Some((topic, state))) =
            tokio::time::timeout(Duration::from_millis(500), statuses.recv()).await
        {
            saw_offline = topic == "cavs/v1/devices/cam-1/status" && state == DeviceState::Offline;
        }
    }
    assert!(saw_offline, "watcher sees the retained offline last will");

    // A fresh subscriber gets the retained state at once.
    let (late, mut late_loop) = rumqttc::AsyncClient::new(
        hub.mqtt_options("user:watcher:2", "watcher", "watcher-pass"),
        16,
    );
    late.subscribe("cavs/v1/devices/+/status", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let until = Instant::now() + Duration::from_secs(20);
    let mut retained = None;
    while retained.is_none() && Instant::now() < until {
        if let Ok(Ok(Event::Incoming(Packet::Publish(p)))) =
            tokio::time::timeout(Duration::from_millis(500), late_loop.poll()).await
        {
            retained = StatusPayload::from_slice(&p.payload)
                .ok()
                .map(|s| (p.retain, s.state));
        }
    }
    assert_eq!(retained, Some((true, DeviceState::Offline)));
    let stored = hub.hub.store.devices().find("cam-1").await.expect("device");
    let until = Instant::now() + Duration::from_secs(10);
    let mut state = stored.state;
    while state != DeviceState::Offline && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = hub
            .hub
            .store
            .devices()
            .find("cam-1")
            .await
            .expect("device")
            .state;
    }
    assert_eq!(state, DeviceState::Offline);
    assert!(stored.last_seen.is_some(), "last_seen stored");

    hub.hub.shutdown().await;
}

#[actix::test]
async fn unknown_devices_and_wrong_secrets_are_refused_by_the_broker() {
    let hub = TestHub::start(|s| s.recognizer_workers = 1)
        .await
        .expect("hub starts");
    hub.register_device("cam-2", "room-2", SECRET)
        .await
        .expect("device");
    for (client, user, pass) in [
        ("cam-2", "cam-2", "wrong"),
        ("ghost", "ghost", SECRET),
        ("other-id", "cam-2", SECRET),
    ] {
        let (_client, mut event_loop) =
            rumqttc::AsyncClient::new(hub.mqtt_options(client, user, pass), 4);
        let result = tokio::time::timeout(Duration::from_secs(10), event_loop.poll()).await;
        let refused = match result {
            Ok(Err(_)) => true,
            Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                ack.code != rumqttc::ConnectReturnCode::Success
            }
            _ => false,
        };
        assert!(refused, "{client}/{user} must be refused");
    }
    let (_client, mut event_loop) =
        rumqttc::AsyncClient::new(hub.mqtt_options("cam-2", "cam-2", SECRET), 4);
    let result = tokio::time::timeout(Duration::from_secs(10), event_loop.poll()).await;
    assert!(
        matches!(result, Ok(Ok(Event::Incoming(Packet::ConnAck(ref ack)))) if ack.code == rumqttc::ConnectReturnCode::Success),
        "{result:?}"
    );
    hub.hub.shutdown().await;
}
