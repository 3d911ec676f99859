//! The room's wire: parsing a datagram into a request, and the rules for
//! names (valid, reserved, the same name in another case).

use std::net::{IpAddr, SocketAddr};

use super::{KEEP_ALIVE, MAX_NAME_CHARS, RESERVED, Refusal};

/// A parsed request; the borrowed text is what follows the letter.
pub(super) enum Request<'a> {
    Join(&'a str),
    Say(&'a str),
    Quit(&'a str),
    /// `K [name]`: whatever follows is ignored.
    KeepAlive,
}

pub(super) fn parse(datagram: &[u8]) -> Result<Request<'_>, Refusal> {
    let text = std::str::from_utf8(datagram).map_err(|_| Refusal::InvalidUtf8)?;
    // Clients written with print-style helpers often send a trailing newline.
    let text = text.trim_end_matches(['\r', '\n']);
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    match verb {
        "L" => Ok(Request::Join(rest)),
        "C" => Ok(Request::Say(rest)),
        "Q" => Ok(Request::Quit(rest)),
        KEEP_ALIVE => Ok(Request::KeepAlive),
        _ => Err(Refusal::Unknown),
    }
}

/// Checks the name rules; `name` is already trimmed.
pub(super) fn check_name(name: &str) -> Result<(), Refusal> {
    if name.is_empty() {
        return Err(Refusal::NameInvalid("empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Refusal::NameInvalid("longer than 32 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::NameInvalid("contains control characters"));
    }
    // "name: text" is how messages look; a ':' in a name could forge them.
    if name.contains(':') {
        return Err(Refusal::NameInvalid("contains ':'"));
    }
    let lower = name.to_lowercase();
    if RESERVED.contains(&lower.as_str()) {
        return Err(Refusal::NameReserved(name.to_string()));
    }
    Ok(())
}

pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// `rest` without a leading `name` (case-insensitively) that is followed by
/// whitespace or the end.
pub(super) fn strip_name<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    let n = name.chars().count();
    let end = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
    let (head, tail) = rest.split_at(end);
    if !same_name(head, name) {
        return None;
    }
    match tail.chars().next() {
        None => Some(tail),
        Some(c) if c.is_whitespace() => Some(tail),
        Some(_) => None,
    }
}

pub(super) fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// A name taken from a request, as a refusal quotes it: cut to
/// [`MAX_NAME_CHARS`] characters (with `…`), so no reply grows with the
/// request.
pub(super) fn quoted(claimed: &str) -> String {
    match claimed.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => format!("{}…", &claimed[..end]),
        None => claimed.to_string(),
    }
}

/// The host an address counts against for `max_per_host`: its IP address,
/// with IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, seen by a dual-stack
/// socket) counted as the IPv4 host they are.
pub fn host(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}
