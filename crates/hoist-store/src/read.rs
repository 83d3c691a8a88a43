//! Streaming an object's bytes, or a range of them, out of the one or many files that hold
//! them (a multipart object keeps its parts' files).
//!
//! A body reads its next chunk while the one before it is sent, within a budget shared by
//! every body of the store ([`ReadAhead`]): past it, a body reads when asked. A chunk read
//! ahead for a slow client waits for it, and hundreds of slow downloads would otherwise each
//! hold one; the HTTP layer's own queue of bytes to send still overlaps a read with sending.
//!
//! A read of at least [`DIRECT_MIN`] bytes of one file goes past the page cache (`O_DIRECT`,
//! into an aligned buffer) chunk by chunk where the chunk is not in the cache, which a one-byte read
//! that may not wait for the disk tells. On a virtual machine, filling new page-cache pages is
//! most of the CPU a download of a cold object costs, and large objects are mostly read once.
//! The probe's miss reads that one page in (the file is opened for random access, so nothing
//! around it): a second download of the object finds it and reads through the cache, so an
//! object read again and again ends up served from memory. Where `O_DIRECT` is refused, or
//! the store is set to buffered reads, every chunk goes through the page cache.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use tokio::task::JoinHandle;

use crate::direct::ALIGN;
use crate::readahead::{Buffers, CHUNK, ReadAhead, Reserved};
use crate::storage::{Blob, ObjectMeta};

/// Read size of a response body's first chunk: small, so the first bytes leave soon.
const FIRST_CHUNK: usize = 256 * 1024;

/// Reads of one file this long or longer go past the page cache where they are not in it.
const DIRECT_MIN: u64 = 1 << 20;

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
    /// The same file opened with `O_DIRECT`, for the chunks not in the page cache.
    direct: Option<File>,
    offset: u64,
    left: u64,
}

/// What a read on the blocking pool hands back: the file (to read on from), the bytes read.
type Chunk = std::io::Result<(Open, Bytes)>;

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
    /// Whether large reads of a file go past the page cache where they are not in it.
    direct: bool,
    _blob: Option<Arc<Blob>>,
}

impl ExtentStream {
    /// The body of bytes `start..end` of the object; `direct` reads large spans of a file past the page
    /// cache where they are not in it.
    pub fn new(
        dir: PathBuf,
        meta: &ObjectMeta,
        (start, end): (u64, u64),
        budget: &ReadAhead,
        direct: bool,
    ) -> Self {
        Self {
            pieces: pieces(&dir, meta, start, end),
            reading: None,
            ahead: None,
            budget: budget.clone(),
            open: None,
            chunk: FIRST_CHUNK,
            failed: None,
            direct,
            _blob: meta.blob.clone(),
        }
    }

    /// Starts reading the next chunk, from the open file or the next piece's; false when
    /// every byte was read. A piece that does not open ends the body: the pieces after it
    /// are dropped.
    fn start_read(&mut self) -> std::io::Result<bool> {
        let open = match self.open.take() {
            Some(open) if open.left > 0 => open,
            _ => match self
                .pieces
                .pop_front()
                .map(|piece| open(&piece, self.direct))
            {
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
        let shared = self.budget.clone();
        self.reading = Some(tokio::task::spawn_blocking(move || {
            read_chunk(open, size, &shared)
        }));
        Ok(true)
    }
}

/// Opens a piece's file, and a second time with `O_DIRECT` when `direct` and the piece is
/// large (where the file system refuses it, the piece is read through the page cache).
/// Opening a local file is one short system call, so it is done in place rather than on the
/// blocking pool.
fn open(piece: &Piece, direct: bool) -> std::io::Result<Open> {
    let file = File::open(&piece.path)?;
    let direct = (direct && piece.len >= DIRECT_MIN)
        .then(|| open_direct(&piece.path, &file))
        .flatten();
    Ok(Open {
        file,
        direct,
        offset: piece.offset,
        left: piece.len,
    })
}

/// The file at `path` opened again with `O_DIRECT`, and `file` told it is read at random, so
/// that a probe that misses reads in its one page and nothing after it. `None` where the file
/// system refuses either.
#[cfg(target_os = "linux")]
fn open_direct(path: &std::path::Path, file: &File) -> Option<File> {
    use rustix::fs::{Advice, Mode, OFlags};
    let direct = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECT | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    rustix::fs::fadvise(file, 0, None, Advice::Random).ok()?;
    Some(File::from(direct))
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &std::path::Path, _: &File) -> Option<File> {
    None
}

/// Whether the chunk from `offset` of `file` is in the page cache, told by its second page (a
/// read through the cache of the chunk before, from an unaligned offset, reads in this
/// chunk's first page too): a one-byte read that may not wait for the disk. Where the kernel
/// cannot tell, as if it were (the read goes through the cache, as without direct reads).
///
/// A probe that misses reads its one page in, which is how a second read of the file finds
/// it cached. Should that read finish before the probe looks again (a fast disk, the thread
/// preempted on a busy machine), the chunk is taken as cached and goes through the cache:
/// the same bytes, only not past it. Seen here in about one chunk in 500.
#[cfg(target_os = "linux")]
fn cached(file: &File, offset: u64) -> bool {
    let mut byte = [0u8; 1];
    let probe = rustix::io::preadv2(
        file,
        &mut [std::io::IoSliceMut::new(&mut byte)],
        offset - offset % ALIGN as u64 + ALIGN as u64,
        rustix::io::ReadWriteFlags::NOWAIT,
    );
    probe != Err(rustix::io::Errno::AGAIN)
}

#[cfg(not(target_os = "linux"))]
fn cached(_: &File, _: u64) -> bool {
    true
}

/// The file's bytes `offset..offset + size` (at most a chunk) read with `O_DIRECT`: the
/// aligned blocks that cover them into an aligned buffer from `buffers`, and the body's
/// [`Bytes`] the part of it asked for (no copy).
fn read_direct(
    file: &File,
    offset: u64,
    size: usize,
    buffers: &Arc<Buffers>,
) -> std::io::Result<Bytes> {
    let from = offset - offset % ALIGN as u64;
    let skip = (offset - from) as usize;
    let len = (skip + size).next_multiple_of(ALIGN);
    // Lent from the start, so that the buffer goes back on an error too.
    let mut lent = buffers.lend();
    let start = lent.buffer.as_ptr().align_offset(ALIGN);
    debug_assert!(start + len <= lent.buffer.len());
    let mut filled = 0;
    while filled < skip + size {
        let at = from + filled as u64;
        match rustix::io::pread(file, &mut lent.buffer[start + filled..start + len], at) {
            Ok(n) => {
                filled += n;
                // A direct read stops short of a block only at the end of the file.
                if filled < skip + size && (n == 0 || filled % ALIGN != 0) {
                    return Err(short_file());
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    lent.start = start + skip;
    lent.len = size;
    Ok(Bytes::from_owner(lent))
}

fn short_file() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "an object's file is shorter than its record",
    )
}

/// Reads the file's next `size` bytes: past the page cache when the file has a direct handle
/// and the chunk is not cached, else with `pread` straight into a buffer's spare capacity (no
/// zeroing first). A file shorter than its record says is an error, not a short body; a
/// direct read the kernel refuses (`EINVAL`: a device that wants a larger alignment) turns
/// the file's direct reads off and goes through the cache.
fn read_chunk(mut open: Open, size: usize, shared: &ReadAhead) -> Chunk {
    if let Some(direct) = &open.direct
        && !cached(&open.file, open.offset)
    {
        match read_direct(direct, open.offset, size, shared.buffers()) {
            Ok(data) => {
                shared.count_read(true, size);
                open.offset += size as u64;
                open.left -= size as u64;
                return Ok((open, data));
            }
            Err(err) if err.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                open.direct = None;
            }
            Err(err) => return Err(err),
        }
    }
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        let at = open.offset + data.len() as u64;
        match rustix::io::pread(&open.file, rustix::buffer::spare_capacity(&mut data), at) {
            Ok(0) => return Err(short_file()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    // Had the allocator given more room than asked for, the read may have gone past the piece.
    data.truncate(size);
    open.offset += size as u64;
    open.left -= size as u64;
    shared.count_read(false, size);
    Ok((open, Bytes::from(data)))
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
                Poll::Ready(Some(Ok(data)))
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
    use crate::readahead::{KEPT_BUFFERS, READ_AHEAD_BUDGET};
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

    /// The body of the whole object whose files `files` wrote under `dir`.
    fn whole(dir: &tempfile::TempDir, sizes: &[u64], direct: bool) -> ExtentStream {
        let total = sizes.iter().sum();
        ExtentStream::new(
            dir.path().into(),
            &meta(sizes),
            (0, total),
            &roomy(),
            direct,
        )
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
            let stream = ExtentStream::new(
                dir.path().into(),
                &meta(&sizes),
                (start, end),
                &roomy(),
                false,
            );
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
        let (got, err) = drain(whole(&dir, &sizes, false)).await;
        assert_eq!(err.unwrap().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(got.len() < all.len() && got == all[..got.len()]);
    }

    #[tokio::test]
    async fn a_missing_file_ends_the_body_with_an_error_after_the_bytes_before_it() {
        let sizes = [1000, 2000];
        let (dir, all) = files(&sizes);
        std::fs::remove_file(dir.path().join("p1")).unwrap();
        let stream =
            ExtentStream::new(dir.path().into(), &meta(&sizes), (0, 3000), &roomy(), false);
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
        let mut a = ExtentStream::new(dir.path().into(), &meta(&sizes), (0, total), &budget, false);
        let mut b = ExtentStream::new(dir.path().into(), &meta(&sizes), (0, total), &budget, false);
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
        let c = ExtentStream::new(dir.path().into(), &meta(&sizes), (0, total), &budget, false);
        let (got, err) = drain(c).await;
        assert!(err.is_none() && got == all, "{err:?}");
        assert_eq!(budget.held(), 0);
        // No room at all: every chunk is read when asked.
        let none = ReadAhead::new(0);
        let d = ExtentStream::new(
            dir.path().into(),
            &meta(&sizes),
            (1, total - 1),
            &none,
            false,
        );
        let (got, err) = drain(d).await;
        assert!(err.is_none() && got == all[1..all.len() - 1], "{err:?}");
        assert_eq!(none.held(), 0);
    }

    /// Drops every file under `dir` from the page cache (written back first); false where the
    /// file system keeps its files in memory whatever it is told (tmpfs).
    fn uncache(dir: &std::path::Path) -> bool {
        let mut dropped = true;
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = File::open(entry.unwrap().path()).unwrap();
            file.sync_all().unwrap();
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
            dropped &= file.metadata().unwrap().len() == 0 || !in_cache(&file, 0);
        }
        dropped
    }

    /// [`files`] written, then dropped from the page cache; `None` (the test skipped) where
    /// the file system keeps its files in memory.
    fn cold_files(sizes: &[u64]) -> Option<(tempfile::TempDir, Vec<u8>)> {
        let written = files(sizes);
        if uncache(written.0.path()) {
            Some(written)
        } else {
            eprintln!("skipped: the file system keeps its files in memory");
            None
        }
    }

    /// Whether the kernel holds the page at `offset` of `file` in its cache, asked with a read
    /// that may not wait for the disk on a handle read at random (a miss reads in that one page
    /// only, so each page is asked about once).
    fn in_cache(file: &File, offset: u64) -> bool {
        rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::Random).unwrap();
        let mut byte = [0u8; 1];
        match rustix::io::preadv2(
            file,
            &mut [std::io::IoSliceMut::new(&mut byte)],
            offset,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(_) => true,
            Err(rustix::io::Errno::AGAIN) => false,
            Err(err) => panic!("{err}"),
        }
    }

    #[tokio::test]
    async fn every_range_of_a_file_out_of_the_cache_reads_right_past_it() {
        // Files over the direct-read floor (one of them over several chunks and not a whole
        // number of blocks) beside one under it.
        let sizes = [CHUNK as u64 * 3 + 12_345, 1, DIRECT_MIN, DIRECT_MIN - 1];
        let Some((dir, all)) = cold_files(&sizes) else {
            return;
        };
        let total = all.len() as u64;
        let first = sizes[0];
        let budget = roomy();
        for (start, end) in [
            (0, total),
            (1, first - 1),
            (ALIGN as u64 - 1, ALIGN as u64 + 1),
            (FIRST_CHUNK as u64 + 7, CHUNK as u64 * 2 + 4095),
            (first - 5, first + 2 + DIRECT_MIN),
            (total - DIRECT_MIN, total - 3),
            (total - 1, total),
        ] {
            // Pages a read before asked about may stay: those chunks go through the cache.
            uncache(dir.path());
            let stream = ExtentStream::new(
                dir.path().into(),
                &meta(&sizes),
                (start, end),
                &budget,
                true,
            );
            let (got, err) = drain(stream).await;
            assert!(err.is_none(), "{start}..{end}: {err:?}");
            assert!(got == all[start as usize..end as usize], "{start}..{end}");
        }
        // The direct reads' buffers came back to be used again, no more than are kept.
        let kept = budget.buffers().kept();
        assert!((1..=KEPT_BUFFERS).contains(&kept), "{kept} buffers kept");
    }

    #[test]
    fn a_direct_read_gives_the_bytes_asked_for_at_any_alignment() {
        let size = CHUNK as u64 * 2 + 12_345;
        let (dir, all) = files(&[size]);
        let path = dir.path().join("p0");
        let plain = File::open(&path).unwrap();
        let Some(direct) = open_direct(&path, &plain) else {
            eprintln!("skipped: the file system refuses O_DIRECT");
            return;
        };
        let buffers = Arc::new(Buffers::default());
        let a = ALIGN as u64;
        for (offset, len) in [
            (0, CHUNK),
            (1, CHUNK),
            (a - 1, 2),
            (a, ALIGN),
            (a + 1, CHUNK - 1),
            (FIRST_CHUNK as u64 + 7, FIRST_CHUNK),
            (size - CHUNK as u64, CHUNK),
            (size - 12_345, 12_345),
            (size - 1, 1),
        ] {
            let got = read_direct(&direct, offset, len, &buffers).unwrap();
            let at = offset as usize;
            assert!(got == all[at..at + len], "{offset}+{len}");
        }
        // Past the end of the file: an error, not a short chunk.
        for (offset, len) in [(size - 10, 20), (size, 1), (size - CHUNK as u64 + 1, CHUNK)] {
            let err = read_direct(&direct, offset, len, &buffers).unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::UnexpectedEof,
                "{offset}+{len}"
            );
        }
        // The buffers came back to be used again, no more than are kept.
        let kept = buffers.kept();
        assert!((1..=KEPT_BUFFERS).contains(&kept), "{kept} buffers kept");
    }

    #[tokio::test]
    async fn a_cold_large_file_is_read_past_the_cache_once_and_through_it_the_second_time() {
        let chunks = 8;
        let sizes = [CHUNK as u64 * chunks];
        let Some((dir, all)) = cold_files(&sizes) else {
            return;
        };
        let file = File::open(dir.path().join("p0")).unwrap();
        // A page inside each chunk after the first, away from the chunk's first page (the one
        // a read asks about): even chunks are looked at after the first download, odd ones
        // after the second.
        let inside = |chunk: u64| FIRST_CHUNK as u64 + (chunk - 1) * CHUNK as u64 + 200 * 1024;
        let read = || async {
            let (got, err) = drain(whole(&dir, &sizes, true)).await;
            assert!(err.is_none() && got == all, "{err:?}");
        };
        read().await;
        // A probe's own one-page read can win the race with it (see `cached`), the store's or
        // this test's: that chunk looks cached. Most chunks do not.
        let even: Vec<u64> = (2..chunks).step_by(2).collect();
        let through: Vec<_> = even
            .iter()
            .filter(|&&chunk| in_cache(&file, inside(chunk)))
            .collect();
        assert!(
            through.len() * 2 < even.len(),
            "chunks {through:?} of {even:?} went through the cache"
        );
        read().await;
        for chunk in (1..chunks).step_by(2) {
            assert!(
                in_cache(&file, inside(chunk)),
                "chunk {chunk} read again is not cached"
            );
        }
    }

    #[tokio::test]
    async fn without_direct_reads_a_cold_file_goes_through_the_cache() {
        let sizes = [CHUNK as u64 * 4];
        let Some((dir, all)) = cold_files(&sizes) else {
            return;
        };
        let (got, err) = drain(whole(&dir, &sizes, false)).await;
        assert!(err.is_none() && got == all, "{err:?}");
        let file = File::open(dir.path().join("p0")).unwrap();
        assert!(in_cache(&file, CHUNK as u64 + 200 * 1024));
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
