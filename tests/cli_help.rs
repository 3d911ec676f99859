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
