//! Lesson: pipes between processes.
//!
//! 1. One-way: `pipe()` gives a read end and a write end. The parent keeps the
//!    write end, the child the read end; each closes the end it does not use,
//!    so the child sees EOF once the parent closes its write end.
//! 2. Duplex: a `socketpair()` is a bidirectional channel; the parent sends
//!    requests and the child answers each one (request/reply).
//!
//! Run: `cargo run --example pipe`
//!
//! Expected output (pids vary):
//! ```text
//! one-way: child 501 got: "hello child"
//! one-way: child 501 got: "how are you?"
//! one-way: child 501 got: "bye"
//! one-way: child 501 saw EOF after 3 messages
//! duplex: request "ping" -> reply "PING (from pid 502)"
//! duplex: request "rust" -> reply "RUST (from pid 502)"
//! duplex: request "pipes" -> reply "PIPES (from pid 502)"
//! duplex: child exited, 3 requests answered
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, pipe};

fn exit_child(code: i32) -> ! {
    std::io::stdout().flush().ok();
    // SAFETY: _exit only ends the calling process.
    unsafe { libc::_exit(code) }
}

fn fork_or_die() -> ForkResult {
    // SAFETY: this program forks only while it is single-threaded.
    unsafe { fork() }.expect("fork failed")
}

fn wait_code(pid: Pid) -> anyhow::Result<i32> {
    match waitpid(pid, None)? {
        WaitStatus::Exited(_, code) => Ok(code),
        other => anyhow::bail!("child ended abnormally: {other:?}"),
    }
}

fn one_way() -> anyhow::Result<()> {
    let (r, w) = pipe()?;
    match fork_or_die() {
        ForkResult::Child => {
            drop(w); // keep no write end, or read would never see EOF
            let mut count = 0;
            for line in BufReader::new(File::from(r)).lines() {
                let line = line.expect("pipe read");
                println!("one-way: child {} got: {line:?}", getpid());
                count += 1;
            }
            println!("one-way: child {} saw EOF after {count} messages", getpid());
            exit_child(0)
        }
        ForkResult::Parent { child } => {
            drop(r);
            let mut w = File::from(w);
            for msg in ["hello child", "how are you?", "bye"] {
                writeln!(w, "{msg}")?;
            }
            drop(w); // EOF for the child
            wait_code(child)?;
        }
    }
    Ok(())
}

fn duplex() -> anyhow::Result<()> {
    let (parent_end, child_end) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    match fork_or_die() {
        ForkResult::Child => {
            drop(parent_end);
            let mut sock = UnixStream::from(child_end);
            let reader = BufReader::new(sock.try_clone().expect("dup socket"));
            let mut answered = 0;
            for line in reader.lines() {
                let line = line.expect("socket read");
                writeln!(sock, "{} (from pid {})", line.to_uppercase(), getpid()).expect("reply");
                answered += 1;
            }
            exit_child(answered)
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            let mut sock = UnixStream::from(parent_end);
            let mut replies = BufReader::new(sock.try_clone()?).lines();
            for request in ["ping", "rust", "pipes"] {
                writeln!(sock, "{request}")?;
                let reply = replies.next().ok_or(anyhow::anyhow!("child hung up"))??;
                println!("duplex: request {request:?} -> reply {reply:?}");
            }
            sock.shutdown(std::net::Shutdown::Write)?; // EOF: no more requests
            let answered = wait_code(child)?;
            println!("duplex: child exited, {answered} requests answered");
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    one_way()?;
    duplex()
}
