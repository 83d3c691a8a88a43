//! The uploads journal: the record that makes a new multipart upload durable before it has a
//! folder.
//!
//! CreateMultipartUpload appends one line (the upload's metadata) to `uploads.journal` and
//! answers once an fsync covers it; concurrent creates share that fsync (the group commit of
//! [`crate::fs::sync_dir`]), so a create costs a write and a share of one fsync instead of a
//! folder, a file and two fsyncs of its own. The upload's folder is made, durably, when its
//! first part commits: from then on the folder is the record ("settled") and the line is no
//! longer needed. Removing an upload whose line is still in the file appends a "gone" line
//! first, so a restart never brings it back.
//!
//! At start the store reads the file: a line that does not read (the last one, if a crash cut
//! its write short) is skipped. The file is rewritten, holding only the lines still needed, at start
//! and whenever it has doubled since the last rewrite (at least [`COMPACT_FLOOR`]), so its
//! size stays within twice what the unsettled uploads need.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::fs::sync_dir;

/// The file is rewritten once it passes twice its size after the last rewrite, and never
/// below this size.
const COMPACT_FLOOR: u64 = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line<T> {
    Create { id: String, upload: T },
    Gone { id: String },
}

/// What the file held at start.
#[derive(Debug)]
pub(crate) struct Replayed<T> {
    /// Uploads created and not removed, in the order they were created.
    pub live: Vec<(String, T)>,
    /// Uploads removed while their line was in the file.
    pub gone: Vec<String>,
}

/// The journal file and what is in it.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    /// The least size at which the file is rewritten: [`COMPACT_FLOOR`].
    floor: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: std::fs::File,
    len: u64,
    compact_at: u64,
    /// Whether a rewrite is under way (appends go on meanwhile).
    compacting: bool,
    /// Uploads whose create line is in the file and not followed by a gone line: whether the
    /// line is still needed (the upload has no folder yet).
    lines: HashMap<String, bool>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads what it holds.
    pub(crate) fn open<T: DeserializeOwned>(path: &Path) -> std::io::Result<(Self, Replayed<T>)> {
        let mut replayed = Replayed {
            live: Vec::new(),
            gone: Vec::new(),
        };
        let mut live: HashSet<String> = HashSet::new();
        match std::fs::File::open(path) {
            Ok(file) => {
                for line in std::io::BufReader::new(file).lines() {
                    let Ok(line) = line else { break };
                    // A line a crash cut short can only be the last (each line is one write,
                    // and a failed write is cut off before the next): skipped. One that does
                    // not read elsewhere is skipped too, and named, rather than ending the
                    // file there.
                    let Ok(parsed) = serde_json::from_str::<Line<T>>(&line) else {
                        tracing::warn!(
                            bytes = line.len(),
                            "an uploads journal line does not read; skipped"
                        );
                        continue;
                    };
                    match parsed {
                        Line::Create { id, upload } => {
                            live.insert(id.clone());
                            replayed.live.push((id, upload));
                        }
                        Line::Gone { id } => {
                            if live.remove(&id) {
                                replayed.gone.push(id);
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        replayed.live.retain(|(id, _)| live.contains(id));
        let file = append_to(path)?;
        let journal = Self {
            path: path.to_path_buf(),
            floor: COMPACT_FLOOR,
            inner: Mutex::new(Inner {
                len: file.metadata()?.len(),
                file,
                compact_at: 0,
                compacting: false,
                lines: live.into_iter().map(|id| (id, false)).collect(),
            }),
        };
        Ok((journal, replayed))
    }

    /// Rewrites the file with the create lines of `needed` (uploads read at start that still
    /// have no folder) and nothing else.
    pub(crate) fn keep<'a>(
        &self,
        needed: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<()> {
        let needed: HashSet<&str> = needed.into_iter().collect();
        let mut inner = self.lock();
        inner.lines = std::mem::take(&mut inner.lines)
            .into_keys()
            .filter(|id| needed.contains(id.as_str()))
            .map(|id| (id, true))
            .collect();
        let mut out = self.next_file()?;
        let len = copy_creates(&self.path, u64::MAX, |id| needed.contains(id), &mut out)?;
        inner.file = self.install(out)?;
        inner.len = len;
        inner.compact_at = (2 * len).max(self.floor);
        Ok(())
    }

    /// Records a new upload; answers once the record is durable.
    pub(crate) fn create<T: Serialize>(&self, id: &str, upload: &T) -> std::io::Result<()> {
        let line = Line::Create {
            id: id.to_owned(),
            upload,
        };
        self.append(&line, |lines| {
            lines.insert(id.to_owned(), true);
        })
    }

    /// The upload's folder is durable: its line is no longer needed.
    pub(crate) fn settled(&self, id: &str) {
        if let Some(needed) = self.lock().lines.get_mut(id) {
            *needed = false;
        }
    }

    /// Records that an upload is being removed, if its create line is in the file; answers
    /// once that is durable.
    pub(crate) fn gone(&self, id: &str) -> std::io::Result<()> {
        if !self.lock().lines.contains_key(id) {
            return Ok(());
        }
        let line: Line<()> = Line::Gone { id: id.to_owned() };
        self.append(&line, |lines| {
            lines.remove(id);
        })
    }

    /// Whether the upload's create line is still needed (it has no folder yet).
    pub(crate) fn is_needed(&self, id: &str) -> bool {
        self.lock().lines.get(id).copied().unwrap_or(false)
    }

    /// Appends `line`, changes the bookkeeping with `note` under the same lock, then waits for
    /// an fsync that covers the line. The append that takes the file past its mark then
    /// rewrites it.
    fn append<L: Serialize>(
        &self,
        line: &L,
        note: impl FnOnce(&mut HashMap<String, bool>),
    ) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        text.push(b'\n');
        let rewrite_upto = {
            let mut inner = self.lock();
            if let Err(e) = inner.file.write_all(&text) {
                // Whatever part of the line went in ends the file at the next start; the
                // next line must not follow it.
                let len = inner.len;
                let _ = inner.file.set_len(len);
                return Err(e);
            }
            inner.len += text.len() as u64;
            note(&mut inner.lines);
            let due = inner.len >= inner.compact_at && !inner.compacting;
            inner.compacting |= due;
            due.then_some(inner.len)
        };
        // Concurrent appends share this fsync. Should the file be rewritten meanwhile, the
        // rewrite holds this line (it copies every line written before it takes the lock to
        // finish) and was fsynced with its name before it let the lock go: the fsync of the
        // path covers either file.
        sync_dir(&self.path)?;
        if let Some(upto) = rewrite_upto {
            // This line is durable whatever the rewrite does.
            if let Err(e) = self.compact(upto) {
                tracing::warn!(error = %e, "could not rewrite the uploads journal");
            }
        }
        Ok(())
    }

    /// Rewrites the file with the lines still needed. The lines before `upto` are copied,
    /// those whose uploads still need them, without the lock, so appends go on meanwhile; the
    /// lock is taken only to copy what was appended since, as it is, and put the new file in
    /// place.
    fn compact(&self, upto: u64) -> std::io::Result<()> {
        let result = (|| {
            let needed: HashSet<String> = {
                let inner = self.lock();
                let ids = inner.lines.iter().filter(|(_, needed)| **needed);
                ids.map(|(id, _)| id.clone()).collect()
            };
            let mut out = self.next_file()?;
            let kept = copy_creates(&self.path, upto, |id| needed.contains(id), &mut out)?;
            out.flush()?;
            out.get_ref().sync_all()?;
            let mut inner = self.lock();
            let mut tail = Vec::new();
            let mut old = std::fs::File::open(&self.path)?;
            old.seek(std::io::SeekFrom::Start(upto))?;
            old.take(inner.len - upto).read_to_end(&mut tail)?;
            let created_since: HashSet<String> = tail
                .split(|b| *b == b'\n')
                .filter_map(
                    |line| match serde_json::from_slice::<Line<IgnoredAny>>(line) {
                        Ok(Line::Create { id, .. }) => Some(id),
                        _ => None,
                    },
                )
                .collect();
            out.write_all(&tail)?;
            inner.file = self.install(out)?;
            inner.len = kept + tail.len() as u64;
            // Every upload with a create line in the new file keeps its note, so removing it
            // still writes a gone line.
            inner
                .lines
                .retain(|id, n| *n || needed.contains(id) || created_since.contains(id));
            Ok(())
        })();
        let mut inner = self.lock();
        inner.compacting = false;
        // After a failure too: the next try waits for the file to double again.
        inner.compact_at = (2 * inner.len).max(self.floor);
        result
    }

    /// Where the journal is rewritten before the new file takes its name.
    fn next_path(&self) -> PathBuf {
        self.path.with_extension("journal.next")
    }

    /// A new file beside the journal to rewrite it into.
    fn next_file(&self) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::new(std::fs::File::create(
            self.next_path(),
        )?))
    }

    /// Puts the rewritten file in place durably (fsynced, renamed over the journal, the
    /// folder fsynced); answers it, open for appending.
    fn install(&self, out: std::io::BufWriter<std::fs::File>) -> std::io::Result<std::fs::File> {
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(self.next_path(), &self.path)?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        append_to(&self.path)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Copies, line by line (never holding the file in memory), the create lines among the first
/// `upto` bytes of the file at `path` whose upload `keep` names; answers the bytes copied.
/// A line that does not read is left out, as at start.
fn copy_creates(
    path: &Path,
    upto: u64,
    keep: impl Fn(&str) -> bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<u64> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut copied = 0u64;
    for line in std::io::BufReader::new(file.take(upto)).lines() {
        let Ok(line) = line else { break };
        let Ok(parsed) = serde_json::from_str::<Line<IgnoredAny>>(&line) else {
            continue;
        };
        if let Line::Create { id, .. } = parsed
            && keep(&id)
        {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            copied += line.len() as u64 + 1;
        }
    }
    Ok(copied)
}

fn append_to(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Upload {
        key: String,
    }

    fn upload(n: usize) -> Upload {
        Upload {
            key: format!("key-{n}"),
        }
    }

    fn open(path: &Path) -> (Journal, Replayed<Upload>) {
        Journal::open::<Upload>(path).unwrap()
    }

    /// A journal opened and kept empty in a new folder (kept alive by the first value).
    fn fresh() -> (tempfile::TempDir, PathBuf, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uploads.journal");
        let (journal, replayed) = open(&path);
        assert!(replayed.live.is_empty() && replayed.gone.is_empty());
        journal.keep([]).unwrap();
        (dir, path, journal)
    }

    fn ids(replayed: &Replayed<Upload>) -> Vec<&str> {
        replayed.live.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn creates_outlive_a_restart_and_gone_ones_are_named_as_gone() {
        let (_dir, path, journal) = fresh();
        for n in 0..3 {
            journal.create(&format!("u{n}"), &upload(n)).unwrap();
        }
        assert!(journal.is_needed("u1"));
        journal.gone("u1").unwrap();
        assert!(!journal.is_needed("u1"));
        // An upload the file never held needs no line.
        journal.gone("never").unwrap();
        drop(journal);

        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2"]);
        assert_eq!(replayed.live[1].1, upload(2));
        assert_eq!(replayed.gone, ["u1"]);
    }

    #[test]
    fn a_line_a_crash_cut_short_ends_the_file_and_the_next_append_is_read() {
        let (_dir, path, journal) = fresh();
        journal.create("u0", &upload(0)).unwrap();
        drop(journal);
        let mut file = append_to(&path).unwrap();
        file.write_all(br#"{"create":{"id":"u1","upl"#).unwrap();
        drop(file);

        let (journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0"]);
        // The start rewrites the file, so what comes next is not glued to the cut line.
        journal.keep(["u0"]).unwrap();
        journal.create("u2", &upload(2)).unwrap();
        drop(journal);
        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2"]);
    }

    #[test]
    fn a_damaged_line_hides_no_line_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uploads.journal");
        let line = |id: &str, n| {
            serde_json::to_string(&Line::Create {
                id: id.to_owned(),
                upload: upload(n),
            })
            .unwrap()
        };
        let damaged = r#"{"create":{"id":"u1","upload":{"key":3}}}"#;
        let text = format!(
            "{}\n{damaged}\nnot json\n{}\n",
            line("u0", 0),
            line("u2", 2)
        );
        std::fs::write(&path, text).unwrap();
        let (journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2"]);
        journal.keep(["u0", "u2"]).unwrap();
        journal.create("u3", &upload(3)).unwrap();
        drop(journal);
        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2", "u3"]);
    }

    #[test]
    fn the_start_keeps_only_the_lines_still_needed() {
        let (_dir, path, journal) = fresh();
        for n in 0..4 {
            journal.create(&format!("u{n}"), &upload(n)).unwrap();
        }
        drop(journal);
        let (journal, replayed) = open(&path);
        assert_eq!(replayed.live.len(), 4);
        // u1 and u3 have folders now: the store does not ask for them.
        journal.keep(["u0", "u2"]).unwrap();
        assert!(journal.is_needed("u0") && !journal.is_needed("u1"));
        drop(journal);
        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2"]);
        assert!(replayed.gone.is_empty());
    }

    #[test]
    fn settled_and_gone_lines_leave_the_file_as_it_grows() {
        let (_dir, path, mut journal) = fresh();
        journal.floor = 4096;
        // Again, so the first rewrite comes at the new floor.
        journal.keep([]).unwrap();
        let line = serde_json::to_vec(&Line::Create {
            id: "u00000".to_owned(),
            upload: upload(0),
        })
        .unwrap()
        .len() as u64
            + 1;
        // Ten times the floor's worth of lines; one in a hundred is never settled.
        let count = (10 * journal.floor / line) as usize;
        let mut largest = 0;
        for n in 0..count {
            let id = format!("u{n:05}");
            journal.create(&id, &upload(n)).unwrap();
            match n % 100 {
                0 => {}
                1 => journal.gone(&id).unwrap(),
                _ => journal.settled(&id),
            }
            largest = largest.max(std::fs::metadata(&path).unwrap().len());
        }
        let unsettled = count.div_ceil(100) as u64;
        assert!(
            largest <= (2 * unsettled * line).max(journal.floor) + 2 * line,
            "the file grew to {largest} bytes for {unsettled} unsettled uploads"
        );
        drop(journal);
        // Every unsettled upload is read back, and no upload that went; settled ones may be
        // (the store then finds their folders).
        let (_journal, replayed) = open(&path);
        let live: HashSet<&str> = ids(&replayed).into_iter().collect();
        for n in 0..count {
            let id = format!("u{n:05}");
            match n % 100 {
                0 => assert!(live.contains(id.as_str()), "{id} was lost"),
                1 => assert!(!live.contains(id.as_str()), "{id} came back"),
                _ => {}
            }
        }
        assert!(live.len() < count / 10, "{} lines read back", live.len());
    }

    #[test]
    fn creates_settles_and_removals_side_by_side_with_rewrites_lose_nothing() {
        let (_dir, path, mut journal) = fresh();
        journal.floor = 4096;
        journal.keep([]).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let journal = &journal;
                scope.spawn(move || {
                    for n in 0..150 {
                        let id = format!("t{t}-{n}");
                        journal.create(&id, &upload(n)).unwrap();
                        match n % 3 {
                            0 => {}
                            1 => journal.settled(&id),
                            _ => journal.gone(&id).unwrap(),
                        }
                    }
                });
            }
        });
        // Rewrites happened (the file would hold 1,200 creates and 400 gone lines without).
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 40_000, "the file is {size} bytes");
        drop(journal);
        let (_journal, replayed) = open(&path);
        let live: HashSet<&str> = ids(&replayed).into_iter().collect();
        for t in 0..8 {
            for n in 0..150 {
                let id = format!("t{t}-{n}");
                match n % 3 {
                    0 => assert!(live.contains(id.as_str()), "{id} was lost"),
                    2 => assert!(!live.contains(id.as_str()), "{id} came back"),
                    _ => {}
                }
            }
        }
    }
}
