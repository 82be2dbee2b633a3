//! Teachers on the real hub's broker see only their classrooms' status, heartbeat and event
//! topics; an account that is deactivated or changes its password, and a device that is
//! deactivated, lose their MQTT session at once (changes made through the REST API with curl).

use std::time::Duration;

use cavs_models::Role;
use cavs_models::protocol::Topic;
use cavs_tests::http::{call, sign_in};
use cavs_tests::mqtt::{Received, collect, connack, granted};
use cavs_tests::{TestHub, device_client};
use rumqttc::{AsyncClient, EventLoop, QoS};
use serde_json::json;

const SECRET: &str = "cam-secret-0001";
const PASSWORD: &str = "a long password";

/// A hub with cam-1 in room-1, cam-2 in room-2, an admin `boss` and `alice` teaching room-1.
async fn hub() -> TestHub {
    let hub = TestHub::with_two_classrooms(SECRET)
        .await
        .expect("hub starts");
    hub.add_user("boss", PASSWORD, Role::Admin, &[])
        .await
        .expect("boss");
    hub.add_user("alice", PASSWORD, Role::Teacher, &["room-1"])
        .await
        .expect("alice");
    hub.wait_for_broker().await;
    hub
}

fn base(hub: &TestHub) -> String {
    format!("http://{}", hub.hub.http_addr)
}

/// Connects `username` as `client_id`; None when refused.
async fn connect(
    hub: &TestHub,
    client_id: &str,
    username: &str,
    password: &str,
) -> Option<(AsyncClient, EventLoop)> {
    let (client, mut event_loop) =
        AsyncClient::new(hub.mqtt_options(client_id, username, password), 16);
    connack(&mut event_loop)
        .await
        .then_some((client, event_loop))
}

/// Subscribes to `filter` alone; true when granted.
async fn may_subscribe(client: &AsyncClient, event_loop: &mut EventLoop, filter: &str) -> bool {
    client
        .subscribe(filter, QoS::AtMostOnce)
        .await
        .expect("subscribe");
    let got: Received = collect(event_loop, Duration::from_millis(700)).await;
    assert_eq!(got.subacks.len(), 1, "{filter}: {got:?}");
    granted(&got.subacks[0])
}

#[actix::test]
async fn a_teacher_watches_only_the_topics_of_their_classrooms() {
    let hub = hub().await;
    let (alice, mut alice_loop) = connect(&hub, "user:alice", "alice", PASSWORD)
        .await
        .expect("alice connects");
    for filter in [
        Topic::status("cam-1").to_string(),
        Topic::heartbeat("cam-1").to_string(),
        Topic::events("room-1").to_string(),
    ] {
        assert!(
            may_subscribe(&alice, &mut alice_loop, &filter).await,
            "{filter}"
        );
    }
    for filter in [
        "cavs/v1/devices/+/status".to_owned(),
        "cavs/v1/devices/+/heartbeat".to_owned(),
        "cavs/v1/classrooms/+/events".to_owned(),
        Topic::status("cam-2").to_string(),
        Topic::events("room-2").to_string(),
    ] {
        assert!(
            !may_subscribe(&alice, &mut alice_loop, &filter).await,
            "{filter}"
        );
    }
    let (boss, mut boss_loop) = connect(&hub, "user:boss", "boss", PASSWORD)
        .await
        .expect("boss connects");
    for filter in ["cavs/v1/devices/+/status", "cavs/v1/classrooms/+/events"] {
        assert!(
            may_subscribe(&boss, &mut boss_loop, filter).await,
            "{filter}"
        );
    }
    hub.hub.shutdown().await;
}

#[actix::test]
async fn deactivating_an_account_ends_its_session_and_refuses_it() {
    let hub = hub().await;
    let (alice, mut alice_loop) = connect(&hub, "user:alice:tablet", "alice", PASSWORD)
        .await
        .expect("alice connects");
    assert!(may_subscribe(&alice, &mut alice_loop, &Topic::status("cam-1").to_string()).await);
    let boss = sign_in(&base(&hub), "boss", PASSWORD).await.expect("boss");
    let alice_id = hub
        .hub
        .store
        .users()
        .by_username("alice")
        .await
        .expect("alice")
        .id;
    let off = call(
        &base(&hub),
        "PUT",
        &format!("/api/users/{alice_id}"),
        &boss,
        Some(json!({ "active": false })),
    )
    .await
    .expect("deactivate");
    assert_eq!(off.status, 200, "{off:?}");
    let after = collect(&mut alice_loop, Duration::from_secs(4)).await;
    assert!(after.disconnected, "the session must end: {after:?}");
    assert!(
        connect(&hub, "user:alice:tablet", "alice", PASSWORD)
            .await
            .is_none()
    );
    hub.hub.shutdown().await;
}

#[actix::test]
async fn a_password_change_ends_the_session_and_only_the_new_password_connects() {
    let hub = hub().await;
    let (_alice, mut alice_loop) = connect(&hub, "user:alice", "alice", PASSWORD)
        .await
        .expect("alice connects");
    let token = sign_in(&base(&hub), "alice", PASSWORD)
        .await
        .expect("alice");
    let changed = call(
        &base(&hub),
        "POST",
        "/api/auth/password",
        &token,
        Some(json!({ "old_password": PASSWORD, "new_password": "another long one" })),
    )
    .await
    .expect("change");
    assert_eq!(changed.status, 200, "{changed:?}");
    assert!(
        collect(&mut alice_loop, Duration::from_secs(4))
            .await
            .disconnected
    );
    assert!(
        connect(&hub, "user:alice", "alice", PASSWORD)
            .await
            .is_none()
    );
    assert!(
        connect(&hub, "user:alice", "alice", "another long one")
            .await
            .is_some()
    );
    hub.hub.shutdown().await;
}

#[actix::test]
async fn deactivating_a_device_ends_its_session() {
    let hub = hub().await;
    let (_camera, mut camera_loop) = device_client(&hub, "cam-1", SECRET);
    assert!(connack(&mut camera_loop).await);
    let boss = sign_in(&base(&hub), "boss", PASSWORD).await.expect("boss");
    let off = call(
        &base(&hub),
        "PUT",
        "/api/devices/cam-1",
        &boss,
        Some(json!({ "device_id": "cam-1", "classroom_id": "room-1", "status": "inactive" })),
    )
    .await
    .expect("deactivate");
    assert_eq!(off.status, 200, "{off:?}");
    assert!(
        collect(&mut camera_loop, Duration::from_secs(4))
            .await
            .disconnected
    );
    let (_again, mut again_loop) = device_client(&hub, "cam-1", SECRET);
    assert!(!connack(&mut again_loop).await);
    hub.hub.shutdown().await;
}

#[actix::test]
async fn many_failed_connects_from_one_address_lock_that_address_out() {
    let hub = hub().await;
    // Different usernames each time: only the per-address limit can catch this.
    let mut refused = 0;
    for n in 0..51 {
        let name = format!("guess-{n}");
        if connect(&hub, &format!("user:{name}"), &name, "wrong")
            .await
            .is_none()
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 51);
    // Now even a device with its right secret is refused from this address.
    let (_camera, mut camera_loop) = device_client(&hub, "cam-1", SECRET);
    assert!(
        !connack(&mut camera_loop).await,
        "the address must be locked out after 51 failures"
    );
    hub.hub.shutdown().await;
}
