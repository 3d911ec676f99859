//! What a packager ships next to the binary: completions and man pages made
//! from the command line, the licence files, and contrib/'s systemd units
//! and Dockerfile, each run as written.

mod util;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use util::{Running, Server, bin, eventually, free_port};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn netkit(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run netkit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// curl -i: the status line and headers, then the body.
fn curl_i(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", url])
        .output()
        .expect("curl");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The bash completion works in bash: it completes subcommands and the
/// options of a nested one; zsh, fish, elvish and PowerShell scripts are
/// generated too.
#[test]
fn completions_complete_commands_and_options() {
    let (ok, script, err) = netkit(&["completions", "bash"]);
    assert!(ok, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("netkit.bash");
    std::fs::write(&file, &script).unwrap();
    let complete = |words: &str, cword: usize| -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; \
                 COMP_POINT=${{#COMP_LINE}}; \
                 _netkit netkit \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                file.display()
            ))
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let subs = complete("netkit ''", 1);
    for sub in [
        "http",
        "files",
        "ftp",
        "chat",
        "bench",
        "completions",
        "man",
    ] {
        assert!(
            subs.lines().any(|l| l == sub),
            "{sub} missing from:\n{subs}"
        );
    }
    let opts = complete("netkit files serve --wr", 3);
    assert!(opts.lines().any(|l| l == "--writable"), "{opts}");
    let models = complete("netkit http --model ''", 3);
    assert!(
        models.lines().any(|l| l == "uring") && models.lines().any(|l| l == "epoll"),
        "{models}"
    );

    for (shell, needle) in [
        ("zsh", "#compdef netkit"),
        ("fish", "complete -c netkit"),
        ("elvish", "netkit"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (ok, script, err) = netkit(&["completions", shell]);
        assert!(ok && script.contains(needle), "{shell}: {err}");
        assert!(
            script.contains("max-upload"),
            "{shell} lacks http's options"
        );
    }
    let (ok, _, err) = netkit(&["completions", "tcsh"]);
    assert!(!ok && err.contains("invalid value 'tcsh'"), "{err}");
}

/// `netkit man` is netkit(1); `--dir` writes a page per command, each
/// naming its options, and `man` renders them.
#[test]
fn man_pages_for_every_command() {
    let (ok, page, err) = netkit(&["man"]);
    assert!(ok, "{err}");
    assert!(page.contains(".TH netkit 1"), "{page}");
    assert!(page.contains("netkit\\-http(1)"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let (ok, listed, err) = netkit(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(ok, "{err}");
    let written: Vec<&str> = listed.lines().collect();
    for name in [
        "netkit.1",
        "netkit-http.1",
        "netkit-files-serve.1",
        "netkit-ftp-serve.1",
        "netkit-chat-join.1",
        "netkit-bench-models.1",
        "netkit-recv.1",
    ] {
        let path = dir.path().join(name);
        assert!(path.exists(), "{name} not in {written:?}");
        assert!(written.contains(&path.to_str().unwrap()), "{written:?}");
    }
    assert!(
        !written.iter().any(|p| p.ends_with("-help.1")),
        "no pages for `help`: {written:?}"
    );
    let http = std::fs::read_to_string(dir.path().join("netkit-http.1")).unwrap();
    assert!(http.contains(".TH netkit-http 1"), "{http}");
    assert!(http.contains(env!("CARGO_PKG_VERSION")), "{http}");
    assert!(http.contains("\\-\\-max\\-upload"), "{http}");
    assert!(
        http.contains("netkit http"),
        "the synopsis names the command"
    );

    // Rendered by man(1) as a reader would see it.
    let out = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("netkit-files-serve.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (.ci/run installs man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("--writable"), "{text}");
    assert!(text.contains("netkit-files-serve - Serve"), "{text}");

    // Written to a pipe that closes early: no error.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' man | head -c 10 >/dev/null; '{}' completions bash | head -c 10 >/dev/null; echo ok", bin(), bin()))
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "a closed pipe is not an error: {err}");
}

/// The declared licence is the one shipped.
#[test]
fn licence_files_match_the_declared_licence() {
    let manifest = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"MIT OR Apache-2.0\""));
    let mit = std::fs::read_to_string(repo("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = std::fs::read_to_string(repo("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0, January 2004"));
    assert!(apache.contains("END OF TERMS AND CONDITIONS"));
}

/// contrib/'s units with `/usr/local/bin/netkit` and `/srv/www` made this
/// test's binary and directory.
fn units_for_test(dir: &Path, root: &Path) {
    for unit in ["netkit-http.service", "netkit-http.socket"] {
        let text = std::fs::read_to_string(repo("contrib").join(unit)).unwrap();
        let text = text
            .replace("/usr/local/bin/netkit", bin())
            .replace("/srv/www", root.to_str().unwrap());
        std::fs::write(dir.join(unit), text).unwrap();
    }
}

/// systemd itself finds nothing wrong in the units (an unknown key or a
/// bad value would be a warning on stderr).
#[test]
fn systemd_units_verify_clean() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    units_for_test(dir.path(), root.path());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("netkit-http.service"))
        .arg(dir.path().join("netkit-http.socket"))
        .output()
        .expect("systemd-analyze (.ci/run installs systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}

/// The service's ExecStart, exactly as written, serves the socket its
/// socket unit describes (here one systemd-socket-activate binds on
/// loopback instead of port 80), with the headers it asks for.
#[test]
fn service_exec_start_serves_the_activated_socket() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("index.html"),
        "<h1>served by the unit</h1>\n",
    )
    .unwrap();
    units_for_test(dir.path(), root.path());
    let unit = std::fs::read_to_string(dir.path().join("netkit-http.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(argv[0], bin());

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.path().join("log");
    let mut child = Command::new("systemd-socket-activate")
        .args(["-l", &listen])
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("systemd-socket-activate");
    assert!(
        eventually(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Listening on"))
        }),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let reply = curl_i(&format!("http://{listen}/"));
    // SAFETY: kill on our own child (netkit, exec'd by systemd-socket-activate).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopped = eventually(Duration::from_secs(10), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !stopped {
        let _ = child.kill();
    }
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}\n{log}");
    assert!(reply.contains("served by the unit"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("x-content-type-options: nosniff"),
        "--security-headers: {reply}"
    );
    assert!(log.contains("socket from systemd"), "{log}");
    assert!(stopped, "SIGTERM stops the service: {log}");
    assert!(
        TcpStream::connect(&listen).is_err(),
        "nothing listens after the stop"
    );
}

/// The image's default command serves its volume (run here with the
/// volume a temporary directory and a free port for 8000).
#[test]
fn dockerfile_default_command_serves_the_volume() {
    let docker = std::fs::read_to_string(repo("contrib/Dockerfile")).unwrap();
    assert!(docker.contains("ENTRYPOINT [\"netkit\"]"), "{docker}");
    assert!(docker.contains("cargo build --release --locked"));
    let cmd = docker
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD is a JSON array");
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), "from the volume\n").unwrap();
    let args: Vec<String> = cmd
        .iter()
        .map(|a| match a.as_str() {
            "/srv/www" => root.path().to_str().unwrap().to_string(),
            "8000" => "0".to_string(),
            other => other.to_string(),
        })
        .collect();
    assert!(
        args.contains(&"::".to_string()),
        "listens on every address: {args:?}"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Running(Server::start(&args));
    let port = server.tcp().port();
    let reply = curl_i(&format!("http://127.0.0.1:{port}/a.txt"));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("from the volume"), "{reply}");
}
