//! The connections a server serves: at most a set number at once, each known as fresh (no
//! complete request yet), busy (a request in flight, its answer still being sent) or idle
//! (kept alive between requests). A connection over the cap sheds the idlest fresh or idle
//! one instead of being refused, so sockets held open by a slow or hostile client cannot lock
//! out the clients that send requests; idle connections past their timeout are closed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Descriptors kept out of the connection cap for everything else a server opens.
pub const DESCRIPTOR_RESERVE: u64 = 64;

/// The process's soft limit on open files (`Max open files` of `/proc/self/limits`), where
/// the system tells it.
pub fn descriptor_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Busy(u32),
    Idle,
}

#[derive(Debug)]
struct Entry {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    shed: CancellationToken,
}

#[derive(Debug, Default)]
struct Entries {
    next: u64,
    live: HashMap<u64, Entry>,
    shed: u64,
}

/// Every connection being served.
#[derive(Debug)]
pub struct Table {
    entries: Mutex<Entries>,
    max: usize,
    idle_timeout: Duration,
}

impl Table {
    /// A table of at most `max` connections (at least one) that closes connections idle
    /// for `idle_timeout`.
    pub fn new(max: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::default(),
            max: max.max(1),
            idle_timeout,
        })
    }

    /// A table for `limits`, its cap lowered to leave [`DESCRIPTOR_RESERVE`] of the
    /// process's descriptors free (files, the store's disk, outgoing calls): a cap the
    /// descriptors cannot hold would stop shedding before `accept` starts failing.
    pub fn for_limits(limits: &crate::Limits) -> Arc<Self> {
        let mut max = limits.max_connections;
        if let Some(open_files) = descriptor_limit() {
            let fits = usize::try_from(open_files.saturating_sub(DESCRIPTOR_RESERVE))
                .unwrap_or(usize::MAX)
                .max(1);
            if fits < max {
                tracing::warn!(
                    max_connections = max,
                    open_files,
                    serving = fits,
                    "the descriptor limit cannot hold max_connections: serving fewer"
                );
                max = fits;
            }
        }
        Self::new(max, limits.idle_timeout)
    }

    /// The most connections this table serves at once.
    pub fn capacity(&self) -> usize {
        self.max
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections being served now.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Whether no connection is being served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections shed or closed as idle so far.
    pub fn shed_count(&self) -> u64 {
        self.lock().shed
    }

    /// Admits a new connection. At the cap, the idlest fresh or idle connection is shed to
    /// make room; when every one is busy the new one is refused (None).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut entries = self.lock();
        if entries.live.len() >= self.max {
            let idlest = entries
                .live
                .iter()
                .filter(|(_, e)| !matches!(e.phase, Phase::Busy(_)))
                .min_by_key(|(_, e)| e.since)
                .map(|(id, _)| *id)?;
            if let Some(shed) = entries.live.remove(&idlest) {
                shed.shed.cancel();
                entries.shed += 1;
            }
        }
        let id = entries.next;
        entries.next += 1;
        let shed = CancellationToken::new();
        entries.live.insert(
            id,
            Entry {
                phase: Phase::Fresh,
                since: Instant::now(),
                shed: shed.clone(),
            },
        );
        Some(Ticket {
            table: self.clone(),
            id,
            shed,
        })
    }

    /// Closes the connections idle in keep-alive for longer than the idle timeout.
    pub(crate) fn close_idle(&self) {
        let now = Instant::now();
        let mut entries = self.lock();
        let before = entries.live.len();
        entries.live.retain(|_, e| {
            let expired = e.phase == Phase::Idle && now - e.since >= self.idle_timeout;
            if expired {
                e.shed.cancel();
            }
            !expired
        });
        let closed = before - entries.live.len();
        entries.shed += closed as u64;
    }

    /// How often [`Table::close_idle`] should run.
    pub(crate) fn idle_check_every(&self) -> Duration {
        (self.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    fn change(&self, id: u64, change: impl FnOnce(&mut Phase)) {
        if let Some(entry) = self.lock().live.get_mut(&id) {
            let before = entry.phase;
            change(&mut entry.phase);
            if entry.phase != before {
                entry.since = Instant::now();
            }
        }
    }
}

/// One admitted connection's place in the table; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Ticket {
    table: Arc<Table>,
    id: u64,
    /// Cancelled when the connection is shed or has been idle too long.
    pub(crate) shed: CancellationToken,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.table.lock().live.remove(&self.id);
    }
}

/// A request in flight on a connection: busy from its head until its answer is sent.
#[derive(Debug)]
struct InFlight {
    table: Arc<Table>,
    id: u64,
}

impl InFlight {
    fn begin(table: &Arc<Table>, id: u64) -> Self {
        table.change(id, |phase| {
            *phase = match *phase {
                Phase::Busy(n) => Phase::Busy(n + 1),
                Phase::Fresh | Phase::Idle => Phase::Busy(1),
            }
        });
        Self {
            table: table.clone(),
            id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.table.change(self.id, |phase| {
            *phase = match *phase {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle,
            }
        });
    }
}

/// The service of one connection, which keeps the connection's phase in the table.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    table: Arc<Table>,
    id: u64,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, ticket: &Ticket) -> Self {
        Self {
            inner,
            table: ticket.table.clone(),
            id: ticket.id,
        }
    }
}

impl<S, R, B> hyper::service::Service<Request<R>> for Tracked<S>
where
    S: hyper::service::Service<Request<R>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Sending<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, req: Request<R>) -> Self::Future {
        let flight = InFlight::begin(&self.table, self.id);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|inner| Sending {
                inner,
                _flight: flight,
            }))
        })
    }
}

/// An answer's body, which keeps its request in flight until hyper has sent (and dropped) it.
#[derive(Debug)]
pub struct Sending<B> {
    inner: B,
    _flight: InFlight,
}

impl<B> HttpBody for Sending<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_table_sheds_the_idlest_and_never_a_busy_one() {
        let table = Table::new(2, Duration::from_secs(60));
        let first = table.admit().unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = table.admit().unwrap();
        let third = table.admit().unwrap();
        assert!(
            first.shed.is_cancelled(),
            "the oldest fresh connection goes"
        );
        assert!(!second.shed.is_cancelled());
        assert_eq!(table.len(), 2);

        let _busy_a = InFlight::begin(&table, second.id);
        let _busy_b = InFlight::begin(&table, third.id);
        assert!(table.admit().is_none(), "busy connections are never shed");
        drop(_busy_b);
        let fourth = table.admit().unwrap();
        assert!(
            third.shed.is_cancelled(),
            "idle again after its answer: shed"
        );
        assert!(!second.shed.is_cancelled());
        drop(fourth);
        assert_eq!(table.len(), 1);
        assert_eq!(table.shed_count(), 2);
    }

    #[test]
    fn the_cap_fits_in_the_descriptors() {
        let limits = crate::Limits {
            max_connections: usize::MAX,
            ..crate::Limits::default()
        };
        let table = Table::for_limits(&limits);
        match descriptor_limit() {
            Some(n) if n < u64::MAX / 2 => {
                assert_eq!(
                    table.capacity() as u64,
                    n.saturating_sub(DESCRIPTOR_RESERVE).max(1)
                );
            }
            _ => assert_eq!(table.capacity(), usize::MAX),
        }
    }

    #[tokio::test]
    async fn idle_connections_close_after_the_idle_timeout() {
        let table = Table::new(10, Duration::from_millis(20));
        let fresh = table.admit().unwrap();
        let kept = table.admit().unwrap();
        drop(InFlight::begin(&table, kept.id));
        tokio::time::sleep(Duration::from_millis(30)).await;
        table.close_idle();
        assert!(kept.shed.is_cancelled());
        assert!(
            !fresh.shed.is_cancelled(),
            "a fresh one has the header-read timeout"
        );
    }
}
