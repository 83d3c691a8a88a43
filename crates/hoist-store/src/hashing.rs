//! The MD5 of every large body (the ETag S3 clients check), computed by a few shared threads
//! that hash up to [`LANES`] bodies at once.
//!
//! A multipart upload sends several parts at the same time, and each part's MD5 is one chain
//! of dependent steps. Instead of one thread per body each running its own chain, a body's
//! writer hands its chunks to a hashing thread ([`Md5Stream`]); when more than one body has
//! bytes waiting there, the thread runs their chains side by side in one pass
//! ([`md5lanes::compress`]), which costs about 0.4 of a block per body and block instead of one.
//! When the store is busy, several bodies have bytes waiting each time the thread looks
//! (measured: most bytes of a 2 GiB upload in 8 parts at a time went through passes of four);
//! a lone body is hashed on its own at once.
//!
//! Memory: a body's writer may have at most [`MAX_UNHASHED`] bytes handed over and not yet
//! hashed; `update` waits beyond that.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SendError, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use bytes::Bytes;

use crate::md5lanes::{self, INIT, LANES};

/// Bytes one body may have handed over and not yet hashed.
const MAX_UNHASHED: usize = 1 << 20;

/// Blocks (of 64 bytes) hashed per body before the thread reads its messages again: 256 KiB.
const QUANTUM: usize = 4096;

/// How many bytes one body has handed over and not yet hashed, shared by its writer and the
/// hashing thread.
#[derive(Default)]
struct Credit {
    state: Mutex<CreditState>,
    hashed: Condvar,
}

#[derive(Default)]
struct CreditState {
    unhashed: usize,
    /// The hashing thread dropped the body (it was closed, or the thread is gone).
    closed: bool,
}

impl Credit {
    /// Counts `n` more bytes handed over, waiting while too many are unhashed. `false` when
    /// the hashing thread is gone.
    fn take(&self, n: usize) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !s.closed && s.unhashed > 0 && s.unhashed + n > MAX_UNHASHED {
            s = self.hashed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        s.unhashed += n;
        !s.closed
    }

    fn give(&self, n: usize) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.unhashed -= n;
        self.hashed.notify_all();
    }

    fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.closed = true;
        self.hashed.notify_all();
    }
}

enum Message {
    Open(u64, Arc<Credit>),
    Data(u64, Bytes),
    Finish(u64, SyncSender<[u8; 16]>),
    Close(u64),
    /// Makes the thread panic, as a bug would.
    #[cfg(test)]
    Panic,
}

/// The hashing threads: each started on first use and kept for the life of the process, and
/// started again should one stop (a panic fails the bodies it held, not the ones after).
struct Pool {
    /// Each thread's inbox; a send fails once its thread is gone.
    threads: Vec<Mutex<Inbox>>,
    next_thread: AtomicUsize,
    next_id: AtomicU64,
    /// Threads started again after one stopped.
    restarts: AtomicU64,
}

/// A thread's inbox, and whether a thread was ever started for it.
struct Inbox {
    to: Sender<Message>,
    started: bool,
}

/// Hashing threads of this process started again after one stopped: each of those stopped on
/// a bug and failed the bodies it held.
pub(crate) fn restarts() -> u64 {
    pool().restarts.load(Ordering::Relaxed)
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        // One thread per two cores: each hashes up to four bodies at a time, and the writers
        // and the network need the rest.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Pool::new((cores / 2).clamp(1, 8))
    })
}

impl Pool {
    fn new(threads: usize) -> Self {
        Self {
            // Inboxes whose threads are not started yet: the first body each gets starts one.
            threads: (0..threads)
                .map(|_| {
                    Mutex::new(Inbox {
                        to: channel().0,
                        started: false,
                    })
                })
                .collect(),
            next_thread: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        }
    }

    /// Opens a body on the next thread in turn, first starting that thread if it is not
    /// running; answers the thread's inbox.
    fn open(&self, id: u64, credit: &Arc<Credit>) -> Sender<Message> {
        let n = self.next_thread.fetch_add(1, Ordering::Relaxed) % self.threads.len();
        let mut inbox = self.threads[n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Err(SendError(open)) = inbox.to.send(Message::Open(id, Arc::clone(credit))) {
            let (to, from) = channel();
            let started = std::thread::Builder::new()
                .name(format!("hoist-md5-{n}"))
                .spawn(move || run(&from));
            match started {
                Ok(_) => {
                    if inbox.started {
                        self.restarts.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(thread = n, "a hashing thread stopped; started again");
                    }
                    *inbox = Inbox { to, started: true };
                    // The new thread holds its receiver: this send cannot fail.
                    let _ = inbox.to.send(open);
                }
                // The body's `update` and `finish` answer that the thread is gone.
                Err(err) => tracing::error!(error = %err, "cannot start a hashing thread"),
            }
        }
        inbox.to.clone()
    }
}

/// The MD5 of one body, computed on a shared hashing thread. Dropping it unfinished frees its
/// place there.
pub(crate) struct Md5Stream {
    id: u64,
    to: Sender<Message>,
    credit: Arc<Credit>,
    finished: bool,
}

impl Md5Stream {
    pub(crate) fn new() -> Self {
        Self::on(pool())
    }

    fn on(pool: &Pool) -> Self {
        let id = pool.next_id.fetch_add(1, Ordering::Relaxed);
        let credit = Arc::new(Credit::default());
        let to = pool.open(id, &credit);
        Self {
            id,
            to,
            credit,
            finished: false,
        }
    }

    /// Hands `chunk` over, waiting while [`MAX_UNHASHED`] bytes are not yet hashed.
    pub(crate) fn update(&mut self, chunk: Bytes) -> std::io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        if !self.credit.take(chunk.len()) || self.to.send(Message::Data(self.id, chunk)).is_err() {
            return Err(gone());
        }
        Ok(())
    }

    /// The digest of everything handed over, once it is hashed.
    pub(crate) fn finish(mut self) -> std::io::Result<[u8; 16]> {
        self.finished = true;
        let (reply, digest) = sync_channel(1);
        self.to
            .send(Message::Finish(self.id, reply))
            .map_err(|_| gone())?;
        digest.recv().map_err(|_| gone())
    }
}

impl Drop for Md5Stream {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.to.send(Message::Close(self.id));
        }
    }
}

fn gone() -> std::io::Error {
    std::io::Error::other("the store's hashing thread stopped")
}

/// One body on a hashing thread.
struct Body {
    id: u64,
    state: [u32; 4],
    /// Chunks handed over and not yet hashed; the first from `offset`.
    queue: std::collections::VecDeque<Bytes>,
    offset: usize,
    /// Bytes of a block that began in one chunk and ends in the next.
    carry: [u8; 64],
    carry_len: usize,
    len: u64,
    finish: Option<SyncSender<[u8; 16]>>,
    credit: Arc<Credit>,
}

impl Drop for Body {
    fn drop(&mut self) {
        // Also on a panic of the thread, so that no writer waits for it forever.
        self.credit.close();
    }
}

impl Body {
    fn new(id: u64, credit: Arc<Credit>) -> Self {
        Self {
            id,
            state: INIT,
            queue: std::collections::VecDeque::new(),
            offset: 0,
            carry: [0; 64],
            carry_len: 0,
            len: 0,
            finish: None,
            credit,
        }
    }

    /// Moves bytes into `carry` (and hashes it once full) until the first chunk has at least
    /// one whole block from `offset`; `true` then, `false` when the queue ran out first.
    fn prepare(&mut self) -> bool {
        loop {
            let Some(front) = self.queue.front() else {
                return false;
            };
            let rest = &front[self.offset..];
            if self.carry_len == 0 && rest.len() >= 64 {
                return true;
            }
            let take = (64 - self.carry_len).min(rest.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&rest[..take]);
            self.carry_len += take;
            self.consume(take);
            if self.carry_len == 64 {
                md5::block_api::compress(&mut self.state, &[self.carry]);
                self.carry_len = 0;
            }
        }
    }

    /// The whole blocks of the first chunk from `offset`, `QUANTUM` at most.
    fn blocks(&self) -> Bytes {
        let front = &self.queue[0];
        let whole = (front.len() - self.offset) / 64;
        front.slice(self.offset..self.offset + whole.min(QUANTUM) * 64)
    }

    fn consume(&mut self, n: usize) {
        self.offset += n;
        if self.queue.front().is_some_and(|f| self.offset == f.len()) {
            if let Some(done) = self.queue.pop_front() {
                self.credit.give(done.len());
            }
            self.offset = 0;
        }
    }
}

/// A hashing thread: takes messages, hashes what is waiting, answers finished bodies.
fn run(from: &Receiver<Message>) {
    let mut bodies: Vec<Body> = Vec::new();
    loop {
        if bodies.iter().all(|b| b.queue.is_empty()) {
            match from.recv() {
                Ok(message) => take(&mut bodies, message),
                Err(_) => return,
            }
        }
        while let Ok(message) = from.try_recv() {
            take(&mut bodies, message);
        }
        hash_some(&mut bodies);
        bodies.retain_mut(|body| {
            if !body.queue.is_empty() {
                return true;
            }
            let Some(reply) = body.finish.take() else {
                return true;
            };
            let tail = &body.carry[..body.carry_len];
            let _ = reply.send(md5lanes::finish(body.state, tail, body.len));
            false
        });
    }
}

fn take(bodies: &mut Vec<Body>, message: Message) {
    let find = |bodies: &mut Vec<Body>, id| bodies.iter_mut().position(|b| b.id == id);
    match message {
        Message::Open(id, credit) => bodies.push(Body::new(id, credit)),
        Message::Data(id, chunk) => {
            if let Some(n) = find(bodies, id) {
                let body = &mut bodies[n];
                body.len += chunk.len() as u64;
                body.queue.push_back(chunk);
            }
        }
        Message::Finish(id, reply) => {
            if let Some(n) = find(bodies, id) {
                bodies[n].finish = Some(reply);
            }
        }
        Message::Close(id) => {
            if let Some(n) = find(bodies, id) {
                bodies.swap_remove(n);
            }
        }
        #[cfg(test)]
        Message::Panic => panic!("a hashing thread's bug, as a test makes it"),
    }
}

/// Hashes up to [`QUANTUM`] blocks of every body with bytes waiting, [`LANES`] bodies at a time.
fn hash_some(bodies: &mut [Body]) {
    let mut ready: Vec<&mut Body> = bodies
        .iter_mut()
        .filter_map(|b| b.prepare().then_some(b))
        .collect();
    for group in ready.chunks_mut(LANES) {
        if let [one] = group {
            let data = one.blocks();
            md5::block_api::compress(&mut one.state, data.as_chunks::<64>().0);
            one.consume(data.len());
            continue;
        }
        let data: Vec<Bytes> = group.iter().map(|b| b.blocks()).collect();
        let blocks = data.iter().map(|d| d.len() / 64).min().unwrap_or(0);
        // Lanes without a body hash the first body's blocks again into a scratch state.
        let lane_data: [&[[u8; 64]]; LANES] =
            std::array::from_fn(|l| &data.get(l).unwrap_or(&data[0]).as_chunks::<64>().0[..blocks]);
        let mut states: [[u32; 4]; LANES] =
            std::array::from_fn(|l| group.get(l).map_or(INIT, |b| b.state));
        let [s0, s1, s2, s3] = &mut states;
        md5lanes::compress([s0, s1, s2, s3], lane_data);
        #[cfg(test)]
        tests::PASSES_SIDE_BY_SIDE.fetch_add(1, Ordering::Relaxed);
        for (body, state) in group.iter_mut().zip(states) {
            body.state = state;
            body.consume(blocks * 64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::md5lanes::tests::bytes;
    use md5::Digest as _;

    /// Passes that hashed more than one body, so that a test can tell it took that path.
    pub(super) static PASSES_SIDE_BY_SIDE: AtomicU64 = AtomicU64::new(0);

    /// Hands `data` over in chunks of the given sizes, cycling through them.
    fn feed(stream: &mut Md5Stream, data: &[u8], sizes: &[usize]) {
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at == data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            stream
                .update(Bytes::copy_from_slice(&data[at..end]))
                .unwrap();
            at = end;
        }
    }

    #[test]
    fn bodies_hashed_side_by_side_in_odd_chunks_get_their_own_md5() {
        // Chunk sizes that split blocks everywhere, and bodies of different lengths that
        // start and end at different times.
        let chunkings: [&[usize]; 6] = [
            &[1],
            &[63, 1, 64, 65],
            &[7, 4096, 129],
            &[65_536],
            &[100_000, 3],
            &[1 << 20, 17, 300_000],
        ];
        let handles: Vec<_> = (0..12u64)
            .map(|n| {
                std::thread::spawn(move || {
                    let len = [0, 1, 63, 64, 65, 1000, 70_000, 1 << 20, 3 << 20, 5_000_001]
                        [n as usize % 10];
                    let data = bytes(n as u32 + 1, len + n as usize);
                    let mut stream = Md5Stream::new();
                    let sizes: &[usize] = if len > 100_000 {
                        chunkings[n as usize % 3 + 3]
                    } else {
                        chunkings[n as usize % 6]
                    };
                    feed(&mut stream, &data, sizes);
                    let got = stream.finish().unwrap();
                    let want: [u8; 16] = md5::Md5::digest(&data).into();
                    assert_eq!(got, want, "body {n}, {} bytes", data.len());
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert!(
            PASSES_SIDE_BY_SIDE.load(Ordering::Relaxed) > 0,
            "no pass hashed two bodies at once"
        );
    }

    #[test]
    fn a_body_dropped_unfinished_leaves_the_others_right() {
        let data = bytes(7, 2 << 20);
        let mut dropped = Md5Stream::new();
        feed(&mut dropped, &data, &[65_536]);
        let mut kept = Md5Stream::new();
        feed(&mut kept, &data, &[10_000]);
        drop(dropped);
        let want: [u8; 16] = md5::Md5::digest(&data).into();
        assert_eq!(kept.finish().unwrap(), want);
    }

    #[test]
    fn a_thread_that_panicked_fails_its_bodies_and_the_next_body_gets_a_new_thread() {
        // A pool of its own: the other tests' bodies are on the shared one.
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1)));
        let data = bytes(11, 300_000);
        let mut caught = Md5Stream::on(pool);
        feed(&mut caught, &data[..1000], &[1000]);
        caught.to.send(Message::Panic).unwrap();
        // The thread's bodies are dropped as it unwinds: its writers hear of it and none waits
        // forever.
        let failed = (0..1000).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            caught.update(Bytes::from_static(&[0; 64])).is_err()
        });
        assert!(failed, "the body of a thread that panicked must fail");
        assert!(caught.finish().is_err());
        assert_eq!(pool.restarts.load(Ordering::Relaxed), 0);
        for round in 0..3 {
            let mut next = Md5Stream::on(pool);
            feed(&mut next, &data, &[4096, 65_536]);
            let want: [u8; 16] = md5::Md5::digest(&data).into();
            assert_eq!(next.finish().unwrap(), want, "round {round}");
        }
        // Started again once, for the first body after the panic; the first start is no restart.
        assert_eq!(pool.restarts.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_writer_waits_once_too_much_is_unhashed_and_never_deadlocks_alone() {
        // One body larger than the limit, in chunks larger than the limit's half: every
        // `update` past the limit waits for the thread, which must hash without a partner.
        let data = bytes(9, 3 * MAX_UNHASHED + 5);
        let mut stream = Md5Stream::new();
        feed(&mut stream, &data, &[MAX_UNHASHED / 2 + 1]);
        let want: [u8; 16] = md5::Md5::digest(&data).into();
        assert_eq!(stream.finish().unwrap(), want);
    }
}
