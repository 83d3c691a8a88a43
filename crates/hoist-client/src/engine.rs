//! The upload engine: prepares, sends parts in parallel with retries, completes and checks
//! the result, or leaves a failed upload resumable or aborted. Each stage is its own module
//! (`prepare`, `pipeline`, `finish`); this one runs them in turn.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_s3::{Http, RetryPolicy, with_retries};
use tokio_util::sync::CancellationToken;

use crate::config::UploadConfig;
use crate::error::{Error, ErrorKind, Result, log_retry};
use crate::finish::{UploadOutcome, finish};
use crate::pipeline::transfer;
use crate::prepare::{self, Prepared};
use crate::progress::{Progress, ProgressFn};
use crate::resend::send_again;
use crate::source::Source;
use crate::stage::{Emit, Run, Stage};
use crate::transport::{Session, Transport};

/// Uploads sources through a [`Transport`].
#[derive(Debug)]
pub struct Uploader<T> {
    stage: Stage<T>,
}

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
        .connect_timeout(Duration::from_secs(10));
    let client = hoist_s3::http::trust_extra(client, &[])?
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    Ok(Http::from_client(client))
}

impl<T: Transport> Uploader<T> {
    /// An uploader sending through `transport` with `http`.
    pub fn new(transport: T, http: Http, config: UploadConfig) -> Self {
        Uploader {
            stage: Stage {
                transport: Arc::new(transport),
                http,
                config,
            },
        }
    }

    /// The transport, for callers that need it after the upload (tests, listing).
    pub fn transport(&self) -> &T {
        &self.stage.transport
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
        let stage = &self.stage;
        if let Some(f) = &progress {
            stage.transport.listen(f.clone());
        }
        let emit: Emit = Arc::new(move |p: Progress| {
            if let Some(f) = &progress {
                f(&p)
            }
        });
        let Prepared {
            feed,
            session,
            resumed,
            journal,
            total,
            reread,
            unconfirmed,
        } = match source {
            Source::File(path) => prepare::file(stage, path, &emit, &cancel).await?,
            Source::Stream(reader) => prepare::stream(stage, reader, &cancel).await?,
        };
        let parts_resumed = resumed.len() as u32;
        let run = Run::new(resumed, journal, stage.config.state_dir.clone());
        emit(Progress::Started {
            total_bytes: total,
            part_size: session.plan.part_size,
            part_count: session.plan.part_count,
            multipart: session.multipart(),
            resumed_parts: parts_resumed,
            resumed_bytes: run.done_bytes,
        });
        let run = Arc::new(Mutex::new(run));
        run.lock().unwrap().flush();

        let all_stored = |expected: u64| {
            let have = run.lock().unwrap().stored_bytes();
            if have != expected {
                return Err(Error::Integrity(format!(
                    "{have} bytes stored in parts, {expected} expected"
                )));
            }
            Ok(())
        };
        let result = transfer(stage, feed, &session, &run, emit.clone(), &cancel)
            .await
            .and_then(|fed| all_stored(total.unwrap_or(fed.total)));
        let result = match result {
            Ok(()) => finish(stage, &session, &run, total, &emit).await,
            Err(e) => Err(e),
        };
        // A Complete refusing parts the store listed: a file's parts are sent again, once.
        let result = match (result, &reread, total) {
            (Err(e), Some(source), Some(size)) if session.multipart() && e.refuses_a_part() => {
                let again = send_again(
                    stage,
                    &session,
                    &run,
                    source,
                    &unconfirmed,
                    e,
                    &emit,
                    &cancel,
                )
                .await
                .and_then(|()| all_stored(size));
                match again {
                    Ok(()) => finish(stage, &session, &run, total, &emit).await,
                    Err(e) => Err(e),
                }
            }
            (result, ..) => result,
        };
        match result {
            Ok(mut outcome) => {
                run.lock().unwrap().forget();
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
        let stage = &self.stage;
        if resumable || stage.config.keep_partial {
            run.lock().unwrap().flush();
            return;
        }
        let never = CancellationToken::new();
        let policy = RetryPolicy {
            max_attempts: 3,
            ..stage.config.retry.clone()
        };
        let _ = with_retries(&policy, &never, log_retry, |_| {
            stage.transport.abort(session)
        })
        .await;
        run.lock().unwrap().forget();
    }
}
