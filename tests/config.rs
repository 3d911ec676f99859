//! `--config FILE` and `NETKIT_*` variables (docs/config.md): the real binary,
//! serving over real sockets on 127.0.0.1.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use util::*;

/// A folder with one file to serve, and a place for config files.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/hello.txt"), "hello from the config\n").unwrap();
    dir
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("netkit.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// One request on its own connection; the status code and the body.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "{head} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).to_string();
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// Starts the binary with `args` and the variables `env`, and waits for its
/// listening line.
fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    Running(Server::start_with_env(args, env))
}

/// Runs the binary to its end (a command that fails at start).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The model a server's listening line names.
fn model(server: &Server) -> String {
    let log = server.log();
    let at = log.find("(model ").expect("a listening line") + "(model ".len();
    log[at..]
        .split([',', ')'])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_config_file_sets_port_bind_model_root_and_max_body_and_the_server_serves() {
    let dir = site();
    let root = dir.path().join("www");
    let config = write_config(
        dir.path(),
        &format!(
            "root = {:?}\nport = 0\nbind = \"127.0.0.1\"\nmodel = \"thread\"\nmax_body = \"1K\"\n",
            root.to_str().unwrap()
        ),
    );
    let server = start(&["http", "--config", &config], &[]);
    let addr = server.tcp();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    assert_eq!(model(&server), "thread");
    let (status, body) = request(addr, "GET /hello.txt", b"");
    assert_eq!((status, body.as_str()), (200, "hello from the config\n"));
    // max-body 1K: a 2 KiB body is refused, a small one echoed.
    assert_eq!(request(addr, "POST /api/echo", &[b'x'; 2048]).0, 413);
    assert_eq!(
        request(addr, "POST /api/echo", b"small"),
        (200, "small".into())
    );
}

#[test]
fn command_line_over_environment_over_file() {
    let dir = site();
    let www = dir.path().join("www");
    let www = www.to_str().unwrap();
    let config = write_config(dir.path(), "port = 0\nmodel = \"thread\"\n");
    // The file alone.
    let server = start(&["http", www, "--config", &config], &[]);
    assert_eq!(model(&server), "thread");
    drop(server);
    // A flag on the command line overrides the file.
    let server = start(&["http", www, "--config", &config, "--model", "poll"], &[]);
    assert_eq!(model(&server), "poll");
    drop(server);
    // The environment overrides the file (named by NETKIT_CONFIG this time).
    let env = [
        ("NETKIT_CONFIG", config.as_str()),
        ("NETKIT_MODEL", "select"),
    ];
    let server = start(&["http", www], &env);
    assert_eq!(model(&server), "select");
    assert_eq!(request(server.tcp(), "GET /hello.txt", b"").0, 200);
    drop(server);
    // The command line overrides the environment.
    let server = start(&["http", www, "--model", "pool"], &env);
    assert_eq!(model(&server), "pool");
    drop(server);
    // An environment flag, and a variable of another subcommand (ignored).
    std::fs::write(Path::new(www).join(".hidden"), "dot").unwrap();
    let env = [
        ("NETKIT_CONFIG", config.as_str()),
        ("NETKIT_HIDDEN", "yes"),
        ("NETKIT_LANG", "zh"),
    ];
    let server = start(&["http", www], &env);
    assert_eq!(
        request(server.tcp(), "GET /.hidden", b""),
        (200, "dot".into())
    );
}

/// A failed start: exit status 2, the message on stderr, nothing on stdout
/// and no panic or backtrace.
fn usage_error(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr
}

#[test]
fn unknown_keys_wrong_types_bad_values_and_missing_files_are_usage_errors() {
    let dir = site();
    let config = write_config(dir.path(), "prot = 8080\n");
    let e = usage_error(&run(&["http", "--config", &config], &[]));
    assert!(
        e.contains("unknown key 'prot'") && e.contains(&config),
        "{e}"
    );
    assert!(e.contains("'port'"), "the closest key is suggested: {e}");

    let config = write_config(dir.path(), "hidden = \"yes\"\n");
    let e = usage_error(&run(&["http", "--config", &config], &[]));
    assert!(e.contains("key 'hidden': must be true or false"), "{e}");

    let config = write_config(dir.path(), "port = 0\nmax-body = \"lots\"\n");
    let e = usage_error(&run(&["http", "--config", &config], &[]));
    assert!(
        e.contains("key 'max-body': invalid value 'lots' for '--max-body"),
        "{e}"
    );

    let e = usage_error(&run(&["http"], &[("NETKIT_MAX_BODY", "lots")]));
    assert!(
        e.starts_with("error: NETKIT_MAX_BODY: invalid value 'lots'"),
        "{e}"
    );

    let e = usage_error(&run(&["http"], &[("NETKIT_HIDDEN", "maybe")]));
    assert!(e.contains("NETKIT_HIDDEN"), "{e}");

    let missing = dir.path().join("nowhere.toml");
    let missing = missing.to_str().unwrap();
    let e = usage_error(&run(&["http", "--config", missing], &[]));
    assert!(
        e.contains("cannot read config file") && e.contains(missing),
        "{e}"
    );
    let e = usage_error(&run(&["files", "serve"], &[("NETKIT_CONFIG", missing)]));
    assert!(e.contains(missing), "{e}");
}

#[test]
fn files_serve_takes_its_section_of_a_shared_file() {
    let dir = site();
    let www = dir.path().join("www");
    let config = write_config(
        dir.path(),
        &format!(
            "port = 0\n[http]\nhidden = true\n[files]\nroot = {:?}\nwritable = true\nmodel = \"thread\"\nmax-file-size = \"1K\"\n",
            www.to_str().unwrap()
        ),
    );
    let server = start(&["files", "serve", "--config", &config], &[]);
    assert_eq!(model(&server), "thread");
    assert!(
        server.wait_log("(writable, uploads up to 1.0 KiB)"),
        "{}",
        server.log()
    );
    let addr = server.tcp().to_string();
    let ls = run(&["files", "ls", &addr], &[]);
    assert!(ls.status.success(), "{ls:?}");
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("hello.txt"),
        "{ls:?}"
    );
}

#[test]
fn config_appears_in_every_server_help() {
    for cmd in [
        &["http"][..],
        &["files", "serve"],
        &["ftp", "serve"],
        &["echo", "serve"],
        &["chat", "serve"],
    ] {
        let out = run(&[cmd, &["--help"]].concat(), &[]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd:?}");
        assert!(
            help.contains("--config <FILE>") && help.contains("NETKIT_CONFIG"),
            "{cmd:?}: {help}"
        );
        assert!(help.contains("command line overrides"), "{cmd:?}: {help}");
    }
}

/// The example netkit.toml of docs/config.md, which every server must accept.
fn doc_example() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.md"))
        .expect("docs/config.md");
    let start = doc
        .find("```toml\n")
        .expect("a toml example in docs/config.md")
        + 8;
    let len = doc[start..].find("```").expect("the end of the example");
    doc[start..start + len].to_string()
}

#[test]
fn the_example_of_docs_config_md_is_accepted_by_every_server() {
    let dir = site();
    let config = write_config(dir.path(), &doc_example());
    let www = dir.path().join("www");
    let www = www.to_str().unwrap();
    // The command line keeps the servers on free ports of 127.0.0.1, in a
    // folder that exists; everything else is the example's.
    let net = ["--port", "0", "--bind", "127.0.0.1", "--config", &config];
    let server = start(&[&["http", www][..], &net].concat(), &[]);
    assert!(
        server.wait_log("sharing: uploads, archives"),
        "{}",
        server.log()
    );
    assert_eq!(model(&server), "epoll");
    assert_eq!(request(server.tcp(), "GET /hello.txt", b"").0, 200);
    drop(server);
    let server = start(&[&["files", "serve", www][..], &net].concat(), &[]);
    assert!(
        server.wait_log("writable, uploads up to 500.0 MiB"),
        "{}",
        server.log()
    );
    drop(server);
    let server = start(&[&["ftp", "serve", www][..], &net].concat(), &[]);
    assert!(
        server.wait_log("passive ports 50000-50100"),
        "{}",
        server.log()
    );
    drop(server);
    let server = start(&[&["echo", "serve"][..], &net].concat(), &[]);
    assert_eq!(model(&server), "poll");
    drop(server);
    let server = start(
        &[&["chat", "serve", "--no-console"][..], &net].concat(),
        &[],
    );
    assert!(
        server.log().contains("silent members dropped after 2m"),
        "{}",
        server.log()
    );
}
