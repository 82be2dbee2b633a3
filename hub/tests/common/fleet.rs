//! A hub data dir with five enrolled students and one camera, the real `cavs-hub` binary, a real
//! agent in this process sending the same 24 photos, and the store's tally of the faces they
//! became: shared by the reliability and scale-out tests.
#![allow(dead_code)] // shared by the test binaries; not every one of them uses every helper

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cavs_config::{AgentSettings, Resolution, SecretString};
use cavs_models::protocol::{DeviceConfig, SigningKey};
use cavs_models::store::{Store, hash_secret};
use cavs_models::{Actor, AttendanceFilter, DeviceFields, DeviceStatus, PageRequest};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep};

use super::{free_port, http_get};

pub const HUB: &str = env!("CARGO_BIN_EXE_cavs-hub");
pub const DEVICE: &str = "cam-rel";
pub const CLASSROOM: &str = "room-rel";
pub const SECRET: &str = "reliability-device-secret";
pub const FRAMES: usize = 24;

pub fn dev_photos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/faces/dev")
}

/// The 24 frames: every single-person photo and two group photos, as a `dir:` source.
pub fn frame_dir(root: &Path) -> PathBuf {
    let dir = root.join("frames");
    std::fs::create_dir_all(&dir).expect("frames dir");
    let mut photos: Vec<PathBuf> = std::fs::read_dir(dev_photos())
        .expect("dev photos")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .flat_map(|person| {
            std::fs::read_dir(person)
                .expect("person")
                .filter_map(|e| e.ok().map(|e| e.path()))
        })
        .collect();
    photos.sort();
    photos.push(dev_photos().join("_group/kit_with_rose.jpg"));
    photos.push(dev_photos().join("_group/obama_and_biden.jpg"));
    assert!(photos.len() >= FRAMES, "{} photos", photos.len());
    for (i, photo) in photos.iter().take(FRAMES).enumerate() {
        let ext = photo.extension().and_then(|e| e.to_str()).unwrap_or("jpg");
        std::fs::copy(photo, dir.join(format!("{i:02}.{ext}"))).expect("copy");
    }
    dir
}

/// One folder per person with their first photo, for `cavs-hub enroll`, and the roster
/// granting each one's consent.
pub fn enroll_dir(root: &Path) -> PathBuf {
    let dir = root.join("enroll");
    let mut roster = String::from("student_number,full_name,consent\n");
    for person in [
        "alex_lacamoire",
        "biden",
        "kit_harington",
        "obama",
        "rose_leslie",
    ] {
        let mut photos: Vec<PathBuf> = std::fs::read_dir(dev_photos().join(person))
            .expect("person")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        photos.sort();
        let target = dir.join(person);
        std::fs::create_dir_all(&target).expect("enroll dir");
        let name = photos[0].file_name().expect("name");
        std::fs::copy(&photos[0], target.join(name)).expect("copy");
        roster.push_str(&format!("{person},{person},yes\n"));
    }
    std::fs::write(dir.join("students.csv"), roster).expect("roster");
    dir
}

/// A hub data dir with five students enrolled (by `cavs-hub enroll`) and the camera registered
/// with `interval_ms` as its capture interval.
pub async fn prepare(root: &Path, interval_ms: u64) -> PathBuf {
    let data = root.join("data");
    let out = hub_command(&data, 0, 0)
        .arg("enroll")
        .arg(enroll_dir(root))
        .arg("--quiet")
        .output()
        .expect("enroll runs");
    assert!(
        out.status.success(),
        "enroll: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = open_store(&data).await;
    let device = store
        .devices()
        .create(
            &DeviceFields {
                device_id: DEVICE.into(),
                classroom_id: CLASSROOM.into(),
                location: None,
                status: DeviceStatus::Active,
                config: DeviceConfig {
                    capture_interval_ms: interval_ms,
                    ..DeviceConfig::default()
                },
            },
            &Actor::System,
        )
        .await
        .expect("device");
    store
        .devices()
        .set_credentials(
            device.id,
            &hash_secret(SECRET).expect("hash"),
            &SigningKey::derive(SECRET).to_hex(),
            &Actor::System,
        )
        .await
        .expect("credentials");
    data
}

/// Opens the on-disk store, waiting for a previous owner's lock to go.
pub async fn open_store(data: &Path) -> Store {
    let url = format!("surrealkv://{}", data.join("db").display());
    std::fs::create_dir_all(data).expect("data dir");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Store::open(&url).await {
            Ok(store) => return store,
            Err(error) if Instant::now() < deadline && error.to_string().contains("locked") => {
                sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("store: {error}"),
        }
    }
}

/// `cavs-hub` with a clean environment: only the data dir, addresses and key are set.
pub fn hub_command(data: &Path, http: u16, mqtt: u16) -> Command {
    let mut cmd = Command::new(HUB);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("CAVS_DATA_DIR", data)
        .env("CAVS_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("CAVS_MQTT_ADDR", format!("127.0.0.1:{mqtt}"))
        .env("CAVS_SECRET_KEY", "reliability-test-secret-key-0123456789")
        .current_dir(data.parent().unwrap_or(data));
    cmd
}

/// A running hub process.
pub struct Hub {
    child: Child,
    http: u16,
}

impl Hub {
    /// Starts `cavs-hub serve` and waits until `/api/health` answers 200 (the store's lock of a
    /// process just gone may take a moment to clear: a start that fails on it is retried).
    pub async fn start(data: &Path, http: u16, mqtt: u16) -> Hub {
        Hub::start_with(data, http, mqtt, &[]).await
    }

    /// [`Hub::start`] with more environment variables (e.g. an external broker's settings).
    pub async fn start_with(data: &Path, http: u16, mqtt: u16, env: &[(String, String)]) -> Hub {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.parent().unwrap_or(data).join("hub.log"))
                .expect("log");
            let child = hub_command(data, http, mqtt)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn hub");
            let mut hub = Hub { child, http };
            loop {
                if let Ok(Some(_)) = hub.child.try_wait() {
                    break;
                }
                if http_get(http, "/api/health").is_some_and(|(status, _)| status == 200) {
                    return hub;
                }
                assert!(Instant::now() < deadline, "hub never became healthy");
                sleep(Duration::from_millis(200)).await;
            }
            assert!(Instant::now() < deadline, "hub kept failing to start");
            sleep(Duration::from_millis(300)).await;
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGKILL: nothing is flushed, nothing drained.
    pub async fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status (bounded wait).
    pub async fn stop(mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hub did not stop within 40 s of SIGTERM");
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// `cavs_frames_dropped_total{reason}` from `/metrics` (loopback: no token needed).
    pub fn dropped(&self, reason: &str) -> u64 {
        self.metric(&format!("cavs_frames_dropped_total{{reason=\"{reason}\"}}")) as u64
    }

    /// The value of the `/metrics` line starting with `series` (0 when there is none).
    pub fn metric(&self, series: &str) -> f64 {
        let (_, body) = http_get(self.http, "/metrics").expect("metrics");
        body.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    }

    /// The REST port.
    pub fn http_port(&self) -> u16 {
        self.http
    }
}

/// A running agent.
pub struct Agent {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<cavs_agent::RunStats, cavs_agent::AgentError>>,
    spool: PathBuf,
}

impl Agent {
    pub fn start(root: &Path, frames: &Path, mqtt: u16, interval_ms: u64) -> Agent {
        Agent::start_with_secret(root, frames, mqtt, interval_ms, SECRET)
    }

    /// [`Agent::start`] with another device secret (one the hub issued).
    pub fn start_with_secret(
        root: &Path,
        frames: &Path,
        mqtt: u16,
        interval_ms: u64,
        secret: &str,
    ) -> Agent {
        let spool = root.join("spool");
        let settings = AgentSettings {
            broker_url: format!("mqtt://127.0.0.1:{mqtt}"),
            ca_file: None,
            device_id: DEVICE.into(),
            device_secret: Some(SecretString::from(secret)),
            classroom_id: CLASSROOM.into(),
            source: format!("dir:{}", frames.display()),
            capture_interval_ms: interval_ms,
            jpeg_quality: 85,
            resolution: Resolution {
                width: 1280,
                height: 960,
            },
            spool_dir: spool.clone(),
            spool_max_mb: 256,
            heartbeat_secs: 5,
            change_threshold: 0.0,
            enabled: true,
            source_loop: false,
            reconnect_max_ms: 1000,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(cavs_agent::run(settings, async {
            let _ = stopped.await;
        }));
        Agent { stop, task, spool }
    }

    pub fn spooled(&self) -> usize {
        std::fs::read_dir(&self.spool).map_or(0, |dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "frame"))
                .count()
        })
    }

    /// Waits until every frame was captured and the spool is empty (every one acknowledged).
    pub async fn until_delivered(&self, within: Duration, captured: impl Fn() -> bool) {
        let deadline = Instant::now() + within;
        while !(captured() && self.spooled() == 0) {
            assert!(
                Instant::now() < deadline,
                "{} frames never acknowledged",
                self.spooled()
            );
            sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn stop(self) -> cavs_agent::RunStats {
        let _ = self.stop.send(());
        self.task.await.expect("agent task").expect("agent run")
    }
}

/// Faces counted into records per predicted name (`None`: unknown faces), and frames
/// committed, as the store holds them once the hub has stopped.
pub type Tally = (BTreeMap<Option<String>, u64>, usize);

pub async fn tally(data: &Path) -> Tally {
    let store = open_store(data).await;
    let records = store
        .attendance()
        .list(
            &AttendanceFilter::default(),
            &PageRequest {
                page: 1,
                page_size: 1000,
            },
        )
        .await
        .expect("records")
        .items;
    let mut faces = BTreeMap::new();
    for record in records {
        *faces.entry(record.predicted_name).or_insert(0) += record.frame_count;
    }
    let frames = store
        .frames()
        .ids_since(chrono::Utc::now() - chrono::Duration::days(1), 1000)
        .await
        .expect("frames")
        .len();
    (faces, frames)
}

/// True once `interval_ms × 24` (plus a margin) has passed since `started`: every frame captured.
pub fn all_captured(started: Instant, interval_ms: u64) -> impl Fn() -> bool {
    let done = started + Duration::from_millis(interval_ms * FRAMES as u64 + 3000);
    move || Instant::now() >= done
}

/// The calm run's tally, computed once for all the scenarios of this binary (the first test to
/// ask runs it; the others wait for it).
pub async fn calm_baseline() -> Tally {
    static CALM: tokio::sync::OnceCell<Tally> = tokio::sync::OnceCell::const_new();
    CALM.get_or_init(calm_run).await.clone()
}

/// The same 24 frames, one every 1.2 s, to a hub that is up all along.
pub async fn calm_run() -> Tally {
    let root = tempfile::tempdir().expect("tempdir");
    let frames = frame_dir(root.path());
    let data = prepare(root.path(), 1200).await;
    let (http, mqtt) = (free_port(), free_port());
    let hub = Hub::start(&data, http, mqtt).await;
    let agent = Agent::start(root.path(), &frames, mqtt, 1200);
    agent
        .until_delivered(Duration::from_secs(240), all_captured(Instant::now(), 1200))
        .await;
    let stats = agent.stop().await;
    assert_eq!(stats.frames_captured, FRAMES as u64, "{stats:?}");
    assert!(hub.stop().await.success());
    let counted = tally(&data).await;
    assert_eq!(counted.1, FRAMES, "every frame committed once");
    assert!(
        counted.0.iter().any(|(name, n)| name.is_some() && *n > 0),
        "enrolled students were recognised: {counted:?}"
    );
    counted
}
