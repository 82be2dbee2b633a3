//! Provisioning a real Mosquitto through its dynamic-security plugin: the real `cavs-hub`
//! binary on an external broker, Debian's `mosquitto_sub` as the camera, the teacher and the
//! attacker. Issuing credentials creates and rotates the device's account (pinned client id,
//! exactly the device ACL), a teacher sees only their classroom, deactivation ends a live
//! session at once, and `cavs-hub broker sync` (hub stopped) removes what the database no
//! longer holds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cavs_models::protocol::DeviceConfig;
use cavs_models::{Actor, DeviceFields, DeviceStatus, NewUser, Role};
use tokio::time::{Instant, sleep};

mod common;

use common::fleet::{Hub, hub_command, open_store};
use common::mosquitto::Mosquitto;
use common::{free_port, http_json_as, issue_credentials, sign_in};

const HUB_PASSWORD: &str = "hub-service-password-0123";

/// What a `mosquitto_sub` session made of one subscription.
#[derive(Debug, PartialEq, Eq)]
enum Suback {
    /// SUBACK with this return code (0 granted, 128 refused).
    Code(u8),
    /// The CONNECT was refused.
    Refused,
}

/// Connects as `username`/`password` with `client_id` and subscribes to `topic` (MQTT 3.1.1).
async fn subscribe(
    port: u16,
    username: &str,
    password: &str,
    client_id: &str,
    topic: &str,
) -> Suback {
    let args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-V",
        "mqttv311",
        "-u",
        username,
        "-P",
        password,
        "-i",
        client_id,
        "-t",
        topic,
        "-d",
        "-W",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("mosquitto_sub")
            .args(&args)
            .output()
            .expect("mosquitto_sub (apt-get install mosquitto-clients)")
    })
    .await
    .expect("join");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match text
        .lines()
        .find_map(|l| l.split_once("Subscribed (mid: ")?.1.split_once("): "))
    {
        Some((_, code)) => Suback::Code(code.trim().parse().expect("code")),
        None => {
            assert!(
                text.contains("not authorised") || text.contains("Connection Refused"),
                "{text}"
            );
            Suback::Refused
        }
    }
}

async fn seed(data: &Path) {
    let store = open_store(data).await;
    for (username, role, classrooms) in [
        ("ada", Role::Admin, vec![]),
        ("tina", Role::Teacher, vec!["room-1".to_owned()]),
    ] {
        store
            .users()
            .create(
                &NewUser {
                    username: username.into(),
                    password: format!("{username}-password-123"),
                    role,
                    classrooms,
                },
                &Actor::System,
            )
            .await
            .expect("user");
    }
    for (device, room) in [("cam-1", "room-1"), ("cam-2", "room-2")] {
        store
            .devices()
            .create(
                &DeviceFields {
                    device_id: device.into(),
                    classroom_id: room.into(),
                    location: None,
                    status: DeviceStatus::Active,
                    config: DeviceConfig::default(),
                },
                &Actor::System,
            )
            .await
            .expect("device");
    }
}

/// Retries `check` for up to 10 s (the hub provisions a sign-in's password in the background).
async fn eventually(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_keeps_mosquittos_accounts_and_acls_in_step_with_its_database() {
    let broker = Mosquitto::start("cavs-hub", HUB_PASSWORD);
    let port = broker.port;
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    seed(&data).await;
    let env: Vec<(String, String)> = [
        ("CAVS_BROKER", "external".to_owned()),
        ("CAVS_BROKER_URL", broker.url()),
        ("CAVS_BROKER_USERNAME", "cavs-hub".to_owned()),
        ("CAVS_BROKER_PASSWORD", HUB_PASSWORD.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let http = free_port();
    let hub = Hub::start_with(&data, http, free_port(), &env).await;
    let admin = sign_in(http, "ada", "ada-password-123");

    // Issued credentials work on the broker, for the device's own topics only.
    let first = issue_credentials(http, &admin, "cam-1");
    let acks = "cavs/v1/devices/cam-1/acks";
    eventually("cam-1 may subscribe to its acks", async || {
        subscribe(port, "cam-1", &first, "cam-1", acks).await == Suback::Code(0)
    })
    .await;
    assert_eq!(
        subscribe(port, "cam-1", &first, "cam-1", "cavs/v1/devices/cam-2/acks").await,
        Suback::Code(128),
        "another device's acks"
    );
    assert_eq!(
        subscribe(
            port,
            "cam-1",
            &first,
            "cam-1",
            "cavs/v1/classrooms/+/devices/+/frames"
        )
        .await,
        Suback::Code(128),
        "every frame"
    );
    assert_eq!(
        subscribe(port, "cam-1", &first, "someone-else", acks).await,
        Suback::Refused,
        "the account is pinned to its client id"
    );
    // Rotated: the old secret stops working at once.
    let second = issue_credentials(http, &admin, "cam-1");
    assert_eq!(
        subscribe(port, "cam-1", &first, "cam-1", acks).await,
        Suback::Refused
    );
    assert_eq!(
        subscribe(port, "cam-1", &second, "cam-1", acks).await,
        Suback::Code(0)
    );

    // A teacher, once signed in, watches her classroom and its device, nothing else.
    sign_in(http, "tina", "tina-password-123");
    let tina = "tina-password-123";
    eventually("tina's broker account", async || {
        subscribe(
            port,
            "tina",
            tina,
            "user:tina",
            "cavs/v1/classrooms/room-1/events",
        )
        .await
            == Suback::Code(0)
    })
    .await;
    for (topic, code) in [
        ("cavs/v1/devices/cam-1/status", 0),
        ("cavs/v1/classrooms/room-2/events", 128),
        ("cavs/v1/classrooms/+/events", 128),
        ("cavs/v1/devices/cam-2/status", 128),
        ("cavs/v1/classrooms/room-1/devices/cam-1/frames", 128),
    ] {
        assert_eq!(
            subscribe(port, "tina", tina, "user:tina", topic).await,
            Suback::Code(code),
            "{topic}"
        );
    }
    assert_eq!(
        subscribe(port, "tina", tina, "cam-1", acks).await,
        Suback::Refused,
        "a person cannot take a device's client id"
    );

    // Deactivating a device ends its live session at once.
    let cam2 = issue_credentials(http, &admin, "cam-2");
    let config = "cavs/v1/devices/cam-2/config";
    eventually("cam-2 may subscribe", async || {
        subscribe(port, "cam-2", &cam2, "cam-2", config).await == Suback::Code(0)
    })
    .await;
    let mut live = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-V", "mqttv311"])
        .args([
            "-u", "cam-2", "-P", &cam2, "-i", "cam-2", "-t", config, "-d",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub");
    sleep(Duration::from_millis(800)).await;
    assert!(live.try_wait().expect("wait").is_none(), "session is up");
    let body = r#"{"device_id":"cam-2","classroom_id":"room-2","status":"inactive"}"#;
    let (status, response) =
        http_json_as(http, "PUT", "/api/devices/cam-2", body, Some(&admin)).expect("update");
    assert_eq!(status, 200, "{response}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while live.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = live.kill();
            panic!("the deactivated device's session is still up");
        }
        sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        subscribe(port, "cam-2", &cam2, "cam-2", config).await,
        Suback::Refused
    );
    assert!(hub.stop().await.success());

    // With the hub stopped, a device deleted from the database loses its broker account when
    // `broker sync` reconciles.
    let store = open_store(&data).await;
    let device = store.devices().by_device_id("cam-1").await.expect("cam-1");
    store
        .devices()
        .delete(device.id, &Actor::System)
        .await
        .expect("delete");
    drop(store);
    sleep(Duration::from_millis(500)).await;
    let out = hub_command(&data, 0, 0)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["broker", "sync"])
        .output()
        .expect("broker sync");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("1 removed"), "{said}");
    assert_eq!(
        subscribe(port, "cam-1", &second, "cam-1", acks).await,
        Suback::Refused
    );
    assert_eq!(
        subscribe(
            port,
            "tina",
            tina,
            "user:tina",
            "cavs/v1/classrooms/room-1/events"
        )
        .await,
        Suback::Code(0),
        "what the database still holds stays"
    );
}
