//! What an account may do beyond reading and writing the collections its grants name.

use serde::{Deserialize, Serialize};

/// An account's role (DESIGN §1), parsed at the edge: the realm file, the store's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Opens every collection; runs release previews of any object.
    Admin,
    /// A releasing officer: previews (and, with release plans, approves) its organization's
    /// releases.
    Releaser,
    Analyst,
    Reader,
    /// A partner hub or feed that posts others' objects (`created_by_ref` not its own).
    Relay,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Releaser,
        Role::Analyst,
        Role::Reader,
        Role::Relay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Releaser => "releaser",
            Role::Analyst => "analyst",
            Role::Reader => "reader",
            Role::Relay => "relay",
        }
    }

    /// The role a name means, if any.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_as_stored() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!(Role::parse("Admin"), None);
    }
}
