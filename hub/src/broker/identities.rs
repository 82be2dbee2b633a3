//! The broker's live view of who is connected and which classroom each device is in, shared
//! by the authentication handler (which records sessions), the authorization hook (which reads
//! them on every packet) and the hub (which ends sessions when an account or device changes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rumqttd::Action;

use super::acl::{Identity, allows};

/// Most sessions one username may hold at once; the oldest ends when another connects.
pub const MAX_SESSIONS_PER_USERNAME: usize = 8;

#[derive(Debug)]
struct Session {
    username: String,
    identity: Identity,
    /// Order of authentication, to end the oldest first.
    serial: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// By client id: rumqttd keeps one connection per client id.
    sessions: HashMap<String, Session>,
    /// Device id → classroom id of every registered device.
    device_rooms: HashMap<String, String>,
    next_serial: u64,
}

/// Sessions of authenticated clients and the device → classroom map. Bounded by the accounts
/// and devices times [`MAX_SESSIONS_PER_USERNAME`].
#[derive(Debug, Clone, Default)]
pub struct Identities(Arc<RwLock<Inner>>);

impl Identities {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the session of `client_id`, authenticated as `username` (replacing an earlier
    /// session of the same client id; ending the oldest of `username` beyond the limit).
    pub fn insert(&self, client_id: &str, username: &str, identity: Identity) {
        let mut inner = self.write();
        inner.next_serial += 1;
        let serial = inner.next_serial;
        inner.sessions.insert(
            client_id.to_owned(),
            Session {
                username: username.to_owned(),
                identity,
                serial,
            },
        );
        let mine: Vec<(u64, String)> = inner
            .sessions
            .iter()
            .filter(|(_, s)| s.username == username)
            .map(|(id, s)| (s.serial, id.clone()))
            .collect();
        if mine.len() > MAX_SESSIONS_PER_USERNAME
            && let Some((_, oldest)) = mine.into_iter().min()
        {
            inner.sessions.remove(&oldest);
            tracing::info!(
                username,
                client_id = oldest,
                "MQTT session ended: too many sessions for this account"
            );
        }
    }

    /// Ends every session of `username`: the broker closes them within a second and they are
    /// refused everything meanwhile. Returns how many there were.
    pub fn end_sessions_of(&self, username: &str) -> usize {
        let mut inner = self.write();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.username != username);
        before - inner.sessions.len()
    }

    /// Ends every teacher's session (a device changed classroom: their grants may be stale).
    pub fn end_teacher_sessions(&self) -> usize {
        let mut inner = self.write();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| {
            !matches!(
                s.identity,
                Identity::Person {
                    role: cavs_models::Role::Teacher,
                    ..
                }
            )
        });
        before - inner.sessions.len()
    }

    /// Replaces the device → classroom map (start-up).
    pub fn set_devices(&self, devices: impl IntoIterator<Item = (String, String)>) {
        self.write().device_rooms = devices.into_iter().collect();
    }

    /// Records a device's classroom (`None`: deleted). Returns true when it moved from one
    /// classroom to another or was deleted.
    pub fn set_device(&self, device_id: &str, classroom_id: Option<&str>) -> bool {
        let mut inner = self.write();
        let before = match classroom_id {
            Some(room) => inner
                .device_rooms
                .insert(device_id.to_owned(), room.to_owned()),
            None => inner.device_rooms.remove(device_id),
        };
        before.is_some_and(|b| Some(b.as_str()) != classroom_id)
    }

    /// The broker's authorization hook: refused unless `client_id` holds a session of
    /// `username` and the rule allows `action`.
    pub fn allows(&self, client_id: &str, username: &str, action: Action<'_>) -> bool {
        let inner = self.0.read().unwrap_or_else(|p| p.into_inner());
        let allowed = inner.sessions.get(client_id).is_some_and(|session| {
            session.username == username
                && allows(
                    &session.identity,
                    client_id,
                    username,
                    action,
                    &inner.device_rooms,
                )
        });
        if !allowed && action != Action::Remain {
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
    use cavs_models::Role;

    fn teacher(rooms: &[&str]) -> Identity {
        Identity::Person {
            role: Role::Teacher,
            classrooms: rooms.iter().map(|r| r.to_string()).collect(),
        }
    }

    const STATUS: Action<'static> = Action::Subscribe {
        filter: "cavs/v1/devices/cam-1/status",
    };

    #[test]
    fn sessions_are_per_client_id_and_end_with_their_account() {
        let ids = Identities::default();
        ids.set_devices([("cam-1".to_owned(), "room-1".to_owned())]);
        assert!(!ids.allows("user:alice", "alice", STATUS));
        assert!(!ids.allows("user:alice", "alice", Action::Remain));
        ids.insert("user:alice", "alice", teacher(&["room-1"]));
        ids.insert("user:alice:tablet", "alice", teacher(&["room-1"]));
        ids.insert("user:bob", "bob", teacher(&["room-1"]));
        assert!(ids.allows("user:alice", "alice", STATUS));
        assert!(ids.allows("user:alice:tablet", "alice", Action::Remain));
        // Another username cannot ride on alice's session.
        assert!(!ids.allows("user:alice", "bob", Action::Remain));
        assert_eq!(ids.end_sessions_of("alice"), 2);
        assert!(!ids.allows("user:alice", "alice", Action::Remain));
        assert!(!ids.allows("user:alice:tablet", "alice", STATUS));
        assert!(ids.allows("user:bob", "bob", Action::Remain));
    }

    #[test]
    fn the_oldest_session_ends_beyond_the_limit() {
        let ids = Identities::default();
        for n in 0..=MAX_SESSIONS_PER_USERNAME {
            ids.insert(&format!("user:alice:{n}"), "alice", teacher(&[]));
        }
        assert!(!ids.allows("user:alice:0", "alice", Action::Remain));
        for n in 1..=MAX_SESSIONS_PER_USERNAME {
            assert!(ids.allows(&format!("user:alice:{n}"), "alice", Action::Remain));
        }
    }

    #[test]
    fn a_teacher_watches_devices_as_they_move() {
        let ids = Identities::default();
        ids.set_devices([("cam-1".to_owned(), "room-1".to_owned())]);
        ids.insert("user:alice", "alice", teacher(&["room-1"]));
        assert!(ids.allows("user:alice", "alice", STATUS));
        assert!(ids.set_device("cam-1", Some("room-2")));
        assert!(!ids.allows("user:alice", "alice", STATUS));
        assert!(!ids.set_device("cam-2", Some("room-1")));
        assert!(!ids.set_device("cam-2", Some("room-1")));
        assert!(ids.set_device("cam-2", None));
        assert_eq!(ids.end_teacher_sessions(), 1);
        assert!(!ids.allows("user:alice", "alice", Action::Remain));
    }
}
