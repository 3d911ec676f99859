//! A short-lived open-file cache: the answer of one lookup (the open file
//! and its metadata, or the refusal) reused for the same path for a moment,
//! so a busy server skips `openat2`, `statx` and `close` per request.
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

use super::path::Refusal;

/// Most paths cached at once (each open file holds a descriptor).
pub(super) const MAX_ENTRIES: usize = 1024;

/// What a lookup found.
pub(super) type Found = Result<(Arc<File>, Metadata), Refusal>;

/// The cache of one [`super::StaticFiles`] (its clones share it).
#[derive(Debug)]
pub(super) struct FileCache {
    ttl: Duration,
    entries: Mutex<HashMap<(PathBuf, bool), (Instant, Found)>>,
}

impl FileCache {
    /// A cache whose entries live `ttl`.
    pub(super) fn new(ttl: Duration) -> FileCache {
        FileCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached answer for `rel` (`sibling`: looked up as a precompressed
    /// sibling), or `look()`'s, which is then cached.
    pub(super) fn get_or(&self, rel: &Path, sibling: bool, look: impl FnOnce() -> Found) -> Found {
        let now = Instant::now();
        let key = (rel.to_path_buf(), sibling);
        if let Some((at, found)) = self.lock().get(&key)
            && now.duration_since(*at) < self.ttl
        {
            return found.clone();
        }
        let found = look();
        if !matches!(found, Err(Refusal::Busy)) {
            let mut map = self.lock();
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            map.insert(key, (now, found.clone()));
        }
        found
    }

    /// Entries held now (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, bool), (Instant, Found)>> {
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
        let meta = file.metadata().unwrap();
        for i in 0..3 * MAX_ENTRIES {
            let found = cache.get_or(Path::new(&format!("f{i}")), false, || {
                Ok((Arc::clone(&file), meta.clone()))
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
