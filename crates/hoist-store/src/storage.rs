//! The store's state: an in-memory index of buckets, objects and uploads, rebuilt from disk
//! at start (which also sweeps away whatever a crash left half-written).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};
use serde::{Deserialize, Serialize};

use crate::cors::CorsRule;
use crate::faults::Clock;
use crate::fs::{Layout, safe_upload_id, sync_dir, write_json_atomic};
use crate::journal::Journal;
use crate::lifecycle::LifecycleRule;

/// Milliseconds since the epoch (negative before it).
pub(crate) fn to_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketMeta {
    pub name: String,
    pub created_ms: i64,
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    #[serde(default)]
    pub lifecycle: Option<Vec<LifecycleRule>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Quoted, as sent in the `ETag` header.
    pub etag: String,
    pub last_modified_ms: i64,
    pub content_type: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires.
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// File name of the bytes inside the bucket's `objects/` directory; empty when the
    /// bytes are in `extents`.
    pub data: String,
    /// A completed multipart object's bytes: these files of the bucket's `objects/`
    /// directory, in order. Complete links the part files here instead of copying them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extents: Vec<Extent>,
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    pub checksum_type: Option<ChecksumType>,
    pub parts: Option<u32>,
    /// The multipart upload this object completed. Its directory may outlive the commit by
    /// a crash; opening the data directory then removes it (see `finish_completed_uploads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// The object's files, shared with every reader; set whenever the object is indexed.
    #[serde(skip)]
    pub blob: Option<Arc<Blob>>,
}

/// One file of a multipart object's bytes: one part, with what Complete knew of it (kept so
/// GetObjectAttributes can list the parts and a repeated Complete can be recognised; objects
/// completed before these were kept have none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Extent {
    pub data: String,
    pub size: u64,
    /// The part number the upload gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_number: Option<i32>,
    /// Quoted hex md5, as UploadPart answered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Base64 of the upload's checksum algorithm over this part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// The standard headers S3 keeps with an object (from PutObject or CreateMultipartUpload)
/// and sends back on GET and HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// An HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Headers {
    /// The headers as a PutObject or CreateMultipartUpload sent them. `aws-chunked` is how
    /// the body travelled, not how the object is encoded: S3 keeps the rest of
    /// Content-Encoding only.
    pub fn new(
        cache_control: Option<String>,
        content_disposition: Option<String>,
        content_encoding: Option<String>,
        content_language: Option<String>,
        expires: Option<&s3s::dto::Timestamp>,
    ) -> Self {
        let content_encoding = content_encoding.and_then(|encoding| {
            let kept: Vec<&str> = encoding
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            (!kept.is_empty()).then(|| kept.join(","))
        });
        let expires = expires.and_then(|time| {
            let mut text = Vec::new();
            time.format(s3s::dto::TimestampFormat::HttpDate, &mut text)
                .ok()?;
            String::from_utf8(text).ok()
        });
        Self {
            cache_control,
            content_disposition,
            content_encoding,
            content_language,
            expires,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Expires as s3s sends it.
    pub fn expires_timestamp(&self) -> Option<s3s::dto::Timestamp> {
        let text = self.expires.as_deref()?;
        s3s::dto::Timestamp::parse(s3s::dto::TimestampFormat::HttpDate, text).ok()
    }
}

impl ObjectMeta {
    /// The names of the files that hold the bytes, in order.
    pub fn files(&self) -> Vec<String> {
        self.extents().into_iter().map(|e| e.data).collect()
    }

    /// The files that hold the bytes, with their sizes, in order.
    pub fn extents(&self) -> Vec<Extent> {
        if self.extents.is_empty() {
            vec![Extent {
                data: self.data.clone(),
                size: self.size,
                part_number: None,
                etag: None,
                checksum: None,
            }]
        } else {
            self.extents.clone()
        }
    }

    /// What tells this write of the key from any other: the name of its first file, which
    /// is random per write.
    pub fn generation(&self) -> &str {
        self.extents.first().map_or(&self.data, |e| &e.data)
    }

    /// Attaches the shared handle on the object's files (in `dir`, its bucket's `objects/`).
    pub fn with_blob(mut self, dir: PathBuf) -> Self {
        self.blob = Some(Arc::new(Blob {
            dir,
            files: self.files(),
            doomed: AtomicBool::new(false),
        }));
        self
    }

    /// Marks the object's files for removal once no reader holds them.
    pub fn doom(&self) {
        if let Some(blob) = &self.blob {
            blob.doomed.store(true, Ordering::Release);
        }
    }
}

/// The files that hold one object's bytes. They go when the object has left the index
/// (deleted or replaced) and the last reader has let go, so a GET that began before a DELETE
/// or an overwrite still streams the whole object it started with.
#[derive(Debug)]
pub(crate) struct Blob {
    dir: PathBuf,
    files: Vec<String>,
    doomed: AtomicBool,
}

impl Drop for Blob {
    fn drop(&mut self) {
        if *self.doomed.get_mut() {
            for file in &self.files {
                let _ = std::fs::remove_file(self.dir.join(file));
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_type: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    pub checksum: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The generation of the object at the key when the upload began (none: no object). A
    /// conditional Complete that finds another one was written meanwhile answers 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartMeta {
    pub number: i32,
    pub size: u64,
    /// Quoted hex md5.
    pub etag: String,
    pub last_modified_ms: i64,
    /// File name of the bytes inside the upload's directory.
    pub data: String,
    /// Base64 of the upload's checksum algorithm over this part.
    pub checksum: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct BucketEntry {
    pub meta: Option<BucketMeta>,
    pub objects: BTreeMap<String, ObjectMeta>,
}

#[derive(Debug)]
pub(crate) struct UploadEntry {
    pub meta: UploadMeta,
    pub parts: BTreeMap<i32, PartMeta>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub buckets: BTreeMap<String, BucketEntry>,
    pub uploads: Uploads,
}

/// The open multipart uploads, by id (hashed: each request of an upload finds it in one
/// probe, not a search through a tree of 100,000) and in the order ListMultipartUploads
/// answers them (bucket, key, upload id), so a page is read from where it starts instead of
/// sorting every upload for each page.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    /// Boxed, so that growing the table moves 32 bytes per upload, not the whole entry (a
    /// pause of milliseconds at 100,000 uploads instead of tens).
    by_id: HashMap<String, Box<UploadEntry>>,
    /// Each bucket's uploads by (key, upload id): a search within a bucket compares no
    /// bucket names.
    listed: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl Uploads {
    pub fn get(&self, id: &str) -> Option<&UploadEntry> {
        self.by_id.get(id).map(|entry| &**entry)
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// An upload's parts, to change; its bucket and key, which order it, stay as they are.
    pub fn parts_mut(&mut self, id: &str) -> Option<&mut BTreeMap<i32, PartMeta>> {
        self.by_id.get_mut(id).map(|u| &mut u.parts)
    }

    pub fn insert(&mut self, entry: UploadEntry) {
        let meta = &entry.meta;
        let (bucket, listed) = (meta.bucket.clone(), (meta.key.clone(), meta.id.clone()));
        // One search of the ids: an upload this one replaces is found as it is replaced.
        if let Some(old) = self.by_id.insert(meta.id.clone(), Box::new(entry)) {
            let m = old.meta;
            self.unlist(&m.bucket, m.key, m.id);
        }
        self.listed.entry(bucket).or_default().insert(listed);
    }

    pub fn remove(&mut self, id: &str) -> Option<UploadEntry> {
        let entry = self.by_id.remove(id)?;
        let m = &entry.meta;
        self.unlist(&m.bucket, m.key.clone(), m.id.clone());
        Some(*entry)
    }

    /// Takes an upload out of its bucket's order (and the bucket, once it has none).
    fn unlist(&mut self, bucket: &str, key: String, id: String) {
        if let Some(uploads) = self.listed.get_mut(bucket) {
            uploads.remove(&(key, id));
            if uploads.is_empty() {
                self.listed.remove(bucket);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &UploadEntry> {
        self.by_id.values().map(|entry| &**entry)
    }

    /// A bucket's uploads in (key, upload id) order, from the first at or after `(key, id)`.
    pub fn in_order_from<'a>(
        &'a self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> impl Iterator<Item = &'a UploadMeta> + 'a {
        self.listed
            .get(bucket)
            .map(|uploads| uploads.range((key.to_owned(), id.to_owned())..))
            .into_iter()
            .flatten()
            .filter_map(|(_, id)| self.by_id.get(id).map(|u| &u.meta))
    }
}

/// Everything the S3 operations share.
#[derive(Debug)]
pub(crate) struct Storage {
    pub layout: Layout,
    pub clock: Clock,
    pub max_put_size: u64,
    pub region: String,
    state: Mutex<State>,
    /// Orders commits (renames of metadata plus index updates) per key, so disk and index
    /// agree.
    pub commit: crate::locks::CommitLocks,
    /// Bucket creations, settings and deletions one at a time, so the `bucket.json` on disk is
    /// always the one the index holds.
    pub buckets_turn: tokio::sync::Mutex<()>,
    /// The bytes GET bodies may hold read ahead of their clients, all together.
    pub read_ahead: crate::readahead::ReadAhead,
    /// Whether larger bodies are written past the page cache ([`crate::direct`]).
    pub direct_writes: bool,
    /// Whether reads of 1 MiB or more of a file not in the page cache go past it
    /// ([`crate::read`]).
    pub direct_reads: bool,
    /// New multipart uploads until their first part gives them a folder.
    pub journal: Arc<Journal>,
}

impl Storage {
    /// Opens (or creates) the data directory and rebuilds the index.
    pub fn open(
        root: &Path,
        clock: Clock,
        max_put_size: u64,
        region: String,
    ) -> std::io::Result<Self> {
        let layout = Layout {
            root: root.to_path_buf(),
        };
        std::fs::create_dir_all(layout.buckets())?;
        std::fs::create_dir_all(layout.uploads())?;
        // Temp files belong to requests that died with the previous process.
        let _ = std::fs::remove_dir_all(layout.tmp());
        std::fs::create_dir_all(layout.tmp())?;
        let mut state = State {
            buckets: load_buckets(&layout)?,
            uploads: load_uploads(&layout)?,
        };
        // The journal first: an upload it holds whose object committed before a crash cut its
        // removal short is removed with those that have folders.
        let (journal, needed) = replay_journal(&layout, &mut state)?;
        finish_completed_uploads(&layout, &mut state)?;
        journal.keep(
            needed
                .iter()
                .map(String::as_str)
                .filter(|id| state.uploads.contains_key(id)),
        )?;
        Ok(Self {
            layout,
            clock,
            max_put_size,
            region,
            state: Mutex::new(state),
            commit: crate::locks::CommitLocks::new(),
            buckets_turn: tokio::sync::Mutex::new(()),
            read_ahead: crate::readahead::ReadAhead::new(crate::readahead::READ_AHEAD_BUDGET),
            direct_writes: true,
            direct_reads: true,
            journal: Arc::new(journal),
        })
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn now_ms(&self) -> i64 {
        to_ms(self.clock.now())
    }

    /// Creates a bucket on disk and in the index; false when it already exists. For opening
    /// the store, before it serves: requests go through [`Storage::create_bucket_async`].
    pub fn create_bucket(&self, name: &str) -> std::io::Result<bool> {
        let Some(meta) = self.new_bucket_meta(name) else {
            return Ok(false);
        };
        write_bucket(&self.layout, &meta, true)?;
        self.state()
            .buckets
            .entry(name.to_owned())
            .or_default()
            .meta = Some(meta);
        Ok(true)
    }

    /// [`Storage::create_bucket`] in the buckets' turn, the files written on a blocking thread.
    pub async fn create_bucket_async(&self, name: &str) -> std::io::Result<bool> {
        let _turn = self.buckets_turn.lock().await;
        let Some(meta) = self.new_bucket_meta(name) else {
            return Ok(false);
        };
        let layout = self.layout.clone();
        let written = meta.clone();
        tokio::task::spawn_blocking(move || write_bucket(&layout, &written, true))
            .await
            .map_err(std::io::Error::other)??;
        self.state()
            .buckets
            .entry(name.to_owned())
            .or_default()
            .meta = Some(meta);
        Ok(true)
    }

    /// A new bucket's settings, or None when `name` exists.
    fn new_bucket_meta(&self, name: &str) -> Option<BucketMeta> {
        let exists = self
            .state()
            .buckets
            .get(name)
            .is_some_and(|b| b.meta.is_some());
        (!exists).then(|| BucketMeta {
            name: name.to_owned(),
            created_ms: self.now_ms(),
            cors: None,
            lifecycle: None,
        })
    }

    /// Saves a bucket's settings after `change`; None when the bucket does not exist. The
    /// index changes only once the file is durable, in the buckets' turn, so a failed write
    /// changes nothing and two changes land on disk in the order the index saw them.
    pub async fn update_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketMeta),
    ) -> std::io::Result<Option<()>> {
        let _turn = self.buckets_turn.lock().await;
        let Some(mut meta) = self.bucket_meta(name) else {
            return Ok(None);
        };
        change(&mut meta);
        let layout = self.layout.clone();
        let written = meta.clone();
        tokio::task::spawn_blocking(move || write_bucket(&layout, &written, false))
            .await
            .map_err(std::io::Error::other)??;
        if let Some(slot) = self
            .state()
            .buckets
            .get_mut(name)
            .and_then(|b| b.meta.as_mut())
        {
            *slot = meta;
        }
        Ok(Some(()))
    }

    /// The object at `key` now, if any (a copy of its index entry).
    pub fn object(&self, bucket: &str, key: &str) -> Option<ObjectMeta> {
        self.state()
            .buckets
            .get(bucket)
            .and_then(|b| b.objects.get(key))
            .cloned()
    }

    pub fn bucket_meta(&self, name: &str) -> Option<BucketMeta> {
        self.state().buckets.get(name).and_then(|b| b.meta.clone())
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn dir_entries(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(iter) => iter.collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn load_buckets(layout: &Layout) -> std::io::Result<BTreeMap<String, BucketEntry>> {
    let mut buckets = BTreeMap::new();
    for entry in dir_entries(&layout.buckets())? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(meta) = read_json::<BucketMeta>(&entry.path().join("bucket.json")) else {
            // A bucket whose creation never committed.
            let _ = std::fs::remove_dir_all(entry.path());
            continue;
        };
        let objects_dir = layout.objects(&name);
        let mut objects = BTreeMap::new();
        let mut referenced = HashSet::new();
        let mut data_files = Vec::new();
        for file in dir_entries(&objects_dir)? {
            let file_name = file.file_name().to_string_lossy().into_owned();
            if file_name.ends_with(".json") {
                if let Some(object) = read_json::<ObjectMeta>(&file.path()) {
                    referenced.extend(object.files());
                    let object = object.with_blob(objects_dir.clone());
                    objects.insert(object.key.clone(), object);
                }
            } else {
                data_files.push(file_name);
            }
        }
        // Bytes whose metadata never committed (a crash mid-PUT) or that an overwrite replaced.
        for orphan in data_files.iter().filter(|f| !referenced.contains(*f)) {
            let _ = std::fs::remove_file(objects_dir.join(orphan));
        }
        buckets.insert(
            name,
            BucketEntry {
                meta: Some(meta),
                objects,
            },
        );
    }
    Ok(buckets)
}

fn load_uploads(layout: &Layout) -> std::io::Result<Uploads> {
    let mut uploads = Uploads::default();
    for entry in dir_entries(&layout.uploads())? {
        let dir = entry.path();
        let Some(meta) = read_json::<UploadMeta>(&dir.join("upload.json")) else {
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        };
        let mut parts = BTreeMap::new();
        let mut referenced = HashSet::new();
        let mut data_files = Vec::new();
        for file in dir_entries(&dir)? {
            let file_name = file.file_name().to_string_lossy().into_owned();
            if file_name == "upload.json" {
                continue;
            }
            if file_name.ends_with(".json") {
                if let Some(part) = read_json::<PartMeta>(&file.path()) {
                    referenced.insert(part.data.clone());
                    parts.insert(part.number, part);
                }
            } else {
                data_files.push(file_name);
            }
        }
        for orphan in data_files.iter().filter(|f| !referenced.contains(*f)) {
            let _ = std::fs::remove_file(dir.join(orphan));
        }
        uploads.insert(UploadEntry { meta, parts });
    }
    Ok(uploads)
}

/// Removes the uploads whose Complete committed (an object's metadata names them) but whose
/// directory a crash left behind: the object is whole, so the upload must not be listed.
fn finish_completed_uploads(layout: &Layout, state: &mut State) -> std::io::Result<()> {
    let uploads = &state.uploads;
    let completed: Vec<String> = state
        .buckets
        .iter()
        .flat_map(|(bucket, entry)| {
            entry.objects.values().filter_map(move |object| {
                let id = object.upload_id.as_ref()?;
                let upload = &uploads.get(id)?.meta;
                (upload.bucket == *bucket && upload.key == object.key).then(|| id.clone())
            })
        })
        .collect();
    for id in &completed {
        state.uploads.remove(id);
        // The object's extents are links of their own; only the upload's names go. Should
        // that fail, the next start tries again. An upload the journal alone held has none.
        if let Err(e) = std::fs::remove_dir_all(layout.upload(id))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(upload_id = %id, error = %e, "could not remove a completed upload");
        }
    }
    if !completed.is_empty() {
        sync_dir(&layout.uploads())?;
    }
    Ok(())
}

/// Reads the uploads journal: removals a crash interrupted are finished, and uploads created
/// that have no folder yet are put in the index; answers the journal and those uploads, whose
/// lines alone the caller keeps.
fn replay_journal(layout: &Layout, state: &mut State) -> std::io::Result<(Journal, Vec<String>)> {
    let (journal, replayed) = Journal::open::<UploadMeta>(&layout.journal())?;
    let mut removed = false;
    for id in &replayed.gone {
        if state.uploads.remove(id).is_some() {
            removed = true;
            if let Err(e) = std::fs::remove_dir_all(layout.upload(id)) {
                tracing::warn!(upload_id = %id, error = %e, "could not remove an aborted upload");
            }
        }
    }
    if removed {
        sync_dir(&layout.uploads())?;
    }
    let mut needed = Vec::new();
    for (id, meta) in replayed.live {
        // An upload with a folder is read from it; one whose bucket went is gone with it.
        let bucket_there = state
            .buckets
            .get(&meta.bucket)
            .is_some_and(|b| b.meta.is_some());
        if state.uploads.contains_key(&id) || !bucket_there || !safe_upload_id(&id) || id != meta.id
        {
            continue;
        }
        state.uploads.insert(UploadEntry {
            meta,
            parts: BTreeMap::new(),
        });
        needed.push(id);
    }
    Ok((journal, needed))
}

/// Writes a bucket's `bucket.json` durably; `create` makes its folders first.
fn write_bucket(layout: &Layout, meta: &BucketMeta, create: bool) -> std::io::Result<()> {
    if create {
        std::fs::create_dir_all(layout.objects(&meta.name))?;
        sync_dir(&layout.buckets())?;
    }
    write_json_atomic(layout, &layout.bucket(&meta.name).join("bucket.json"), meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultControl;

    fn upload(bucket: &str, key: &str, id: &str) -> UploadEntry {
        UploadEntry {
            meta: UploadMeta {
                id: id.into(),
                bucket: bucket.into(),
                key: key.into(),
                initiated_ms: 0,
                content_type: None,
                metadata: BTreeMap::new(),
                headers: Headers::default(),
                checksum: None,
                checksum_type: None,
                seen: None,
            },
            parts: BTreeMap::new(),
        }
    }

    fn listed<'a>(
        uploads: &'a Uploads,
        bucket: &'a str,
        key: &str,
        id: &str,
    ) -> Vec<(String, String)> {
        uploads
            .in_order_from(bucket, key, id)
            .map(|u| (u.key.clone(), u.id.clone()))
            .collect()
    }

    #[test]
    fn open_uploads_are_listed_per_bucket_in_key_then_id_order_and_leave_with_their_removal() {
        let mut uploads = Uploads::default();
        for (bucket, key, id) in [
            ("b", "k2", "c"),
            ("b", "k1", "b"),
            ("a", "k1", "d"),
            ("b", "k1", "a"),
            ("c", "k0", "e"),
        ] {
            uploads.insert(upload(bucket, key, id));
        }
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, i)| ((*k).to_owned(), (*i).to_owned()))
                .collect()
        };
        assert_eq!(
            listed(&uploads, "b", "", ""),
            pairs(&[("k1", "a"), ("k1", "b"), ("k2", "c")])
        );
        assert_eq!(
            listed(&uploads, "b", "k1", "b"),
            pairs(&[("k1", "b"), ("k2", "c")])
        );
        assert_eq!(listed(&uploads, "b", "k10", ""), pairs(&[("k2", "c")]));
        assert_eq!(listed(&uploads, "a", "", ""), pairs(&[("k1", "d")]));
        assert!(listed(&uploads, "bb", "", "").is_empty());

        // Inserting an id again replaces it in both orders: one entry, listed once.
        uploads.insert(upload("b", "k3", "b"));
        assert_eq!(uploads.len(), 5);
        assert_eq!(
            listed(&uploads, "b", "", ""),
            pairs(&[("k1", "a"), ("k2", "c"), ("k3", "b")])
        );

        assert!(uploads.remove("a").is_some());
        assert!(uploads.remove("a").is_none());
        assert!(!uploads.contains_key("a"));
        assert_eq!(
            listed(&uploads, "b", "", ""),
            pairs(&[("k2", "c"), ("k3", "b")])
        );
        assert_eq!(uploads.values().count(), 4);
    }

    /// Metadata as the store wrote it while it had checksum types of its own: algorithms and
    /// types under their Rust variant names (`"Crc64Nvme"`, `"FullObject"`).
    #[test]
    fn metadata_written_in_the_old_form_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let objects = root.join("buckets/b/objects");
        let upload = root.join("uploads/0123456789abcdef0123456789abcdef");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::create_dir_all(&upload).unwrap();
        let write = |path: PathBuf, text: &str| std::fs::write(path, text).unwrap();
        write(
            root.join("buckets/b/bucket.json"),
            r#"{"name": "b", "created_ms": 1, "cors": null, "lifecycle": null}"#,
        );
        write(
            objects.join(format!("{}.json", crate::fs::key_stem("k"))),
            r#"{
              "key": "k", "size": 5, "etag": "\"5d41402abc4b2a76b9719d911017c592\"",
              "last_modified_ms": 2, "content_type": null, "metadata": {}, "data": "s.1.data",
              "checksum": ["Crc64Nvme", "nGr/2JJjFtE="], "checksum_type": "FullObject",
              "parts": null
            }"#,
        );
        write(objects.join("s.1.data"), "hello");
        write(
            upload.join("upload.json"),
            r#"{
              "id": "0123456789abcdef0123456789abcdef", "bucket": "b", "key": "big",
              "initiated_ms": 3, "content_type": null, "metadata": {},
              "checksum": "Sha256", "checksum_type": "Composite"
            }"#,
        );

        let clock = FaultControl::default().clock();
        let storage = Storage::open(root, clock, 1 << 20, "us-east-1".into()).unwrap();
        let state = storage.state();
        let object = &state.buckets["b"].objects["k"];
        assert_eq!(
            object.checksum,
            Some((ChecksumAlgorithm::Crc64Nvme, "nGr/2JJjFtE=".to_owned()))
        );
        assert_eq!(object.checksum_type, Some(ChecksumType::FullObject));
        let upload = &state
            .uploads
            .get("0123456789abcdef0123456789abcdef")
            .unwrap()
            .meta;
        assert_eq!(upload.checksum, Some(ChecksumAlgorithm::Sha256));
        assert_eq!(upload.checksum_type, Some(ChecksumType::Composite));

        // Every old algorithm name reads; what is written now is S3's spelling.
        for (old, algorithm) in ["Crc32", "Crc32c", "Crc64Nvme", "Sha1", "Sha256"]
            .into_iter()
            .zip(ChecksumAlgorithm::ALL)
        {
            let json = upload_json(old);
            let meta: UploadMeta = serde_json::from_str(&json).unwrap();
            assert_eq!(meta.checksum, Some(algorithm), "{old}");
            let again = serde_json::to_string(&meta).unwrap();
            assert!(again.contains(&format!("\"checksum\":\"{}\"", algorithm.name())));
            let back: UploadMeta = serde_json::from_str(&again).unwrap();
            assert_eq!(back.checksum, Some(algorithm));
        }
    }

    /// A folder whose `upload.json` does not read (nothing, a cut, zeros: what a crash or a
    /// damaged disk can leave) holds no committed part, since the first part commits only
    /// after it: it goes (and the journal brings the upload back, partless, if it holds it).
    #[test]
    fn uploads_whose_upload_json_a_crash_cut_short_are_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let whole = upload("b", "k", &"a".repeat(32)).meta;
        let text = serde_json::to_vec_pretty(&whole).unwrap();
        let cut = ["b", "c", "d", "e"].map(|c| c.repeat(32));
        let contents: [&[u8]; 4] = [
            &[],
            &text[..text.len() / 2],
            &text[..text.len() - 1],
            &[0; 64],
        ];
        for (id, content) in std::iter::once((&whole.id, &text[..])).chain(cut.iter().zip(contents))
        {
            let upload = root.join("uploads").join(id);
            std::fs::create_dir_all(&upload).unwrap();
            std::fs::write(upload.join("upload.json"), content).unwrap();
            std::fs::write(upload.join("part-1.x.data"), b"bytes").unwrap();
        }

        let clock = FaultControl::default().clock();
        let storage = Storage::open(root, clock, 1 << 20, "us-east-1".into()).unwrap();
        assert_eq!(storage.state().uploads.len(), 1);
        assert!(storage.state().uploads.contains_key(&whole.id));
        for id in &cut {
            assert!(
                !root.join("uploads").join(id).exists(),
                "{id} is still there"
            );
        }
    }

    #[test]
    fn aws_chunked_is_how_a_body_travelled_not_its_encoding() {
        let encoding = |sent: &str| {
            Headers::new(None, None, Some(sent.to_owned()), None, None).content_encoding
        };
        assert_eq!(encoding("aws-chunked"), None);
        assert_eq!(encoding("gzip,aws-chunked").as_deref(), Some("gzip"));
        assert_eq!(encoding("aws-chunked, br").as_deref(), Some("br"));
        assert_eq!(encoding("gzip").as_deref(), Some("gzip"));
        let expires = s3s::dto::Timestamp::parse(
            s3s::dto::TimestampFormat::HttpDate,
            "Wed, 02 Jan 2030 03:04:05 GMT",
        )
        .unwrap();
        let headers = Headers::new(None, None, None, None, Some(&expires));
        assert_eq!(
            headers.expires.as_deref(),
            Some("Wed, 02 Jan 2030 03:04:05 GMT")
        );
        assert_eq!(headers.expires_timestamp(), Some(expires));
        assert!(Headers::default().is_empty() && !headers.is_empty());
    }

    fn upload_json(algorithm: &str) -> String {
        format!(
            r#"{{"id": "u", "bucket": "b", "key": "k", "initiated_ms": 0, "content_type": null,
                "checksum": "{algorithm}", "checksum_type": "Composite"}}"#
        )
    }
}
