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
    /// `PASS password` (anonymous: the password is not checked).
    Pass(&'a [u8]),
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
    /// `APPE path`.
    Appe(&'a [u8]),
    /// `STOU [name]`: store under a unique name (the argument, if any, is its stem).
    Stou(&'a [u8]),
    /// `DELE path`.
    Dele(&'a [u8]),
    /// `RNFR path`.
    Rnfr(&'a [u8]),
    /// `RNTO path`.
    Rnto(&'a [u8]),
    /// `MKD path` / `XMKD path`.
    Mkd(&'a [u8]),
    /// `RMD path` / `XRMD path`.
    Rmd(&'a [u8]),
    /// `STAT [path]`.
    Stat(&'a [u8]),
    /// `HELP [verb]`.
    Help(&'a [u8]),
    /// `SITE subcommand args`.
    Site(&'a [u8]),
    /// `MFMT YYYYMMDDHHMMSS path`: set a file's modification time.
    Mfmt(&'a [u8]),
    /// `ALLO n`: nothing to reserve (202).
    Allo,
    /// `ABOR` between transfers (during one it is seen by the transfer itself).
    Abor,
    /// `PORT h1,h2,h3,h4,p1,p2`.
    Port(&'a [u8]),
    /// `EPRT |proto|addr|port|`.
    Eprt(&'a [u8]),
    /// `AUTH TLS` (or `AUTH SSL`): FTPS, RFC 4217.
    Auth(&'a [u8]),
    /// `PBSZ n`: the protection buffer size (0 for TLS).
    Pbsz(&'a [u8]),
    /// `PROT P|C`: whether data connections use TLS.
    Prot(&'a [u8]),
    /// `CCC`: drop TLS from the control connection (refused).
    Ccc,
    /// A known FTP verb this server does not implement (502).
    NotImplemented,
    /// Anything else (500).
    Unknown,
}

/// Verbs of RFC 959 and its extensions that are answered 502.
const NOT_IMPLEMENTED: &[&str] = &["ACCT", "LPRT", "LPSV", "REIN", "SMNT", "ADAT"];

/// The verbs of FTPS (RFC 4217) this server carries out when it has TLS, for `HELP`.
pub const TLS_VERBS: &[&str] = &["AUTH", "PBSZ", "PROT"];

/// Every verb this server carries out (with [`TLS_VERBS`] when it has TLS), for `HELP`.
pub const VERBS: &[&str] = &[
    "ABOR", "ALLO", "APPE", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP", "LIST", "MDTM",
    "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PORT", "PWD",
    "QUIT", "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STAT", "STOR", "STOU", "STRU",
    "SYST", "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
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
            "PASS" => Command::Pass(arg),
            "QUIT" => Command::Quit,
            "SYST" => Command::Syst,
            "FEAT" => Command::Feat,
            "NOOP" => Command::Noop,
            "OPTS" => Command::Opts(arg),
            "PWD" | "XPWD" => Command::Pwd,
            "CWD" | "XCWD" => Command::Cwd(arg),
            "CDUP" | "XCUP" => Command::Cdup,
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
            "APPE" => Command::Appe(arg),
            "STOU" => Command::Stou(arg),
            "DELE" => Command::Dele(arg),
            "RNFR" => Command::Rnfr(arg),
            "RNTO" => Command::Rnto(arg),
            "MKD" | "XMKD" => Command::Mkd(arg),
            "RMD" | "XRMD" => Command::Rmd(arg),
            "STAT" => Command::Stat(arg),
            "HELP" => Command::Help(arg),
            "SITE" => Command::Site(arg),
            "MFMT" => Command::Mfmt(arg),
            "ALLO" => Command::Allo,
            "ABOR" => Command::Abor,
            "PORT" => Command::Port(arg),
            "EPRT" => Command::Eprt(arg),
            "AUTH" => Command::Auth(arg),
            "PBSZ" => Command::Pbsz(arg),
            "PROT" => Command::Prot(arg),
            "CCC" => Command::Ccc,
            v if NOT_IMPLEMENTED.contains(&v) => Command::NotImplemented,
            _ => Command::Unknown,
        }
    }

    /// True for the commands a client may send before logging in.
    pub fn allowed_before_login(&self) -> bool {
        matches!(
            self,
            Command::User(_)
                | Command::Pass(_)
                | Command::Quit
                | Command::Syst
                | Command::Feat
                | Command::Noop
                | Command::Opts(_)
                | Command::Help(_)
                | Command::Auth(_)
                | Command::Pbsz(_)
                | Command::Prot(_)
                | Command::Ccc
        )
    }

    /// True for the commands that change the tree (refused on a read-only server).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Command::Stor(_)
                | Command::Appe(_)
                | Command::Stou(_)
                | Command::Dele(_)
                | Command::Rnfr(_)
                | Command::Rnto(_)
                | Command::Mkd(_)
                | Command::Rmd(_)
                | Command::Mfmt(_)
        )
    }
}

/// Removes Telnet commands from a command line (RFC 959 speaks Telnet on the
/// control connection): `IAC IP` and `IAC DM`, which clients send before an
/// urgent `ABOR`, and option negotiation; `IAC IAC` is a literal 0xFF byte.
pub fn strip_telnet(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const IAC: u8 = 0xff;
    if !line.contains(&IAC) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        match (line[i], line.get(i + 1)) {
            (IAC, Some(&IAC)) => {
                out.push(IAC);
                i += 2;
            }
            // WILL, WONT, DO, DONT carry an option byte.
            (IAC, Some(0xfb..=0xfe)) => i += 3,
            (IAC, Some(0xf0..=0xfa)) => i += 2,
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// True if `line` (Telnet commands included) is an `ABOR` command.
pub fn is_abort(line: &[u8]) -> bool {
    let line = strip_telnet(line);
    // A lone DM left inline by an urgent send counts as Telnet noise too.
    let line: Vec<u8> = line.iter().copied().filter(|&b| b != 0xf2).collect();
    line.trim_ascii().eq_ignore_ascii_case(b"ABOR")
}

/// True if `line` is `STAT` without an argument (during a transfer: its status).
pub fn is_bare_stat(line: &[u8]) -> bool {
    strip_telnet(line)
        .trim_ascii()
        .eq_ignore_ascii_case(b"STAT")
}

/// Why a `PORT` or `EPRT` argument is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Not the syntax of the command (501).
    Syntax,
    /// An EPRT network protocol other than 1 (IPv4) or 2 (IPv6) (522).
    Protocol,
}

/// The address of `PORT h1,h2,h3,h4,p1,p2`.
pub fn parse_port(arg: &[u8]) -> Result<std::net::SocketAddr, AddressError> {
    let text = std::str::from_utf8(arg).map_err(|_| AddressError::Syntax)?;
    let n: Vec<u8> = text
        .trim()
        .split(',')
        .map(|x| x.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| AddressError::Syntax)?;
    let [a, b, c, d, p1, p2] = n[..] else {
        return Err(AddressError::Syntax);
    };
    let ip = std::net::Ipv4Addr::new(a, b, c, d);
    Ok(std::net::SocketAddr::new(
        ip.into(),
        u16::from_be_bytes([p1, p2]),
    ))
}

/// The address of `EPRT |proto|addr|port|` (RFC 2428; any delimiter byte).
pub fn parse_eprt(arg: &[u8]) -> Result<std::net::SocketAddr, AddressError> {
    let text = std::str::from_utf8(arg).map_err(|_| AddressError::Syntax)?;
    let text = text.trim();
    let delim = text.chars().next().ok_or(AddressError::Syntax)?;
    if !(33..=126).contains(&(delim as u32)) {
        return Err(AddressError::Syntax);
    }
    let parts: Vec<&str> = text.split(delim).collect();
    let ["", proto, addr, port, ""] = parts[..] else {
        return Err(AddressError::Syntax);
    };
    let port: u16 = port.parse().map_err(|_| AddressError::Syntax)?;
    let ip: std::net::IpAddr = match proto {
        "1" => addr
            .parse::<std::net::Ipv4Addr>()
            .map_err(|_| AddressError::Syntax)?
            .into(),
        "2" => addr
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| AddressError::Syntax)?
            .into(),
        _ => return Err(AddressError::Protocol),
    };
    Ok(std::net::SocketAddr::new(ip, port))
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
        assert_eq!(Command::parse(b"DELE x"), Command::Dele(b"x"));
        assert_eq!(Command::parse(b"xmkd d"), Command::Mkd(b"d"));
        assert_eq!(Command::parse(b"XRMD d"), Command::Rmd(b"d"));
        assert_eq!(Command::parse(b"XCWD d"), Command::Cwd(b"d"));
        assert_eq!(
            Command::parse(b"PORT 1,2,3,4,5,6"),
            Command::Port(b"1,2,3,4,5,6")
        );
        assert_eq!(Command::parse(b"REIN"), Command::NotImplemented);
        assert_eq!(Command::parse(b"ADAT x"), Command::NotImplemented);
        assert_eq!(Command::parse(b"auth tls"), Command::Auth(b"tls"));
        assert_eq!(Command::parse(b"PBSZ 0"), Command::Pbsz(b"0"));
        assert_eq!(Command::parse(b"PROT P"), Command::Prot(b"P"));
        assert_eq!(Command::parse(b"CCC"), Command::Ccc);
        assert_eq!(Command::parse(b"HELLO"), Command::Unknown);
        assert_eq!(Command::parse(b""), Command::Unknown);
        assert_eq!(Command::parse(b"\xff\xfe"), Command::Unknown);
    }

    #[test]
    fn what_may_come_before_login() {
        let before = "USER x|PASS y|QUIT|SYST|FEAT|NOOP|OPTS UTF8 ON|AUTH TLS|PBSZ 0|PROT P|CCC";
        for line in before.split('|') {
            assert!(
                Command::parse(line.as_bytes()).allowed_before_login(),
                "{line}"
            );
        }
        for line in "LIST|RETR x|PWD|PASV|DELE x|BOGUS|PORT 1,2,3,4,5,6|SITE HELP".split('|') {
            assert!(
                !Command::parse(line.as_bytes()).allowed_before_login(),
                "{line}"
            );
        }
    }

    #[test]
    fn every_verb_in_help_is_parsed() {
        for verb in VERBS.iter().chain(TLS_VERBS) {
            let line = format!("{verb} x");
            let c = Command::parse(line.as_bytes());
            assert!(
                !matches!(c, Command::Unknown | Command::NotImplemented),
                "{verb}"
            );
        }
        assert!(Command::parse(b"DELE x").writes());
        assert!(Command::parse(b"RNTO x").writes());
        assert!(!Command::parse(b"RETR x").writes());
        assert!(!Command::parse(b"SITE CHMOD 644 x").writes());
    }

    #[test]
    fn telnet_commands_are_removed() {
        assert_eq!(&*strip_telnet(b"ABOR"), b"ABOR");
        assert_eq!(&*strip_telnet(b"\xff\xf4\xff\xf2ABOR"), b"ABOR");
        assert_eq!(&*strip_telnet(b"RETR a\xff\xffb"), b"RETR a\xffb");
        assert_eq!(&*strip_telnet(b"\xff\xfb\x01NOOP"), b"NOOP");
        assert_eq!(&*strip_telnet(b"x\xff"), b"x\xff");
        assert!(is_abort(b"\xff\xf4\xff\xf2ABOR"));
        assert!(is_abort(b"abor"));
        assert!(is_abort(b"\xf2ABOR"));
        assert!(!is_abort(b"ABORT"));
        assert!(!is_abort(b"NOOP"));
        assert!(is_bare_stat(b"stat"));
        assert!(!is_bare_stat(b"STAT /"));
    }

    #[test]
    fn port_and_eprt_addresses() {
        let a = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert_eq!(parse_port(b"127,0,0,1,4,1"), Ok(a("127.0.0.1:1025")));
        assert_eq!(parse_port(b" 10,1,2,3,195,81 "), Ok(a("10.1.2.3:50001")));
        for bad in [
            "",
            "1,2,3,4,5",
            "1,2,3,4,5,6,7",
            "256,0,0,1,1,1",
            "a,b,c,d,e,f",
        ] {
            assert_eq!(
                parse_port(bad.as_bytes()),
                Err(AddressError::Syntax),
                "{bad}"
            );
        }
        assert_eq!(
            parse_eprt(b"|1|132.235.1.2|6275|"),
            Ok(a("132.235.1.2:6275"))
        );
        assert_eq!(parse_eprt(b"|2|::1|5282|"), Ok(a("[::1]:5282")));
        assert_eq!(parse_eprt(b"!1!127.0.0.1!80!"), Ok(a("127.0.0.1:80")));
        assert_eq!(parse_eprt(b"|3|x|1|"), Err(AddressError::Protocol));
        for bad in [
            "",
            "|1|127.0.0.1|",
            "|1|::1|80|",
            "|2|1.2.3.4|80|",
            "|1|1.2.3.4|99999|",
            " 1 ",
        ] {
            assert_eq!(
                parse_eprt(bad.as_bytes()),
                Err(AddressError::Syntax),
                "{bad}"
            );
        }
    }
}
