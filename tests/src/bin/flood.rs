//! `flood`: the hub (in this process, default settings) while one camera floods its frame topic
//! with 8 MiB junk publishes and another sends one real frame a second; prints what was
//! recorded and the process's peak RSS.
//!
//! `cargo run --release -p cavs-tests --bin flood -- --seconds 60`

use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// How long the flood lasts.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Size of each junk publish.
    #[arg(long, default_value_t = 8 * 1024 * 1024 - 4096)]
    bytes: usize,
}

const SECRET: &str = "flood-bench-secret";

#[actix::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let hub = cavs_tests::TestHub::start(|s| {
        s.device_max_fps = cavs_config::HubSettings::default().device_max_fps;
    })
    .await?;
    hub.register_device("cam-good", "room-good", SECRET).await?;
    hub.register_device("cam-junk", "room-junk", SECRET).await?;
    hub.wait_for_broker().await;
    let report =
        cavs_tests::flood::flood(&hub, SECRET, Duration::from_secs(args.seconds), args.bytes)
            .await?;
    println!(
        "junk: {} publishes of {} MiB ({} GiB) in {} s; good: {} sent, {} recorded; junk read and dropped (malformed/oversize/bridge_full): {}; RSS {} MiB before, peak {} MiB",
        report.junk_sent,
        report.junk_bytes as f64 / (1 << 20) as f64,
        (report.junk_sent as f64 * report.junk_bytes as f64 / (1u64 << 30) as f64 * 10.0).round()
            / 10.0,
        args.seconds,
        report.good_sent,
        report.committed,
        report.junk_dropped,
        report.start_rss_kib / 1024,
        report.peak_rss_kib / 1024,
    );
    hub.hub.shutdown().await;
    Ok(())
}
