//! Who may connect: devices (username = client id = device id, password = device secret) and
//! people (an active admin or teacher account with a client id in its `user:{username}`
//! namespace, to watch status and event topics). Each accepted identity is recorded in
//! [`Identities`] for the topic ACL.

use std::sync::Arc;
use std::time::Instant;

use cavs_models::DeviceStatus;
use cavs_models::store::{Store, verify_secret_bounded};
use cavs_models::throttle::LoginGuard;

use super::acl::{Identity, is_person_client_id, is_reserved_client_id};
use super::identities::Identities;

/// The broker's authentication handler. Runs the checks on the hub's runtime (the broker's
/// listener threads have their own), so a slow check never stalls the broker.
#[derive(Clone)]
pub struct BrokerAuth {
    store: Store,
    runtime: tokio::runtime::Handle,
    identities: Identities,
    /// Failed CONNECTs by username and by client address.
    guard: Arc<LoginGuard>,
}

impl BrokerAuth {
    /// A handler checking against `store` on `runtime`.
    pub fn new(store: Store, runtime: tokio::runtime::Handle) -> Self {
        BrokerAuth {
            store,
            runtime,
            identities: Identities::default(),
            guard: Arc::new(LoginGuard::default()),
        }
    }

    /// The identities this handler records, for the broker's authorization hook.
    pub fn identities(&self) -> Identities {
        self.identities.clone()
    }

    /// True when the client (connecting from `peer`, when known) may connect.
    pub async fn check(
        &self,
        client_id: String,
        username: String,
        password: String,
        peer: Option<std::net::IpAddr>,
    ) -> bool {
        let address = peer.map(|ip| ip.to_string());
        if is_reserved_client_id(&client_id) {
            tracing::warn!(
                client_id,
                username,
                "MQTT connect refused: client id reserved for the hub"
            );
            return false;
        }
        if let Err(retry_after) = self
            .guard
            .check(&username, address.as_deref(), Instant::now())
        {
            tracing::warn!(
                client_id,
                username,
                address,
                retry_after_secs = retry_after.as_secs(),
                "MQTT connect refused: too many failed attempts"
            );
            return false;
        }
        let store = self.store.clone();
        let name = username.clone();
        let id = client_id.clone();
        let task = self
            .runtime
            .spawn(async move { decide(&store, &client_id, &username, &password).await });
        match task.await {
            Ok(Some(identity)) => {
                self.guard.succeeded(&name);
                self.identities.insert(&id, &name, identity);
                true
            }
            _ => {
                self.guard.failed(&name, address.as_deref(), Instant::now());
                false
            }
        }
    }
}

/// The identity of an accepted client, `None` when refused.
async fn decide(
    store: &Store,
    client_id: &str,
    username: &str,
    password: &str,
) -> Option<Identity> {
    match store.devices().credentials(username).await {
        Ok(Some(device)) => {
            let Some(hash) = device.secret_hash else {
                tracing::warn!(
                    device_id = username,
                    "MQTT connect refused: no credentials issued"
                );
                return None;
            };
            if device.status != DeviceStatus::Active {
                tracing::warn!(
                    device_id = username,
                    status = device.status.as_str(),
                    "MQTT connect refused: device not active"
                );
                return None;
            }
            if client_id != username {
                tracing::warn!(
                    device_id = username,
                    client_id,
                    "MQTT connect refused: client id must equal the device id"
                );
                return None;
            }
            let ok = verify_secret_bounded(hash, password.to_owned()).await;
            if !ok {
                tracing::warn!(
                    device_id = username,
                    "MQTT connect refused: wrong device secret"
                );
                return None;
            }
            Some(Identity::Device {
                classroom_id: device.classroom_id,
            })
        }
        Ok(None) => {
            if !is_person_client_id(client_id, username) {
                tracing::warn!(
                    username,
                    client_id,
                    "MQTT connect refused: a person's client id must be user:{{username}}[:suffix]"
                );
                return None;
            }
            match store.users().verify_login(username, password).await {
                Ok(Some(user)) => {
                    tracing::info!(
                        username,
                        role = user.role.as_str(),
                        client_id,
                        "MQTT watcher connected"
                    );
                    Some(Identity::Person {
                        role: user.role,
                        classrooms: user.classrooms,
                    })
                }
                Ok(None) => {
                    tracing::warn!(
                        username,
                        client_id,
                        "MQTT connect refused: unknown device or user"
                    );
                    None
                }
                Err(error) => {
                    tracing::error!(%error, username, "MQTT auth: store error");
                    None
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, device_id = username, "MQTT auth: store error");
            None
        }
    }
}
