//! The resume journal: what an interrupted upload had stored, kept in a state directory.
//!
//! One JSON file per upload, named by what the upload is: the source file's identity (path,
//! size, modification time and a fingerprint of its first and last bytes) and its destination
//! (the bucket and key, or what the coordinator is asked for), never the address of the
//! server that carried it. Any coordinator sharing the token secret, or any endpoint of the
//! same store, continues it.
//!
//! It is written to a temporary file and renamed over the old one, so a `kill -9` leaves
//! either the previous or the new journal, never a torn one. The store's ListParts stays the
//! truth: the journal only says which upload to continue and which part checksums were sent.
//!
//! Journals of version 1 (keyed by the server's address) are ignored: their names differ, so
//! they are never found, and the parts they left are aborted by the store's lifecycle rule or
//! `hoist gc`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hoist_core::checksum::ChecksumAlgorithm;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What identifies "the same upload" across runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalKey {
    /// The source file's absolute path.
    pub source: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch; a changed file is a new upload.
    pub mtime_ns: u128,
    /// A digest of the file's first and last 64 KiB (`fingerprint`): a file rewritten in
    /// place with its size and time restored is a new upload too.
    pub fingerprint: String,
    /// Where the object goes, whichever server carries it ([`crate::Transport::destination`]):
    /// `s3://bucket/key` in direct mode; through a coordinator, the caller and the key or file
    /// name asked for.
    pub destination: String,
}

/// How many bytes of each end of a file its fingerprint reads.
pub const FINGERPRINT_SPAN: u64 = 64 * 1024;

/// The fingerprint of a file of `size` bytes: SHA-256 over its first and last
/// [`FINGERPRINT_SPAN`] bytes (the whole file when smaller), in hex, shortened to 128 bits.
pub fn fingerprint(file: &std::fs::File, size: u64) -> std::io::Result<String> {
    use std::os::unix::fs::FileExt as _;
    let mut h = ChecksumAlgorithm::Sha256.hasher();
    let head = size.min(FINGERPRINT_SPAN);
    let tail_at = size.saturating_sub(FINGERPRINT_SPAN).max(head);
    for (offset, len) in [(0, head), (tail_at, size - tail_at)] {
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset)?;
        h.update(&buf);
    }
    h.update(&size.to_be_bytes());
    Ok(hoist_core::encoding::hex(&h.finish().as_bytes()[..16]))
}

impl JournalKey {
    /// The journal's file name: a hash of the key, so any path or key is a safe name.
    pub fn file_name(&self) -> String {
        let mut h = ChecksumAlgorithm::Sha256.hasher();
        h.update(self.source.to_string_lossy().as_bytes());
        h.update(&[0]);
        h.update(&self.size.to_be_bytes());
        h.update(&self.mtime_ns.to_be_bytes());
        h.update(self.fingerprint.as_bytes());
        h.update(&[0]);
        h.update(self.destination.as_bytes());
        let digest = h.finish();
        format!(
            "{}.json",
            hoist_core::encoding::hex(&digest.as_bytes()[..16])
        )
    }
}

/// A part the store acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPart {
    pub etag: String,
    pub size: u64,
    /// The checksum sent with the part (base64), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// The journal of one multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub key: JournalKey,
    /// The S3 upload id (direct) or the coordinator's upload token.
    pub upload_id: String,
    pub bucket: String,
    pub object_key: String,
    pub part_size: u64,
    pub part_count: u32,
    /// The upload's checksum algorithm; `none` in the file when it has none.
    #[serde(with = "crate::checksum::journal_name")]
    pub checksum: Option<ChecksumAlgorithm>,
    pub parts: BTreeMap<u32, JournalPart>,
}

impl Journal {
    pub const VERSION: u32 = 2;

    /// The journal's path inside `state_dir`.
    pub fn path_in(state_dir: &Path, key: &JournalKey) -> PathBuf {
        state_dir.join("uploads").join(key.file_name())
    }

    /// Reads the journal for `key`, if one exists and belongs to it.
    pub fn load(state_dir: &Path, key: &JournalKey) -> Result<Option<Journal>> {
        let path = Self::path_in(state_dir, key);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(journal_err(&path, e)),
        };
        // Another version is not this key's journal, whatever its shape.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version = serde_json::from_slice(&text).map_err(|e| journal_err(&path, e))?;
        if version.version != Self::VERSION {
            return Ok(None);
        }
        let journal: Journal = serde_json::from_slice(&text).map_err(|e| journal_err(&path, e))?;
        if &journal.key != key {
            return Ok(None);
        }
        Ok(Some(journal))
    }

    /// Writes the journal atomically: temporary file, fsync, rename.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        let path = Self::path_in(state_dir, &self.key);
        let dir = path.parent().expect("journal path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| journal_err(dir, e))?;
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        let body = serde_json::to_vec(self).map_err(|e| journal_err(&path, e))?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            journal_err(&path, e)
        })
    }

    /// Removes the journal once the upload is completed or aborted.
    pub fn remove(state_dir: &Path, key: &JournalKey) -> Result<()> {
        let path = Self::path_in(state_dir, key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(journal_err(&path, e)),
        }
    }
}

/// The default state directory: `$XDG_STATE_HOME/hoist`, else `~/.local/state/hoist`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("hoist"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/hoist"))
}

fn journal_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Journal {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> JournalKey {
        JournalKey {
            source: "/data/a b.bin".into(),
            size: 10,
            mtime_ns: 5,
            fingerprint: "f0".into(),
            destination: "s3://b/k".into(),
        }
    }

    #[test]
    fn save_load_round_trip_and_key_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal {
            version: Journal::VERSION,
            key: key(),
            upload_id: "u1".into(),
            bucket: "b".into(),
            object_key: "k".into(),
            part_size: 5,
            part_count: 2,
            checksum: Some(ChecksumAlgorithm::Crc64Nvme),
            parts: BTreeMap::new(),
        };
        j.parts.insert(
            1,
            JournalPart {
                etag: "\"e\"".into(),
                size: 5,
                checksum: Some("AAAA".into()),
            },
        );
        j.save(dir.path()).unwrap();
        assert_eq!(Journal::load(dir.path(), &key()).unwrap(), Some(j.clone()));
        // A touched file (other mtime) is another upload.
        let other = JournalKey {
            mtime_ns: 6,
            ..key()
        };
        assert_eq!(Journal::load(dir.path(), &other).unwrap(), None);
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        Journal::remove(dir.path(), &key()).unwrap();
        assert_eq!(Journal::load(dir.path(), &key()).unwrap(), None);
    }

    #[test]
    fn checksum_names_are_written_as_before() {
        // Lowercase names, `none` for no checksum, part checksums in base64, as every
        // version of the journal has written them.
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_in(dir.path(), &key());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = |checksum: &str, part_sum: &str| {
            format!(
                r#"{{"version":2,"key":{{"source":"/data/a b.bin","size":10,"mtime_ns":5,"fingerprint":"f0","destination":"s3://b/k"}},"upload_id":"u1","bucket":"b","object_key":"k","part_size":5,"part_count":2,"checksum":"{checksum}","parts":{{"1":{{"etag":"\"e\"","size":5{part_sum}}}}}}}"#
            )
        };
        for (name, alg, part_sum) in [
            (
                "crc64nvme",
                Some(ChecksumAlgorithm::Crc64Nvme),
                r#","checksum":"AAAAAAAAAAA=""#,
            ),
            (
                "crc32c",
                Some(ChecksumAlgorithm::Crc32c),
                r#","checksum":"4waSgw==""#,
            ),
            ("sha256", Some(ChecksumAlgorithm::Sha256), ""),
            ("none", None, ""),
        ] {
            let text = text(name, part_sum);
            std::fs::write(&path, &text).unwrap();
            let j = Journal::load(dir.path(), &key()).unwrap().unwrap();
            assert_eq!(j.checksum, alg, "{name}");
            assert_eq!(j.parts[&1].etag, "\"e\"");
            assert_eq!(
                j.parts[&1].checksum.is_some(),
                !part_sum.is_empty(),
                "{name}"
            );
            assert_eq!(serde_json::to_string(&j).unwrap(), text, "{name}");
        }
    }

    #[test]
    fn journals_keyed_by_the_server_address_are_ignored() {
        // Version 1 was keyed by the coordinator's URL: it is another file name, and even
        // copied onto this key's name it is not taken for this upload.
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_in(dir.path(), &key());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let v1 = r#"{"version":1,"key":{"source":"/data/a b.bin","size":10,"mtime_ns":5,"destination":"http://a:8080#k"},"upload_id":"u1","bucket":"b","object_key":"k","part_size":5,"part_count":2,"checksum":"none","parts":{}}"#;
        std::fs::write(&path, v1).unwrap();
        assert_eq!(Journal::load(dir.path(), &key()).unwrap(), None);
    }

    #[test]
    fn fingerprints_see_both_ends_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let size = 3 * FINGERPRINT_SPAN;
        let mut data = vec![7u8; size as usize];
        let print = |data: &[u8]| {
            std::fs::write(&path, data).unwrap();
            fingerprint(&std::fs::File::open(&path).unwrap(), data.len() as u64).unwrap()
        };
        let base = print(&data);
        assert_eq!(base.len(), 32);
        assert_eq!(print(&data), base);
        data[size as usize - 1] = 8;
        let tail = print(&data);
        assert_ne!(tail, base);
        data[0] = 8;
        assert_ne!(print(&data), tail);
        // Small and empty files are read whole.
        assert_ne!(print(b"ab"), print(b"ba"));
        assert_eq!(print(b"").len(), 32);
    }

    #[test]
    fn corrupt_journal_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_in(dir.path(), &key());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            Journal::load(dir.path(), &key()),
            Err(Error::Journal { .. })
        ));
    }
}
