//! Lesson: two processes copying the two halves of a file in parallel.
//!
//! The parent opens SRC and DST (sized to SRC's length) and forks two
//! children: one copies bytes [0, len/2), the other [len/2, len). The open
//! files are shared across `fork`, and so is their file offset, so each child
//! uses positioned I/O (`pread`/`pwrite` via `read_at`/`write_at`), which
//! never touches the shared offset.
//!
//! Run: `cargo run --example copy_halves -- SRC DST` to copy a file, or
//! `cargo run --example copy_halves` to copy a generated temporary file of
//! about 3 MiB of pseudo-random bytes and verify the copy.
//!
//! Expected output without arguments (pids vary):
//! ```text
//! generated /tmp/copy_halves_1000.src (3158067 bytes)
//! child 1001 copied bytes [0, 1579033)
//! child 1002 copied bytes [1579033, 3158067)
//! copied 3158067 bytes to /tmp/copy_halves_1000.dst
//! verify: identical
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid};

fn copy_range(src: &File, dst: &File, start: u64, end: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = start;
    while pos < end {
        let n = buf.len().min((end - pos) as usize);
        src.read_exact_at(&mut buf[..n], pos)?;
        dst.write_all_at(&buf[..n], pos)?;
        pos += n as u64;
    }
    Ok(())
}

fn copy_halves(src: &Path, dst: &Path) -> anyhow::Result<u64> {
    let input = File::open(src).with_context(|| format!("cannot open {}", src.display()))?;
    let meta = input.metadata()?;
    if let Ok(out_meta) = std::fs::metadata(dst) {
        let same = (meta.dev(), meta.ino()) == (out_meta.dev(), out_meta.ino());
        anyhow::ensure!(!same, "SRC and DST are the same file");
    }
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst);
    let output = output.with_context(|| format!("cannot create {}", dst.display()))?;
    let len = meta.len();
    output.set_len(len)?;

    let half = len / 2;
    let mut children = Vec::new();
    for (start, end) in [(0, half), (half, len)] {
        // SAFETY: single-threaded process; the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => children.push(child),
            ForkResult::Child => {
                let code = match copy_range(&input, &output, start, end) {
                    Ok(()) => {
                        println!("child {} copied bytes [{start}, {end})", getpid());
                        0
                    }
                    Err(e) => {
                        eprintln!("child {}: copy failed: {e}", getpid());
                        1
                    }
                };
                std::io::stdout().flush().ok();
                // SAFETY: _exit only ends this child.
                unsafe { libc::_exit(code) }
            }
        }
    }
    for child in children {
        let status = waitpid(child, None)?;
        anyhow::ensure!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "child failed: {status:?}"
        );
    }
    Ok(len)
}

/// About 3 MiB of xorshift pseudo-random bytes; an odd length makes the halves differ.
fn generate(path: &Path) -> anyhow::Result<()> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 12_339)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    std::fs::write(path, &data)?;
    println!("generated {} ({} bytes)", path.display(), data.len());
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    match args.as_slice() {
        [src, dst] => {
            let len = copy_halves(src, dst)?;
            println!(
                "copied {len} bytes from {} to {}",
                src.display(),
                dst.display()
            );
        }
        [] => {
            let base = std::env::temp_dir().join(format!("copy_halves_{}", getpid()));
            let (src, dst) = (base.with_extension("src"), base.with_extension("dst"));
            generate(&src)?;
            let result = copy_halves(&src, &dst).and_then(|len| {
                println!("copied {len} bytes to {}", dst.display());
                Ok(std::fs::read(&src)? == std::fs::read(&dst)?)
            });
            let _ = (std::fs::remove_file(&src), std::fs::remove_file(&dst));
            println!(
                "verify: {}",
                if result? { "identical" } else { "DIFFERENT" }
            );
        }
        _ => return Err(netkit::lesson::usage("usage: copy_halves [SRC DST]")),
    }
    Ok(())
}
