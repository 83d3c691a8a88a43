//! A connection wrapper that injects the transport faults (a bandwidth limit and a cut in the
//! middle of a body) and closes a connection whose client reads nothing of an answer for the
//! stall timeout, so a client that stops reading a download does not hold its connection, and
//! the buffers of its answer, for ever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hoist_net::Stall;
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
    /// Runs while the socket takes no more bytes of an answer.
    send_stall: Stall,
}

impl FaultyIo {
    /// `send_stall`: how long the client may read nothing of an answer before the connection
    /// is closed (`None`: no limit).
    pub(crate) fn new(
        inner: TcpStream,
        faults: FaultControl,
        send_stall: Option<Duration>,
    ) -> Self {
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
            send_stall: Stall::new(send_stall),
        }
    }

    /// Runs the send stall clock over a write to the socket: bytes taken stop it; a full
    /// socket starts it, and once it has run out the write fails, which closes the connection.
    fn watch_send(
        &mut self,
        cx: &mut Context<'_>,
        write: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match write {
            Poll::Pending if self.send_stall.expired(cx) => {
                let secs = self.send_stall.after().unwrap_or_default().as_secs_f64();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client read nothing of the answer for {secs:.0} s"),
                )))
            }
            Poll::Pending => Poll::Pending,
            ready => {
                self.send_stall.reset();
                ready
            }
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
        let write = Pin::new(&mut this.inner).poll_write(cx, &data[..limit]);
        let n = ready!(this.watch_send(cx, write))?;
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
        let write = if limit >= total {
            Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
        } else {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            Pin::new(&mut this.inner).poll_write(cx, &first[..limit.min(first.len())])
        };
        let n = ready!(this.watch_send(cx, write))?;
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
