//! Lesson: the course's gevent echo server, as a tokio current-thread server.
//!
//! The course's version: `monkey.patch_all()`, then an accept loop that does
//! `gevent.spawn(handle, conn)` for every client; `handle` loops on
//! `recv`/`send`. One thread serves every client, because each patched
//! `recv` that has to wait switches to another coroutine instead of blocking.
//!
//! The same in Rust: a current-thread runtime (one thread, like gevent's hub),
//! `tokio::net` sockets (the "patched" ones: their `.await` yields the thread),
//! and one task per connection. The tasks never leave this thread
//! (`spawn_local` on a `LocalSet`), so they share the server's statistics
//! through `Rc<Cell<..>>`: no `Arc`, no `Mutex`, and the compiler checks that
//! nothing crosses to another thread.
//!
//! `--demo` starts the server on a free port, runs N clients (default 5) on
//! their own threads, all connected at the same time, which take turns
//! sending several messages (each round starts only when every client has its
//! previous echo, so the server must serve them all at once: a one-client-at-
//! a-time server would never get past the first round), checks every echo and
//! exits with what the server saw.
//!
//! Run: `cargo run --example async_echo_server -- [PORT]` (default 8888; serves
//! until Ctrl-C; try `nc 127.0.0.1 8888` in a few terminals), or
//! `cargo run --example async_echo_server -- --demo [CLIENTS]`.
//!
//! Expected output of `--demo` (port, pid and tids vary):
//! ```text
//! demo: echo server on 127.0.0.1:41000, tokio current-thread runtime, pid=5000 tid=5000
//! demo: 5 clients, each on its own thread, all connected at once, 3 rounds of messages
//! client 1: 3 of 3 echoes correct
//! client 2: 3 of 3 echoes correct
//! client 3: 3 of 3 echoes correct
//! client 4: 3 of 3 echoes correct
//! client 5: 3 of 3 echoes correct
//! demo: all 5 clients echoed correctly (15 of 15 messages)
//! server: 5 connections, max concurrent connections 5, 15 messages, 285 bytes echoed
//! server: every connection was served by 1 thread: tid=5000 (the main thread: true)
//! server: the clients used 5 other threads; the server needed no thread per client
//! server: interleaved: every connection's first message arrived before any connection's last: true
//! ```
//!
//! Python → Rust:
//! - `from gevent import monkey; monkey.patch_all()` → use `tokio::net` instead of `std::net`
//! - gevent's hub → `tokio::runtime::Builder::new_current_thread()` + `LocalSet`
//! - `s = socket(); s.bind(addr); s.listen()` → `tokio::net::TcpListener::bind(addr).await`
//! - `c, addr = s.accept()` → `listener.accept().await`
//! - `gevent.spawn(handle, c)` → `tokio::task::spawn_local(handle(c))`
//! - `c.recv(1024)` / `c.send(data)` → `stream.read(&mut buf).await` / `stream.write_all(data).await`
//! - globals shared by coroutines → `Rc<Cell<..>>` (one thread: no lock)
//! - Ctrl-C (`KeyboardInterrupt`) → `netkit::server::Shutdown::on_signals()`

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use netkit::server::Shutdown;
use nix::unistd::{getpid, gettid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server saw. Only this thread touches it: plain cells, no lock.
#[derive(Default)]
struct Stats {
    connections: Cell<usize>,
    open: Cell<usize>,
    max_open: Cell<usize>,
    bytes: Cell<u64>,
    /// Newlines seen so far: the number of messages, and each message's index.
    messages: Cell<usize>,
    /// Per connection: indexes of its first and last message.
    first_last: RefCell<Vec<(usize, usize)>>,
    /// Distinct OS threads that ran a connection task.
    tids: RefCell<Vec<i32>>,
}

/// Python's `handle(c)`: echo until the client closes.
async fn handle(mut stream: tokio::net::TcpStream, id: usize, stats: Rc<Stats>, verbose: bool) {
    let tid = gettid().as_raw();
    if !stats.tids.borrow().contains(&tid) {
        stats.tids.borrow_mut().push(tid);
    }
    let mut buf = vec![0u8; 1024];
    let mut echoed = 0u64;
    let mut span: Option<(usize, usize)> = None;
    loop {
        // Like a patched recv: if nothing is there yet, this task waits and
        // the thread runs the other connections.
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
            let index = stats.messages.get();
            stats.messages.set(index + 1);
            span = Some(span.map_or((index, index), |(first, _)| (first, index)));
        }
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
        echoed += n as u64;
        stats.bytes.set(stats.bytes.get() + n as u64);
    }
    if let Some(span) = span {
        stats.first_last.borrow_mut().push(span);
    }
    stats.open.set(stats.open.get() - 1);
    if verbose {
        println!(
            "connection {id} closed: {echoed} bytes echoed ({} open)",
            stats.open.get()
        );
    }
}

/// Counts a new connection and starts its task on this thread.
fn spawn_connection(stream: tokio::net::TcpStream, stats: &Rc<Stats>, verbose: bool) -> usize {
    let id = stats.connections.get() + 1;
    stats.connections.set(id);
    stats.open.set(stats.open.get() + 1);
    stats
        .max_open
        .set(stats.max_open.get().max(stats.open.get()));
    tokio::task::spawn_local(handle(stream, id, Rc::clone(stats), verbose));
    id
}

/// `python3 server.py`: serve on `port` until Ctrl-C (SIGINT) or SIGTERM.
async fn serve_forever(port: u16) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    println!(
        "async_echo_server: listening on {} (one thread: tokio current-thread runtime, pid={}); Ctrl-C stops",
        listener.local_addr()?,
        getpid()
    );
    let stats = Rc::new(Stats::default());
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !shutdown.is_set() {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = spawn_connection(stream, &stats, true);
                    println!("connection {id} from {peer} ({} open)", stats.open.get());
                }
                Err(e) => {
                    // Out of descriptors and the like: report, back off, keep serving.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = tick.tick() => {} // look at the shutdown flag again
        }
    }
    println!(
        "stopped: served {} connections ({} still open, closed now)",
        stats.connections.get(),
        stats.open.get()
    );
    Ok(())
}

/// One demo client's outcome.
struct ClientResult {
    tid: i32,
    correct: usize,
    error: Option<String>,
}

/// One client: connect, wait for everyone, then `rounds` request/echo turns,
/// each started together with the other clients. It takes part in every
/// barrier even after an error, so one failure cannot hang the others.
fn client(id: usize, addr: SocketAddr, rounds: usize, barrier: &Barrier) -> ClientResult {
    let mut result = ClientResult {
        tid: gettid().as_raw(),
        correct: 0,
        error: None,
    };
    let mut conn = match TcpStream::connect(addr) {
        Ok(c) => Some(c),
        Err(e) => {
            result.error = Some(format!("connect: {e}"));
            None
        }
    };
    if let Some(c) = &conn
        && let Err(e) = c.set_read_timeout(Some(Duration::from_secs(3)))
    {
        result.error = Some(format!("set_read_timeout: {e}"));
        conn = None;
    }
    barrier.wait(); // everyone is connected
    for round in 1..=rounds {
        barrier.wait(); // everyone has the previous round's echo
        let Some(c) = conn.as_mut() else { continue };
        let message = format!("client {id} message {round}\n");
        let mut echo = vec![0u8; message.len()];
        match c
            .write_all(message.as_bytes())
            .and_then(|()| c.read_exact(&mut echo))
        {
            Ok(()) if echo == message.as_bytes() => result.correct += 1,
            Ok(()) => {
                result.error = Some(format!(
                    "round {round}: wrong echo {:?}",
                    String::from_utf8_lossy(&echo)
                ))
            }
            Err(e) => {
                result.error = Some(format!("round {round}: {e}"));
                conn = None;
            }
        }
    }
    result
}

/// Runs `n` clients on their own threads and returns their results in client order.
fn run_clients(addr: SocketAddr, n: usize, rounds: usize) -> Vec<ClientResult> {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (1..=n)
        .map(|id| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || client(id, addr, rounds, &barrier))
        })
        .collect();
    threads
        .into_iter()
        .map(|t| {
            t.join().unwrap_or_else(|_| ClientResult {
                tid: -1,
                correct: 0,
                error: Some("client thread panicked".into()),
            })
        })
        .collect()
}

async fn demo(n: usize) -> anyhow::Result<()> {
    let rounds = 3;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let main_tid = gettid().as_raw();
    println!(
        "demo: echo server on {addr}, tokio current-thread runtime, pid={} tid={main_tid}",
        getpid()
    );
    println!(
        "demo: {n} clients, each on its own thread, all connected at once, {rounds} rounds of messages"
    );
    let stats = Rc::new(Stats::default());
    // The clients run on a plain thread; it hands their results back through a channel.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let coordinator = thread::spawn(move || {
        let _ = done_tx.send(run_clients(addr, n, rounds));
    });
    let results = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = accepted.context("accept")?;
                spawn_connection(stream, &stats, false);
            }
            results = &mut done_rx => break results.context("client threads vanished")?,
        }
    };
    coordinator
        .join()
        .map_err(|_| anyhow::anyhow!("coordinator thread panicked"))?;
    // The clients have closed; let the connection tasks see EOF and finish.
    let deadline = Instant::now() + Duration::from_secs(2);
    while stats.open.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut all_correct = 0;
    let mut client_tids = Vec::new();
    for (id, r) in (1..).zip(&results) {
        match &r.error {
            None => println!("client {id}: {} of {rounds} echoes correct", r.correct),
            Some(e) => println!(
                "client {id}: {} of {rounds} echoes correct, then failed: {e}",
                r.correct
            ),
        }
        all_correct += r.correct;
        if !client_tids.contains(&r.tid) && r.tid != main_tid {
            client_tids.push(r.tid);
        }
    }
    let expected = n * rounds;
    if all_correct == expected {
        println!("demo: all {n} clients echoed correctly ({all_correct} of {expected} messages)");
    } else {
        println!("demo: echo FAILED: {all_correct} of {expected} messages correct");
    }
    println!(
        "server: {} connections, max concurrent connections {}, {} messages, {} bytes echoed",
        stats.connections.get(),
        stats.max_open.get(),
        stats.messages.get(),
        stats.bytes.get()
    );
    let tids = stats.tids.borrow();
    println!(
        "server: every connection was served by {} thread: tid={} (the main thread: {})",
        tids.len(),
        tids.first().copied().unwrap_or(-1),
        *tids == [main_tid]
    );
    println!(
        "server: the clients used {} other threads; the server needed no thread per client",
        client_tids.len()
    );
    let spans = stats.first_last.borrow();
    let last_first = spans.iter().map(|&(first, _)| first).max();
    let first_last = spans.iter().map(|&(_, last)| last).min();
    println!(
        "server: interleaved: every connection's first message arrived before any connection's last: {}",
        spans.len() == n && matches!((last_first, first_last), (Some(f), Some(l)) if f < l)
    );
    anyhow::ensure!(all_correct == expected, "some echoes were wrong or missing");
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    // spawn_local needs a LocalSet: tasks that stay on this thread.
    let local = tokio::task::LocalSet::new();
    match args.first().map(String::as_str) {
        Some("--demo") => {
            let n = match args.get(1) {
                Some(s) => s
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| {
                        netkit::lesson::usage(format!("bad client count {s:?} (1 to 200)"))
                    })?,
                None => 5,
            };
            local.block_on(&runtime, demo(n))
        }
        Some(p) => {
            let port = p.parse::<u16>().map_err(|_| {
                netkit::lesson::usage(format!(
                    "bad port {p:?} (usage: async_echo_server [PORT] | --demo [CLIENTS])"
                ))
            })?;
            local.block_on(&runtime, serve_forever(port))
        }
        None => local.block_on(&runtime, serve_forever(8888)),
    }
}
