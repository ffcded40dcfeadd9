//! [tower](https://docs.rs/tower) middleware (feature `tower`): rate-limit the requests of any service with any
//! [`RateLimiter`](crate::RateLimiter) or a [`PartitionedRateLimiter`](crate::PartitionedRateLimiter)
//! keyed by the request.
//!
//! [`RateLimitLayer`] wraps a service in a [`RateLimit`] service. Each request acquires its permits
//! (1 by default, or a [`Permits`] function of the request) from the [`RequestLimiter`] policy
//! through the limiter's async `acquire`, so its queue applies: a request waits in the queue when
//! the limiter has one with room (`queue_limit` 0: it is refused at once). An acquired request is
//! passed to the inner service and its lease is held until the inner response future completes
//! (so a [`ConcurrencyLimiter`](crate::ConcurrencyLimiter) limits requests in flight); a refused
//! or failed one is answered by the [`Rejection`] policy, and the inner service never sees it.
//!
//! | limiter policy ([`RequestLimiter`]) | requests acquire from |
//! |---|---|
//! | `Arc<L>`, `&'static L` (`L: RateLimiter`, also `dyn RateLimiter`) | one limiter for all requests |
//! | [`Keyed`]`::new(partitioned, key_fn)` | the partition of `key_fn(&request)` (client IP, API key) |
//!
//! **HTTP or typed errors.** The response policy is the layer's last type parameter, chosen when
//! building it:
//!
//! - [`HttpResponse`] (the default, [`RateLimitLayer::new`]): for services of
//!   `http::Request<B>` to `http::Response<ResBody>` with `ResBody: Default`. A refused request is
//!   answered **429 Too Many Requests** with `Retry-After` (whole seconds, rounded up, when the
//!   lease carries a [`retry_after`](crate::RateLimitLease::retry_after)); an
//!   [`AcquireError`](crate::AcquireError) is answered **503 Service Unavailable** (see
//!   [`HttpResponse`] for why). The service's error type stays the inner one (with axum:
//!   `Infallible`).
//! - [`TypedError`] ([`RateLimitLayer::typed_errors`]): for any service. Refusals and acquisition
//!   errors are [`RateLimitError`]s, which also wrap the inner service's errors.
//! - Any other [`Rejection`] ([`RateLimitLayer::rejection`]), e.g. a JSON 429 body.
//!
//! **Lease lifetime and streaming bodies.** The lease is dropped when the inner service's
//! response future completes, that is when the response *head* is ready. A streaming body is
//! sent after that, without the permits: a concurrency limit bounds requests being handled, not
//! bodies being streamed.
//!
//! **Readiness.** [`RateLimit::poll_ready`](tower_service::Service::poll_ready) is the inner
//! service's (backpressure propagates); `call` moves the ready inner service into the response
//! future and keeps a clone in its place, so the inner service must be `Clone` (see
//! [`RateLimit`]).
//!
//! **Allocations.** With `&'static L` (a limiter in a `static`), a request whose permits are
//! available at once allocates nothing in the middleware (a queued one allocates the limiter's
//! waiter node). With `Arc<L>` each request allocates one small box, because the limiter's
//! `acquire` future borrows the limiter and must be stored with the `Arc` it borrows from;
//! [`Keyed`] adds the partitioned limiter's own box.
//!
//! # Examples
//!
//! An axum server allowing each client IP 10 requests per second (bursts of 20), with 100 requests
//! in flight at most over all clients, waiting up to 50 requests deep for those:
//!
//! ```no_run
//! use std::net::{IpAddr, SocketAddr};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use axum::extract::{ConnectInfo, Request};
//! use axum::{Router, routing::get};
//! use tollgate::tower::{Keyed, RateLimitLayer};
//! use tollgate::{
//!     ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions,
//! };
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let per_ip = Arc::new(PartitionedRateLimiter::new(|ip: &IpAddr| {
//!         RateLimitPartition::get_token_bucket_limiter(*ip, |_| TokenBucketRateLimiterOptions {
//!             token_limit: 20,
//!             tokens_per_period: 10,
//!             replenishment_period: Duration::from_secs(1),
//!             ..Default::default()
//!         })
//!     }));
//!     // One partition for everybody: a global limit.
//!     let global = Arc::new(PartitionedRateLimiter::new(|_: &IpAddr| {
//!         RateLimitPartition::get_concurrency_limiter((), |_| ConcurrencyLimiterOptions {
//!             permit_limit: 100,
//!             queue_limit: 50,
//!             ..Default::default()
//!         })
//!     }));
//!     let both = Arc::new(PartitionedRateLimiter::chained(vec![per_ip, global])?);
//!
//!     let client_ip = |request: &Request| {
//!         let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied()?;
//!         Some(peer.ip())
//!     };
//!     let app = Router::new()
//!         .route("/", get(|| async { "hello" }))
//!         .layer(RateLimitLayer::new(Keyed::new(both, move |request: &Request| {
//!             client_ip(request).unwrap_or(IpAddr::from([0, 0, 0, 0]))
//!         })));
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```
//!
//! The middleware on a plain service (this one runs): a bucket of one token, then 429 with
//! `Retry-After`, or a [`RateLimitError`] with the typed policy.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use tollgate::tower::{RateLimitError, RateLimitLayer};
//! use tollgate::{TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bucket = Arc::new(TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
//!     token_limit: 1,
//!     tokens_per_period: 1,
//!     replenishment_period: Duration::from_millis(1500),
//!     queue_limit: 0,
//!     ..Default::default()
//! })?);
//! let hello = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, Infallible>(http::Response::new("hello".to_string()))
//! });
//! let service = RateLimitLayer::new(bucket.clone()).layer(hello);
//!
//! let first = service.clone().oneshot(http::Request::new(())).await?;
//! assert_eq!(first.status(), 200);
//! let second = service.clone().oneshot(http::Request::new(())).await?;
//! assert_eq!(second.status(), 429);
//! assert_eq!(second.headers()["retry-after"], "2"); // 1.5 s or a bit less, rounded up
//!
//! let echo = service_fn(|n: u32| async move { Ok::<_, Infallible>(n) });
//! let typed = RateLimitLayer::new(bucket).typed_errors().layer(echo);
//! match typed.oneshot(7).await {
//!     Err(RateLimitError::Rejected { retry_after, .. }) => assert!(retry_after.is_some()),
//!     other => panic!("expected a refusal, got {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

mod future;
mod policy;
mod rejection;

pub use future::ResponseFuture;
pub use policy::{Keyed, Permits, RequestLimiter};
pub use rejection::{HttpResponse, RateLimitError, Rejection, TypedError};

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

/// A [`Layer`] that wraps services in [`RateLimit`]: requests acquire permits from the limiter
/// policy `L` ([`RequestLimiter`]), `P` permits each ([`Permits`]; 1 by default), and refusals are
/// answered by the response policy `M` ([`Rejection`]; [`HttpResponse`] by default).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tollgate::tower::RateLimitLayer;
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions};
///
/// let in_flight = Arc::new(ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
///     permit_limit: 64,
///     queue_limit: 256,
///     ..Default::default()
/// })?);
/// // HTTP: 429 / 503 responses; uploads (PUT) cost 4 permits.
/// let http = RateLimitLayer::new(in_flight.clone())
///     .permits(|request: &http::Request<()>| if request.method() == http::Method::PUT { 4 } else { 1 });
/// // Any service: typed errors.
/// let typed = RateLimitLayer::new(in_flight).typed_errors();
/// # let _ = (http, typed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RateLimitLayer<L, P = u32, M = HttpResponse> {
    limiter: L,
    permits: P,
    rejection: M,
}

impl<L> RateLimitLayer<L> {
    /// A layer acquiring 1 permit per request from `limiter` (an `Arc` or `&'static` reference to
    /// a [`RateLimiter`](crate::RateLimiter), a [`Keyed`] partitioned limiter, or any
    /// [`RequestLimiter`]), answering refusals with HTTP responses ([`HttpResponse`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc, time::Duration};
    /// use tollgate::tower::RateLimitLayer;
    /// use tollgate::{ManualClock, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let clock = ManualClock::new();
    /// let options = TokenBucketRateLimiterOptions {
    ///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(2), ..Default::default()
    /// };
    /// let bucket = Arc::new(TokenBucketRateLimiter::with_clock(options, clock.clone())?);
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let service = RateLimitLayer::new(bucket).layer(ok);
    /// assert_eq!(service.clone().oneshot(http::Request::new(())).await?.status(), 200);
    /// let refused = service.clone().oneshot(http::Request::new(())).await?;
    /// assert_eq!(refused.status(), 429);
    /// assert_eq!(refused.headers()["retry-after"], "2");
    /// clock.advance(Duration::from_secs(2)); // the bucket refills
    /// assert_eq!(service.oneshot(http::Request::new(())).await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(limiter: L) -> Self {
        Self { limiter, permits: 1, rejection: HttpResponse }
    }
}

impl<L, P, M> RateLimitLayer<L, P, M> {
    /// Each request costs `permits`: a constant `u32` or a `Fn(&Req) -> u32`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimitLayer;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 4, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// // Uploads (PUT) cost all 4 permits, other requests 1.
    /// let cost = |request: &http::Request<()>| if request.method() == http::Method::PUT { 4 } else { 1 };
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let service = RateLimitLayer::new(limiter.clone()).permits(cost).layer(ok);
    /// let _in_flight = limiter.attempt_acquire(1)?; // one request being handled
    /// let upload = http::Request::put("/files/a").body(())?;
    /// assert_eq!(service.clone().oneshot(upload).await?.status(), 429); // 4 > 3 available
    /// assert_eq!(service.oneshot(http::Request::new(())).await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn permits<P2>(self, permits: P2) -> RateLimitLayer<L, P2, M> {
        RateLimitLayer { limiter: self.limiter, permits, rejection: self.rejection }
    }

    /// Refusals and acquisition errors become [`RateLimitError`]s (for any service, HTTP or not).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc, time::Duration};
    /// use tollgate::tower::{RateLimitError, RateLimitLayer};
    /// use tollgate::{ManualClock, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = TokenBucketRateLimiterOptions {
    ///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(2), ..Default::default()
    /// };
    /// let bucket = Arc::new(TokenBucketRateLimiter::with_clock(options, ManualClock::new())?);
    /// let double = service_fn(|n: u32| async move { Ok::<_, Infallible>(2 * n) });
    /// let service = RateLimitLayer::new(bucket).typed_errors().layer(double);
    /// assert_eq!(service.clone().oneshot(21).await, Ok(42));
    /// let refused = service.oneshot(21).await.unwrap_err();
    /// assert!(matches!(refused, RateLimitError::Rejected { .. }));
    /// assert_eq!(refused.retry_after(), Some(Duration::from_secs(2)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn typed_errors(self) -> RateLimitLayer<L, P, TypedError> {
        self.rejection(TypedError)
    }

    /// Refusals and acquisition errors are answered by `rejection` (see [`Rejection`]).
    ///
    /// # Examples
    ///
    /// A service of strings that answers refused requests with a canned string:
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::{RateLimitLayer, Rejection};
    /// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimitLease, RateLimiter};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// #[derive(Clone)]
    /// struct Canned;
    ///
    /// impl<E> Rejection<String, E> for Canned {
    ///     type Error = E;
    ///     fn refused(&self, _: RateLimitLease) -> Result<String, E> { Ok("busy, try later".into()) }
    ///     fn failed(&self, error: AcquireError) -> Result<String, E> { Ok(format!("unavailable: {error}")) }
    ///     fn inner_error(&self, error: E) -> E { error }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let hello = service_fn(|name: &'static str| async move { Ok::<_, Infallible>(format!("hello {name}")) });
    /// let service = RateLimitLayer::new(limiter.clone()).rejection(Canned).layer(hello);
    /// let held = limiter.attempt_acquire(1)?;
    /// assert_eq!(service.clone().oneshot("ann").await?, "busy, try later");
    /// drop(held);
    /// assert_eq!(service.oneshot("ann").await?, "hello ann");
    /// # Ok(())
    /// # }
    /// ```
    pub fn rejection<M2>(self, rejection: M2) -> RateLimitLayer<L, P, M2> {
        RateLimitLayer { limiter: self.limiter, permits: self.permits, rejection }
    }

    /// The limiter policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimitLayer;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 8, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let layer = RateLimitLayer::new(limiter).typed_errors();
    /// let echo = service_fn(|n: u32| async move { Ok::<_, Infallible>(n) });
    /// assert_eq!(layer.layer(echo).oneshot(1).await?, 1);
    /// let stats = layer.limiter().statistics().unwrap(); // the services it built share this limiter
    /// assert_eq!((stats.total_successful_leases, stats.current_available_permits), (1, 8));
    /// # Ok(())
    /// # }
    /// ```
    pub fn limiter(&self) -> &L {
        &self.limiter
    }
}

impl<S, L: Clone, P: Clone, M: Clone> Layer<S> for RateLimitLayer<L, P, M> {
    type Service = RateLimit<S, L, P, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
            permits: self.permits.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

/// A service that rate-limits the requests to `S` (built by [`RateLimitLayer`]; see the
/// [module docs](self)).
///
/// **Readiness (clone and swap).** `poll_ready` polls the inner service, so the inner service's
/// backpressure reaches the caller. `call` must not call the inner service before the permits are
/// granted, and the wait for them happens in the response future, so `call` moves the inner
/// service it has just made ready into the response future, which calls it once the permits are
/// granted, and keeps a fresh clone for the next `poll_ready`. The alternative, calling the inner
/// service from `call` and waiting for the permits afterwards, would start work (e.g. forward a
/// proxied request) before it is admitted. Hence `S: Clone` (axum's routers and handlers, hyper
/// clients, `tower::service_fn` over a `Clone` closure all are). One consequence: a service whose
/// readiness reserves capacity (e.g. `tower::buffer`'s slot) holds it while the request waits for
/// permits; a refused request gives it back unused.
///
/// # Examples
///
/// With a [`ConcurrencyLimiter`](crate::ConcurrencyLimiter), the lease is held while the inner
/// service works on the request, so it bounds requests in flight:
///
/// ```
/// use std::{convert::Infallible, sync::Arc};
/// use tokio::sync::Notify;
/// use tollgate::tower::RateLimit;
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
/// use tower::{Service, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
/// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
/// let done = Arc::new(Notify::new());
/// let slow = service_fn({
///     let done = done.clone();
///     move |_: http::Request<()>| {
///         let done = done.clone();
///         async move { done.notified().await; Ok::<_, Infallible>(http::Response::new(String::new())) }
///     }
/// });
/// let mut service = RateLimit::new(slow, limiter.clone());
/// let mut first = Box::pin(service.ready().await?.call(http::Request::new(())));
/// // One poll: `first` is admitted and now waits in the inner service, holding the permit.
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::future::Future::poll(first.as_mut(), &mut cx).is_pending());
/// let second = service.ready().await?.call(http::Request::new(())).await?;
/// assert_eq!(second.status(), 429);
/// assert!(second.headers().get("retry-after").is_none()); // a concurrency limiter gives no hint
/// done.notify_one();
/// assert_eq!(first.await?.status(), 200);
/// assert_eq!(limiter.statistics().unwrap().current_available_permits, 1); // released with the response
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimit<S, L, P = u32, M = HttpResponse> {
    inner: S,
    limiter: L,
    permits: P,
    rejection: M,
}

impl<S, L> RateLimit<S, L> {
    /// Wraps `inner` with 1 permit per request from `limiter` and HTTP refusals (as
    /// [`RateLimitLayer::new`]`(limiter).layer(inner)`).
    ///
    /// # Examples
    ///
    /// With a limiter in a `static` (here leaked), a request admitted at once allocates nothing in
    /// the middleware:
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use tollgate::tower::RateLimit;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 16, ..Default::default() };
    /// let limiter: &'static ConcurrencyLimiter = Box::leak(Box::new(ConcurrencyLimiter::new(options)?));
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let response = RateLimit::new(ok, limiter).oneshot(http::Request::new(())).await?;
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(limiter.statistics().unwrap().total_successful_leases, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(inner: S, limiter: L) -> Self {
        Self { inner, limiter, permits: 1, rejection: HttpResponse }
    }
}

impl<S, L, P, M> RateLimit<S, L, P, M> {
    /// The inner service.
    ///
    /// # Examples
    ///
    /// Calling the inner service directly bypasses the limiter:
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimit;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let _held = limiter.attempt_acquire(1)?; // the limiter refuses everything
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let mut service = RateLimit::new(ok, limiter);
    /// assert_eq!(service.ready().await?.call(http::Request::new(())).await?.status(), 429);
    /// let bypass = service.get_ref().clone().oneshot(http::Request::new(())).await?;
    /// assert_eq!(bypass.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// # Examples
    ///
    /// Calling the inner service directly bypasses the limiter:
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimit;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let _held = limiter.attempt_acquire(1)?; // the limiter refuses everything
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let mut service = RateLimit::new(ok, limiter);
    /// assert_eq!(service.ready().await?.call(http::Request::new(())).await?.status(), 429);
    /// let inner = service.get_mut().ready().await?;
    /// assert_eq!(inner.call(http::Request::new(())).await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// # Examples
    ///
    /// The unwrapped service is no longer limited:
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimit;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let _held = limiter.attempt_acquire(1)?; // the limiter refuses everything
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let mut service = RateLimit::new(ok, limiter);
    /// assert_eq!(service.ready().await?.call(http::Request::new(())).await?.status(), 429);
    /// let inner = service.into_inner();
    /// assert_eq!(inner.oneshot(http::Request::new(())).await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The limiter policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::RateLimit;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    /// use tower::{Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 2, ..Default::default() };
    /// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let mut service = RateLimit::new(ok, limiter.clone());
    /// assert!(Arc::ptr_eq(service.limiter(), &limiter));
    /// service.ready().await?.call(http::Request::new(())).await?;
    /// assert_eq!(service.limiter().statistics().unwrap().total_successful_leases, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn limiter(&self) -> &L {
        &self.limiter
    }
}

impl<S, Req, L, P, M> Service<Req> for RateLimit<S, L, P, M>
where
    S: Service<Req> + Clone,
    L: RequestLimiter<Req>,
    P: Permits<Req>,
    M: Rejection<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = M::Error;
    type Future = ResponseFuture<S, Req, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(|error| self.rejection.inner_error(error))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let permits = self.permits.permits(&request);
        let acquire = self.limiter.acquire_for(&request, permits);
        // Clone and swap: the ready service goes into the future (see the type's docs).
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        ResponseFuture::new(acquire, ready, request, self.rejection.clone())
    }
}
