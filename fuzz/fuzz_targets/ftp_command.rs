//! FTP command lines as the control connection reads them: cut with
//! `netkit::wire::line` (8 KiB limit), then `netkit::ftp::command::Command::parse`.
//! Never panics; arguments are slices of their line; the verb decides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::ftp::command::Command;
use netkit::wire::line;

fn inside(arg: &[u8], l: &[u8]) -> bool {
    let (a, b) = (arg.as_ptr() as usize, l.as_ptr() as usize);
    arg.is_empty() || (a >= b && a + arg.len() <= b + l.len())
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((l, n)) = line::parse(rest, 8 * 1024) {
        assert!(n <= rest.len());
        rest = &rest[n..];
        let cmd = Command::parse(l);
        let _ = cmd.allowed_before_login();
        let _ = cmd.writes();
        let _ = netkit::ftp::command::strip_telnet(l);
        let _ = netkit::ftp::command::is_abort(l);
        let _ = netkit::ftp::command::parse_port(l);
        let _ = netkit::ftp::command::parse_eprt(l);
        let arg = match cmd {
            Command::User(a)
            | Command::Opts(a)
            | Command::Cwd(a)
            | Command::Epsv(a)
            | Command::List(a, _)
            | Command::Mlst(a)
            | Command::Size(a)
            | Command::Mdtm(a)
            | Command::Retr(a)
            | Command::Stor(a)
            | Command::Pass(a)
            | Command::Appe(a)
            | Command::Stou(a)
            | Command::Dele(a)
            | Command::Rnfr(a)
            | Command::Rnto(a)
            | Command::Mkd(a)
            | Command::Rmd(a)
            | Command::Stat(a)
            | Command::Help(a)
            | Command::Site(a)
            | Command::Port(a)
            | Command::Eprt(a)
            | Command::Mfmt(a) => Some(a),
            _ => None,
        };
        if let Some(a) = arg {
            assert!(inside(a, l), "an argument outside its line");
            assert!(!a.contains(&b'\n'));
        }
        // The verb alone decides: the same verb in other case parses alike.
        let verb_end = l.iter().position(|&b| b == b' ').unwrap_or(l.len());
        let mut flipped = l.to_vec();
        flipped[..verb_end].make_ascii_lowercase();
        assert_eq!(
            std::mem::discriminant(&Command::parse(&flipped)),
            std::mem::discriminant(&cmd)
        );
    }
});
