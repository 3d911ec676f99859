//! The terminal chat client under tmux: a message arriving while the user is
//! typing is printed above the prompt, and the half-typed line stays intact
//! (text and cursor) below it.
//!
//! Needs `tmux` (CI installs it). Without it the test fails on CI and is
//! skipped, with a note, elsewhere.

#[path = "chat/harness.rs"]
mod harness;
mod util;

use std::process::{Command, Output};
use std::time::Duration;

use harness::*;

/// A private tmux server (its own socket, no user config), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            socket: format!("netkit-chat-test-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// The visible pane, one string per row, trailing spaces removed.
    fn screen(&self) -> Vec<String> {
        let out = self.run(&["capture-pane", "-p", "-t", "chat"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// The last non-empty row and the rows above it.
    fn bottom(&self) -> (String, Vec<String>) {
        let mut rows: Vec<String> = self.screen();
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        let last = rows.pop().unwrap_or_default();
        (last, rows)
    }

    fn cursor_x(&self) -> usize {
        let out = self.run(&["display-message", "-p", "-t", "chat", "#{cursor_x}"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(usize::MAX)
    }

    fn keys(&self, literal: &str) {
        assert!(
            self.run(&["send-keys", "-t", "chat", "-l", literal])
                .status
                .success()
        );
    }

    fn key(&self, name: &str) {
        assert!(
            self.run(&["send-keys", "-t", "chat", name])
                .status
                .success()
        );
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "chat"]).status.success()
    }

    /// Waits until the bottom row is `last`; shows the screen if it never is.
    fn wait_bottom(&self, last: &str) {
        let ok = eventually(WAIT, || self.bottom().0 == last);
        assert!(
            ok,
            "bottom row never became {last:?}; screen:\n{}",
            self.screen().join("\n")
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn typed_line_stays_intact_while_a_message_arrives() {
    if !have_tmux() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing on CI: add it to .ci/run"
        );
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let server = ChatServer::start(&["--model", "poll"]);
    let bob = Member::join(server.addr, "bob");
    let tmux = Tmux::new();
    let cmd = format!("{} chat join {} --name alice", bin(), server.addr);
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "chat",
        "-x",
        "80",
        "-y",
        "12",
        &cmd,
    ]);
    assert!(started.status.success(), "tmux: {started:?}");

    bob.expect("alice joined the room");
    tmux.wait_bottom("alice>");

    // alice is half-way through a line when bob talks.
    tmux.keys("hello wor");
    tmux.wait_bottom("alice> hello wor");
    bob.say("incoming while you type");
    let ok = eventually(WAIT, || {
        let (last, above) = tmux.bottom();
        last == "alice> hello wor"
            && above.last().map(String::as_str) == Some("bob: incoming while you type")
    });
    assert!(ok, "screen:\n{}", tmux.screen().join("\n"));
    assert_eq!(
        tmux.cursor_x(),
        "alice> hello wor".len(),
        "cursor after the typed text"
    );

    // Finishing the line sends it whole; it shows above an empty prompt.
    tmux.keys("ld");
    tmux.key("Enter");
    bob.expect("alice: hello world");
    tmux.wait_bottom("alice>");
    let (_, above) = tmux.bottom();
    assert_eq!(
        above[above.len() - 2..],
        ["bob: incoming while you type", "alice: hello world"]
    );

    // Ctrl-C leaves cleanly: Q, EXIT, and the client exits.
    tmux.key("C-c");
    bob.expect("alice left the room");
    assert!(
        eventually(WAIT, || !tmux.alive()),
        "client still running; screen:\n{}",
        tmux.screen().join("\n")
    );
    bob.silent(Duration::from_millis(150));
}
