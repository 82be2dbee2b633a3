//! `cavs-agent`: the classroom camera agent.
//!
//! `cavs-agent run --config FILE` captures and publishes until stopped (SIGTERM or Ctrl-C);
//! `cavs-agent send IMAGE...` publishes the given images once and exits.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cavs_config::{AgentSettings, Sources};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Classroom camera agent of CAVS: captures frames and publishes them signed over MQTT.
#[derive(Debug, Parser)]
#[command(name = "cavs-agent", version, about)]
struct Cli {
    /// Settings file (TOML); `.env` and `CAVS_*` environment variables override it.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture and publish until stopped (SIGTERM or Ctrl-C).
    Run,
    /// Publish the given images once as signed frames, wait for the broker's acknowledgements and
    /// exit (no spool, no status change).
    Send {
        /// Seconds to wait for the broker before giving up.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// JPEG or PNG files.
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let settings: AgentSettings = cavs_config::load(&Sources::from_process(cli.config.clone()))
        .context("loading the agent settings")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run => {
                cavs_agent::run(settings, shutdown_signal()).await?;
            }
            Command::Send { timeout, images } => {
                let sent =
                    cavs_agent::send_images(&settings, &images, Duration::from_secs(timeout))
                        .await?;
                tracing::info!(frames = sent, "all frames acknowledged by the broker");
            }
        }
        Ok(())
    })
}

/// Completes on SIGTERM (systemd stop) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("stopping");
}
