//! The running hub's side of the local channel.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cavs_api::{FirstRunCode, Pipeline};
use cavs_models::retention::RetentionPolicy;
use cavs_models::store::Store;
use cavs_models::{NewUser, Role};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::client::socket_path;
use super::protocol::{ControlReply, ControlRequest, MAX_REQUEST_BYTES};

/// What the commands act on.
#[derive(Clone)]
struct Hub {
    store: Store,
    pipeline: Arc<dyn Pipeline>,
    first_run: FirstRunCode,
    data_dir: PathBuf,
    retention: RetentionPolicy,
    dynsec: Option<crate::broker::dynsec::Dynsec>,
}

/// The listening channel; dropping it stops listening and removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on `DATA_DIR/control.sock` (a stale file from a killed hub is replaced; the
/// database lock already guarantees one hub per data dir).
pub fn serve(
    data_dir: &Path,
    store: Store,
    pipeline: Arc<dyn Pipeline>,
    first_run: FirstRunCode,
    retention: RetentionPolicy,
    dynsec: Option<crate::broker::dynsec::Dynsec>,
) -> std::io::Result<ControlServer> {
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let hub = Hub {
        store,
        pipeline,
        first_run,
        data_dir: data_dir.to_path_buf(),
        retention,
        dynsec,
    };
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let hub = hub.clone();
                    tokio::spawn(async move {
                        if let Err(error) = answer(stream, &hub).await {
                            tracing::warn!(%error, "admin command over the local channel failed");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "local admin channel: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(ControlServer { path, task })
}

/// Reads one request line (bounded), runs it and writes the reply line.
async fn answer(stream: UnixStream, hub: &Hub) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_REQUEST_BYTES as u64))
        .read_line(&mut line)
        .await?;
    let reply = match serde_json::from_str::<ControlRequest>(&line) {
        Ok(request) => run(hub, request).await,
        Err(error) => ControlReply {
            ok: false,
            message: format!("not a command this hub knows: {error}"),
        },
    };
    let mut bytes = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

async fn run(hub: &Hub, request: ControlRequest) -> ControlReply {
    let outcome: Result<String, String> = match request {
        ControlRequest::CreateUser {
            username,
            password,
            role,
            classrooms,
        } => match Role::parse(&role) {
            None => Err(format!("role must be admin or teacher, not `{role}`")),
            Some(role) => {
                let user = NewUser {
                    username,
                    password,
                    role,
                    classrooms,
                };
                super::create_user(&hub.store, user)
                    .await
                    .map(|(user, line)| {
                        hub.first_run.clear();
                        tracing::info!(user = %user.username, role = user.role.as_str(), "user created by the admin command");
                        line
                    })
                    .map_err(|e| e.to_string())
            }
        },
        ControlRequest::Enroll { dir } => cavs_api::enroll::enroll_directory(
            &hub.store,
            hub.pipeline.as_ref(),
            Path::new(&dir),
            false,
        )
        .await
        .map(|summary| summary.to_string())
        .map_err(|e| e.to_string()),
        ControlRequest::Migrate => hub
            .store
            .migrate()
            .await
            .map(|version| format!("schema version {version} (applied by the running hub)"))
            .map_err(|e| e.to_string()),
        ControlRequest::Purge { dry_run } => {
            crate::housekeeping::run_retention_purge(
                &hub.store,
                hub.pipeline.as_ref(),
                &hub.data_dir,
                &hub.retention,
                dry_run,
            )
            .await
        }
        ControlRequest::BrokerSync => match &hub.dynsec {
            Some(dynsec) => crate::broker::admin::sync(dynsec).await,
            None => Err(crate::broker::admin::NO_DYNSEC.to_owned()),
        },
        ControlRequest::AddWorker { id } => match &hub.dynsec {
            Some(dynsec) => crate::broker::admin::add_worker(dynsec, &id).await,
            None => Err(crate::broker::admin::NO_DYNSEC.to_owned()),
        },
    };
    match outcome {
        Ok(message) => ControlReply { ok: true, message },
        Err(message) => ControlReply { ok: false, message },
    }
}
