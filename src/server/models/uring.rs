//! The uring model: one io_uring(7) per worker thread, completion-based.
//!
//! Readiness models ask "can I read?" and then read; this one hands the
//! kernel the reads and writes themselves and hears when they are done. Each
//! worker owns a ring, its own SO_REUSEPORT listener (like epoll) and its
//! connections, and per turn of its loop submits everything queued and reaps
//! every completion with one `io_uring_enter`:
//!
//! - **accept**: one multishot accept per listener, re-armed when the kernel
//!   ends it (after an error such as EMFILE, after a pause);
//! - **receive**: one receive per connection, armed while its session wants
//!   input, taking a buffer from the worker's provided-buffer ring only when
//!   data arrives, so an idle connection holds no buffer; the buffer goes back
//!   to the ring as soon as the session has seen the bytes;
//! - **send**: the leading bytes of the output queue, copied into the
//!   connection's send buffer (the session may append to its queue meanwhile),
//!   as one submission; a file region is read into that buffer by the ring
//!   (64 KiB at a time) and sent from it;
//! - **input sinks** (uploads spliced into files): a poll on the socket, then
//!   the same `splice` the other drivers use;
//! - **time**: the ring wait has a timeout of one tick, after which sessions'
//!   deadlines and the idle timeout are swept, as in the readiness loops;
//! - **shutdown**: the accept is cancelled, idle connections close at once,
//!   the rest get the grace period; a connection closes only once the ring
//!   holds no operation of it (cancelled ones report back first), so no
//!   buffer is freed under the kernel.
//!
//! Datagram services get one ring per worker too: a few receives always in
//! flight, each reply sent as its own `sendmsg`.

use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;

use super::{ACCEPT_PAUSE, AcceptErrors};
use crate::server::clock;
use crate::server::session_core::SessionCore;
use crate::server::shutdown::TICK;
use crate::server::{
    Config, DatagramService, Listener, Peer, Run, ServerError, Service, Shutdown, Stream,
};
use crate::sys;

/// Submission queue entries per ring (completions: four times as many).
const RING_ENTRIES: u32 = 1024;
/// Provided receive buffers per worker, and their size.
const RECV_BUFFERS: u16 = 64;
const RECV_BUFFER_SIZE: usize = 16 * 1024;
/// The buffer group of the receive buffers.
const GROUP: u16 = 0;
/// Most bytes a connection's stash holds before it is closed. The stash
/// takes what a multishot receive delivers after the session stopped taking
/// input and before the cancel lands: at most what the worker's free
/// buffers hold in one ring entry (the kernel fills buffers only while the
/// worker is in `io_uring_enter`, and the cancel goes in with the next one),
/// so twice that is a safety margin, never reached by a working client.
const STASH_MAX: usize = 2 * RECV_BUFFERS as usize * RECV_BUFFER_SIZE;
/// Most bytes one send submission carries.
const SEND_MAX: usize = 256 * 1024;
/// File regions are read into the send buffer this much at a time.
const FILE_PIECE: usize = 64 * 1024;

/// What a completion is about: the low bits of its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Accept = 0,
    Recv = 1,
    Send = 2,
    ReadFile = 3,
    PollIn = 4,
    Cancel = 5,
}

const OP_BITS: u64 = 3;
/// The key of completions that belong to no connection (accept, cancel of it).
const NO_CONN: u64 = (1 << 40) - 1;

fn user_data(key: u64, op: Op) -> u64 {
    (key << OP_BITS) | op as u64
}

fn split(data: u64) -> (u64, Op) {
    let op = match data & ((1 << OP_BITS) - 1) {
        0 => Op::Accept,
        1 => Op::Recv,
        2 => Op::Send,
        3 => Op::ReadFile,
        4 => Op::PollIn,
        _ => Op::Cancel,
    };
    (data >> OP_BITS, op)
}

/// Checks at start-up that this kernel lets the process use io_uring with the
/// operations the model needs, so `--model uring` fails with one clear line
/// instead of later.
pub(crate) fn probe() -> Result<(), ServerError> {
    let unavailable = |why: String| {
        ServerError::Unavailable(format!(
            "io_uring is not available here ({why}); use --model epoll"
        ))
    };
    let ring = IoUring::new(8).map_err(|e| unavailable(e.to_string()))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| unavailable(format!("probe: {e}")))?;
    for (code, name) in [
        (opcode::AcceptMulti::CODE, "accept"),
        (opcode::Recv::CODE, "recv"),
        (opcode::Send::CODE, "send"),
        (opcode::Read::CODE, "read"),
        (opcode::PollAdd::CODE, "poll"),
        (opcode::AsyncCancel2::CODE, "cancel"),
        (opcode::RecvMsg::CODE, "recvmsg"),
        (opcode::SendMsg::CODE, "sendmsg"),
    ] {
        if !probe.is_supported(code) {
            return Err(unavailable(format!("the kernel lacks IORING_OP_{name}")));
        }
    }
    // Provided-buffer rings came with 5.19, multishot accept too.
    let buffers = BufRing::new(&ring, 8, 64, GROUP);
    // The ring goes first: the buffers it knows about must outlive it.
    drop(ring);
    buffers
        .map(drop)
        .map_err(|e| unavailable(format!("buffer ring: {e}")))
}

fn io_err(context: &str) -> impl FnOnce(io::Error) -> ServerError + '_ {
    move |e| ServerError::io(context, e)
}

/// A ring of provided buffers: the kernel picks one when a receive has data.
struct BufRing {
    /// The ring of buffer descriptors (page-aligned, shared with the kernel).
    ring: *mut types::BufRingEntry,
    ring_layout: std::alloc::Layout,
    /// The buffers themselves, `size` bytes each.
    memory: Vec<u8>,
    entries: u16,
    size: usize,
    /// Our copy of the ring's tail.
    tail: u16,
}

impl BufRing {
    /// Allocates `entries` buffers of `size` bytes and registers them as group `group`.
    fn new(ring: &IoUring, entries: u16, size: usize, group: u16) -> io::Result<BufRing> {
        assert!(entries.is_power_of_two());
        let ring_layout = std::alloc::Layout::from_size_align(
            entries as usize * std::mem::size_of::<types::BufRingEntry>(),
            4096,
        )
        .map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size; zeroed memory is a valid
        // (empty) ring, and it is freed in Drop with the same layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(ring_layout) } as *mut types::BufRingEntry;
        if ptr.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut bufs = BufRing {
            ring: ptr,
            ring_layout,
            memory: vec![0; entries as usize * size],
            entries,
            size,
            tail: 0,
        };
        // SAFETY: the ring memory is page-aligned, `entries` long, and lives
        // until Drop, which unregisters nothing itself: the ring that knows
        // it is dropped first (the worker owns both, ring declared first).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(ptr as u64, entries, group, 0)?
        };
        for bid in 0..entries {
            bufs.give_back(bid);
        }
        Ok(bufs)
    }

    /// The bytes the kernel put into buffer `bid`.
    fn data(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Returns buffer `bid` to the kernel.
    fn give_back(&mut self, bid: u16) {
        let mask = self.entries - 1;
        // SAFETY: the index is masked into the ring; the buffer address points
        // into `memory`, which outlives the registration.
        unsafe {
            let entry = &mut *self.ring.add((self.tail & mask) as usize);
            entry.set_addr(self.memory.as_ptr().add(bid as usize * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
            self.tail = self.tail.wrapping_add(1);
            let tail = types::BufRingEntry::tail(self.ring) as *const std::sync::atomic::AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ring as *mut u8, self.ring_layout) };
    }
}

/// Submits what is queued and waits up to `wait` for `want` completions (a
/// timeout, a signal or a full completion queue just end the wait).
fn enter(ring: &IoUring, want: usize, wait: Duration) -> Result<(), ServerError> {
    let ts = types::Timespec::from(wait);
    let args = types::SubmitArgs::new().timespec(&ts);
    match ring.submitter().submit_with_args(want, &args) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(ServerError::io("io_uring_enter", e)),
    }
}

/// Queues `entry`, submitting what is queued first if the queue is full.
fn push(ring: &mut IoUring, entry: squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every entry's buffers (receive ring, send buffers, file
        // buffers, msghdrs) are owned by the worker or the connection, which
        // are not freed while an operation of theirs is in flight.
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// One connection of a worker.
struct UConn<S: crate::server::Session> {
    stream: Stream,
    core: SessionCore<S>,
    /// Operations of this connection the ring still holds.
    inflight: u8,
    /// The multishot receive is armed, and being cancelled.
    recv_armed: bool,
    recv_cancelling: bool,
    /// Bytes received while the session took none, and whether EOF followed them.
    stash: Vec<u8>,
    eof: bool,
    poll_armed: bool,
    /// Bytes being sent (a copy of the output's front, or a file piece), and
    /// how much of them has gone.
    send: Vec<u8>,
    send_pos: usize,
    /// A send of `send[send_pos..]` is in flight.
    sending: bool,
    /// A read of a file piece into `send` is in flight.
    reading_file: bool,
    /// `send` holds a file piece (still queued in the output) rather than
    /// bytes taken out of the output.
    send_from_file: bool,
    /// Closing: waiting for `inflight` to reach zero.
    closing: bool,
    last_activity: Instant,
}

impl<S: crate::server::Session> UConn<S> {
    /// True while output is on its way: a send or file read in flight, or a
    /// partly sent buffer.
    fn busy(&self) -> bool {
        self.sending || self.reading_file || self.send_pos < self.send.len()
    }
}

/// Serves sessions from `config.workers()` rings until shutdown.
pub(crate) fn serve<S: Service>(run: Run<'_, Listener>, service: S) -> Result<(), ServerError> {
    probe()?;
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    let (listeners, _) = super::worker_listeners(listener, config.workers())?;
    let open = Arc::new(AtomicUsize::new(0));
    let service = &service;
    super::run_workers(listeners, "netkit-uring", |_, l| {
        Worker::new(l, config, service, Arc::clone(&open))?.run(&shutdown)
    })
}

/// One worker: its ring, listener, buffers and connections.
struct Worker<'s, S: Service> {
    // Declared first: dropped before the buffers it knows about.
    ring: IoUring,
    bufs: BufRing,
    listener: Listener,
    conns: Slab<UConn<S::Session>>,
    service: &'s S,
    config: &'s Config,
    open: Arc<AtomicUsize>,
    max: usize,
    overload: Option<Vec<u8>>,
    /// The multishot accept is armed (or being cancelled).
    accept_armed: bool,
    accept_errors: AcceptErrors,
    paused_until: Option<Instant>,
    last_sweep: Instant,
    /// Connections to look at again this turn.
    dirty: Vec<usize>,
}

impl<'s, S: Service> Worker<'s, S> {
    fn new(
        listener: Listener,
        config: &'s Config,
        service: &'s S,
        open: Arc<AtomicUsize>,
    ) -> Result<Self, ServerError> {
        // Task work (completions' last steps) runs only when this thread
        // enters the ring, not as interrupts of whatever it is doing (6.1+;
        // older kernels get a plain ring).
        let ring = IoUring::builder()
            .setup_cqsize(RING_ENTRIES * 4)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(RING_ENTRIES)
            .or_else(|_| {
                IoUring::builder()
                    .setup_cqsize(RING_ENTRIES * 4)
                    .build(RING_ENTRIES)
            })
            .map_err(io_err("io_uring_setup"))?;
        let bufs = BufRing::new(&ring, RECV_BUFFERS, RECV_BUFFER_SIZE, GROUP)
            .map_err(io_err("io_uring buffer ring"))?;
        listener.set_nonblocking(true).map_err(io_err("listener"))?;
        Ok(Worker {
            ring,
            bufs,
            listener,
            conns: Slab::new(),
            service,
            config,
            open,
            max: config.max_connections.max(1),
            overload: service.overload_reply(),
            accept_armed: false,
            accept_errors: AcceptErrors::default(),
            paused_until: None,
            last_sweep: Instant::now(),
            dirty: Vec::new(),
        })
    }

    fn run(mut self, shutdown: &Shutdown) -> Result<(), ServerError> {
        let mut stopping = false;
        let mut reaped: Vec<(u64, i32, u32)> = Vec::with_capacity(RING_ENTRIES as usize);
        let mut last_event = Instant::now();
        loop {
            if shutdown.is_set() {
                if !stopping {
                    stopping = true;
                    self.cancel_accept()?;
                }
                let force = shutdown.past_deadline(self.config.shutdown_timeout);
                let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                for key in keys {
                    let c = &mut self.conns[key];
                    if c.closing {
                        continue;
                    }
                    let idle = c.core.is_idle() && !c.busy() && c.stash.is_empty();
                    if force && !idle && !c.busy() {
                        c.core.last_word(c.stream.as_fd());
                    }
                    if idle || force {
                        self.close(key)?;
                    }
                }
                if self.conns.is_empty() && !self.accept_armed {
                    return Ok(());
                }
            } else {
                self.arm_accept()?;
            }
            // Busy polling, as epoll does: right after completions, look
            // again without sleeping (yielding the CPU in between).
            let spinning = clock::now().duration_since(last_event) < self.config.busy_poll;
            let wait = if spinning { Duration::ZERO } else { TICK };
            enter(&self.ring, usize::from(!spinning), wait)?;
            clock::tick();
            reaped.clear();
            reaped.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            if reaped.is_empty() {
                if spinning {
                    let _ = nix::sched::sched_yield();
                }
            } else {
                last_event = clock::now();
            }
            for &(data, result, flags) in &reaped {
                self.complete(data, result, flags)?;
            }
            while let Some(key) = self.dirty.pop() {
                self.advance(key)?;
            }
            self.sweep()?;
        }
    }

    fn arm_accept(&mut self) -> Result<(), ServerError> {
        if self.accept_armed {
            return Ok(());
        }
        if let Some(until) = self.paused_until {
            if clock::now() < until {
                return Ok(());
            }
            self.paused_until = None;
        }
        if self.open.load(Ordering::Relaxed) >= self.max && self.overload.is_none() {
            return Ok(()); // at the limit: new clients wait in the backlog
        }
        let entry = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd()))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data(NO_CONN, Op::Accept));
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))?;
        self.accept_armed = true;
        Ok(())
    }

    fn cancel_accept(&mut self) -> Result<(), ServerError> {
        if !self.accept_armed {
            return Ok(());
        }
        let entry = opcode::AsyncCancel::new(user_data(NO_CONN, Op::Accept))
            .build()
            .user_data(user_data(NO_CONN, Op::Cancel));
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))
    }

    fn complete(&mut self, data: u64, result: i32, flags: u32) -> Result<(), ServerError> {
        let (key, op) = split(data);
        if key == NO_CONN {
            if op == Op::Accept {
                if !cqueue::more(flags) {
                    self.accept_armed = false;
                }
                self.accepted(result)?;
            }
            return Ok(());
        }
        let key = key as usize;
        let Some(c) = self.conns.get_mut(key) else {
            return Ok(());
        };
        // A multishot receive is one operation until its last completion.
        let last = op != Op::Recv || !cqueue::more(flags);
        if op != Op::Cancel && last {
            c.inflight -= 1;
        }
        match op {
            Op::Recv => {
                if last {
                    c.recv_armed = false;
                    c.recv_cancelling = false;
                }
                let bid = cqueue::buffer_select(flags);
                if c.closing {
                    if let Some(bid) = bid {
                        self.bufs.give_back(bid);
                    }
                } else if result > 0 {
                    let bid = bid.expect("a receive with data names its buffer");
                    let data = self.bufs.data(bid, result as usize);
                    // Bytes that come while the session takes none (the
                    // receive is being cancelled) wait in the stash.
                    let ok = if c.stash.is_empty() && c.core.wants_input() {
                        c.core.input(data).is_ok()
                    } else {
                        c.stash.extend_from_slice(data);
                        c.stash.len() <= STASH_MAX
                    };
                    self.bufs.give_back(bid);
                    c.last_activity = clock::now();
                    if !ok {
                        return self.close(key);
                    }
                } else if result == 0 {
                    c.eof = true;
                    if c.stash.is_empty() {
                        c.core.input_ended();
                    }
                } else if result == -libc::ENOBUFS {
                    // Every buffer was taken when the data came; they have
                    // been given back since: armed again below.
                } else if result != -libc::ECANCELED {
                    return self.close(key);
                }
            }
            Op::Send => {
                c.sending = false;
                if result < 0 {
                    if !c.closing && result != -libc::EAGAIN && result != -libc::EINTR {
                        return self.close(key);
                    }
                    // Tried again from `send_pos` (advance).
                } else {
                    let n = result as usize;
                    if c.send_from_file {
                        c.core.out().advance_many(n);
                    } else {
                        c.core.out().record_written(n);
                    }
                    c.send_pos += n;
                    c.last_activity = clock::now();
                    if c.send_pos >= c.send.len() {
                        c.send = Vec::new(); // an idle connection holds no buffer
                        c.send_pos = 0;
                    }
                    // Else: the rest of the buffer goes next (advance).
                    if !c.closing && c.core.settle().is_err() {
                        return self.close(key);
                    }
                }
            }
            Op::ReadFile => {
                c.reading_file = false;
                if c.closing {
                } else if result <= 0 {
                    // The file shrank or failed under us: the reply cannot be completed.
                    return self.close(key);
                } else {
                    c.send.truncate(result as usize);
                    c.send_pos = 0;
                    c.sending = true;
                    let entry = send_entry(c, key);
                    c.inflight += 1;
                    push(&mut self.ring, entry).map_err(io_err("io_uring submit"))?;
                    return Ok(());
                }
            }
            Op::PollIn => {
                c.poll_armed = false;
                if !c.closing {
                    let fd = c.stream.as_fd();
                    loop {
                        match c.core.splice(fd) {
                            Some(Ok(0)) => break,
                            Some(Ok(_)) => continue,
                            Some(Err(e)) if sys::would_block(&e) => break,
                            Some(Err(_)) => return self.close(key),
                            None => break,
                        }
                    }
                    c.last_activity = clock::now();
                }
            }
            Op::Accept | Op::Cancel => {}
        }
        let c = &self.conns[key];
        if c.closing {
            if c.inflight == 0 {
                self.finish_close(key);
            }
        } else {
            self.dirty.push(key);
        }
        Ok(())
    }

    fn accepted(&mut self, result: i32) -> Result<(), ServerError> {
        if result < 0 {
            let e = io::Error::from_raw_os_error(-result);
            if result == -libc::ECANCELED {
                return Ok(());
            }
            if let Some(pause) = self.accept_errors.failed(&e) {
                self.paused_until = Some(clock::now() + pause.max(ACCEPT_PAUSE));
                self.cancel_accept()?;
            }
            return Ok(());
        }
        self.accept_errors.accepted();
        // SAFETY: the kernel made this descriptor for us; we own it now.
        let stream = match &self.listener {
            Listener::Tcp(_) => Stream::Tcp(unsafe { TcpStream::from_raw_fd(result) }),
            Listener::Unix(..) => Stream::Unix(unsafe { UnixStream::from_raw_fd(result) }),
        };
        let claimed = self.open.fetch_add(1, Ordering::Relaxed);
        if claimed >= self.max {
            if let Some(reply) = &self.overload {
                self.open.fetch_sub(1, Ordering::Relaxed);
                super::refuse(stream.as_fd(), reply);
                return Ok(());
            }
            // Accepted before the limit was seen: served slightly over it;
            // accepting stops until there is room.
            self.cancel_accept()?;
        }
        let peer = match &stream {
            Stream::Tcp(t) => t.peer_addr().map(Peer::Inet).unwrap_or(Peer::Unix),
            Stream::Unix(_) => Peer::Unix,
        };
        stream.set_nodelay();
        let session = self.service.session(&peer);
        let now = clock::now();
        let key = self.conns.insert(UConn {
            stream,
            core: SessionCore::new(session, now),
            inflight: 0,
            recv_armed: false,
            recv_cancelling: false,
            stash: Vec::new(),
            eof: false,
            poll_armed: false,
            send: Vec::new(),
            send_pos: 0,
            sending: false,
            reading_file: false,
            send_from_file: false,
            closing: false,
            last_activity: now,
        });
        self.dirty.push(key);
        Ok(())
    }

    /// Submits what connection `key` can do next: a send, a receive, or its close.
    fn advance(&mut self, key: usize) -> Result<(), ServerError> {
        let Some(c) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if c.closing {
            return Ok(());
        }
        if !c.sending && !c.reading_file {
            if c.send_pos < c.send.len() {
                // A partial send: the rest of the buffer.
                c.sending = true;
                let entry = send_entry(c, key);
                c.inflight += 1;
                push(&mut self.ring, entry).map_err(io_err("io_uring submit"))?;
            } else if !c.core.out_is_empty() {
                self.start_send(key)?;
            }
        }
        let c = &mut self.conns[key];
        if !c.busy() {
            if c.core.out_is_empty() && c.core.settle().is_err() {
                return self.close(key);
            }
            if c.core.finished() {
                return self.close(key);
            }
            if !c.core.out_is_empty() {
                self.dirty.push(key); // settle queued more
                return Ok(());
            }
        }
        // Stashed bytes first, once the session takes input again.
        if !c.stash.is_empty() && c.core.wants_input() {
            let stash = std::mem::take(&mut c.stash);
            if c.core.input(&stash).is_err() {
                return self.close(key);
            }
            if c.eof {
                c.core.input_ended();
            }
            self.dirty.push(key);
            return Ok(());
        }
        let wants = c.core.wants_input() && !c.eof;
        let sink = wants && c.core.has_sink();
        if c.recv_armed && !c.recv_cancelling && (!wants || sink) {
            // The session takes no more for now (or takes it by splice):
            // the multishot receive stops.
            c.recv_cancelling = true;
            let entry = opcode::AsyncCancel::new(user_data(key as u64, Op::Recv))
                .build()
                .user_data(user_data(key as u64, Op::Cancel));
            push(&mut self.ring, entry).map_err(io_err("io_uring submit"))?;
        }
        if wants && !c.recv_armed && !c.poll_armed && c.stash.is_empty() {
            let fd = types::Fd(c.stream.as_raw_fd());
            let entry = if sink {
                c.poll_armed = true;
                opcode::PollAdd::new(fd, libc::POLLIN as u32)
                    .build()
                    .user_data(user_data(key as u64, Op::PollIn))
            } else {
                // One multishot receive serves every request of the
                // connection: no re-arming per request.
                c.recv_armed = true;
                opcode::RecvMulti::new(fd, GROUP)
                    .build()
                    .user_data(user_data(key as u64, Op::Recv))
            };
            c.inflight += 1;
            push(&mut self.ring, entry).map_err(io_err("io_uring submit"))?;
        }
        Ok(())
    }

    /// Starts sending the front of connection `key`'s output.
    fn start_send(&mut self, key: usize) -> Result<(), ServerError> {
        let c = &mut self.conns[key];
        c.send.clear();
        c.send_pos = 0;
        let entry = match c.core.out().front_mut() {
            Some(crate::server::Chunk::File { file, offset, len }) => {
                let piece = (*len).min(FILE_PIECE as u64) as usize;
                c.send.resize(piece, 0);
                c.reading_file = true;
                c.send_from_file = true;
                opcode::Read::new(
                    types::Fd(file.as_raw_fd()),
                    c.send.as_mut_ptr(),
                    piece as u32,
                )
                .offset(*offset)
                .build()
                .user_data(user_data(key as u64, Op::ReadFile))
            }
            Some(crate::server::Chunk::Bytes { .. }) => {
                // The queue's own buffer moves here (the session may append
                // to its queue while the kernel reads this one).
                c.send = c.core.out().take_front_bytes(SEND_MAX);
                c.send_from_file = false;
                c.sending = true;
                send_entry(c, key)
            }
            None => return Ok(()),
        };
        c.inflight += 1;
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))
    }

    /// Starts closing connection `key`: cancels what the ring holds of it,
    /// and closes once all of that has reported back.
    fn close(&mut self, key: usize) -> Result<(), ServerError> {
        let c = &mut self.conns[key];
        if c.closing {
            return Ok(());
        }
        c.closing = true;
        if c.inflight == 0 {
            self.finish_close(key);
            return Ok(());
        }
        let entry = opcode::AsyncCancel2::new(
            types::CancelBuilder::fd(types::Fd(c.stream.as_raw_fd())).all(),
        )
        .build()
        .user_data(user_data(key as u64, Op::Cancel));
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))
    }

    fn finish_close(&mut self, key: usize) {
        if let Some(c) = self.conns.try_remove(key) {
            self.open.fetch_sub(1, Ordering::Relaxed);
            sys::graceful_close(c.stream.as_fd());
        }
    }

    /// Sessions past their deadline answer (408) and close; connections
    /// idle past the timeout close. At most every 100 ms.
    fn sweep(&mut self) -> Result<(), ServerError> {
        let now = clock::now();
        if now.duration_since(self.last_sweep) < Duration::from_millis(100) {
            return Ok(());
        }
        self.last_sweep = now;
        let idle = self.config.idle_timeout;
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let c = &mut self.conns[key];
            if c.closing {
                continue;
            }
            if c.core.deadline_passed(now) {
                c.core.expire();
                self.dirty.push(key);
            } else if idle.is_some_and(|t| now.duration_since(c.last_activity) >= t) {
                self.close(key)?;
            }
        }
        while let Some(key) = self.dirty.pop() {
            self.advance(key)?;
        }
        Ok(())
    }
}

/// A send of the rest of `c.send`.
fn send_entry<S: crate::server::Session>(c: &UConn<S>, key: usize) -> squeue::Entry {
    let rest = &c.send[c.send_pos..];
    opcode::Send::new(
        types::Fd(c.stream.as_raw_fd()),
        rest.as_ptr(),
        rest.len() as u32,
    )
    .flags(libc::MSG_NOSIGNAL)
    .build()
    .user_data(user_data(key as u64, Op::Send))
}

/// Receives always in flight per datagram worker.
const DATAGRAM_RECEIVES: usize = 16;
/// Replies in flight per datagram worker; more are dropped (and counted).
const DATAGRAM_SENDS: usize = 8192;

/// One datagram receive or send with the memory the kernel reads or fills.
struct Message {
    buf: Vec<u8>,
    addr: libc::sockaddr_storage,
    iov: libc::iovec,
    hdr: libc::msghdr,
}

impl Message {
    fn new(buf: Vec<u8>) -> Box<Message> {
        // SAFETY: all-zero is a valid sockaddr_storage, iovec and msghdr.
        let mut m = Box::new(Message {
            buf,
            addr: unsafe { std::mem::zeroed() },
            iov: unsafe { std::mem::zeroed() },
            hdr: unsafe { std::mem::zeroed() },
        });
        m.point();
        m
    }

    /// Points the header at this message's own (boxed, so unmoving) fields.
    fn point(&mut self) {
        self.iov.iov_base = self.buf.as_mut_ptr() as *mut libc::c_void;
        self.iov.iov_len = self.buf.len();
        self.hdr.msg_name = &mut self.addr as *mut _ as *mut libc::c_void;
        self.hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
        self.hdr.msg_iov = &mut self.iov;
        self.hdr.msg_iovlen = 1;
    }

    fn to(addr: SocketAddr, bytes: Vec<u8>) -> Box<Message> {
        let mut m = Message::new(bytes);
        let sa = socket2::SockAddr::from(addr);
        // SAFETY: a SockAddr's storage is a sockaddr_storage of `len` valid bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                sa.as_ptr() as *const u8,
                &mut m.addr as *mut _ as *mut u8,
                sa.len() as usize,
            );
        }
        m.hdr.msg_namelen = sa.len();
        m
    }

    fn sender(&self) -> Option<SocketAddr> {
        // SAFETY: the kernel filled `addr` with `msg_namelen` bytes.
        let sa = unsafe {
            socket2::SockAddr::new(
                std::ptr::read(&self.addr as *const _ as *const socket2::SockAddrStorage),
                self.hdr.msg_namelen,
            )
        };
        sa.as_socket()
    }
}

/// Answers datagrams from `config.workers()` rings, each on its own
/// SO_REUSEPORT socket when the given socket allows it.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    probe()?;
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    let sockets = super::worker_datagram_sockets(socket, config.workers())?;
    let service = &service;
    super::run_workers(sockets, "netkit-uring-udp", |i, s| {
        datagram_loop(s, service, shutdown.clone(), i == 0)
    })
}

fn datagram_loop<D: DatagramService>(
    socket: UdpSocket,
    service: &D,
    shutdown: Shutdown,
    ticks: bool,
) -> Result<(), ServerError> {
    let mut ring = IoUring::new(RING_ENTRIES).map_err(io_err("io_uring_setup"))?;
    let fd = types::Fd(socket.as_raw_fd());
    // Receives live in slots 0..DATAGRAM_RECEIVES; sends in a slab after them.
    let mut receives: Vec<Box<Message>> = (0..DATAGRAM_RECEIVES)
        .map(|_| Message::new(vec![0; 65536]))
        .collect();
    let mut sends: Slab<Box<Message>> = Slab::new();
    let recv_entry = |m: &mut Message, slot: usize| {
        m.point();
        opcode::RecvMsg::new(fd, &mut m.hdr)
            .build()
            .user_data(user_data(slot as u64, Op::Recv))
    };
    for (slot, m) in receives.iter_mut().enumerate() {
        push(&mut ring, recv_entry(m, slot)).map_err(io_err("io_uring submit"))?;
    }
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut dropped: u64 = 0;
    let every = service.tick_interval().filter(|_| ticks);
    let mut next_tick = every.map(|d| Instant::now() + d);
    let mut stopping = false;
    let mut receiving = DATAGRAM_RECEIVES;
    loop {
        if shutdown.is_set() && !stopping {
            stopping = true;
            let entry = opcode::AsyncCancel2::new(types::CancelBuilder::fd(fd).all())
                .build()
                .user_data(user_data(NO_CONN, Op::Cancel));
            push(&mut ring, entry).map_err(io_err("io_uring submit"))?;
        }
        enter(&ring, 1, TICK)?;
        clock::tick();
        let completions: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (data, result) in completions {
            let (key, op) = split(data);
            match op {
                Op::Recv => {
                    let slot = key as usize;
                    if result >= 0 {
                        let m = &receives[slot];
                        if let Some(from) = m.sender() {
                            service.on_datagram(from, &m.buf[..result as usize], &mut out);
                        }
                    }
                    if !stopping && result != -libc::ECANCELED {
                        let entry = recv_entry(&mut receives[slot], slot);
                        push(&mut ring, entry).map_err(io_err("io_uring submit"))?;
                    } else {
                        receiving -= 1;
                    }
                }
                Op::Send => {
                    sends.try_remove(key as usize - DATAGRAM_RECEIVES);
                }
                _ => {}
            }
        }
        if let (Some(at), Some(every)) = (next_tick, every)
            && clock::now() >= at
        {
            service.on_tick(&mut out);
            next_tick = Some(clock::now() + every);
        }
        for (to, bytes) in out.drain(..) {
            if sends.len() >= DATAGRAM_SENDS {
                dropped += 1;
                continue;
            }
            let entry = sends.vacant_entry();
            let key = entry.key() + DATAGRAM_RECEIVES;
            let m = entry.insert(Message::to(to, bytes));
            let sqe = opcode::SendMsg::new(fd, &m.hdr)
                .build()
                .user_data(user_data(key as u64, Op::Send));
            push(&mut ring, sqe).map_err(io_err("io_uring submit"))?;
        }
        if stopping && receiving == 0 && sends.is_empty() {
            break;
        }
        if stopping && shutdown.past_deadline(Duration::from_secs(1)) {
            // Operations the kernel still holds after a second are not waited
            // for; their memory is leaked rather than freed under the kernel.
            drop(ring);
            std::mem::forget(sends);
            std::mem::forget(receives);
            return Ok(());
        }
    }
    if dropped > 0 {
        tracing::warn!("netkit: {dropped} datagram replies dropped (send queue full)");
    }
    Ok(())
}
