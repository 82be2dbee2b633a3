//! Keeps an external Mosquitto's accounts in step with the hub's database through its
//! dynamic-security plugin: JSON command batches on `$CONTROL/dynamic-security/v1`, replies on
//! `.../response` matched by `correlationData`. What to send is decided in
//! [`super::dynsec_plan`]; this module sends it over the hub's client and reads the store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cavs_models::store::Store;
use cavs_models::{Device, DeviceStatus, PageRequest, User};
use rumqttc::{AsyncClient, QoS};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::dynsec_plan::{self, Account};

/// Where the hub sends dynamic-security commands.
pub const DYNSEC_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// Where the broker answers them.
pub const DYNSEC_RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";
/// How long a command batch may wait for its reply before it is sent again.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(4);
/// Times a batch is sent before giving up (a reply is lost when the hub's own session is
/// replaced meanwhile; every batch the hub sends can be applied twice).
const ATTEMPTS: usize = 3;
/// Command batches waiting for replies, at most (more are refused, not queued).
const MAX_PENDING: usize = 256;

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum DynsecError {
    /// No reply in time (is the hub's account allowed `$CONTROL/dynamic-security/#`?).
    #[error(
        "dynamic security did not answer within {0:?}: is the plugin loaded and the hub's account given its admin role?"
    )]
    Timeout(Duration),
    /// The broker refused a command.
    #[error("{command} refused by the broker: {error}")]
    Refused {
        /// The command.
        command: String,
        /// The broker's error text.
        error: String,
    },
    /// The command could not be handed to the client.
    #[error("could not send to the broker: {0}")]
    Send(#[from] rumqttc::ClientError),
    /// Too many batches wait for replies.
    #[error("too many dynamic-security commands waiting for replies")]
    Busy,
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] cavs_models::store::StoreError),
}

/// What `broker sync` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Accounts created or brought up to date.
    pub ensured: usize,
    /// Accounts removed (deactivated or deleted in the database, or unknown to it).
    pub revoked: usize,
}

/// The dynamic-security client. Cheap to clone.
#[derive(Clone)]
pub struct Dynsec {
    client: AsyncClient,
    store: Store,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>,
    next_batch: Arc<AtomicU64>,
    /// Digests of (username, password) set this run: a login with an unchanged password does
    /// not set it again (which would end the person's live MQTT session).
    passwords_set: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// The hub's own broker username.
    hub_username: String,
    /// Set once the hub's account has its role and the broker was reconciled.
    ready: Arc<std::sync::atomic::AtomicBool>,
}

fn password_digest(username: &str, password: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(username.as_bytes());
    hash.update([0]);
    hash.update(password.as_bytes());
    hash.finalize().into()
}

impl Dynsec {
    /// A client sending through `client` (whose event loop passes replies to
    /// [`Dynsec::on_response`]).
    pub fn new(client: AsyncClient, store: Store, hub_username: String) -> Self {
        Dynsec {
            client,
            store,
            hub_username,
            ready: Arc::default(),
            pending: Arc::default(),
            next_batch: Arc::new(AtomicU64::new(1)),
            passwords_set: Arc::default(),
        }
    }

    /// Sends one batch and returns the broker's responses, in order (sent again, up to
    /// [`ATTEMPTS`] times, when no reply comes).
    pub async fn run(&self, commands: Vec<Value>) -> Result<Vec<Value>, DynsecError> {
        let mut last = DynsecError::Timeout(REPLY_TIMEOUT);
        for _ in 0..ATTEMPTS {
            match self.run_once(commands.clone()).await {
                Err(DynsecError::Timeout(waited)) => last = DynsecError::Timeout(waited),
                other => return other,
            }
        }
        Err(last)
    }

    async fn run_once(&self, mut commands: Vec<Value>) -> Result<Vec<Value>, DynsecError> {
        let batch = self.next_batch.fetch_add(1, Ordering::Relaxed);
        for (i, command) in commands.iter_mut().enumerate() {
            command["correlationData"] = json!(format!("cavs-{batch}-{i}"));
        }
        let (reply, replied) = oneshot::channel();
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.len() >= MAX_PENDING {
                return Err(DynsecError::Busy);
            }
            pending.insert(batch, reply);
        }
        let payload = json!({"commands": commands}).to_string();
        if let Err(error) = self
            .client
            .publish(DYNSEC_TOPIC, QoS::AtLeastOnce, false, payload)
            .await
        {
            self.forget(batch);
            return Err(error.into());
        }
        match tokio::time::timeout(REPLY_TIMEOUT, replied).await {
            Ok(Ok(responses)) => Ok(responses),
            _ => {
                self.forget(batch);
                Err(DynsecError::Timeout(REPLY_TIMEOUT))
            }
        }
    }

    fn forget(&self, batch: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&batch);
    }

    /// Sends `commands`; fails on the first error that is not an expected one.
    pub async fn apply(&self, commands: Vec<Value>) -> Result<Vec<Value>, DynsecError> {
        let responses = self.run(commands).await?;
        for response in &responses {
            let command = response["command"].as_str().unwrap_or_default();
            if let Some(error) = response["error"].as_str()
                && !dynsec_plan::is_expected_error(command, error)
            {
                return Err(DynsecError::Refused {
                    command: command.to_owned(),
                    error: error.to_owned(),
                });
            }
        }
        Ok(responses)
    }

    /// True once the hub's account has its service role and the broker's accounts were
    /// reconciled with the database (after the hub's first connection).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the start-up bootstrap done.
    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// A reply from the broker (the payload of [`DYNSEC_RESPONSE_TOPIC`]).
    pub fn on_response(&self, payload: &[u8]) {
        let Ok(reply) = serde_json::from_slice::<Value>(payload) else {
            tracing::warn!("unreadable dynamic-security reply ignored");
            return;
        };
        let responses = reply["responses"].as_array().cloned().unwrap_or_default();
        let batch = responses.first().and_then(|r| {
            r["correlationData"]
                .as_str()?
                .strip_prefix("cavs-")?
                .split('-')
                .next()?
                .parse::<u64>()
                .ok()
        });
        let Some(batch) = batch else {
            return;
        };
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&batch);
        if let Some(waiter) = waiter {
            let _ = waiter.send(responses);
        }
    }

    /// Makes the broker hold `account`: role and ACLs always, then only what differs on an
    /// existing client (a `modifyClient` or `setClientPassword` ends its live session).
    async fn ensure(&self, account: &Account, password: Option<&str>) -> Result<(), DynsecError> {
        let responses = self.apply(dynsec_plan::ensure(account, password)).await?;
        let existed = responses
            .iter()
            .any(|r| r["command"] == "createClient" && r["error"].is_string());
        if !existed {
            return Ok(());
        }
        let client = self.client_of(&account.username).await?;
        let is_hub = account.role == dynsec_plan::HUB_ROLE;
        // The hub's account keeps the broker's `admin` role; every other account holds only
        // its own role.
        let keep = |role: &str| is_hub && role == "admin";
        let mut fix = Vec::new();
        fix.extend(dynsec_plan::client_fix(account, &client, &keep));
        fix.extend(password.map(|p| dynsec_plan::set_password(account, p)));
        if !fix.is_empty() {
            self.apply(fix).await?;
        }
        Ok(())
    }

    /// The broker's `getClient` answer for `username` (its client id and roles).
    async fn client_of(&self, username: &str) -> Result<Value, DynsecError> {
        let got = self.apply(vec![dynsec_plan::get_client(username)]).await?;
        Ok(got
            .first()
            .map(|r| r["data"]["client"].clone())
            .unwrap_or_default())
    }

    /// Gives the hub's own account its service role (ACLs brought up to date every time) and
    /// pins it to the client id `cavs-hub`. The first time, that `modifyClient` ends the
    /// hub's own session (its reply never comes): `Ok(false)` then, and the hub bootstraps
    /// again once it is back. `Ok(true)`: the account is ready.
    pub async fn bootstrap(&self) -> Result<bool, DynsecError> {
        let account = dynsec_plan::hub_account(&self.hub_username);
        self.apply(dynsec_plan::ensure(&account, None)).await?;
        let client = self.client_of(&account.username).await?;
        let Some(fix) = dynsec_plan::client_fix(&account, &client, &|role| role == "admin") else {
            return Ok(true);
        };
        tracing::info!(
            username = account.username,
            "giving the hub's broker account its service role and pinned client id; it reconnects"
        );
        let payload = json!({"commands": [fix]}).to_string();
        self.client
            .publish(DYNSEC_TOPIC, QoS::AtLeastOnce, false, payload)
            .await?;
        Ok(false)
    }

    async fn revoke(&self, username: &str, role: &str) -> Result<(), DynsecError> {
        self.apply(dynsec_plan::revoke(username, role)).await?;
        Ok(())
    }

    /// Device id → classroom of every registered device.
    async fn device_rooms(&self) -> Result<HashMap<String, String>, DynsecError> {
        Ok(self
            .store
            .devices()
            .all()
            .await?
            .into_iter()
            .map(|d| (d.device_id, d.classroom_id))
            .collect())
    }

    /// Brings a device's account up to date: an active device gets its role (with
    /// `password`, the secret just issued: set, ending the old one's session) and is enabled;
    /// an inactive one is disabled (its session ends at once, its secret works again when it
    /// is reactivated); a deleted one (`None`) loses its account.
    pub async fn device(
        &self,
        device_id: &str,
        device: Option<&Device>,
        password: Option<&str>,
    ) -> Result<(), DynsecError> {
        match device {
            Some(d) if d.status == DeviceStatus::Active => {
                let account = dynsec_plan::device_account(&d.device_id, &d.classroom_id);
                self.ensure(&account, password).await?;
                self.apply(vec![dynsec_plan::set_enabled(&account.username, true)])
                    .await?;
                Ok(())
            }
            Some(d) => {
                self.apply(vec![dynsec_plan::set_enabled(&d.device_id, false)])
                    .await?;
                Ok(())
            }
            None => {
                let account = dynsec_plan::device_account(device_id, "-");
                self.revoke(&account.username, &account.role).await
            }
        }
    }

    /// Brings a person's account up to date (with `password` when it was just set or
    /// verified); a deactivated or deleted account loses its broker account at once.
    pub async fn person(&self, username: &str, password: Option<&str>) -> Result<(), DynsecError> {
        let user = match self.store.users().by_username(username).await {
            Ok(user) if user.active => user,
            Ok(_) => {
                self.apply(vec![dynsec_plan::set_enabled(username, false)])
                    .await?;
                return Ok(());
            }
            Err(cavs_models::store::StoreError::NotFound { .. }) => {
                let account = dynsec_plan::person_account(
                    username,
                    cavs_models::Role::Teacher,
                    &[],
                    &HashMap::new(),
                );
                return self.revoke(&account.username, &account.role).await;
            }
            Err(error) => return Err(error.into()),
        };
        let password = password.filter(|p| {
            self.passwords_set
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(password_digest(username, p))
        });
        let rooms = self.device_rooms().await?;
        self.ensure(&person_of(&user, &rooms), password).await?;
        self.apply(vec![dynsec_plan::set_enabled(username, true)])
            .await?;
        Ok(())
    }

    /// Every teacher's role again (devices moved, were added or removed).
    pub async fn teachers(&self) -> Result<(), DynsecError> {
        let rooms = self.device_rooms().await?;
        for user in self.all_users().await? {
            if user.active && user.role == cavs_models::Role::Teacher {
                self.ensure(&person_of(&user, &rooms), None).await?;
            }
        }
        Ok(())
    }

    async fn all_users(&self) -> Result<Vec<User>, DynsecError> {
        let mut users = Vec::new();
        for page in 1.. {
            let batch = self
                .store
                .users()
                .list(&PageRequest {
                    page,
                    page_size: 500,
                })
                .await?;
            let done = batch.items.len() < 500;
            users.extend(batch.items);
            if done {
                break;
            }
        }
        Ok(users)
    }

    /// A worker's account with a new password.
    pub async fn worker(&self, worker_id: &str, password: &str) -> Result<(), DynsecError> {
        self.ensure(&dynsec_plan::worker_account(worker_id), Some(password))
            .await
    }

    /// Reconciles the broker with the database: every device and person gets their account
    /// and role, enabled when active and disabled otherwise (passwords are not known here and
    /// are left as they are: an account created now gets one when its device's credentials
    /// are issued or its person signs in); every other managed account is removed. Worker
    /// accounts (`cavs-hub-worker-*`) are kept.
    pub async fn sync(&self) -> Result<SyncReport, DynsecError> {
        let mut report = SyncReport::default();
        let devices = self.store.devices().all().await?;
        let rooms: HashMap<String, String> = devices
            .iter()
            .map(|d| (d.device_id.clone(), d.classroom_id.clone()))
            .collect();
        let mut wanted = Vec::new();
        for device in &devices {
            let account = dynsec_plan::device_account(&device.device_id, &device.classroom_id);
            let active = device.status == DeviceStatus::Active;
            self.ensure(&account, None).await?;
            self.apply(vec![dynsec_plan::set_enabled(&account.username, active)])
                .await?;
            wanted.push(account.username);
            report.ensured += 1;
        }
        for user in &self.all_users().await? {
            let account = person_of(user, &rooms);
            self.ensure(&account, None).await?;
            self.apply(vec![dynsec_plan::set_enabled(
                &account.username,
                user.active,
            )])
            .await?;
            wanted.push(account.username);
            report.ensured += 1;
        }
        let listed = self
            .apply(vec![
                json!({"command": "listClients", "verbose": true, "count": -1}),
            ])
            .await?;
        let listed = listed
            .first()
            .map(|r| r["data"].clone())
            .unwrap_or_default();
        for (username, roles) in dynsec_plan::unwanted(&listed, &wanted) {
            if username.starts_with(cavs_models::protocol::WORKER_CLIENT_PREFIX) {
                continue;
            }
            let mut commands = vec![json!({"command": "deleteClient", "username": username})];
            commands.extend(
                roles
                    .iter()
                    .map(|role| json!({"command": "deleteRole", "rolename": role})),
            );
            self.apply(commands).await?;
            report.revoked += 1;
        }
        Ok(report)
    }
}

fn person_of(user: &User, rooms: &HashMap<String, String>) -> Account {
    dynsec_plan::person_account(&user.username, user.role, &user.classrooms, rooms)
}
