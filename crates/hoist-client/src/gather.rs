//! Many files' calls to a coordinator made as one: the creates of a batch's files go in
//! `POST /v1/uploads/batch`, and the confirmations of their single PUTs in
//! `POST /v1/uploads/batch/complete`, so that signing many small files does not cost a
//! round trip each.
//!
//! Each file's task hands its item to a [`Gather`] and waits for its own answer. The first
//! task to find no call under way makes the call for every item waiting (up to
//! [`MAX_ITEMS`]), then for those that arrived meanwhile, and so on: one call at a time, so
//! the first create's answer names the folder every later one continues.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hoist_s3::{Retryable as _, Verdict};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Items in one call (the coordinator takes up to 1000).
pub(crate) const MAX_ITEMS: usize = 100;

/// How long the first item waits for others before its call is made.
const GATHER_WINDOW: Duration = Duration::from_millis(3);

/// The least time between two calls of one kind, unless a whole call's worth of items is
/// waiting: a coordinator limits each caller's request rate, and a batch of files must stay
/// well within it (two kinds of calls at most 20 a second each).
const SPACING: Duration = Duration::from_millis(50);

/// A call that failed as a whole, retryably (a 429, a 5xx, no answer), is made again after
/// these waits before its items fail.
const CALL_RETRIES: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

type Waiting = (Value, oneshot::Sender<Result<Value>>);

/// One kind of gathered call.
#[derive(Debug, Default)]
pub(crate) struct Gather {
    waiting: Mutex<Vec<Waiting>>,
    calling: AtomicBool,
    /// When the last call was made.
    last_call: Mutex<Option<Instant>>,
    /// The coordinator answered 404 or 405: it has no batch routes.
    pub(crate) unsupported: AtomicBool,
}

/// What a batch of a coordinator's files shares: its gathered calls, and the folder the
/// files' relative paths continue into.
#[derive(Debug, Default)]
pub struct Batching {
    pub(crate) creates: Gather,
    pub(crate) confirms: Gather,
    /// The folder token of the coordinator's first answer (or of an earlier run).
    pub(crate) folder: Mutex<Option<String>>,
    /// Where the folder token is kept, so that a rerun continues the same folder.
    folder_file: Option<PathBuf>,
    /// Names the batch in each file's journal key.
    pub(crate) id: String,
}

impl Batching {
    /// Gathered calls for a batch named `id` (for the files' journals), whose folder token
    /// is kept in `folder_file` (read now when it exists: a rerun continues that folder).
    pub fn new(id: impl Into<String>, folder_file: Option<PathBuf>) -> Self {
        let folder = folder_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        Batching {
            folder: Mutex::new(folder),
            folder_file,
            id: id.into(),
            ..Batching::default()
        }
    }

    /// The folder's token, once the coordinator has named it.
    pub fn folder(&self) -> Option<String> {
        self.folder.lock().unwrap().clone()
    }

    /// Keeps the folder token the coordinator answered.
    pub(crate) fn learn_folder(&self, token: &str) {
        let mut f = self.folder.lock().unwrap();
        if f.as_deref() == Some(token) {
            return;
        }
        *f = Some(token.to_owned());
        if let Some(path) = &self.folder_file {
            let write = || -> std::io::Result<()> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, token)?;
                std::fs::rename(&tmp, path)
            };
            if let Err(e) = write() {
                tracing::warn!(error = %e, "cannot keep the batch's folder token");
            }
        }
    }
}

impl Gather {
    /// Hands `item` in, and waits for its answer; `call` sends the items gathered (when it
    /// falls to this task) and answers each in order.
    pub(crate) async fn submit<F, Fut>(&self, item: Value, call: F) -> Result<Value>
    where
        F: Fn(Vec<Value>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Result<Value>>>>,
    {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap().push((item, tx));
        loop {
            if self.calling.swap(true, Ordering::AcqRel) {
                break;
            }
            // Whoever makes the calls gives the turn back even when its task is dropped.
            let turn = Turn(&self.calling);
            loop {
                // Let the other files' tasks add theirs: a short while, and never two calls
                // closer than SPACING unless a whole call's worth is waiting.
                let since = self.last_call.lock().unwrap().map(|t| t.elapsed());
                let wait = since.map_or(GATHER_WINDOW, |s| {
                    SPACING.saturating_sub(s).max(GATHER_WINDOW)
                });
                if self.waiting.lock().unwrap().len() < MAX_ITEMS {
                    tokio::time::sleep(wait).await;
                }
                let taken: Vec<Waiting> = {
                    let mut w = self.waiting.lock().unwrap();
                    let n = w.len().min(MAX_ITEMS);
                    w.drain(..n).collect()
                };
                if taken.is_empty() {
                    break;
                }
                let (items, senders): (Vec<Value>, Vec<_>) = taken.into_iter().unzip();
                let mut answered = None;
                for wait in std::iter::once(Duration::ZERO).chain(CALL_RETRIES) {
                    tokio::time::sleep(wait).await;
                    *self.last_call.lock().unwrap() = Some(Instant::now());
                    let a = call(items.clone()).await;
                    let again = matches!(&a, Err(e) if e.verdict() == Verdict::Retry);
                    answered = Some(a);
                    if !again {
                        break;
                    }
                }
                let answered = answered.expect("the call was made at least once");
                match answered {
                    Ok(answers) => {
                        let mut answers = answers.into_iter();
                        for tx in senders {
                            let a = answers.next().unwrap_or_else(|| {
                                Err(Error::protocol("batch", "fewer answers than items"))
                            });
                            let _ = tx.send(a);
                        }
                    }
                    Err(e) => {
                        for tx in senders {
                            let _ = tx.send(Err(copy(&e)));
                        }
                    }
                }
            }
            drop(turn);
            // An item added after the last look, while this task still held the call, would
            // otherwise wait for a call no one makes.
            if self.waiting.lock().unwrap().is_empty() {
                break;
            }
        }
        rx.await
            .map_err(|_| Error::protocol("batch", "the gathered call was dropped"))?
    }
}

/// The turn to make the gathered calls, given back when dropped.
struct Turn<'a>(&'a AtomicBool);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The same failure for every item of a call that failed as a whole.
fn copy(e: &Error) -> Error {
    match e {
        Error::Network { operation, message } => Error::Network {
            operation: operation.clone(),
            message: message.clone(),
        },
        Error::Coordinator {
            operation,
            status,
            code,
            message,
        } => Error::Coordinator {
            operation: operation.clone(),
            status: *status,
            code: code.clone(),
            message: message.clone(),
        },
        Error::Cancelled => Error::Cancelled,
        other => Error::protocol("batch", other.to_string()),
    }
}

/// Reads one item of a batch answer: its `upload`, `completed` or `skipped` object (with
/// `"skipped": true` added), or its error as the coordinator's refusal.
pub(crate) fn item_answer(item: &Value, operation: &str) -> Result<Value> {
    let status = item.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
    if let Some(e) = item.get("error") {
        let text = |name: &str| {
            e.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let code = match text("code") {
            c if c.is_empty() => text("error"),
            c => c,
        };
        return Err(Error::Coordinator {
            operation: operation.to_owned(),
            status: if status == 0 { 500 } else { status },
            code: hoist_core::redact::redact_text(&code),
            message: hoist_core::redact::redact_text(&text("message")),
        });
    }
    if let Some(s) = item.get("skipped") {
        let mut s = s.clone();
        s["skipped"] = json!(true);
        return Ok(s);
    }
    item.get("upload")
        .or_else(|| item.get("completed"))
        .cloned()
        .ok_or_else(|| Error::protocol(operation, "an item of the answer has no result"))
}
