//! lftp and curl doing what they do to a writable server: `rm`, `mkdir`,
//! `mv`, `mirror`, `mirror -R`, `ls`; `curl -Q`, `--ftp-create-dirs`, `-P`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use super::util::*;
use super::{curl, root, serve, url};

fn lftp(port: u16, commands: &str) -> (bool, String) {
    let script = format!(
        "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; \
         open -p {port} 127.0.0.1; {commands}; bye"
    );
    let out = Command::new("lftp")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("run lftp");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn lftp_rm_mkdir_mv_mirror_and_reverse_mirror_on_thread_fork_and_pool() {
    if Command::new("lftp").arg("--version").output().is_err() {
        eprintln!("skipped: lftp is not installed (apt-get install lftp)");
        return;
    }
    for model in ["thread", "fork", "pool"] {
        lftp_session(model);
    }
}

fn lftp_session(model: &str) {
    let (dir, _outside, big) = root();
    let server = serve(dir.path(), &["--writable", "--model", model]);
    let port = server.tcp().port();
    let (ok, text) = lftp(port, "rm one; mkdir made; mv sub/a.txt made/moved.txt; ls");
    assert!(ok, "{model}: {text}\n{}", server.log());
    assert!(!dir.path().join("one").exists());
    assert!(dir.path().join("made").is_dir());
    assert_eq!(
        std::fs::read(dir.path().join("made/moved.txt")).unwrap(),
        b"hello\n"
    );
    assert!(text.contains("made") && text.contains("big.bin"), "{text}");

    // mirror: the server's tree comes down, files writable locally.
    let local = tempfile::tempdir().unwrap();
    let down = local.path().join("down");
    let (ok, text) = lftp(port, &format!("mirror / {}", down.display()));
    assert!(ok, "{model}: {text}");
    assert!(std::fs::read(down.join("big.bin")).unwrap() == big);
    assert_eq!(
        std::fs::read(down.join("made/moved.txt")).unwrap(),
        b"hello\n"
    );
    let mode = std::fs::metadata(down.join("big.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert!(mode & 0o200 != 0, "mirror made big.bin read-only: {mode:o}");
    assert!(!down.join(".hidden").exists() && !down.join("out").exists());

    // mirror -R: a local tree goes up (MKD, STOR, SITE CHMOD).
    let up = local.path().join("up");
    std::fs::create_dir_all(up.join("deep/er")).unwrap();
    let payload_up = payload(300_000, 2);
    std::fs::write(up.join("deep/er/file.bin"), &payload_up).unwrap();
    std::fs::write(up.join("top.txt"), b"top").unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_614_834_367);
    let top = std::fs::File::options()
        .write(true)
        .open(up.join("top.txt"))
        .unwrap();
    top.set_modified(when).unwrap();
    let (ok, text) = lftp(port, &format!("mirror -R {} /uploaded", up.display()));
    assert!(ok, "{model}: {text}\n{}", server.log());
    assert!(std::fs::read(dir.path().join("uploaded/deep/er/file.bin")).unwrap() == payload_up);
    assert_eq!(
        std::fs::read(dir.path().join("uploaded/top.txt")).unwrap(),
        b"top"
    );
    // lftp keeps the times with MFMT.
    let mtime = std::fs::metadata(dir.path().join("uploaded/top.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, when, "{model}: mirror -R did not keep the time");
    // put -c resumes an upload cut short (REST + STOR).
    std::fs::write(dir.path().join("resumed.bin"), &payload_up[..100_000]).unwrap();
    let local_file = up.join("deep/er/file.bin");
    let (ok, text) = lftp(
        port,
        &format!("put -c {} -o resumed.bin", local_file.display()),
    );
    assert!(ok, "{model}: {text}");
    assert!(std::fs::read(dir.path().join("resumed.bin")).unwrap() == payload_up);
    // rm -r empties and removes a directory (DELE, RMD).
    let (ok, text) = lftp(port, "rm -r uploaded");
    assert!(ok, "{model}: {text}");
    assert!(!dir.path().join("uploaded").exists());
}

#[test]
fn curl_quote_commands_create_dirs_and_active_mode_on_thread_fork_and_pool() {
    for model in ["thread", "fork", "pool"] {
        curl_session(model);
    }
}

fn curl_session(model: &str) {
    let (dir, _outside, big) = root();
    let server = serve(dir.path(), &["--writable", "--model", model]);
    // -Q: raw commands before the transfer (here a listing).
    let out = curl(&[
        "-Q",
        "DELE one",
        "-Q",
        "MKD quoted",
        "-Q",
        "RNFR empty",
        "-Q",
        "RNTO quoted/renamed",
        &url(&server, "/"),
    ]);
    assert!(out.status.success(), "{model}: {out:?}");
    assert!(!dir.path().join("one").exists());
    assert!(dir.path().join("quoted/renamed").exists());
    // A refused quote command fails the transfer (curl exit 21).
    let out = curl(&["-Q", "DELE nothere", &url(&server, "/")]);
    assert_eq!(out.status.code(), Some(21), "{model}: {out:?}");

    // --ftp-create-dirs: MKD of each missing directory, then STOR.
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("f.txt");
    std::fs::write(&src, b"deep").unwrap();
    let out = curl(&[
        "--ftp-create-dirs",
        "-T",
        src.to_str().unwrap(),
        &url(&server, "/a/b/c/f.txt"),
    ]);
    assert!(out.status.success(), "{model}: {out:?}");
    assert_eq!(
        std::fs::read(dir.path().join("a/b/c/f.txt")).unwrap(),
        b"deep"
    );

    // -P: active mode, EPRT first (curl's default) and PORT (--disable-eprt).
    let got = curl(&["-P", "127.0.0.1", &url(&server, "/big.bin")]);
    assert!(
        got.status.success() && got.stdout == big,
        "{:?}",
        got.stderr
    );
    let got = curl(&["-P", "-", "--disable-eprt", &url(&server, "/big.bin")]);
    assert!(
        got.status.success() && got.stdout == big,
        "{:?}",
        got.stderr
    );
    let out = curl(&[
        "-P",
        "-",
        "-T",
        src.to_str().unwrap(),
        &url(&server, "/active.txt"),
    ]);
    assert!(out.status.success(), "{model}: {out:?}");
    assert_eq!(
        std::fs::read(dir.path().join("active.txt")).unwrap(),
        b"deep"
    );
}
