//! The agent's settings: the shipped example file loads and validates, and the keys the agent
//! added (`source_loop`, `reconnect_max_ms`) layer like the others.

use std::path::PathBuf;

use cavs_config::{AgentSettings, ConfigError, ExposeSecret, Sources, load};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/agent.example.toml");

fn sources(file: Option<PathBuf>, env: &[(&str, &str)]) -> Sources {
    Sources {
        file,
        dotenv: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn example_file_loads_and_env_overrides_it() {
    let s: AgentSettings = load(&sources(Some(EXAMPLE.into()), &[])).expect("example loads");
    assert_eq!(s.device_id, "cam-101");
    assert_eq!(s.source, "v4l2:/dev/video0");
    assert_eq!(s.capture_interval_ms, 5000);
    assert_eq!(s.reconnect_max_ms, 30_000);
    assert!(!s.source_loop);

    let s: AgentSettings = load(&sources(
        Some(EXAMPLE.into()),
        &[
            ("CAVS_DEVICE_SECRET", "from-env"),
            ("CAVS_SOURCE", "dir:/srv/photos"),
            ("CAVS_SOURCE_LOOP", "true"),
            ("CAVS_RECONNECT_MAX_MS", "2000"),
            ("CAVS_RESOLUTION", "320x240"),
        ],
    ))
    .expect("env layered");
    assert_eq!(
        s.device_secret.as_ref().map(|x| x.expose_secret()),
        Some("from-env")
    );
    assert_eq!(s.source, "dir:/srv/photos");
    assert!(s.source_loop);
    assert_eq!(s.reconnect_max_ms, 2000);
    assert_eq!(s.resolution.to_string(), "320x240");
}

#[test]
fn bad_values_are_refused() {
    for (key, value) in [
        ("CAVS_RECONNECT_MAX_MS", "5"),
        ("CAVS_SOURCE", "rtsp://camera"),
        ("CAVS_JPEG_QUALITY", "0"),
    ] {
        let err =
            load::<AgentSettings>(&sources(Some(EXAMPLE.into()), &[(key, value)])).expect_err(key);
        assert!(matches!(err, ConfigError::Invalid { .. }), "{key}: {err}");
    }
}
