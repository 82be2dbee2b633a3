//! The CAVS hub: opens the store, embeds the MQTT broker, runs the recognition actors and
//! serves the REST API. The `cavs-hub` binary is a thin CLI over [`start`]; tests start the
//! hub in-process with the same function.

pub mod at_rest;
pub mod broker;
pub mod cert;
pub mod control;
pub mod enroll;
mod error;
pub mod housekeeping;
mod http;
pub mod memory;
pub mod pipeline;
pub mod secret;
pub mod tls;
pub mod web;
pub mod worker;

pub use error::HubError;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cavs_api::{ApiConfig, ApiState, FirstRunCode};
use cavs_config::HubSettings;
use cavs_models::store::Store;
use tokio::sync::oneshot;

/// How long in-flight HTTP requests get to finish on shutdown.
pub const HTTP_GRACE: Duration = Duration::from_secs(3);

pub use housekeeping::TOKEN_PURGE_EVERY;

/// A running hub. Dropping it without [`RunningHub::shutdown`] leaves it running until the
/// process (or actix system) ends.
pub struct RunningHub {
    /// Address the REST API listens on (the real port when 0 was configured).
    pub http_addr: SocketAddr,
    /// Address of the embedded MQTT broker.
    pub mqtt_addr: SocketAddr,
    /// Address of the broker's TLS listener, when TLS is configured.
    pub mqtts_addr: Option<SocketAddr>,
    /// Address the REST API serves HTTPS on (the real port when 0 was configured), when TLS
    /// is configured.
    pub https_addr: Option<SocketAddr>,
    /// The store, for tests and admin commands.
    pub store: Store,
    /// The recognition pipeline (the API's `Pipeline` implementation).
    pub pipeline: pipeline::HubPipeline,
    stop_http: Option<oneshot::Sender<()>>,
    http_done: Option<tokio::task::JoinHandle<()>>,
    /// The local admin channel (`DATA_DIR/control.sock`), while it listens.
    #[cfg(unix)]
    control: Option<control::ControlServer>,
}

impl RunningHub {
    /// Stops taking frames and requests, lets in-flight requests finish (≤ [`HTTP_GRACE`])
    /// and admitted frames be committed and acknowledged (≤
    /// [`DRAIN_GRACE`](pipeline::router::DRAIN_GRACE)), and returns. Every acknowledged write is
    /// already durable; frames not committed by then were never acknowledged, so their devices
    /// send them again.
    pub async fn shutdown(mut self) {
        #[cfg(unix)]
        drop(self.control.take());
        let drain = self.pipeline.drain();
        let http = async {
            if let Some(stop) = self.stop_http.take() {
                let _ = stop.send(());
            }
            if let Some(done) = self.http_done.take() {
                let _ = done.await;
            }
        };
        tokio::join!(drain, http);
        tracing::info!("hub stopped");
    }
}

/// Opens the database named by the settings (creating the data dir for embedded engines),
/// sealing face descriptors with the data key.
pub async fn open_store(settings: &HubSettings) -> Result<Store, HubError> {
    Ok(open_sealed_store(settings).await?.0)
}

/// [`open_store`], and the data key ring that seals face files and descriptors.
pub async fn open_sealed_store(
    settings: &HubSettings,
) -> Result<(Store, Arc<cavs_models::sealing::Sealer>), HubError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| HubError::DataDir {
        path: settings.data_dir.display().to_string(),
        source,
    })?;
    let sealer = Arc::new(at_rest::load_sealer(
        settings.data_key.as_ref(),
        &settings.data_dir,
    )?);
    let store = Store::open(&settings.database_url())
        .await?
        .with_sealer(Arc::clone(&sealer));
    Ok((store, sealer))
}

/// Starts every part of the hub. Must run inside an actix `System` (see `actix::System`).
pub async fn start(settings: HubSettings) -> Result<RunningHub, HubError> {
    let (store, sealer) = open_sealed_store(&settings).await?;
    let secret_key = secret::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;

    let tls = match settings.tls_files() {
        Some((cert, key)) => Some(tls::TlsFiles::load(cert, key)?),
        None => None,
    };
    let auth = broker::BrokerAuth::new(store.clone(), tokio::runtime::Handle::current());
    let broker = broker::start_any(&settings, auth, tls.as_ref(), &store)?;
    // At start-up an unfinished rotation is reported, not fatal: the hub reads with both keys.
    if let Err(error) = seal_at_rest(&settings.data_dir, &sealer, &store).await {
        tracing::warn!(%error, "face data not all sealed with the current key; run `cavs-hub rotate-key` again with the hub stopped");
    }
    let pipeline =
        pipeline::HubPipeline::start(&settings, store.clone(), broker, Arc::clone(&sealer)).await?;
    let metrics = Arc::clone(&pipeline.parts().metrics);
    let first_run = first_run_code(&store).await?;

    let state = ApiState {
        store: store.clone(),
        pipeline: Arc::new(pipeline.clone()),
        config: Arc::new(ApiConfig {
            secret_key,
            access_minutes: settings.jwt_access_minutes,
            refresh_minutes: settings.jwt_refresh_minutes,
            max_upload_bytes: settings.max_upload_bytes,
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
            data_dir: settings.data_dir.clone(),
            session_window: chrono::Duration::minutes(i64::from(settings.session_window_minutes)),
            sealer,
        }),
        events: pipeline.parts().events.clone(),
        first_run: first_run.0.clone(),
    };
    let frame_horizon = chrono::Duration::from_std(
        pipeline::policy::MAX_REPLAY_AGE * 2
            + Duration::from_secs(u64::from(settings.frame_clock_skew_secs)),
    )
    .unwrap_or_else(|_| chrono::Duration::days(2));
    housekeeping::spawn_token_purge(store.clone(), frame_horizon);
    let retention = housekeeping::retention_policy(&settings);
    housekeeping::spawn_retention_purge(
        store.clone(),
        Arc::clone(&state.pipeline),
        settings.data_dir.clone(),
        retention,
    );
    memory::spawn_periodic_trim();
    #[cfg(unix)]
    let control = match control::serve(
        &settings.data_dir,
        store.clone(),
        Arc::clone(&state.pipeline),
        first_run.0.clone(),
        retention,
        pipeline.dynsec(),
    ) {
        Ok(server) => Some(server),
        Err(error) => {
            tracing::warn!(%error, "local admin channel not available: `cavs-hub user create`, `enroll` and `migrate` need the hub stopped");
            None
        }
    };
    let https = tls.map(|files| (settings.https_addr, files));
    let served = http::serve(settings.http_addr, https, state, metrics).await?;
    let mqtts_addr = served.https_addr.map(|_| settings.mqtts_addr);
    tracing::info!(http_addr = %served.http_addr, https_addr = ?served.https_addr, mqtt_addr = %settings.mqtt_addr, ?mqtts_addr, "hub ready");
    if let Some(code) = &first_run.1 {
        tracing::warn!(
            "no account yet: open http://{}/ and create the first admin with the one-time set-up code {code} (or run `cavs-hub user create --role admin`)",
            served.http_addr
        );
    }
    Ok(RunningHub {
        http_addr: served.http_addr,
        https_addr: served.https_addr,
        mqtts_addr,
        mqtt_addr: settings.mqtt_addr,
        store,
        pipeline,
        stop_http: Some(served.stop),
        http_done: Some(served.done),
        #[cfg(unix)]
        control,
    })
}

/// Seals the face files and descriptors written before encryption at rest (or under an
/// earlier key), then finishes an interrupted rotation; logged when there was anything to do.
/// Also the body of `cavs-hub rotate-key`, after [`at_rest::begin_rotation`].
pub async fn seal_at_rest(
    data_dir: &std::path::Path,
    sealer: &Arc<cavs_models::sealing::Sealer>,
    store: &Store,
) -> Result<(at_rest::SealPass, u64), HubError> {
    let (dir, ring) = (data_dir.to_path_buf(), Arc::clone(sealer));
    let pass = tokio::task::spawn_blocking(move || at_rest::seal_all(&dir, &ring))
        .await
        .map_err(|e| HubError::Thread(std::io::Error::other(e)))?;
    let descriptors = store.seal_descriptors().await?;
    let finished = at_rest::finish_rotation(data_dir, &pass)?;
    if pass.sealed + pass.resealed + pass.failed + descriptors > 0 || finished {
        tracing::info!(sealed = pass.sealed, resealed = pass.resealed, failed = pass.failed, descriptors, rotation_finished = finished, key = %sealer.key_id(), "face data sealed at rest");
    }
    Ok((pass, descriptors))
}

/// The first-run page's one-time code and, when one was made (the store has no account),
/// the code itself to print.
async fn first_run_code(store: &Store) -> Result<(FirstRunCode, Option<String>), HubError> {
    if store.users().count().await? > 0 {
        return Ok((FirstRunCode::none(), None));
    }
    let (code, text) = FirstRunCode::generate();
    Ok((code, Some(text)))
}
