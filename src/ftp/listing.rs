//! Directory listings in the three shapes FTP clients ask for: `LIST` (`ls -l`
//! lines), `NLST` (names) and `MLSD`/`MLST` (RFC 3659 facts).
//!
//! Names are written as raw bytes, so a non-UTF-8 name is listed as it is on
//! disk instead of crashing or being dropped. Hidden entries and symlinks that
//! lead outside the root are left out.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::path::Jail;
use crate::human::{self, Civil};

/// One directory entry to list.
#[derive(Debug)]
pub struct Item {
    /// The name as stored on disk.
    pub name: OsString,
    /// Metadata of what it leads to (a symlink's target).
    pub meta: Metadata,
}

/// The visible entries of directory `dir`, sorted by name.
pub fn read_dir(jail: &Jail, dir: &Path) -> io::Result<Vec<Item>> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        if name.as_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let Ok(link_meta) = path.symlink_metadata() else {
            continue;
        };
        if link_meta.file_type().is_symlink() && !jail.contains(&path) {
            continue; // leads outside the root (or nowhere)
        }
        let Ok(meta) = path.metadata() else { continue };
        items.push(Item { name, meta });
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(items)
}

/// An `ls -l` line: `-rw-r--r-- 1 ftp ftp 1234 May 01 12:00 name\r\n`.
pub fn list_line(name: &[u8], meta: &Metadata, now: i64) -> Vec<u8> {
    let kind = if meta.is_dir() { 'd' } else { '-' };
    let mode = meta.permissions().mode();
    let mut perms = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        perms.push(if bits & 4 != 0 { 'r' } else { '-' });
        perms.push(if bits & 2 != 0 { 'w' } else { '-' });
        perms.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let mtime = meta.mtime();
    let c = Civil::from_unix(mtime);
    // Like ls: the time for files from the last six months, the year otherwise.
    let when = if (now - mtime).abs() < 180 * 86_400 {
        format!("{:02}:{:02}", c.hour, c.minute)
    } else {
        format!("{:>5}", c.year)
    };
    let mut line = format!(
        "{kind}{perms} {:>3} ftp      ftp      {:>12} {} {:>2} {when} ",
        meta.nlink(),
        meta.len(),
        c.month_name(),
        c.day
    )
    .into_bytes();
    line.extend_from_slice(name);
    line.extend_from_slice(b"\r\n");
    line
}

/// The RFC 3659 facts a client may ask for with `OPTS MLST`.
pub const FACTS: [&str; 4] = ["type", "size", "modify", "perm"];

/// The facts of one entry, e.g. `type=file;size=5;modify=20240501120000;perm=r;`,
/// limited to the `enabled` ones (indexes into [`FACTS`]).
pub fn facts(meta: &Metadata, enabled: &[bool; 4], writable: bool, overwrite: bool) -> String {
    let mut out = String::new();
    if enabled[0] {
        out.push_str(if meta.is_dir() {
            "type=dir;"
        } else {
            "type=file;"
        });
    }
    if enabled[1] && !meta.is_dir() {
        out.push_str(&format!("size={};", meta.len()));
    }
    if enabled[2] {
        out.push_str(&format!("modify={};", human::ftp_timestamp(meta.mtime())));
    }
    if enabled[3] {
        let perm = match (meta.is_dir(), writable, overwrite) {
            (true, true, _) => "elc",
            (true, false, _) => "el",
            (false, true, true) => "rw",
            (false, _, _) => "r",
        };
        out.push_str(&format!("perm={perm};"));
    }
    out
}

/// An `MLSD` line: facts, a space, the name, CRLF.
pub fn mlsd_line(name: &[u8], facts: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(facts.len() + name.len() + 3);
    line.extend_from_slice(facts.as_bytes());
    line.push(b' ');
    line.extend_from_slice(name);
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_ls_and_keep_raw_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        let line = list_line(b"caf\xe9", &meta, meta.mtime());
        let text = String::from_utf8_lossy(&line);
        assert!(text.starts_with("-rw"), "{text}");
        assert!(text.contains(" 5 "), "{text}");
        assert!(line.ends_with(b" caf\xe9\r\n"));
        let f = facts(&meta, &[true; 4], false, false);
        assert!(f.starts_with("type=file;size=5;modify="), "{f}");
        assert!(f.ends_with("perm=r;"));
        assert_eq!(
            facts(&meta, &[true, false, false, false], true, true),
            "type=file;"
        );
        assert_eq!(mlsd_line(b"x", "type=file;"), b"type=file; x\r\n");
    }
}
