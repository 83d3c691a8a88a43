//! What every download of a store shares: the budget of bytes read ahead of their clients
//! ([`ReadAhead`]), the aligned buffers direct reads are lent and give back ([`Buffers`]),
//! and the count of bytes read past the page cache and through it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Read size of every chunk of a body after its first: few reads and few hand-offs to the
/// blocking pool per MiB.
pub(crate) const CHUNK: usize = 512 * 1024;

/// Size of a direct read's buffer: a chunk, the block before it that an unaligned start
/// reads too, and the room to align its start.
const BUFFER: usize = CHUNK + 2 * crate::direct::ALIGN;

/// Direct-read buffers kept for reuse once their bytes are sent: 16 (8 MiB), enough for
/// several downloads at once to find one.
pub(crate) const KEPT_BUFFERS: usize = 16;

/// Bytes all bodies of a store may hold read ahead at once by default: 64 chunks.
pub(crate) const READ_AHEAD_BUDGET: usize = 64 * CHUNK;

/// The bytes bodies hold read ahead of what they were asked for, against a budget; the
/// direct-read buffers the bodies share; the bytes they read.
#[derive(Debug, Clone)]
pub(crate) struct ReadAhead {
    held: Arc<AtomicUsize>,
    budget: usize,
    buffers: Arc<Buffers>,
    read: Arc<ReadBytes>,
}

/// Bytes of object files read for bodies since start, past the page cache and through it.
#[derive(Debug, Default)]
struct ReadBytes {
    direct: AtomicU64,
    cached: AtomicU64,
}

impl ReadAhead {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            held: Arc::new(AtomicUsize::new(0)),
            budget,
            buffers: Arc::default(),
            read: Arc::default(),
        }
    }

    /// Counts `bytes` read for a body, past the page cache when `direct`.
    pub(crate) fn count_read(&self, direct: bool, bytes: usize) {
        let counter = if direct {
            &self.read.direct
        } else {
            &self.read.cached
        };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes read for bodies since start: past the page cache, and through it.
    pub(crate) fn read_bytes(&self) -> (u64, u64) {
        (
            self.read.direct.load(Ordering::Relaxed),
            self.read.cached.load(Ordering::Relaxed),
        )
    }

    /// The bytes read ahead now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// The direct-read buffers the bodies share.
    pub(crate) fn buffers(&self) -> &Arc<Buffers> {
        &self.buffers
    }

    /// `bytes` more, if the budget has room for them.
    pub(crate) fn reserve(&self, bytes: usize) -> Option<Reserved> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes)
                    .filter(|after| *after <= self.budget)
            })
            .ok()?;
        Some(Reserved {
            held: self.held.clone(),
            bytes,
        })
    }
}

/// Bytes of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reserved {
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Direct-read buffers whose bytes were sent, for the next direct read: a buffer used before
/// needs neither zeroing nor new pages.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    free: Mutex<Vec<Vec<u8>>>,
}

impl Buffers {
    /// A kept buffer, or a new one, lent: nothing of it is given to a body until its
    /// `start` and `len` are set.
    pub(crate) fn lend(self: &Arc<Self>) -> Lent {
        let kept = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Lent {
            buffer: kept.unwrap_or_else(|| vec![0u8; BUFFER]),
            start: 0,
            len: 0,
            home: self.clone(),
        }
    }

    /// How many buffers are kept now.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Keeps `buffer` for the next read, unless [`KEPT_BUFFERS`] are kept already.
    fn give_back(&self, buffer: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEPT_BUFFERS {
            free.push(buffer);
        }
    }
}

/// Bytes of a direct-read buffer lent to a body: the buffer goes back to its [`Buffers`] when
/// the body has sent them (or when dropped unsent). [`BUFFER`] bytes long, room for a chunk
/// and the alignment a direct read needs.
pub(crate) struct Lent {
    pub(crate) buffer: Vec<u8>,
    /// Where the bytes given to the body start, and how many there are.
    pub(crate) start: usize,
    pub(crate) len: usize,
    home: Arc<Buffers>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buffer[self.start..self.start + self.len]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buffer));
    }
}
