//! The upload engine: plans, reads, sends parts in parallel with retries, records progress
//! in the journal, completes and checks the result.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_core::checksum::{ChecksumAlgorithm, PartChecksum};
use hoist_s3::{Http, RetryPolicy, with_retries};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result, log_retry};
use crate::journal::{Journal, JournalPart};
use crate::prepare::Prepared;
use crate::progress::{Progress, ProgressFn};
use crate::source::Source;
use crate::transport::{Session, Transport};

/// Settings of one upload; every default is written here once.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Parts in flight at once (and part buffers in memory).
    pub concurrency: usize,
    /// Overrides the planner's part size.
    pub part_size: Option<u64>,
    /// The checksum every part carries and the object is checked with; `None` for none.
    pub checksum: Option<ChecksumAlgorithm>,
    pub retry: RetryPolicy,
    /// Where resume journals live; `None` disables journaling.
    pub state_dir: Option<PathBuf>,
    /// Continue the journaled upload of the same source and destination, if any.
    pub resume: bool,
    /// Leave a failed multipart upload in place instead of aborting it.
    pub keep_partial: bool,
    pub content_type: Option<String>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            concurrency: 8,
            part_size: None,
            checksum: Some(ChecksumAlgorithm::Crc64Nvme),
            retry: RetryPolicy::default(),
            state_dir: crate::journal::default_state_dir(),
            resume: false,
            keep_partial: false,
            content_type: None,
        }
    }
}

/// What a finished upload produced.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// The object's checksum as the store confirmed it, if the algorithm is not `none`.
    pub checksum: Option<String>,
    pub multipart: bool,
    /// Parts sent by this run (a single PUT counts as one).
    pub parts_sent: u32,
    /// Parts found already stored when resuming.
    pub parts_resumed: u32,
    pub elapsed: Duration,
}

/// Uploads sources through a [`Transport`].
#[derive(Debug)]
pub struct Uploader<T> {
    pub(crate) transport: Arc<T>,
    pub(crate) http: Http,
    pub(crate) config: UploadConfig,
}

/// The engine's internal progress sink.
pub(crate) type Emit = Arc<dyn Fn(Progress) + Send + Sync>;

/// The HTTP client the engine and transports share.
pub type HttpClient = Http;

/// An HTTP client tuned for bulk uploads: HTTP/1.1 with kept-alive connections (one per
/// worker), Nagle off so the end of each request leaves at once, and a bounded connect time.
pub fn http_client(concurrency: usize) -> Result<Http> {
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency.max(1) * 2)
        .pool_idle_timeout(Duration::from_secs(50))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    Ok(Http::from_client(client))
}

/// Shared state of one run.
pub(crate) struct Run {
    pub(crate) parts: BTreeMap<u32, (String, u64, Option<PartChecksum>)>,
    pub(crate) journal: Option<Journal>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) last_flush: Instant,
    pub(crate) done_bytes: u64,
    pub(crate) sent: u32,
    pub(crate) error: Option<Error>,
}

impl Run {
    /// Records a stored part; the journal is flushed at most every 200 ms so thousands of
    /// small parts do not rewrite it thousands of times (ListParts covers the gap on resume).
    pub(crate) fn record(
        &mut self,
        number: u32,
        etag: String,
        size: u64,
        sum: Option<PartChecksum>,
    ) {
        if let Some(j) = &mut self.journal {
            j.parts.insert(
                number,
                JournalPart {
                    etag: etag.clone(),
                    size,
                    checksum: sum.map(|s| s.checksum.to_base64()),
                },
            );
        }
        self.parts.insert(number, (etag, size, sum));
        self.done_bytes += size;
        if self.last_flush.elapsed() > Duration::from_millis(200) {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if let (Some(j), Some(dir)) = (&self.journal, &self.state_dir) {
            if let Err(e) = j.save(dir) {
                tracing::warn!(error = %e, "cannot write the resume journal");
            }
            self.last_flush = Instant::now();
        }
    }
}

impl<T: Transport> Uploader<T> {
    /// An uploader sending through `transport` with `http`.
    pub fn new(transport: T, http: Http, config: UploadConfig) -> Self {
        Uploader {
            transport: Arc::new(transport),
            http,
            config,
        }
    }

    /// The transport, for callers that need it after the upload (tests, listing).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Uploads `source`, reporting to `progress`, until done, failed or `cancel` fires.
    ///
    /// On cancellation or exhausted network retries the multipart upload is left in place
    /// with its journal, so a later run with `resume` continues it. On any other failure it
    /// is aborted unless `keep_partial` is set.
    pub async fn upload(
        &self,
        source: Source,
        progress: Option<ProgressFn>,
        cancel: CancellationToken,
    ) -> Result<UploadOutcome> {
        let started = Instant::now();
        let emit: Emit = Arc::new(move |p: Progress| {
            if let Some(f) = &progress {
                f(&p)
            }
        });
        let alg = self.config.checksum;
        let Prepared {
            feed,
            session,
            resumed,
            journal,
            total,
        } = match source {
            Source::File(path) => self.prepare_file(path, &cancel).await?,
            Source::Stream(reader) => self.prepare_stream(reader, &cancel).await?,
        };
        let resumed_bytes: u64 = resumed.values().map(|(_, s, _)| *s).sum();
        emit(Progress::Started {
            total_bytes: total,
            part_size: session.plan.part_size,
            part_count: session.plan.part_count,
            multipart: session.multipart(),
            resumed_parts: resumed.len() as u32,
            resumed_bytes,
        });
        let parts_resumed = resumed.len() as u32;
        let run = Arc::new(Mutex::new(Run {
            parts: resumed,
            journal,
            state_dir: self.config.state_dir.clone(),
            last_flush: Instant::now() - Duration::from_secs(1),
            done_bytes: resumed_bytes,
            sent: 0,
            error: None,
        }));
        run.lock().unwrap().flush();

        let result = self
            .transfer(feed, &session, &run, emit.clone(), &cancel)
            .await
            .and_then(|fed| {
                let r = run.lock().unwrap();
                let expected = total.unwrap_or(fed.total);
                let have: u64 = r.parts.values().map(|(_, s, _)| *s).sum();
                if have != expected {
                    return Err(Error::Integrity(format!(
                        "{have} bytes stored in parts, {expected} expected"
                    )));
                }
                Ok(())
            });
        let result = match result {
            Ok(()) => self.finish(&session, &run, alg, total).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(mut outcome) => {
                if let (Some(dir), Some(j)) = (&self.config.state_dir, &run.lock().unwrap().journal)
                {
                    let _ = Journal::remove(dir, &j.key);
                }
                outcome.parts_resumed = parts_resumed;
                outcome.elapsed = started.elapsed();
                emit(Progress::Completed {
                    bytes: outcome.size,
                    etag: outcome.etag.clone(),
                    checksum: outcome.checksum.clone(),
                    elapsed_ms: outcome.elapsed.as_millis() as u64,
                });
                Ok(outcome)
            }
            Err(e) => {
                self.fail(&session, &run, &e).await;
                Err(e)
            }
        }
    }

    /// Keeps a resumable upload resumable; aborts the rest (unless asked not to).
    async fn fail(&self, session: &Session, run: &Mutex<Run>, e: &Error) {
        let resumable = matches!(
            e.kind(),
            ErrorKind::Cancelled | ErrorKind::Network | ErrorKind::Io
        );
        if !session.multipart() {
            return;
        }
        if resumable || self.config.keep_partial {
            run.lock().unwrap().flush();
            return;
        }
        let never = CancellationToken::new();
        let policy = RetryPolicy {
            max_attempts: 3,
            ..self.config.retry.clone()
        };
        let _ = with_retries(&policy, &never, log_retry, |_| {
            self.transport.abort(session)
        })
        .await;
        let r = run.lock().unwrap();
        if let (Some(dir), Some(j)) = (&self.config.state_dir, &r.journal) {
            let _ = Journal::remove(dir, &j.key);
        }
    }
}
