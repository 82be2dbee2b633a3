//! The `cavs-hub` binary: start-up errors, admin commands, serve + health + clean SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{free_port, http_get, run_with_stdin};

const HUB: &str = env!("CARGO_BIN_EXE_cavs-hub");

/// A command with a clean environment apart from PATH, run in `dir` (so no stray `.env`).
fn hub(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(HUB);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    cmd
}

#[test]
fn malformed_config_file_fails_with_the_setting_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hub.toml");
    std::fs::write(&file, "http_addr = \"not an address\"\n").expect("write");
    let out = hub(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("http_addr"), "{stderr}");
    assert!(stderr.contains("not an address"), "{stderr}");

    std::fs::write(&file, "no_such_setting = 1\n").expect("write");
    let out = hub(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_setting"));

    std::fs::write(&file, "this is [not toml").expect("write");
    let out = hub(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn malformed_env_value_fails_with_the_setting_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = hub(dir.path())
        .env("CONFIDENCE_THRESHOLD_HIGH", "very")
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threshold_high"), "{stderr}");
    assert!(stderr.contains("very"), "{stderr}");

    let out = hub(dir.path())
        .env("CAVS_SECRET_KEY", "super-secret-value-that-must-not-leak")
        .env("CAVS_THRESHOLD_MEDIUM", "0.9")
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threshold_medium"), "{stderr}");
    assert!(
        !stderr.contains("super-secret-value"),
        "secret leaked: {stderr}"
    );
}

#[test]
fn exposed_plaintext_listeners_and_half_a_tls_setup_refuse_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (key, value, named) in [
        ("CAVS_HTTP_ADDR", "0.0.0.0:8000", "http_addr"),
        ("CAVS_MQTT_ADDR", "0.0.0.0:1883", "mqtt_addr"),
        ("CAVS_TLS_CERT_FILE", "server.pem", "tls_key_file"),
    ] {
        let out = hub(dir.path())
            .env(key, value)
            .arg("migrate")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{key}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{key}: {stderr}");
    }
    // Explicitly allowed, the exposed listener is accepted (migrate then runs).
    let out = hub(dir.path())
        .env("CAVS_HTTP_ADDR", "0.0.0.0:8000")
        .env("CAVS_ALLOW_PLAINTEXT", "true")
        .env("CAVS_DATA_DIR", dir.path().join("data"))
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn cert_writes_a_ca_and_a_server_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("tls");
    let out = hub(dir.path())
        .args(["cert", "--out"])
        .arg(&out_dir)
        .args(["--host", "hub.school.lan", "--host", "192.168.1.10"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    for file in ["ca.pem", "server.pem", "server.key"] {
        let text = std::fs::read_to_string(out_dir.join(file)).expect(file);
        assert!(text.starts_with("-----BEGIN "), "{file}: {text}");
    }
    // A host is required.
    let out = hub(dir.path())
        .args(["cert", "--out"])
        .arg(&out_dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // The server files start a TLS hub; a missing key file is named.
    let out = hub(dir.path())
        .env("CAVS_TLS_CERT_FILE", out_dir.join("server.pem"))
        .env("CAVS_TLS_KEY_FILE", out_dir.join("missing.key"))
        .env("CAVS_DATA_DIR", dir.path().join("data"))
        .env("CAVS_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("CAVS_MQTT_ADDR", format!("127.0.0.1:{}", free_port()))
        .arg("serve")
        .output()
        .expect("runs");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.key"),
        "{out:?}"
    );
}

#[test]
fn migrate_and_user_create_work_on_an_on_disk_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = hub(dir.path()).arg("migrate").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema version 5"));

    let create = |name: &str| {
        let mut command = hub(dir.path());
        command.args([
            "user",
            "create",
            "--username",
            name,
            "--role",
            "admin",
            "--password-stdin",
        ]);
        run_with_stdin(command, "long-enough-password\n")
    };
    let out = create("admin");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin user admin"));
    let again = create("admin");
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"));
}

#[test]
fn rotate_key_seals_plain_face_files_with_a_new_key_and_a_bad_configured_key_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let crop = data.join("crops/room-1/2026-12-04/frame-0.jpg");
    std::fs::create_dir_all(crop.parent().expect("parent")).expect("mkdir");
    std::fs::write(&crop, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).expect("plain crop");
    let rotate = || {
        hub(dir.path())
            .env("CAVS_DATA_DIR", &data)
            .arg("rotate-key")
            .output()
            .expect("runs")
    };
    let first = rotate();
    assert!(first.status.success(), "{first:?}");
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        text.contains("0 file(s) re-sealed, 1 sealed for the first time"),
        "{text}"
    );
    let key = std::fs::read_to_string(data.join("data_key")).expect("key kept");
    assert!(std::fs::read(&crop).expect("crop").starts_with(b"CAVSENC1"));
    let second = rotate();
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("1 file(s) re-sealed"),
        "{second:?}"
    );
    assert_ne!(
        std::fs::read_to_string(data.join("data_key")).expect("key"),
        key,
        "a new key"
    );
    assert!(!data.join("data_key.next").exists());

    let bad = hub(dir.path())
        .env("CAVS_DATA_DIR", &data)
        .env("CAVS_DATA_KEY", "too-short")
        .arg("rotate-key")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("data_key"),
        "{bad:?}"
    );
}

#[test]
fn serve_answers_health_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, mqtt) = (free_port(), free_port());
    let mut child = hub(dir.path())
        .env("CAVS_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("CAVS_MQTT_ADDR", format!("127.0.0.1:{mqtt}"))
        .env("CAVS_RECOGNIZER_WORKERS", "1")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let until = Instant::now() + Duration::from_secs(60);
    let mut health = None;
    while health.is_none() && Instant::now() < until {
        health = http_get(http, "/api/health");
        if health.is_none() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let (status, body) = health.expect("health answered");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"database\":\"ok\""), "{body}");
    assert!(body.contains("\"schema_version\":5"), "{body}");
    assert!(body.contains("\"pipeline\":\"ok\""), "{body}");
    assert!(
        dir.path().join("data/secret_key").exists(),
        "generated key kept in the data dir"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let until = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > until {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(status) = status else {
        let _ = child.kill();
        panic!("hub did not stop within 5 s of SIGTERM");
    };
    assert!(status.success(), "{status:?}");
    assert!(http_get(http, "/api/health").is_none(), "HTTP port closed");
}

/// A school ID-style photo: the aligned 160 px crop cut `inset` px tighter on every side and
/// resized to 150 px (no jaw line, no hairline).
fn tight_crop(name: &str, inset: u32) -> image::DynamicImage {
    let path = format!(
        "{}/../../shared/faces/more/{name}/{name}_aligned.png",
        env!("CARGO_MANIFEST_DIR")
    );
    let img = image::open(&path).expect("aligned crop");
    let (w, h) = (img.width(), img.height());
    img.crop_imm(inset, inset, w - 2 * inset, h - 2 * inset)
        .resize_exact(150, 150, image::imageops::FilterType::Triangle)
}

#[test]
fn enroll_accepts_tight_id_crops_and_rejects_a_photo_without_a_face() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photos = dir.path().join("photos");
    for (number, name) in [("S1", "kate_siegel"), ("S2", "paul_rudd")] {
        std::fs::create_dir_all(photos.join(number)).expect("mkdir");
        tight_crop(name, 20)
            .save(photos.join(number).join("id.png"))
            .expect("save");
    }
    std::fs::create_dir_all(photos.join("S3")).expect("mkdir");
    image::RgbImage::from_pixel(150, 150, image::Rgb([128, 128, 128]))
        .save(photos.join("S3").join("blank.png"))
        .expect("save");
    // S1-S3 granted consent; S4 has no decision, so their folder is skipped.
    std::fs::create_dir_all(photos.join("S4")).expect("mkdir");
    tight_crop("kate_siegel", 20)
        .save(photos.join("S4").join("id.png"))
        .expect("save");
    std::fs::write(
        photos.join("students.csv"),
        "student_number,full_name,consent\nS1,Kate,yes\nS2,Paul,yes\nS3,Grey,yes\n",
    )
    .expect("roster");
    let out = hub(dir.path())
        .arg("enroll")
        .arg(&photos)
        .arg("--quiet")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(
            "3 consent decision(s) recorded; 4 photo(s): 2 enrolled, 0 already enrolled, 1 rejected"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("S4 has not granted consent to face recognition"),
        "{stdout}"
    );
    assert!(stdout.contains("blank.png"), "{stdout}");
}
