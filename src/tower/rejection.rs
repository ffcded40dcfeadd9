//! What a refused or failed request turns into: an HTTP response or a typed error.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::{AcquireError, RateLimitLease};

/// Turns the outcome of a refused or failed acquisition into the service's output: the response
/// policy of a [`RateLimit`](super::RateLimit) service, chosen with
/// [`RateLimitLayer::rejection`](super::RateLimitLayer::rejection).
///
/// Two are built in: [`HttpResponse`] (the default; 429 and 503 responses, for HTTP services) and
/// [`TypedError`] ([`RateLimitError`], for any service). Implement it for another response (a JSON
/// body, a gRPC status, a custom header).
///
/// # Examples
///
/// A 429 with a JSON body giving the wait in milliseconds:
///
/// ```
/// use std::{convert::Infallible, sync::Arc, time::Duration};
/// use tollgate::tower::{RateLimitLayer, Rejection};
/// use tollgate::{AcquireError, ManualClock, RateLimitLease, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// #[derive(Clone)]
/// struct Json429;
///
/// impl<E> Rejection<http::Response<String>, E> for Json429 {
///     type Error = E;
///     fn refused(&self, lease: RateLimitLease) -> Result<http::Response<String>, E> {
///         let wait = lease.retry_after().unwrap_or_default().as_millis();
///         let body = format!(r#"{{"error":"rate_limited","retry_after_ms":{wait}}}"#);
///         let response = http::Response::builder().status(429).header("content-type", "application/json");
///         Ok(response.body(body).expect("a valid response"))
///     }
///     fn failed(&self, error: AcquireError) -> Result<http::Response<String>, E> {
///         let body = format!(r#"{{"error":"{error}"}}"#);
///         Ok(http::Response::builder().status(503).body(body).expect("a valid response"))
///     }
///     fn inner_error(&self, error: E) -> E {
///         error
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = TokenBucketRateLimiterOptions {
///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_millis(1500), ..Default::default()
/// };
/// let bucket = Arc::new(TokenBucketRateLimiter::with_clock(options, ManualClock::new())?);
/// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new("ok".to_string())) });
/// let service = RateLimitLayer::new(bucket).rejection(Json429).layer(ok);
/// assert_eq!(service.clone().oneshot(http::Request::new(())).await?.body(), "ok");
/// let refused = service.oneshot(http::Request::new(())).await?;
/// assert_eq!(refused.status(), 429);
/// assert_eq!(refused.body(), r#"{"error":"rate_limited","retry_after_ms":1500}"#);
/// # Ok(())
/// # }
/// ```
pub trait Rejection<Res, E> {
    /// The service's error type (the inner service's error `E`, or a type wrapping it).
    type Error;

    /// The output for a request the limiter refused (`lease.is_acquired()` is false; its
    /// [`retry_after`](RateLimitLease::retry_after) and
    /// [`reason_phrase`](RateLimitLease::reason_phrase) say why and for how long).
    ///
    /// # Errors
    ///
    /// As the policy decides.
    fn refused(&self, lease: RateLimitLease) -> Result<Res, Self::Error>;

    /// The output for a request whose acquisition failed with an [`AcquireError`] (more permits
    /// than the limit, a disposed limiter, a partition factory with invalid options).
    ///
    /// # Errors
    ///
    /// As the policy decides.
    fn failed(&self, error: AcquireError) -> Result<Res, Self::Error>;

    /// Converts an error of the inner service (from `poll_ready` or its response future).
    fn inner_error(&self, error: E) -> Self::Error;
}

/// The HTTP response policy (the default): for a service of `http::Request<B>` to
/// `http::Response<ResBody>` with `ResBody: Default`.
///
/// - A refused request gets **429 Too Many Requests** with an empty (default) body and, when the
///   lease carries a [`retry_after`](RateLimitLease::retry_after), a `Retry-After` header in whole
///   seconds rounded **up** (RFC 9110 `delay-seconds`: a client that waits that long is not
///   early). A lease without a hint (a concurrency limiter's refusal) gets no header.
/// - A failed acquisition ([`AcquireError`]) gets **503 Service Unavailable** with an empty body
///   and the error in the response's extensions (for logging). Why 503 rather than 500: the most
///   common case is a limiter disposed during shutdown, where 503 ("cannot serve this now; try
///   elsewhere or later") is exactly right and lets load balancers retry on another instance; the
///   others (a request costing more permits than the limit, a partition with invalid options) are
///   server-side configuration faults that the client cannot fix either, and a 5xx keeps them out
///   of the client-error statistics. None of them carries a `Retry-After`.
/// - The inner service's errors pass through unchanged.
///
/// # Examples
///
/// ```
/// use std::{convert::Infallible, sync::Arc, time::Duration};
/// use tollgate::tower::RateLimitLayer;
/// use tollgate::{AcquireError, ManualClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = TokenBucketRateLimiterOptions {
///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_millis(2500), ..Default::default()
/// };
/// let bucket = Arc::new(TokenBucketRateLimiter::with_clock(options, ManualClock::new())?);
/// let ok = service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
/// let service = RateLimitLayer::new(bucket.clone()).layer(ok); // `HttpResponse` is the default
/// assert_eq!(service.clone().oneshot(http::Request::new(())).await?.status(), 200);
/// let refused = service.clone().oneshot(http::Request::new(())).await?;
/// assert_eq!((refused.status().as_u16(), refused.body().as_str()), (429, ""));
/// assert_eq!(refused.headers()["retry-after"], "3"); // 2.5 s, rounded up
/// bucket.dispose(); // shutting down
/// let failed = service.oneshot(http::Request::new(())).await?;
/// assert_eq!(failed.status(), 503);
/// assert_eq!(failed.extensions().get(), Some(&AcquireError::Disposed));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse;

impl HttpResponse {
    /// The `Retry-After` value for a wait: whole seconds, rounded up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::tower::HttpResponse;
    ///
    /// assert_eq!(HttpResponse::retry_after_seconds(Duration::from_millis(1)), 1);
    /// assert_eq!(HttpResponse::retry_after_seconds(Duration::from_secs(2)), 2);
    /// assert_eq!(HttpResponse::retry_after_seconds(Duration::from_millis(2001)), 3);
    /// assert_eq!(HttpResponse::retry_after_seconds(Duration::ZERO), 0);
    /// ```
    pub fn retry_after_seconds(wait: Duration) -> u64 {
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }
}

impl<B: Default, E> Rejection<http::Response<B>, E> for HttpResponse {
    type Error = E;

    fn refused(&self, lease: RateLimitLease) -> Result<http::Response<B>, E> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        if let Some(wait) = lease.retry_after() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(Self::retry_after_seconds(wait)));
        }
        Ok(response)
    }

    fn failed(&self, error: AcquireError) -> Result<http::Response<B>, E> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        response.extensions_mut().insert(error);
        Ok(response)
    }

    fn inner_error(&self, error: E) -> E {
        error
    }
}

/// The typed-error policy, for any service: refusals and acquisition errors become
/// [`RateLimitError`]s, and the inner service's errors are wrapped in [`RateLimitError::Inner`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tollgate::tower::{RateLimitError, RateLimitLayer, TypedError};
/// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
/// let limiter = Arc::new(ConcurrencyLimiter::new(options)?);
/// let sqrt = service_fn(|x: f64| async move { if x < 0.0 { Err("negative") } else { Ok(x.sqrt()) } });
/// let service = RateLimitLayer::new(limiter.clone()).rejection(TypedError).layer(sqrt);
/// assert_eq!(service.clone().oneshot(4.0).await, Ok(2.0));
/// assert_eq!(service.clone().oneshot(-1.0).await, Err(RateLimitError::Inner("negative")));
/// let held = limiter.attempt_acquire(1)?;
/// assert!(service.clone().oneshot(4.0).await.unwrap_err().is_rejected());
/// drop(held);
/// limiter.dispose();
/// assert_eq!(service.oneshot(4.0).await, Err(RateLimitError::Acquire(AcquireError::Disposed)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypedError;

impl<Res, E> Rejection<Res, E> for TypedError {
    type Error = RateLimitError<E>;

    fn refused(&self, lease: RateLimitLease) -> Result<Res, RateLimitError<E>> {
        Err(RateLimitError::Rejected {
            retry_after: lease.retry_after(),
            reason_phrase: lease.reason_phrase().map(str::to_owned),
        })
    }

    fn failed(&self, error: AcquireError) -> Result<Res, RateLimitError<E>> {
        Err(RateLimitError::Acquire(error))
    }

    fn inner_error(&self, error: E) -> RateLimitError<E> {
        RateLimitError::Inner(error)
    }
}

/// The error of a [`RateLimit`](super::RateLimit) service with the [`TypedError`] policy.
///
/// # Examples
///
/// ```
/// use std::{error::Error, io, time::Duration};
/// use tollgate::AcquireError;
/// use tollgate::tower::RateLimitError;
///
/// let wait = Some(Duration::from_secs(2));
/// let rejected = RateLimitError::<io::Error>::Rejected { retry_after: wait, reason_phrase: None };
/// assert_eq!(rejected.to_string(), "rate limited; retry after 2s");
/// let failed = RateLimitError::<io::Error>::Acquire(AcquireError::Disposed);
/// assert_eq!(failed.to_string(), "rate limiter error: the rate limiter has been disposed");
/// let inner = RateLimitError::Inner(io::Error::other("connection reset"));
/// assert_eq!(inner.to_string(), "connection reset"); // transparent
/// assert!(inner.source().is_none()); // the message is not repeated down the chain
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateLimitError<E> {
    /// The limiter refused the request (no permits, queue full, evicted from the queue).
    Rejected {
        /// How long to wait before retrying, if the limiter could tell (the lease's
        /// [`retry_after`](RateLimitLease::retry_after)).
        retry_after: Option<Duration>,
        /// Why, if the limiter said (the lease's
        /// [`reason_phrase`](RateLimitLease::reason_phrase)).
        reason_phrase: Option<String>,
    },
    /// The acquisition failed (more permits than the limit, a disposed limiter, invalid partition
    /// options): the request can never succeed as things are.
    Acquire(AcquireError),
    /// The inner service failed.
    Inner(E),
}

impl<E> RateLimitError<E> {
    /// The retry-after hint of a [`Rejected`](Self::Rejected) error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::AcquireError;
    /// use tollgate::tower::RateLimitError;
    ///
    /// let wait = Some(Duration::from_millis(250));
    /// assert_eq!(RateLimitError::<()>::Rejected { retry_after: wait, reason_phrase: None }.retry_after(), wait);
    /// assert_eq!(RateLimitError::<()>::Rejected { retry_after: None, reason_phrase: None }.retry_after(), None);
    /// assert_eq!(RateLimitError::<()>::Acquire(AcquireError::Disposed).retry_after(), None); // never: not a refusal
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the limiter refused the request ([`Rejected`](Self::Rejected)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::AcquireError;
    /// use tollgate::tower::RateLimitError;
    ///
    /// assert!(RateLimitError::<()>::Rejected { retry_after: None, reason_phrase: None }.is_rejected());
    /// assert!(!RateLimitError::<()>::Acquire(AcquireError::Disposed).is_rejected());
    /// assert!(!RateLimitError::Inner("timed out").is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected { .. })
    }
}

impl<E: fmt::Display> fmt::Display for RateLimitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected { retry_after, reason_phrase } => {
                f.write_str("rate limited")?;
                if let Some(reason) = reason_phrase {
                    write!(f, " ({reason})")?;
                }
                if let Some(wait) = retry_after {
                    write!(f, "; retry after {wait:?}")?;
                }
                Ok(())
            }
            Self::Acquire(e) => write!(f, "rate limiter error: {e}"),
            Self::Inner(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// `Display` includes the wrapped error's message, so `source` skips it (no message is reported
/// twice in a chain): [`Inner`](RateLimitError::Inner) is transparent (its message and source are
/// the inner error's), [`Acquire`](RateLimitError::Acquire) reports the [`AcquireError`]'s source.
impl<E: Error + 'static> Error for RateLimitError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Rejected { .. } => None,
            Self::Acquire(e) => e.source(),
            Self::Inner(e) => e.source(),
        }
    }
}
