//! A short-lived open-file cache: the answer of one lookup (the open file,
//! its metadata and what a response needs from them, or the refusal) reused
//! for the same path for a moment, so a busy server skips `openat2`, `statx`,
//! `pread` and `close`, and the formatting of validators and content type,
//! per request.
//!
//! Safety: an entry is only ever the result of a full lookup (root jail,
//! symlink and hidden-file policy, see [`super::path`]), so a hit can never
//! serve what a miss would refuse; it can only be up to one lifetime late in
//! seeing a change (a file edited, deleted, renamed over, or replaced by a
//! symlink). Shortages (out of descriptors) are never cached. Bounded in
//! entries, hence in descriptors; each process (fork, prefork) has its own.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::conditional::Validators;
use super::path::Refusal;

/// Most paths cached at once (each open file holds a descriptor).
pub(super) const MAX_ENTRIES: usize = 1024;

/// A file (or directory) as one lookup found it.
#[derive(Debug)]
pub(super) struct Looked {
    /// The open file.
    pub(super) file: Arc<File>,
    /// Its metadata when opened.
    pub(super) meta: Metadata,
    /// Its validators (regular files only), for the coding it is looked up as.
    pub(super) validators: Option<Validators>,
    /// Its content type (regular files looked up as themselves).
    pub(super) content_type: Option<String>,
    /// The fields of its plain 200 answer (validators, `Accept-Ranges`,
    /// `Content-Type`), rendered once (regular files looked up as themselves).
    pub(super) fields: Option<Arc<str>>,
    /// Its whole content, when it is a small regular file (read at lookup,
    /// so it agrees with `meta` and `validators`).
    pub(super) content: Option<Arc<[u8]>>,
}

/// What a lookup found.
pub(super) type Found = Result<Arc<Looked>, Refusal>;

type Entries = HashMap<PathBuf, (Instant, Found)>;

/// The cache of one [`super::StaticFiles`] (its clones share it).
#[derive(Debug)]
pub(super) struct FileCache {
    ttl: Duration,
    /// Paths looked up as themselves, and as precompressed siblings.
    entries: Mutex<[Entries; 2]>,
}

impl FileCache {
    /// A cache whose entries live `ttl`.
    pub(super) fn new(ttl: Duration) -> FileCache {
        FileCache {
            ttl,
            entries: Mutex::new([HashMap::new(), HashMap::new()]),
        }
    }

    /// The cached answer for `rel` (`sibling`: looked up as a precompressed
    /// sibling), or `look()`'s, which is then cached.
    pub(super) fn get_or(&self, rel: &Path, sibling: bool, look: impl FnOnce() -> Found) -> Found {
        let now = crate::server::clock::now();
        let which = usize::from(sibling);
        if let Some((at, found)) = self.lock()[which].get(rel)
            && now.duration_since(*at) < self.ttl
        {
            return found.clone();
        }
        let found = look();
        if !matches!(found, Err(Refusal::Busy)) {
            let mut maps = self.lock();
            if maps[0].len() + maps[1].len() >= MAX_ENTRIES {
                for map in maps.iter_mut() {
                    map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                }
                if maps[0].len() + maps[1].len() >= MAX_ENTRIES {
                    maps.iter_mut().for_each(HashMap::clear);
                }
            }
            maps[which].insert(rel.to_path_buf(), (now, found.clone()));
        }
        found
    }

    /// Entries held now (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let maps = self.lock();
        maps[0].len() + maps[1].len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [Entries; 2]> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_entries_and_never_caches_a_shortage() {
        let cache = FileCache::new(Duration::from_secs(60));
        let file = Arc::new(tempfile::tempfile().unwrap());
        let looked = Arc::new(Looked {
            meta: file.metadata().unwrap(),
            file,
            validators: None,
            content_type: None,
            fields: None,
            content: None,
        });
        for i in 0..3 * MAX_ENTRIES {
            let found = cache.get_or(Path::new(&format!("f{i}")), i % 2 == 0, || {
                Ok(Arc::clone(&looked))
            });
            assert!(found.is_ok());
            assert!(cache.len() <= MAX_ENTRIES);
        }
        let busy = cache.get_or(Path::new("busy"), false, || Err(Refusal::Busy));
        assert_eq!(busy.err(), Some(Refusal::Busy));
        // Looked up again, not answered from the cache.
        let again = cache.get_or(Path::new("busy"), false, || Err(Refusal::NotFound));
        assert_eq!(again.err(), Some(Refusal::NotFound));
    }

    #[test]
    fn entries_expire() {
        let cache = FileCache::new(Duration::from_millis(20));
        let first = cache.get_or(Path::new("x"), false, || Err(Refusal::NotFound));
        assert_eq!(first.err(), Some(Refusal::NotFound));
        let hit = cache.get_or(Path::new("x"), false, || Err(Refusal::Forbidden));
        assert_eq!(hit.err(), Some(Refusal::NotFound));
        std::thread::sleep(Duration::from_millis(30));
        let fresh = cache.get_or(Path::new("x"), false, || Err(Refusal::Forbidden));
        assert_eq!(fresh.err(), Some(Refusal::Forbidden));
    }
}
