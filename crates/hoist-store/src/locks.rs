//! The turns commits take: per key, and all at once for DeleteBucket.

/// Who may commit at once. Commits of one key (its objects, and the parts, completion and
/// abort of its multipart uploads) take turns, so a write's conditions hold until its commit
/// and no part is replaced while Complete links it. Commits of different keys go side by
/// side, so their fsyncs overlap (and the file system groups them) instead of queueing behind
/// one lock. Deleting a bucket waits for every commit in flight and holds new ones off.
#[derive(Debug)]
pub(crate) struct CommitLocks {
    every: tokio::sync::RwLock<()>,
    keys: Box<[tokio::sync::Mutex<()>]>,
}

/// A commit of one key in progress: released on drop.
pub(crate) struct KeyCommit<'a> {
    _every: tokio::sync::RwLockReadGuard<'a, ()>,
    _key: tokio::sync::MutexGuard<'a, ()>,
}

impl CommitLocks {
    /// Keys share this many locks; two keys on one lock only take turns, which is harmless.
    const STRIPES: usize = 256;

    pub(crate) fn new() -> Self {
        Self {
            every: tokio::sync::RwLock::new(()),
            keys: (0..Self::STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// Waits for the turn of `key` in `bucket`.
    pub(crate) async fn key(&self, bucket: &str, key: &str) -> KeyCommit<'_> {
        use std::hash::{Hash as _, Hasher as _};
        let every = self.every.read().await;
        // DefaultHasher::new() has fixed keys: one key always maps to one lock.
        let mut hasher = std::hash::DefaultHasher::new();
        bucket.hash(&mut hasher);
        key.hash(&mut hasher);
        let stripe = (hasher.finish() % Self::STRIPES as u64) as usize;
        KeyCommit {
            _every: every,
            _key: self.keys[stripe].lock().await,
        }
    }

    /// Waits until no commit is in progress and holds every other off (DeleteBucket).
    pub(crate) async fn every(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.every.write().await
    }
}
