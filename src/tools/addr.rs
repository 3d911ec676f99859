//! `netkit aton IP` and `netkit ntoa HEX`: IP addresses between text and bytes.
//!
//! The course's `inet_aton` / `inet_ntoa` lesson, for both families (like
//! `inet_pton` / `inet_ntop`): an address on the wire is 4 bytes (IPv4) or 16
//! bytes (IPv6) in network byte order; people write it as dotted decimal or
//! colon-separated hex. Run:
//!
//! ```text
//! $ netkit aton 192.168.1.2
//! c0a80102
//! $ netkit ntoa c0a80102
//! 192.168.1.2
//! $ netkit aton ::1
//! 00000000000000000000000000000001
//! ```
//!
//! Bad input gets one line saying what is wrong (an octet over 255, a wrong
//! number of hex digits, ...). Pure functions, unit-tested below.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a text or hex form is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Nothing was given.
    #[error("empty address")]
    Empty,
    /// Looks like dotted decimal but is not a valid IPv4 address.
    #[error("'{text}' is not an IPv4 address: {reason}")]
    Ipv4 {
        /// The input.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Has a colon but is not a valid IPv6 address.
    #[error(
        "'{text}' is not an IPv6 address (eight groups of up to 4 hex digits separated by ':', \
         one '::' may stand for a run of zero groups)"
    )]
    Ipv6 {
        /// The input.
        text: String,
    },
    /// Neither dotted decimal nor colon hex.
    #[error(
        "'{text}' is not an IP address (IPv4 is like 192.168.1.2, IPv6 like fe80::1); \
         for host names use `netkit resolve`"
    )]
    NotAddress {
        /// The input.
        text: String,
    },
    /// A character of the hex form is not a hex digit.
    #[error("'{text}': '{ch}' is not a hex digit")]
    HexDigit {
        /// The input.
        text: String,
        /// The offending character.
        ch: char,
    },
    /// The hex form has the wrong length.
    #[error(
        "'{text}' has {digits} hex digits; an IPv4 address is 8 (4 bytes) and an IPv6 address 32 (16 bytes)"
    )]
    HexLength {
        /// The input.
        text: String,
        /// How many hex digits it had.
        digits: usize,
    },
}

/// Parses an address in text form (like `inet_pton`, trying IPv4 then IPv6).
pub fn aton(text: &str) -> Result<IpAddr, AddrError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AddrError::Empty);
    }
    let t = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t);
    if t.contains(':') {
        return t
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| AddrError::Ipv6 { text: t.into() });
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return parse_v4(t).map(IpAddr::V4);
    }
    Err(AddrError::NotAddress { text: t.into() })
}

/// Dotted decimal with a reason for every failure.
fn parse_v4(t: &str) -> Result<Ipv4Addr, AddrError> {
    let bad = |reason: String| AddrError::Ipv4 {
        text: t.into(),
        reason,
    };
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() != 4 {
        return Err(bad(format!(
            "it has {} part(s); an IPv4 address has 4 numbers separated by dots",
            parts.len()
        )));
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            return Err(bad(format!("part {} is empty", i + 1)));
        }
        if p.len() > 1 && p.starts_with('0') {
            return Err(bad(format!(
                "part {} ('{p}') has a leading zero, which some tools read as octal",
                i + 1
            )));
        }
        let n: u32 = p
            .parse()
            .map_err(|_| bad(format!("part {} ('{p}') is not a number", i + 1)))?;
        octets[i] = u8::try_from(n)
            .map_err(|_| bad(format!("part {} is {n}, over 255 (one byte)", i + 1)))?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// The address's bytes in network order.
pub fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The address's bytes as lowercase hex, no separators.
pub fn to_hex(ip: IpAddr) -> String {
    octets(ip).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 8 or 32 hex digits (an optional `0x` prefix, whitespace and `-`/`_`
/// separators allowed) into an address (like `inet_ntop` on the bytes).
pub fn ntoa(hex: &str) -> Result<IpAddr, AddrError> {
    let t = hex.trim();
    if t.is_empty() {
        return Err(AddrError::Empty);
    }
    let body = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let mut nibbles = Vec::with_capacity(32);
    for ch in body.chars() {
        if ch.is_whitespace() || ch == '-' || ch == '_' {
            continue;
        }
        let v = ch
            .to_digit(16)
            .ok_or_else(|| AddrError::HexDigit { text: t.into(), ch })?;
        nibbles.push(v as u8);
    }
    let bytes: Vec<u8> = nibbles
        .chunks(2)
        .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
        .collect();
    match nibbles.len() {
        8 => Ok(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        32 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        n => Err(AddrError::HexLength {
            text: t.into(),
            digits: n,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_round_trip() {
        let ip = aton("192.168.1.2").unwrap();
        assert_eq!(to_hex(ip), "c0a80102");
        assert_eq!(ntoa("c0a80102").unwrap(), ip);
        assert_eq!(ntoa("0xC0A80102").unwrap(), ip);
        assert_eq!(ntoa("c0 a8 01 02").unwrap(), ip);
        assert_eq!(to_hex(aton("0.0.0.0").unwrap()), "00000000");
        assert_eq!(to_hex(aton("255.255.255.255").unwrap()), "ffffffff");
    }

    #[test]
    fn ipv6_round_trip() {
        let ip = aton("::1").unwrap();
        assert_eq!(to_hex(ip), "00000000000000000000000000000001");
        assert_eq!(ntoa(&to_hex(ip)).unwrap(), ip);
        let ip = aton("[fe80::1:2]").unwrap();
        assert_eq!(to_hex(ip), "fe800000000000000000000000010002");
        assert_eq!(
            ntoa("fe800000000000000000000000010002")
                .unwrap()
                .to_string(),
            "fe80::1:2"
        );
        let mapped = aton("::ffff:1.2.3.4").unwrap();
        assert_eq!(to_hex(mapped), "00000000000000000000ffff01020304");
    }

    #[test]
    fn ipv4_errors_say_why() {
        let e = aton("300.1.1.1").unwrap_err().to_string();
        assert!(e.contains("over 255"), "{e}");
        let e = aton("1.2.3").unwrap_err().to_string();
        assert!(e.contains("3 part(s)"), "{e}");
        let e = aton("1..2.3").unwrap_err().to_string();
        assert!(e.contains("part 2 is empty"), "{e}");
        let e = aton("01.2.3.4").unwrap_err().to_string();
        assert!(e.contains("leading zero"), "{e}");
        assert_eq!(aton(" "), Err(AddrError::Empty));
        assert!(matches!(
            aton("localhost"),
            Err(AddrError::NotAddress { .. })
        ));
        assert!(matches!(aton("1::2::3"), Err(AddrError::Ipv6 { .. })));
    }

    #[test]
    fn hex_errors_say_why() {
        let e = ntoa("c0a801").unwrap_err().to_string();
        assert!(e.contains("6 hex digits"), "{e}");
        assert!(matches!(
            ntoa("c0a8010g"),
            Err(AddrError::HexDigit { ch: 'g', .. })
        ));
        assert_eq!(ntoa(""), Err(AddrError::Empty));
    }
}
