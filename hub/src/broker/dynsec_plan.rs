//! What the external broker must hold for each account, as Mosquitto dynamic-security commands:
//! pure functions, unit-tested; [`super::dynsec`] sends them.
//!
//! Every account gets its own role (`cavs-device-{id}`, `cavs-person-{username}`,
//! `cavs-worker-{id}`) holding exactly the topics of the embedded broker's ACL ([`super::acl`]),
//! and a client pinned to one client id (the device id, `user:{username}`, or
//! `cavs-hub-worker-{id}`), so no account can take over another's id. Roles and clients the hub
//! manages carry the text name [`MANAGED`], which `cavs-hub broker sync` uses to find the ones
//! to delete.

use std::collections::HashMap;

use cavs_models::Role;
use cavs_models::protocol::{
    TOPIC_ROOT, Topic, WORKER_FRAMES_FILTER, worker_client_id, worker_results_topic,
    worker_status_topic,
};
use serde_json::{Value, json};

use super::acl::PERSON_CLIENT_PREFIX;

/// Text name of every client and role the hub manages.
pub const MANAGED: &str = "cavs-managed";

/// One ACL entry of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// `publishClientSend`, `subscribeLiteral` or `subscribePattern`.
    pub acltype: &'static str,
    /// The topic or filter.
    pub topic: String,
    /// Allowed.
    pub allow: bool,
}

impl Acl {
    fn publish(topic: impl ToString) -> Self {
        Acl {
            acltype: "publishClientSend",
            topic: topic.to_string(),
            allow: true,
        }
    }

    fn subscribe(topic: impl ToString) -> Self {
        Acl {
            acltype: "subscribeLiteral",
            topic: topic.to_string(),
            allow: true,
        }
    }

    fn subscribe_pattern(topic: impl ToString) -> Self {
        Acl {
            acltype: "subscribePattern",
            topic: topic.to_string(),
            allow: true,
        }
    }

    fn to_json(&self) -> Value {
        json!({"acltype": self.acltype, "topic": self.topic, "priority": 0, "allow": self.allow})
    }
}

/// A broker account as the hub wants it: username, pinned client id, its role's ACLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Broker username.
    pub username: String,
    /// The only client id it may connect with.
    pub client_id: String,
    /// Name of its own role.
    pub role: String,
    /// The role's ACLs.
    pub acls: Vec<Acl>,
}

/// A camera: publishes its frames (its classroom only), status and heartbeat; subscribes to
/// its config and acks.
pub fn device_account(device_id: &str, classroom_id: &str) -> Account {
    Account {
        username: device_id.to_owned(),
        client_id: device_id.to_owned(),
        role: format!("cavs-device-{device_id}"),
        acls: vec![
            Acl::publish(Topic::frames(classroom_id, device_id)),
            Acl::publish(Topic::status(device_id)),
            Acl::publish(Topic::heartbeat(device_id)),
            Acl::subscribe(Topic::config(device_id)),
            Acl::subscribe(Topic::acks(device_id)),
        ],
    }
}

/// A person: publishes nothing. An admin may watch every device's status and heartbeat and
/// every classroom's events (one id or `+`); a teacher only the classrooms they are bound to
/// and the devices registered in them (`device_rooms`: device id → classroom id).
pub fn person_account(
    username: &str,
    role: Role,
    classrooms: &[String],
    device_rooms: &HashMap<String, String>,
) -> Account {
    let acls = match role {
        Role::Admin => vec![
            Acl::subscribe_pattern(format!("{TOPIC_ROOT}/devices/+/status")),
            Acl::subscribe_pattern(format!("{TOPIC_ROOT}/devices/+/heartbeat")),
            Acl::subscribe_pattern(format!("{TOPIC_ROOT}/classrooms/+/events")),
        ],
        Role::Teacher => {
            let mut acls: Vec<Acl> = classrooms
                .iter()
                .map(|room| Acl::subscribe(Topic::events(room.as_str())))
                .collect();
            let mut devices: Vec<&String> = device_rooms
                .iter()
                .filter(|(_, room)| classrooms.contains(room))
                .map(|(device, _)| device)
                .collect();
            devices.sort();
            for device in devices {
                acls.push(Acl::subscribe(Topic::status(device.as_str())));
                acls.push(Acl::subscribe(Topic::heartbeat(device.as_str())));
            }
            acls
        }
    };
    Account {
        username: username.to_owned(),
        client_id: format!("{PERSON_CLIENT_PREFIX}{username}"),
        role: format!("cavs-person-{username}"),
        acls,
    }
}

/// A recognition worker: takes frames through the workers' shared subscription, publishes its
/// own results and presence.
pub fn worker_account(worker_id: &str) -> Account {
    let client_id = worker_client_id(worker_id);
    Account {
        username: client_id.clone(),
        client_id,
        role: format!("cavs-worker-{worker_id}"),
        acls: vec![
            Acl::subscribe(WORKER_FRAMES_FILTER),
            Acl::publish(worker_results_topic(worker_id)),
            Acl::publish(worker_status_topic(worker_id)),
        ],
    }
}

/// Commands that make the broker hold `account`'s role with exactly its ACLs (`modifyRole`
/// replaces the list without ending sessions; the new ACLs apply to them at once) and create
/// its client pinned to its client id, with `password` when given. When the client exists
/// ("already exists"), [`client_fix`] and [`set_password`] finish the job: `modifyClient`
/// and `setClientPassword` end the client's live session, so they are sent only when needed.
pub fn ensure(account: &Account, password: Option<&str>) -> Vec<Value> {
    let acls: Vec<Value> = account.acls.iter().map(Acl::to_json).collect();
    let mut create_client = json!({
        "command": "createClient",
        "username": account.username,
        "clientid": account.client_id,
        "textname": MANAGED,
        "roles": [{"rolename": account.role}],
    });
    if let Some(password) = password {
        create_client["password"] = json!(password);
    }
    vec![
        json!({"command": "createRole", "rolename": account.role, "textname": MANAGED, "acls": acls}),
        json!({"command": "modifyRole", "rolename": account.role, "acls": acls}),
        create_client,
    ]
}

/// The `getClient` command for `username`.
pub fn get_client(username: &str) -> Value {
    json!({"command": "getClient", "username": username})
}

/// The `modifyClient` that pins an existing client (`client`: the `getClient` reply's
/// `data.client`) to `account`'s client id and gives it `account`'s role (keeping roles the
/// hub does not manage, such as the broker's own `admin`); `None` when it already is.
pub fn client_fix(account: &Account, client: &Value, keep: &dyn Fn(&str) -> bool) -> Option<Value> {
    let roles: Vec<&str> = client["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rolename"].as_str())
        .collect();
    let pinned = client["clientid"].as_str() == Some(account.client_id.as_str());
    let mine = roles.contains(&account.role.as_str());
    let foreign: Vec<&str> = roles
        .iter()
        .copied()
        .filter(|r| *r != account.role && !keep(r))
        .collect();
    if pinned && mine && foreign.is_empty() {
        return None;
    }
    let mut wanted: Vec<Value> = roles
        .iter()
        .filter(|r| keep(r))
        .map(|r| json!({"rolename": r}))
        .collect();
    wanted.push(json!({"rolename": account.role}));
    Some(json!({
        "command": "modifyClient",
        "username": account.username,
        "clientid": account.client_id,
        "roles": wanted,
    }))
}

/// The `setClientPassword` for `account` (ends its live session).
pub fn set_password(account: &Account, password: &str) -> Value {
    json!({"command": "setClientPassword", "username": account.username, "password": password})
}

/// The hub's own service role: reads every device's frames, status and heartbeat and the
/// workers' results and presence; publishes under `cavs/v1/` (retained status and config,
/// acks, events) and the dynamic-security commands (the `admin` role `mosquitto_ctrl dynsec
/// init` gives the account covers `$CONTROL`).
pub fn hub_account(username: &str) -> Account {
    use cavs_models::protocol::{
        FRAMES_FILTER, HEARTBEAT_FILTER, STATUS_FILTER, WORKER_RESULTS_FILTER, WORKER_STATUS_FILTER,
    };
    let mut acls: Vec<Acl> = [
        FRAMES_FILTER,
        STATUS_FILTER,
        HEARTBEAT_FILTER,
        WORKER_RESULTS_FILTER,
        WORKER_STATUS_FILTER,
    ]
    .into_iter()
    .map(Acl::subscribe_pattern)
    .collect();
    acls.push(Acl::publish(format!("{TOPIC_ROOT}/#")));
    Account {
        username: username.to_owned(),
        client_id: super::external::HUB_CLIENT_ID.to_owned(),
        role: HUB_ROLE.to_owned(),
        acls,
    }
}

/// The hub's service role.
pub const HUB_ROLE: &str = "cavs-hub-service";

/// `enableClient` / `disableClient`: a disabled client keeps its password but cannot connect,
/// and its live session ends at once (a deactivated device or account).
pub fn set_enabled(username: &str, enabled: bool) -> Value {
    let command = if enabled {
        "enableClient"
    } else {
        "disableClient"
    };
    json!({"command": command, "username": username})
}

/// Commands that remove an account and its role: its live session ends at once.
pub fn revoke(username: &str, role: &str) -> Vec<Value> {
    vec![
        json!({"command": "deleteClient", "username": username}),
        json!({"command": "deleteRole", "rolename": role}),
    ]
}

/// True for the errors [`ensure`] and [`revoke`] expect (creating what exists, deleting what
/// is gone).
pub fn is_expected_error(command: &str, error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    match command {
        "createRole" | "createClient" => error.contains("already exists"),
        "deleteClient" | "deleteRole" | "disableClient" => error.contains("not found"),
        _ => false,
    }
}

/// The managed clients (username, role) the broker holds that the hub no longer wants, from a
/// `listClients` reply (verbose) and the usernames wanted.
pub fn unwanted(listed: &Value, wanted: &[String]) -> Vec<(String, Vec<String>)> {
    listed["clients"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|client| client["textname"].as_str() == Some(MANAGED))
        .filter_map(|client| {
            let username = client["username"].as_str()?;
            let roles = client["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["rolename"].as_str().map(str::to_owned))
                .collect();
            (!wanted.iter().any(|w| w == username)).then(|| (username.to_owned(), roles))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(account: &Account, acltype: &str) -> Vec<String> {
        account
            .acls
            .iter()
            .filter(|a| a.acltype == acltype)
            .map(|a| a.topic.clone())
            .collect()
    }

    #[test]
    fn a_device_publishes_only_its_own_topics_in_its_own_classroom() {
        let account = device_account("cam-1", "room-1");
        assert_eq!(account.client_id, "cam-1");
        assert_eq!(
            topics(&account, "publishClientSend"),
            [
                "cavs/v1/classrooms/room-1/devices/cam-1/frames",
                "cavs/v1/devices/cam-1/status",
                "cavs/v1/devices/cam-1/heartbeat"
            ]
        );
        assert_eq!(
            topics(&account, "subscribeLiteral"),
            ["cavs/v1/devices/cam-1/config", "cavs/v1/devices/cam-1/acks"]
        );
        assert!(topics(&account, "subscribePattern").is_empty());
    }

    #[test]
    fn a_teacher_watches_only_their_classrooms_and_their_devices() {
        let rooms = HashMap::from([
            ("cam-a".to_owned(), "room-1".to_owned()),
            ("cam-b".to_owned(), "room-2".to_owned()),
        ]);
        let teacher = person_account("tina", Role::Teacher, &["room-1".into()], &rooms);
        assert_eq!(teacher.client_id, "user:tina");
        assert!(topics(&teacher, "publishClientSend").is_empty());
        assert!(
            topics(&teacher, "subscribePattern").is_empty(),
            "no wildcard"
        );
        assert_eq!(
            topics(&teacher, "subscribeLiteral"),
            [
                "cavs/v1/classrooms/room-1/events",
                "cavs/v1/devices/cam-a/status",
                "cavs/v1/devices/cam-a/heartbeat"
            ]
        );
        let admin = person_account("ada", Role::Admin, &[], &rooms);
        assert!(topics(&admin, "publishClientSend").is_empty());
        assert!(
            topics(&admin, "subscribePattern")
                .iter()
                .all(|t| !t.contains("frames") && !t.contains('#'))
        );
    }

    #[test]
    fn ensure_pins_the_client_id_and_carries_the_password_only_when_given() {
        let account = worker_account("2");
        let without = ensure(&account, None);
        assert!(without.iter().all(|c| c.get("password").is_none()));
        assert!(
            without
                .iter()
                .all(|c| c["command"] != "modifyClient" && c["command"] != "setClientPassword"),
            "nothing that ends a live session"
        );
        let with = ensure(&account, Some("pw"));
        let create = with
            .iter()
            .find(|c| c["command"] == "createClient")
            .expect("create");
        assert_eq!(create["clientid"], "cavs-hub-worker-2");
        assert_eq!(create["password"], "pw");
        assert!(is_expected_error("createClient", "Client already exists"));
        assert!(!is_expected_error("modifyClient", "Client not found"));
    }

    #[test]
    fn an_existing_client_is_modified_only_when_its_pin_or_roles_are_wrong() {
        let account = device_account("cam-1", "room-1");
        let none = |_: &str| false;
        let right = json!({"username": "cam-1", "clientid": "cam-1", "roles": [{"rolename": "cavs-device-cam-1"}]});
        assert_eq!(client_fix(&account, &right, &none), None);
        let unpinned = json!({"username": "cam-1", "roles": [{"rolename": "cavs-device-cam-1"}]});
        let fix = client_fix(&account, &unpinned, &none).expect("pin it");
        assert_eq!(fix["clientid"], "cam-1");
        let extra = json!({"username": "cam-1", "clientid": "cam-1", "roles": [{"rolename": "cavs-device-cam-1"}, {"rolename": "everything"}]});
        let fix = client_fix(&account, &extra, &none).expect("drop the foreign role");
        assert_eq!(fix["roles"], json!([{"rolename": "cavs-device-cam-1"}]));
        let hub = hub_account("cavs-hub");
        let admin = json!({"username": "cavs-hub", "roles": [{"rolename": "admin"}]});
        let keep_admin = |r: &str| r == "admin";
        let fix = client_fix(&hub, &admin, &keep_admin).expect("add the service role");
        assert_eq!(
            fix["roles"],
            json!([{"rolename": "admin"}, {"rolename": HUB_ROLE}])
        );
    }

    #[test]
    fn only_managed_clients_nobody_wants_are_unwanted() {
        let listed = json!({"clients": [
            {"username": "cam-1", "textname": MANAGED, "roles": [{"rolename": "cavs-device-cam-1"}]},
            {"username": "cam-gone", "textname": MANAGED, "roles": [{"rolename": "cavs-device-cam-gone"}]},
            {"username": "admin", "roles": [{"rolename": "admin"}]},
        ]});
        assert_eq!(
            unwanted(&listed, &["cam-1".to_owned()]),
            [(
                "cam-gone".to_owned(),
                vec!["cavs-device-cam-gone".to_owned()]
            )]
        );
    }
}
