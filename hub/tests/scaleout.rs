//! Scale-out on a real Mosquitto (started on 127.0.0.1 with its dynamic-security plugin): the
//! real `cavs-hub` binary as a client of it (`CAVS_BROKER=external`) provisions the camera's
//! and the workers' broker accounts itself, two `cavs-hub worker` processes share the frames,
//! and one of them is killed with SIGKILL mid-run and never comes back. The records count
//! exactly the faces of the same 24 frames processed by an undisturbed hub.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::{Instant, sleep};

mod common;

use cavs_models::{Actor, NewUser, Role};
use common::fleet::{
    Agent, DEVICE, FRAMES, HUB, Hub, all_captured, calm_baseline, frame_dir, hub_command,
    open_store, prepare, tally,
};
use common::mosquitto::Mosquitto;
use common::{free_port, issue_credentials, sign_in};

const HUB_ACCOUNT: &str = "cavs-hub";
const HUB_PASSWORD: &str = "hub-service-password-0123";
const ADMIN_PASSWORD: &str = "scale-out-admin-password";

/// The hub's settings for `broker`.
fn external(broker: &Mosquitto) -> Vec<(String, String)> {
    [
        ("CAVS_BROKER", "external".to_owned()),
        ("CAVS_BROKER_URL", broker.url()),
        ("CAVS_BROKER_USERNAME", HUB_ACCOUNT.to_owned()),
        ("CAVS_BROKER_PASSWORD", HUB_PASSWORD.to_owned()),
        ("CAVS_WORKER_DEADLINE_SECS", "6".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `cavs-hub broker add-worker --id N` (run by the running hub): the worker's password.
fn add_worker(data: &Path, id: &str) -> String {
    let out = hub_command(data, 0, 0)
        .args(["broker", "add-worker", "--id", id])
        .output()
        .expect("add-worker runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "add-worker: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace()
        .skip_while(|w| *w != "password")
        .nth(1)
        .expect("a password in the output")
        .to_owned()
}

/// A `cavs-hub worker --id N` process.
fn spawn_worker(root: &Path, broker: &Mosquitto, id: &str, password: &str) -> Child {
    let log = std::fs::File::create(root.join(format!("worker-{id}.log"))).expect("log");
    Command::new(HUB)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn,cavs_hub=info")
        .env("CAVS_DATA_DIR", root.join(format!("worker-{id}")))
        .env("CAVS_BROKER_URL", broker.url())
        .env("CAVS_BROKER_USERNAME", format!("cavs-hub-worker-{id}"))
        .env("CAVS_BROKER_PASSWORD", password)
        .args(["worker", "--id", id, "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn worker")
}

/// Signs in as the admin and issues the camera's credentials: the new secret.
fn issue_camera_credentials(http: u16) -> String {
    issue_credentials(http, &sign_in(http, "ada", ADMIN_PASSWORD), DEVICE)
}

async fn until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_for_good_loses_no_frame_and_counts_none_twice() {
    let calm = calm_baseline().await;

    let broker = Mosquitto::start(HUB_ACCOUNT, HUB_PASSWORD);
    let root = tempfile::tempdir().expect("tempdir");
    let frames = frame_dir(root.path());
    let data = prepare(root.path(), 300).await;
    open_store(&data)
        .await
        .users()
        .create(
            &NewUser {
                username: "ada".into(),
                password: ADMIN_PASSWORD.into(),
                role: Role::Admin,
                classrooms: Vec::new(),
            },
            &Actor::System,
        )
        .await
        .expect("admin");

    let http = free_port();
    let hub = Hub::start_with(&data, http, free_port(), &external(&broker)).await;
    let mut workers: Vec<Child> = ["1", "2"]
        .iter()
        .map(|id| spawn_worker(root.path(), &broker, id, &add_worker(&data, id)))
        .collect();
    until(Duration::from_secs(90), "both workers online", || {
        hub.metric("cavs_workers_online") >= 2.0
    })
    .await;
    let secret = issue_camera_credentials(http);

    let started = Instant::now();
    let agent = Agent::start_with_secret(root.path(), &frames, broker.port, 300, &secret);
    // Frames are being recognised by both workers when one dies for good.
    until(Duration::from_secs(60), "workers returned results", || {
        hub.metric("cavs_worker_results_total") >= 2.0
    })
    .await;
    let mut dead = workers.remove(0);
    dead.kill().expect("SIGKILL");
    let _ = dead.wait();
    agent
        .until_delivered(Duration::from_secs(300), all_captured(started, 300))
        .await;
    let stats = agent.stop().await;
    assert_eq!(stats.frames_captured, FRAMES as u64, "{stats:?}");
    assert_eq!(stats.spool_dropped, 0, "{stats:?}");
    let by_workers = hub.metric("cavs_worker_results_total");
    let rescued = hub.metric("cavs_worker_deadline_missed_total");
    eprintln!(
        "frames recognised by workers: {by_workers}, by the hub after the deadline: {rescued}"
    );
    assert!(by_workers >= 2.0, "the workers did the work");
    assert_eq!(hub.metric("cavs_worker_results_refused_total"), 0.0);

    // The survivor stops cleanly on SIGTERM.
    let mut survivor = workers.remove(0);
    let term = Command::new("kill")
        .args(["-TERM", &survivor.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = survivor.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "worker did not stop on SIGTERM");
        sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(hub.stop().await.success());
    assert_eq!(
        tally(&data).await,
        calm,
        "the same faces as the undisturbed run, once each"
    );
}
