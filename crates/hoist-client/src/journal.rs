//! The resume journal: what an interrupted upload had stored, kept in a state directory.
//!
//! One JSON file per (source path, size, mtime, destination). It is written to a temporary
//! file and renamed over the old one, so a `kill -9` leaves either the previous or the new
//! journal, never a torn one. The store's ListParts stays the truth: the journal only says
//! which upload to continue and which part checksums were sent.

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
    /// `s3://bucket/key` or the coordinator URL plus the requested key.
    pub destination: String,
}

impl JournalKey {
    /// The journal's file name: a hash of the key, so any path or key is a safe name.
    pub fn file_name(&self) -> String {
        let mut h = ChecksumAlgorithm::Sha256.hasher();
        h.update(self.source.to_string_lossy().as_bytes());
        h.update(&[0]);
        h.update(&self.size.to_be_bytes());
        h.update(&self.mtime_ns.to_be_bytes());
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
    pub const VERSION: u32 = 1;

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
        let journal: Journal = serde_json::from_slice(&text).map_err(|e| journal_err(&path, e))?;
        if journal.version != Self::VERSION || &journal.key != key {
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
    fn journals_written_before_core_checksums_still_read() {
        // As the engine wrote them when it had its own checksum type: lowercase names,
        // `none` for no checksum, part checksums in base64.
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_in(dir.path(), &key());
        // The name is the same hash as before, so the journal is found.
        assert!(path.ends_with("uploads/bfddd20abf6ad3e0266c76e910daf64a.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let old = |checksum: &str, part_sum: &str| {
            format!(
                r#"{{"version":1,"key":{{"source":"/data/a b.bin","size":10,"mtime_ns":5,"destination":"s3://b/k"}},"upload_id":"u1","bucket":"b","object_key":"k","part_size":5,"part_count":2,"checksum":"{checksum}","parts":{{"1":{{"etag":"\"e\"","size":5{part_sum}}}}}}}"#
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
            let text = old(name, part_sum);
            std::fs::write(&path, &text).unwrap();
            let j = Journal::load(dir.path(), &key()).unwrap().unwrap();
            assert_eq!(j.checksum, alg, "{name}");
            assert_eq!(j.parts[&1].etag, "\"e\"");
            assert_eq!(
                j.parts[&1].checksum.is_some(),
                !part_sum.is_empty(),
                "{name}"
            );
            // Written back the same way, so an older hoist reads it too.
            assert_eq!(serde_json::to_string(&j).unwrap(), text, "{name}");
        }
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
