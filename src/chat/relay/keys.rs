//! The Redis keys of one room. Every key of room `lobby` starts with
//! `netkit:chat:{lobby}:` (the braces are Redis Cluster's hash tag, so a
//! room's keys live on one node and its scripts may touch several).

/// The key names of one room.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys of room `room`.
    pub fn new(room: &str) -> Keys {
        Keys {
            prefix: format!("netkit:chat:{{{room}}}:"),
        }
    }

    /// The stream every server appends its broadcasts to and reads the
    /// others' from.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// A member's name claim (the lower-case name), holding `server/gen`
    /// and expiring unless its server refreshes it.
    pub fn name(&self, lower: &str) -> String {
        format!("{}name:{lower}", self.prefix)
    }

    /// A server's heartbeat, expiring unless the server refreshes it.
    pub fn server(&self, id: &str) -> String {
        format!("{}server:{id}", self.prefix)
    }

    /// A server's members: a hash of lower-case name to name.
    pub fn members(&self, id: &str) -> String {
        format!("{}members:{id}", self.prefix)
    }

    /// The set of server ids that joined the room (the dead are removed by
    /// whichever server notices first).
    pub fn servers(&self) -> String {
        format!("{}servers", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rooms_keys_share_its_hash_tag() {
        let k = Keys::new("lobby");
        assert_eq!(k.events(), "netkit:chat:{lobby}:events");
        assert_eq!(k.name("alice"), "netkit:chat:{lobby}:name:alice");
        assert_eq!(k.server("ab12"), "netkit:chat:{lobby}:server:ab12");
        assert_eq!(k.members("ab12"), "netkit:chat:{lobby}:members:ab12");
        assert_eq!(k.servers(), "netkit:chat:{lobby}:servers");
    }
}
