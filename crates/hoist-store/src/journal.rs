//! The uploads journal: the record that makes a new multipart upload durable before it has a
//! folder.
//!
//! CreateMultipartUpload appends one line (the upload's metadata) to `uploads.journal` and
//! answers once an fsync covers it. The lines go through one thread of the journal's own (its
//! writer): it takes every line queued since its last turn, writes them in one `write` and
//! covers them with one `fdatasync`, then answers each request, which awaited that answer
//! without holding a thread (group commit). So a create costs a share of one write and one
//! fsync instead of a folder, a file and two fsyncs of its own, and while an fsync runs the
//! creates that arrive queue for the next. The upload's folder is made, durably, when its
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

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

/// The journal file and what is in it, and its writer thread.
#[derive(Debug)]
pub(crate) struct Journal {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// What the journal's handle, its writer and a rewrite share.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// Wakes the writer when a line is queued or the journal closes.
    wake: Condvar,
    /// Fsyncs the writer ran (each covers every line queued before its turn).
    #[cfg(test)]
    syncs: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Inner {
    file: Arc<std::fs::File>,
    len: u64,
    compact_at: u64,
    /// The least size at which the file is rewritten: [`COMPACT_FLOOR`].
    floor: u64,
    /// Whether a rewrite is under way (appends go on meanwhile).
    compacting: bool,
    /// Uploads whose create line is in the file and not followed by a gone line: whether the
    /// line is still needed (the upload has no folder yet).
    lines: HashMap<String, bool>,
    /// Lines waiting for the writer's next turn.
    queue: Vec<Queued>,
    /// The writer waits for a line (so a new one must wake it).
    writer_waiting: bool,
    /// The writer is running; once it stopped, appends fail rather than wait.
    writer_running: bool,
    /// The journal is closing: the writer ends once the queue is empty.
    closed: bool,
    /// A test holds the writer: lines queue and are not written.
    #[cfg(test)]
    held: bool,
    /// A test makes the writer's next turn panic before it takes the queue, as a bug would.
    #[cfg(test)]
    panic_next_turn: bool,
}

impl Inner {
    /// Whether the writer has nothing to do now.
    fn idle(&self) -> bool {
        #[cfg(test)]
        if self.held {
            return true;
        }
        self.queue.is_empty()
    }
}

/// A line waiting to be written, what it changes in the bookkeeping once it is, and where
/// its request awaits the outcome.
#[derive(Debug)]
struct Queued {
    text: Vec<u8>,
    note: Note,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Debug)]
enum Note {
    Create(String),
    Gone(String),
}

/// What a request hears of its line: durable (and, for one request of a turn, that the file
/// is due to be rewritten up to that length), or the error that kept it from being.
type Outcome = Result<Option<u64>, Arc<std::io::Error>>;

impl Journal {
    /// Opens (or creates) the journal at `path`, reads what it holds and starts its writer.
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
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                len: file.metadata()?.len(),
                file: Arc::new(file),
                compact_at: 0,
                floor: COMPACT_FLOOR,
                compacting: false,
                lines: live.into_iter().map(|id| (id, false)).collect(),
                queue: Vec::new(),
                writer_waiting: false,
                writer_running: true,
                closed: false,
                #[cfg(test)]
                held: false,
                #[cfg(test)]
                panic_next_turn: false,
            }),
            wake: Condvar::new(),
            #[cfg(test)]
            syncs: std::sync::atomic::AtomicU64::new(0),
        });
        let for_writer = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("hoist-journal".to_owned())
            .spawn(move || write_lines(&for_writer))?;
        let journal = Self {
            shared,
            writer: Some(writer),
        };
        Ok((journal, replayed))
    }

    /// Rewrites the file with the create lines of `needed` (uploads read at start that still
    /// have no folder) and nothing else.
    pub(crate) fn keep<'a>(
        &self,
        needed: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<()> {
        let shared = &self.shared;
        let needed: HashSet<&str> = needed.into_iter().collect();
        let mut inner = shared.lock();
        inner.lines = std::mem::take(&mut inner.lines)
            .into_keys()
            .filter(|id| needed.contains(id.as_str()))
            .map(|id| (id, true))
            .collect();
        let mut out = shared.next_file()?;
        let len = copy_creates(&shared.path, u64::MAX, |id| needed.contains(id), &mut out)?;
        inner.file = Arc::new(shared.install(out)?);
        inner.len = len;
        inner.compact_at = (2 * len).max(inner.floor);
        Ok(())
    }

    /// Records a new upload; answers once the record is durable.
    pub(crate) async fn create<T: Serialize>(&self, id: &str, upload: &T) -> std::io::Result<()> {
        let line = Line::Create {
            id: id.to_owned(),
            upload,
        };
        let reply = self.queue(&line, Note::Create(id.to_owned()))?;
        self.settle(reply.await).await
    }

    /// Records that an upload is being removed, if its create line is in the file; answers
    /// once that is durable.
    pub(crate) async fn gone(&self, id: &str) -> std::io::Result<()> {
        if !self.shared.lock().lines.contains_key(id) {
            return Ok(());
        }
        let line: Line<()> = Line::Gone { id: id.to_owned() };
        let reply = self.queue(&line, Note::Gone(id.to_owned()))?;
        self.settle(reply.await).await
    }

    /// The upload's folder is durable: its line is no longer needed.
    pub(crate) fn settled(&self, id: &str) {
        if let Some(needed) = self.shared.lock().lines.get_mut(id) {
            *needed = false;
        }
    }

    /// Whether the upload's create line is still needed (it has no folder yet).
    pub(crate) fn is_needed(&self, id: &str) -> bool {
        self.shared.lock().lines.get(id).copied().unwrap_or(false)
    }

    /// Queues `line` for the writer; the receiver hears once it is durable.
    fn queue<L: Serialize>(
        &self,
        line: &L,
        note: Note,
    ) -> std::io::Result<oneshot::Receiver<Outcome>> {
        let mut text = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        text.push(b'\n');
        let (reply, outcome) = oneshot::channel();
        let mut inner = self.shared.lock();
        if !inner.writer_running {
            return Err(writer_stopped());
        }
        inner.queue.push(Queued { text, note, reply });
        if inner.writer_waiting {
            inner.writer_waiting = false;
            self.shared.wake.notify_one();
        }
        Ok(outcome)
    }

    /// A request's answer from the writer. The one told that the file is due to be rewritten
    /// rewrites it on the blocking pool before it answers (its line is durable already; a
    /// rewrite every time the file doubles, so one request in thousands waits for one).
    async fn settle(
        &self,
        outcome: Result<Outcome, oneshot::error::RecvError>,
    ) -> std::io::Result<()> {
        match outcome {
            Err(_) => Err(writer_stopped()),
            Ok(Err(e)) => Err(std::io::Error::new(e.kind(), e.to_string())),
            Ok(Ok(due)) => {
                if let Some(upto) = due {
                    let shared = Arc::clone(&self.shared);
                    // Should this request go away meanwhile, the rewrite still runs to its end.
                    let _ = tokio::task::spawn_blocking(move || shared.compact(upto)).await;
                }
                Ok(())
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Puts the calling thread (the writer) under Linux's `SCHED_BATCH` (its nice value stays):
/// woken while another thread runs on its CPU (an fsync ended, a line came), it no longer
/// preempts that thread but runs when that thread blocks or its time slice ends. On a busy CPU
/// the writer would otherwise preempt the thread taking requests at every fsync's end, about
/// once per create under load; waiting, it finds more lines queued for its next fsync. With an
/// idle CPU it runs at once, as before. Best effort: where the policy cannot be set, the writer
/// runs as it is.
fn yield_to_request_threads() {
    #[cfg(target_os = "linux")]
    if scheduler::set_self_policy(scheduler::Policy::Batch, 0).is_err() {
        tracing::debug!("the uploads journal's writer keeps its scheduling policy");
    }
}

fn writer_stopped() -> std::io::Error {
    std::io::Error::other("the uploads journal's writer stopped")
}

/// The writer: every turn takes the lines queued, writes them in one `write`, notes them,
/// covers them with one `fdatasync` (the lock let go meanwhile, so the next lines queue) and
/// answers their requests. Ends once the journal closed and nothing is queued.
fn write_lines(shared: &Shared) {
    /// Marks the writer stopped however it ends, and drops what is still queued (its
    /// requests hear that the writer stopped), so that no request waits for it.
    struct Running<'a>(&'a Shared);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            let mut inner = self.0.lock();
            inner.writer_running = false;
            inner.queue.clear();
        }
    }
    let _running = Running(shared);
    yield_to_request_threads();
    let mut inner = shared.lock();
    loop {
        while inner.idle() {
            if inner.closed && inner.queue.is_empty() {
                return;
            }
            inner.writer_waiting = true;
            inner = shared
                .wake
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        #[cfg(test)]
        assert!(
            !inner.panic_next_turn,
            "a journal writer's bug, as a test makes it"
        );
        let turn = std::mem::take(&mut inner.queue);
        let mut text = Vec::with_capacity(turn.iter().map(|q| q.text.len()).sum());
        for queued in &turn {
            text.extend_from_slice(&queued.text);
        }
        let written = match (&*inner.file).write_all(&text) {
            Ok(()) => {
                inner.len += text.len() as u64;
                for queued in &turn {
                    match &queued.note {
                        Note::Create(id) => {
                            inner.lines.insert(id.clone(), true);
                        }
                        Note::Gone(id) => {
                            inner.lines.remove(id);
                        }
                    }
                }
                let due = inner.len >= inner.compact_at && !inner.compacting;
                inner.compacting |= due;
                Ok(due.then_some(inner.len))
            }
            Err(e) => {
                // Whatever part of the lines went in ends the file at the next start; the
                // next line must not follow it.
                let len = inner.len;
                let _ = inner.file.set_len(len);
                Err(Arc::new(e))
            }
        };
        // Should the file be rewritten before this fsync, the rewrite holds these lines (it
        // copies every line written before it takes the lock to finish) and was fsynced with
        // its name before it let the lock go: the fsync of either file covers them.
        let file = Arc::clone(&inner.file);
        drop(inner);
        let outcome = written.and_then(|due| file.sync_data().map(|()| due).map_err(Arc::new));
        #[cfg(test)]
        shared
            .syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut rewrite = outcome.as_ref().ok().copied().flatten();
        for queued in turn {
            // The first request takes the rewrite, if one is due.
            let answer = outcome.clone().map(|_| rewrite.take());
            if let Err(Ok(Some(upto))) = queued.reply.send(answer) {
                // Its request went away: the rewrite is not left undone.
                rewrite = Some(upto);
            }
        }
        if let Some(upto) = rewrite {
            // No request took it: every one of this turn's went away.
            shared.compact(upto);
        }
        inner = shared.lock();
    }
}

impl Shared {
    /// Rewrites the file with the lines still needed. The lines before `upto` are copied,
    /// those whose uploads still need them, without the lock, so appends go on meanwhile; the
    /// lock is taken only to copy what was appended since, as it is, and put the new file in
    /// place. A failure is logged: the next rewrite is due when the file doubles again.
    fn compact(&self, upto: u64) {
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
            inner.file = Arc::new(self.install(out)?);
            inner.len = kept + tail.len() as u64;
            // Every upload with a create line in the new file keeps its note, so removing it
            // still writes a gone line.
            inner
                .lines
                .retain(|id, n| *n || needed.contains(id) || created_since.contains(id));
            Ok::<_, std::io::Error>(())
        })();
        let mut inner = self.lock();
        inner.compacting = false;
        // After a failure too: the next try waits for the file to double again.
        inner.compact_at = (2 * inner.len).max(inner.floor);
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not rewrite the uploads journal");
        }
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

    /// Runs a journal's future to its end on a runtime of its own.
    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn create(journal: &Journal, id: &str, upload: &Upload) {
        run(journal.create(id, upload)).unwrap();
    }

    fn gone(journal: &Journal, id: &str) {
        run(journal.gone(id)).unwrap();
    }

    fn ids(replayed: &Replayed<Upload>) -> Vec<&str> {
        replayed.live.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn creates_outlive_a_restart_and_gone_ones_are_named_as_gone() {
        let (_dir, path, journal) = fresh();
        for n in 0..3 {
            create(&journal, &format!("u{n}"), &upload(n));
        }
        assert!(journal.is_needed("u1"));
        gone(&journal, "u1");
        assert!(!journal.is_needed("u1"));
        // An upload the file never held needs no line.
        gone(&journal, "never");
        drop(journal);

        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2"]);
        assert_eq!(replayed.live[1].1, upload(2));
        assert_eq!(replayed.gone, ["u1"]);
    }

    #[test]
    fn a_line_a_crash_cut_short_ends_the_file_and_the_next_append_is_read() {
        let (_dir, path, journal) = fresh();
        create(&journal, "u0", &upload(0));
        drop(journal);
        let mut file = append_to(&path).unwrap();
        file.write_all(br#"{"create":{"id":"u1","upl"#).unwrap();
        drop(file);

        let (journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0"]);
        // The start rewrites the file, so what comes next is not glued to the cut line.
        journal.keep(["u0"]).unwrap();
        create(&journal, "u2", &upload(2));
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
        create(&journal, "u3", &upload(3));
        drop(journal);
        let (_journal, replayed) = open(&path);
        assert_eq!(ids(&replayed), ["u0", "u2", "u3"]);
    }

    #[test]
    fn the_start_keeps_only_the_lines_still_needed() {
        let (_dir, path, journal) = fresh();
        for n in 0..4 {
            create(&journal, &format!("u{n}"), &upload(n));
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
        let (_dir, path, journal) = fresh();
        let floor = 4096;
        journal.shared.lock().floor = floor;
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
        let count = (10 * floor / line) as usize;
        let mut largest = 0;
        for n in 0..count {
            let id = format!("u{n:05}");
            create(&journal, &id, &upload(n));
            match n % 100 {
                0 => {}
                1 => gone(&journal, &id),
                _ => journal.settled(&id),
            }
            largest = largest.max(std::fs::metadata(&path).unwrap().len());
        }
        let unsettled = count.div_ceil(100) as u64;
        assert!(
            largest <= (2 * unsettled * line).max(floor) + 2 * line,
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
        let (_dir, path, journal) = fresh();
        let floor = 4096;
        journal.shared.lock().floor = floor;
        journal.keep([]).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let journal = &journal;
                scope.spawn(move || {
                    for n in 0..150 {
                        let id = format!("t{t}-{n}");
                        create(journal, &id, &upload(n));
                        match n % 3 {
                            0 => {}
                            1 => journal.settled(&id),
                            _ => gone(journal, &id),
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

    /// Holds or lets go the journal's writer; letting go wakes it.
    fn hold(journal: &Journal, held: bool) {
        journal.shared.lock().held = held;
        journal.shared.wake.notify_one();
    }

    /// Waits (5 s at most) until `done` holds of the journal's state.
    fn wait_until(journal: &Journal, done: impl Fn(&Inner) -> bool) {
        for _ in 0..5000 {
            if done(&journal.shared.lock()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the journal never got there");
    }

    /// The scheduling policy (field 41 of `/proc/self/task/TID/stat`) of each of this
    /// process's threads named `name`.
    #[cfg(target_os = "linux")]
    fn policies_of_threads(name: &str) -> Vec<u32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| {
                let task = task.ok()?.path();
                if std::fs::read_to_string(task.join("comm")).ok()?.trim() != name {
                    return None;
                }
                let stat = std::fs::read_to_string(task.join("stat")).ok()?;
                // Fields 3 on follow the name's closing parenthesis.
                let after_name = &stat[stat.rfind(')')? + 1..];
                after_name.split_whitespace().nth(41 - 3)?.parse().ok()
            })
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_runs_under_sched_batch() {
        const SCHED_BATCH: u32 = 3;
        let (_dir, _path, journal) = fresh();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Once a create is answered, its writer has set its policy. Other tests' writers may
        // be starting beside it, so one of them at least, not each, runs under SCHED_BATCH.
        runtime.block_on(journal.create("u1", &upload(1))).unwrap();
        let policies = policies_of_threads("hoist-journal");
        assert!(
            policies.contains(&SCHED_BATCH),
            "the journal writers' policies: {policies:?}"
        );
    }

    #[test]
    fn creates_queued_while_the_writer_is_busy_share_one_write_and_one_fsync() {
        let (_dir, path, journal) = fresh();
        let journal = Arc::new(journal);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        hold(&journal, true);
        let syncs = || {
            journal
                .shared
                .syncs
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let before = syncs();
        let tasks: Vec<_> = (0..50)
            .map(|n| {
                let journal = Arc::clone(&journal);
                runtime.spawn(async move { journal.create(&format!("u{n}"), &upload(n)).await })
            })
            .collect();
        wait_until(&journal, |inner| inner.queue.len() == 50);
        // Queued is not answered, nor written.
        assert!(tasks.iter().all(|task| !task.is_finished()));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        hold(&journal, false);
        for task in tasks {
            runtime.block_on(task).unwrap().unwrap();
        }
        assert_eq!(syncs() - before, 1, "one fsync for the 50 lines");
        assert!((0..50).all(|n| journal.is_needed(&format!("u{n}"))));
        drop(runtime);
        drop(Arc::into_inner(journal));
        let (_journal, replayed) = open(&path);
        let mut read: Vec<&str> = ids(&replayed);
        read.sort_unstable();
        let mut want: Vec<String> = (0..50).map(|n| format!("u{n}")).collect();
        want.sort_unstable();
        assert_eq!(read, want);
    }

    #[test]
    fn a_rewrite_due_when_every_request_of_the_turn_went_away_is_still_done() {
        let (_dir, path, journal) = fresh();
        create(&journal, "u0", &upload(0));
        journal.settled("u0");
        {
            let mut inner = journal.shared.lock();
            // The next turn finds the file due for a rewrite.
            inner.compact_at = 0;
            inner.held = true;
        }
        let line = Line::Create {
            id: "u1".to_owned(),
            upload: upload(1),
        };
        // The request goes away before its answer.
        drop(journal.queue(&line, Note::Create("u1".to_owned())).unwrap());
        hold(&journal, false);
        wait_until(&journal, |inner| inner.compact_at == COMPACT_FLOOR);
        assert!(!journal.shared.lock().compacting);
        // The rewrite kept only the line still needed.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(r#""u1""#), "{text}");
        assert!(!path.with_extension("journal.next").exists());
    }

    #[test]
    fn lines_queued_when_the_writer_panics_fail_instead_of_waiting() {
        let (_dir, _path, journal) = fresh();
        hold(&journal, true);
        std::thread::scope(|scope| {
            let request = scope.spawn(|| {
                run(async {
                    let limit = std::time::Duration::from_secs(10);
                    tokio::time::timeout(limit, journal.create("u0", &upload(0))).await
                })
            });
            wait_until(&journal, |inner| inner.queue.len() == 1);
            journal.shared.lock().panic_next_turn = true;
            hold(&journal, false);
            let answer = request
                .join()
                .unwrap()
                .expect("the request waited for good");
            let err = answer.unwrap_err();
            assert!(err.to_string().contains("writer stopped"), "{err}");
        });
        // And the next one fails at once.
        assert!(run(journal.create("u1", &upload(1))).is_err());
    }

    #[test]
    fn once_the_writer_stopped_an_append_fails_instead_of_waiting() {
        let (_dir, _path, mut journal) = fresh();
        journal.shared.lock().closed = true;
        journal.shared.wake.notify_one();
        journal.writer.take().unwrap().join().unwrap();
        let err = run(journal.create("u0", &upload(0))).unwrap_err();
        assert!(err.to_string().contains("writer stopped"), "{err}");
    }
}
