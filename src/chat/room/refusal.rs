//! [`Refusal`]: why the room refused a request, worded for the sender.

use std::fmt;
use std::net::IpAddr;

/// Why a request was refused. `Display` is the reason sent after `ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another member already has this name (case-insensitively).
    NameTaken(String),
    /// The name is one of the console's own ([`RESERVED`]).
    NameReserved(String),
    /// The name breaks a rule; the text says which.
    NameInvalid(&'static str),
    /// The room has `max_members` members.
    RoomFull(usize),
    /// The sender's host already has `max_per_host` members.
    HostFull {
        /// The host (source IP address).
        host: IpAddr,
        /// The limit per host.
        max: usize,
    },
    /// `C` from an address that is not in the room.
    NotMember,
    /// A non-member used the name of a member.
    Impersonation(String),
    /// A member used a name that is not its own.
    WrongName {
        /// The name this address joined with.
        joined_as: String,
        /// The name the request claimed.
        claimed: String,
    },
    /// The text is longer than the limit.
    TextTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The text contains control characters (newlines, escapes...).
    TextControl,
    /// The text is empty.
    TextEmpty,
    /// The datagram is not UTF-8.
    InvalidUtf8,
    /// Not `L`, `C` or `Q`.
    Unknown,
    /// A known request without its arguments.
    Usage(&'static str),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NameTaken(n) => write!(f, "name '{n}' is taken"),
            Refusal::NameReserved(n) => write!(f, "name '{n}' is reserved"),
            Refusal::NameInvalid(why) => write!(f, "invalid name: {why}"),
            Refusal::RoomFull(max) => write!(f, "room is full ({max} members)"),
            Refusal::HostFull { host, max } => {
                write!(f, "too many members from {host} (limit {max} per host)")
            }
            Refusal::NotMember => write!(f, "not in the room; join with L <name> first"),
            Refusal::Impersonation(n) => write!(
                f,
                "'{n}' joined from another address; you cannot speak or leave as them"
            ),
            Refusal::WrongName { joined_as, claimed } => write!(
                f,
                "this address joined as '{joined_as}'; it cannot speak or leave as '{claimed}'"
            ),
            Refusal::TextTooLong { len, max } => write!(
                f,
                "message too long: {len} bytes (limit {max}); nothing was sent"
            ),
            Refusal::TextControl => {
                write!(f, "message contains control characters; nothing was sent")
            }
            Refusal::TextEmpty => write!(f, "empty message; nothing was sent"),
            Refusal::InvalidUtf8 => write!(f, "datagram is not valid UTF-8"),
            Refusal::Unknown => write!(
                f,
                "unknown request; use L <name>, C <name> <text> or Q <name>"
            ),
            Refusal::Usage(u) => write!(f, "usage: {u}"),
        }
    }
}
