//! Reading the bytes: positional reads of a file, or sequential reads of a stream, into a
//! bounded pool of part buffers.
//!
//! A producer thread fills buffers and hands them to the senders; a sender returns its
//! buffer when the part is stored. With `n` buffers in the pool, at most `n` parts are in
//! memory, whatever the file size.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use hoist_core::checksum::{ChecksumAlgorithm, PartChecksum};
use hoist_core::plan::{Part, Plan};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// What to upload.
#[non_exhaustive]
pub enum Source {
    /// A regular file, read with positional reads so parts can be read in any order.
    File(PathBuf),
    /// A stream of unknown length (standard input), read once, front to back.
    Stream(Box<dyn Read + Send>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => f.debug_tuple("File").field(p).finish(),
            Source::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

impl Source {
    /// Standard input.
    pub fn stdin() -> Source {
        Source::Stream(Box::new(std::io::stdin()))
    }
}

/// One part, read and checksummed, ready to send.
#[derive(Debug)]
pub(crate) struct Job {
    pub number: u32,
    pub data: Bytes,
    pub checksum: Option<PartChecksum>,
}

/// Where the producer reads from.
pub(crate) enum Feed {
    File {
        file: Arc<File>,
        path: PathBuf,
        /// The plan's parts still to send, in order.
        parts: Vec<Part>,
    },
    Stream {
        reader: Box<dyn Read + Send>,
        plan: Plan,
        /// Parts already read (to decide between single PUT and multipart).
        first: Option<Vec<u8>>,
        first_was_last: bool,
    },
}

/// What the producer saw: for a stream, its total length and part count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fed {
    pub total: u64,
    pub parts: u32,
}

/// Fills pooled buffers and sends jobs until the feed ends, the senders hang up, or
/// `cancel` fires. Runs on a blocking thread.
pub(crate) fn produce(
    feed: Feed,
    checksum: Option<ChecksumAlgorithm>,
    pool: &mut mpsc::Receiver<Vec<u8>>,
    jobs: &mpsc::Sender<Job>,
    cancel: &CancellationToken,
) -> Result<Fed> {
    let mut fed = Fed { total: 0, parts: 0 };
    let mut emit = |number: u32, buf: Vec<u8>| -> bool {
        let checksum = checksum.map(|alg| PartChecksum::of(alg, &buf));
        fed.total += buf.len() as u64;
        fed.parts = fed.parts.max(number);
        let job = Job {
            number,
            data: Bytes::from(buf),
            checksum,
        };
        jobs.blocking_send(job).is_ok()
    };
    match feed {
        Feed::File { file, path, parts } => {
            for part in parts {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let Some(mut buf) = pool.blocking_recv() else {
                    break;
                };
                // A recycled buffer already has the right length for every part but the
                // last, so this does not zero-fill again.
                buf.resize(part.length as usize, 0);
                file.read_exact_at(&mut buf, part.offset)
                    .map_err(|source| Error::Source {
                        path: path.clone(),
                        source,
                    })?;
                if !emit(part.number, buf) {
                    break;
                }
            }
        }
        Feed::Stream {
            mut reader,
            plan,
            first,
            first_was_last,
        } => {
            // The length is unknown, so every part is read at the plan's part size (its
            // nominal range, `Plan::part`), front to back. The last part is the one the
            // input ends in: a short read, or, when the input ends exactly on a part
            // boundary, the part before the empty read that follows.
            let mut number = 0;
            if let Some(first) = first {
                number += 1;
                if !emit(number, first) || first_was_last {
                    return Ok(fed);
                }
            }
            loop {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let Some(mut buf) = pool.blocking_recv() else {
                    break;
                };
                buf.resize(plan.part_size as usize, 0);
                let (n, eof) = read_full(&mut *reader, &mut buf)?;
                buf.truncate(n);
                if n > 0 {
                    number += 1;
                    if plan.part(number).is_none() {
                        return Err(Error::Config(format!(
                            "the input is longer than {} parts of {} bytes: pass a larger part size",
                            plan.max_parts, plan.part_size
                        )));
                    }
                    if !emit(number, buf) {
                        break;
                    }
                }
                if eof {
                    break;
                }
            }
        }
    }
    Ok(fed)
}

/// Reads until `buf` is full or the input ends; returns the bytes read and whether it ended.
pub(crate) fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Source {
                    path: "-".into(),
                    source,
                });
            }
        }
    }
    Ok((filled, false))
}
