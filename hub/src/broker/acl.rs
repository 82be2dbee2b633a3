//! Who may use which client id and which topics on the embedded broker. Pure decisions,
//! unit-tested; `auth.rs` records each authenticated identity in
//! [`Identities`](super::identities::Identities) and the broker's authorization hook
//! (vendor/rumqttd, `CAVS-PATCH.md`) asks it.
//!
//! * Client ids: a device connects as its own device id; a person as `user:{username}` or
//!   `user:{username}:{anything}` (device ids cannot contain `:`, so the namespaces never
//!   meet; rumqttd itself refuses `/ + # $` in client ids); ids starting with `cavs-hub`
//!   belong to the hub's own links and are refused.
//! * Devices publish their own frames (their registered classroom only), status (retained
//!   allowed) and heartbeat, and subscribe to their own config and acks topics only.
//! * People publish nothing and subscribe only to status, heartbeat and event topics, never to
//!   frames, config or `#`: admins to one id or `+` in the id segment, teachers only to the
//!   named devices and classrooms they are bound to (no wildcard: a teacher's filter must not
//!   match another classroom's topics).

use std::collections::HashMap;

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
        /// The classrooms a teacher is bound to (unused for admins).
        classrooms: Vec<String>,
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

/// The authorization rule for one identity; `device_rooms` maps every registered device id
/// to its classroom (a teacher may watch the devices of their classrooms).
pub fn allows(
    identity: &Identity,
    client_id: &str,
    username: &str,
    action: Action<'_>,
    device_rooms: &HashMap<String, String>,
) -> bool {
    match identity {
        Identity::Device { classroom_id } => {
            client_id == username && device_allows(username, classroom_id, action)
        }
        Identity::Person { role, classrooms } => {
            is_person_client_id(client_id, username)
                && match action {
                    Action::Publish { .. } => false,
                    Action::Remain => true,
                    Action::Subscribe { filter } => match role {
                        Role::Admin => person_may_subscribe(filter, &|_: Watched<'_>| true),
                        Role::Teacher => person_may_subscribe(filter, &|watched: Watched<'_>| {
                            let room = match watched {
                                Watched::Device(id) => device_rooms.get(id).map(String::as_str),
                                Watched::Classroom(id) => Some(id),
                            };
                            room.is_some_and(|room| classrooms.iter().any(|c| c == room))
                        }),
                    },
                }
        }
    }
}

/// The device or classroom a status/heartbeat/events filter names (`+` for every one).
#[derive(Debug, Clone, Copy)]
enum Watched<'a> {
    Device(&'a str),
    Classroom(&'a str),
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
        Action::Subscribe { filter } => {
            filter == Topic::config(device_id).to_string()
                || filter == Topic::acks(device_id).to_string()
        }
        Action::Remain => true,
    }
}

/// Status/heartbeat of a device, events of a classroom, whose id (`+` passed as is) the
/// caller's `may_watch` accepts.
fn person_may_subscribe(filter: &str, may_watch: &dyn Fn(Watched<'_>) -> bool) -> bool {
    let Some(rest) = filter
        .strip_prefix(TOPIC_ROOT)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let id = |s: &str| s == "+" || is_valid_id(s);
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["devices", device, "status" | "heartbeat"] => {
            id(device) && may_watch(Watched::Device(device))
        }
        ["classrooms", classroom, "events"] => {
            id(classroom) && may_watch(Watched::Classroom(classroom))
        }
        _ => false,
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
            classrooms: vec!["room-1".into()],
        }
    }

    fn admin() -> Identity {
        Identity::Person {
            role: Role::Admin,
            classrooms: vec![],
        }
    }

    fn rooms() -> HashMap<String, String> {
        HashMap::from([
            ("cam-1".to_owned(), "room-1".to_owned()),
            ("cam-2".to_owned(), "room-2".to_owned()),
        ])
    }

    fn allows(identity: &Identity, client_id: &str, username: &str, action: Action<'_>) -> bool {
        super::allows(identity, client_id, username, action, &rooms())
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
    fn a_device_subscribes_only_to_its_config_and_acks() {
        let d = device();
        let sub = |filter| allows(&d, "cam-1", "cam-1", Action::Subscribe { filter });
        assert!(sub("cavs/v1/devices/cam-1/config"));
        assert!(sub("cavs/v1/devices/cam-1/acks"));
        assert!(!sub("cavs/v1/devices/cam-2/acks"));
        assert!(!sub("cavs/v1/devices/+/acks"));
        assert!(!sub("cavs/v1/devices/cam-2/config"));
        assert!(!sub("cavs/v1/devices/+/config"));
        assert!(!sub("cavs/v1/classrooms/+/devices/+/frames"));
        assert!(!sub("#"));
    }

    #[test]
    fn people_publish_nothing_and_watch_status_heartbeat_and_events_only() {
        for person in [admin(), teacher()] {
            let sub = |filter| allows(&person, "user:alice", "alice", Action::Subscribe { filter });
            assert!(sub("cavs/v1/devices/cam-1/heartbeat"));
            assert!(sub("cavs/v1/devices/cam-1/status"));
            assert!(sub("cavs/v1/classrooms/room-1/events"));
            assert!(!sub("cavs/v1/classrooms/+/devices/+/frames"));
            assert!(!sub("cavs/v1/classrooms/room-1/devices/cam-1/frames"));
            assert!(!sub("cavs/v1/devices/+/config"));
            assert!(!sub("cavs/v1/devices/cam-1/config"));
            assert!(!sub("cavs/v1/devices/#"));
            assert!(!sub("cavs/v1/#"));
            assert!(!sub("#"));
            assert!(!sub("+/+/+/+/+/+/+"));
            assert!(!sub("$share/g/cavs/v1/classrooms/+/devices/+/frames"));
            let publish_as = |topic| allows(&person, "user:alice", "alice", publish(topic, true));
            assert!(!publish_as("cavs/v1/devices/cam-1/status"));
            assert!(!publish_as(
                "cavs/v1/classrooms/room-1/devices/cam-1/frames"
            ));
            assert!(allows(&person, "user:alice", "alice", Action::Remain));
            // Outside their namespace nothing is allowed.
            assert!(!allows(
                &person,
                "cam-1",
                "alice",
                Action::Subscribe {
                    filter: "cavs/v1/devices/cam-1/status"
                }
            ));
            assert!(!allows(&person, "cam-1", "alice", Action::Remain));
        }
    }

    #[test]
    fn admins_watch_every_classroom_teachers_only_their_own() {
        let sub = |who: &Identity, filter| {
            allows(who, "user:alice", "alice", Action::Subscribe { filter })
        };
        let (admin, teacher) = (admin(), teacher());
        for filter in [
            "cavs/v1/devices/+/status",
            "cavs/v1/devices/+/heartbeat",
            "cavs/v1/classrooms/+/events",
            "cavs/v1/devices/cam-2/status",
            "cavs/v1/classrooms/room-2/events",
        ] {
            assert!(sub(&admin, filter), "{filter}");
            assert!(!sub(&teacher, filter), "{filter}");
        }
        // A device the hub does not know is nobody's classroom.
        assert!(!sub(&teacher, "cavs/v1/devices/cam-9/status"));
    }
}
