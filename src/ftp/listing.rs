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
pub const FACTS: [&str; 5] = ["type", "size", "modify", "perm", "unix.mode"];

/// What a session may do to the tree, for the `perm` fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// Uploads, deletes, renames, new directories.
    pub writable: bool,
    /// STOR and RNTO may replace an existing file.
    pub overwrite: bool,
}

/// The `perm` letters (RFC 3659 7.5.5) of an entry: what this server lets
/// the session do to it. Files: `r` (RETR); on a writable server also `a`
/// (APPE), `d` (DELE), `f` (RNFR), and `w` (STOR over it) only with
/// overwrite. Directories: `e` (CWD), `l` (LIST); writable: `c` (STOR in it),
/// `m` (MKD in it), `p` (DELE/RMD of its entries), and `d`, `f` (RMD, RNFR)
/// unless it is the root.
pub fn perm(is_dir: bool, is_root: bool, access: Access) -> &'static str {
    match (is_dir, access.writable, is_root, access.overwrite) {
        (true, false, _, _) => "el",
        (true, true, true, _) => "celmp",
        (true, true, false, _) => "cdeflmp",
        (false, false, _, _) => "r",
        (false, true, _, false) => "adfr",
        (false, true, _, true) => "adfrw",
    }
}

/// The facts of one entry, e.g. `type=file;size=5;modify=20240501120000;perm=r;unix.mode=0644;`,
/// limited to the `enabled` ones (indexes into [`FACTS`]).
pub fn facts(meta: &Metadata, enabled: &[bool; 5], is_root: bool, access: Access) -> String {
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
        out.push_str(&format!("perm={};", perm(meta.is_dir(), is_root, access)));
    }
    if enabled[4] {
        out.push_str(&format!(
            "unix.mode={:04o};",
            meta.permissions().mode() & 0o7777
        ));
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
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        let line = list_line(b"caf\xe9", &meta, meta.mtime());
        let text = String::from_utf8_lossy(&line);
        assert!(text.starts_with("-rw"), "{text}");
        assert!(text.contains(" 5 "), "{text}");
        assert!(line.ends_with(b" caf\xe9\r\n"));
        let f = facts(&meta, &[true; 5], false, Access::default());
        assert!(f.starts_with("type=file;size=5;modify="), "{f}");
        assert!(f.ends_with("perm=r;unix.mode=0644;"), "{f}");
        let rw = Access {
            writable: true,
            overwrite: true,
        };
        assert_eq!(
            facts(&meta, &[true, false, false, false, false], false, rw),
            "type=file;"
        );
        assert_eq!(
            facts(&meta, &[false, false, false, true, false], false, rw),
            "perm=adfrw;"
        );
        assert_eq!(mlsd_line(b"x", "type=file;"), b"type=file; x\r\n");
    }

    #[test]
    fn perm_says_what_the_server_allows() {
        let ro = Access::default();
        let w = Access {
            writable: true,
            overwrite: false,
        };
        let wo = Access {
            writable: true,
            overwrite: true,
        };
        assert_eq!(perm(false, false, ro), "r");
        assert_eq!(perm(false, false, w), "adfr");
        assert_eq!(perm(false, false, wo), "adfrw");
        assert_eq!(perm(true, false, ro), "el");
        assert_eq!(perm(true, false, w), "cdeflmp");
        assert_eq!(perm(true, true, w), "celmp");
        assert_eq!(perm(true, true, ro), "el");
    }
}
