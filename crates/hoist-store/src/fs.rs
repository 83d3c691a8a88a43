//! Files on disk: the layout, key safety, durable atomic writes and streaming blob writes.
//!
//! Layout under the data directory:
//!
//! ```text
//! credentials.json                       generated credentials (0600)
//! tmp/                                   temp files; emptied at start
//! buckets/<bucket>/bucket.json           bucket settings (CORS, lifecycle)
//! buckets/<bucket>/objects/<h>.json      object metadata; its rename commits the object
//! buckets/<bucket>/objects/<h>.<r>.data  object bytes (h = sha256 of the key, r random)
//! buckets/<bucket>/objects/<h>.<r>.p<n>.data  a multipart object's part n (linked at Complete)
//! uploads.journal                        new multipart uploads not yet in a folder of their own
//! uploads/<id>/upload.json               multipart upload (from its first part on)
//! uploads/<id>/part-<n>.json             part metadata; its rename commits the part
//! uploads/<id>/part-<n>.<r>.data         part bytes
//! ```
//!
//! Keys never become paths (they are hashed), so no key can name a file outside the data
//! directory; keys that look like escapes are still refused with a clear 400.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt as _;
use hoist_core::checksum::{Checksum, ChecksumAlgorithm, Hasher};
use hoist_core::encoding::hex;
use md5::Digest as _;
use s3s::S3ErrorCode;
use s3s::dto::StreamingBlob;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::random_hex;
use crate::direct::BodyFile;
use crate::errors::{MSG_ENTITY_TOO_LARGE, s3_error};
use crate::hashing::Md5Stream;

/// The longest key S3 accepts, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 1024;

/// Why a key was refused, as a 400 answer.
pub(crate) fn check_key(key: &str) -> s3s::S3Result<()> {
    let refuse = |why: &str| {
        Err(s3_error(
            S3ErrorCode::InvalidArgument,
            &format!("Invalid object key: {why}."),
            &vec![("ArgumentName", "key".into())],
        ))
    };
    if key.is_empty() {
        return refuse("the key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Err(s3_error(
            S3ErrorCode::KeyTooLongError,
            "Your key is too long",
            &vec![
                ("MaxSizeAllowed", MAX_KEY_LEN.to_string()),
                ("Size", key.len().to_string()),
            ],
        ));
    }
    if key.contains('\0') {
        return refuse("it contains a NUL byte");
    }
    if key.starts_with('/') || key.starts_with('\\') || key.as_bytes().get(1) == Some(&b':') {
        return refuse("it is an absolute path");
    }
    if key.split(['/', '\\']).any(|segment| segment == "..") {
        return refuse("it contains a '..' path segment");
    }
    Ok(())
}

/// Bucket names are validated by s3s; this refuses the two that would be path tricks anyway.
pub(crate) fn safe_bucket(bucket: &str) -> bool {
    !bucket.is_empty() && bucket != "." && bucket != ".." && !bucket.contains(['/', '\\', '\0'])
}

/// Upload ids are ours: 32 lowercase hex digits. Anything else cannot name an upload.
pub(crate) fn safe_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Hex of the SHA-256 of a key: its file stem.
pub(crate) fn key_stem(key: &str) -> String {
    hex(&sha2::Sha256::digest(key.as_bytes()))
}

/// Paths of the store's directories.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn journal(&self) -> PathBuf {
        self.root.join("uploads.journal")
    }
    pub fn buckets(&self) -> PathBuf {
        self.root.join("buckets")
    }
    pub fn bucket(&self, bucket: &str) -> PathBuf {
        self.buckets().join(bucket)
    }
    pub fn objects(&self, bucket: &str) -> PathBuf {
        self.bucket(bucket).join("objects")
    }
    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }
    pub fn upload(&self, id: &str) -> PathBuf {
        self.uploads().join(id)
    }
    pub fn temp_file(&self) -> PathBuf {
        self.tmp().join(format!("{}.tmp", random_hex(12)))
    }
}

/// fsync of a directory, so a rename inside it survives a crash.
///
/// Many requests change the same few directories at once (`uploads/`, a bucket's `objects/`).
/// A directory's fsync makes durable every change made in it before the fsync began, so the
/// callers that arrive while one runs wait for the next, and that one fsync serves them all
/// (group commit): N concurrent commits cost about two directory fsyncs, not N.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let entry = {
        let mut syncs = DIR_SYNCS.lock().unwrap_or_else(|e| e.into_inner());
        syncs.entry(dir.to_path_buf()).or_default().clone()
    };
    let result = entry.sync(dir);
    let mut syncs = DIR_SYNCS.lock().unwrap_or_else(|e| e.into_inner());
    // The map and this caller hold the only references: nobody waits, the entry can go.
    if std::sync::Arc::strong_count(&entry) == 2 {
        syncs.remove(dir);
    }
    result
}

/// [`sync_dir`] from async code: the fsync, and any wait for another caller's, runs on a
/// blocking thread instead of stalling a runtime worker.
pub(crate) async fn sync_dir_async(dir: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || sync_dir(&dir))
        .await
        .map_err(std::io::Error::other)?
}

/// Directories with an fsync in progress or callers waiting for one.
static DIR_SYNCS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<DirSync>>>,
> = std::sync::LazyLock::new(Default::default);

/// One directory's fsyncs: how many began, how many finished well, whether one runs now.
#[derive(Default)]
struct DirSync {
    state: std::sync::Mutex<DirSyncState>,
    finished: std::sync::Condvar,
}

#[derive(Default)]
struct DirSyncState {
    started: u64,
    done: u64,
    running: bool,
}

impl DirSync {
    fn sync(&self, dir: &Path) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // The caller's changes were made before now: any fsync that begins from here covers
        // them, and the next to begin is number `started + 1`.
        let needed = state.started + 1;
        loop {
            if state.done >= needed {
                return Ok(());
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let this = state.started;
                drop(state);
                let result = std::fs::File::open(dir).and_then(|d| d.sync_all());
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.running = false;
                if result.is_ok() {
                    state.done = state.done.max(this);
                }
                self.finished.notify_all();
                // On failure the waiters find `done` short and try an fsync of their own.
                return result;
            }
            state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Writes JSON durably: temp file, fsync, rename over `dest`, fsync of the directory.
pub(crate) fn write_json_atomic<T: Serialize>(
    layout: &Layout,
    dest: &Path,
    value: &T,
) -> std::io::Result<()> {
    let tmp = layout.temp_file();
    let result = (|| {
        let mut create = std::fs::File::options();
        create.write(true).create(true).truncate(true);
        write_json_synced(&tmp, &create, value)?;
        std::fs::rename(&tmp, dest)?;
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `value` as JSON, the whole of the file `open` opens at `path`, fsynced.
fn write_json_synced<T: Serialize>(
    path: &Path,
    open: &std::fs::OpenOptions,
    value: &T,
) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let mut file = open.open(path)?;
    file.write_all(&bytes)?;
    file.sync_all()
}

/// Moves a finished temp file into place durably.
pub(crate) fn commit_file(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, dest)?;
    sync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// Links every `(source, dest)` pair, falling back to a copy where links are refused, then
/// makes the new names durable. On failure every `dest` is removed again (the names are
/// fresh, so none of them stood there before).
pub(crate) fn link_all(links: &[(PathBuf, PathBuf)], dir: &Path) -> std::io::Result<()> {
    let result = links
        .iter()
        .try_for_each(|(source, dest)| {
            if std::fs::hard_link(source, dest).is_err() {
                let mut out = std::fs::File::create(dest)?;
                std::io::copy(&mut std::fs::File::open(source)?, &mut out)?;
                out.sync_all()?;
            }
            Ok(())
        })
        .and_then(|()| sync_dir(dir));
    if result.is_err() {
        for (_, dest) in links {
            let _ = std::fs::remove_file(dest);
        }
    }
    result
}

/// What a streamed body turned out to be.
#[derive(Debug)]
pub(crate) struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
    /// The requested flexible checksum.
    pub checksum: Option<Checksum>,
}

/// Bodies up to this size are gathered in memory, then written, hashed and fsynced in one
/// blocking call; larger ones stream through a writer and a hashing thread. A 16 KiB PUT
/// then costs one hand-off to the blocking pool, not a thread of its own and a 1 MiB buffer.
const SMALL_BODY: u64 = 256 * 1024;

/// Streams a request body into a new temp file while hashing it, never holding it whole:
/// a bounded channel feeds a blocking thread that writes (past the page cache where it can,
/// see [`crate::direct`]), hashes and finally fsyncs.
/// Refuses (EntityTooLarge) a body that grows past `limit`. `direct`: whether a large body
/// may be written past the page cache.
pub(crate) async fn write_stream(
    layout: &Layout,
    mut body: StreamingBlob,
    algorithm: Option<ChecksumAlgorithm>,
    limit: u64,
    direct: bool,
) -> s3s::S3Result<Written> {
    let path = layout.temp_file();
    // Bytes received so far, all of them in `head` until it passes `SMALL_BODY`.
    let mut received = 0u64;
    // The body's start, in memory: all of it when it is small.
    let mut head = Vec::new();
    let ended = loop {
        match next_chunk(&mut body, &mut received, limit).await? {
            None => break true,
            Some(chunk) => {
                head.push(chunk);
                if received > SMALL_BODY {
                    break false;
                }
            }
        }
    };
    let outcome = if ended {
        let writer_path = path.clone();
        tokio::task::spawn_blocking(move || write_small(writer_path, &head, algorithm))
            .await
            .map_err(s3s::S3Error::internal_error)
            .and_then(|written| written.map_err(s3s::S3Error::internal_error))
    } else {
        write_large(path.clone(), head, body, received, algorithm, limit, direct).await
    };
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    outcome
}

/// The body's next chunk, counted against `limit`; `None` at its end.
async fn next_chunk(
    body: &mut StreamingBlob,
    received: &mut u64,
    limit: u64,
) -> s3s::S3Result<Option<Bytes>> {
    match body.next().await {
        None => Ok(None),
        Some(Err(err)) => Err(body_error(&*err)),
        Some(Ok(chunk)) => {
            *received += chunk.len() as u64;
            if *received > limit {
                return Err(s3_error(
                    S3ErrorCode::EntityTooLarge,
                    MSG_ENTITY_TOO_LARGE,
                    &vec![
                        ("ProposedSize", received.to_string()),
                        ("MaxSizeAllowed", limit.to_string()),
                    ],
                ));
            }
            Ok(Some(chunk))
        }
    }
}

/// A whole small body to a new file: written, hashed and fsynced on the calling thread.
fn write_small(
    path: PathBuf,
    chunks: &[Bytes],
    algorithm: Option<ChecksumAlgorithm>,
) -> std::io::Result<Written> {
    let mut file = std::fs::File::create(&path)?;
    let mut digests = Digests::new(algorithm);
    let mut size = 0u64;
    for chunk in chunks {
        digests.update(chunk);
        size += chunk.len() as u64;
    }
    if let [one] = chunks {
        file.write_all(one)?;
    } else {
        file.write_all(&chunks.concat())?;
    }
    file.sync_all()?;
    let (md5, checksum) = digests.finish();
    Ok(Written {
        path,
        size,
        md5,
        checksum,
    })
}

/// What a body is hashed into as it passes: MD5 for the ETag, and the flexible checksum the
/// request asked for.
struct Digests {
    md5: md5::Md5,
    checksum: Option<Hasher>,
}

impl Digests {
    fn new(algorithm: Option<ChecksumAlgorithm>) -> Self {
        Self {
            md5: md5::Md5::new(),
            checksum: algorithm.map(Hasher::new),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some(h) = self.checksum.as_mut() {
            h.update(data);
        }
    }

    fn finish(self) -> ([u8; 16], Option<Checksum>) {
        (
            self.md5.finalize().into(),
            self.checksum.map(Hasher::finish),
        )
    }
}

/// A body past [`SMALL_BODY`]: `head` (already received) and the rest of `body` go through
/// a bounded channel to a blocking writer, which hands each chunk to the shared hashing
/// threads for the MD5 ([`crate::hashing`]) and computes the flexible checksum itself.
async fn write_large(
    path: PathBuf,
    head: Vec<Bytes>,
    mut body: StreamingBlob,
    mut received: u64,
    algorithm: Option<ChecksumAlgorithm>,
    limit: u64,
    direct: bool,
) -> s3s::S3Result<Written> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<Written> {
        let mut md5 = Md5Stream::new();
        let mut checksum = algorithm.map(Hasher::new);
        let mut out = BodyFile::create(&path, direct)?;
        let mut size = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            size += chunk.len() as u64;
            if let Some(h) = checksum.as_mut() {
                h.update(&chunk);
            }
            md5.update(chunk.clone())?;
            out.push(chunk)?;
        }
        out.finish()?;
        Ok(Written {
            path,
            size,
            md5: md5.finish()?,
            checksum: checksum.map(Hasher::finish),
        })
    });

    let fed: s3s::S3Result<()> = async {
        for chunk in head {
            if tx.send(chunk).await.is_err() {
                return Ok(());
            }
        }
        while let Some(chunk) = next_chunk(&mut body, &mut received, limit).await? {
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    let written = writer.await.map_err(s3s::S3Error::internal_error);
    match (fed, written) {
        (Err(err), _) => Err(err),
        (Ok(()), Ok(Ok(written))) => Ok(written),
        (Ok(()), Ok(Err(io))) => Err(s3s::S3Error::internal_error(io)),
        (Ok(()), Err(join)) => Err(join),
    }
}

/// Maps a body stream failure (client gone, bad chunk signature, bad payload hash) to S3's
/// answer: s3s reports those as S3 errors inside the stream.
fn body_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> s3s::S3Error {
    if let Some(s3) = err.downcast_ref::<s3s::S3Error>() {
        let mut copy = s3s::S3Error::new(s3.code().clone());
        if let Some(m) = s3.message() {
            copy.set_message(m.to_owned());
        }
        if let Some(status) = s3.status_code() {
            copy.set_status_code(status);
        }
        return copy;
    }
    let text = err.to_string();
    if text.to_ascii_lowercase().contains("checksum")
        || text.to_ascii_lowercase().contains("sha256")
    {
        let mut mismatch = s3s::S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        mismatch.set_status_code(http::StatusCode::BAD_REQUEST);
        return mismatch;
    }
    s3s::S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_sync_never_counts_an_fsync_that_began_before_it() {
        let dir = std::env::temp_dir();
        let sync = DirSync::default();
        let started = |s: &DirSync| s.state.lock().unwrap().started;
        // Alone, every caller runs an fsync of its own.
        sync.sync(&dir).unwrap();
        sync.sync(&dir).unwrap();
        assert_eq!(started(&sync), 2);
        // A caller arriving while an fsync runs is not served by that one, but by the next.
        {
            let mut state = sync.state.lock().unwrap();
            state.running = true;
            state.started += 1;
        }
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| sync.sync(&dir));
            std::thread::sleep(std::time::Duration::from_millis(50));
            {
                let mut state = sync.state.lock().unwrap();
                state.running = false;
                state.done = state.started;
            }
            sync.finished.notify_all();
            waiter.join().unwrap().unwrap();
        });
        assert_eq!(started(&sync), 4);
    }

    #[test]
    fn concurrent_directory_syncs_all_answer_and_leave_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("hoist-dirsync-{}", random_hex(8)));
        std::fs::create_dir(&dir).unwrap();
        std::thread::scope(|scope| {
            for t in 0..16 {
                let dir = &dir;
                scope.spawn(move || {
                    for i in 0..20 {
                        std::fs::write(dir.join(format!("{t}-{i}")), b"x").unwrap();
                        sync_dir(dir).unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 16 * 20);
        // A directory that is not there fails for every caller, each on its own.
        let missing = dir.join("missing");
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| assert!(sync_dir(&missing).is_err()));
            }
        });
        assert!(!DIR_SYNCS.lock().unwrap().contains_key(&dir));
        assert!(!DIR_SYNCS.lock().unwrap().contains_key(&missing));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_that_look_like_escapes_are_refused() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "nul\0key",
            "",
            "C:\\x",
            "a\\..\\b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_key(&"k".repeat(1025)).is_err());
        for good in ["a/b/c.txt", "..a", "a..", "dir/.hidden", "space key", "ሴ"] {
            assert!(check_key(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn upload_ids_are_checked() {
        assert!(safe_upload_id(&random_hex(16)));
        assert!(!safe_upload_id("../../../../etc"));
        assert!(!safe_upload_id("ABCDEF0123456789ABCDEF0123456789"));
    }
}
