//! Lessons on processes: fork, orphans and zombies, the double fork, pools, parallel copies.

use std::collections::HashSet;

use super::{num, run};

#[test]
fn fork_basics_copy_on_write() {
    let r = run("fork_basics", &[]);
    r.assert_success();
    let parent = num(r.line("parent: pid="), "pid=");
    assert_eq!(parent, r.pid, "the example's own pid\n{}", r.context());
    let forked = num(r.line("parent: fork returned child pid="), "pid=");
    let child_line = r.line("child: pid=");
    assert_eq!(
        num(child_line, "pid="),
        forked,
        "fork() return value is the child's pid\n{}",
        r.context()
    );
    assert_eq!(
        num(child_line, "ppid="),
        parent,
        "child's ppid is the parent\n{}",
        r.context()
    );
    assert_ne!(forked, parent);
    r.has_line("child: value=42 -> changed to 100 (copy-on-write)");
    r.has_line("child: vec=[1, 2, 3, 4]");
    r.has_line(&format!("parent: child {forked} exited with status 0"));
    r.has_line("parent: value=42 vec=[1, 2, 3] (unchanged by the child)");
}

#[test]
fn orphan_is_reparented_zombie_is_reaped() {
    let r = run("orphan_zombie", &[]);
    r.assert_success();
    let parent_line = r.line("orphan: parent pid=");
    let (parent, child) = (
        num(parent_line, "parent pid="),
        num(parent_line, "child pid="),
    );
    assert_ne!(parent, r.pid, "the orphan's parent is a forked process");
    let orphan = r.line("orphan: child pid=");
    assert_eq!(num(orphan, "child pid="), child);
    assert_eq!(num(orphan, "original ppid="), parent);
    let new_ppid = num(orphan, "new ppid=");
    assert_ne!(
        new_ppid,
        parent,
        "orphan must be re-parented\n{}",
        r.context()
    );
    assert!(orphan.ends_with("(reparented)"), "{}", r.context());

    let zombie = num(r.line("zombie: child pid="), "pid=");
    let seen = r.index_of(&format!("zombie: /proc/{zombie}/stat state=Z "));
    let reaped = r.index_of(&format!("zombie: waitpid reaped pid={zombie} status=7"));
    let gone = r.index_of(&format!("zombie: /proc/{zombie} is gone after waitpid"));
    assert!(
        seen < reaped && reaped < gone,
        "Z state, then reaped, then gone\n{}",
        r.context()
    );

    let auto = num(r.line("auto-reap: SIGCHLD=SIG_IGN, child pid="), "pid=");
    r.has_line(&format!(
        "auto-reap: waitpid({auto}) -> ECHILD (reaped by the kernel, no zombie)"
    ));
}

#[test]
fn double_fork_leaves_no_zombie() {
    let r = run("double_fork", &[]);
    r.assert_success();
    assert_eq!(num(r.line("main: pid="), "pid="), r.pid);
    let child_line = r.line("child: pid=");
    let (child, grandchild) = (num(child_line, "pid="), num(child_line, "grandchild pid="));
    r.has_line(&format!("main: reaped child {child} (status 0)"));
    let gc_line = r.line("grandchild: pid=");
    assert_eq!(num(gc_line, "pid="), grandchild);
    let gc_parent = num(gc_line, "ppid=");
    assert!(
        gc_parent != r.pid && gc_parent != child,
        "grandchild re-parented\n{}",
        r.context()
    );
    r.has_line(&format!(
        "main: waitpid({grandchild}) -> ECHILD: the grandchild is not our child"
    ));
    r.has_line("main: grandchild finished; zombie children of main: 0");
}

#[test]
fn process_pool_computes_squares_in_worker_processes() {
    let r = run("process_pool", &[]);
    r.assert_success();
    let list = r.line("pool: 4 workers: [");
    let inner = list
        .split_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .expect("pid list");
    let workers: HashSet<i64> = inner.split(", ").map(|p| p.parse().expect("pid")).collect();
    assert_eq!(workers.len(), 4, "4 distinct worker pids\n{}", r.context());
    assert!(!workers.contains(&r.pid), "workers are child processes");
    let sync = r.line("apply(5) = ");
    assert_eq!(num(sync, "= "), 25);
    assert!(workers.contains(&num(sync, "pid ")), "{}", r.context());
    let one_by_one = num(r.line("apply x4: 4 results after "), "after ");
    let parallel = num(r.line("apply_async x4: 4 results after "), "after ");
    assert!(
        one_by_one >= 80 && parallel < one_by_one,
        "apply waits for each task (4 x 20 ms), apply_async runs them together\n{}",
        r.context()
    );
    let apply = r.line("apply_async(7) = ");
    assert_eq!(num(apply, "= "), 49);
    assert!(workers.contains(&num(apply, "pid ")), "{}", r.context());
    let mut used = HashSet::new();
    for x in 0..20i64 {
        let line = r.line(&format!("map: {x}^2 = "));
        assert_eq!(num(line, "= "), x * x, "{}", r.context());
        let pid = num(line, "(pid ");
        assert!(workers.contains(&pid), "computed by a pool worker: {line}");
        used.insert(pid);
    }
    assert!(
        used.len() >= 2,
        "tasks spread over several workers\n{}",
        r.context()
    );
    let squares: Vec<String> = (0..20).map(|x: u64| (x * x).to_string()).collect();
    r.has_line(&format!("map results: [{}]", squares.join(", ")));
    r.has_line("pool: 4 of 4 workers exited cleanly");
}

#[test]
fn copy_halves_generated_file_is_identical() {
    let r = run("copy_halves", &[]);
    r.assert_success();
    let len = num(r.line("generated "), "(");
    assert!(len > 3 * 1024 * 1024, "{}", r.context());
    let half = len / 2;
    let ranges: Vec<&str> = r
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("child "))
        .collect();
    assert_eq!(ranges.len(), 2, "{}", r.context());
    assert!(
        ranges
            .iter()
            .any(|l| l.ends_with(&format!("copied bytes [0, {half})"))),
        "{}",
        r.context()
    );
    assert!(
        ranges
            .iter()
            .any(|l| l.ends_with(&format!("copied bytes [{half}, {len})"))),
        "{}",
        r.context()
    );
    assert_eq!(num(r.line("copied "), "copied "), len);
    r.has_line("verify: identical");
}

#[test]
fn copy_halves_with_paths() {
    let dir = std::env::temp_dir().join(format!("netkit-copy-halves-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (src, dst) = (dir.join("src.bin"), dir.join("dst.bin"));
    let data: Vec<u8> = (0..1_000_003u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).expect("write src");
    std::fs::write(&dst, b"old contents that must be replaced").expect("write dst");
    let (src_s, dst_s) = (
        src.to_str().expect("utf-8 path"),
        dst.to_str().expect("utf-8 path"),
    );
    let r = run("copy_halves", &[src_s, dst_s]);
    let copied = std::fs::read(&dst).expect("read dst");
    let missing = run(
        "copy_halves",
        &[dir.join("missing").to_str().expect("path"), dst_s],
    );
    let _ = std::fs::remove_dir_all(&dir);

    r.assert_success();
    r.has_line(&format!("copied 1000003 bytes from {src_s} to {dst_s}"));
    assert!(copied == data, "destination differs from source");
    assert!(!missing.status.success(), "{}", missing.context());
    assert!(
        missing.stderr.contains("cannot open"),
        "{}",
        missing.context()
    );
}

#[test]
fn process_objects_lifecycle_daemons_and_wnohang() {
    let r = run("process_objects", &[]);
    r.assert_success();
    r.has_line("worker-1: before start: pid=None is_alive=false");
    let started = r.line("worker-1: started: pid=");
    let pid = num(started, "pid=");
    assert!(started.ends_with("is_alive=true"), "{}", r.context());
    let work = r.line("worker-1 (pid ");
    assert_eq!((num(work, "(pid "), num(work, "parent ")), (pid, r.pid));
    let timed = r.line("worker-1: join(timeout=100ms) returned after ");
    assert!((100..300).contains(&num(timed, "after ")), "{timed}");
    assert!(
        timed.ends_with("is_alive=true exitcode=None"),
        "still running after a join that timed out: {timed}"
    );
    r.has_line("worker-1: join() returned: is_alive=false exitcode=Some(0)");
    assert!(r.line("Countdown (pid ").ends_with("): 3 2 1"));
    r.has_line("countdown: exitcode=Some(7)");

    let parent = r.line("daemon: parent ");
    let (daemon, ordinary) = (num(parent, "daemon child "), num(parent, "ordinary child "));
    r.has_line(&format!(
        "daemon: {daemon} (daemon=true) ended with its parent: killed by SIGKILL"
    ));
    r.has_line(&format!(
        "daemon: {ordinary} (daemon=false) outlived its parent: exited with status 0"
    ));
    assert!(
        r.index_of(&format!("daemon: child {ordinary} (daemon=false) finished"))
            > r.index_of("daemon: parent "),
        "the ordinary child finishes after its parent left\n{}",
        r.context()
    );

    r.has_line("wnohang: waitpid(-1, WNOHANG) -> nothing yet; doing other work (poll 1)");
    let reaped: Vec<&str> = r
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("wnohang: reaped "))
        .collect();
    assert_eq!(reaped.len(), 3, "{}", r.context());
    for (line, code) in reaped.iter().zip(1..) {
        assert_eq!(
            num(line, "exit status "),
            code,
            "reaped as they exit: {line}"
        );
        assert!(num(line, "after ") >= 50 * code, "{line}");
    }
    let polls = num(r.line("wnohang: all 3 reaped; "), "reaped; ");
    assert!(polls >= 1, "{}", r.context());
}
