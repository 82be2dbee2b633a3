//! The hub's periodic housekeeping: spent refresh tokens and old frame markers every hour, the
//! retention schedule every day.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cavs_api::Pipeline;
use cavs_config::HubSettings;
use cavs_models::Actor;
use cavs_models::retention::RetentionPolicy;
use cavs_models::store::Store;

/// How often expired and revoked refresh tokens are deleted.
pub const TOKEN_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How often the retention schedule is applied (also once at start-up).
pub const RETENTION_PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The retention schedule the settings give.
pub fn retention_policy(settings: &HubSettings) -> RetentionPolicy {
    RetentionPolicy {
        crop_days: settings.crop_retention_days,
        record_days: settings.record_retention_days,
        embedding_days: settings.embedding_retention_days,
    }
}

/// Deletes expired and revoked refresh tokens, and the markers of frames too old to be sent
/// again, now and every [`TOKEN_PURGE_EVERY`].
pub(crate) fn spawn_token_purge(store: Store, frame_horizon: chrono::Duration) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TOKEN_PURGE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match store.tokens().purge().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "expired and revoked refresh tokens purged"),
                Err(error) => tracing::warn!(%error, "refresh token purge failed"),
            }
            match store
                .frames()
                .purge_before(chrono::Utc::now() - frame_horizon)
                .await
            {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "old frame markers purged"),
                Err(error) => tracing::warn!(%error, "frame marker purge failed"),
            }
        }
    });
}

/// Applies `policy` now and every [`RETENTION_PURGE_EVERY`] (audited as the system), deleting
/// the files it names under `data_dir` and reloading the gallery when enrolled faces expired.
pub(crate) fn spawn_retention_purge(
    store: Store,
    pipeline: Arc<dyn Pipeline>,
    data_dir: PathBuf,
    policy: RetentionPolicy,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RETENTION_PURGE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // The outcome is logged inside; the next day's purge tries again.
            let _ = run_retention_purge(&store, pipeline.as_ref(), &data_dir, &policy, false).await;
        }
    });
}

/// One retention purge as the system (or a dry run); answers its summary line, or the error.
pub async fn run_retention_purge(
    store: &Store,
    pipeline: &dyn Pipeline,
    data_dir: &std::path::Path,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<String, String> {
    match cavs_api::retention::purge(
        store,
        data_dir,
        policy,
        chrono::Utc::now(),
        dry_run,
        &Actor::System,
    )
    .await
    {
        Ok(summary) => {
            if summary.purge.faces_deleted > 0 {
                pipeline.gallery_changed().await;
            }
            if !summary.purge.is_empty() {
                tracing::info!("{summary}");
            }
            Ok(summary.to_string())
        }
        Err(error) => {
            tracing::warn!(%error, "retention purge failed");
            Err(error.to_string())
        }
    }
}
