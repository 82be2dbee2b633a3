//! TLS on the real hub with certificates from `cavs-hub cert`'s generator: mosquitto_sub
//! (Debian's mosquitto-clients) subscribes over MQTT/TLS trusting only `ca.pem`, curl reads
//! the REST API over HTTPS with the same CA, the agent's own `mqtts://` transport connects with
//! the pinned CA, and all three refuse a hub whose certificate another CA signed. A client that
//! opens a TCP connection to the TLS port and never speaks does not block anyone else.

use std::path::{Path, PathBuf};
use std::process::Command;

use cavs_agent::link::{Topics, mqtt_options};
use cavs_config::AgentSettings;
use cavs_models::Role;
use cavs_models::protocol::{StatusPayload, Topic};
use cavs_tests::http::{HttpRequest, send};
use cavs_tests::mqtt::connack;
use cavs_tests::{TestHub, free_port};
use rumqttc::AsyncClient;

const SECRET: &str = "cam-secret-0001";
const PASSWORD: &str = "a long password";

/// `ca.pem`, `server.pem`, `server.key` for 127.0.0.1 in `dir`.
fn certificates(dir: &Path) -> cavs_hub::cert::WrittenCertificates {
    let certs = cavs_hub::cert::generate(&["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("certificates");
    cavs_hub::cert::write(dir, &certs).expect("written")
}

/// A hub serving TLS with the certificates in `tls`, cam-1 in room-1 and admin `boss`.
async fn tls_hub(tls: &cavs_hub::cert::WrittenCertificates) -> TestHub {
    let (cert, key) = (tls.server_cert.clone(), tls.server_key.clone());
    let mqtts_port = free_port().expect("port");
    let hub = TestHub::start(move |s| {
        s.recognizer_workers = 1;
        s.tls_cert_file = Some(cert);
        s.tls_key_file = Some(key);
        s.mqtts_addr = ([127, 0, 0, 1], mqtts_port).into();
        s.https_addr = ([127, 0, 0, 1], 0).into();
    })
    .await
    .expect("hub starts");
    hub.register_device("cam-1", "room-1", SECRET)
        .await
        .expect("cam-1");
    hub.add_user("boss", PASSWORD, Role::Admin, &[])
        .await
        .expect("admin");
    hub.wait_for_broker().await;
    hub
}

/// Runs mosquitto_sub for one retained message of cam-1's status over TLS trusting `ca`;
/// returns its exit success and output.
async fn mosquitto_sub(hub: &TestHub, ca: &Path) -> (bool, String) {
    let addr = hub.hub.mqtts_addr.expect("mqtts");
    let ca: PathBuf = ca.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
            .arg("--cafile")
            .arg(&ca)
            .args(["-i", "user:boss", "-u", "boss", "-P", PASSWORD])
            .args(["-t", &Topic::status("cam-1").to_string()])
            .args(["-C", "1", "-W", "10"])
            .output()
            .expect("mosquitto_sub runs (apt-get install mosquitto-clients)");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    })
    .await
    .expect("task")
}

fn agent_settings(hub: &TestHub, ca: &Path) -> AgentSettings {
    let addr = hub.hub.mqtts_addr.expect("mqtts");
    AgentSettings {
        broker_url: format!("mqtts://127.0.0.1:{}", addr.port()),
        ca_file: Some(ca.to_path_buf()),
        device_id: "cam-1".into(),
        device_secret: Some(SECRET.to_owned().into()),
        classroom_id: "room-1".into(),
        ..AgentSettings::default()
    }
}

#[actix::test]
async fn mqtt_and_rest_over_tls_trust_only_the_hubs_ca() {
    let dir = tempfile::tempdir().expect("dir");
    let tls = certificates(&dir.path().join("hub"));
    let other = certificates(&dir.path().join("other"));
    let hub = tls_hub(&tls).await;
    // A client that connects to the TLS port and never speaks.
    let _silent = tokio::net::TcpStream::connect(hub.hub.mqtts_addr.expect("mqtts"))
        .await
        .expect("silent connection");

    let (ok, output) = mosquitto_sub(&hub, &tls.ca).await;
    assert!(ok, "mosquitto_sub over TLS: {output}");
    let status = StatusPayload::from_slice(output.trim().as_bytes());
    assert!(status.is_ok(), "a status JSON: {output}");
    let (ok, output) = mosquitto_sub(&hub, &other.ca).await;
    assert!(!ok, "another CA must not be trusted: {output}");

    let https = format!(
        "https://127.0.0.1:{}",
        hub.hub.https_addr.expect("https").port()
    );
    let health = send(HttpRequest {
        method: "GET".into(),
        url: format!("{https}/api/health"),
        ca_file: Some(tls.ca.clone()),
        ..HttpRequest::default()
    })
    .await
    .expect("https with the CA");
    assert_eq!(health.status, 200, "{health:?}");
    let login = send(HttpRequest {
        method: "POST".into(),
        url: format!("{https}/api/auth/login"),
        ca_file: Some(tls.ca.clone()),
        body: Some(serde_json::json!({ "username": "boss", "password": PASSWORD })),
        ..HttpRequest::default()
    })
    .await
    .expect("login over https");
    assert!(login.json["access"].is_string(), "{login:?}");
    let refused = send(HttpRequest {
        method: "GET".into(),
        url: format!("{https}/api/health"),
        ca_file: Some(other.ca.clone()),
        ..HttpRequest::default()
    })
    .await;
    assert!(refused.is_err(), "curl must refuse another CA: {refused:?}");
    // Plain HTTP on loopback keeps working beside it.
    let plain = send(HttpRequest {
        method: "GET".into(),
        url: format!("http://{}/api/health", hub.hub.http_addr),
        ..HttpRequest::default()
    })
    .await
    .expect("http");
    assert_eq!(plain.status, 200);
    hub.hub.shutdown().await;
}

#[actix::test]
async fn the_agent_connects_over_mqtts_only_with_the_pinned_ca() {
    let dir = tempfile::tempdir().expect("dir");
    let tls = certificates(&dir.path().join("hub"));
    let other = certificates(&dir.path().join("other"));
    let hub = tls_hub(&tls).await;
    let pinned = agent_settings(&hub, &tls.ca);
    let options = mqtt_options(&pinned, &Topics::new(&pinned), false).expect("options");
    let (_client, mut event_loop) = AsyncClient::new(options, 8);
    assert!(
        connack(&mut event_loop).await,
        "the agent connects over TLS"
    );

    let wrong = agent_settings(&hub, &other.ca);
    let options = mqtt_options(&wrong, &Topics::new(&wrong), false).expect("options");
    let (_client, mut event_loop) = AsyncClient::new(options, 8);
    assert!(
        !connack(&mut event_loop).await,
        "a hub certificate from another CA is refused"
    );
    hub.hub.shutdown().await;
}
