//! Streaming an object's bytes, or a range of them, out of the one or many files that hold
//! them (a multipart object keeps its parts' files).

use std::collections::VecDeque;
use std::io::{Seek as _, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt as _, Take};
use tokio_util::io::ReaderStream;

use crate::storage::{Blob, ObjectMeta};

/// Read size per chunk of a response body.
const CHUNK: usize = 256 * 1024;

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

/// The body of a GET: the pieces one after the other, each file opened when its turn comes.
/// It holds the object's [`Blob`], so the files outlive a DELETE or an overwrite that comes
/// while it streams.
pub(crate) struct ExtentStream {
    pieces: VecDeque<Piece>,
    current: Option<ReaderStream<Take<tokio::fs::File>>>,
    _blob: Option<Arc<Blob>>,
}

impl ExtentStream {
    pub fn new(dir: PathBuf, meta: &ObjectMeta, start: u64, end: u64) -> Self {
        Self {
            pieces: pieces(&dir, meta, start, end),
            current: None,
            _blob: meta.blob.clone(),
        }
    }
}

/// Opens a piece's file at its offset. Opening a local file is one short system call, so it
/// is done in place rather than on the blocking pool.
fn open(piece: &Piece) -> std::io::Result<ReaderStream<Take<tokio::fs::File>>> {
    let mut file = std::fs::File::open(&piece.path)?;
    file.seek(SeekFrom::Start(piece.offset))?;
    Ok(ReaderStream::with_capacity(
        tokio::fs::File::from_std(file).take(piece.len),
        CHUNK,
    ))
}

impl Stream for ExtentStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(current) = self.current.as_mut() {
                match Pin::new(current).poll_next(cx) {
                    Poll::Ready(None) => self.current = None,
                    other => return other,
                }
            }
            let Some(piece) = self.pieces.pop_front() else {
                return Poll::Ready(None);
            };
            match open(&piece) {
                Ok(stream) => self.current = Some(stream),
                Err(err) => {
                    self.pieces.clear();
                    return Poll::Ready(Some(Err(err)));
                }
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
