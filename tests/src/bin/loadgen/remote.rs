//! loadgen's scale-out mode: where its clients connect (the hub's embedded broker, or the
//! external one the hub joined) and the `cavs-hub worker` processes it starts.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use cavs_tests::TestHub;
use rumqttc::MqttOptions;

/// The broker loadgen's cameras and event subscriber use.
pub struct Broker {
    host: String,
    port: u16,
}

impl Broker {
    /// The external broker at `url`, or the hub's embedded one.
    pub fn of(hub: &TestHub, url: Option<&str>) -> anyhow::Result<Self> {
        Ok(match url {
            Some(url) => {
                let address = cavs_agent::broker::parse_broker_url(url)?;
                Broker {
                    host: address.host,
                    port: address.port,
                }
            }
            None => Broker {
                host: hub.hub.mqtt_addr.ip().to_string(),
                port: hub.hub.mqtt_addr.port(),
            },
        })
    }

    /// Options for a client of it.
    pub fn options(&self, client_id: &str, username: &str, password: &str) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        options.set_credentials(username, password);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024);
        options
    }
}

/// Starts `count` worker processes (accounts made by the hub) and waits until the hub sees
/// them all online (at most 60 s).
pub async fn start_workers(
    hub: &TestHub,
    url: Option<&str>,
    count: usize,
) -> anyhow::Result<Vec<Child>> {
    let Some(url) = url.filter(|_| count > 0) else {
        return Ok(Vec::new());
    };
    let dynsec = hub
        .hub
        .pipeline
        .dynsec()
        .context("the hub provisions no broker accounts")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dynsec.is_ready() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the hub never finished its broker set-up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let binary = std::env::current_exe()?.with_file_name("cavs-hub");
    let mut workers = Vec::new();
    for n in 1..=count {
        let id = n.to_string();
        let password = format!("loadgen-worker-{n}-password");
        dynsec.worker(&id, &password).await?;
        let child = Command::new(&binary)
            .env("RUST_LOG", "warn")
            .env("CAVS_BROKER_URL", url)
            .env(
                "CAVS_BROKER_USERNAME",
                cavs_models::protocol::worker_client_id(&id),
            )
            .env("CAVS_BROKER_PASSWORD", &password)
            .env("CAVS_DATA_DIR", std::env::temp_dir())
            .args(["worker", "--id", &id, "--threads", "1"])
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (cargo build --release -p cavs-hub)",
                    binary.display()
                )
            })?;
        workers.push(child);
    }
    let metrics = &hub.hub.pipeline.parts().metrics;
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics.workers_online.get() < count as i64 {
        anyhow::ensure!(Instant::now() < deadline, "workers never came online");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(workers)
}

/// Stops the workers (SIGKILL: loadgen is done with them).
pub fn stop_workers(workers: &mut Vec<Child>) {
    for mut worker in workers.drain(..) {
        let _ = worker.kill();
        let _ = worker.wait();
    }
}
