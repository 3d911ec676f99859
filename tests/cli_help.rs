//! Help that is true: each server subcommand lists the models that can
//! serve it and only the options that apply to them, ends with examples,
//! and says which course "the course" is.

mod util;

use std::process::Command;

use util::bin;

fn help(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().expect("netkit");
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `[possible values: ...]` of `--model` in short help.
fn models(short_help: &str) -> Vec<String> {
    let flat = short_help.split_whitespace().collect::<Vec<_>>().join(" ");
    let at = flat.find("--model").expect("--model");
    let rest = &flat[at..];
    let list = rest
        .split_once("[possible values: ")
        .expect("possible values")
        .1
        .split_once(']')
        .unwrap()
        .0;
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn ftp_help_offers_only_the_blocking_models_and_their_options() {
    let h = help(&["ftp", "serve", "-h"]);
    assert_eq!(
        models(&h),
        ["iterative", "fork", "prefork", "thread", "pool"],
        "{h}"
    );
    for absent in ["--edge", "--busy-poll"] {
        assert!(!h.contains(absent), "{absent} in:\n{h}");
    }
    assert!(
        h.contains("(prefork, pool)"),
        "workers of the models that have them: {h}"
    );
    assert!(h.contains("--max-children") && h.contains("--queue"), "{h}");
    assert!(h.contains("Examples:\n  netkit ftp serve"), "{h}");
    // Hidden, not removed: a model it cannot run is refused with the reason.
    let out = Command::new(bin())
        .args(["ftp", "serve", "--port", "0", "--model", "epoll"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run a blocking handler"), "{err}");
}

#[test]
fn chat_help_leaves_out_process_models_and_connection_limits() {
    let h = help(&["chat", "serve", "-h"]);
    let m = models(&h);
    assert!(
        !m.contains(&"fork".to_string()) && !m.contains(&"prefork".to_string()),
        "{m:?}"
    );
    assert!(
        m.contains(&"epoll".to_string()) && m.contains(&"uring".to_string()),
        "{m:?}"
    );
    assert!(!h.contains("--max-connections"), "{h}");
    assert!(!h.contains("--max-children"), "no fork, no children: {h}");
    assert!(h.contains("--max-members"), "{h}");
    assert!(h.contains("Examples:\n  netkit chat serve"), "{h}");
}

#[test]
fn session_servers_offer_every_model_and_examples() {
    for cmd in [&["http"][..], &["echo", "serve"], &["files", "serve"]] {
        let mut args = cmd.to_vec();
        args.push("-h");
        let h = help(&args);
        assert_eq!(models(&h).len(), 10, "{cmd:?}: {h}");
        assert!(h.contains("--edge") && h.contains("--busy-poll"), "{cmd:?}");
        let example = format!("Examples:\n  netkit {}", cmd.join(" "));
        assert!(h.contains(&example), "{cmd:?}: {h}");
    }
}

#[test]
fn the_course_is_named() {
    let top = help(&["--help"]);
    assert!(
        top.contains("netkit grew from a network-programming course"),
        "{top}"
    );
    assert!(top.contains("docs/course.md"), "{top}");
    for args in [
        &["--help"][..],
        &["files", "--help"],
        &["chat", "--help"],
        &["udp", "--help"],
    ] {
        let h = help(args);
        for line in h.lines() {
            let l = line.trim_start();
            assert!(
                !l.starts_with("The course's"),
                "{args:?}: which course? {line}"
            );
        }
    }
}

#[test]
fn workers_on_a_model_without_workers_is_said_not_ignored() {
    let mut s = util::Running(util::Server::start(&[
        "echo",
        "serve",
        "--port",
        "0",
        "--model",
        "thread",
        "--workers",
        "3",
    ]));
    assert!(
        s.log()
            .contains("--workers 3 does nothing for model thread"),
        "{}",
        s.log()
    );
    assert!(!s.log().contains("3 workers"), "{}", s.log());
    s.signal(libc::SIGTERM);
    s.wait_exit(std::time::Duration::from_secs(5));
    let out = Command::new(bin())
        .args(["echo", "serve", "--port", "0", "--workers", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--workers 0 is a usage error");
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("netkit");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every client takes its server as HOST:PORT and says a refused
/// connection in the same words.
#[test]
fn clients_take_host_port_and_say_refusals_alike() {
    let dead = format!("127.0.0.1:{}", util::free_port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    std::fs::write(&file, "to send\n").unwrap();
    let cases: [Vec<&str>; 4] = [
        vec!["echo", "client", &dead, "--stdin"],
        vec!["files", "ls", &dead],
        vec!["files", "connect", &dead],
        vec!["send", file.to_str().unwrap(), &dead],
    ];
    for args in &cases {
        let (code, err) = run(args);
        assert_ne!(code, Some(0), "{args:?}");
        assert!(
            err.contains("cannot connect to ")
                && err.contains(&dead[10..])
                && err.contains("connection refused (is the server running?)"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("os error"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // The echo client through a real server, addressed as HOST:PORT.
    let server = util::Running(util::Server::start(&["echo", "serve", "--port", "0"]));
    let mut child = Command::new(bin())
        .args(["echo", "client", &server.tcp().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    // A bad port is a clear error, not a parse failure's words.
    let (code, err) = run(&["udp", "send", "127.0.0.1:99999", "hi"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("invalid port in '127.0.0.1:99999'"), "{err}");
}

/// Sizes take units wherever a size is asked; recv and files serve no
/// longer share a default port; `-f` is `--force` in both clients that have it.
#[test]
fn sizes_ports_and_flags_agree() {
    for args in [
        &["chat", "serve", "--max-text", "2K", "--help"][..],
        &["udp", "serve", "--buffer", "64K", "--help"],
        &["bench", "echo", "--size", "1K", "--help"],
        &["bench", "models", "--size", "4KiB", "--help"],
        &["http", "--max-body", "1M", "--help"],
        &["files", "serve", "--max-file-size", "500M", "--help"],
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    let (code, err) = run(&["udp", "serve", "--buffer", "65K"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("between 1 and 64K"), "{err}");
    let (code, err) = run(&["bench", "echo", "--size", "ten"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid size 'ten'"), "{err}");

    let recv = help(&["recv", "--help"]);
    assert!(recv.contains("[default: 7071]"), "{recv}");
    assert!(recv.contains("-f, --force"), "{recv}");
    let files = help(&["files", "serve", "--help"]);
    assert!(files.contains("[default: 7070]"), "{files}");
    assert!(help(&["files", "get", "--help"]).contains("-f, --force"));
    for bench in ["echo", "models", "chat", "tasks"] {
        let h = help(&["bench", bench, "--help"]);
        assert!(h.contains("-w, --workers"), "bench {bench}: {h}");
        if bench != "tasks" {
            assert!(h.contains("-m, --model"), "bench {bench}: {h}");
        }
    }
}
