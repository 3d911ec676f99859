//! What the server tells about itself and the tree on the control
//! connection: STAT (the session's status, or a path's `ls -l` lines in the
//! reply itself), HELP (the verbs served) and SITE (HELP, CHMOD).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

use super::{Control, DataPlan};
use crate::ftp::command::{TLS_VERBS, VERBS};
use crate::ftp::listing;
use crate::human;

/// Entries STAT lists in its reply at most (LIST has no such limit).
const STAT_MAX_ENTRIES: usize = 10_000;

impl Control<'_> {
    /// STAT: the session's status without an argument, else the `ls -l`
    /// lines of a path (RFC 959: 211 and 213).
    pub(super) fn stat(&mut self, arg: &[u8]) -> io::Result<()> {
        if arg.is_empty() {
            let text = self.status_lines();
            return self.write_control(&multiline(
                211,
                "netkit ftp status",
                &text,
                "End of status",
            ));
        }
        let target = self.cwd.resolve(super::list::strip_list_options(arg));
        let found = self
            .jail
            .existing(&target)
            .and_then(|r| r.metadata().map(|m| (r, m)));
        let (real, meta) = match found {
            Ok(x) => x,
            Err(e) => return self.reply_fs_error(&e),
        };
        let items = if meta.is_dir() {
            match listing::read_dir(&self.jail, &real) {
                Ok(items) => items,
                Err(e) => return self.reply_fs_error(&e),
            }
        } else {
            let name = target.file_name().unwrap_or(OsStr::new("")).to_os_string();
            vec![listing::Item { name, meta }]
        };
        let now = human::now_unix();
        let lines: Vec<Vec<u8>> = items
            .iter()
            .take(STAT_MAX_ENTRIES)
            .map(|item| {
                let mut line = listing::list_line(item.name.as_bytes(), &item.meta, now);
                line.truncate(line.len() - 2); // the CRLF
                line
            })
            .collect();
        let mut head = b"Status of ".to_vec();
        head.extend_from_slice(&target.to_bytes());
        head.push(b':');
        self.write_control(&multiline_bytes(213, &head, &lines, b"End of status"))
    }

    /// The lines of STAT without an argument.
    fn status_lines(&self) -> Vec<Vec<u8>> {
        let user = self.user.as_deref().unwrap_or("nobody");
        let mode = if self.access.writable {
            "read-write"
        } else {
            "read-only"
        };
        let data = match &self.data_plan {
            None => "no data connection".to_string(),
            Some(DataPlan::Passive(p)) => match p.port() {
                Ok(port) => format!("passive, listening on port {port}"),
                Err(_) => "passive".to_string(),
            },
            Some(DataPlan::Active(to)) => format!("active, to {to}"),
        };
        let mut lines = vec![
            format!("Connected from {}", self.peer_ip),
            format!("Logged in as {user} ({mode})"),
            "TYPE: BINARY, STRUcture: File, MODE: Stream".to_string(),
            format!("Data connection: {data}"),
        ];
        if self.opts.tls.is_some() {
            let control = match self.stream.tls_version() {
                Some(v) => format!("Control connection: {v}"),
                None => "Control connection: clear text".to_string(),
            };
            let data = if self.protect_data {
                "Data connections: TLS (PROT P)"
            } else {
                "Data connections: clear text (PROT C)"
            };
            lines.push(control);
            lines.push(data.to_string());
        }
        lines.push("No transfer in progress".to_string());
        lines.into_iter().map(String::into_bytes).collect()
    }

    /// HELP: the verbs served, or whether one is.
    pub(super) fn help(&mut self, arg: &[u8]) -> io::Result<()> {
        let verb = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
        let mut verbs: Vec<&str> = VERBS.to_vec();
        if self.opts.tls.is_some() {
            verbs.extend_from_slice(TLS_VERBS);
            verbs.sort_unstable();
        }
        if verb.is_empty() {
            let rows: Vec<Vec<u8>> = verbs
                .chunks(8)
                .map(|row| {
                    row.iter()
                        .map(|v| format!("{v:<5}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                        .trim_end()
                        .as_bytes()
                        .to_vec()
                })
                .collect();
            let head = b"The following commands are recognized:";
            return self.write_control(&multiline_bytes(214, head, &rows, b"Help OK"));
        }
        if verbs.contains(&verb.as_str()) {
            self.reply(214, &format!("{verb} is supported"))
        } else {
            self.reply(502, &format!("Unknown command {verb}"))
        }
    }

    /// SITE HELP and SITE CHMOD.
    pub(super) fn site(&mut self, arg: &[u8]) -> io::Result<()> {
        let (what, rest) = match arg.iter().position(|&b| b == b' ') {
            Some(i) => (&arg[..i], &arg[i + 1..]),
            None => (arg, &b""[..]),
        };
        match what.to_ascii_uppercase().as_slice() {
            b"HELP" => {
                let mut rows = vec![b"HELP".to_vec()];
                if self.access.writable {
                    rows.push(b"CHMOD <mode> <path>".to_vec());
                }
                self.write_control(&multiline_bytes(
                    214,
                    b"SITE commands recognized:",
                    &rows,
                    b"Help OK",
                ))
            }
            b"CHMOD" => self.chmod(rest),
            b"" => self.reply(501, "SITE needs a command (try SITE HELP)"),
            _ => self.reply(500, "Unknown SITE command (try SITE HELP)"),
        }
    }
}

/// A multi-line reply of text lines: `code-head`, each line after a space, `code tail`.
fn multiline(code: u16, head: &str, lines: &[Vec<u8>], tail: &str) -> Vec<u8> {
    multiline_bytes(code, head.as_bytes(), lines, tail.as_bytes())
}

/// [`multiline`] for lines that may not be UTF-8 (file names). CR and LF
/// inside a line become `?`, and every inner line starts with a space, so no
/// file name can end the reply early or forge another one.
fn multiline_bytes(code: u16, head: &[u8], lines: &[Vec<u8>], tail: &[u8]) -> Vec<u8> {
    let clean = |out: &mut Vec<u8>, text: &[u8]| {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b'?' } else { b }),
        )
    };
    let mut out = format!("{code}-").into_bytes();
    clean(&mut out, head);
    out.extend_from_slice(b"\r\n");
    for line in lines {
        out.push(b' ');
        clean(&mut out, line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("{code} ").as_bytes());
    clean(&mut out, tail);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_replies_cannot_be_cut_short_by_a_name() {
        let lines = vec![b"a".to_vec(), b"evil\r\n213 End".to_vec()];
        let r = multiline_bytes(213, b"Status of /:", &lines, b"End of status");
        assert_eq!(
            r,
            b"213-Status of /:\r\n a\r\n evil??213 End\r\n213 End of status\r\n".to_vec()
        );
        let r = multiline(211, "x", &[], "y");
        assert_eq!(r, b"211-x\r\n211 y\r\n".to_vec());
    }
}
