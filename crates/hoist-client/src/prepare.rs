//! Getting ready to send: opening the source, resuming from the journal (checked against
//! ListParts) or creating a new upload.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::checksum::{Checksum, ChecksumAlgorithm, PartChecksum, etag};
use hoist_core::plan::Part;
use hoist_s3::with_retries;
use tokio_util::sync::CancellationToken;

use crate::checksum::checksum_name;
use crate::error::{Error, Result, log_retry};
use crate::journal::{Journal, JournalKey, JournalPart, fingerprint};
use crate::progress::Progress;
use crate::source::{Feed, read_full};
use crate::stage::{Emit, Stage, Stored};
use crate::transport::{CreateOptions, Session, StoredPart, Transport, UnlessStored, planned};

/// Everything the engine needs to start sending.
pub(crate) struct Prepared {
    pub feed: Feed,
    pub session: Session,
    pub resumed: Stored,
    pub journal: Option<Journal>,
    /// The source's size, when known in advance.
    pub total: Option<u64>,
    /// The file, read again when a Complete refuses parts the store listed ([`crate::resend`]).
    pub reread: Option<Reread>,
    /// Parts taken over from the store's listing whose answer no journal recorded: stored by
    /// a run that was killed, they may be ones the store never finished committing.
    pub unconfirmed: BTreeSet<u32>,
}

/// A file's handle and path, to read its parts again.
pub(crate) struct Reread {
    pub file: Arc<File>,
    pub path: PathBuf,
}

/// The upload a journal records, its plan made again from the file's size and the part
/// size; `None` when the journal names no plan of that file.
fn journaled(journal: &Journal) -> Option<Session> {
    let plan = planned(journal.key.size, journal.part_size, true)
        .filter(|p| p.part_count == Some(journal.part_count))?;
    Some(Session {
        upload_id: journal.upload_id.clone(),
        bucket: journal.bucket.clone(),
        key: journal.object_key.clone(),
        plan,
    })
}

/// Opens a file and resumes its journaled upload, or starts a new one.
pub(crate) async fn file<T: Transport>(
    stage: &Stage<T>,
    path: PathBuf,
    emit: &Emit,
    cancel: &CancellationToken,
) -> Result<Prepared> {
    let source_err = |source| Error::Source {
        path: path.clone(),
        source,
    };
    let file = File::open(&path).map_err(source_err)?;
    let meta = file.metadata().map_err(source_err)?;
    if !meta.is_file() {
        return Err(Error::Config(format!(
            "{} is not a regular file (use - to read a stream from standard input)",
            path.display()
        )));
    }
    let size = meta.len();
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let file = Arc::new(file);
    let fingerprint = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || fingerprint(&file, size))
            .await
            .map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?
            .map_err(source_err)?
    };
    let key = JournalKey {
        source: std::path::absolute(&path).unwrap_or_else(|_| path.clone()),
        size,
        mtime_ns,
        fingerprint,
        destination: stage.transport.destination(),
    };

    let resumed = if stage.config.resume {
        match resume_from_journal(stage, &key, &file, cancel).await? {
            Ok(resumed) => Some(resumed),
            Err(reason) if stage.config.resume_strict => {
                return Err(Error::NothingToResume(reason));
            }
            Err(reason) => {
                emit(Progress::NothingToResume { reason });
                None
            }
        }
    } else {
        abort_previous(stage, &key).await;
        None
    };
    let (session, (resumed, unconfirmed), journal) = match resumed {
        Some(r) => r,
        None => {
            let (whole_checksum, unless_stored) = digests(stage, &file, &path, size).await?;
            let opts = CreateOptions {
                size: Some(size),
                part_size: stage.config.part_size,
                checksum: stage.config.checksum,
                content_type: stage.config.content_type.clone(),
                whole_checksum,
                unless_stored,
            };
            let session = with_retries(&stage.config.retry, cancel, log_retry, |_| {
                stage.transport.create(&opts)
            })
            .await?;
            let journal =
                (session.multipart() && stage.config.state_dir.is_some()).then(|| Journal {
                    version: Journal::VERSION,
                    key: key.clone(),
                    upload_id: session.upload_id.clone(),
                    bucket: session.bucket.clone(),
                    object_key: session.key.clone(),
                    part_size: session.plan.part_size,
                    part_count: session.plan.part_count.unwrap_or(1),
                    checksum: stage.config.checksum,
                    parts: BTreeMap::new(),
                });
            (session, (Stored::new(), BTreeSet::new()), journal)
        }
    };
    let parts = session
        .plan
        .parts()
        .filter(|p| !resumed.contains_key(&p.number))
        .collect();
    Ok(Prepared {
        reread: Some(Reread {
            file: file.clone(),
            path: path.clone(),
        }),
        feed: Feed::File { file, path, parts },
        session,
        resumed,
        journal,
        total: Some(size),
        unconfirmed,
    })
}

/// What the create needs read from the whole file first: its checksum, when the transport
/// pins it into a single PUT's URL, and its MD5 and checksum when nothing is to be created
/// for an object that already holds them.
async fn digests<T: Transport>(
    stage: &Stage<T>,
    file: &Arc<File>,
    path: &std::path::Path,
    size: u64,
) -> Result<(Option<Checksum>, Option<UnlessStored>)> {
    let alg = stage.config.checksum;
    let pin = alg.filter(|_| stage.transport.pins_whole_checksum(size));
    let unless = stage.config.unless_stored;
    if pin.is_none() && !unless {
        return Ok((None, None));
    }
    let file = file.clone();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut hasher = alg.map(|a| a.hasher());
        let mut md5 = etag::Md5Hasher::default();
        let mut buf = vec![0u8; (1 << 20).min(size.max(1) as usize)];
        let mut offset = 0u64;
        while offset < size {
            let want = buf.len().min((size - offset) as usize);
            let n = file.read_at(&mut buf[..want], offset)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if let Some(h) = &mut hasher {
                h.update(&buf[..n]);
            }
            if unless {
                md5.update(&buf[..n]);
            }
            offset += n as u64;
        }
        Ok((hasher.map(|h| h.finish()), md5.finish()))
    })
    .await
    .map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?
    .map_err(|source| Error::Source {
        path: path.to_path_buf(),
        source,
    })?;
    let (sum, md5) = read;
    let unless_stored = unless.then(|| UnlessStored {
        md5_hex: hoist_core::encoding::hex(&md5),
        // A multipart object's whole checksum is only comparable when it is FULL_OBJECT.
        checksum: sum.filter(|s| {
            s.algorithm()
                .allowed_types()
                .contains(&hoist_core::checksum::ChecksumType::FullObject)
        }),
    });
    Ok((sum.filter(|_| pin.is_some()), unless_stored))
}

/// Starting afresh over an interrupted upload of the same file: abort the old one so its
/// parts are not left behind (best effort; `hoist gc` catches what this misses).
async fn abort_previous<T: Transport>(stage: &Stage<T>, key: &JournalKey) {
    let Some(dir) = &stage.config.state_dir else {
        return;
    };
    let Ok(Some(old)) = Journal::load(dir, key) else {
        return;
    };
    if let Some(session) = journaled(&old)
        && let Err(e) = stage.transport.abort(&session).await
    {
        tracing::debug!(error = %e, "aborting the previous upload");
    }
    let _ = Journal::remove(dir, key);
}

/// An upload to continue: its session, the parts stored (and which of them no journal
/// confirmed), and its journal.
type Resumed = (Session, (Stored, BTreeSet<u32>), Option<Journal>);

/// Continues the journaled upload, if there is one and the store still has it; else says
/// why there is nothing to continue.
async fn resume_from_journal<T: Transport>(
    stage: &Stage<T>,
    key: &JournalKey,
    file: &Arc<File>,
    cancel: &CancellationToken,
) -> Result<std::result::Result<Resumed, String>> {
    let Some(dir) = &stage.config.state_dir else {
        return Ok(Err("no state directory keeps journals".into()));
    };
    let Some(mut journal) = Journal::load(dir, key)? else {
        return Ok(Err(format!(
            "no journal in {} for this file (same path, size, modification time and \
             contents at both ends) and destination",
            dir.display()
        )));
    };
    if journal.checksum != stage.config.checksum {
        return Err(Error::Config(format!(
            "the interrupted upload used --checksum {}; resume with the same checksum",
            checksum_name(journal.checksum)
        )));
    }
    let Some(session) = journaled(&journal) else {
        return Ok(Err("the journal's parts are not a plan of this file".into()));
    };
    let listed = with_retries(&stage.config.retry, cancel, log_retry, |_| {
        stage.transport.list_parts(&session)
    })
    .await
    .map_err(Error::from);
    let stored = match listed {
        Ok(s) => s,
        Err(e) if e.status() == Some(404) => {
            return Ok(Err("the interrupted upload no longer exists".into()));
        }
        Err(Error::Coordinator { status, code, .. })
            if matches!(status, 401 | 403)
                && matches!(code.as_str(), "bad_token" | "token_expired" | "forbidden") =>
        {
            // A coordinator with another token secret, or serving another bucket.
            return Ok(Err(format!(
                "this coordinator does not accept the interrupted upload's token ({code}): \
                 only coordinators sharing its token secret and bucket continue it"
            )));
        }
        Err(e) => return Err(e),
    };
    let (resumed, unconfirmed) =
        adopt_parts(stage.config.checksum, &journal, &session, stored, file).await?;
    journal.parts = resumed
        .iter()
        .map(|(n, (etag, size, sum))| {
            let checksum = sum.map(|s| s.checksum.to_base64());
            (
                *n,
                JournalPart {
                    etag: etag.clone(),
                    size: *size,
                    checksum,
                },
            )
        })
        .collect();
    Ok(Ok((session, (resumed, unconfirmed), Some(journal))))
}

/// Keeps the stored parts that are known good: of the planned size and either recorded
/// in the journal with the same ETag, or (when the journal missed them, for example
/// after a kill -9 between two journal writes) whose MD5 matches the local bytes; the
/// latter are also returned apart, as unconfirmed.
async fn adopt_parts(
    alg: Option<ChecksumAlgorithm>,
    journal: &Journal,
    session: &Session,
    stored: Vec<StoredPart>,
    file: &Arc<File>,
) -> Result<(Stored, BTreeSet<u32>)> {
    let mut out = Stored::new();
    let mut unconfirmed = BTreeSet::new();
    for part in stored {
        let n = part.number;
        let Some(Part { offset, length, .. }) = session.plan.part(n) else {
            continue;
        };
        if part.size != length {
            continue;
        }
        let journaled = journal.parts.get(&n).filter(|jp| jp.etag == part.etag);
        if let Some(jp) = journaled {
            let sum = alg.zip(jp.checksum.as_deref()).and_then(|(alg, c)| {
                let checksum = Checksum::from_base64(alg, c).ok()?;
                Some(PartChecksum {
                    checksum,
                    size: length,
                })
            });
            if sum.is_some() || alg.is_none() {
                out.insert(n, (part.etag, part.size, sum));
                continue;
            }
        }
        let file = file.clone();
        let checked = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let mut buf = vec![0u8; length as usize];
            file.read_exact_at(&mut buf, offset)?;
            let sum = alg.map(|alg| PartChecksum::of(alg, &buf));
            Ok((etag::md5(&buf), sum))
        })
        .await
        .map_err(|e| Error::Config(format!("verifying part {n}: {e}")))?
        .map_err(|source| Error::Source {
            path: journal.key.source.clone(),
            source,
        })?;
        if etag::md5_of(&part.etag) == Some(checked.0) {
            if journaled.is_none() {
                unconfirmed.insert(n);
            }
            out.insert(n, (part.etag, part.size, checked.1));
        }
    }
    Ok((out, unconfirmed))
}

/// Reads a stream's first part, and starts its upload: a single PUT when that was all.
pub(crate) async fn stream<T: Transport>(
    stage: &Stage<T>,
    mut reader: Box<dyn Read + Send>,
    cancel: &CancellationToken,
) -> Result<Prepared> {
    let part_size = stage.transport.stream_part_size(stage.config.part_size)?;
    // Read one part first: a short input becomes a single PUT of known size.
    let (first, reader, eof) = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; part_size as usize];
        let r = read_full(&mut *reader, &mut buf);
        r.map(|(n, eof)| {
            buf.truncate(n);
            (buf, reader, eof)
        })
    })
    .await
    .map_err(|e| Error::Config(format!("reading standard input: {e}")))??;
    let opts = CreateOptions {
        size: eof.then_some(first.len() as u64),
        part_size: Some(part_size),
        checksum: stage.config.checksum,
        content_type: stage.config.content_type.clone(),
        whole_checksum: None,
        unless_stored: None,
    };
    let session = with_retries(&stage.config.retry, cancel, log_retry, |_| {
        stage.transport.create(&opts)
    })
    .await?;
    if session.plan.part_size != part_size && session.multipart() {
        return Err(Error::protocol(
            "create",
            format!(
                "planned part size {} for a stream read in parts of {part_size}",
                session.plan.part_size
            ),
        ));
    }
    Ok(Prepared {
        feed: Feed::Stream {
            reader,
            plan: session.plan,
            first: Some(first),
            first_was_last: eof,
        },
        session,
        resumed: Stored::new(),
        journal: None,
        total: opts.size,
        reread: None,
        unconfirmed: BTreeSet::new(),
    })
}
