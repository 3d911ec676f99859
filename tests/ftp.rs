//! `netkit ftp` end to end with clients nobody here wrote (curl, lftp, Python's
//! ftplib) and with raw control commands, over real sockets on 127.0.0.1.
//! lftp is skipped (with a note) when it is not installed. FTPS (AUTH TLS)
//! is tested in `ftp/ftps.rs`.

mod util;

#[path = "ftp/clients.rs"]
mod clients;
#[path = "ftp/commands.rs"]
mod commands;
#[path = "ftp/ftps.rs"]
mod ftps;
#[path = "ftp/logins.rs"]
mod logins;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use util::*;

/// Starts `netkit ftp serve ROOT --port 0` with `extra` options.
fn serve(root: &Path, extra: &[&str]) -> Running {
    let root = root.to_str().expect("utf-8 temp path");
    let mut args = vec![
        "ftp",
        "serve",
        root,
        "--port",
        "0",
        "--shutdown-timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    Running(Server::start(&args))
}

/// A root with a random 3 MiB file, a 1-byte and a 0-byte file, a
/// subdirectory, a hidden file and a symlink that leads outside.
fn root() -> (tempfile::TempDir, tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let big = payload(3 << 20, 9);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("one"), b"1").unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a.txt"), b"hello\n").unwrap();
    std::fs::write(dir.path().join(".hidden"), b"h").unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
    (dir, outside, big)
}

fn url(server: &Running, path: &str) -> String {
    format!("ftp://{}{path}", server.tcp())
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed")
}

#[test]
fn curl_lists_downloads_and_uploads() {
    let (dir, _outside, big) = root();
    // A name that is not UTF-8 must be listed, not crash the server.
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(dir.path().join(latin1), b"e").unwrap();
    let server = serve(dir.path(), &["--writable"]);

    let list = curl(&[&url(&server, "/")]);
    assert!(list.status.success(), "{list:?}");
    let text = String::from_utf8_lossy(&list.stdout);
    // (curl turns the CRLF of an ASCII listing into LF.)
    assert!(
        text.lines()
            .any(|l| l.starts_with('-') && l.ends_with(" big.bin")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" sub")),
        "{text}"
    );
    assert!(!text.contains("hidden") && !text.contains(" out"), "{text}");
    assert!(
        list.stdout.windows(8).any(|w| w == b"caf\xe9.txt"),
        "raw name listed"
    );

    let names = curl(&["-l", &url(&server, "/sub/")]);
    assert_eq!(String::from_utf8_lossy(&names.stdout).trim_end(), "a.txt");

    // Download (EPSV, curl's default) and with plain PASV, and a range (REST).
    let got = curl(&[&url(&server, "/big.bin")]);
    assert!(got.status.success() && got.stdout == big);
    let got = curl(&["--disable-epsv", &url(&server, "/big.bin")]);
    assert!(got.status.success() && got.stdout == big);
    let got = curl(&["-r", "1000-", &url(&server, "/big.bin")]);
    assert!(got.stdout == big[1000..]);
    assert!(curl(&[&url(&server, "/empty")]).stdout.is_empty());

    // Upload with -T: stored atomically, byte for byte; a second upload is refused.
    let local = tempfile::tempdir().unwrap();
    let up = payload((2 << 20) + 11, 5);
    let src = local.path().join("up.bin");
    std::fs::write(&src, &up).unwrap();
    let put = curl(&["-T", src.to_str().unwrap(), &url(&server, "/sub/up.bin")]);
    assert!(put.status.success(), "{put:?}");
    assert!(std::fs::read(dir.path().join("sub/up.bin")).unwrap() == up);
    let again = curl(&["-T", src.to_str().unwrap(), &url(&server, "/sub/up.bin")]);
    assert_eq!(again.status.code(), Some(25), "{again:?}"); // curl: upload failed
    // Nothing escapes the root, through .. or through a symlink.
    assert!(!curl(&[&url(&server, "/out/secret")]).status.success());
    assert!(
        !curl(&["-T", src.to_str().unwrap(), &url(&server, "/out/evil")])
            .status
            .success()
    );
    assert!(!_outside.path().join("evil").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

use std::os::unix::ffi::OsStrExt;

/// `--no-sync`: STOR is confirmed without fsync, and the file is still whole.
#[test]
fn no_sync_stor_stores_the_whole_file() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--writable", "--no-sync"]);
    assert!(server.log().contains("no fsync"), "{}", server.log());
    let local = tempfile::tempdir().unwrap();
    let up = payload((3 << 20) + 5, 8);
    let src = local.path().join("up.bin");
    std::fs::write(&src, &up).unwrap();
    let put = curl(&["-T", src.to_str().unwrap(), &url(&server, "/nosync.bin")]);
    assert!(put.status.success(), "{put:?}");
    assert!(std::fs::read(dir.path().join("nosync.bin")).unwrap() == up);
}

#[test]
fn python_ftplib_script() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--writable", "--model", "fork"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftp/ftplib_client.py");
    let out = Command::new("python3")
        .args([script, "127.0.0.1", &server.tcp().port().to_string()])
        .arg(dir.path())
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "ftplib script failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ftplib: OK"));
}

#[test]
fn lftp_lists_downloads_and_uploads() {
    if Command::new("lftp").arg("--version").output().is_err() {
        eprintln!("skipped: lftp is not installed (apt-get install lftp)");
        return;
    }
    let (dir, _outside, big) = root();
    let server = serve(dir.path(), &["--writable", "--model", "pool"]);
    let local = tempfile::tempdir().unwrap();
    let up = payload(1 << 20, 3);
    std::fs::write(local.path().join("up.bin"), &up).unwrap();
    let script = format!(
        "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; \
         open -p {} 127.0.0.1; ls; cls -l sub; get big.bin -o {}/big.bin; \
         put {}/up.bin -o sub/lftp.bin; cd sub; ls; bye",
        server.tcp().port(),
        local.path().display(),
        local.path().display()
    );
    let out = Command::new("lftp")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("big.bin") && text.contains("lftp.bin"),
        "{text}"
    );
    assert!(std::fs::read(local.path().join("big.bin")).unwrap() == big);
    assert!(std::fs::read(dir.path().join("sub/lftp.bin")).unwrap() == up);
}

// ---- raw control connection ---------------------------------------------------

struct Ctl {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Ctl {
    fn connect(server: &Running) -> Ctl {
        let s = TcpStream::connect(server.tcp()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Ctl {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        assert!(c.reply().starts_with("220 "));
        c
    }

    fn login(server: &Running) -> Ctl {
        let mut c = Ctl::connect(server);
        assert!(c.cmd("USER anonymous").starts_with("331 "));
        assert!(c.cmd("PASS x@y").starts_with("230 "));
        c
    }

    /// One whole reply (multi-line replies joined with \n); empty at EOF.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        let mut first: Option<String> = None;
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                return all;
            }
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            all.push_str(&line);
            let code = line.get(..3).unwrap_or("").to_string();
            match &first {
                None if line.as_bytes().get(3) == Some(&b'-') => first = Some(code),
                None => return all,
                Some(c) if *c == code && line.as_bytes().get(3) == Some(&b' ') => return all,
                Some(_) => {}
            }
            all.push('\n');
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// PASV, connecting the data socket to the announced port.
    fn pasv(&mut self) -> TcpStream {
        let r = self.cmd("PASV");
        assert!(r.starts_with("227 "), "{r}");
        let inner = &r[r.find('(').unwrap() + 1..r.find(')').unwrap()];
        let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
        let port = n[4] * 256 + n[5];
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

#[test]
fn control_commands_replies_and_refusals() {
    let (dir, _outside, big) = root();
    let server = serve(
        dir.path(),
        &["--passive-timeout", "1s", "--passive-ports", "40100-40110"],
    );
    let mut c = Ctl::connect(&server);
    assert!(c.cmd("PWD").starts_with("530 "));
    assert!(
        c.cmd("USER bob").starts_with("331 "),
        "no probing for names"
    );
    assert!(c.cmd("PASS x").starts_with("530 "), "no such account");
    assert!(c.cmd("PASS x").starts_with("503 "));
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8");
    assert_eq!(
        c.cmd("FEAT"),
        "211-Features:\n EPRT\n EPSV\n MDTM\n MFMT\n MLST type*;size*;modify*;perm*;unix.mode*;\n PASV\n REST STREAM\n SIZE\n UTF8\n211 End"
    );
    assert!(c.cmd("OPTS UTF8 ON").starts_with("200 "));
    assert!(c.cmd("user anonymous").starts_with("331 "));
    assert!(c.cmd("pass guest").starts_with("230 "));
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory");
    assert!(c.cmd("CWD sub").starts_with("250 "));
    assert_eq!(c.cmd("PWD"), "257 \"/sub\" is the current directory");
    assert!(c.cmd("CDUP").starts_with("250 "));
    assert!(c.cmd("CWD ../../..").starts_with("250 "));
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory");
    assert!(
        c.cmd("CWD out").starts_with("550 "),
        "symlink leaving the root"
    );
    assert!(c.cmd("CWD .hidden").starts_with("550 "));
    assert!(c.cmd("CWD big.bin").starts_with("550 "));
    for (cmd, code) in [
        ("TYPE I", "200"),
        ("TYPE A", "200"),
        ("TYPE L 8", "200"),
        ("TYPE E", "504"),
        ("MODE S", "200"),
        ("MODE B", "504"),
        ("STRU F", "200"),
        ("STRU R", "504"),
        ("NOOP", "200"),
        ("SIZE big.bin", "213"),
        ("SIZE sub", "550"),
        ("SIZE out/secret", "550"),
        ("SIZE .hidden", "550"),
        ("MDTM one", "213"),
        ("REST abc", "501"),
        ("STOR new.txt", "550"), // read-only server
        ("DELE one", "550"),     // read-only server
        ("SITE CHMOD 777 one", "550"),
        ("PORT 10,0,0,1,4,1", "500"), // not the client's address
        ("REIN", "502"),
        ("XYZZY", "500"),
        ("RETR one", "425"), // no PASV first
        ("EPSV 2", "522"),
        ("MLSD big.bin", "501"),
    ] {
        let r = c.cmd(cmd);
        assert!(r.starts_with(code), "{cmd}: {r}");
    }
    assert_eq!(c.cmd("SIZE big.bin"), format!("213 {}", big.len()));
    assert!(c.cmd("MLST one").contains("type=file;size=1;"));

    // PASV within --passive-ports, a REST download, then MLSD with chosen facts.
    let data = c.pasv();
    assert!((40100..=40110).contains(&data.peer_addr().unwrap().port()));
    assert!(c.cmd("REST 3145700").starts_with("350 "));
    assert!(c.cmd("RETR big.bin").starts_with("150 "));
    let mut got = Vec::new();
    let mut data = data;
    data.read_to_end(&mut got).unwrap();
    assert!(got == big[3_145_700..]);
    assert!(c.reply().starts_with("226 "));
    assert!(
        c.cmd("OPTS MLST type;size;")
            .starts_with("200 MLST OPTS type;size;")
    );
    let mut data = c.pasv();
    assert!(c.cmd("MLSD").starts_with("150 "));
    let mut listing = String::new();
    data.read_to_string(&mut listing).unwrap();
    assert!(listing.contains("type=file;size=1; one\r\n"), "{listing}");
    assert!(listing.contains("type=dir; sub\r\n"), "{listing}");
    assert!(
        !listing.contains("hidden") && !listing.contains(" out"),
        "{listing}"
    );
    assert!(c.reply().starts_with("226 "));

    // A passive port nobody connects to: 425 after the passive timeout.
    let r = c.cmd("PASV");
    assert!(r.starts_with("227 "));
    assert!(c.cmd("LIST").starts_with("425 "));

    // Over-long command line: 500 and a close.
    let mut long = Ctl::connect(&server);
    long.send_raw(&vec![b'A'; 20_000]);
    assert!(long.reply().starts_with("500 "));
    assert_eq!(long.reply(), "");

    assert!(c.cmd("QUIT").starts_with("221 "));
    assert_eq!(c.reply(), "");
}

#[test]
fn idle_control_connection_gets_421_and_a_close() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--idle-timeout", "1s"]);
    let mut c = Ctl::login(&server);
    assert!(c.reply().starts_with("421 "));
    assert_eq!(c.reply(), "");
}

#[test]
fn upload_cut_off_when_the_client_dies_leaves_no_file() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--writable"]);
    let mut c = Ctl::login(&server);
    let mut data = c.pasv();
    assert!(c.cmd("STOR half.bin").starts_with("150 "));
    data.write_all(&payload(500_000, 1)).unwrap();
    // The client dies: the control connection closes first, then the data connection.
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    drop(data);
    std::thread::sleep(Duration::from_millis(300));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(!dir.path().join("half.bin").exists());
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_dir(dir.path())
            .unwrap()
            .all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".netkit"))),
        "{names:?}"
    );
}

#[test]
fn blocking_models_serve_and_event_loops_are_refused() {
    let (dir, _outside, big) = root();
    for model in ["thread", "pool", "fork", "prefork"] {
        let server = serve(dir.path(), &["--model", model]);
        assert!(server.log().contains(&format!("model {model}")));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let got = curl(&[&url(&server, "/big.bin")]);
                    assert!(got.status.success() && got.stdout == big, "{model}");
                });
            }
        });
    }
    for model in ["epoll", "select", "async", "uring"] {
        let out = Command::new(bin())
            .args(["ftp", "serve", ".", "--port", "0", "--model", model])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("cannot run a blocking handler"), "{err}");
    }
}

/// Disk full during STOR: 552, and no file or temporary is left. Needs root to
/// mount a 1 MiB tmpfs; skipped (with a note) where that is not possible.
#[test]
fn disk_full_during_stor_gets_552_and_leaves_nothing() {
    let Some(tiny) = Tmpfs::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let mnt = tiny.path().to_path_buf();
    let server = serve(&mnt, &["--writable"]);
    let mut c = Ctl::login(&server);
    let mut data = c.pasv();
    assert!(c.cmd("STOR big.bin").starts_with("150 "));
    // The server stops reading once the disk is full, so write from a thread.
    let writer = std::thread::spawn(move || {
        let _ = data.write_all(&payload(3 << 20, 4));
    });
    let r = c.reply();
    assert!(r.starts_with("552 "), "{r}");
    writer.join().unwrap();
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(c.cmd("NOOP").starts_with("200 "));
    drop(server);
}
