//! Sending: a producer fills part buffers, `concurrency` workers send them with retries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_s3::{Http, RetryPolicy, RetryStep, Verdict, with_retries};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};
use crate::landed::{Sent, is_ours};
use crate::progress::Progress;
use crate::source::{Fed, Feed, Job, produce};
use crate::stage::{Emit, Run, Stage};
use crate::transport::{PartSpec, Session, Transport};

/// A part is signed again this many times at least (a control call as often as the policy
/// says): each of a long upload's parts may meet an expired URL, a moved clock or rotated
/// credentials.
const PART_RESIGNS: u32 = 5;

/// What every worker shares.
struct Ctx<T> {
    transport: Arc<T>,
    http: Http,
    session: Session,
    run: Arc<Mutex<Run>>,
    emit: Emit,
    cancel: CancellationToken,
    retry: RetryPolicy,
    /// Connections shared with other uploads, when there are any.
    limits: Option<crate::config::SharedLimits>,
}

/// Sends every part of `feed`; returns what the producer read.
pub(crate) async fn transfer<T: Transport>(
    stage: &Stage<T>,
    feed: Feed,
    session: &Session,
    run: &Arc<Mutex<Run>>,
    emit: Emit,
    cancel: &CancellationToken,
) -> Result<Fed> {
    let n = stage.config.concurrency.max(1);
    // The pool holds one buffer per worker: that bounds memory to n × part size.
    let (pool_tx, mut pool_rx) = mpsc::channel::<Vec<u8>>(n);
    for _ in 0..n {
        let _ = pool_tx.try_send(Vec::new());
    }
    let (job_tx, job_rx) = mpsc::channel::<Job>(1);
    let inner = cancel.child_token();
    let alg = stage.config.checksum;
    let producer_cancel = inner.clone();
    let producer = tokio::task::spawn_blocking(move || {
        produce(feed, alg, &mut pool_rx, &job_tx, &producer_cancel)
    });
    let ctx = Arc::new(Ctx {
        transport: stage.transport.clone(),
        http: stage.http.clone(),
        session: session.clone(),
        run: run.clone(),
        emit,
        cancel: inner.clone(),
        retry: RetryPolicy {
            max_resigns: stage.config.retry.max_resigns.max(PART_RESIGNS),
            ..stage.config.retry.clone()
        },
        limits: stage.config.limits.clone(),
    });
    let jobs = Arc::new(tokio::sync::Mutex::new(job_rx));
    let workers: Vec<_> = (0..n)
        .map(|_| tokio::spawn(worker(ctx.clone(), jobs.clone(), pool_tx.clone())))
        .collect();
    drop((pool_tx, jobs));
    for w in workers {
        let _ = w.await;
    }
    if let Some(e) = run.lock().unwrap().error.take() {
        return Err(e);
    }
    if cancel.is_cancelled() {
        // The producer may be blocked reading a stream; it ends on its own.
        return Err(Error::Cancelled);
    }
    producer
        .await
        .map_err(|e| Error::Config(format!("reader thread: {e}")))?
}

async fn worker<T: Transport>(
    ctx: Arc<Ctx<T>>,
    jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    pool: mpsc::Sender<Vec<u8>>,
) {
    loop {
        let job = {
            let mut rx = jobs.lock().await;
            tokio::select! {
                _ = ctx.cancel.cancelled() => None,
                j = rx.recv() => j,
            }
        };
        let Some(job) = job else { break };
        let connection = match &ctx.limits {
            Some(l) => tokio::select! {
                _ = ctx.cancel.cancelled() => break,
                permit = l.connections.acquire() => permit.ok(),
            },
            None => None,
        };
        let sent = send_part(&ctx, &job).await;
        drop(connection);
        match sent {
            Ok(etag) => {
                let len = job.data.len() as u64;
                let done_bytes = {
                    let mut r = ctx.run.lock().unwrap();
                    r.sent += 1;
                    r.record(job.number, etag, len, job.checksum);
                    r.done_bytes
                };
                (ctx.emit)(Progress::PartDone {
                    number: job.number,
                    bytes: len,
                    done_bytes,
                });
                // Reuse the buffer when the HTTP client has let go of it; otherwise the
                // producer allocates a new one (the pool size still bounds memory).
                let buf = job.data.try_into_mut().map(Vec::from).unwrap_or_default();
                let _ = pool.try_send(buf);
            }
            Err(e) => {
                let mut r = ctx.run.lock().unwrap();
                if r.error.is_none() && !matches!(e, Error::Cancelled) {
                    r.error = Some(e);
                }
                drop(r);
                ctx.cancel.cancel();
                break;
            }
        }
    }
}

/// A part's time budget: generous, since a slow link may need minutes for a large part,
/// but finite so a stalled connection is retried.
fn part_timeout(len: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_secs(len / (128 * 1024))
}

async fn send_part<T: Transport>(ctx: &Ctx<T>, job: &Job) -> Result<String> {
    let spec = PartSpec {
        number: job.number,
        len: job.data.len() as u64,
        checksum: job.checksum.map(|c| c.checksum),
    };
    let mut resigns = 0;
    let report = |err: &Error, step: RetryStep| {
        let progress = if step.verdict == Verdict::Resign {
            // Sent again at once with a fresh signature; reported like any retry, so a store
            // whose clock jumps or credentials that expire show in the progress.
            resigns += 1;
            let reason = format!("signing again: {err}");
            Progress::retrying(job.number, resigns, Duration::ZERO, reason)
        } else {
            Progress::retrying(job.number, step.attempt, step.delay, err.to_string())
        };
        (ctx.emit)(progress);
    };
    // Whether the attempt that ended the loop followed one that failed without an answer (or
    // with a 5xx): that one may have landed.
    let retried = AtomicBool::new(false);
    let sent = with_retries(&ctx.retry, &ctx.cancel, report, |attempt| {
        retried.store(attempt.number > 1, Ordering::Relaxed);
        try_part(ctx, job, &spec, attempt.resign)
    })
    .await
    .map_err(Error::from);
    match sent {
        Err(e)
            if e.kind() == ErrorKind::AlreadyExists
                && retried.load(Ordering::Relaxed)
                && !ctx.session.multipart() =>
        {
            landed_before(ctx, job, &spec, e).await
        }
        sent => sent,
    }
}

/// A no-clobber single PUT refused on a retry: the object at the key is this upload's when it
/// is the body sent (an earlier attempt landed, its answer lost); its ETag is then the
/// answer. Otherwise another writer's object is there, and `refused` stands.
async fn landed_before<T: Transport>(
    ctx: &Ctx<T>,
    job: &Job,
    spec: &PartSpec,
    refused: Error,
) -> Result<String> {
    let algorithm = spec.checksum.as_ref().map(|c| c.algorithm());
    let stored = match ctx.transport.head(&ctx.session, algorithm).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(refused),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the object a retried PUT was refused by");
            return Err(refused);
        }
    };
    let sent = Sent::single(&job.data, spec.checksum.as_ref().map(|c| c.to_base64()));
    match is_ours(&stored, &sent) {
        Ok(()) => {
            tracing::info!(
                "a retried no-clobber PUT was refused by the object an earlier attempt stored"
            );
            Ok(stored.etag)
        }
        Err(why) => Err(Error::AlreadyExists(format!(
            "{refused}; the object there is not this upload's: {why}"
        ))),
    }
}

async fn try_part<T: Transport>(
    ctx: &Ctx<T>,
    job: &Job,
    spec: &PartSpec,
    fresh: bool,
) -> Result<String> {
    let req = ctx.transport.sign_part(&ctx.session, spec, fresh).await?;
    let op = if ctx.session.multipart() {
        "UploadPart"
    } else {
        "PutObject"
    };
    let rb = ctx
        .http
        .request(op, &req.method, &req.url, &req.headers)?
        .body(job.data.clone())
        .timeout(part_timeout(spec.len));
    let answer = ctx.http.send(op, rb).await?;
    // Refusals carry the store's Date too: a skewed clock is learnt from the very answer
    // that complains of it, so the part signed again is accepted.
    ctx.transport.observe(&answer);
    let answer = answer.into_result(op)?;
    if let Some(sent) = &spec.checksum
        && let Some(echoed) = answer
            .header(sent.algorithm().header())
            .filter(|e| *e != sent.to_base64())
    {
        return Err(Error::Integrity(format!(
            "part {}: store computed {echoed}, sent {}",
            spec.number,
            sent.to_base64()
        )));
    }
    if let Some(sent) = &spec.checksum
        && !ctx.session.multipart()
        && answer.header(sent.algorithm().header()) == Some(sent.to_base64().as_str())
    {
        ctx.run.lock().unwrap().echoed = Some(sent.to_base64());
    }
    let etag = answer.header("etag").ok_or_else(|| {
        hoist_s3::Error::unexpected(op, format!("part {} answered without an ETag", spec.number))
    })?;
    Ok(etag.to_owned())
}
