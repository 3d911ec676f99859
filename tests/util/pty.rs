//! A pseudo-terminal for the tests of interactive clients: the real binary
//! runs with a terminal as stdin, stdout and stderr (its controlling
//! terminal, in a session of its own), and the test types into it and reads
//! the screen's bytes back.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process on a pseudo-terminal, killed on drop.
pub struct Pty {
    child: Child,
    master: File,
    out: Arc<Mutex<Vec<u8>>>,
}

fn check(r: libc::c_int, what: &str) -> libc::c_int {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

impl Pty {
    /// Runs `program args...` on a new 80x24 terminal with `TERM=xterm`.
    pub fn spawn(program: &str, args: &[&str]) -> Pty {
        // SAFETY: plain libc calls on descriptors this function owns; the
        // name returned by ptsname is copied before any other pty call.
        let (master, slave) = unsafe {
            let m = check(
                libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY),
                "posix_openpt",
            );
            check(libc::grantpt(m), "grantpt");
            check(libc::unlockpt(m), "unlockpt");
            let name = libc::ptsname(m);
            assert!(!name.is_null(), "ptsname");
            let s = check(libc::open(name, libc::O_RDWR | libc::O_NOCTTY), "open pts");
            let size = libc::winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            check(libc::ioctl(s, libc::TIOCSWINSZ, &size), "TIOCSWINSZ");
            (File::from_raw_fd(m), OwnedFd::from_raw_fd(s))
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; fd 0 is the pty.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        drop(cmd); // the test keeps no descriptor of the terminal's side
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let o = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child and every descriptor of its side are gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty { child, master, out }
    }

    /// Types `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    /// Everything the child wrote so far, as text.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// How many bytes the child wrote so far.
    pub fn written(&self) -> usize {
        self.out.lock().unwrap().len()
    }

    /// Waits until what the child wrote after byte `from` contains `needle`;
    /// panics with the screen after `limit`.
    pub fn expect_after(&self, from: usize, needle: &str, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            let text = {
                let out = self.out.lock().unwrap();
                String::from_utf8_lossy(&out[from.min(out.len())..]).into_owned()
            };
            if text.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < end,
                "no {needle:?} within {limit:?}; the terminal shows {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the child wrote `needle` (anywhere).
    pub fn expect(&self, needle: &str, limit: Duration) {
        self.expect_after(0, needle, limit)
    }

    /// Waits until the line editor shows an empty prompt `> ` and has
    /// finished drawing it (its synchronized-update end), so that keys sent
    /// now reach the editor, not the terminal between two lines.
    pub fn expect_empty_prompt(&self, limit: Duration) {
        const READY: &str = "\r\x1b[K> \r\x1b[2C\x1b[?2026l";
        let end = Instant::now() + limit;
        while !self.screen().ends_with(READY) {
            assert!(
                Instant::now() < end,
                "no empty prompt within {limit:?}; the terminal shows {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status within `limit`, or `None` (the child still runs).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the reader take the last bytes.
                std::thread::sleep(Duration::from_millis(50));
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The terminal's local mode flags (`c_lflag`: ICANON, ECHO, ...) as
    /// the child left them.
    pub fn termios_flags(&self) -> libc::tcflag_t {
        use std::os::fd::AsRawFd;
        // SAFETY: an all-zero termios is valid to overwrite; the master is
        // open, and on Linux it reports the terminal's settings.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            check(
                libc::tcgetattr(self.master.as_raw_fd(), &mut t),
                "tcgetattr",
            );
            t.c_lflag
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
