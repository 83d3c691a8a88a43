//! A connection wrapper that injects the transport faults: a bandwidth limit and a cut in the
//! middle of a body.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::faults::{FaultControl, FaultKind};

/// Burst a limited connection may run ahead of its rate.
const BURST: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct Pace {
    /// When the bytes already let through will have "drained" at the configured rate.
    next_free: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Pace {
    /// Waits until this direction may carry more bytes; answers how many at most.
    fn poll_allow(&mut self, cx: &mut Context<'_>, rate: u64) -> Poll<usize> {
        if let Some(sleep) = self.sleep.as_mut() {
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        let now = Instant::now();
        if let Some(next) = self.next_free
            && next > now + BURST
        {
            let mut sleep = Box::pin(tokio::time::sleep_until(next - BURST));
            if sleep.as_mut().poll(cx).is_pending() {
                self.sleep = Some(sleep);
                return Poll::Pending;
            }
        }
        // A twentieth of a second's worth keeps the pacing smooth.
        Poll::Ready(usize::try_from((rate / 20).max(1024)).unwrap_or(usize::MAX))
    }

    fn charge(&mut self, bytes: usize, rate: u64) {
        let now = Instant::now();
        let start = self.next_free.filter(|t| *t > now).unwrap_or(now);
        #[allow(clippy::cast_precision_loss)]
        let cost = Duration::from_secs_f64(bytes as f64 / rate as f64);
        self.next_free = Some(start + cost);
    }
}

/// A TCP stream that obeys the store's transport faults.
#[derive(Debug)]
pub(crate) struct FaultyIo {
    inner: TcpStream,
    faults: FaultControl,
    /// Bytes after which the connection is cut, when this connection is doomed.
    cut_at: Option<u64>,
    carried: u64,
    read_pace: Pace,
    write_pace: Pace,
}

impl FaultyIo {
    pub(crate) fn new(inner: TcpStream, faults: FaultControl) -> Self {
        let current = faults.get();
        let cut_at = faults.roll(current.cut_fraction, FaultKind::Cut).then(|| {
            current.cut_after_bytes.unwrap_or_else(|| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let extra = (faults.chance() * f64::from(1024 * 1024 - 16 * 1024)) as u64;
                16 * 1024 + extra
            })
        });
        Self {
            inner,
            faults,
            cut_at,
            carried: 0,
            read_pace: Pace::default(),
            write_pace: Pace::default(),
        }
    }

    fn is_cut(&self) -> bool {
        self.cut_at.is_some_and(|at| self.carried >= at)
    }

    /// How many more bytes may pass before the cut.
    fn room_before_cut(&self) -> usize {
        self.cut_at.map_or(usize::MAX, |at| {
            usize::try_from(at.saturating_sub(self.carried)).unwrap_or(usize::MAX)
        })
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection cut by fault injection",
    )
}

impl AsyncRead for FaultyIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let rate = this.faults.get().bandwidth_bytes_per_sec;
        let mut limit = this.room_before_cut();
        if let Some(rate) = rate {
            limit = limit.min(ready!(this.read_pace.poll_allow(cx, rate)));
        }
        if limit >= buf.remaining() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let n = buf.filled().len() - before;
            this.carried += n as u64;
            if let Some(rate) = rate {
                this.read_pace.charge(n, rate);
            }
            return Poll::Ready(Ok(()));
        }
        // Read no more than allowed through a bounded scratch buffer.
        let mut scratch = vec![0u8; limit];
        let mut small = ReadBuf::new(&mut scratch);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut small))?;
        let n = small.filled().len();
        buf.put_slice(small.filled());
        this.carried += n as u64;
        if let Some(rate) = rate {
            this.read_pace.charge(n, rate);
        }
        Poll::Ready(Ok(()))
    }
}

impl FaultyIo {
    /// Waits until up to `want` bytes may be written; answers how many may, and the
    /// bandwidth limit in force.
    fn poll_write_room(
        &mut self,
        cx: &mut Context<'_>,
        want: usize,
    ) -> Poll<io::Result<(usize, Option<u64>)>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let rate = self.faults.get().bandwidth_bytes_per_sec;
        let mut limit = self.room_before_cut().min(want);
        if let Some(rate) = rate {
            limit = limit.min(ready!(self.write_pace.poll_allow(cx, rate)));
        }
        Poll::Ready(Ok((limit, rate)))
    }

    fn written(&mut self, n: usize, rate: Option<u64>) {
        self.carried += n as u64;
        if let Some(rate) = rate {
            self.write_pace.charge(n, rate);
        }
    }
}

impl AsyncWrite for FaultyIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let (limit, rate) = ready!(this.poll_write_room(cx, data.len()))?;
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &data[..limit]))?;
        this.written(n, rate);
        Poll::Ready(Ok(n))
    }

    /// Hands the slices to the socket in one `writev` when no fault limits them, so hyper
    /// sends a body's chunks as they are instead of copying them into its own buffer first.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let total = bufs.iter().map(|b| b.len()).sum::<usize>();
        let (limit, rate) = ready!(this.poll_write_room(cx, total))?;
        let n = if limit >= total {
            ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?
        } else {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            ready!(Pin::new(&mut this.inner).poll_write(cx, &first[..limit.min(first.len())]))?
        };
        this.written(n, rate);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
