//! Layering, aliases, validation and secrecy of the settings.

use std::path::PathBuf;

use cavs_config::{
    AgentSettings, ConfigError, DetectorKind, ExposeSecret, HubSettings, ScanMode, Sources, load,
};

fn sources(file: Option<PathBuf>, dotenv: Option<PathBuf>, env: &[(&str, &str)]) -> Sources {
    Sources {
        file,
        dotenv,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn defaults_match_the_architecture() {
    let s: HubSettings = load(&sources(None, None, &[])).expect("defaults load");
    assert_eq!(s.http_addr.to_string(), "127.0.0.1:8000");
    assert_eq!(s.mqtt_addr.to_string(), "127.0.0.1:1883");
    assert_eq!(s.database_url(), "surrealkv://data/db");
    assert_eq!(s.jwt_access_minutes, 60);
    assert_eq!(s.detector, DetectorKind::Ssd);
    assert_eq!(s.scan, ScanMode::Multiscale);
    assert_eq!(s.smallest_face, 24);
    assert!(!s.auto_approve);
    assert!(s.secret_key.is_none());
}

#[test]
fn file_then_dotenv_then_env_win_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        "http_addr = \"127.0.0.9:9000\"\njwt_access_minutes = 5\nthreshold_high = 0.9\ndetector = \"tiny\"\n",
    )
    .expect("write");
    let dotenv = dir.path().join(".env");
    std::fs::write(
        &dotenv,
        "CAVS_JWT_ACCESS_MINUTES=7\nCONFIDENCE_THRESHOLD_HIGH=0.85\n",
    )
    .expect("write");
    let s: HubSettings = load(&sources(
        Some(file.clone()),
        Some(dotenv.clone()),
        &[
            ("CAVS_THRESHOLD_HIGH", "0.95"),
            ("CORS_ALLOWED_ORIGINS", "http://a.test,http://b.test"),
        ],
    ))
    .expect("loads");
    assert_eq!(s.http_addr.to_string(), "127.0.0.9:9000", "file");
    assert_eq!(s.jwt_access_minutes, 7, ".env beats the file");
    assert_eq!(s.threshold_high, 0.95, "environment beats .env");
    assert_eq!(s.detector, DetectorKind::Tiny);
    assert_eq!(s.cors_allowed_origins, ["http://a.test", "http://b.test"]);

    // A CAVS_ name beats its Django-era alias in the same layer.
    let s: HubSettings = load(&sources(
        None,
        None,
        &[
            ("DATABASE_URL", "mem://"),
            ("CAVS_DATABASE_URL", "ws://db:8000"),
            ("SECRET_KEY", "k-0123456789abcdef0123456789abcdef"),
        ],
    ))
    .expect("loads");
    assert_eq!(s.database_url(), "ws://db:8000");
    assert_eq!(
        s.secret_key.as_ref().map(|k| k.expose_secret().to_owned()),
        Some("k-0123456789abcdef0123456789abcdef".into())
    );
}

#[test]
fn bad_values_name_the_setting_and_value() {
    let err = load::<HubSettings>(&sources(None, None, &[("CAVS_HTTP_ADDR", "localhost")]))
        .expect_err("bad address");
    let text = err.to_string();
    assert!(
        text.contains("http_addr") && text.contains("localhost"),
        "{text}"
    );

    let err = load::<HubSettings>(&sources(None, None, &[("JWT_ACCESS_TOKEN_LIFETIME", "-3")]))
        .expect_err("negative");
    assert!(err.to_string().contains("jwt_access_minutes"), "{err}");

    let err = load::<HubSettings>(&sources(
        None,
        None,
        &[("CAVS_DATABASE_URL", "postgres://x")],
    ))
    .expect_err("scheme");
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "database_url",
                ..
            }
        ),
        "{err}"
    );

    // A short JWT key refuses start-up, naming the setting but never echoing the key.
    let err = load::<HubSettings>(&sources(None, None, &[("CAVS_SECRET_KEY", "hunter2")]))
        .expect_err("short key");
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "secret_key",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");

    let err = load::<HubSettings>(&sources(
        Some(PathBuf::from("/nonexistent/hub.toml")),
        None,
        &[],
    ))
    .expect_err("missing file");
    assert!(matches!(err, ConfigError::File { .. }), "{err}");
}

#[test]
fn secrets_never_show_in_debug() {
    let s: HubSettings = load(&sources(
        None,
        None,
        &[("CAVS_SECRET_KEY", "hunter2-hunter2-hunter2-hunter2-hunter2")],
    ))
    .expect("loads");
    assert!(!format!("{s:?}").contains("hunter2"));
    let a: AgentSettings = load(&sources(
        None,
        None,
        &[
            ("CAVS_DEVICE_ID", "cam-1"),
            ("CAVS_DEVICE_SECRET", "pssst-device"),
            ("CAVS_CLASSROOM_ID", "r1"),
        ],
    ))
    .expect("agent loads");
    assert!(!format!("{a:?}").contains("pssst-device"));
    assert_eq!(a.device_id, "cam-1");
}

#[test]
fn scan_settings_load_and_bad_ones_are_named() {
    let s: HubSettings = load(&sources(
        None,
        None,
        &[("CAVS_SCAN", "single"), ("CAVS_SMALLEST_FACE", "40")],
    ))
    .expect("loads");
    assert_eq!(s.scan, ScanMode::Single);
    assert_eq!(s.smallest_face, 40);
    let err = load::<HubSettings>(&sources(None, None, &[("CAVS_SCAN", "pyramid")]))
        .expect_err("unknown mode");
    assert!(err.to_string().contains("scan"), "{err}");
    let err = load::<HubSettings>(&sources(None, None, &[("CAVS_SMALLEST_FACE", "2")]))
        .expect_err("too small");
    assert!(err.to_string().contains("smallest_face"), "{err}");
}

#[test]
fn an_external_broker_needs_its_address_and_account() {
    let loaded = load::<HubSettings>(&sources(
        None,
        None,
        &[
            ("CAVS_BROKER", "external"),
            ("CAVS_BROKER_URL", "mqtt://broker.school:1883"),
            ("CAVS_BROKER_USERNAME", "cavs-hub"),
            ("CAVS_BROKER_PASSWORD", "pw"),
            ("CAVS_WORKER_DEADLINE_SECS", "20"),
        ],
    ))
    .expect("loads");
    assert_eq!(loaded.broker, cavs_config::BrokerMode::External);
    assert_eq!(
        loaded.broker_url.as_deref(),
        Some("mqtt://broker.school:1883")
    );
    assert_eq!(loaded.worker_deadline_secs, 20);
    assert_eq!(
        loaded.broker_provisioning,
        cavs_config::BrokerProvisioning::Dynsec
    );
    assert_eq!(
        load::<HubSettings>(&sources(None, None, &[]))
            .expect("defaults")
            .broker,
        cavs_config::BrokerMode::Embedded
    );
    for (env, setting) in [
        (vec![("CAVS_BROKER", "external")], "broker_url"),
        (
            vec![
                ("CAVS_BROKER", "external"),
                ("CAVS_BROKER_URL", "tcp://b:1883"),
            ],
            "broker_url",
        ),
        (
            vec![
                ("CAVS_BROKER", "external"),
                ("CAVS_BROKER_URL", "mqtts://b:8883"),
            ],
            "broker_ca_file",
        ),
        (
            vec![
                ("CAVS_BROKER", "external"),
                ("CAVS_BROKER_URL", "mqtt://b:1883"),
            ],
            "broker_username",
        ),
    ] {
        let err = load::<HubSettings>(&sources(None, None, &env)).expect_err("refused");
        assert!(
            matches!(&err, ConfigError::Invalid { setting: s, .. } if *s == setting),
            "{env:?}: {err}"
        );
    }
    let err = load::<HubSettings>(&sources(None, None, &[("CAVS_BROKER", "cluster")]))
        .expect_err("unknown mode");
    assert!(err.to_string().contains("broker"), "{err}");
}
