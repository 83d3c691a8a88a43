//! Finishing: completing a multipart upload, then checking the stored object's size and
//! checksum against what was sent, then, while a coordinator says the application was not
//! yet told of the upload, completing again a bounded number of times.

use std::sync::Mutex;
use std::time::Duration;

use hoist_core::checksum::ChecksumAlgorithm;
use hoist_core::s3::{CompletedPart, SentPart, check_parts};
use hoist_s3::with_retries;
use tokio_util::sync::CancellationToken;

use crate::checksum::{checksums_agree, object_checksum};
use crate::error::{Error, ErrorKind, Result, log_retry};
use crate::landed::{Sent, is_ours};
use crate::progress::Progress;
use crate::stage::{Emit, Run, Stage};
use crate::transport::{ObjectInfo, Session, Transport};

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
    /// Whether the coordinator's application still has not been told of the upload
    /// (`upload.completed` undelivered after every repeated Complete): `Some(true)`; told:
    /// `Some(false)`; `None` without a coordinator that sends events. The object is stored
    /// either way.
    pub hook_pending: Option<bool>,
}

/// Completes (multipart), then checks the stored object's size and checksum, then completes
/// again while the application's event is pending.
pub(crate) async fn finish<T: Transport>(
    stage: &Stage<T>,
    session: &Session,
    run: &Mutex<Run>,
    total: Option<u64>,
    emit: &Emit,
) -> Result<UploadOutcome> {
    let alg = stage.config.checksum;
    let never = CancellationToken::new();
    let (parts, sent_parts, sums, size, sent, echoed) = {
        let r = run.lock().unwrap();
        let parts: Vec<CompletedPart> = r
            .parts
            .iter()
            .map(|(n, (etag, _, sum))| {
                let part = CompletedPart::new(*n, etag.clone());
                match sum {
                    Some(s) => part.with_checksum(s.checksum.algorithm(), s.checksum.to_base64()),
                    None => part,
                }
            })
            .collect();
        let sent_parts: Vec<SentPart> = r
            .parts
            .iter()
            .map(|(n, (_, size, sum))| SentPart {
                number: *n,
                size: *size,
                checksum: sum.map(|s| (s.checksum.algorithm(), s.checksum.to_base64())),
            })
            .collect();
        let sums: Option<Vec<_>> = r.parts.values().map(|(_, _, s)| *s).collect();
        let size: u64 = r.parts.values().map(|(_, s, _)| *s).sum();
        (parts, sent_parts, sums, size, r.sent, r.echoed.clone())
    };
    let size = total.unwrap_or(size);
    let expected = sums.and_then(|s| object_checksum(&s, session.multipart()));
    let info = if session.multipart() {
        let mut tries = 0;
        let done = with_retries(&stage.config.retry, &never, log_retry, |_| {
            tries += 1;
            stage
                .transport
                .complete(session, &parts, alg, expected.as_deref())
        })
        .await
        .map_err(Error::from);
        match done {
            Ok(info) => info,
            // A retried Complete whose first try succeeded but whose answer was lost finds
            // the upload gone; the object check below decides whether it really is done.
            Err(e) if e.status() == Some(404) && tries > 1 => ObjectInfo::default(),
            // A retried no-clobber Complete may be refused by the object its first try made.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && tries > 1 => {
                let sent = Sent::multipart(
                    total.unwrap_or(size),
                    expected.clone(),
                    parts.iter().map(|p| p.etag.as_str()),
                );
                completed_before(stage, session, &sent, e).await?
            }
            Err(e) => return Err(e),
        }
    } else {
        let etag = parts.first().map(|p| p.etag.clone()).unwrap_or_default();
        ObjectInfo {
            etag,
            size: Some(size),
            ..ObjectInfo::default()
        }
    };
    // The parts first: a mismatch there says which part the object lacks or holds wrong.
    if session.multipart() {
        verify_parts(stage, session, &sent_parts).await?;
    }
    // A single PUT's answer that echoed the checksum sent is the store's word on the bytes
    // it kept (the signed content-length fixed their number): reading the object back adds
    // nothing, unless the transport confirms the PUT to its coordinator.
    let echoed = echoed.filter(|e| {
        !session.multipart()
            && !stage.transport.confirms_single_put()
            && expected.as_deref() == Some(e.as_str())
    });
    let head = if echoed.is_some() {
        Ok(None)
    } else {
        with_retries(&stage.config.retry, &never, log_retry, |_| {
            stage.transport.head(session, alg)
        })
        .await
        .map_err(Error::from)
    };
    let head = match head {
        Ok(h) => h,
        // Write-only credentials may not read the object back: the Complete answer (and
        // the store's per-part checks) is then all there is.
        Err(e) if e.kind() == ErrorKind::Auth && !info.etag.is_empty() => {
            tracing::warn!(error = %e, "cannot read the object back to check it");
            None
        }
        Err(e) => return Err(e),
    };
    let stored_size = head.as_ref().and_then(|h| h.size).or(info.size);
    let stored_sum = head
        .as_ref()
        .and_then(|h| h.checksum.clone())
        .or(info.checksum.clone())
        .or(echoed);
    let etag = head
        .as_ref()
        .map(|h| h.etag.clone())
        .filter(|e| !e.is_empty())
        .unwrap_or(info.etag);
    if let Some(s) = stored_size.filter(|s| *s != size) {
        return Err(Error::Integrity(format!(
            "the store holds {s} bytes, {size} were sent"
        )));
    }
    if stored_size.is_none() && head.is_none() && etag.is_empty() {
        return Err(Error::Integrity(
            "the store did not confirm the object".into(),
        ));
    }
    if let (Some(want), Some(got)) = (&expected, &stored_sum)
        && !checksums_agree(want, got)
    {
        return Err(Error::Integrity(format!(
            "the store's checksum {got} differs from the data's {want}"
        )));
    }
    if alg.is_some() && stored_sum.is_none() {
        tracing::warn!("the store did not report the object's checksum; only its size was checked");
    }
    // A single PUT's Complete is the coordinator's confirmation, read with the head.
    let pending = info
        .hook_pending
        .or(head.as_ref().and_then(|h| h.hook_pending));
    let again = Again {
        stage,
        session,
        parts: &parts,
        alg,
        expected: expected.as_deref(),
    };
    let hook_pending = again.while_pending(pending, emit).await;
    Ok(UploadOutcome {
        bucket: session.bucket.clone(),
        key: session.key.clone(),
        etag,
        size,
        checksum: stored_sum.filter(|_| expected.is_some()),
        multipart: session.multipart(),
        parts_sent: sent,
        parts_resumed: 0,
        elapsed: Duration::ZERO,
        hook_pending,
    })
}

/// A no-clobber Complete refused on a retry: the object at the key is this upload's when it is
/// what the parts make (an earlier try completed it, its answer lost). Otherwise, or when the
/// transport cannot read the object, `refused` stands.
async fn completed_before<T: Transport>(
    stage: &Stage<T>,
    session: &Session,
    sent: &Sent,
    refused: Error,
) -> Result<ObjectInfo> {
    let algorithm = stage.config.checksum;
    let stored = match stage.transport.head(session, algorithm).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(refused),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the object a retried Complete was refused by");
            return Err(refused);
        }
    };
    match is_ours(&stored, sent) {
        Ok(()) => {
            tracing::info!(
                "a retried no-clobber Complete was refused by the object an earlier try made"
            );
            Ok(stored)
        }
        Err(why) => Err(Error::AlreadyExists(format!(
            "{refused}; the object there is not this upload's: {why}"
        ))),
    }
}

/// What a repeated Complete sends: the same as the first.
struct Again<'a, T> {
    stage: &'a Stage<T>,
    session: &'a Session,
    parts: &'a [CompletedPart],
    alg: Option<ChecksumAlgorithm>,
    expected: Option<&'a str>,
}

impl<T: Transport> Again<'_, T> {
    /// Completes again, [`HookRetry`](crate::HookRetry)'s waits apart, while the answer says
    /// the application's event is pending (`pending` is what the first Complete said);
    /// whether it still is at the end. A repeat that fails counts as still pending: the
    /// object is stored, so no failure here fails the upload.
    async fn while_pending(&self, mut pending: Option<bool>, emit: &Emit) -> Option<bool> {
        let policy = self.stage.config.hook_retry;
        let mut completes = 1;
        while pending == Some(true) {
            let wait = policy.wait(completes);
            emit(Progress::HookPending {
                completes,
                delay_ms: wait.map(|w| w.as_millis() as u64),
            });
            let Some(wait) = wait else {
                tracing::warn!(
                    completes,
                    "the coordinator could not tell the application of the upload"
                );
                break;
            };
            tokio::time::sleep(wait).await;
            completes += 1;
            pending = match self.complete().await {
                // A coordinator that no longer says has not said it was delivered.
                Ok(said) => Some(said.unwrap_or(true)),
                Err(e) => {
                    tracing::warn!(error = %e, "repeating Complete for the application's event failed");
                    Some(true)
                }
            };
        }
        pending
    }

    /// One repeated Complete (a single PUT's is the coordinator's confirmation, `head`);
    /// what it said of the event.
    async fn complete(&self) -> Result<Option<bool>> {
        let t = &self.stage.transport;
        if self.session.multipart() {
            let info = t
                .complete(self.session, self.parts, self.alg, self.expected)
                .await?;
            Ok(info.hook_pending)
        } else {
            let head = t.head(self.session, self.alg).await?;
            Ok(head.and_then(|h| h.hook_pending))
        }
    }
}

/// Compares the parts of the finished object, as GetObjectAttributes lists them, with the
/// parts sent (count, sizes, checksums). A store without the call, or an answer that cannot
/// be had, leaves the check to the size and checksum above.
async fn verify_parts<T: Transport>(
    stage: &Stage<T>,
    session: &Session,
    sent: &[SentPart],
) -> Result<()> {
    match stage.transport.attributes(session).await {
        Ok(Some(attrs)) => check_parts(sent, attrs.parts_count, &attrs.parts)
            .map_err(|why| Error::Integrity(format!("GetObjectAttributes: {why}"))),
        Ok(None) => {
            tracing::debug!("no GetObjectAttributes from this store; parts not checked");
            Ok(())
        }
        Err(e) => {
            tracing::debug!(error = %e, "GetObjectAttributes failed; parts not checked");
            Ok(())
        }
    }
}
