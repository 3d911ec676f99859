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
//!   to the ring as soon as the session has seen the bytes, and the pages of
//!   all of them go back to the system when the worker idles for a tick;
//! - **send**: the leading bytes of the output queue, moved into the
//!   connection's send buffer (the session may append to its queue
//!   meanwhile), as one submission; a file region goes out with `sendfile(2)`
//!   from the worker while the socket has room, then after a poll for
//!   POLLOUT, the same zero-copy path the readiness models take;
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

mod datagram;
mod ring;

use std::io;

use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, types};

pub(crate) use datagram::serve_datagrams;
use ring::{BufRing, NO_CONN, Op, RING_ENTRIES, enter, io_err, push, split, user_data};
use slab::Slab;

use super::{ACCEPT_PAUSE, AcceptErrors};
use crate::server::clock;
use crate::server::session_core::SessionCore;
use crate::server::shutdown::TICK;
use crate::server::{Config, Listener, Peer, Run, ServerError, Service, Shutdown, Stream};
use crate::sys;

/// Provided receive buffers per worker, and their size. At 10,000 busy
/// connections 32 buffers ran out so often that throughput fell to a
/// quarter; 64 to 256 served alike. Their pages go back to the system
/// whenever the worker idles for a tick, so idle memory does not grow
/// with the count.
const RECV_BUFFERS: u16 = 128;
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
    stash: Stash,
    eof: bool,
    poll_armed: bool,
    /// A send of the output's front bytes (pinned there) is in flight.
    sending: bool,
    /// A file region waits for room in the socket (a poll for POLLOUT is in flight).
    waiting_room: bool,
    /// Closing: waiting for `inflight` to reach zero.
    closing: bool,
    /// When bytes last moved, in the worker's milliseconds ([`Worker::stamp`]).
    last_activity: u32,
}

impl<S: crate::server::Session> UConn<S> {
    /// True while output is on its way: a send in flight, or a file region
    /// waiting for room.
    fn busy(&self) -> bool {
        self.sending || self.waiting_room
    }
}

/// Bytes a connection received while its session took none: rare, so an
/// idle connection pays one pointer for it.
#[derive(Default)]
#[allow(clippy::box_collection, reason = "one word instead of a Vec's three")]
struct Stash(Option<Box<Vec<u8>>>);

impl Stash {
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|v| v.is_empty())
    }

    /// Adds `data`; returns how much is held.
    fn extend(&mut self, data: &[u8]) -> usize {
        let v = self.0.get_or_insert_with(Box::default);
        v.extend_from_slice(data);
        v.len()
    }

    fn take(&mut self) -> Vec<u8> {
        self.0.take().map(|b| *b).unwrap_or_default()
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
    /// Where the worker's millisecond stamps count from.
    epoch: Instant,
    /// Receives have written into the buffers since their pages were last
    /// given back.
    bufs_touched: bool,
    /// Connections to look at again this turn.
    dirty: Vec<usize>,
    /// The descriptors of the ring's registered-file table: connection
    /// `key` is slot `key`, and its operations name the slot, which spares
    /// the kernel a descriptor lookup per operation.
    fds: Box<[i32]>,
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
        let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        let slots = (config.max_connections as u64 + 1024)
            .min(nofile)
            .min(1 << 20) as u32;
        ring.submitter()
            .register_files_sparse(slots)
            .map_err(io_err("io_uring file table"))?;
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
            epoch: clock::now(),
            bufs_touched: false,
            dirty: Vec::new(),
            fds: vec![-1; slots as usize].into_boxed_slice(),
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
                } else if self.bufs_touched {
                    // A whole tick without a completion: idle.
                    self.bufs.release_pages();
                    self.bufs_touched = false;
                    crate::sys::trim_heap();
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
            // A burst (thousands of connections at once) leaves these lists
            // long; idle workers keep them short.
            if reaped.is_empty() {
                reaped.shrink_to(RING_ENTRIES as usize);
                self.dirty.shrink_to(256);
            }
            self.sweep()?;
        }
    }

    /// Now, in milliseconds since the worker started: 4 bytes per
    /// connection instead of an `Instant`'s 16 (it wraps after 49 days;
    /// differences use wrapping arithmetic).
    fn stamp(&self) -> u32 {
        clock::now()
            .saturating_duration_since(self.epoch)
            .as_millis() as u32
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
        let now = self.stamp();
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
                    self.bufs_touched = true;
                    let bid = bid.expect("a receive with data names its buffer");
                    let data = self.bufs.data(bid, result as usize);
                    // Bytes that come while the session takes none (the
                    // receive is being cancelled) wait in the stash.
                    let ok = if c.stash.is_empty() && c.core.wants_input() {
                        c.core.input(data).is_ok()
                    } else {
                        c.stash.extend(data) <= STASH_MAX
                    };
                    self.bufs.give_back(bid);
                    c.last_activity = now;
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
                c.core.out().unpin();
                if result < 0 {
                    if !c.closing && result != -libc::EAGAIN && result != -libc::EINTR {
                        return self.close(key);
                    }
                    // Tried again from the front (advance).
                } else if !c.closing {
                    c.core.out().advance(result as usize);
                    c.last_activity = now;
                    // Else: the rest of the front goes next (advance).
                    if c.core.settle().is_err() {
                        return self.close(key);
                    }
                }
            }
            Op::PollOut => c.waiting_room = false, // advance sends the file on
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
                    c.last_activity = now;
                }
            }
            Op::Accept | Op::Cancel | Op::Slot => {}
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
            stash: Stash::default(),
            eof: false,
            poll_armed: false,
            sending: false,
            waiting_room: false,
            closing: false,
            last_activity: self.stamp(),
        });
        let Some(slot) = self.fds.get_mut(key) else {
            // No slot for it (over the limit by more than the table's spare).
            if let Some(c) = self.conns.try_remove(key) {
                self.open.fetch_sub(1, Ordering::Relaxed);
                drop(c);
            }
            return Ok(());
        };
        // Registered by the next submission, ahead of the connection's
        // first operation (the ring issues its entries in order).
        *slot = self.conns[key].stream.as_raw_fd();
        self.update_slot(key)?;
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
        if !c.sending && !c.waiting_room && !c.core.out_is_empty() {
            self.start_send(key)?;
        }
        // Sending may have closed it (a file that shrank, a reset).
        let Some(c) = self.conns.get_mut(key).filter(|c| !c.closing) else {
            return Ok(());
        };
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
            let stash = c.stash.take();
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
            let fd = types::Fixed(key as u32);
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

    /// Starts sending the front of connection `key`'s output: bytes as one
    /// send submission; a file region with `sendfile(2)` from this thread,
    /// as the readiness models do, for as long as the socket has room, then
    /// a poll for POLLOUT. (The ring's own `splice` always runs on a kernel
    /// worker thread, a hand-off per piece; `sendfile` on a non-blocking
    /// socket never blocks and copies nothing through user space.)
    fn start_send(&mut self, key: usize) -> Result<(), ServerError> {
        let now = self.stamp();
        let c = &mut self.conns[key];
        // The kernel reads the front's bytes where they are; the session
        // may queue more meanwhile (into a new chunk: the front is pinned).
        if let Some(bytes) = c.core.out().pin_front(SEND_MAX) {
            let entry =
                opcode::Send::new(types::Fixed(key as u32), bytes.as_ptr(), bytes.len() as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
                    .user_data(user_data(key as u64, Op::Send));
            c.sending = true;
            c.inflight += 1;
            return push(&mut self.ring, entry).map_err(io_err("io_uring submit"));
        }
        let fd = c.stream.as_fd();
        while let Some(crate::server::Chunk::File { .. }) = c.core.out().front_mut() {
            match c.core.out().write_to(fd) {
                // The file shrank under us: the reply cannot be completed.
                Ok(0) => return self.close(key),
                Ok(_) => c.last_activity = now,
                Err(e) if sys::would_block(&e) => {
                    c.waiting_room = true;
                    let entry =
                        opcode::PollAdd::new(types::Fixed(key as u32), libc::POLLOUT as u32)
                            .build()
                            .user_data(user_data(key as u64, Op::PollOut));
                    c.inflight += 1;
                    return push(&mut self.ring, entry).map_err(io_err("io_uring submit"));
                }
                Err(_) => return self.close(key),
            }
        }
        // The region is out: what follows it (or the session's next step).
        if c.core.settle().is_err() {
            return self.close(key);
        }
        self.dirty.push(key);
        Ok(())
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
        let entry =
            opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fixed(key as u32)).all())
                .build()
                .user_data(user_data(key as u64, Op::Cancel));
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))
    }

    /// Queues setting the ring's registered descriptor `key` to `fds[key]`
    /// (-1: empty), done when the ring reaches it, before the entries after it.
    fn update_slot(&mut self, key: usize) -> Result<(), ServerError> {
        // The pointer: `fds` is a boxed slice, never moved or resized while
        // the worker lives. The kernel reads `fds[key]` when it reaches the
        // entry, so if the key closes and is reused within one turn both of
        // its updates set the newest value, which is the right end state.
        let entry = opcode::FilesUpdate::new(&self.fds[key], 1)
            .offset(key as i32)
            .build()
            .user_data(user_data(NO_CONN, Op::Slot));
        push(&mut self.ring, entry).map_err(io_err("io_uring submit"))
    }

    fn finish_close(&mut self, key: usize) {
        if let Some(c) = self.conns.try_remove(key) {
            self.open.fetch_sub(1, Ordering::Relaxed);
            // The slot lets go of the socket with the next submission; the
            // descriptor closes now.
            self.fds[key] = -1;
            let _ = self.update_slot(key);
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
        let idle = self
            .config
            .idle_timeout
            .map(|t| t.as_millis().min(u32::MAX as u128 / 2) as u32);
        let stamp = self.stamp();
        // Only the connections that need something are listed (a list of
        // every key, every 100 ms, would keep its memory in the heap).
        let mut idle_ones = Vec::new();
        for (key, c) in self.conns.iter_mut() {
            if c.closing {
                continue;
            }
            if c.core.deadline_passed(now) {
                c.core.expire();
                self.dirty.push(key);
            } else if idle.is_some_and(|t| stamp.wrapping_sub(c.last_activity) >= t) {
                idle_ones.push(key);
            }
        }
        for key in idle_ones {
            self.close(key)?;
        }
        while let Some(key) = self.dirty.pop() {
            self.advance(key)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::http::session::HttpSession;
    use crate::server::conn::{Conn, Want};

    /// An idle connection costs its record in the worker's slab: no more
    /// than a readiness loop's (the memory-per-connection target).
    #[test]
    fn a_connection_record_is_no_larger_than_epolls() {
        let uring = std::mem::size_of::<super::UConn<HttpSession>>();
        let epoll = std::mem::size_of::<(Conn<HttpSession>, Want)>();
        assert!(uring <= epoll, "uring {uring} B, epoll {epoll} B");
    }
}
