//! `--max-per-ip N`: how many control connections one client address may
//! hold at once, counted in memory shared by every process and thread (see
//! `sys::shared`), so the bound holds on the fork and prefork models
//! too.
//!
//! The table has [`SLOTS`] entries of (address key, count) behind a spin
//! lock held only for a scan of the table. A key is a 64-bit hash of the
//! address (IPv4-mapped IPv6 counts as IPv4); two addresses with the same
//! hash would share a count, which only ever makes the bound stricter. When
//! every slot is taken by other addresses, new ones are refused: the table
//! is a bounded resource too.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys::shared::SharedAtomics;

/// Distinct client addresses counted at once.
pub const SLOTS: usize = 4096;

/// The shared table of connections per address.
#[derive(Debug, Clone)]
pub struct PerIp {
    /// `[lock, key0, count0, key1, count1, ...]`.
    table: Arc<SharedAtomics>,
    /// Connections allowed per address.
    max: u64,
}

/// One counted connection; dropping it gives the place back.
#[derive(Debug)]
pub struct Admitted {
    table: Arc<SharedAtomics>,
    key: u64,
}

impl PerIp {
    /// A table allowing `max` connections per address.
    pub fn new(max: u64) -> std::io::Result<PerIp> {
        Ok(PerIp {
            table: Arc::new(SharedAtomics::new(1 + 2 * SLOTS)?),
            max,
        })
    }

    /// Counts a connection from `ip`, or `None` if that address already has
    /// `max` (or the table is full).
    pub fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let key = key_of(ip);
        let slots = self.table.slots();
        let _lock = Lock::take(&slots[0]);
        let entries = &slots[1..];
        let mut free = None;
        for (i, pair) in entries.chunks_exact(2).enumerate() {
            let (k, count) = (pair[0].load(Ordering::Relaxed), &pair[1]);
            if k == key && count.load(Ordering::Relaxed) > 0 {
                let n = count.load(Ordering::Relaxed);
                if n >= self.max {
                    return None;
                }
                count.store(n + 1, Ordering::Relaxed);
                return Some(self.admitted(key));
            }
            if free.is_none() && count.load(Ordering::Relaxed) == 0 {
                free = Some(i);
            }
        }
        let i = free?;
        if self.max == 0 {
            return None;
        }
        entries[2 * i].store(key, Ordering::Relaxed);
        entries[2 * i + 1].store(1, Ordering::Relaxed);
        Some(self.admitted(key))
    }

    /// The connections `ip` holds now.
    pub fn count(&self, ip: IpAddr) -> u64 {
        let key = key_of(ip);
        let slots = self.table.slots();
        let _lock = Lock::take(&slots[0]);
        slots[1..]
            .chunks_exact(2)
            .find(|p| p[0].load(Ordering::Relaxed) == key && p[1].load(Ordering::Relaxed) > 0)
            .map_or(0, |p| p[1].load(Ordering::Relaxed))
    }

    fn admitted(&self, key: u64) -> Admitted {
        Admitted {
            table: Arc::clone(&self.table),
            key,
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let slots = self.table.slots();
        let _lock = Lock::take(&slots[0]);
        for pair in slots[1..].chunks_exact(2) {
            let n = pair[1].load(Ordering::Relaxed);
            if pair[0].load(Ordering::Relaxed) == self.key && n > 0 {
                pair[1].store(n - 1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// A spin lock on one shared atomic (0 free, 1 held), released on drop.
struct Lock<'a>(&'a AtomicU64);

impl<'a> Lock<'a> {
    fn take(word: &'a AtomicU64) -> Lock<'a> {
        while word
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        Lock(word)
    }
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A non-zero 64-bit key for `ip` (FNV-1a over its 16-byte IPv6 form).
fn key_of(ip: IpAddr) -> u64 {
    let octets = match crate::ftp::data::canonical_ip(ip) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in octets {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address_and_gives_places_back() {
        let table = PerIp::new(2).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        let first = table.admit(a).unwrap();
        let second = table.admit(mapped).unwrap();
        assert!(table.admit(a).is_none(), "a third from the same address");
        let other = table.admit(b).unwrap();
        assert_eq!(table.count(a), 2);
        drop(first);
        assert_eq!(table.count(a), 1);
        let again = table.admit(a).unwrap();
        drop((second, again, other));
        assert_eq!(table.count(a), 0);
        assert_eq!(table.count(b), 0);
        assert!(PerIp::new(0).unwrap().admit(a).is_none());
    }

    #[test]
    fn a_full_table_refuses_new_addresses() {
        let table = PerIp::new(1).unwrap();
        let held: Vec<Admitted> = (0..SLOTS as u32)
            .map(|i| table.admit(IpAddr::from(i.to_be_bytes())).unwrap())
            .collect();
        assert!(table.admit("::2".parse().unwrap()).is_none());
        drop(held);
        assert!(table.admit("::2".parse().unwrap()).is_some());
    }
}
