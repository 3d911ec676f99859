//! Atomics in anonymous shared memory: a mapping made before the server
//! forks stays shared with every child (fork and prefork models), so
//! counters kept there are the same in every process and thread.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

/// `len` atomics, zeroed, in a `MAP_SHARED | MAP_ANONYMOUS` mapping.
#[derive(Debug)]
pub struct SharedAtomics {
    /// Start of the mapping (page aligned, so aligned for `AtomicU64`).
    ptr: NonNull<AtomicU64>,
    /// Number of atomics.
    len: usize,
}

// SAFETY: the memory holds only atomics, which are Sync; the mapping lives as
// long as the value and is only unmapped in Drop.
unsafe impl Send for SharedAtomics {}
// SAFETY: as above: all access goes through &AtomicU64.
unsafe impl Sync for SharedAtomics {}

impl SharedAtomics {
    /// Maps `len` (at least 1) zeroed atomics shared with future children.
    pub fn new(len: usize) -> io::Result<SharedAtomics> {
        let bytes = NonZeroUsize::new(len.max(1) * std::mem::size_of::<AtomicU64>())
            .ok_or_else(|| io::Error::other("empty mapping"))?;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks;
        // nothing else refers to it. Anonymous memory starts zeroed, and zero
        // is a valid AtomicU64.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                bytes,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(io::Error::from)?;
        Ok(SharedAtomics {
            ptr: ptr.cast(),
            len: len.max(1),
        })
    }

    /// The atomics.
    pub fn slots(&self) -> &[AtomicU64] {
        // SAFETY: ptr points to len initialized (zeroed) AtomicU64s that live
        // as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SharedAtomics {
    fn drop(&mut self) {
        let bytes = self.len * std::mem::size_of::<AtomicU64>();
        // SAFETY: the mapping made in new(), with its length; no reference
        // into it outlives self.
        let _ = unsafe { munmap(self.ptr.cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn shared_with_a_forked_child() {
        let shared = SharedAtomics::new(4).unwrap();
        assert!(
            shared
                .slots()
                .iter()
                .all(|a| a.load(Ordering::Relaxed) == 0)
        );
        // SAFETY: the child only touches the atomics and exits at once.
        match unsafe { libc::fork() } {
            0 => {
                shared.slots()[2].store(42, Ordering::SeqCst);
                unsafe { libc::_exit(0) };
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(shared.slots()[2].load(Ordering::SeqCst), 42);
            }
            _ => panic!("fork failed"),
        }
    }
}
