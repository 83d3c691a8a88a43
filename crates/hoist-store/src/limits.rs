//! Limits on what a request may make the store hold or wait for: the XML body cap, and a
//! request body guard that enforces it on the stream and drops a body that stalls.
//!
//! s3s reads an XML body whole before parsing it (up to its own 20 MiB, beyond which it
//! answers 500). The front caps XML bodies far lower, as the body streams in, and answers
//! S3's `400 MaxMessageLengthExceeded` itself; a body that sends nothing for the stall
//! timeout ends with S3's `400 RequestTimeout`.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hoist_net::Stall;
use http::StatusCode;
use http_body::{Body as HttpBody, Frame, SizeHint};
use s3s::{S3Error, S3ErrorCode};

use crate::errors::ErrorAnswer;

/// The largest XML request body the store reads: 4 MiB. S3's largest, a Complete naming
/// 10,000 parts with their checksums, is under 2 MiB.
pub const MAX_XML_BODY_SIZE: u64 = 4 * 1024 * 1024;

pub(crate) const MSG_TOO_BIG: &str = "Your request was too big.";
pub(crate) const MSG_REQUEST_TIMEOUT: &str = "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.";

/// Why a guarded body gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFault {
    /// More bytes than the cap.
    TooLarge,
    /// Nothing arrived for the stall timeout.
    Stalled,
}

impl BodyFault {
    /// S3's answer to a request whose body failed so.
    pub(crate) fn answer(self) -> ErrorAnswer {
        match self {
            Self::TooLarge => ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "MaxMessageLengthExceeded",
                MSG_TOO_BIG,
            ),
            Self::Stalled => ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                "RequestTimeout",
                MSG_REQUEST_TIMEOUT,
            ),
        }
    }

    fn error(self) -> S3Error {
        let (code, message) = match self {
            Self::TooLarge => (S3ErrorCode::MaxMessageLengthExceeded, MSG_TOO_BIG),
            Self::Stalled => (S3ErrorCode::RequestTimeout, MSG_REQUEST_TIMEOUT),
        };
        let mut err = S3Error::with_message(code, message);
        err.set_status_code(StatusCode::BAD_REQUEST);
        err
    }
}

/// What a guarded body reports after the fact (the body itself goes to s3s).
pub(crate) type Trip = Arc<OnceLock<BodyFault>>;

/// A request body with a byte cap and a stall timeout; either ends it with an error, which
/// is also recorded in its [`Trip`].
pub(crate) struct GuardedBody<B> {
    inner: B,
    cap: Option<u64>,
    seen: u64,
    stall: Stall,
    trip: Trip,
}

impl<B> GuardedBody<B> {
    pub(crate) fn new(inner: B, cap: Option<u64>, stall: Option<Duration>, trip: Trip) -> Self {
        Self {
            inner,
            cap,
            seen: 0,
            stall: Stall::new(stall),
            trip,
        }
    }

    fn fail<E>(&mut self, fault: BodyFault) -> Poll<Option<Result<Frame<Bytes>, E>>>
    where
        E: From<S3Error>,
    {
        let _ = self.trip.set(fault);
        self.stall.reset();
        Poll::Ready(Some(Err(fault.error().into())))
    }
}

impl<B> HttpBody for GuardedBody<B>
where
    B: HttpBody<Data = Bytes, Error = s3s::StdError> + Unpin,
{
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.trip.get().is_some() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stall.reset();
                if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
                    && let Some(data) = data
                {
                    this.seen += data.len() as u64;
                    if this.cap.is_some_and(|cap| this.seen > cap) {
                        return this.fail(BodyFault::TooLarge);
                    }
                }
                Poll::Ready(frame)
            }
            // The clock runs only while the reader waits on the client.
            Poll::Pending if this.stall.expired(cx) => this.fail(BodyFault::Stalled),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.trip.get().is_some() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn chunks(n: usize, size: usize) -> s3s::Body {
        let stream = futures_util::stream::iter(
            (0..n).map(move |_| Ok::<_, s3s::StdError>(Bytes::from(vec![b'x'; size]))),
        );
        s3s::Body::http_body(http_body_util::StreamBody::new(
            futures_util::StreamExt::map(stream, |r| r.map(Frame::data)),
        ))
    }

    #[tokio::test]
    async fn a_body_over_the_cap_fails_at_the_cap() {
        let trip = Trip::default();
        let body = GuardedBody::new(chunks(10, 1000), Some(4500), None, trip.clone());
        assert!(body.collect().await.is_err());
        assert_eq!(trip.get(), Some(&BodyFault::TooLarge));

        let trip = Trip::default();
        let body = GuardedBody::new(chunks(10, 1000), Some(10_000), None, trip.clone());
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 10_000);
        assert_eq!(trip.get(), None);
    }

    #[tokio::test]
    async fn a_body_that_sends_nothing_stalls() {
        let trip = Trip::default();
        let never = s3s::Body::http_body(http_body_util::StreamBody::new(
            futures_util::stream::pending::<Result<Frame<Bytes>, s3s::StdError>>(),
        ));
        let body = GuardedBody::new(never, None, Some(Duration::from_millis(200)), trip.clone());
        let started = std::time::Instant::now();
        assert!(body.collect().await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(trip.get(), Some(&BodyFault::Stalled));
    }
}
