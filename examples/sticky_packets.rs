//! Lesson: TCP "sticky packets" (粘包) and how to cut a byte stream into messages
//! (127.0.0.1 only).
//!
//! TCP carries a stream of bytes, not messages: the receiver's kernel appends
//! whatever arrives to one receive buffer, and a `recv` takes what is there. A
//! sender's separate writes therefore come out glued together when the receiver
//! is slower than the sender (or split, when a message is long).
//!
//! 1. The problem: 5 quick writes `msg-0` .. `msg-4`; the receiver is busy for
//!    100 ms and then one read returns all 5 messages glued together.
//! 2. Remedy (a), an end marker: each message ends with `\n`; the receiver
//!    splits what it reads at the markers (`netkit::wire::line::parse`).
//! 3. Remedy (b), "send a data structure": a length-prefixed frame, a 4-byte
//!    big-endian length and then the payload (`netkit::wire::frame`). The
//!    receiver knows where each message ends, even when a frame arrives split
//!    over two reads: it keeps the incomplete bytes and reads more.
//! 4. The course's third suggestion, a short sleep after each send: with a
//!    prompt receiver every message arrives alone and it seems to work; with the
//!    busy receiver they glue all the same. A sleep only lowers the odds (and
//!    slows the sender); it is not a remedy. Use (a) or (b).
//!
//! Nagle's algorithm (on by default) holds back a small write while an earlier
//! one is unacknowledged and then sends them as one segment, which would glue
//! messages before they even leave. Every sender here sets TCP_NODELAY, so each
//! write leaves as its own segment: the glue you see happens in the receiver's
//! buffer. To make every run print the same lines, the busy receiver waits
//! until all the bytes are in its socket buffer before its first read, and the
//! prompt receiver reports each read back before the sender goes on.
//!
//! Run: `cargo run --example sticky_packets`
//!
//! Expected output:
//! ```text
//! problem: sender: 5 separate writes b'msg-0' b'msg-1' b'msg-2' b'msg-3' b'msg-4' (TCP_NODELAY)
//! problem: receiver busy for 100 ms, then recv(1024) until EOF
//! problem: recv #1 -> 25 bytes b'msg-0msg-1msg-2msg-3msg-4'
//! problem: recv #2 -> 0 bytes b'' (EOF)
//! problem: 5 writes became 1 read: the messages are glued together, their boundaries lost
//! end marker: sender: 5 writes b'msg-0\n' b'msg-1\n' b'msg-2\n' b'msg-3\n' b'msg-4\n'
//! end marker: recv #1 -> 30 bytes b'msg-0\nmsg-1\nmsg-2\nmsg-3\nmsg-4\n'
//! end marker: message 1: b'msg-0'
//! end marker: message 2: b'msg-1'
//! end marker: message 3: b'msg-2'
//! end marker: message 4: b'msg-3'
//! end marker: message 5: b'msg-4'
//! end marker: recv #2 -> 0 bytes b'' (EOF)
//! end marker: 5 messages from 1 read, split at b'\n'
//! frames: sender: 5 writes b'\x00\x00\x00\x05msg-0' b'\x00\x00\x00\x05msg-1' b'\x00\x00\x00\x05msg-2' b'\x00\x00\x00\x05msg-3' b'\x00\x00\x00\x05msg-4'
//! frames: recv #1 -> 45 bytes b'\x00\x00\x00\x05msg-0\x00\x00\x00\x05msg-1\x00\x00\x00\x05msg-2\x00\x00\x00\x05msg-3\x00\x00\x00\x05msg-4'
//! frames: message 1: b'msg-0'
//! frames: message 2: b'msg-1'
//! frames: message 3: b'msg-2'
//! frames: message 4: b'msg-3'
//! frames: message 5: b'msg-4'
//! frames: recv #2 -> 0 bytes b'' (EOF)
//! frames: 5 messages from 1 read, each frame gives its own length
//! frames split: sender wrote 7 of the 22 bytes of one frame
//! frames split: recv -> 7 bytes b'\x00\x00\x00\x12a f'; frame::parse -> Err(Incomplete): keep them, read more
//! frames split: sender wrote the other 15 bytes
//! frames split: recv -> 15 bytes b'rame cut in two'; frame::parse -> b'a frame cut in two' (22 bytes used)
//! frames split: read_frame with the header cut after 2 bytes -> b'a frame cut in two' (it reads until the frame is whole)
//! sleep, prompt receiver: send b'msg-0', recv #1 -> 5 bytes b'msg-0', sleep 20 ms
//! sleep, prompt receiver: send b'msg-1', recv #2 -> 5 bytes b'msg-1', sleep 20 ms
//! sleep, prompt receiver: send b'msg-2', recv #3 -> 5 bytes b'msg-2', sleep 20 ms
//! sleep, prompt receiver: send b'msg-3', recv #4 -> 5 bytes b'msg-3', sleep 20 ms
//! sleep, prompt receiver: send b'msg-4', recv #5 -> 5 bytes b'msg-4', sleep 20 ms
//! sleep, prompt receiver: 5 writes became 5 reads: it looks fixed
//! sleep, busy receiver: sender: 5 writes b'msg-0' .. b'msg-4', sleeping 20 ms after each
//! sleep, busy receiver: recv #1 -> 25 bytes b'msg-0msg-1msg-2msg-3msg-4'
//! sleep, busy receiver: recv #2 -> 0 bytes b'' (EOF)
//! sleep, busy receiver: 5 writes became 1 read: still glued; a sleep only lowers the odds and slows the sender
//! ```
//!
//! Python → Rust:
//! - `s.send(data)` / `s.sendall(data)` → `Write::write(data)` / `Write::write_all(data)`
//! - `s.recv(1024)` → `Read::read(&mut buf[..1024])`; `b''` at EOF → `Ok(0)`
//! - `s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)` → `TcpStream::set_nodelay(true)`
//! - `data.split(b'\n')` (keeping the unfinished tail) → `netkit::wire::line::parse(&buf, max)`
//! - `struct.pack('!I', len(p)) + p` → `netkit::wire::frame::encode_to_vec(p)` /
//!   `frame::write_frame(&mut s, p)`
//! - `struct.unpack('!I', buf[:4])` and slicing → `frame::parse(&buf, MAX_FRAME)`;
//!   a loop of `recv` until a whole frame is in → `frame::read_frame(&mut s, MAX_FRAME)`
//! - `time.sleep(0.02)` → `std::thread::sleep(Duration::from_millis(20))`

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use netkit::wire::{frame, line};

/// How long the busy receiver is busy before its first read.
const BUSY: Duration = Duration::from_millis(100);
/// The sleep after each send, the course's third suggestion.
const PAUSE: Duration = Duration::from_millis(20);
/// Longest wait for anything the kernel does on loopback.
const PATIENCE: Duration = Duration::from_secs(2);

/// Bytes as Python prints them: `b'hi\n'`.
fn py(bytes: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

fn messages() -> Vec<Vec<u8>> {
    (0..5).map(|i| format!("msg-{i}").into_bytes()).collect()
}

fn py_list(items: &[Vec<u8>]) -> String {
    items.iter().map(|m| py(m)).collect::<Vec<_>>().join(" ")
}

/// Bytes waiting in a socket's receive buffer (`ioctl(fd, FIONREAD)`).
fn queued(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to
    // `n`, alive for the whole call; the fd is open (we borrow its owner).
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Waits until at least `n` bytes are in the receive buffer.
fn wait_queued(sock: &impl AsRawFd, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    while queued(sock)? < n {
        anyhow::ensure!(Instant::now() < deadline, "{n} bytes never arrived");
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// A connected pair on 127.0.0.1: (sender with TCP_NODELAY, receiver).
fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let sender = TcpStream::connect(listener.local_addr()?)?;
    let (receiver, _) = listener.accept()?;
    sender.set_nodelay(true)?; // each write leaves as its own segment
    receiver.set_read_timeout(Some(PATIENCE))?; // never hang if something goes wrong
    Ok((sender, receiver))
}

/// Sends each of `writes` with its own `write_all` (sleeping `pause` after
/// each) to a receiver that is busy for [`BUSY`] and then reads until EOF;
/// returns what each read returned.
fn to_busy_receiver(writes: &[Vec<u8>], pause: Option<Duration>) -> anyhow::Result<Vec<Vec<u8>>> {
    let (mut sender, mut receiver) = tcp_pair()?;
    let total: usize = writes.iter().map(Vec::len).sum();
    let reader = thread::spawn(move || -> anyhow::Result<Vec<Vec<u8>>> {
        thread::sleep(BUSY); // busy with something else
        // Demo guard: on a loaded machine the sender may still be writing after
        // 100 ms; wait until every byte is here so each run shows the same.
        wait_queued(&receiver, total)?;
        let mut reads = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = receiver.read(&mut buf)?;
            reads.push(buf[..n].to_vec());
            if n == 0 {
                return Ok(reads);
            }
        }
    });
    for w in writes {
        sender.write_all(w)?;
        if let Some(pause) = pause {
            thread::sleep(pause);
        }
    }
    drop(sender); // EOF for the receiver
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))?
}

/// Prints each read as `LABEL: recv #i -> n bytes ...`.
fn print_read(label: &str, i: usize, read: &[u8]) {
    let eof = if read.is_empty() { " (EOF)" } else { "" };
    println!(
        "{label}: recv #{i} -> {} bytes {}{eof}",
        read.len(),
        py(read)
    );
}

/// Data reads (not counting the final EOF).
fn data_reads(reads: &[Vec<u8>]) -> usize {
    reads.iter().filter(|r| !r.is_empty()).count()
}

fn problem() -> anyhow::Result<()> {
    let label = "problem";
    let msgs = messages();
    println!(
        "{label}: sender: 5 separate writes {} (TCP_NODELAY)",
        py_list(&msgs)
    );
    println!(
        "{label}: receiver busy for {} ms, then recv(1024) until EOF",
        BUSY.as_millis()
    );
    let reads = to_busy_receiver(&msgs, None)?;
    for (i, read) in reads.iter().enumerate() {
        print_read(label, i + 1, read);
    }
    println!(
        "{label}: {} writes became {} read{}: the messages are glued together, their boundaries lost",
        msgs.len(),
        data_reads(&reads),
        if data_reads(&reads) == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Remedy (a): an end marker after each message.
fn end_marker() -> anyhow::Result<()> {
    let label = "end marker";
    let writes: Vec<Vec<u8>> = messages()
        .into_iter()
        .map(|mut m| {
            m.push(b'\n');
            m
        })
        .collect();
    println!("{label}: sender: 5 writes {}", py_list(&writes));
    let reads = to_busy_receiver(&writes, None)?;
    // What a real receiver does: append each read to a buffer, then take out
    // every complete line; an unfinished line waits for the next read.
    let mut pending = Vec::new();
    let mut count = 0;
    for (i, read) in reads.iter().enumerate() {
        print_read(label, i + 1, read);
        pending.extend_from_slice(read);
        loop {
            match line::parse(&pending, 1024) {
                Ok((msg, used)) => {
                    count += 1;
                    println!("{label}: message {count}: {}", py(msg));
                    pending.drain(..used);
                }
                Err(line::LineError::Incomplete) => break,
                Err(e) => anyhow::bail!("bad line: {e}"),
            }
        }
    }
    anyhow::ensure!(pending.is_empty(), "unfinished line at EOF");
    println!(
        "{label}: {count} messages from {} read{}, split at b'\\n'",
        data_reads(&reads),
        if data_reads(&reads) == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Remedy (b): length-prefixed frames, glued and then split.
fn frames() -> anyhow::Result<()> {
    let label = "frames";
    let writes = messages()
        .iter()
        .map(|m| frame::encode_to_vec(m))
        .collect::<Result<Vec<_>, _>>()?;
    println!("{label}: sender: 5 writes {}", py_list(&writes));
    let reads = to_busy_receiver(&writes, None)?;
    let mut pending = Vec::new();
    let mut count = 0;
    for (i, read) in reads.iter().enumerate() {
        print_read(label, i + 1, read);
        pending.extend_from_slice(read);
        loop {
            match frame::parse(&pending, frame::MAX_FRAME) {
                Ok((msg, used)) => {
                    count += 1;
                    println!("{label}: message {count}: {}", py(msg));
                    pending.drain(..used);
                }
                Err(frame::FrameError::Incomplete) => break,
                Err(e) => anyhow::bail!("bad frame: {e}"),
            }
        }
    }
    anyhow::ensure!(pending.is_empty(), "unfinished frame at EOF");
    println!(
        "{label}: {count} messages from {} read{}, each frame gives its own length",
        data_reads(&reads),
        if data_reads(&reads) == 1 { "" } else { "s" }
    );

    // One frame arriving in two pieces (as a long message can on a real network).
    let label = "frames split";
    let payload = b"a frame cut in two";
    let whole = frame::encode_to_vec(payload)?;
    let cut = frame::HEADER_LEN + 3;
    let (mut sender, mut receiver) = tcp_pair()?;
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    sender.write_all(&whole[..cut])?;
    println!(
        "{label}: sender wrote {cut} of the {} bytes of one frame",
        whole.len()
    );
    wait_queued(&receiver, cut)?;
    let n = receiver.read(&mut buf)?;
    pending.extend_from_slice(&buf[..n]);
    match frame::parse(&pending, frame::MAX_FRAME) {
        Err(e @ frame::FrameError::Incomplete) => println!(
            "{label}: recv -> {n} bytes {}; frame::parse -> Err({e:?}): keep them, read more",
            py(&buf[..n])
        ),
        other => anyhow::bail!("expected an incomplete frame, got {other:?}"),
    }
    sender.write_all(&whole[cut..])?;
    println!(
        "{label}: sender wrote the other {} bytes",
        whole.len() - cut
    );
    wait_queued(&receiver, whole.len() - cut)?;
    let n = receiver.read(&mut buf)?;
    pending.extend_from_slice(&buf[..n]);
    let (msg, used) = frame::parse(&pending, frame::MAX_FRAME)?;
    println!(
        "{label}: recv -> {n} bytes {}; frame::parse -> {} ({used} bytes used)",
        py(&buf[..n]),
        py(msg)
    );

    // The blocking helper runs that loop itself; here even the header is cut.
    let writer = thread::spawn(move || -> io::Result<()> {
        sender.write_all(&whole[..2])?;
        thread::sleep(PAUSE);
        sender.write_all(&whole[2..])
    });
    let msg = frame::read_frame(&mut receiver, frame::MAX_FRAME)?
        .ok_or_else(|| anyhow::anyhow!("EOF before the frame"))?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
    println!(
        "{label}: read_frame with the header cut after 2 bytes -> {} (it reads until the frame is whole)",
        py(&msg)
    );
    Ok(())
}

/// The course's third suggestion: sleep after each send.
fn sleep_between_sends() -> anyhow::Result<()> {
    // 1. A prompt receiver: always blocked in read, so it takes each message
    //    as soon as it lands. It reports each read back; the sender waits for
    //    that report (a demo guard: on a loaded machine even a prompt receiver
    //    can fall behind a 20 ms sleep, and no real sender gets such a report).
    let label = "sleep, prompt receiver";
    let msgs = messages();
    let (mut sender, mut receiver) = tcp_pair()?;
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || -> io::Result<()> {
        let mut buf = [0u8; 1024];
        loop {
            let n = receiver.read(&mut buf)?;
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return Ok(());
            }
        }
    });
    let mut reads = 0;
    for m in &msgs {
        sender.write_all(m)?;
        let read = rx.recv_timeout(PATIENCE)?;
        reads += 1;
        println!(
            "{label}: send {}, recv #{reads} -> {} bytes {}, sleep {} ms",
            py(m),
            read.len(),
            py(&read),
            PAUSE.as_millis()
        );
        thread::sleep(PAUSE);
    }
    drop(sender);
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))??;
    println!(
        "{label}: {} writes became {reads} reads: it looks fixed",
        msgs.len()
    );

    // 2. The same sleeps, but the receiver is busy.
    let label = "sleep, busy receiver";
    println!(
        "{label}: sender: 5 writes {} .. {}, sleeping {} ms after each",
        py(&msgs[0]),
        py(&msgs[4]),
        PAUSE.as_millis()
    );
    let reads = to_busy_receiver(&msgs, Some(PAUSE))?;
    for (i, read) in reads.iter().enumerate() {
        print_read(label, i + 1, read);
    }
    println!(
        "{label}: {} writes became {} read{}: still glued; a sleep only lowers the odds and slows the sender",
        msgs.len(),
        data_reads(&reads),
        if data_reads(&reads) == 1 { "" } else { "s" }
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    problem()?;
    end_marker()?;
    frames()?;
    sleep_between_sends()
}
