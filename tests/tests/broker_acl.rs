//! Attacks on the real hub's embedded broker with real MQTT clients (rumqttc) on a loopback
//! port: reserved and foreign client ids, subscriptions to the frame topics, forged retained
//! status, a device stepping outside its own topics, last wills on other devices' topics.

use std::time::{Duration, Instant};

use cavs_models::Role;
use cavs_models::protocol::{DeviceState, StatusPayload, Topic};
use cavs_tests::mqtt::{collect, connack, spawn_poll};
use cavs_tests::{TestHub, device_client, faces_dir, signed_frame};
use rumqttc::{AsyncClient, LastWill, QoS, SubscribeReasonCode};

const SECRET: &str = "cam-secret-0001";
const TEACHER_PASS: &str = "teacher-pass-01";

async fn hub_with_two_cameras_and_a_teacher() -> TestHub {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let hub = TestHub::with_two_classrooms(SECRET)
        .await
        .expect("hub starts");
    hub.add_user(
        "teacher",
        TEACHER_PASS,
        Role::Teacher,
        &["room-1", "room-2"],
    )
    .await
    .expect("teacher");
    hub.wait_for_broker().await;
    hub
}

/// `client` publishes a retained status `state` on `device`'s status topic.
async fn publish_retained_status(client: &AsyncClient, device: &str, state: DeviceState) {
    let payload = serde_json::to_vec(&StatusPayload::now(state)).expect("json");
    client
        .publish(
            Topic::status(device).to_string(),
            QoS::AtLeastOnce,
            true,
            payload,
        )
        .await
        .expect("publish");
}

/// cam-1 (room-1) publishes one signed frame of Obama.
async fn publish_obama_frame(camera: &AsyncClient) {
    let jpeg = std::fs::read(faces_dir().join("obama/obama1.jpg")).expect("photo");
    let (_, envelope) = signed_frame("cam-1", "room-1", SECRET, 1, &jpeg).expect("frame");
    camera
        .publish(
            Topic::frames("room-1", "cam-1").to_string(),
            QoS::AtLeastOnce,
            false,
            envelope,
        )
        .await
        .expect("publish");
}

#[actix::test]
async fn people_cannot_take_the_hubs_or_a_cameras_client_id_and_frames_still_become_records() {
    let hub = hub_with_two_cameras_and_a_teacher().await;
    hub.enroll(
        "S-OBAMA",
        "Barack Obama",
        &[faces_dir().join("obama/obama.jpg")],
    )
    .await
    .expect("enroll");
    // The camera is connected first, so a takeover would drop it.
    let (camera, camera_loop) = device_client(&hub, "cam-1", SECRET);
    let camera_task = spawn_poll(camera_loop);
    tokio::time::sleep(Duration::from_millis(500)).await;

    for client_id in [
        "cavs-hub-bridge",
        "cavs-hub-publisher",
        "cam-1",
        "user:someone-else",
    ] {
        let (_client, mut event_loop) =
            AsyncClient::new(hub.mqtt_options(client_id, "teacher", TEACHER_PASS), 4);
        assert!(
            !connack(&mut event_loop).await,
            "the teacher must not connect as `{client_id}`"
        );
    }
    // The hub's ids are reserved even with a device's own credentials.
    let (_client, mut event_loop) =
        AsyncClient::new(hub.mqtt_options("cavs-hub-bridge", "cam-2", SECRET), 4);
    assert!(!connack(&mut event_loop).await);
    // In its own namespace the teacher connects.
    let (_client, mut event_loop) = AsyncClient::new(
        hub.mqtt_options("user:teacher:phone", "teacher", TEACHER_PASS),
        4,
    );
    assert!(connack(&mut event_loop).await);

    publish_obama_frame(&camera).await;
    let until = Instant::now() + Duration::from_secs(60);
    let records = loop {
        let records = hub.records().await.expect("records");
        if !records.is_empty() || Instant::now() > until {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        records
            .iter()
            .any(|r| r.device_id == "cam-1" && r.predicted_name.as_deref() == Some("Barack Obama")),
        "the camera's frame became a record: {records:?}"
    );
    camera_task.abort();
    hub.hub.shutdown().await;
}

#[actix::test]
async fn a_teacher_receives_no_frames_and_cannot_forge_retained_status() {
    let hub = hub_with_two_cameras_and_a_teacher().await;
    let (teacher, mut teacher_loop) = AsyncClient::new(
        hub.mqtt_options("user:teacher", "teacher", TEACHER_PASS),
        16,
    );
    assert!(connack(&mut teacher_loop).await);
    teacher
        .subscribe(
            Topic::frames("room-1", "cam-1").to_string(),
            QoS::AtLeastOnce,
        )
        .await
        .expect("subscribe");
    teacher
        .subscribe("cavs/v1/classrooms/+/devices/+/frames", QoS::AtMostOnce)
        .await
        .expect("subscribe");
    teacher
        .subscribe("#", QoS::AtMostOnce)
        .await
        .expect("subscribe");
    teacher
        .subscribe(Topic::status("cam-2").to_string(), QoS::AtMostOnce)
        .await
        .expect("subscribe");
    // A forged retained "online" for cam-2 (which is not connected).
    publish_retained_status(&teacher, "cam-2", DeviceState::Online).await;
    let subacks = collect(&mut teacher_loop, Duration::from_secs(2))
        .await
        .subacks;
    assert_eq!(subacks.len(), 4, "{subacks:?}");
    for codes in &subacks[..3] {
        assert_eq!(codes, &vec![SubscribeReasonCode::Failure], "{subacks:?}");
    }
    assert!(matches!(
        subacks[3].as_slice(),
        [SubscribeReasonCode::Success(_)]
    ));

    // The camera publishes a frame: the teacher gets nothing of it.
    let (camera, camera_loop) = device_client(&hub, "cam-1", SECRET);
    let camera_task = spawn_poll(camera_loop);
    publish_obama_frame(&camera).await;
    let received = collect(&mut teacher_loop, Duration::from_secs(3))
        .await
        .publishes;
    assert!(
        received
            .iter()
            .all(|(topic, _)| !topic.ends_with("/frames")),
        "frames leaked: {:?}",
        received.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );

    // A fresh watcher sees no forged retained status for cam-2.
    let (watcher, mut watcher_loop) = AsyncClient::new(
        hub.mqtt_options("user:teacher:2", "teacher", TEACHER_PASS),
        16,
    );
    watcher
        .subscribe(Topic::status("cam-2").to_string(), QoS::AtMostOnce)
        .await
        .expect("subscribe");
    let retained = collect(&mut watcher_loop, Duration::from_secs(2))
        .await
        .publishes;
    let online = retained.iter().any(|(_, payload)| {
        StatusPayload::from_slice(payload).is_ok_and(|s| s.state == DeviceState::Online)
    });
    assert!(!online, "the forged online status stuck: {retained:?}");
    camera_task.abort();
    hub.hub.shutdown().await;
}

#[actix::test]
async fn a_device_stays_on_its_own_topics() {
    let hub = hub_with_two_cameras_and_a_teacher().await;
    let (watcher, mut watcher_loop) = AsyncClient::new(
        hub.mqtt_options("user:teacher", "teacher", TEACHER_PASS),
        16,
    );
    watcher
        .subscribe("cavs/v1/devices/cam-2/status", QoS::AtMostOnce)
        .await
        .expect("subscribe");
    let subacks = collect(&mut watcher_loop, Duration::from_secs(1))
        .await
        .subacks;
    assert_eq!(subacks.len(), 1);

    let (camera, mut camera_loop) = device_client(&hub, "cam-1", SECRET);
    assert!(connack(&mut camera_loop).await);
    camera.subscribe("#", QoS::AtMostOnce).await.expect("sub");
    camera
        .subscribe(Topic::config("cam-2").to_string(), QoS::AtMostOnce)
        .await
        .expect("sub");
    camera
        .subscribe(Topic::config("cam-1").to_string(), QoS::AtMostOnce)
        .await
        .expect("sub");
    publish_retained_status(&camera, "cam-2", DeviceState::Offline).await;
    let got = collect(&mut camera_loop, Duration::from_secs(2)).await;
    let (received, subacks) = (got.publishes, got.subacks);
    assert_eq!(subacks.len(), 3, "{subacks:?}");
    assert_eq!(subacks[0], vec![SubscribeReasonCode::Failure]);
    assert_eq!(subacks[1], vec![SubscribeReasonCode::Failure]);
    assert!(matches!(
        subacks[2].as_slice(),
        [SubscribeReasonCode::Success(_)]
    ));
    // Only its own retained config reached it.
    assert!(
        received
            .iter()
            .all(|(topic, _)| *topic == Topic::config("cam-1").to_string()),
        "{:?}",
        received.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    let seen = collect(&mut watcher_loop, Duration::from_secs(1))
        .await
        .publishes;
    assert!(
        seen.iter()
            .all(|(_, payload)| !StatusPayload::from_slice(payload)
                .is_ok_and(|s| s.state == DeviceState::Offline)),
        "cam-1 set cam-2's status: {seen:?}"
    );
    hub.hub.shutdown().await;
}

#[actix::test]
async fn a_last_will_on_another_devices_topic_is_refused() {
    let hub = hub_with_two_cameras_and_a_teacher().await;
    let mut options = hub.mqtt_options("user:teacher", "teacher", TEACHER_PASS);
    options.set_last_will(LastWill::new(
        Topic::status("cam-2").to_string(),
        "forged",
        QoS::AtLeastOnce,
        true,
    ));
    let (_client, mut event_loop) = AsyncClient::new(options, 4);
    assert!(!connack(&mut event_loop).await);
    let mut options = hub.mqtt_options("cam-1", "cam-1", SECRET);
    options.set_last_will(LastWill::new(
        Topic::status("cam-2").to_string(),
        "forged",
        QoS::AtLeastOnce,
        true,
    ));
    let (_client, mut event_loop) = AsyncClient::new(options, 4);
    assert!(!connack(&mut event_loop).await);
    // Its own status as last will is what cameras do: accepted.
    let (_client, mut event_loop) = device_client(&hub, "cam-1", SECRET);
    assert!(connack(&mut event_loop).await);
    hub.hub.shutdown().await;
}
