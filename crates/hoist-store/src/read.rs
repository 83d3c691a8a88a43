//! Streaming an object's bytes, or a range of them, out of the one or many files that hold
//! them (a multipart object keeps its parts' files).
//!
//! A body reads its next chunk while the one before it is sent, within a budget shared by
//! every body of the store ([`ReadAhead`]): past it, a body reads when asked. A chunk read
//! ahead for a slow client waits for it, and hundreds of slow downloads would otherwise each
//! hold one; the HTTP layer's own queue of bytes to send still overlaps a read with sending.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use tokio::task::JoinHandle;

use crate::storage::{Blob, ObjectMeta};

/// Read size of a response body's first chunk: small, so the first bytes leave soon.
const FIRST_CHUNK: usize = 256 * 1024;
/// Read size of every later chunk: few reads and few hand-offs to the blocking pool per MiB.
const CHUNK: usize = 512 * 1024;

/// Bytes all bodies of a store may hold read ahead at once by default: 64 chunks.
pub(crate) const READ_AHEAD_BUDGET: usize = 64 * CHUNK;

/// The bytes bodies hold read ahead of what they were asked for, against a budget.
#[derive(Debug, Clone)]
pub(crate) struct ReadAhead {
    held: Arc<AtomicUsize>,
    budget: usize,
}

impl ReadAhead {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            held: Arc::new(AtomicUsize::new(0)),
            budget,
        }
    }

    /// The bytes read ahead now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// `bytes` more, if the budget has room for them.
    fn reserve(&self, bytes: usize) -> Option<Reserved> {
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
struct Reserved {
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// One file's share of a read: where it starts and how many bytes it gives.
#[derive(Debug)]
struct Piece {
    path: PathBuf,
    offset: u64,
    len: u64,
}

/// The pieces of the files under `dir` that cover bytes `start..end` of the object.
fn pieces(dir: &std::path::Path, meta: &ObjectMeta, start: u64, end: u64) -> VecDeque<Piece> {
    let mut out = VecDeque::new();
    let mut base = 0u64;
    for extent in meta.extents() {
        let (lo, hi) = (base, base + extent.size);
        base = hi;
        let (from, to) = (start.max(lo), end.min(hi));
        if from < to {
            out.push_back(Piece {
                path: dir.join(&extent.data),
                offset: from - lo,
                len: to - from,
            });
        }
    }
    out
}

/// The file being read: where its next unread byte is, and how many bytes of it are still to
/// give.
struct Open {
    file: File,
    offset: u64,
    left: u64,
}

/// What a read on the blocking pool hands back: the file (to read on from), the bytes read.
type Chunk = std::io::Result<(Open, Vec<u8>)>;

/// The body of a GET: the pieces one after the other, each file opened when its turn comes.
///
/// Each chunk is read on the blocking pool straight into the buffer that becomes the body's
/// [`Bytes`] (no copy through an intermediate buffer), and the next chunk is read while the
/// one before it is sent when the store's [`ReadAhead`] budget has room. It holds the
/// object's [`Blob`], so the files outlive a DELETE or an overwrite that comes while it
/// streams.
pub(crate) struct ExtentStream {
    pieces: VecDeque<Piece>,
    /// The read under way (at most one: the chunk after the one being sent).
    reading: Option<JoinHandle<Chunk>>,
    /// The budget this read holds when it was started ahead of being asked for.
    ahead: Option<Reserved>,
    budget: ReadAhead,
    /// The file read on from when no read is under way.
    open: Option<Open>,
    /// Size of the next read.
    chunk: usize,
    /// An error met while starting the read ahead, given after the chunk before it.
    failed: Option<std::io::Error>,
    _blob: Option<Arc<Blob>>,
}

impl ExtentStream {
    pub fn new(dir: PathBuf, meta: &ObjectMeta, start: u64, end: u64, budget: &ReadAhead) -> Self {
        Self {
            pieces: pieces(&dir, meta, start, end),
            reading: None,
            ahead: None,
            budget: budget.clone(),
            open: None,
            chunk: FIRST_CHUNK,
            failed: None,
            _blob: meta.blob.clone(),
        }
    }

    /// Starts reading the next chunk, from the open file or the next piece's; false when
    /// every byte was read. A piece that does not open ends the body: the pieces after it
    /// are dropped.
    fn start_read(&mut self) -> std::io::Result<bool> {
        let open = match self.open.take() {
            Some(open) if open.left > 0 => open,
            _ => match self.pieces.pop_front().map(|piece| open(&piece)) {
                Some(Ok(open)) => open,
                Some(Err(err)) => {
                    self.pieces.clear();
                    return Err(err);
                }
                None => return Ok(false),
            },
        };
        let size = usize::try_from(open.left).map_or(self.chunk, |left| left.min(self.chunk));
        self.chunk = CHUNK;
        self.reading = Some(tokio::task::spawn_blocking(move || read_chunk(open, size)));
        Ok(true)
    }
}

/// Opens a piece's file. Opening a local file is one short system call, so it is done in
/// place rather than on the blocking pool.
fn open(piece: &Piece) -> std::io::Result<Open> {
    Ok(Open {
        file: File::open(&piece.path)?,
        offset: piece.offset,
        left: piece.len,
    })
}

/// Reads the file's next `size` bytes with `pread` straight into a buffer's spare capacity (no
/// zeroing first). A file shorter than its record says is an error, not a short body.
fn read_chunk(mut open: Open, size: usize) -> Chunk {
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        let at = open.offset + data.len() as u64;
        match rustix::io::pread(&open.file, rustix::buffer::spare_capacity(&mut data), at) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "an object's file is shorter than its record",
                ));
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    // Had the allocator given more room than asked for, the read may have gone past the piece.
    data.truncate(size);
    open.offset += size as u64;
    open.left -= size as u64;
    Ok((open, data))
}

impl Stream for ExtentStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(err) = this.failed.take() {
            return Poll::Ready(Some(Err(err)));
        }
        if this.reading.is_none() {
            match this.start_read() {
                Ok(true) => {}
                Ok(false) => return Poll::Ready(None),
                Err(err) => return Poll::Ready(Some(Err(err))),
            }
        }
        let reading = this.reading.as_mut().expect("a read was just started");
        let done = ready!(Pin::new(reading).poll(cx));
        this.reading = None;
        let result = done.unwrap_or_else(|join| Err(std::io::Error::other(join)));
        match result {
            Ok((open, data)) => {
                this.open = Some(open);
                // This chunk goes to be sent: what it held of the budget is free. Read the
                // next one while it is sent, if the budget has room and there is one.
                this.ahead = None;
                if let Some(reserved) = this.budget.reserve(CHUNK) {
                    match this.start_read() {
                        Ok(true) => this.ahead = Some(reserved),
                        Ok(false) => {}
                        Err(err) => this.failed = Some(err),
                    }
                }
                Poll::Ready(Some(Ok(Bytes::from(data))))
            }
            Err(err) => {
                this.pieces.clear();
                this.ahead = None;
                Poll::Ready(Some(Err(err)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Extent;

    fn meta(sizes: &[u64]) -> ObjectMeta {
        ObjectMeta {
            key: "k".into(),
            size: sizes.iter().sum(),
            etag: String::new(),
            last_modified_ms: 0,
            content_type: None,
            metadata: Default::default(),
            headers: Default::default(),
            data: String::new(),
            extents: sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| Extent {
                    data: format!("p{i}"),
                    size,
                    part_number: None,
                    etag: None,
                    checksum: None,
                })
                .collect(),
            checksum: None,
            checksum_type: None,
            parts: None,
            upload_id: None,
            blob: None,
        }
    }

    fn spans(start: u64, end: u64) -> Vec<(String, u64, u64)> {
        pieces(std::path::Path::new("d"), &meta(&[10, 10, 5]), start, end)
            .into_iter()
            .map(|p| (p.path.to_string_lossy().into_owned(), p.offset, p.len))
            .collect()
    }

    #[test]
    fn ranges_map_onto_the_files_that_hold_them() {
        let all = vec![
            ("d/p0".to_owned(), 0, 10),
            ("d/p1".to_owned(), 0, 10),
            ("d/p2".to_owned(), 0, 5),
        ];
        assert_eq!(spans(0, 25), all);
        assert_eq!(
            spans(9, 11),
            vec![("d/p0".to_owned(), 9, 1), ("d/p1".to_owned(), 0, 1)]
        );
        assert_eq!(spans(10, 20), vec![("d/p1".to_owned(), 0, 10)]);
        assert_eq!(spans(24, 25), vec![("d/p2".to_owned(), 4, 1)]);
        assert!(spans(7, 7).is_empty());
    }

    /// Writes files `p0`, `p1`, … of the given sizes under a new folder; answers the folder
    /// and the object's bytes (each byte from its position, so a misplaced chunk shows).
    fn files(sizes: &[u64]) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..size)
                .map(|n| ((all.len() as u64 + n) % 251) as u8)
                .collect();
            std::fs::write(dir.path().join(format!("p{i}")), &bytes).unwrap();
            all.extend_from_slice(&bytes);
        }
        (dir, all)
    }

    fn roomy() -> ReadAhead {
        ReadAhead::new(READ_AHEAD_BUDGET)
    }

    /// Everything the stream gives: the bytes before the first error, and that error.
    async fn drain(mut stream: ExtentStream) -> (Vec<u8>, Option<std::io::Error>) {
        use futures_util::StreamExt as _;
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(err) => {
                    assert!(stream.next().await.is_none(), "nothing after an error");
                    return (out, Some(err));
                }
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn streams_every_range_across_files_and_chunks() {
        // A file over two chunks, one cut inside the first chunk, one tiny.
        let sizes = [
            CHUNK as u64 * 2 + 12_345,
            FIRST_CHUNK as u64 - 7,
            1,
            CHUNK as u64,
        ];
        let (dir, all) = files(&sizes);
        let total = all.len() as u64;
        let first = sizes[0];
        for (start, end) in [
            (0, total),
            (1, total - 1),
            (first - 1, first + 1),
            (FIRST_CHUNK as u64 - 1, CHUNK as u64 * 2 + 1),
            (first, first + sizes[1] + 1),
            (total - 1, total),
            (5, 5),
        ] {
            let stream = ExtentStream::new(dir.path().into(), &meta(&sizes), start, end, &roomy());
            let (got, err) = drain(stream).await;
            assert!(err.is_none(), "{start}..{end}: {err:?}");
            assert!(got == all[start as usize..end as usize], "{start}..{end}");
        }
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_record_is_an_error_not_a_short_body() {
        let sizes = [1000, CHUNK as u64 + 10];
        let (dir, all) = files(&sizes);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("p1"))
            .unwrap();
        file.set_len(CHUNK as u64).unwrap();
        let stream = ExtentStream::new(
            dir.path().into(),
            &meta(&sizes),
            0,
            all.len() as u64,
            &roomy(),
        );
        let (got, err) = drain(stream).await;
        assert_eq!(err.unwrap().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(got.len() < all.len() && got == all[..got.len()]);
    }

    #[tokio::test]
    async fn a_missing_file_ends_the_body_with_an_error_after_the_bytes_before_it() {
        let sizes = [1000, 2000];
        let (dir, all) = files(&sizes);
        std::fs::remove_file(dir.path().join("p1")).unwrap();
        let stream = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, 3000, &roomy());
        let (got, err) = drain(stream).await;
        assert_eq!(err.unwrap().kind(), std::io::ErrorKind::NotFound);
        assert!(got == all[..1000]);
    }

    #[tokio::test]
    async fn bodies_read_ahead_only_within_the_budget_and_give_it_back() {
        use futures_util::StreamExt as _;
        let sizes = [CHUNK as u64 * 3];
        let (dir, all) = files(&sizes);
        let budget = ReadAhead::new(CHUNK);
        let total = all.len() as u64;
        let mut a = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, total, &budget);
        let mut b = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, total, &budget);
        // The first body to be sent a chunk reads the next one ahead and holds the budget.
        assert!(!a.next().await.unwrap().unwrap().is_empty());
        assert_eq!(budget.held(), CHUNK);
        // The second finds no room: it reads when asked, and still gives every byte.
        let first_b = b.next().await.unwrap().unwrap();
        assert_eq!(budget.held(), CHUNK);
        assert!(b.ahead.is_none() && b.reading.is_none());
        let (rest_b, err) = drain(b).await;
        assert!(err.is_none(), "{err:?}");
        assert!([&first_b[..], &rest_b].concat() == all);
        // A body dropped with a chunk read ahead gives its share back.
        drop(a);
        assert_eq!(budget.held(), 0);
        // With room again, a body reads ahead, and gives the room back as its chunks are sent
        // and when it ends.
        let c = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, total, &budget);
        let (got, err) = drain(c).await;
        assert!(err.is_none() && got == all, "{err:?}");
        assert_eq!(budget.held(), 0);
        // No room at all: every chunk is read when asked.
        let none = ReadAhead::new(0);
        let d = ExtentStream::new(dir.path().into(), &meta(&sizes), 1, total - 1, &none);
        let (got, err) = drain(d).await;
        assert!(err.is_none() && got == all[1..all.len() - 1], "{err:?}");
        assert_eq!(none.held(), 0);
    }

    #[test]
    fn a_whole_file_object_is_one_piece() {
        let mut m = meta(&[]);
        m.data = "one".into();
        m.size = 42;
        let p: Vec<_> = pieces(std::path::Path::new("d"), &m, 2, 42).into();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].offset, p[0].len), (2, 40));
    }
}
