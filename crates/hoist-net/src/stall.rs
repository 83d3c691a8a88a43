//! A request body that sends nothing for too long.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;

/// A stall clock for a body reader: it runs only while the reader waits on the client, so a
/// reader busy elsewhere (writing to disk) does not count against it.
#[derive(Debug)]
pub struct Stall {
    after: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    /// A clock that expires after `after` of waiting (never, for `None`).
    pub fn new(after: Option<Duration>) -> Self {
        Self { after, timer: None }
    }

    /// How long a wait may last (`None`: for ever).
    pub fn after(&self) -> Option<Duration> {
        self.after
    }

    /// Something arrived: the wait is over.
    pub fn reset(&mut self) {
        self.timer = None;
    }

    /// The reader waits on the client (its inner poll answered `Pending`): starts the clock
    /// if it is not running and answers whether it has run out. Registers `cx` for its expiry.
    pub fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(after) = self.after else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
        if timer.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }
}

/// The error of a body cut by its stall timeout; servers find it in an error's source chain
/// with [`BodyStalled::caused`] to answer a timeout rather than a bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyStalled(pub Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body sent nothing for {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyStalled {}

impl BodyStalled {
    /// Whether `err` or one of its sources is a stalled body.
    pub fn caused(err: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(err);
        while let Some(e) = next {
            if e.is::<Self>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// A body that ends in [`BodyStalled`] when nothing arrives for its timeout.
#[derive(Debug)]
pub struct StallingBody<B> {
    inner: B,
    after: Duration,
    stall: Stall,
    done: bool,
}

impl<B> StallingBody<B> {
    /// Wraps `inner`; `after` of silence ends it.
    pub fn new(inner: B, after: Duration) -> Self {
        Self {
            inner,
            after,
            stall: Stall::new(Some(after)),
            done: false,
        }
    }
}

impl<B> HttpBody for StallingBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stall.reset();
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending if this.stall.expired(cx) => {
                this.done = true;
                Poll::Ready(Some(Err(Box::new(BodyStalled(this.after)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, StreamBody};

    type Chunk = Result<Frame<Bytes>, std::convert::Infallible>;

    #[tokio::test]
    async fn a_body_that_sends_nothing_ends_in_a_stall() {
        let never = StreamBody::new(futures_util::stream::pending::<Chunk>());
        let body = StallingBody::new(never, Duration::from_millis(100));
        let started = std::time::Instant::now();
        let err = body.collect().await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(BodyStalled::caused(err.as_ref()), "{err}");
    }

    #[tokio::test]
    async fn a_body_that_keeps_sending_is_not_cut() {
        let chunks = futures_util::stream::iter(
            (0..5).map(|_| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from("abc")))),
        );
        let slow = futures_util::StreamExt::then(chunks, |c| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            c
        });
        let body = StallingBody::new(StreamBody::new(Box::pin(slow)), Duration::from_millis(100));
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 15);
    }
}
