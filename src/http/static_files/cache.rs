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
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::sys::shared::SharedAtomics;
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
    /// Its precompressed twins (`x.br`, `x.gz`), best first, as
    /// `(coding, twin)` (regular files looked up as themselves).
    pub(super) siblings: Vec<(&'static str, Arc<Looked>)>,
    /// Compressing it on the fly is worth it (a type that shrinks, large
    /// enough, and compression on).
    pub(super) compressible: bool,
    /// Its compressed forms, made when first asked for; kept across
    /// lookups while the file is unchanged.
    pub(super) encodings: Arc<super::Encodings>,
}

/// What a lookup found.
pub(super) type Found = Result<Arc<Looked>, Refusal>;

type Entries = HashMap<PathBuf, (Instant, Found)>;

/// The cache of one [`super::StaticFiles`] (its clones share it).
#[derive(Debug)]
pub(super) struct FileCache {
    ttl: Duration,
    /// The entries, and the generation they were made in.
    entries: Mutex<(Entries, u64)>,
    /// Bumped by [`FileCache::forget_all`]; in shared memory, so a change
    /// made by one process (fork, prefork) clears every process's cache.
    generation: Option<SharedAtomics>,
}

impl FileCache {
    /// A cache whose entries live `ttl`.
    pub(super) fn new(ttl: Duration) -> FileCache {
        FileCache {
            ttl,
            entries: Mutex::new((HashMap::new(), 0)),
            generation: SharedAtomics::new(1).ok(),
        }
    }

    fn generation(&self) -> u64 {
        self.generation
            .as_ref()
            .map_or(0, |g| g.slots()[0].load(Ordering::Acquire))
    }

    /// The cached answer for `rel`, or `look`'s, which is then cached;
    /// `look` is given the expired answer, if any, to carry over what is
    /// still true of an unchanged file (its compressed forms).
    pub(super) fn get_or(&self, rel: &Path, look: impl FnOnce(Option<&Found>) -> Found) -> Found {
        let now = crate::server::clock::now();
        let expired = match self.lock().0.get(rel) {
            Some((at, found)) if now.duration_since(*at) < self.ttl => return found.clone(),
            Some((_, found)) => Some(found.clone()),
            None => None,
        };
        let found = look(expired.as_ref());
        if !matches!(found, Err(Refusal::Busy)) {
            let mut guard = self.lock();
            let map = &mut guard.0;
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            map.insert(rel.to_path_buf(), (now, found.clone()));
        }
        found
    }

    /// Drops every entry, in every process, so the next requests look
    /// again (the server itself just changed the tree: an upload, a
    /// deletion, a new folder). Without shared memory, only this process's.
    pub(super) fn forget_all(&self) {
        match &self.generation {
            Some(g) => {
                g.slots()[0].fetch_add(1, Ordering::AcqRel);
            }
            None => self.lock().0.clear(),
        }
    }

    /// Entries held now (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// The entries, cleared first if another change happened since.
    fn lock(&self) -> std::sync::MutexGuard<'_, (Entries, u64)> {
        let g = self.generation();
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if guard.1 != g {
            guard.0.clear();
            guard.1 = g;
        }
        guard
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
            siblings: Vec::new(),
            compressible: false,
            encodings: Arc::default(),
        });
        for i in 0..3 * MAX_ENTRIES {
            let found = cache.get_or(Path::new(&format!("f{i}")), |_| Ok(Arc::clone(&looked)));
            assert!(found.is_ok());
            assert!(cache.len() <= MAX_ENTRIES);
        }
        let busy = cache.get_or(Path::new("busy"), |_| Err(Refusal::Busy));
        assert_eq!(busy.err(), Some(Refusal::Busy));
        // Looked up again, not answered from the cache.
        let again = cache.get_or(Path::new("busy"), |_| Err(Refusal::NotFound));
        assert_eq!(again.err(), Some(Refusal::NotFound));
    }

    #[test]
    fn entries_expire() {
        let cache = FileCache::new(Duration::from_millis(20));
        let first = cache.get_or(Path::new("x"), |_| Err(Refusal::NotFound));
        assert_eq!(first.err(), Some(Refusal::NotFound));
        let hit = cache.get_or(Path::new("x"), |_| Err(Refusal::Forbidden));
        assert_eq!(hit.err(), Some(Refusal::NotFound));
        std::thread::sleep(Duration::from_millis(30));
        let fresh = cache.get_or(Path::new("x"), |old| {
            assert_eq!(old.cloned().and_then(Result::err), Some(Refusal::NotFound));
            Err(Refusal::Forbidden)
        });
        assert_eq!(fresh.err(), Some(Refusal::Forbidden));
        cache.forget_all();
        let looked = cache.get_or(Path::new("x"), |old| {
            assert!(old.is_none(), "forgotten");
            Err(Refusal::NotFound)
        });
        assert_eq!(looked.err(), Some(Refusal::NotFound));
    }
}
