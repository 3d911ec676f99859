//! Datagram services on the ring: a few receives always in flight, each
//! reply sent as its own `sendmsg`.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, types};
use slab::Slab;

use super::probe;
use super::ring::{NO_CONN, Op, RING_ENTRIES, enter, io_err, push, split, user_data};
use crate::server::clock;
use crate::server::shutdown::TICK;
use crate::server::{DatagramService, Run, ServerError, Shutdown};

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
    let service = &service;
    crate::server::models::run_datagram_workers(run, "netkit-uring-udp", |s, shutdown, first| {
        datagram_loop(s, service, shutdown, first)
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
    // Receive completions reaped early, while making room for sends.
    let mut carried: Vec<(u64, i32)> = Vec::new();
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
        let mut completions = std::mem::take(&mut carried);
        completions.extend(ring.completion().map(|c| (c.user_data(), c.result())));
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
                // A fan-out makes thousands of replies at once: submit what
                // is queued (a datagram send usually completes right there)
                // and take back the finished ones before giving up on any.
                ring.submit().map_err(io_err("io_uring submit"))?;
                for c in ring.completion() {
                    let (key, op) = split(c.user_data());
                    if op == Op::Send {
                        sends.try_remove(key as usize - DATAGRAM_RECEIVES);
                    } else {
                        carried.push((c.user_data(), c.result()));
                    }
                }
            }
            if sends.len() >= DATAGRAM_SENDS {
                if dropped == 0 {
                    tracing::warn!(
                        "netkit: datagram replies are being dropped: {DATAGRAM_SENDS} sends in flight (the total comes at exit)"
                    );
                }
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
