//! The ring itself: what a completion is about, entering and queueing,
//! and the provided-buffer ring receives take their buffers from.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use io_uring::{IoUring, squeue, types};

use crate::server::ServerError;

/// Submission queue entries per ring (completions: four times as many).
pub(super) const RING_ENTRIES: u32 = 1024;

/// What a completion is about: the low bits of its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Accept = 0,
    Recv = 1,
    Send = 2,
    PollOut = 3,
    PollIn = 4,
    Cancel = 5,
    /// A change to the ring's table of registered descriptors.
    Slot = 6,
}

const OP_BITS: u64 = 3;
/// The key of completions that belong to no connection (accept, cancel of it).
pub(super) const NO_CONN: u64 = (1 << 40) - 1;

pub(super) fn user_data(key: u64, op: Op) -> u64 {
    (key << OP_BITS) | op as u64
}

pub(super) fn split(data: u64) -> (u64, Op) {
    let op = match data & ((1 << OP_BITS) - 1) {
        0 => Op::Accept,
        1 => Op::Recv,
        2 => Op::Send,
        3 => Op::PollOut,
        4 => Op::PollIn,
        5 => Op::Cancel,
        _ => Op::Slot,
    };
    (data >> OP_BITS, op)
}

pub(super) fn io_err(context: &str) -> impl FnOnce(io::Error) -> ServerError + '_ {
    move |e| ServerError::io(context, e)
}

/// A ring of provided buffers: the kernel picks one when a receive has data.
pub(super) struct BufRing {
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
    pub(super) fn new(
        ring: &IoUring,
        entries: u16,
        size: usize,
        group: u16,
    ) -> io::Result<BufRing> {
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
    pub(super) fn data(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Hands the buffers' pages back to the system (`MADV_DONTNEED`): the
    /// next receive into one gets a fresh zeroed page. For a worker gone
    /// idle, so idle connections cost no receive memory at all. Only
    /// between ring entries: with deferred task work the kernel writes into
    /// the buffers only while this thread is in `io_uring_enter`.
    pub(super) fn release_pages(&mut self) {
        const PAGE: usize = 4096;
        let start = self.memory.as_mut_ptr() as usize;
        let end = start + self.memory.len();
        let (from, to) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        if to > from {
            // SAFETY: [from, to) lies inside `memory`, which no reference
            // points into now; its bytes become zeros, a valid `u8` each.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED);
            }
        }
    }

    /// Returns buffer `bid` to the kernel.
    pub(super) fn give_back(&mut self, bid: u16) {
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
pub(super) fn enter(ring: &IoUring, want: usize, wait: Duration) -> Result<(), ServerError> {
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
pub(super) fn push(ring: &mut IoUring, entry: squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: the memory every entry names (the receive buffers, the
        // output's pinned front, the descriptor table, msghdrs) is owned by
        // the worker or the connection and is not moved or freed while an
        // operation of theirs is in flight.
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}
