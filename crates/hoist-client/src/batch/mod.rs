//! Many files at once: one scheduler for a whole batch.
//!
//! Every file is uploaded by the single-file engine ([`Uploader`]), with its own resume
//! journal; the batch adds the bounds that hold across files:
//!
//! - **connections**: requests to the store in flight across the batch (every part and every
//!   single PUT takes one of them while it is sent);
//! - **memory**: part buffers across the batch. Before a file starts it reserves what it can
//!   hold at once (a single PUT its size, a multipart upload its buffers), so the files that
//!   fit go on while a large one waits: no small file waits behind a large one while
//!   connections are free;
//! - **files in flight**: enough for small files to keep every connection busy.
//!
//! One file's failure never stops the others unless `fail_fast` is set. Finished files are
//! recognised on a rerun (`skip_existing`, and always when resuming): an object at the
//! file's key with the same size and the same content (its ETag, a whole-object MD5 or a
//! multipart ETag of hoist's plan for the file) is not sent again.

mod files;
pub mod glob;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_core::checksum::etag;
use hoist_core::plan::{ObjectSize, PlanPolicy, Strategy, plan};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use files::{BatchFile, Listing, Selection, Unlisted, list};

use crate::config::{SharedLimits, UploadConfig};
use crate::engine::{HttpClient, Uploader};
use crate::error::{Advice, Error, ErrorKind};
use crate::finish::UploadOutcome;
use crate::progress::{Progress, ProgressFn};
use crate::source::Source;
use crate::transport::Transport;

/// The bounds of a batch.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Requests to the store in flight across the batch.
    pub connections: usize,
    /// Part buffers across the batch, in bytes. The default, 256 MiB, is a part of the
    /// default size (8 MiB) for each of the default 32 connections: twice that sent no faster
    /// (`bench/README.md`, "Batch memory").
    pub memory: u64,
    /// Parts of one multipart file sent at once (at most `connections`).
    pub per_file: usize,
    /// Do not send a file whose object is already stored with the same size and content.
    pub skip_existing: bool,
    /// Stop at the first failed file (the files in flight are interrupted and kept
    /// resumable).
    pub fail_fast: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            connections: 32,
            memory: 256 * 1024 * 1024,
            per_file: 8,
            skip_existing: false,
            fail_fast: false,
        }
    }
}

/// An object already at a key: its size and ETag, as a listing shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub etag: String,
}

/// What happened to one file of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchEvent<'a> {
    Started {
        file: &'a BatchFile,
        key: &'a str,
    },
    Done {
        file: &'a BatchFile,
        outcome: &'a UploadOutcome,
    },
    Skipped {
        file: &'a BatchFile,
        key: &'a str,
        reason: &'a str,
    },
    Failed {
        failure: &'a FileFailure,
    },
    /// An event of one file's upload that the caller may show (a retry, a failover).
    Progress {
        file: &'a BatchFile,
        progress: &'a Progress,
    },
}

/// A callback for batch events, called from many tasks.
pub type BatchEventFn = Arc<dyn Fn(&BatchEvent<'_>) + Send + Sync>;

/// A file that did not upload.
#[derive(Debug, Clone)]
pub struct FileFailure {
    pub path: PathBuf,
    /// The key it was going to (empty when it was never listed).
    pub key: String,
    pub kind: ErrorKind,
    pub message: String,
    pub advice: Advice,
}

impl Unlisted {
    /// The failure this counts as in a batch's summary.
    pub fn failure(&self) -> FileFailure {
        FileFailure {
            path: self.path.clone(),
            key: String::new(),
            kind: ErrorKind::Usage,
            message: format!("{}: {}", self.path.display(), self.reason),
            advice: Advice::next(
                "check that the path is a readable regular file, or leave it out with --exclude",
            ),
        }
    }
}

/// The end of a batch.
#[derive(Debug, Clone, Default)]
pub struct BatchSummary {
    pub files: usize,
    pub uploaded: usize,
    pub skipped: usize,
    pub failed: Vec<FileFailure>,
    /// Files neither done nor failed: the batch was cancelled, or stopped by `fail_fast`.
    pub interrupted: usize,
    /// Bytes of the files uploaded (resumed parts included).
    pub bytes_uploaded: u64,
    /// Bytes of the files skipped.
    pub bytes_skipped: u64,
    /// Multipart files that continued an interrupted upload.
    pub resumed: usize,
    pub elapsed: Duration,
}

/// The state of a batch as it runs, for a progress bar.
#[derive(Debug, Default)]
pub struct BatchStatus {
    pub files_total: AtomicUsize,
    pub files_done: AtomicUsize,
    pub files_failed: AtomicUsize,
    pub bytes_total: AtomicU64,
    /// Bytes stored (skipped and resumed ones included).
    pub bytes_done: AtomicU64,
    /// Bytes sent by this run.
    pub bytes_sent: AtomicU64,
    /// Files being sent: relative path → (size, bytes stored).
    pub active: Mutex<BTreeMap<String, (u64, u64)>>,
}

/// Runs a batch: `files` go to the keys `key_of` names, each through the transport `make`
/// builds for it; `uploads` is the single-file engine's settings (its concurrency, limits
/// and resume flag are set per file here). `stored` lists the objects already at the
/// destination, when `skip_existing` or resuming needs them.
#[allow(clippy::too_many_arguments)]
pub async fn run<T, K, M>(
    files: Vec<BatchFile>,
    key_of: K,
    make: M,
    http: HttpClient,
    uploads: UploadConfig,
    batch: BatchConfig,
    stored: HashMap<String, Stored>,
    status: Arc<BatchStatus>,
    on_event: BatchEventFn,
    cancel: CancellationToken,
) -> BatchSummary
where
    T: Transport,
    K: Fn(&BatchFile) -> String + Send + Sync + 'static,
    M: Fn(&BatchFile, &str) -> crate::error::Result<T> + Send + Sync + 'static,
{
    let started = Instant::now();
    let connections = batch.connections.max(1);
    let limits = SharedLimits::new(connections);
    let budget_kib = u32::try_from(batch.memory.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let memory = Arc::new(Semaphore::new(budget_kib as usize));
    let policy = match uploads.part_size {
        Some(p) => PlanPolicy::default().with_part_size(p),
        None => PlanPolicy::default(),
    };
    let ctx = Arc::new(Ctx {
        key_of,
        make,
        http,
        uploads,
        limits,
        batch: batch.clone(),
        policy,
        stored,
        status: status.clone(),
        on_event,
        cancel: if batch.fail_fast {
            cancel.child_token()
        } else {
            cancel.clone()
        },
    });
    status.files_total.store(files.len(), Ordering::Relaxed);
    status
        .bytes_total
        .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    let mut summary = BatchSummary {
        files: files.len(),
        ..BatchSummary::default()
    };
    let files: Vec<Arc<BatchFile>> = files.into_iter().map(Arc::new).collect();
    // Files wait on round trips more than on connections: many in flight keep both busy,
    // and give a coordinator's gathered calls many items each.
    let max_files = (connections * 4).max(64);
    let mut pending: VecDeque<usize> = (0..files.len()).collect();
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut set: JoinSet<FileEnd> = JoinSet::new();
    loop {
        // Start what fits: files waiting for memory first (in order), then new ones.
        if !ctx.cancel.is_cancelled() {
            let mut tried = 0;
            while set.len() < max_files && tried < waiting.len().min(256) {
                let i = waiting[tried];
                match ctx.reserve(&files[i], &memory, budget_kib) {
                    Some(permit) => {
                        waiting.remove(tried);
                        set.spawn(ctx.clone().one(files[i].clone(), permit));
                    }
                    None => tried += 1,
                }
            }
            while set.len() < max_files
                && let Some(i) = pending.pop_front()
            {
                match ctx.reserve(&files[i], &memory, budget_kib) {
                    Some(permit) => {
                        set.spawn(ctx.clone().one(files[i].clone(), permit));
                    }
                    None => waiting.push_back(i),
                }
                if waiting.len() > 4096 {
                    break;
                }
            }
        }
        let Some(end) = set.join_next().await else {
            if ctx.cancel.is_cancelled() || (pending.is_empty() && waiting.is_empty()) {
                break;
            }
            continue;
        };
        match end {
            Ok(FileEnd::Uploaded { size, resumed }) => {
                summary.uploaded += 1;
                summary.bytes_uploaded += size;
                summary.resumed += usize::from(resumed);
            }
            Ok(FileEnd::Skipped { size }) => {
                summary.skipped += 1;
                summary.bytes_skipped += size;
            }
            Ok(FileEnd::Failed(f)) => {
                summary.failed.push(f);
                if batch.fail_fast {
                    ctx.cancel.cancel();
                }
            }
            Ok(FileEnd::Interrupted) => summary.interrupted += 1,
            Err(e) => {
                tracing::error!(error = %e, "a file's task ended abnormally");
                summary.interrupted += 1;
            }
        }
    }
    summary.interrupted += pending.len() + waiting.len();
    summary.elapsed = started.elapsed();
    summary
}

/// How one file ended.
enum FileEnd {
    Uploaded { size: u64, resumed: bool },
    Skipped { size: u64 },
    Failed(FileFailure),
    Interrupted,
}

struct Ctx<K, M> {
    key_of: K,
    make: M,
    http: HttpClient,
    uploads: UploadConfig,
    limits: SharedLimits,
    batch: BatchConfig,
    policy: PlanPolicy,
    stored: HashMap<String, Stored>,
    status: Arc<BatchStatus>,
    on_event: BatchEventFn,
    cancel: CancellationToken,
}

impl<T, K, M> Ctx<K, M>
where
    T: Transport,
    K: Fn(&BatchFile) -> String + Send + Sync + 'static,
    M: Fn(&BatchFile, &str) -> crate::error::Result<T> + Send + Sync + 'static,
{
    /// The part size when `file` would be sent in parts (`None`: in one PUT), as hoist
    /// plans it.
    fn part_size(&self, file: &BatchFile) -> Option<u64> {
        plan(ObjectSize::Known(file.size), &self.policy)
            .ok()
            .filter(|p| p.strategy == Strategy::Multipart)
            .map(|p| p.part_size)
    }

    /// The part buffers `file` may hold at once, reserved from the batch's memory; `None`
    /// when they do not fit now. A file larger than the whole budget takes all of it.
    fn reserve(
        &self,
        file: &BatchFile,
        memory: &Arc<Semaphore>,
        budget_kib: u32,
    ) -> Option<OwnedSemaphorePermit> {
        let bytes = match self.part_size(file) {
            Some(part) => part * self.per_file() as u64,
            None => file.size,
        };
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, budget_kib);
        memory.clone().try_acquire_many_owned(kib).ok()
    }

    fn per_file(&self) -> usize {
        self.batch.per_file.clamp(1, self.batch.connections.max(1))
    }

    async fn one(self: Arc<Self>, file: Arc<BatchFile>, _memory: OwnedSemaphorePermit) -> FileEnd {
        if self.cancel.is_cancelled() {
            return FileEnd::Interrupted;
        }
        let key = (self.key_of)(&file);
        let status = &self.status;
        if (self.batch.skip_existing || self.uploads.resume)
            && let Some(stored) = self.stored.get(&key)
            && stored.size == file.size
        {
            match self.same_content(&file, stored).await {
                Ok(true) => {
                    status.files_done.fetch_add(1, Ordering::Relaxed);
                    status.bytes_done.fetch_add(file.size, Ordering::Relaxed);
                    (self.on_event)(&BatchEvent::Skipped {
                        file: &file,
                        key: &key,
                        reason: "an object with the same size and content is stored at the key",
                    });
                    return FileEnd::Skipped { size: file.size };
                }
                Ok(false) => {}
                Err(e) => return self.failed(&file, key, e),
            }
        }
        let transport = match (self.make)(&file, &key) {
            Ok(t) => t,
            Err(e) => return self.failed(&file, key, e),
        };
        let mut config = self.uploads.clone();
        config.limits = Some(self.limits.clone());
        config.concurrency = if self.part_size(&file).is_some() {
            self.per_file()
        } else {
            1
        };
        // Each file reports its own resume only when it found one; the batch says the rest.
        config.resume_strict = false;
        let uploader = Uploader::new(transport, self.http.clone(), config);
        (self.on_event)(&BatchEvent::Started {
            file: &file,
            key: &key,
        });
        status
            .active
            .lock()
            .unwrap()
            .insert(file.relative.clone(), (file.size, 0));
        let counted = Arc::new(AtomicU64::new(0));
        let progress: ProgressFn = {
            let (me, file, counted) = (self.clone(), file.clone(), counted.clone());
            Arc::new(move |p: &Progress| me.progress(&file, &counted, p))
        };
        let result = uploader
            .upload(
                Source::File(file.path.clone()),
                Some(progress),
                self.cancel.clone(),
            )
            .await;
        status.active.lock().unwrap().remove(&file.relative);
        match result {
            Ok(outcome) => {
                // The bytes not yet counted (a file of no parts, or the last ones).
                let seen = counted.load(Ordering::Relaxed);
                status
                    .bytes_done
                    .fetch_add(outcome.size.saturating_sub(seen), Ordering::Relaxed);
                status.files_done.fetch_add(1, Ordering::Relaxed);
                (self.on_event)(&BatchEvent::Done {
                    file: &file,
                    outcome: &outcome,
                });
                FileEnd::Uploaded {
                    size: outcome.size,
                    resumed: outcome.parts_resumed > 0,
                }
            }
            Err(Error::AlreadyStored { key, .. }) => {
                status.files_done.fetch_add(1, Ordering::Relaxed);
                status.bytes_done.fetch_add(file.size, Ordering::Relaxed);
                (self.on_event)(&BatchEvent::Skipped {
                    file: &file,
                    key: &key,
                    reason: "the coordinator found an object with the same size and content at the key",
                });
                FileEnd::Skipped { size: file.size }
            }
            Err(Error::Cancelled) => FileEnd::Interrupted,
            Err(e) if self.cancel.is_cancelled() && e.kind() == ErrorKind::Network => {
                FileEnd::Interrupted
            }
            Err(e) => self.failed(&file, key, e),
        }
    }

    /// Counts a file's stored bytes, and passes on what the caller may show.
    fn progress(&self, file: &BatchFile, counted: &AtomicU64, p: &Progress) {
        let status = &self.status;
        match p {
            Progress::Started { resumed_bytes, .. } => {
                counted.fetch_add(*resumed_bytes, Ordering::Relaxed);
                status
                    .bytes_done
                    .fetch_add(*resumed_bytes, Ordering::Relaxed);
            }
            Progress::PartDone {
                bytes, done_bytes, ..
            } => {
                counted.fetch_add(*bytes, Ordering::Relaxed);
                status.bytes_done.fetch_add(*bytes, Ordering::Relaxed);
                status.bytes_sent.fetch_add(*bytes, Ordering::Relaxed);
                if let Some(a) = status.active.lock().unwrap().get_mut(&file.relative) {
                    a.1 = *done_bytes;
                }
            }
            Progress::Retrying { .. }
            | Progress::Failover { .. }
            | Progress::HookPending { .. } => {
                (self.on_event)(&BatchEvent::Progress { file, progress: p });
            }
            _ => {}
        }
    }

    fn failed(&self, file: &BatchFile, key: String, e: Error) -> FileEnd {
        let failure = FileFailure {
            path: file.path.clone(),
            key,
            kind: e.kind(),
            message: e.to_string(),
            advice: e.advice(),
        };
        self.status.files_failed.fetch_add(1, Ordering::Relaxed);
        (self.on_event)(&BatchEvent::Failed { failure: &failure });
        FileEnd::Failed(failure)
    }

    /// Whether the stored object holds `file`'s bytes: its ETag is the file's MD5, or the
    /// multipart ETag of hoist's plan for the file (what an earlier run stored).
    async fn same_content(&self, file: &BatchFile, stored: &Stored) -> crate::error::Result<bool> {
        let want = stored.etag.trim_matches('"').to_owned();
        let multipart_parts = want
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse::<u32>().ok());
        let part_size = match multipart_parts {
            Some(_) => match plan(ObjectSize::Known(file.size), &self.policy) {
                Ok(p) if p.strategy == Strategy::Multipart => Some(p.part_size),
                _ => return Ok(false),
            },
            None => None,
        };
        let path = file.path.clone();
        let read = tokio::task::spawn_blocking(move || local_etag(&path, part_size))
            .await
            .map_err(|e| Error::Config(format!("reading {}: {e}", file.path.display())))?;
        let local = read.map_err(|source| Error::Source {
            path: file.path.clone(),
            source,
        })?;
        Ok(etag::same(&local, &want))
    }
}

/// The ETag S3 gives `path`'s bytes: the MD5 of the whole, or with `part_size` the MD5 of
/// the parts' MD5s followed by `-` and the part count.
fn local_etag(path: &std::path::Path, part_size: Option<u64>) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let chunk = part_size.unwrap_or(u64::MAX);
    let mut part_md5s = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut hasher = etag::Md5Hasher::default();
        let mut left = chunk;
        let mut read_any = false;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            read_any = true;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        if !read_any && !part_md5s.is_empty() {
            break;
        }
        part_md5s.push(hasher.finish());
        if part_size.is_none() || left > 0 {
            break;
        }
    }
    Ok(match part_size {
        None => etag::of_md5(&part_md5s[0]),
        Some(_) => etag::multipart(&part_md5s),
    })
}
