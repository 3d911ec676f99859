//! The line-mode front end of `netkit chat join`, for pipes and scripts:
//! plain lines from stdin (read on a thread so signals are still seen),
//! received lines on stdout.

use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::link::{Link, Sink, spawn_receiver};
use super::{ClientError, JoinOptions, State};

pub(super) fn run_lines(
    opts: &JoinOptions,
    link: Link,
    state: Arc<State>,
) -> Result<(), ClientError> {
    let lines = spawn_stdin_reader();
    let name = match &opts.name {
        Some(n) => {
            let n = n.trim().to_string();
            match link.join(&n)? {
                Ok(()) => n,
                Err(reason) => return Err(ClientError::Refused(reason)),
            }
        }
        None => loop {
            let Some(n) = next_line(&lines, &state) else {
                return Err(ClientError::NoName);
            };
            let n = n.trim().to_string();
            if n.is_empty() {
                continue;
            }
            match link.join(&n)? {
                Ok(()) => break n,
                Err(reason) => eprintln!("netkit chat: name refused: {reason}"),
            }
        },
    };
    let receiver = spawn_receiver(&link, Arc::clone(&state), Sink::Stdout)?;
    let keeper = link.keep_alive(&name, opts.keep_alive, &state)?;
    while let Some(line) = next_line(&lines, &state) {
        if line.trim() == "quit" {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = link.say(&name, &line) {
            eprintln!("netkit chat: not sent: {e}");
        }
    }
    if !state.exited() && !link.leave(&name, &state) {
        eprintln!("netkit chat: the server did not confirm with EXIT; leaving anyway");
    }
    state.stop.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    if let Some(k) = keeper {
        let _ = k.join();
    }
    Ok(())
}

/// Reads stdin on a thread so the main loop can also watch for signals.
/// `None` on the channel means end of input.
fn spawn_stdin_reader() -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut input = io::stdin().lock();
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match input.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(_) => {
                    let line = String::from_utf8_lossy(&raw);
                    let line = line.trim_end_matches(['\r', '\n']).to_string();
                    if tx.send(Some(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The next input line, or `None` at end of input, on a signal, or when the
/// server ended the membership.
fn next_line(lines: &mpsc::Receiver<Option<String>>, state: &State) -> Option<String> {
    loop {
        if state.stop.load(Ordering::SeqCst) || state.exited() {
            return None;
        }
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => return line,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}
