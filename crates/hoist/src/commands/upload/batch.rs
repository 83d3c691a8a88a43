//! `hoist upload` of several files: folders, globs and lists of files in one batch.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hoist_client::batch::{
    self, BatchConfig, BatchEvent, BatchEventFn, BatchFile, BatchStatus, BatchSummary, FileFailure,
    Selection, glob::Glob,
};
use hoist_client::{Progress, http_client};

use super::{
    Args, clock, coordinator, direct_for, exit_code, human, kind_name, parse_dest, settings, usage,
};
use crate::output;

/// Exit code when some files failed and others did not.
const SOME_FAILED: u8 = 9;

/// Whether the arguments make a batch: several paths, a folder, or a glob to expand.
pub(super) fn wanted(paths: &[PathBuf]) -> bool {
    match paths {
        [one] if one.as_os_str() == "-" => false,
        [one] => one.is_dir() || (!one.exists() && batch::glob::has_magic(&one.to_string_lossy())),
        _ => true,
    }
}

/// The glibc setting that keeps buffers of 1 MiB and more out of the heap.
const MMAP_THRESHOLD: &str = "MALLOC_MMAP_THRESHOLD_";

/// Keeps a batch's memory near `--memory`. A batch allocates and frees part buffers of many
/// sizes (a single PUT's is the whole file); glibc's allocator, after freeing a large buffer,
/// serves the next ones of up to 32 MiB from its heap, where they fragment and stay resident
/// (a 1 KiB–64 MiB tree at `--memory 512MiB` kept about 740 MiB). A fixed mmap threshold
/// returns every freed buffer of 1 MiB or more to the system at once (about 540 MiB). glibc
/// reads it once, at start, from the environment, so the command runs itself again with it
/// set; when that cannot be done it goes on as it is. Other C libraries ignore the variable.
pub(super) fn bound_allocator() {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os(MMAP_THRESHOLD).is_some()
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    use std::os::unix::process::CommandExt as _;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(MMAP_THRESHOLD, "1048576")
        .exec();
    tracing::debug!(error = %err, "running again with a fixed mmap threshold failed; going on");
}

pub(super) async fn upload(args: Args, paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    if args.resume == Some(super::ResumeMode::Strict) {
        return Ok(usage(
            &args,
            "--resume=strict applies to one file; a batch resumes what it can with --resume",
        ));
    }
    if args.key.as_deref().is_some_and(|k| !k.ends_with('/')) {
        return Ok(usage(
            &args,
            "several files need a prefix ending in / for --key (each file's relative path \
             is added to it)",
        ));
    }
    let selection = match selection(&args) {
        Ok(s) => s,
        Err(e) => return Ok(usage(&args, &e.to_string())),
    };
    let listing = match batch::list(&paths, &selection) {
        Ok(l) => l,
        Err(e) => return Ok(usage(&args, &e.to_string())),
    };
    let mut uploads = match settings(&args) {
        Ok(c) => c,
        Err(e) => return Ok(usage(&args, &format!("{e:#}"))),
    };
    let connections = args.concurrency.map_or(32, usize::from);
    uploads.concurrency = connections;
    let config = BatchConfig {
        connections,
        memory: args.memory,
        per_file: connections.min(8),
        skip_existing: args.skip_existing,
        fail_fast: args.fail_fast,
    };
    let http = http_client(connections)?;
    let status = Arc::new(BatchStatus::default());
    let view = View::new(&args, status.clone());
    let unlisted: Vec<FileFailure> = listing.unlisted.iter().map(|u| u.failure()).collect();
    for f in &unlisted {
        view.event(&BatchEvent::Failed { failure: f });
    }
    let on_event: BatchEventFn = {
        let view = view.clone();
        Arc::new(move |e: &BatchEvent<'_>| view.event(e))
    };
    let cancel = hoist_client::CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let ticker = view.bar.then(|| {
        let view = view.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                view.draw(false);
            }
        })
    });
    let files = listing.files;
    let summary = if !args.server.is_empty() {
        let base = match coordinator(&args, &args.server, http.clone()) {
            Ok(t) => t,
            Err(e) => return Ok(usage(&args, &e.to_string())),
        };
        let prefix = args.key.clone();
        let id = batch_id(&paths);
        let rerun = args.skip_existing || args.resume.is_some();
        let folder_file = uploads
            .state_dir
            .as_ref()
            .map(|d| d.join("folders").join(format!("{id}.token")));
        if !rerun && let Some(f) = &folder_file {
            // A new run makes a new folder; --resume and --skip-existing continue the last.
            let _ = std::fs::remove_file(f);
        }
        let batching = Arc::new(hoist_client::Batching::new(id, folder_file));
        let base = base.with_batching(batching);
        uploads.unless_stored = rerun;
        let key_of = {
            let prefix = prefix.clone();
            move |f: &BatchFile| match &prefix {
                Some(p) => format!("{p}{}", f.relative),
                None => f.relative.clone(),
            }
        };
        let make = move |f: &BatchFile, key: &str| {
            Ok(match &prefix {
                Some(_) => base.for_file(Some(f.relative.clone()), Some(key.to_owned())),
                None => base.for_file(None, None).in_folder(f.relative.clone()),
            })
        };
        batch::run(
            files,
            key_of,
            make,
            http,
            uploads,
            config,
            HashMap::new(),
            status.clone(),
            on_event,
            cancel.clone(),
        )
        .await
    } else {
        let (bucket, mut prefix) = match parse_dest(args.dest.as_deref().unwrap_or_default()) {
            Ok(d) => d,
            Err(e) => return Ok(usage(&args, &format!("{e:#}"))),
        };
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let base = match direct_for(&args, http.clone(), &bucket, "batch") {
            Ok(t) => t,
            Err(e) => return Ok(usage(&args, &format!("{e:#}"))),
        };
        let stored = if args.skip_existing || args.resume.is_some() {
            match base.stored_under(&prefix).await {
                Ok(s) => s,
                Err(e) => {
                    let advice = e.advice();
                    view.finish_bar();
                    super::report_error(
                        &args,
                        e.kind(),
                        &format!("listing s3://{bucket}/{prefix} to find what is stored: {e}"),
                        Some(&advice),
                    );
                    return Ok(ExitCode::from(exit_code(e.kind())));
                }
            }
        } else {
            HashMap::new()
        };
        let key_of = {
            let prefix = prefix.clone();
            move |f: &BatchFile| format!("{prefix}{}", f.relative)
        };
        let make = move |_: &BatchFile, key: &str| base.for_key(key);
        batch::run(
            files,
            key_of,
            make,
            http,
            uploads,
            config,
            stored,
            status.clone(),
            on_event,
            cancel.clone(),
        )
        .await
    };
    if let Some(t) = ticker {
        t.abort();
    }
    view.finish_bar();
    let mut summary = summary;
    summary.files += unlisted.len();
    summary.failed.splice(0..0, unlisted);
    Ok(view.summary(&summary, cancel.is_cancelled()))
}

/// Names a batch by the caller's arguments (their absolute paths), so that a rerun of the
/// same command continues the same folder and journals.
fn batch_id(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut h = hoist_client::ChecksumAlgorithm::Sha256.hasher();
    for n in &names {
        h.update(n.as_bytes());
        h.update(b"\0");
    }
    hoist_core::encoding::hex(&h.finish().as_bytes()[..12])
}

fn selection(args: &Args) -> hoist_client::Result<Selection> {
    let globs = |list: &[String]| -> hoist_client::Result<Vec<Glob>> {
        list.iter().map(|g| Glob::new(g)).collect()
    };
    Ok(Selection {
        include: globs(&args.include)?,
        exclude: globs(&args.exclude)?,
        follow_symlinks: args.follow_symlinks,
    })
}

/// What the user sees: a bar on a terminal, a line per file otherwise, JSON events with
/// `--json`; and the summary at the end.
#[derive(Clone)]
struct View {
    json: bool,
    quiet: bool,
    bar: bool,
    status: Arc<BatchStatus>,
    started: Instant,
    lines_drawn: Arc<std::sync::atomic::AtomicUsize>,
}

impl View {
    fn new(args: &Args, status: Arc<BatchStatus>) -> Self {
        View {
            json: args.json,
            quiet: args.quiet,
            bar: !args.json && !args.quiet && std::io::stderr().is_terminal(),
            status,
            started: Instant::now(),
            lines_drawn: Default::default(),
        }
    }

    fn event(&self, e: &BatchEvent<'_>) {
        if self.json {
            if let Some(v) = json_event(e) {
                output::line(&v.to_string());
            }
        } else if !self.quiet && !self.bar {
            match e {
                BatchEvent::Done { file, outcome } => output::line(&format!(
                    "uploaded {} -> s3://{}/{} ({} bytes)",
                    file.path.display(),
                    outcome.bucket,
                    outcome.key,
                    outcome.size
                )),
                BatchEvent::Skipped { file, key, .. } => output::line(&format!(
                    "skipped {} ({key} is stored with the same content)",
                    file.path.display()
                )),
                _ => {}
            }
        }
        match e {
            BatchEvent::Failed { failure } => {
                self.clear_bar();
                output::message(&format!("hoist upload: failed: {}", failure_text(failure)));
            }
            BatchEvent::Progress {
                progress: Progress::Failover { from, to, reason },
                ..
            } => {
                self.clear_bar();
                output::message(&format!(
                    "hoist upload: coordinator {from} is not answering ({reason}); continuing \
                     through {to}"
                ));
            }
            _ => {}
        }
    }

    fn clear_bar(&self) {
        if self.bar {
            let n = self.lines_drawn.swap(0, Ordering::Relaxed);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            for _ in 0..n.saturating_sub(1) {
                let _ = write!(err, "\x1b[1A\x1b[K");
            }
            let _ = err.flush();
        }
    }

    /// The batch's bar (files, bytes, rate, time left) and the files being sent.
    fn draw(&self, last: bool) {
        let s = &self.status;
        let total = s.bytes_total.load(Ordering::Relaxed);
        let done = s.bytes_done.load(Ordering::Relaxed);
        let sent = s.bytes_sent.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = sent as f64 / secs;
        let frac = if total > 0 {
            done as f64 / total as f64
        } else {
            1.0
        };
        let width = 24;
        let filled = ((frac * width as f64) as usize).min(width);
        let eta = if rate > 0.0 && !last && total > done {
            format!(" ETA {}", clock((total - done) as f64 / rate))
        } else {
            String::new()
        };
        let failed = s.files_failed.load(Ordering::Relaxed);
        let mut lines = vec![format!(
            "[{}{}] {}/{} files{} {} / {} {}/s{eta}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            s.files_done.load(Ordering::Relaxed),
            s.files_total.load(Ordering::Relaxed),
            if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            },
            human(done),
            human(total),
            human(rate as u64),
        )];
        if !last {
            let active = s.active.lock().unwrap();
            for (name, (size, done)) in active.iter().take(4) {
                let pct = if *size > 0 {
                    *done as f64 * 100.0 / *size as f64
                } else {
                    100.0
                };
                lines.push(format!("  {pct:>5.1}% {name}"));
            }
            if active.len() > 4 {
                lines.push(format!("  … and {} more", active.len() - 4));
            }
        }
        self.clear_bar();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", lines.join("\n"));
        let _ = err.flush();
        self.lines_drawn.store(lines.len(), Ordering::Relaxed);
    }

    fn finish_bar(&self) {
        if self.bar {
            self.draw(true);
            output::product_note("");
            self.lines_drawn.store(0, Ordering::Relaxed);
        }
    }

    /// Prints the summary and picks the exit code.
    fn summary(&self, s: &BatchSummary, cancelled: bool) -> ExitCode {
        let secs = s.elapsed.as_secs_f64().max(1e-3);
        let code = exit_for(s, cancelled);
        if self.json {
            let failures: Vec<_> = s
                .failed
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "path": f.path.display().to_string(), "key": f.key,
                        "kind": kind_name(f.kind), "message": f.message,
                        "cause": f.advice.cause.map(|c| c.as_str()), "next": f.advice.next,
                    })
                })
                .collect();
            let line = serde_json::json!({
                "event": "summary", "files": s.files, "uploaded": s.uploaded,
                "skipped": s.skipped, "failed": s.failed.len(), "interrupted": s.interrupted,
                "resumed": s.resumed, "bytes_uploaded": s.bytes_uploaded,
                "bytes_skipped": s.bytes_skipped,
                "bytes_sent": self.status.bytes_sent.load(Ordering::Relaxed),
                "elapsed_ms": s.elapsed.as_millis() as u64, "exit_code": code,
                "failures": failures,
            });
            output::line(&line.to_string());
        } else {
            let mut text = format!(
                "{} files: {} uploaded ({}), {} skipped, {} failed",
                s.files,
                s.uploaded,
                human(s.bytes_uploaded),
                s.skipped,
                s.failed.len()
            );
            if s.interrupted > 0 {
                text.push_str(&format!(", {} not finished", s.interrupted));
            }
            text.push_str(&format!(
                " in {secs:.1} s ({:.0} files/s, {}/s)",
                s.uploaded as f64 / secs,
                human((self.status.bytes_sent.load(Ordering::Relaxed) as f64 / secs) as u64)
            ));
            output::line(&text);
            if !s.failed.is_empty() {
                let mut lines = vec![format!("hoist upload: {} files failed:", s.failed.len())];
                for f in &s.failed {
                    lines.push(format!("  {}", failure_text(f)));
                    if let Some(c) = f.advice.cause {
                        lines.push(format!("    cause: {c} ({})", c.entry().title));
                    }
                    lines.push(format!("    next: {}", f.advice.next));
                }
                output::message(&lines.join("\n"));
            }
            if cancelled || s.interrupted > 0 {
                output::message(
                    "hoist upload: interrupted; run the same command with --resume to continue \
                     (finished files are skipped, multipart ones continue)",
                );
            }
        }
        ExitCode::from(code)
    }
}

fn failure_text(f: &FileFailure) -> String {
    if f.key.is_empty() {
        f.message.clone()
    } else {
        format!("{} -> {}: {}", f.path.display(), f.key, f.message)
    }
}

/// 0 when every file is stored; the failure's own code when every failed file failed the
/// same way and none uploaded; [`SOME_FAILED`] when some did; 130 when interrupted.
fn exit_for(s: &BatchSummary, cancelled: bool) -> u8 {
    if cancelled {
        return 130;
    }
    let Some(first) = s.failed.first() else {
        return if s.interrupted > 0 { 1 } else { 0 };
    };
    let same = s.failed.iter().all(|f| f.kind == first.kind);
    if same && s.uploaded == 0 && s.skipped == 0 {
        exit_code(first.kind)
    } else {
        SOME_FAILED
    }
}

fn json_event(e: &BatchEvent<'_>) -> Option<serde_json::Value> {
    Some(match e {
        BatchEvent::Started { file, key } => serde_json::json!({
            "event": "file_started", "path": file.path.display().to_string(), "key": key,
            "size": file.size,
        }),
        BatchEvent::Done { file, outcome } => serde_json::json!({
            "event": "file_done", "path": file.path.display().to_string(),
            "bucket": outcome.bucket, "key": outcome.key, "size": outcome.size,
            "etag": outcome.etag, "checksum": outcome.checksum, "multipart": outcome.multipart,
            "parts_sent": outcome.parts_sent, "parts_resumed": outcome.parts_resumed,
            "elapsed_ms": outcome.elapsed.as_millis() as u64,
            "hook_pending": outcome.hook_pending,
        }),
        BatchEvent::Skipped { file, key, reason } => serde_json::json!({
            "event": "file_skipped", "path": file.path.display().to_string(), "key": key,
            "size": file.size, "reason": reason,
        }),
        BatchEvent::Failed { failure: f } => serde_json::json!({
            "event": "file_failed", "path": f.path.display().to_string(), "key": f.key,
            "kind": kind_name(f.kind), "exit_code": exit_code(f.kind), "message": f.message,
            "cause": f.advice.cause.map(|c| c.as_str()), "next": f.advice.next,
        }),
        BatchEvent::Progress { file, progress } => {
            let mut v = serde_json::to_value(progress).ok()?;
            v["path"] = serde_json::json!(file.path.display().to_string());
            v
        }
        _ => return None,
    })
}
