//! Load benchmark: starts a hub in this process, registers many simulated cameras and has each
//! publish real frames at a fixed rate (single-face 640×480 frames, or with `--scenes DIR`
//! the 1080p 16-student classroom frames of `shared/faces/classroom/make_scenes.py`); prints
//! frames/s and faces/s processed, frames dropped (by reason), publish → first record latency
//! (p50 / p99), measured from the attendance events the hub publishes, and peak RSS.
//!
//! `cargo run --release -p cavs-tests --bin loadgen -- --devices 20 --fps 1 --seconds 60`
//! `cargo run --release -p cavs-tests --bin loadgen -- --scenes /tmp/scenes --devices 20 --fps 0.1 --seconds 60`
//!
//! Scale-out: with `--broker-url` (a Mosquitto set up by `scripts/mosquitto-dev.sh`) the hub is a
//! client of that broker, and `--remote-workers N` starts N `cavs-hub worker` processes (one
//! recognition thread each; the `cavs-hub` binary beside this one) that do the recognition.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use cavs_api::Pipeline;
use cavs_models::protocol::{AttendanceEvent, EVENTS_FILTER, Topic};
use cavs_tests::{TestHub, camera_frame, faces_dir, signed_frame};
use remote::Broker;

#[path = "loadgen/remote.rs"]
mod remote;
use clap::Parser;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(about = "CAVS hub load benchmark")]
struct Args {
    /// Simulated cameras.
    #[arg(long, default_value_t = 20)]
    devices: usize,
    /// Frames per second per camera.
    #[arg(long, default_value_t = 1.0)]
    fps: f64,
    /// Publishing time.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Face detector: ssd or tiny.
    #[arg(long, default_value = "ssd")]
    detector: String,
    /// Recognition workers (0 = one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Classroom frames: a `make_scenes.py` output folder (its `enroll/*.png` are enrolled,
    /// its `scene_*.png` sent as 1080p JPEG frames).
    #[arg(long)]
    scenes: Option<std::path::PathBuf>,
    /// An external broker (`mqtt://127.0.0.1:PORT`) whose dynamic-security admin is
    /// `cavs-hub` with `--broker-password`: the hub joins it instead of embedding one.
    #[arg(long)]
    broker_url: Option<String>,
    /// The `cavs-hub` account's password on `--broker-url`.
    #[arg(long, default_value = "")]
    broker_password: String,
    /// Recognition worker processes to start (with `--broker-url`).
    #[arg(long, default_value_t = 0)]
    remote_workers: usize,
}

const IDENTITIES: [(&str, &str); 4] = [
    ("obama", "obama.jpg"),
    ("biden", "biden.jpg"),
    ("alex_lacamoire", "img1.jpg"),
    ("rose_leslie", "img1.jpg"),
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    });
    system.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let detector = match args.detector.as_str() {
        "ssd" => cavs_config::DetectorKind::Ssd,
        "tiny" => cavs_config::DetectorKind::Tiny,
        other => anyhow::bail!("unknown detector {other}"),
    };
    let hub = TestHub::start(|s| {
        s.detector = detector;
        s.recognizer_workers = args.workers;
        s.device_max_fps = (args.fps * 2.0).max(1.0) as f32;
        if let Some(url) = &args.broker_url {
            s.broker = cavs_config::BrokerMode::External;
            s.broker_url = Some(url.clone());
            s.broker_username = Some("cavs-hub".into());
            s.broker_password = Some(args.broker_password.clone().into());
            // The workers do the recognising: the hub waits for them.
            s.worker_deadline_secs = 600;
            s.max_inflight_frames = 1024;
        }
    })
    .await?;
    let broker = Broker::of(&hub, args.broker_url.as_deref())?;
    let mut workers =
        remote::start_workers(&hub, args.broker_url.as_deref(), args.remote_workers).await?;
    let frames = match &args.scenes {
        Some(dir) => classroom_frames(&hub, dir).await?,
        None => portrait_frames(&hub).await?,
    };
    let frames = Arc::new(frames);
    hub.hub
        .store
        .users()
        .create(
            &cavs_models::NewUser {
                username: "loadgen".into(),
                password: "loadgen-pass".into(),
                role: cavs_models::Role::Admin,
                classrooms: vec![],
            },
            &cavs_models::Actor::System,
        )
        .await?;

    // Latency: publish instant per frame id, matched with the hub's attendance events.
    let published: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    hub.hub
        .pipeline
        .broker_password("loadgen", "loadgen-pass")
        .await;
    let (events, mut events_loop) = AsyncClient::new(
        broker.options("user:loadgen", "loadgen", "loadgen-pass"),
        1024,
    );
    events.subscribe(EVENTS_FILTER, QoS::AtLeastOnce).await?;
    {
        let published = Arc::clone(&published);
        let latencies = Arc::clone(&latencies);
        tokio::spawn(async move {
            loop {
                match events_loop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let Ok(event) = serde_json::from_slice::<AttendanceEvent>(&p.payload)
                        else {
                            continue;
                        };
                        let sent = event
                            .frame_id
                            .and_then(|id| published.lock().ok()?.remove(&id));
                        if let Some(sent) = sent
                            && let Ok(mut lat) = latencies.lock()
                        {
                            lat.push(sent.elapsed());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }

    let mut tasks = Vec::new();
    let start = Instant::now();
    let publish_until = start + Duration::from_secs(args.seconds);
    for d in 0..args.devices {
        let device_id = format!("load-{d:03}");
        let classroom = format!("room-{:02}", d % 10);
        let secret = format!("secret-{d:03}-load");
        hub.register_device(&device_id, &classroom, &secret).await?;
        hub.hub.pipeline.broker_password(&device_id, &secret).await;
        let (client, mut event_loop) =
            AsyncClient::new(broker.options(&device_id, &device_id, &secret), 256);
        tokio::spawn(async move {
            loop {
                if event_loop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        let frames = Arc::clone(&frames);
        let published = Arc::clone(&published);
        let period = Duration::from_secs_f64(1.0 / args.fps.max(0.01));
        tasks.push(tokio::spawn(async move {
            let topic = Topic::frames(&classroom, &device_id).to_string();
            let mut ticker = tokio::time::interval(period);
            ticker.tick().await;
            let mut seq = 0u64;
            let mut sent = 0u64;
            // Spread devices over the period.
            tokio::time::sleep(period.mul_f64(d as f64 / 20.0 % 1.0)).await;
            while Instant::now() < publish_until {
                ticker.tick().await;
                seq += 1;
                let jpeg = &frames[(d + seq as usize) % frames.len()];
                let Ok((header, envelope)) =
                    signed_frame(&device_id, &classroom, &secret, seq, jpeg)
                else {
                    continue;
                };
                if let Ok(mut map) = published.lock() {
                    map.insert(header.frame_id, Instant::now());
                }
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, envelope)
                    .await
                    .is_ok()
                {
                    sent += 1;
                }
            }
            sent
        }));
    }

    let mut peak_rss = 0u64;
    // Frames committed by the hub, and when the count last rose (the throughput's end).
    let committed = Arc::clone(&hub.hub.pipeline.parts().metrics);
    let sampler = tokio::spawn(async move {
        let (mut peak, mut count, mut last_commit) = (0, 0, start);
        loop {
            peak = peak.max(rss_kib());
            let now = committed.frames_committed.get();
            if now > count {
                (count, last_commit) = (now, Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if Instant::now() > publish_until + Duration::from_secs(15) {
                return (peak, count, last_commit);
            }
        }
    });
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap_or(0);
    }
    // Let the pipeline drain.
    let drain_until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < drain_until {
        let pending = published.lock().map(|m| m.len()).unwrap_or(0);
        let stats = hub
            .hub
            .pipeline
            .parts()
            .router
            .send(cavs_hub::pipeline::router::GetStats)
            .await?;
        if pending == 0 || (stats.inflight == 0 && stats.queued == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (peak, committed, last_commit) = sampler.await.unwrap_or((0, 0, start));
    peak_rss = peak_rss.max(peak);

    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort();
    let processed = committed;
    let elapsed = last_commit.duration_since(start).as_secs_f64().max(1e-3);
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    let metrics = &hub.hub.pipeline.parts().metrics;
    let reasons = [
        "overloaded",
        "rate_limited",
        "duplicate",
        "bad_signature",
        "undecodable",
        "malformed",
    ];
    println!(
        "loadgen: devices={} fps/device={} seconds={} detector={} workers={}",
        args.devices,
        args.fps,
        args.seconds,
        args.detector,
        if args.workers == 0 {
            "cores".to_owned()
        } else {
            args.workers.to_string()
        }
    );
    println!("frames published      {sent}");
    println!(
        "frames processed      {processed} ({:.2} frames/s, committed by the hub in {elapsed:.0} s)",
        processed as f64 / elapsed
    );
    let faces = metrics.faces_detected.get();
    println!(
        "faces detected        {faces} ({:.1} faces/s)",
        faces as f64 / elapsed
    );
    for reason in reasons {
        let n = metrics.dropped_count(reason);
        if n > 0 {
            println!("frames dropped        {n} ({reason})");
        }
    }
    println!(
        "latency publish→record p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("peak RSS              {} MiB", peak_rss / 1024);
    let (writes, write_total) = histogram_sum(&metrics.render(), "cavs_write_seconds");
    if writes > 0.0 {
        println!(
            "writer                {:.0} ms per frame (mean of {writes})",
            write_total / writes * 1000.0
        );
    }
    if args.broker_url.is_some() {
        println!(
            "recognised by workers {} (in the hub after the deadline: {})",
            metrics.worker_results.get(),
            metrics.worker_deadline_missed.get()
        );
    }
    remote::stop_workers(&mut workers);
    hub.hub.shutdown().await;
    actix::System::current().stop();
    Ok(())
}

/// Enrolls the four identities and returns their single-face 640×480 frames.
async fn portrait_frames(hub: &TestHub) -> anyhow::Result<Vec<Vec<u8>>> {
    let dev = faces_dir();
    let mut frames = Vec::new();
    for (identity, photo) in IDENTITIES {
        let path = dev.join(identity).join(photo);
        hub.enroll(identity, identity, std::slice::from_ref(&path))
            .await
            .with_context(|| format!("enrolling {identity}"))?;
        frames.push(camera_frame(&path, 640, 480)?);
    }
    Ok(frames)
}

/// Enrolls `DIR/enroll/*.png` and returns `DIR/scene_*.png` as 1920×1080 JPEG frames.
async fn classroom_frames(hub: &TestHub, dir: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let sorted = |dir: &std::path::Path, prefix: &str| -> anyhow::Result<Vec<std::path::PathBuf>> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| dir.display().to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "png")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        paths.sort();
        Ok(paths)
    };
    for path in sorted(&dir.join("enroll"), "")? {
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("student")
            .to_owned();
        hub.enroll(&name, &name, std::slice::from_ref(&path))
            .await
            .with_context(|| format!("enrolling {}", path.display()))?;
    }
    let frames: Vec<_> = sorted(dir, "scene_")?
        .iter()
        .map(|p| camera_frame(p, 1920, 1080))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!frames.is_empty(), "no scene_*.png in {}", dir.display());
    Ok(frames)
}

/// `(count, sum)` of a histogram in the Prometheus text.
fn histogram_sum(text: &str, name: &str) -> (f64, f64) {
    let value = |suffix: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}_{suffix} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (value("count"), value("sum"))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
