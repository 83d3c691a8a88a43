//! Streaming an object's bytes, or a range of them, out of the one or many files that hold
//! them (a multipart object keeps its parts' files).

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use tokio::task::JoinHandle;

use crate::storage::{Blob, ObjectMeta};

/// Read size of a response body's first chunk: small, so the first bytes leave soon.
const FIRST_CHUNK: usize = 256 * 1024;
/// Read size of every later chunk: few reads and few hand-offs to the blocking pool per MiB.
const CHUNK: usize = 512 * 1024;

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
/// one before it is sent. It holds the object's [`Blob`], so the files outlive a DELETE or an
/// overwrite that comes while it streams.
pub(crate) struct ExtentStream {
    pieces: VecDeque<Piece>,
    /// The read under way (at most one: the chunk after the one being sent).
    reading: Option<JoinHandle<Chunk>>,
    /// The file read on from when no read is under way.
    open: Option<Open>,
    /// Size of the next read.
    chunk: usize,
    /// An error met while starting the read ahead, given after the chunk before it.
    failed: Option<std::io::Error>,
    _blob: Option<Arc<Blob>>,
}

impl ExtentStream {
    pub fn new(dir: PathBuf, meta: &ObjectMeta, start: u64, end: u64) -> Self {
        Self {
            pieces: pieces(&dir, meta, start, end),
            reading: None,
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
                // Read the next chunk while this one is sent.
                if let Err(err) = this.start_read() {
                    this.failed = Some(err);
                }
                Poll::Ready(Some(Ok(Bytes::from(data))))
            }
            Err(err) => {
                this.pieces.clear();
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
            let stream = ExtentStream::new(dir.path().into(), &meta(&sizes), start, end);
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
        let stream = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, all.len() as u64);
        let (got, err) = drain(stream).await;
        assert_eq!(err.unwrap().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(got.len() < all.len() && got == all[..got.len()]);
    }

    #[tokio::test]
    async fn a_missing_file_ends_the_body_with_an_error_after_the_bytes_before_it() {
        let sizes = [1000, 2000];
        let (dir, all) = files(&sizes);
        std::fs::remove_file(dir.path().join("p1")).unwrap();
        let stream = ExtentStream::new(dir.path().into(), &meta(&sizes), 0, 3000);
        let (got, err) = drain(stream).await;
        assert_eq!(err.unwrap().kind(), std::io::ErrorKind::NotFound);
        assert!(got == all[..1000]);
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
