//! Lesson: the double fork.
//!
//! A parent that starts a long-running process but does not want to wait for
//! it forks a child, which forks a grandchild and exits at once. The parent
//! reaps the short-lived child immediately; the grandchild is re-parented to
//! init (or a subreaper), so it is not the parent's child, and when it exits
//! later no zombie is left behind in the parent.
//!
//! Run: `cargo run --example double_fork`
//!
//! Expected output (pids vary):
//! ```text
//! main: pid=300
//! child: pid=301 forked grandchild pid=302 and exits
//! main: reaped child 301 (status 0)
//! grandchild: pid=302 ppid=1 (not main's child)
//! main: waitpid(302) -> ECHILD: the grandchild is not our child
//! main: grandchild finished; zombie children of main: 0
//! ```

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid, pipe, write};

fn exit_child(code: i32) -> ! {
    std::io::stdout().flush().ok();
    // SAFETY: _exit only ends the calling process.
    unsafe { libc::_exit(code) }
}

/// Count the processes whose parent is `parent` and whose state is Z (zombie).
fn zombie_children(parent: Pid) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // Fields after "pid (comm)": state ppid ...
            let mut rest = stat.rsplit_once(')').map_or("", |r| r.1).split_whitespace();
            let (state, ppid) = (rest.next(), rest.next());
            state == Some("Z") && ppid == Some(&parent.to_string())
        })
        .count()
}

fn grandchild(report: OwnedFd) -> ! {
    // Wait until our parent (the middle child) has exited and we are adopted.
    let deadline = Instant::now() + Duration::from_secs(3);
    let first_parent = getppid();
    while getppid() == first_parent && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    println!(
        "grandchild: pid={} ppid={} (not main's child)",
        getpid(),
        getppid()
    );
    sleep(Duration::from_millis(100)); // pretend to do some work
    drop(report); // closing the pipe tells main that we are done
    exit_child(0)
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let main_pid = getpid();
    println!("main: pid={main_pid}");
    let (r, w) = pipe()?;

    // SAFETY: single-threaded process, the children may run arbitrary code.
    let child = match unsafe { fork() }? {
        ForkResult::Child => {
            drop(r);
            match unsafe { fork() }.expect("fork failed") {
                ForkResult::Child => grandchild(w),
                ForkResult::Parent { child: gc } => {
                    // Send the grandchild's pid to main, then exit right away.
                    write(&w, &gc.as_raw().to_ne_bytes()).expect("pipe write");
                    println!(
                        "child: pid={} forked grandchild pid={gc} and exits",
                        getpid()
                    );
                    exit_child(0)
                }
            }
        }
        ForkResult::Parent { child } => child,
    };
    drop(w);

    if let WaitStatus::Exited(pid, code) = waitpid(child, None)? {
        println!("main: reaped child {pid} (status {code})");
    }
    let mut reader = std::fs::File::from(r);
    let mut buf = [0u8; 4];
    reader.read_exact(&mut buf)?;
    let gc = Pid::from_raw(i32::from_ne_bytes(buf));

    match waitpid(gc, None) {
        Err(Errno::ECHILD) => {
            println!("main: waitpid({gc}) -> ECHILD: the grandchild is not our child")
        }
        other => println!("main: waitpid({gc}) -> {other:?} (unexpected)"),
    }
    // EOF on the pipe: the grandchild closed its end, i.e. it has finished.
    reader.read_to_end(&mut Vec::new())?;
    sleep(Duration::from_millis(50)); // let the exit be fully processed
    let zombies = zombie_children(main_pid);
    println!("main: grandchild finished; zombie children of main: {zombies}");
    Ok(())
}
