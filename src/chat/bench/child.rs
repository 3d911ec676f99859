//! The server under test: `netkit chat serve` started as a child process
//! ([`ChatServer`]), and [`listening_addr`], which reads its address from
//! the line it logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::bench::proc;
use crate::server::Model;

/// `netkit chat serve` as a child process; stopped on drop.
pub(super) struct ChatServer {
    child: Child,
    pub(super) addr: SocketAddr,
}

impl ChatServer {
    pub(super) fn start(
        model: Model,
        members: usize,
        workers: Option<usize>,
        extra: &[String],
    ) -> Result<ChatServer> {
        // Our own binary, even if a rebuild replaced the file meanwhile.
        let exe = if std::path::Path::new("/proc/self/exe").exists() {
            std::path::PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().context("finding the netkit binary")?
        };
        let mut cmd = Command::new(exe);
        cmd.args(["chat", "serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--model", model.name(), "--no-console"])
            .args(["--max-members", &members.to_string()])
            // Every member is a socket on 127.0.0.1, one host to the room,
            // and most of them only listen: lift the per-host bound and the
            // idle limit, which are there for strangers, not for a benchmark.
            .args(["--max-per-host", "0", "--idle-timeout", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(w) = workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        cmd.args(extra);
        // If the benchmark dies, the server gets SIGTERM.
        proc::term_with_parent(&mut cmd);
        let mut child = cmd.spawn().context("starting netkit chat serve")?;
        let Some(stderr) = child.stderr.take() else {
            bail!("no stderr pipe to the server");
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = tx.take() {
                    match listening_addr(&line) {
                        Some(a) => {
                            let _ = t.send(Ok(a));
                        }
                        None => {
                            seen.push(line);
                            tx = Some(t);
                        }
                    }
                }
            }
            if let Some(t) = tx {
                let _ = t.send(Err(seen.join("\n")));
            }
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(addr)) => Ok(ChatServer { child, addr }),
            Ok(Err(log)) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the {model} server did not start:\n{log}")
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the {model} server did not report its address within 10 s")
            }
        }
    }

    pub(super) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(super) fn stop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Finds `ADDR:PORT` in a line containing `listening on udp://ADDR:PORT`.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    const MARK: &str = "listening on udp://";
    let rest = &line[line.find(MARK)? + MARK.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let line = "netkit chat: listening on udp://127.0.0.1:40001 (model epoll, 2 workers)";
        assert_eq!(
            listening_addr(line),
            Some("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(listening_addr("something else"), None);
    }
}
