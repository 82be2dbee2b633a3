//! The scale-out commands of `cavs-hub`: `worker` (a recognition worker process) and
//! `broker sync` / `broker add-worker` (the external broker's accounts).

use anyhow::Context;
use cavs_config::HubSettings;
use cavs_hub::control::ControlRequest;
use cavs_hub::worker::{WorkerOptions, run};
use clap::Subcommand;

/// `cavs-hub broker ...`.
#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// Reconcile the external broker's accounts and roles with the database: every device and
    /// person gets theirs (enabled when active), every other account the hub manages goes.
    Sync,
    /// Create (or rotate) the broker account of recognition worker ID; prints its password once.
    AddWorker {
        /// The worker's id (as given to `cavs-hub worker --id`).
        #[arg(long)]
        id: String,
    },
}

/// Runs a broker command in the running hub, or against the store and broker itself.
pub async fn broker(
    settings: &HubSettings,
    command: BrokerCommand,
    through_running_hub: impl AsyncFnOnce(&ControlRequest) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let request = match &command {
        BrokerCommand::Sync => ControlRequest::BrokerSync,
        BrokerCommand::AddWorker { id } => ControlRequest::AddWorker { id: id.clone() },
    };
    if through_running_hub(&request).await? {
        return Ok(());
    }
    if settings.broker != cavs_config::BrokerMode::External
        || settings.broker_provisioning != cavs_config::BrokerProvisioning::Dynsec
    {
        anyhow::bail!(cavs_hub::broker::admin::NO_DYNSEC);
    }
    let store = cavs_hub::open_store(settings).await?;
    let (dynsec, task) = cavs_hub::broker::admin::standalone(settings, store)
        .await
        .context("connecting to the external broker")?;
    let outcome = match command {
        BrokerCommand::Sync => cavs_hub::broker::admin::sync(&dynsec).await,
        BrokerCommand::AddWorker { id } => cavs_hub::broker::admin::add_worker(&dynsec, &id).await,
    };
    task.abort();
    println!("{}", outcome.map_err(anyhow::Error::msg)?);
    Ok(())
}

/// `cavs-hub worker`: runs until SIGINT or SIGTERM.
pub async fn worker(settings: &HubSettings, options: WorkerOptions) -> anyhow::Result<()> {
    let stats = run(settings, options, async {
        if let Err(error) = crate::cli::wait_for_signal().await {
            tracing::error!(%error, "no signal handler: the worker runs until killed");
            std::future::pending::<()>().await;
        }
    })
    .await?;
    println!(
        "worker stopped: {} frame(s) recognised, {} refused",
        stats.frames, stats.refused
    );
    Ok(())
}
