//! What a request acquires, and from which limiter.

use std::fmt;
use std::sync::Arc;

use crate::{Acquire, PartitionedRateLimiter, RateLimiter};

/// Starts the acquisition of a request's permits: the limiter policy of a
/// [`RateLimit`](super::RateLimit) service.
///
/// Implemented for:
///
/// - `Arc<L>` for any [`RateLimiter`] `L` (including `dyn RateLimiter`): every request acquires
///   from that one limiter. **One allocation per request**: [`RateLimiter::acquire`] returns a
///   future that borrows the limiter, so the future that owns a clone of the `Arc` is boxed.
/// - `&'static L` (a limiter in a `static`, or leaked with [`Box::leak`]): the same, with **no
///   allocation** on the path where the permits are available at once (a request that has to wait
///   allocates the limiter's own waiter node).
/// - [`Keyed`]: one [`PartitionedRateLimiter`] and a function of the request giving its key
///   (client IP, API key, tenant).
///
/// Implement it to pick a limiter any other way (for example from a route table). The returned
/// future must own what it borrows; [`Acquire::from_future`] wraps any `'static` future.
///
/// # Examples
///
/// Uploads acquire from their own limiter, other requests from another:
///
/// ```
/// use std::{convert::Infallible, sync::Arc};
/// use tollgate::tower::{RateLimitLayer, RequestLimiter};
/// use tollgate::{Acquire, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// #[derive(Clone)]
/// struct ByPath { uploads: Arc<ConcurrencyLimiter>, other: Arc<ConcurrencyLimiter> }
///
/// impl<B> RequestLimiter<http::Request<B>> for ByPath {
///     fn acquire_for(&self, request: &http::Request<B>, permits: u32) -> Acquire<'static> {
///         let limiter = if request.uri().path().starts_with("/upload") { &self.uploads } else { &self.other };
///         let limiter = Arc::clone(limiter); // owned by the future
///         Acquire::from_future(async move { limiter.acquire(permits).await })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
/// let uploads = Arc::new(ConcurrencyLimiter::new(options.clone())?);
/// let policy = ByPath { uploads: uploads.clone(), other: Arc::new(ConcurrencyLimiter::new(options)?) };
/// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
/// let service = RateLimitLayer::new(policy).layer(ok);
/// let _uploading = uploads.attempt_acquire(1)?; // an upload in progress
/// let upload = http::Request::put("/upload/a").body(())?;
/// assert_eq!(service.clone().oneshot(upload).await?.status(), 429);
/// assert_eq!(service.oneshot(http::Request::new(())).await?.status(), 200); // other requests pass
/// # Ok(())
/// # }
/// ```
pub trait RequestLimiter<Req> {
    /// The acquisition of `permits` for `request`. It is polled by the response future, so queue
    /// settings apply, and dropped (withdrawing the request) if the response future is dropped.
    fn acquire_for(&self, request: &Req, permits: u32) -> Acquire<'static>;
}

impl<Req, L> RequestLimiter<Req> for Arc<L>
where
    L: RateLimiter + ?Sized + 'static,
{
    fn acquire_for(&self, _request: &Req, permits: u32) -> Acquire<'static> {
        let limiter = Arc::clone(self);
        // `limiter.acquire` borrows the limiter: the async block owns the `Arc` it borrows from,
        // and is boxed by `from_future` (one allocation).
        Acquire::from_future(async move { limiter.acquire(permits).await })
    }
}

impl<Req, L> RequestLimiter<Req> for &'static L
where
    L: RateLimiter + ?Sized,
{
    #[inline]
    fn acquire_for(&self, _request: &Req, permits: u32) -> Acquire<'static> {
        (*self).acquire(permits)
    }
}

/// A [`PartitionedRateLimiter`] and the function that gives each request its key: the requests
/// of one key share that key's limiter, other keys are unaffected.
///
/// `P` is `Arc<PartitionedRateLimiter<K>>` (the acquisition is boxed once more, as for
/// `Arc<L>`) or `&'static PartitionedRateLimiter<K>`; `F` is `Fn(&Req) -> K`. The partitioned
/// limiter's own `acquire` allocates once per call (it owns the partition lookup across the
/// wait), so a keyed request allocates one or two small boxes.
///
/// Several limits per request (a rate per client *and* a global in-flight cap) are one
/// [`PartitionedRateLimiter::chained`] of partitioned limiters; a global limit is a partition
/// whose key ignores the resource.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tollgate::tower::{Keyed, RateLimitLayer};
/// use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};
///
/// // 10 requests per second per API key (requests without one share the key "").
/// let per_key = Arc::new(PartitionedRateLimiter::new(|key: &String| {
///     RateLimitPartition::get_token_bucket_limiter(key.clone(), |_| TokenBucketRateLimiterOptions {
///         token_limit: 10,
///         tokens_per_period: 10,
///         replenishment_period: Duration::from_secs(1),
///         ..Default::default()
///     })
/// }));
/// let layer = RateLimitLayer::new(Keyed::new(per_key, |request: &http::Request<()>| {
///     request
///         .headers()
///         .get("x-api-key")
///         .and_then(|value| value.to_str().ok())
///         .unwrap_or_default()
///         .to_owned()
/// }));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct Keyed<P, F> {
    partitions: P,
    key: F,
}

impl<P, F> Keyed<P, F> {
    /// Requests acquire from `partitions`, from the partition of `key(&request)`.
    ///
    /// # Examples
    ///
    /// One request per user (the first path segment) until the bucket refills; users do not affect
    /// each other:
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc, time::Duration};
    /// use tollgate::tower::{Keyed, RateLimitLayer};
    /// use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let per_user = Arc::new(PartitionedRateLimiter::new(|user: &String| {
    ///     RateLimitPartition::get_token_bucket_limiter(user.clone(), |_| TokenBucketRateLimiterOptions {
    ///         token_limit: 1,
    ///         tokens_per_period: 1,
    ///         replenishment_period: Duration::from_secs(60),
    ///         ..Default::default()
    ///     })
    /// }));
    /// let user = |request: &http::Request<()>| request.uri().path().split('/').nth(1).unwrap_or_default().to_owned();
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// let service = RateLimitLayer::new(Keyed::new(per_user, user)).layer(ok);
    /// let get = |path: &str| http::Request::get(path).body(());
    /// assert_eq!(service.clone().oneshot(get("/ann/inbox")?).await?.status(), 200);
    /// assert_eq!(service.clone().oneshot(get("/ann/outbox")?).await?.status(), 429);
    /// assert_eq!(service.oneshot(get("/bob/inbox")?).await?.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(partitions: P, key: F) -> Self {
        Self { partitions, key }
    }

    /// The partitioned limiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{convert::Infallible, sync::Arc};
    /// use tollgate::tower::{Keyed, RateLimitLayer};
    /// use tollgate::{PartitionedRateLimiter, RateLimitPartition};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let per_host = Arc::new(PartitionedRateLimiter::new(|host: &String| {
    ///     RateLimitPartition::get_no_limiter(host.clone())
    /// }));
    /// let host = |request: &http::Request<()>| request.uri().host().unwrap_or_default().to_owned();
    /// let layer = RateLimitLayer::new(Keyed::new(per_host, host));
    /// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    /// for uri in ["http://a.example/", "http://b.example/", "http://a.example/x"] {
    ///     layer.layer(ok).oneshot(http::Request::get(uri).body(())?).await?;
    /// }
    /// assert_eq!(layer.limiter().partitions().partition_count(), 2); // a partition per host
    /// # Ok(())
    /// # }
    /// ```
    pub fn partitions(&self) -> &P {
        &self.partitions
    }
}

impl<P: fmt::Debug, F> fmt::Debug for Keyed<P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed").field("partitions", &self.partitions).finish_non_exhaustive()
    }
}

impl<Req, K, F> RequestLimiter<Req> for Keyed<Arc<PartitionedRateLimiter<K>>, F>
where
    K: Send + 'static,
    F: Fn(&Req) -> K,
{
    fn acquire_for(&self, request: &Req, permits: u32) -> Acquire<'static> {
        let key = (self.key)(request);
        let partitions = Arc::clone(&self.partitions);
        Acquire::from_future(async move { partitions.acquire(&key, permits).await })
    }
}

impl<Req, K, F> RequestLimiter<Req> for Keyed<&'static PartitionedRateLimiter<K>, F>
where
    K: 'static,
    F: Fn(&Req) -> K,
{
    fn acquire_for(&self, request: &Req, permits: u32) -> Acquire<'static> {
        self.partitions.acquire(&(self.key)(request), permits)
    }
}

/// How many permits a request costs: a constant `u32` (1 by default) or a function
/// `Fn(&Req) -> u32` (for example by method, or by a declared body size).
///
/// Zero permits probe the limiter: the request passes iff something is available, and takes
/// nothing. More permits than the limiter's limit fail with
/// [`AcquireError::PermitLimitExceeded`](crate::AcquireError::PermitLimitExceeded) (see
/// [`Rejection::failed`](super::Rejection::failed)).
///
/// # Examples
///
/// Requests cost their declared size in KiB (at least 1); one larger than the whole limit can
/// never pass, and the [`HttpResponse`](super::HttpResponse) policy answers it 503:
///
/// ```
/// use std::{convert::Infallible, sync::Arc};
/// use tollgate::tower::{Permits, RateLimitLayer};
/// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kib = |request: &http::Request<()>| {
///     let length = request.headers().get("content-length").and_then(|value| value.to_str().ok()?.parse().ok());
///     u32::max(1, length.unwrap_or(0) / 1024)
/// };
/// let upload = |bytes: u32| http::Request::put("/").header("content-length", bytes).body(());
/// assert_eq!((kib.permits(&upload(8192)?), kib.permits(&http::Request::new(()))), (8, 1));
///
/// let options = ConcurrencyLimiterOptions { permit_limit: 64, ..Default::default() };
/// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
/// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
/// let service = RateLimitLayer::new(limiter).permits(kib).layer(ok);
/// assert_eq!(service.clone().oneshot(upload(8192)?).await?.status(), 200);
/// let too_big = service.oneshot(upload(1 << 20)?).await?; // 1024 permits > 64
/// assert_eq!(too_big.status(), 503);
/// assert_eq!(too_big.extensions().get(), Some(&AcquireError::PermitLimitExceeded { requested: 1024, limit: 64 }));
/// # Ok(())
/// # }
/// ```
pub trait Permits<Req> {
    /// The permits `request` costs.
    fn permits(&self, request: &Req) -> u32;
}

impl<Req> Permits<Req> for u32 {
    #[inline]
    fn permits(&self, _request: &Req) -> u32 {
        *self
    }
}

impl<Req, F> Permits<Req> for F
where
    F: Fn(&Req) -> u32,
{
    #[inline]
    fn permits(&self, request: &Req) -> u32 {
        self(request)
    }
}
