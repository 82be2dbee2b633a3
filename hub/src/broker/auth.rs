//! Who may connect: devices (username = client id = device id, password = device secret) and
//! people (an active admin or teacher account, to watch status and event topics).

use cavs_models::DeviceStatus;
use cavs_models::store::{Store, verify_secret};

/// The broker's authentication handler. Runs the checks on the hub's runtime (the broker's
/// listener threads have their own), so a slow check never stalls the broker.
#[derive(Clone)]
pub struct BrokerAuth {
    store: Store,
    runtime: tokio::runtime::Handle,
}

impl BrokerAuth {
    /// A handler checking against `store` on `runtime`.
    pub fn new(store: Store, runtime: tokio::runtime::Handle) -> Self {
        BrokerAuth { store, runtime }
    }

    /// True when the client may connect.
    pub async fn check(&self, client_id: String, username: String, password: String) -> bool {
        let store = self.store.clone();
        let task = self
            .runtime
            .spawn(async move { decide(&store, &client_id, &username, &password).await });
        task.await.unwrap_or(false)
    }
}

async fn decide(store: &Store, client_id: &str, username: &str, password: &str) -> bool {
    match store.devices().credentials(username).await {
        Ok(Some(device)) => {
            let Some(hash) = device.secret_hash else {
                tracing::warn!(
                    device_id = username,
                    "MQTT connect refused: no credentials issued"
                );
                return false;
            };
            if device.status != DeviceStatus::Active {
                tracing::warn!(
                    device_id = username,
                    status = device.status.as_str(),
                    "MQTT connect refused: device not active"
                );
                return false;
            }
            if client_id != username {
                tracing::warn!(
                    device_id = username,
                    client_id,
                    "MQTT connect refused: client id must equal the device id"
                );
                return false;
            }
            let password = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || verify_secret(&hash, &password))
                .await
                .unwrap_or(false);
            if !ok {
                tracing::warn!(
                    device_id = username,
                    "MQTT connect refused: wrong device secret"
                );
            }
            ok
        }
        Ok(None) => match store.users().verify_login(username, password).await {
            Ok(Some(user)) => {
                tracing::info!(
                    username,
                    role = user.role.as_str(),
                    client_id,
                    "MQTT watcher connected"
                );
                true
            }
            Ok(None) => {
                tracing::warn!(
                    username,
                    client_id,
                    "MQTT connect refused: unknown device or user"
                );
                false
            }
            Err(error) => {
                tracing::error!(%error, username, "MQTT auth: store error");
                false
            }
        },
        Err(error) => {
            tracing::error!(%error, device_id = username, "MQTT auth: store error");
            false
        }
    }
}
