//! Who may use which client id and which topics on the embedded broker. Pure decisions,
//! unit-tested; `auth.rs` records each authenticated identity in [`Identities`] and the
//! broker's authorization hook (vendor/rumqttd, `CAVS-PATCH.md`) asks [`Identities::allows`].
//!
//! * Client ids: a device connects as its own device id; a person as `user:{username}` or
//!   `user:{username}:{anything}` (device ids cannot contain `:`, so the namespaces never
//!   meet; rumqttd itself refuses `/ + # $` in client ids); ids starting with `cavs-hub`
//!   belong to the hub's own links and are refused.
//! * Devices publish their own frames (their registered classroom only), status (retained
//!   allowed) and heartbeat, and subscribe to their own config topic only.
//! * People publish nothing and subscribe only to status, heartbeat and event topics (one id
//!   or `+` in the id segment), never to frames, config or `#`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cavs_models::Role;
use cavs_models::protocol::{RESERVED_CLIENT_PREFIX, TOPIC_ROOT, Topic, is_valid_id};
use rumqttd::Action;

/// Prefix of every person's client id.
pub const PERSON_CLIENT_PREFIX: &str = "user:";
/// Longest client id accepted from a person.
const MAX_PERSON_CLIENT_ID: usize = 256;

/// Who an authenticated MQTT username is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A camera (username = client id = device id).
    Device {
        /// Its registered classroom.
        classroom_id: String,
    },
    /// An admin or teacher account.
    Person {
        /// The account's role.
        role: Role,
    },
}

/// True when `client_id` may never be used by a remote client.
pub fn is_reserved_client_id(client_id: &str) -> bool {
    client_id.starts_with(RESERVED_CLIENT_PREFIX)
}

/// True when `client_id` is in `username`'s person namespace: `user:{username}` or
/// `user:{username}:{suffix}` (suffix non-empty, whole id at most 256 bytes).
pub fn is_person_client_id(client_id: &str, username: &str) -> bool {
    client_id.len() <= MAX_PERSON_CLIENT_ID
        && client_id
            .strip_prefix(PERSON_CLIENT_PREFIX)
            .and_then(|rest| rest.strip_prefix(username))
            .is_some_and(|rest| rest.is_empty() || rest.len() > 1 && rest.starts_with(':'))
}

/// The authorization rule for one identity.
pub fn allows(identity: &Identity, client_id: &str, username: &str, action: Action<'_>) -> bool {
    match identity {
        Identity::Device { classroom_id } => {
            client_id == username && device_allows(username, classroom_id, action)
        }
        Identity::Person { .. } => {
            is_person_client_id(client_id, username)
                && match action {
                    Action::Publish { .. } => false,
                    Action::Subscribe { filter } => person_may_subscribe(filter),
                }
        }
    }
}

fn device_allows(device_id: &str, classroom_id: &str, action: Action<'_>) -> bool {
    match action {
        Action::Publish { topic, retain } => match Topic::parse(topic) {
            Ok(Topic::Frames { classroom, device }) => {
                !retain && device == device_id && classroom == classroom_id
            }
            Ok(Topic::Status { device }) => device == device_id,
            Ok(Topic::Heartbeat { device }) => !retain && device == device_id,
            _ => false,
        },
        Action::Subscribe { filter } => filter == Topic::config(device_id).to_string(),
    }
}

/// Status/heartbeat of one device or all (`+`), events of one classroom or all.
fn person_may_subscribe(filter: &str) -> bool {
    let Some(rest) = filter
        .strip_prefix(TOPIC_ROOT)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let id = |s: &str| s == "+" || is_valid_id(s);
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["devices", device, "status" | "heartbeat"] => id(device),
        ["classrooms", classroom, "events"] => id(classroom),
        _ => false,
    }
}

/// The identities of authenticated usernames, shared by the broker's authentication handler
/// (which records them) and its authorization hook (which reads them on every packet).
/// Bounded by the number of devices and accounts.
#[derive(Debug, Clone, Default)]
pub struct Identities(Arc<RwLock<HashMap<String, Identity>>>);

impl Identities {
    /// Records (or replaces) who `username` is.
    pub fn insert(&self, username: &str, identity: Identity) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        map.insert(username.to_owned(), identity);
    }

    /// Forgets `username` (its next packets are refused until it authenticates again).
    pub fn remove(&self, username: &str) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        map.remove(username);
    }

    /// The broker's authorization hook: refused unless `username` authenticated and the rule
    /// allows `action`.
    pub fn allows(&self, client_id: &str, username: &str, action: Action<'_>) -> bool {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let allowed = map
            .get(username)
            .is_some_and(|identity| allows(identity, client_id, username, action));
        if !allowed {
            tracing::warn!(
                client_id,
                username,
                ?action,
                "MQTT action refused by the topic ACL"
            );
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Identity {
        Identity::Device {
            classroom_id: "room-1".into(),
        }
    }

    fn teacher() -> Identity {
        Identity::Person {
            role: Role::Teacher,
        }
    }

    fn publish(topic: &str, retain: bool) -> Action<'_> {
        Action::Publish { topic, retain }
    }

    #[test]
    fn person_client_ids_live_under_user_slash_their_name() {
        assert!(is_person_client_id("user:alice", "alice"));
        assert!(is_person_client_id("user:alice:phone", "alice"));
        assert!(!is_person_client_id("user:alice:", "alice"));
        assert!(!is_person_client_id("user:alicex", "alice"));
        assert!(!is_person_client_id("user:bob", "alice"));
        assert!(!is_person_client_id("alice", "alice"));
        assert!(!is_person_client_id("cam-1", "alice"));
        assert!(!is_person_client_id(
            &format!("user:alice:{}", "x".repeat(300)),
            "alice"
        ));
        assert!(is_reserved_client_id("cavs-hub-bridge"));
        assert!(is_reserved_client_id("cavs-hub-publisher"));
        assert!(!is_reserved_client_id("cam-1"));
    }

    #[test]
    fn a_device_publishes_only_its_own_topics() {
        let d = device();
        let ok = |a| allows(&d, "cam-1", "cam-1", a);
        assert!(ok(publish(
            "cavs/v1/classrooms/room-1/devices/cam-1/frames",
            false
        )));
        assert!(ok(publish("cavs/v1/devices/cam-1/status", true)));
        assert!(ok(publish("cavs/v1/devices/cam-1/heartbeat", false)));
        // Another classroom, another device, retained frames/heartbeats, hub topics.
        assert!(!ok(publish(
            "cavs/v1/classrooms/room-2/devices/cam-1/frames",
            false
        )));
        assert!(!ok(publish(
            "cavs/v1/classrooms/room-1/devices/cam-2/frames",
            false
        )));
        assert!(!ok(publish(
            "cavs/v1/classrooms/room-1/devices/cam-1/frames",
            true
        )));
        assert!(!ok(publish("cavs/v1/devices/cam-1/heartbeat", true)));
        assert!(!ok(publish("cavs/v1/devices/cam-2/status", true)));
        assert!(!ok(publish("cavs/v1/devices/cam-1/config", true)));
        assert!(!ok(publish("cavs/v1/classrooms/room-1/events", false)));
        assert!(!ok(publish("anything/else", false)));
        // A device must use its own id as client id.
        assert!(!allows(
            &d,
            "other",
            "cam-1",
            publish("cavs/v1/devices/cam-1/status", true)
        ));
    }

    #[test]
    fn a_device_subscribes_only_to_its_config() {
        let d = device();
        let sub = |filter| allows(&d, "cam-1", "cam-1", Action::Subscribe { filter });
        assert!(sub("cavs/v1/devices/cam-1/config"));
        assert!(!sub("cavs/v1/devices/cam-2/config"));
        assert!(!sub("cavs/v1/devices/+/config"));
        assert!(!sub("cavs/v1/classrooms/+/devices/+/frames"));
        assert!(!sub("#"));
    }

    #[test]
    fn people_publish_nothing_and_watch_status_heartbeat_and_events_only() {
        let t = teacher();
        let sub = |filter| allows(&t, "user:alice", "alice", Action::Subscribe { filter });
        assert!(sub("cavs/v1/devices/+/status"));
        assert!(sub("cavs/v1/devices/cam-1/heartbeat"));
        assert!(sub("cavs/v1/classrooms/room-1/events"));
        assert!(sub("cavs/v1/classrooms/+/events"));
        assert!(!sub("cavs/v1/classrooms/+/devices/+/frames"));
        assert!(!sub("cavs/v1/classrooms/room-1/devices/cam-1/frames"));
        assert!(!sub("cavs/v1/devices/+/config"));
        assert!(!sub("cavs/v1/devices/#"));
        assert!(!sub("cavs/v1/#"));
        assert!(!sub("#"));
        assert!(!sub("+/+/+/+/+/+/+"));
        assert!(!sub("$share/g/cavs/v1/classrooms/+/devices/+/frames"));
        let publish_as = |topic| allows(&t, "user:alice", "alice", publish(topic, true));
        assert!(!publish_as("cavs/v1/devices/cam-1/status"));
        assert!(!publish_as(
            "cavs/v1/classrooms/room-1/devices/cam-1/frames"
        ));
        // Outside their namespace nothing is allowed.
        assert!(!allows(
            &t,
            "cam-1",
            "alice",
            Action::Subscribe {
                filter: "cavs/v1/devices/+/status"
            }
        ));
    }

    #[test]
    fn unknown_usernames_are_refused_everything() {
        let ids = Identities::default();
        let status = Action::Subscribe {
            filter: "cavs/v1/devices/+/status",
        };
        assert!(!ids.allows("user:alice", "alice", status));
        ids.insert("alice", teacher());
        assert!(ids.allows("user:alice", "alice", status));
        ids.remove("alice");
        assert!(!ids.allows("user:alice", "alice", status));
    }
}
