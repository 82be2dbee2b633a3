//! Who sees which classrooms, and the changes an admin makes to an account.

use serde::{Deserialize, Serialize};

use crate::Role;
use crate::protocol::is_valid_id;

/// The classrooms a caller may see: everything (admins, the hub itself) or a teacher's own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ClassroomScope {
    /// Every classroom.
    #[default]
    All,
    /// Only these classrooms (possibly none).
    Only(Vec<String>),
}

impl ClassroomScope {
    /// True when `classroom_id` is within the scope.
    pub fn allows(&self, classroom_id: &str) -> bool {
        match self {
            ClassroomScope::All => true,
            ClassroomScope::Only(classrooms) => classrooms.iter().any(|c| c == classroom_id),
        }
    }

    /// The classrooms of a restricted scope, `None` for [`ClassroomScope::All`].
    pub fn classrooms(&self) -> Option<&[String]> {
        match self {
            ClassroomScope::All => None,
            ClassroomScope::Only(classrooms) => Some(classrooms),
        }
    }
}

/// Sorts and de-duplicates classroom ids, refusing one that is not a valid topic segment
/// (1-64 of `A-Z a-z 0-9 _ -`). Returns the first bad id.
pub fn normalize_classrooms(classrooms: &[String]) -> Result<Vec<String>, String> {
    let mut ids = Vec::with_capacity(classrooms.len());
    for id in classrooms {
        let id = id.trim();
        if !is_valid_id(id) {
            return Err(id.to_owned());
        }
        ids.push(id.to_owned());
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// An admin's change to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    /// New role.
    pub role: Option<Role>,
    /// Enable or disable the account (disabling ends its tokens and MQTT sessions).
    pub active: Option<bool>,
    /// New set of classrooms (replaces the old set).
    pub classrooms: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_all_allows_everything_only_allows_its_own() {
        assert!(ClassroomScope::All.allows("room-1"));
        let only = ClassroomScope::Only(vec!["room-1".into()]);
        assert!(only.allows("room-1"));
        assert!(!only.allows("room-2"));
        assert!(!ClassroomScope::Only(vec![]).allows("room-1"));
        assert_eq!(only.classrooms(), Some(&["room-1".to_owned()][..]));
        assert_eq!(ClassroomScope::All.classrooms(), None);
    }

    #[test]
    fn classrooms_sorted_deduplicated_and_checked() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_classrooms(&ids(&["b", " a ", "b"])),
            Ok(ids(&["a", "b"]))
        );
        assert_eq!(
            normalize_classrooms(&ids(&["a", "x/y"])),
            Err("x/y".to_owned())
        );
        assert_eq!(normalize_classrooms(&ids(&[""])), Err(String::new()));
    }
}
