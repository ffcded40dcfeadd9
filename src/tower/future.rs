//! The response future: acquire, then call the inner service, then release.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::Rejection;
use crate::{Acquire, RateLimitLease};

pin_project! {
    /// The response future of a [`RateLimit`](super::RateLimit) service.
    ///
    /// It waits for the request's permits (in the limiter's queue if the limiter has one), then
    /// calls the inner service (already ready: see [`RateLimit`](super::RateLimit)) and waits for
    /// its response while holding the lease, and drops the lease as soon as the response is ready
    /// (a streaming body goes on without it).
    /// A refused or failed acquisition completes it with the [`Rejection`] policy's output; the
    /// inner service is then not called.
    ///
    /// # Cancel safety
    ///
    /// Dropping it at any point leaves no trace in the limiter: while it waits for permits the
    /// request is withdrawn from the queue (the queued count goes back at once, and a grant that
    /// raced the drop goes back to the limiter); while the inner response is pending the inner
    /// future is dropped and the lease with it (a concurrency permit comes back; tokens and window
    /// permits, which were spent by the request, do not).
    ///
    /// # Panics
    ///
    /// Polling it again after it returned `Ready` panics, as for any future.
    ///
    /// # Examples
    ///
    /// A request dropped while it waits in the limiter's queue leaves the queue at once, and the
    /// inner service never sees it:
    ///
    /// ```
    /// use std::{convert::Infallible, future::Future, sync::Arc, task::{Context, Waker}};
    /// use tollgate::tower::RateLimitLayer;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let echo = service_fn(|n: u32| async move { Ok::<_, Infallible>(n) });
    /// let mut service = RateLimitLayer::new(limiter.clone()).typed_errors().layer(echo);
    /// let held = limiter.attempt_acquire(1)?;
    /// let mut queued = Box::pin(service.ready().await?.call(1));
    /// assert!(queued.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    /// assert_eq!(limiter.statistics().unwrap().current_queued_count, 1);
    /// drop(queued); // e.g. the client went away
    /// assert_eq!(limiter.statistics().unwrap().current_queued_count, 0);
    /// drop(held);
    /// assert_eq!(service.oneshot(2).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, M>
    where
        S: Service<Req>,
    {
        // Some while the permits are being acquired.
        acquire: Option<Acquire<'static>>,
        // The ready inner service and the request, until the permits are granted.
        call: Option<(S, Req)>,
        #[pin]
        response: Option<S::Future>,
        // Held while `response` is pending.
        lease: Option<RateLimitLease>,
        rejection: M,
    }
}

impl<S: Service<Req>, Req, M> ResponseFuture<S, Req, M> {
    pub(super) fn new(acquire: Acquire<'static>, service: S, request: Req, rejection: M) -> Self {
        Self { acquire: Some(acquire), call: Some((service, request)), response: None, lease: None, rejection }
    }
}

impl<S, Req, M> Future for ResponseFuture<S, Req, M>
where
    S: Service<Req>,
    M: Rejection<S::Response, S::Error>,
{
    type Output = Result<S::Response, M::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(acquire) = this.acquire.as_mut() {
            // `Acquire` is `Unpin`.
            let outcome = ready!(Pin::new(acquire).poll(cx));
            *this.acquire = None;
            let (mut service, request) = this.call.take().expect("set until the acquisition completes");
            match outcome {
                Ok(lease) if lease.is_acquired() => {
                    *this.lease = Some(lease);
                    this.response.set(Some(service.call(request)));
                }
                Ok(refused) => return Poll::Ready(this.rejection.refused(refused)),
                Err(error) => return Poll::Ready(this.rejection.failed(error)),
            }
        }
        let response = this.response.as_mut().as_pin_mut().expect("ResponseFuture polled after completion");
        let output = ready!(response.poll(cx));
        this.response.set(None);
        // The response is ready: the permits go back now (a streaming body goes on without them).
        drop(this.lease.take());
        Poll::Ready(output.map_err(|error| this.rejection.inner_error(error)))
    }
}

impl<S: Service<Req>, Req, M> fmt::Debug for ResponseFuture<S, Req, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.acquire.is_some() {
            "acquiring"
        } else if self.response.is_some() {
            "calling"
        } else {
            "done"
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish_non_exhaustive()
    }
}
