//! A room shared by several servers (`netkit chat serve --redis`): what one
//! server's room tells the others ([`Broadcast`]), and what it knows of the
//! members on the other servers ([`Roster`]). Pure: the relay
//! (`chat::relay`) carries broadcasts through Redis; the room only says what
//! to carry and what a carried one means for its own members.

use std::collections::{BTreeSet, HashMap};

/// Something the room told every other member, which the members on the
/// room's other servers must hear too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broadcast {
    /// A member joined (`alice joined the room`).
    Joined(String),
    /// A member is here: sent again for every member after a server got
    /// Redis back, so servers that had given it up learn it again (and say
    /// it joined); servers that knew it say nothing.
    Present(String),
    /// A member said something (`alice: text`).
    Said {
        /// Who.
        name: String,
        /// What.
        text: String,
    },
    /// A member left with `Q` (or took another name).
    Left(String),
    /// A member was dropped for silence.
    Dropped {
        /// Who.
        name: String,
        /// The idle limit, as people say it (`10m`).
        silence: String,
    },
    /// The operator's broadcast from a server's console.
    Admin(String),
    /// Nothing for the members: a server got Redis back and numbers its
    /// next entry, so a gap left by the outage shows at once.
    Sync,
}

impl Broadcast {
    /// The one-letter kind used on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Broadcast::Joined(_) => "J",
            Broadcast::Present(_) => "P",
            Broadcast::Said { .. } => "C",
            Broadcast::Left(_) => "L",
            Broadcast::Dropped { .. } => "D",
            Broadcast::Admin(_) => "A",
            Broadcast::Sync => "S",
        }
    }

    /// The member's name, and the text (message, silence or admin line).
    pub fn parts(&self) -> (&str, &str) {
        match self {
            Broadcast::Joined(n) | Broadcast::Present(n) | Broadcast::Left(n) => (n, ""),
            Broadcast::Said { name, text } => (name, text),
            Broadcast::Dropped { name, silence } => (name, silence),
            Broadcast::Admin(text) => ("", text),
            Broadcast::Sync => ("", ""),
        }
    }

    /// The broadcast from its kind, name and text (see [`Broadcast::kind`]
    /// and [`Broadcast::parts`]); `None` for an unknown kind.
    pub fn from_parts(kind: &str, name: &str, text: &str) -> Option<Broadcast> {
        let (n, t) = (name.to_string(), text.to_string());
        Some(match kind {
            "J" => Broadcast::Joined(n),
            "P" => Broadcast::Present(n),
            "C" => Broadcast::Said { name: n, text: t },
            "L" => Broadcast::Left(n),
            "D" => Broadcast::Dropped {
                name: n,
                silence: t,
            },
            "A" => Broadcast::Admin(t),
            "S" => Broadcast::Sync,
            _ => return None,
        })
    }
}

/// A member on another server of the room.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RemoteMember {
    /// The name as it was given.
    pub name: String,
    /// The id of the server it joined.
    pub server: String,
}

/// The members on the room's other servers, by lower-case name.
#[derive(Debug, Clone, Default)]
pub(super) struct Roster {
    by_name: HashMap<String, RemoteMember>,
}

impl Roster {
    /// True if a member on another server has `key` (a lower-case name).
    pub(super) fn contains(&self, key: &str) -> bool {
        self.by_name.contains_key(key)
    }

    /// Records `name` on `server`; true if it was not known there before.
    pub(super) fn add(&mut self, server: &str, name: &str) -> bool {
        let member = RemoteMember {
            name: name.to_string(),
            server: server.to_string(),
        };
        self.by_name.insert(name.to_lowercase(), member.clone()) != Some(member)
    }

    /// Forgets `name` if `server` holds it; true if it did.
    pub(super) fn remove(&mut self, server: &str, name: &str) -> bool {
        let key = name.to_lowercase();
        if self.by_name.get(&key).is_some_and(|m| m.server == server) {
            self.by_name.remove(&key);
            true
        } else {
            false
        }
    }

    /// Forgets every member of `server`; returns their names, sorted.
    pub(super) fn remove_server(&mut self, server: &str) -> Vec<String> {
        let mut gone: Vec<String> = Vec::new();
        self.by_name.retain(|_, m| {
            if m.server == server {
                gone.push(m.name.clone());
                false
            } else {
                true
            }
        });
        gone.sort();
        gone
    }

    /// The servers that have members here.
    pub(super) fn servers(&self) -> BTreeSet<String> {
        self.by_name.values().map(|m| m.server.clone()).collect()
    }

    /// Every member, sorted by name.
    pub(super) fn list(&self) -> Vec<RemoteMember> {
        let mut all: Vec<_> = self.by_name.values().cloned().collect();
        all.sort();
        all
    }

    pub(super) fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_round_trip_their_parts() {
        for b in [
            Broadcast::Joined("alice".into()),
            Broadcast::Present("Mary Ann".into()),
            Broadcast::Said {
                name: "bob".into(),
                text: "hi: there".into(),
            },
            Broadcast::Left("小明".into()),
            Broadcast::Dropped {
                name: "carol".into(),
                silence: "10m".into(),
            },
            Broadcast::Admin("noon".into()),
            Broadcast::Sync,
        ] {
            let (n, t) = b.parts();
            assert_eq!(Broadcast::from_parts(b.kind(), n, t), Some(b.clone()));
        }
        assert_eq!(Broadcast::from_parts("X", "a", "b"), None);
    }

    #[test]
    fn the_roster_keeps_each_name_with_its_server() {
        let mut r = Roster::default();
        assert!(r.add("s1", "Alice"));
        assert!(!r.add("s1", "Alice"), "known already");
        assert!(r.contains("alice"));
        assert!(r.add("s2", "bob"));
        assert!(!r.remove("s2", "ALICE"), "not s2's");
        assert!(r.remove("s1", "alice"));
        assert!(r.add("s1", "carol"));
        assert!(r.add("s1", "dave"));
        assert_eq!(r.servers().len(), 2);
        assert_eq!(r.remove_server("s1"), vec!["carol", "dave"]);
        assert_eq!(
            r.list(),
            vec![RemoteMember {
                name: "bob".into(),
                server: "s2".into()
            }]
        );
        assert_eq!(r.len(), 1);
    }
}
