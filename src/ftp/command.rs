//! FTP command lines parsed in a pure step: bytes in, a [`Command`] out, so
//! every verb's syntax is unit-tested without a socket. The control
//! connection (`control/`) only carries them out.

/// What a `LIST`-like command shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// LIST: `ls -l` lines.
    Long,
    /// NLST: names only.
    Names,
    /// MLSD: RFC 3659 facts.
    Facts,
}

/// A transfer type (`TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `TYPE I` or `TYPE L 8`.
    Binary,
    /// `TYPE A` or `TYPE A N` (files are sent unchanged all the same).
    Ascii,
    /// Anything else: refused with 504.
    Unsupported,
}

/// One parsed command line; arguments borrow the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `USER name`.
    User(&'a [u8]),
    /// `PASS anything` (anonymous: the password is not checked).
    Pass,
    /// `QUIT`.
    Quit,
    /// `SYST`.
    Syst,
    /// `FEAT`.
    Feat,
    /// `NOOP`.
    Noop,
    /// `OPTS option value`.
    Opts(&'a [u8]),
    /// `PWD` / `XPWD`.
    Pwd,
    /// `CWD path`.
    Cwd(&'a [u8]),
    /// `CDUP`.
    Cdup,
    /// `TYPE code`.
    Type(TransferType),
    /// `MODE x`: true for S (stream), the only mode served.
    Mode(bool),
    /// `STRU x`: true for F (file), the only structure served.
    Stru(bool),
    /// `PASV`.
    Pasv,
    /// `EPSV [proto|ALL]`.
    Epsv(&'a [u8]),
    /// `LIST`, `NLST`, `MLSD` with an optional path.
    List(&'a [u8], Listing),
    /// `MLST path`.
    Mlst(&'a [u8]),
    /// `SIZE path`.
    Size(&'a [u8]),
    /// `MDTM path`.
    Mdtm(&'a [u8]),
    /// `RETR path`.
    Retr(&'a [u8]),
    /// `STOR path`.
    Stor(&'a [u8]),
    /// `REST offset`; `None` when the offset is not a number.
    Rest(Option<u64>),
    /// A known FTP verb this server does not implement (502).
    NotImplemented,
    /// Anything else (500).
    Unknown,
}

/// Verbs of RFC 959 and its extensions that are answered 502.
const NOT_IMPLEMENTED: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "DELE", "EPRT", "HELP", "LPRT", "LPSV", "MKD", "PORT", "REIN",
    "RMD", "RNFR", "RNTO", "SITE", "SMNT", "STAT", "STOU", "XCUP", "XCWD", "XMKD", "XRMD", "AUTH",
    "PBSZ", "PROT", "CCC", "ADAT",
];

impl<'a> Command<'a> {
    /// Parses one command line (without its CRLF): the verb is
    /// case-insensitive, the argument is everything after the first space.
    pub fn parse(line: &'a [u8]) -> Command<'a> {
        let (verb, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
        match verb.as_str() {
            "USER" => Command::User(arg),
            "PASS" => Command::Pass,
            "QUIT" => Command::Quit,
            "SYST" => Command::Syst,
            "FEAT" => Command::Feat,
            "NOOP" => Command::Noop,
            "OPTS" => Command::Opts(arg),
            "PWD" | "XPWD" => Command::Pwd,
            "CWD" => Command::Cwd(arg),
            "CDUP" => Command::Cdup,
            "TYPE" => Command::Type(
                match String::from_utf8_lossy(arg).to_ascii_uppercase().trim() {
                    "I" | "L 8" => TransferType::Binary,
                    "A" | "A N" => TransferType::Ascii,
                    _ => TransferType::Unsupported,
                },
            ),
            "MODE" => Command::Mode(matches!(arg, b"S" | b"s")),
            "STRU" => Command::Stru(matches!(arg, b"F" | b"f")),
            "PASV" => Command::Pasv,
            "EPSV" => Command::Epsv(arg),
            "LIST" => Command::List(arg, Listing::Long),
            "NLST" => Command::List(arg, Listing::Names),
            "MLSD" => Command::List(arg, Listing::Facts),
            "MLST" => Command::Mlst(arg),
            "SIZE" => Command::Size(arg),
            "MDTM" => Command::Mdtm(arg),
            "RETR" => Command::Retr(arg),
            "STOR" => Command::Stor(arg),
            "REST" => Command::Rest(
                std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.trim().parse().ok()),
            ),
            v if NOT_IMPLEMENTED.contains(&v) => Command::NotImplemented,
            _ => Command::Unknown,
        }
    }

    /// True for the commands a client may send before logging in.
    pub fn allowed_before_login(&self) -> bool {
        matches!(
            self,
            Command::User(_)
                | Command::Pass
                | Command::Quit
                | Command::Syst
                | Command::Feat
                | Command::Noop
                | Command::Opts(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive_and_take_the_rest_of_the_line() {
        assert_eq!(
            Command::parse(b"user anonymous"),
            Command::User(b"anonymous")
        );
        assert_eq!(Command::parse(b"RETR a b.txt"), Command::Retr(b"a b.txt"));
        assert_eq!(Command::parse(b"LIST"), Command::List(b"", Listing::Long));
        assert_eq!(
            Command::parse(b"mlsd /x"),
            Command::List(b"/x", Listing::Facts)
        );
        assert_eq!(Command::parse(b"XPWD"), Command::Pwd);
        assert_eq!(Command::parse(b"CDUP"), Command::Cdup);
    }

    #[test]
    fn arguments_with_rules() {
        use TransferType::{Ascii, Binary, Unsupported};
        let types = [
            ("i", Binary),
            ("L 8", Binary),
            ("A N", Ascii),
            ("E", Unsupported),
        ];
        for (arg, t) in types {
            let line = format!("TYPE {arg}");
            assert_eq!(Command::parse(line.as_bytes()), Command::Type(t), "{line}");
        }
        assert_eq!(Command::parse(b"MODE s"), Command::Mode(true));
        assert_eq!(Command::parse(b"MODE B"), Command::Mode(false));
        assert_eq!(Command::parse(b"STRU F"), Command::Stru(true));
        assert_eq!(Command::parse(b"STRU R"), Command::Stru(false));
        assert_eq!(Command::parse(b"REST 100"), Command::Rest(Some(100)));
        assert_eq!(Command::parse(b"REST -1"), Command::Rest(None));
        assert_eq!(Command::parse(b"REST"), Command::Rest(None));
    }

    #[test]
    fn unknown_and_unimplemented() {
        assert_eq!(Command::parse(b"DELE x"), Command::NotImplemented);
        assert_eq!(Command::parse(b"PORT 1,2,3,4,5,6"), Command::NotImplemented);
        assert_eq!(Command::parse(b"HELLO"), Command::Unknown);
        assert_eq!(Command::parse(b""), Command::Unknown);
        assert_eq!(Command::parse(b"\xff\xfe"), Command::Unknown);
    }

    #[test]
    fn what_may_come_before_login() {
        let before = "USER x|PASS y|QUIT|SYST|FEAT|NOOP|OPTS UTF8 ON";
        for line in before.split('|') {
            assert!(
                Command::parse(line.as_bytes()).allowed_before_login(),
                "{line}"
            );
        }
        for line in "LIST|RETR x|PWD|PASV|DELE x|BOGUS".split('|') {
            assert!(
                !Command::parse(line.as_bytes()).allowed_before_login(),
                "{line}"
            );
        }
    }
}
