//! `soak`: 20 cameras (real agents, in this process) against the hub (in this process, default
//! settings, on-disk store) for a long run, with the cameras' link to the broker cut at intervals
//! and the store slowed at intervals by a concurrent query load. At the end capture is switched
//! off, every spool drains, and it prints frames captured, recorded and lost (must be 0) and
//! RSS over time.
//!
//! `cargo build --release --workspace --all-targets && target/release/soak --minutes 30`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use cavs_api::Pipeline;
use cavs_config::{AgentSettings, Resolution, SecretString};
use cavs_tests::flood::rss_kib;
use cavs_tests::{TestHub, faces_dir};
use clap::Parser;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Parser)]
struct Args {
    /// Length of the run.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Cameras.
    #[arg(long, default_value_t = 20)]
    cameras: usize,
    /// Capture interval of each camera, ms.
    #[arg(long, default_value_t = 5000)]
    interval_ms: u64,
    /// Every this many seconds the link is cut (and, half-way between, the store slowed)...
    #[arg(long, default_value_t = 300)]
    every_secs: u64,
    /// ... for this many seconds.
    #[arg(long, default_value_t = 30)]
    for_secs: u64,
}

const SECRET: &str = "soak-camera-secret";

/// Relays 127.0.0.1:`port` to the broker while `up` says so; going down closes every link.
async fn relay(listener: TcpListener, broker: u16, up: watch::Receiver<bool>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        if !*up.borrow() {
            continue;
        }
        let mut down = up.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", broker)).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = down.wait_for(|up| !*up) => {}
            }
        });
    }
}

fn camera(i: usize, relay_port: u16, spool: PathBuf, interval_ms: u64) -> AgentSettings {
    AgentSettings {
        broker_url: format!("mqtt://127.0.0.1:{relay_port}"),
        ca_file: None,
        device_id: format!("soak-{i:02}"),
        device_secret: Some(SecretString::from(SECRET)),
        classroom_id: format!("room-{:02}", i % 5),
        source: format!("dir:{}", faces_dir().join("obama").display()),
        capture_interval_ms: interval_ms,
        jpeg_quality: 80,
        resolution: Resolution {
            width: 640,
            height: 480,
        },
        spool_dir: spool,
        spool_max_mb: 256,
        heartbeat_secs: 30,
        change_threshold: 0.0,
        enabled: true,
        source_loop: true,
        reconnect_max_ms: 5000,
    }
}

#[actix::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let hub = TestHub::start(|s| {
        let defaults = cavs_config::HubSettings::default();
        s.device_max_fps = defaults.device_max_fps;
        s.database_url = None;
    })
    .await?;
    let store = hub.hub.store.clone();
    hub.enroll(
        "S1",
        "Barack Obama",
        &[faces_dir().join("obama/obama-480p.jpg")],
    )
    .await?;
    let mut devices = Vec::new();
    for i in 0..args.cameras {
        let mut device = hub
            .register_device(
                &format!("soak-{i:02}"),
                &format!("room-{:02}", i % 5),
                SECRET,
            )
            .await?;
        device.config.capture_interval_ms = args.interval_ms;
        hub.hub
            .pipeline
            .device_changed(&device.device_id, Some(&device))
            .await;
        devices.push(device);
    }
    hub.wait_for_broker().await;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let relay_port = listener.local_addr()?.port();
    let (link_up, up_rx) = watch::channel(true);
    tokio::spawn(relay(listener, hub.hub.mqtt_addr.port(), up_rx));

    let spools = tempfile::tempdir()?;
    let mut agents = Vec::new();
    for i in 0..args.cameras {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = camera(
            i,
            relay_port,
            spools.path().join(format!("{i}")),
            args.interval_ms,
        );
        let task = tokio::spawn(cavs_agent::run(settings, async {
            let _ = stopped.await;
        }));
        agents.push((stop, task));
    }

    let started = Instant::now();
    let run_for = Duration::from_secs(args.minutes * 60);
    let every = Duration::from_secs(args.every_secs.max(1));
    let outage = Duration::from_secs(args.for_secs);
    let slow = Arc::new(AtomicBool::new(false));
    for _ in 0..4 {
        let (store, slow) = (store.clone(), Arc::clone(&slow));
        tokio::spawn(async move {
            loop {
                if slow.load(Ordering::Relaxed) {
                    let page = cavs_models::PageRequest {
                        page: 1,
                        page_size: 500,
                    };
                    let _ = store.attendance().list(&Default::default(), &page).await;
                    let _ = store.audit().list(&Default::default(), &page).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }
    let mut rss = Vec::new();
    let mut cuts = 0;
    let mut slowdowns = 0;
    while started.elapsed() < run_for {
        let t = started.elapsed().as_secs() % every.as_secs();
        let cut = started.elapsed() > every / 2 && t < outage.as_secs();
        let slowed = t >= every.as_secs() / 2 && t < every.as_secs() / 2 + outage.as_secs();
        if cut == *link_up.borrow() {
            link_up.send_replace(!cut);
            if cut {
                cuts += 1;
            }
        }
        if slowed != slow.load(Ordering::Relaxed) {
            slow.store(slowed, Ordering::Relaxed);
            if slowed {
                slowdowns += 1;
            }
        }
        if rss.len() as u64 <= started.elapsed().as_secs() / 60 {
            rss.push(rss_kib() / 1024);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    link_up.send_replace(true);
    slow.store(false, Ordering::Relaxed);
    // Capture off everywhere; then every spool drains.
    for device in &mut devices {
        device.config.enabled = false;
        hub.hub
            .pipeline
            .device_changed(&device.device_id, Some(device))
            .await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let drain_deadline = Instant::now() + Duration::from_secs(600);
    let spooled = |root: &std::path::Path| -> usize {
        walk(root)
            .filter(|p| p.extension().is_some_and(|e| e == "frame"))
            .count()
    };
    while spooled(spools.path()) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut captured = 0;
    let mut recorded = 0;
    let mut left = 0;
    let mut dropped = 0;
    for (stop, task) in agents {
        let _ = stop.send(());
        let stats = task.await.context("agent task")??;
        captured += stats.frames_captured;
        recorded += stats.frames_sent;
        left += stats.spool_depth;
        dropped += stats.spool_dropped;
    }
    let committed = store
        .frames()
        .ids_since(chrono::Utc::now() - chrono::Duration::days(1), 10_000_000)
        .await?
        .len() as u64;
    let metrics = &hub.hub.pipeline.parts().metrics;
    println!(
        "soak: {} cameras, {} min, link cut {cuts}× and store slowed {slowdowns}× for {} s each",
        args.cameras, args.minutes, args.for_secs
    );
    println!(
        "frames captured {captured}, acknowledged as recorded {recorded}, committed (distinct ids) {committed}, \
         lost {}, left in spools {left}, dropped by agents {dropped}; hub drops: rate_limited {}, overloaded {}, in_progress {}, duplicate {}",
        captured.saturating_sub(committed),
        metrics.dropped_count("rate_limited"),
        metrics.dropped_count("overloaded"),
        metrics.dropped_count("in_progress"),
        metrics.dropped_count("duplicate"),
    );
    println!("RSS MiB per minute: {rss:?}");
    hub.hub.shutdown().await;
    Ok(())
}

fn walk(root: &std::path::Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            } else {
                vec![path]
            }
        })
}
