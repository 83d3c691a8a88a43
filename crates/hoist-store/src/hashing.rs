//! The MD5 of every large body (the ETag S3 clients check), computed by a few shared threads
//! that hash up to [`LANES`] bodies at once.
//!
//! A multipart upload sends several parts at the same time, and each part's MD5 is one chain
//! of dependent steps. Instead of one thread per body each running its own chain, a body's
//! writer hands its chunks to a hashing thread ([`Md5Stream`]); when more than one body has
//! bytes waiting there, the thread runs their chains side by side in one pass
//! ([`md5lanes::compress`]), which costs about 0.4 of a block per body and block instead of one.
//!
//! A pass of two bodies costs about as much as one of four, and a body hashed alone costs 2.5
//! times as much per byte as in a full pass. So the thread waits until as many bodies have
//! bytes waiting as a pass takes (every body it holds, up to [`LANES`]), unless a body must go
//! on at once: its writer waits for it (it handed over [`MAX_UNHASHED`]), or its digest is
//! asked for. A lone body is hashed at once. When more bodies wait than fill whole passes
//! (five parts in flight, say), the ones left over wait for the next pass, the bodies hashed
//! longest ago first, so each waits at most one pass in turn. Measured by hand, a 2 GiB
//! `s5cmd cp` (five parts in flight) had a quarter of its bytes hashed alone and 30-45% in full
//! passes when the thread hashed whatever had come; with the waiting, 5-14% alone (a writer
//! reaching its limit while the other connections had sent nothing), and the store's CPU for
//! the upload 6% lower. Bytes hashed each way are counted ([`hashed_bytes`]).
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
    /// The writer waits for bytes to be hashed.
    writer_waits: bool,
    /// The hashing thread dropped the body (it was closed, or the thread is gone).
    closed: bool,
}

impl Credit {
    /// Counts `n` more bytes handed over, waiting while too many are unhashed (and then
    /// calling `wake` once, so that the hashing thread looks). `false` when the hashing thread
    /// is gone.
    fn take(&self, n: usize, wake: impl FnOnce()) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wake = Some(wake);
        while !s.closed && s.unhashed > 0 && s.unhashed + n > MAX_UNHASHED {
            s.writer_waits = true;
            if let Some(wake) = wake.take() {
                wake();
            }
            s = self.hashed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        s.writer_waits = false;
        s.unhashed += n;
        !s.closed
    }

    fn give(&self, n: usize) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.unhashed -= n;
        self.hashed.notify_all();
    }

    fn writer_waits(&self) -> bool {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.writer_waits
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
    /// The body's writer began to wait until some of what it handed over is hashed: the
    /// thread is to look (the wait itself is in the body's [`Credit`]).
    Waiting,
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
    hashed: Arc<Hashed>,
}

/// Bytes hashed, by the kind of pass.
#[derive(Default)]
struct Hashed {
    /// In passes of one body.
    alone: AtomicU64,
    /// In passes of two or more bodies.
    side_by_side: AtomicU64,
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

/// Bytes this process hashed (in whole blocks) alone and side by side with other bodies.
pub(crate) fn hashed_bytes() -> (u64, u64) {
    let hashed = &pool().hashed;
    (
        hashed.alone.load(Ordering::Relaxed),
        hashed.side_by_side.load(Ordering::Relaxed),
    )
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
            hashed: Arc::default(),
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
            let hashed = Arc::clone(&self.hashed);
            let started = std::thread::Builder::new()
                .name(format!("hoist-md5-{n}"))
                .spawn(move || run(&from, &hashed));
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
        let (id, to) = (self.id, &self.to);
        let wake = || {
            let _ = to.send(Message::Waiting);
        };
        if !self.credit.take(chunk.len(), wake) || to.send(Message::Data(id, chunk)).is_err() {
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
    /// Bytes in `queue` from `offset`.
    queued: usize,
    /// Bytes of a block that began in one chunk and ends in the next.
    carry: [u8; 64],
    carry_len: usize,
    len: u64,
    finish: Option<SyncSender<[u8; 16]>>,
    credit: Arc<Credit>,
    /// The pass that last hashed some of it (or the one before it was opened).
    last: u64,
}

impl Drop for Body {
    fn drop(&mut self) {
        // Also on a panic of the thread, so that no writer waits for it forever.
        self.credit.close();
    }
}

impl Body {
    fn new(id: u64, credit: Arc<Credit>, last: u64) -> Self {
        Self {
            id,
            state: INIT,
            queue: std::collections::VecDeque::new(),
            offset: 0,
            queued: 0,
            carry: [0; 64],
            carry_len: 0,
            len: 0,
            finish: None,
            credit,
            last,
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

    /// It has a whole block waiting, with what is carried from before.
    fn has_block(&self) -> bool {
        self.carry_len + self.queued >= 64
    }

    /// It cannot wait for other bodies: its writer or its digest waits for it. (A writer
    /// waits only while some of its bytes are queued.)
    fn must_go_on(&self) -> bool {
        !self.queue.is_empty() && (self.finish.is_some() || self.credit.writer_waits())
    }

    /// The whole blocks of the first chunk from `offset`, `QUANTUM` at most.
    fn blocks(&self) -> Bytes {
        let front = &self.queue[0];
        let whole = (front.len() - self.offset) / 64;
        front.slice(self.offset..self.offset + whole.min(QUANTUM) * 64)
    }

    fn consume(&mut self, n: usize) {
        self.offset += n;
        self.queued -= n;
        if self.queue.front().is_some_and(|f| self.offset == f.len()) {
            if let Some(done) = self.queue.pop_front() {
                self.credit.give(done.len());
            }
            self.offset = 0;
        }
    }
}

/// A hashing thread: takes messages, hashes what is waiting, answers finished bodies.
fn run(from: &Receiver<Message>, hashed: &Hashed) {
    let mut bodies: Vec<Body> = Vec::new();
    let mut pass: u64 = 0;
    loop {
        if !time_to_hash(&bodies) {
            match from.recv() {
                Ok(message) => take(&mut bodies, message, pass),
                Err(_) => return,
            }
        }
        while let Ok(message) = from.try_recv() {
            take(&mut bodies, message, pass);
        }
        if time_to_hash(&bodies) {
            pass += 1;
            hash_some(&mut bodies, pass, hashed);
        }
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

/// Whether to hash a pass now rather than wait for more bytes: as many bodies have a block
/// waiting as a pass takes, or one cannot wait.
fn time_to_hash(bodies: &[Body]) -> bool {
    let waiting = bodies.iter().filter(|b| b.has_block()).count();
    waiting > 0 && waiting >= bodies.len().min(LANES) || bodies.iter().any(Body::must_go_on)
}

/// Takes one message; a body opened now queues behind the bodies already waiting (`pass` is
/// the last pass run).
fn take(bodies: &mut Vec<Body>, message: Message, pass: u64) {
    let find = |bodies: &mut Vec<Body>, id| bodies.iter_mut().position(|b| b.id == id);
    match message {
        Message::Open(id, credit) => bodies.push(Body::new(id, credit, pass)),
        Message::Data(id, chunk) => {
            if let Some(n) = find(bodies, id) {
                let body = &mut bodies[n];
                body.len += chunk.len() as u64;
                body.queued += chunk.len();
                body.queue.push_back(chunk);
            }
        }
        Message::Finish(id, reply) => {
            if let Some(n) = find(bodies, id) {
                bodies[n].finish = Some(reply);
            }
        }
        Message::Waiting => {}
        Message::Close(id) => {
            if let Some(n) = find(bodies, id) {
                bodies.swap_remove(n);
            }
        }
        #[cfg(test)]
        Message::Panic => panic!("a hashing thread's bug, as a test makes it"),
    }
}

/// Which of the bodies with bytes waiting (given the pass each was last hashed in, `lasts`) this
/// pass hashes, as indices into `lasts`, in the order they go into lanes: every one when they
/// are [`LANES`] or fewer, else the ones hashed longest ago that fill whole passes of
/// [`LANES`]. A body left out was hashed more recently than every body taken, so it is among
/// the first next pass; ties go round by `pass`, so that equals take turns.
fn take_whole_passes(lasts: &[u64], pass: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lasts.len()).collect();
    if lasts.len() <= LANES {
        return order;
    }
    let turn = usize::try_from(pass % lasts.len() as u64).unwrap_or(0);
    order.rotate_left(turn);
    order.sort_by_key(|&i| lasts[i]);
    order.truncate(lasts.len() / LANES * LANES);
    order
}

/// The first `blocks` whole blocks of `data`.
fn whole(data: &Bytes, blocks: usize) -> &[[u8; 64]] {
    &data.as_chunks::<64>().0[..blocks]
}

/// Hashes up to [`QUANTUM`] blocks of bodies with bytes waiting, [`LANES`] bodies at a time:
/// all of them when they fill one pass or less, else as many whole passes as they fill (see
/// [`take_whole_passes`]).
fn hash_some(bodies: &mut [Body], pass: u64, hashed: &Hashed) {
    let mut waiting: Vec<Option<&mut Body>> = bodies
        .iter_mut()
        .filter_map(|b| b.prepare().then_some(Some(b)))
        .collect();
    let lasts: Vec<u64> = waiting.iter().flatten().map(|b| b.last).collect();
    let mut ready: Vec<&mut Body> = take_whole_passes(&lasts, pass)
        .into_iter()
        .filter_map(|i| waiting[i].take())
        .collect();
    for body in &mut ready {
        body.last = pass;
    }
    for group in ready.chunks_mut(LANES) {
        if let [one] = group {
            let data = one.blocks();
            md5::block_api::compress(&mut one.state, data.as_chunks::<64>().0);
            one.consume(data.len());
            hashed.alone.fetch_add(data.len() as u64, Ordering::Relaxed);
            continue;
        }
        let data: Vec<Bytes> = group.iter().map(|b| b.blocks()).collect();
        let blocks = data.iter().map(|d| d.len() / 64).min().unwrap_or(0);
        let mut states: Vec<[u32; 4]> = group.iter().map(|b| b.state).collect();
        match (states.as_mut_slice(), data.as_slice()) {
            ([s0, s1], [d0, d1]) => {
                md5lanes::compress([s0, s1], [d0, d1].map(|d| whole(d, blocks)))
            }
            ([s0, s1, s2], [d0, d1, d2]) => {
                md5lanes::compress([s0, s1, s2], [d0, d1, d2].map(|d| whole(d, blocks)));
            }
            ([s0, s1, s2, s3], [d0, d1, d2, d3]) => {
                md5lanes::compress([s0, s1, s2, s3], [d0, d1, d2, d3].map(|d| whole(d, blocks)))
            }
            // A group has 2 to LANES bodies; anything else is hashed body by body.
            (states, data) => {
                for (state, data) in states.iter_mut().zip(data) {
                    md5::block_api::compress(state, whole(data, blocks));
                }
            }
        }
        #[cfg(test)]
        tests::PASSES_SIDE_BY_SIDE.fetch_add(1, Ordering::Relaxed);
        for (body, state) in group.iter_mut().zip(states) {
            body.state = state;
            body.consume(blocks * 64);
        }
        let bytes = (blocks * 64 * group.len()) as u64;
        hashed.side_by_side.fetch_add(bytes, Ordering::Relaxed);
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
    fn a_pass_takes_every_body_up_to_its_lanes_and_else_whole_passes_by_turn() {
        assert_eq!(take_whole_passes(&[], 1), Vec::<usize>::new());
        assert_eq!(take_whole_passes(&[5], 9), vec![0]);
        assert_eq!(take_whole_passes(&[3, 1, 2, 0], 7), vec![0, 1, 2, 3]);
        // Seven waiting: one whole pass, of the four hashed longest ago.
        let mut taken = take_whole_passes(&[9, 2, 8, 1, 7, 3, 9], 4);
        taken.sort_unstable();
        assert_eq!(taken, vec![1, 3, 4, 5]);
        // Nine waiting: two whole passes; the one hashed last waits.
        let taken = take_whole_passes(&[1, 1, 1, 1, 2, 1, 1, 1, 1], 3);
        assert_eq!(taken.len(), 8);
        assert!(!taken.contains(&4));
        // Five bodies, as five parts in flight: each pass hashes four, the fifth waits, and
        // over five passes each body waits once and never twice in a row.
        let mut lasts = [0u64; 5];
        let mut waited = [0; 5];
        let mut last_left = None;
        for pass in 1..=5 {
            let taken = take_whole_passes(&lasts, pass);
            assert_eq!(taken.len(), 4, "pass {pass}");
            let left = (0..5).find(|i| !taken.contains(i)).unwrap();
            assert_ne!(
                Some(left),
                last_left,
                "pass {pass}: body {left} waits again"
            );
            last_left = Some(left);
            waited[left] += 1;
            for i in taken {
                lasts[i] = pass;
            }
        }
        assert_eq!(waited, [1; 5]);
    }

    #[test]
    fn bodies_sent_in_step_are_hashed_side_by_side_not_one_by_one() {
        // Four bodies on a thread of their own, their chunks handed over in turn by one
        // writer, more slowly than the thread hashes them: the thread waits for all four to
        // have bytes, so every pass is a full one (a thread hashing whatever has come hashes
        // each chunk alone as it lands).
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1)));
        let data: Vec<Vec<u8>> = (0..4).map(|n| bytes(20 + n, 2 << 20)).collect();
        let mut streams: Vec<Md5Stream> = (0..4).map(|_| Md5Stream::on(pool)).collect();
        for at in (0..2 << 20).step_by(16 << 10) {
            for (stream, data) in streams.iter_mut().zip(&data) {
                stream
                    .update(Bytes::copy_from_slice(&data[at..at + (16 << 10)]))
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        for (stream, data) in streams.into_iter().zip(&data) {
            let want: [u8; 16] = md5::Md5::digest(data).into();
            assert_eq!(stream.finish().unwrap(), want);
        }
        let alone = pool.hashed.alone.load(Ordering::Relaxed);
        let side_by_side = pool.hashed.side_by_side.load(Ordering::Relaxed);
        assert_eq!(alone + side_by_side, 4 * (2 << 20));
        assert_eq!(
            alone, 0,
            "{alone} bytes hashed alone, {side_by_side} side by side"
        );
    }

    #[test]
    fn a_writer_past_the_limit_is_not_kept_waiting_for_a_body_that_sends_nothing() {
        // Two bodies on one thread, one of which never sends: the other's bytes wait for a
        // partner until its writer waits, which the thread must hear of and hash alone.
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(1)));
        let idle = Md5Stream::on(pool);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let data = bytes(31, 5 * MAX_UNHASHED + 3);
            let mut busy = Md5Stream::on(pool);
            // Chunks larger than half the limit: the second of each pair waits.
            feed(&mut busy, &data, &[MAX_UNHASHED / 2 + 64 * 3]);
            let want: [u8; 16] = md5::Md5::digest(&data).into();
            let _ = done.send(busy.finish().map(|got| got == want));
        });
        let got = finished.recv_timeout(std::time::Duration::from_secs(30));
        assert!(
            matches!(got, Ok(Ok(true))),
            "the busy body did not finish right: {got:?}"
        );
        drop(idle);
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
