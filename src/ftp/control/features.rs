//! What the server announces and lets a client choose: FEAT (the extensions
//! implemented) and OPTS (UTF8, which is always on, and the MLST facts).

use std::io;

use super::Control;
use crate::ftp::listing::FACTS;

/// The extensions announced by `FEAT` when the server has TLS (RFC 4217).
const TLS_FEATURES: &[&str] = &["AUTH TLS", "PBSZ", "PROT"];

/// The extensions announced by `FEAT`: exactly what this server implements
/// (and [`TLS_FEATURES`] with TLS).
const FEATURES: &[&str] = &[
    "EPRT",
    "EPSV",
    "MDTM",
    "MFMT",
    "MLST type*;size*;modify*;perm*;unix.mode*;",
    "PASV",
    "REST STREAM",
    "SIZE",
    "UTF8",
];

impl Control<'_> {
    /// FEAT: the multi-line list of [`FEATURES`] (and [`TLS_FEATURES`]).
    pub(super) fn feat(&mut self) -> io::Result<()> {
        let tls = self.opts.tls.is_some();
        self.write_control(feat_reply(tls).as_bytes())
    }

    /// OPTS UTF8 and OPTS MLST.
    pub(super) fn opts(&mut self, arg: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(arg).to_string();
        let (what, value) = text.split_once(' ').unwrap_or((&text, ""));
        match what.to_ascii_uppercase().as_str() {
            "UTF8" | "UTF-8" => match value.trim().to_ascii_uppercase().as_str() {
                "" | "ON" => self.reply(200, "UTF8 mode is always on"),
                _ => self.reply(501, "UTF8 cannot be turned off"),
            },
            "MLST" => {
                let (facts, chosen) = mlst_facts(value);
                self.facts = facts;
                self.reply(200, &format!("MLST OPTS {chosen}"))
            }
            _ => self.reply(501, "Unknown option"),
        }
    }
}

/// The whole FEAT reply, CRLFs included, in alphabetical order.
fn feat_reply(tls: bool) -> String {
    let mut all: Vec<&str> = FEATURES.to_vec();
    if tls {
        all.extend_from_slice(TLS_FEATURES);
    }
    all.sort_unstable();
    let mut msg = String::from("211-Features:\r\n");
    for f in all {
        msg.push_str(&format!(" {f}\r\n"));
    }
    msg.push_str("211 End\r\n");
    msg
}

/// The facts an `OPTS MLST` value asks for, in [`FACTS`] order, and the
/// `fact;fact;` list that confirms them (unknown names are left out).
fn mlst_facts(value: &str) -> ([bool; 5], String) {
    let wanted: Vec<String> = value
        .split(';')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    let mut facts = [false; 5];
    let mut chosen = String::new();
    for (i, fact) in FACTS.iter().enumerate() {
        facts[i] = wanted.iter().any(|w| w == fact);
        if facts[i] {
            chosen.push_str(&format!("{fact};"));
        }
    }
    (facts, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feat_lists_every_feature() {
        let r = feat_reply(false);
        assert!(r.starts_with("211-Features:\r\n EPRT\r\n EPSV\r\n"));
        assert!(r.contains("\r\n MLST type*;size*;modify*;perm*;unix.mode*;\r\n"));
        assert!(r.ends_with(" UTF8\r\n211 End\r\n"));
        assert_eq!(r.matches("\r\n").count(), FEATURES.len() + 2);
        assert!(!r.contains("AUTH") && !r.contains("PROT"));
        let r = feat_reply(true);
        assert!(
            r.starts_with("211-Features:\r\n AUTH TLS\r\n EPRT\r\n"),
            "{r}"
        );
        assert!(
            r.contains("\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n"),
            "{r}"
        );
        assert_eq!(r.matches("\r\n").count(), FEATURES.len() + 5);
    }

    #[test]
    fn mlst_fact_choice() {
        assert_eq!(
            mlst_facts("Size;TYPE;bogus;"),
            ([true, true, false, false, false], "type;size;".to_string())
        );
        assert_eq!(mlst_facts(""), ([false; 5], String::new()));
        assert_eq!(
            mlst_facts(" modify ; perm"),
            (
                [false, false, true, true, false],
                "modify;perm;".to_string()
            )
        );
    }
}
