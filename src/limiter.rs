//! The limiter traits.

use std::time::Duration;

use crate::{AcquireError, RateLimitLease, RateLimiterStatistics, wait::Acquire};

/// Which queued request is served first.
///
/// With the `serde` feature it is written as `"oldest_first"` or `"newest_first"`; .NET's
/// spellings `"OldestFirst"` and `"NewestFirst"` are read too.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Waker};
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, QueueProcessingOrder, RateLimiter};
///
/// for order in [QueueProcessingOrder::OldestFirst, QueueProcessingOrder::NewestFirst] {
///     let options = ConcurrencyLimiterOptions { permit_limit: 2, queue_limit: 2, queue_processing_order: order };
///     let limiter = ConcurrencyLimiter::new(options)?;
///     let _held = limiter.attempt_acquire(1)?;
///     let mut waiting = Box::pin(limiter.acquire(2)); // needs both permits: it queues
///     assert!(waiting.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
///     // One permit is free: only newest-first lets a newcomer take it past the queued request.
///     let newcomer = limiter.attempt_acquire(1)?;
///     assert_eq!(newcomer.is_acquired(), order == QueueProcessingOrder::NewestFirst);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize), serde(rename_all = "snake_case"))]
pub enum QueueProcessingOrder {
    /// FIFO: the oldest queued request is served first; while anything is queued, new requests
    /// queue behind it (they cannot take permits past it).
    #[default]
    #[cfg_attr(feature = "serde", serde(alias = "OldestFirst"))]
    OldestFirst,
    /// LIFO: the newest queued request is served first; new requests may take free permits at once
    /// even when older ones wait, and a full queue evicts its oldest requests to make room.
    #[cfg_attr(feature = "serde", serde(alias = "NewestFirst"))]
    NewestFirst,
}

/// A rate limiter: hands out leases for permits.
///
/// Three ways to ask, one decision rule: [`attempt_acquire`](RateLimiter::attempt_acquire) never
/// waits, [`acquire`](RateLimiter::acquire) waits in the limiter's queue as an async task, and
/// [`blocking_acquire`](RateLimiter::blocking_acquire) waits by parking the thread. Each returns a
/// [`RateLimitLease`], acquired or not; errors are only for requests that can never succeed.
///
/// Object-safe: `Arc<dyn RateLimiter>` works (and `Arc<L>` is a limiter too). Every built-in
/// limiter is `Send + Sync`. A custom limiter implements the six required methods (one that never
/// waits can return [`Acquire::ready`] from `acquire`) and may override the provided ones.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, NoopLimiter, RateLimiter};
///
/// fn handle(limiter: &dyn RateLimiter) -> Result<bool, AcquireError> {
///     let lease = limiter.attempt_acquire(1)?;
///     Ok(lease.is_acquired()) // ... work while `lease` is alive ...
/// }
///
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
/// let limiters: Vec<Arc<dyn RateLimiter>> =
///     vec![Arc::new(NoopLimiter::new()), Arc::new(ConcurrencyLimiter::new(options)?)];
/// for limiter in &limiters {
///     assert!(handle(limiter.as_ref())?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RateLimiter: Send + Sync {
    /// Tries to acquire `permits` without waiting.
    ///
    /// Returns `Ok(lease)` whether or not the permits were acquired: check
    /// [`RateLimitLease::is_acquired`]. Zero permits probe the limiter: acquired iff something is
    /// available, whatever the queue holds.
    ///
    /// # Errors
    ///
    /// [`AcquireError::PermitLimitExceeded`] if `permits` exceeds the limiter's limit (checked
    /// first), [`AcquireError::Disposed`] after [`dispose`](RateLimiter::dispose).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 2, ..Default::default() })?;
    /// let lease = limiter.attempt_acquire(2)?;
    /// assert!(lease.is_acquired());
    /// assert!(!limiter.attempt_acquire(1)?.is_acquired()); // refused: not an error
    /// assert!(!limiter.attempt_acquire(0)?.is_acquired()); // a probe: nothing is available
    /// assert!(matches!(limiter.attempt_acquire(3), Err(AcquireError::PermitLimitExceeded { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError>;

    /// Acquires `permits`, waiting in the queue if they are not available now.
    ///
    /// The request joins the queue when the future is first polled. It fails at once (a lease that
    /// is not acquired) when the queue is full; queued requests may also fail later when evicted
    /// (NewestFirst) or when the limiter is disposed.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](RateLimiter::attempt_acquire), reported when the future is first
    /// polled. Disposal while queued is not an error: the request completes with a lease that is
    /// not acquired.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future cancels the request. Dropped while queued, the request is
    /// withdrawn and its permits leave the queued count at once (requests behind it may then be
    /// served); dropped after the limiter granted it but before it was polled again, the grant is
    /// [refunded](RateLimiter::refund); dropped before its first poll, the limiter never saw it
    /// (the no-op limiter too: it grants on the first poll). Nothing is lost or leaked
    /// (details on [`Acquire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::new(options)?;
    /// let held = limiter.attempt_acquire(1)?;
    /// let (waited, ()) = tokio::join!(limiter.acquire(1), async move {
    ///     tokio::task::yield_now().await; // the request queues first...
    ///     drop(held); // ...and is granted the permit this frees
    /// });
    /// assert!(waited?.is_acquired());
    /// # Ok(())
    /// # }
    /// ```
    fn acquire(&self, permits: u32) -> Acquire<'_>;

    /// Like [`acquire`](RateLimiter::acquire), parking the calling thread while it waits.
    ///
    /// For plain threads; calling it from an async task blocks that task's worker thread. It
    /// returns when the request is granted, refused (a full queue, an eviction, disposal) or fails.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](RateLimiter::attempt_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::new(options)?;
    /// let held = limiter.attempt_acquire(1)?;
    /// std::thread::scope(|s| {
    ///     s.spawn(move || drop(held)); // another thread gives the permit back
    ///     let lease = limiter.blocking_acquire(1).unwrap(); // parks until then
    ///     assert!(lease.is_acquired());
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError>;

    /// A snapshot of the limiter's counters (`Some` for every built-in limiter, also after dispose).
    ///
    /// A custom limiter that keeps no counters returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let options = TokenBucketRateLimiterOptions {
    ///     token_limit: 5, tokens_per_period: 5, replenishment_period: Duration::from_secs(1), ..Default::default()
    /// };
    /// let bucket = TokenBucketRateLimiter::with_clock(options, ManualClock::new())?;
    /// let _lease = bucket.attempt_acquire(3)?;
    /// let _refused = bucket.attempt_acquire(3)?;
    /// let stats = bucket.statistics().unwrap();
    /// assert_eq!(stats.current_available_permits, 2);
    /// assert_eq!((stats.total_successful_leases, stats.total_failed_leases), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn statistics(&self) -> Option<RateLimiterStatistics>;

    /// How long the limiter has been idle (everything available, nothing queued); `None` while in use.
    ///
    /// Measured on the limiter's clock from the moment it last became idle (or its construction).
    /// A time-based limiter becomes idle again only when time has refilled it completely; the
    /// no-op limiter is never idle. [`PartitionedRateLimiter`](crate::PartitionedRateLimiter)
    /// evicts partitions by it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::with_clock(options, clock.clone())?;
    /// let lease = limiter.attempt_acquire(1)?;
    /// assert_eq!(limiter.idle_duration(), None); // in use
    /// drop(lease);
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(limiter.idle_duration(), Some(Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn idle_duration(&self) -> Option<Duration>;

    /// Disposes the limiter: queued requests complete with leases that are not acquired (not
    /// counted as failures), later acquisitions fail with [`AcquireError::Disposed`]. Idempotent.
    ///
    /// Leases already granted stay valid (dropping them is harmless), and statistics stay
    /// readable. Dropping a built-in limiter disposes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Waker};
    /// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::new(options)?;
    /// let _held = limiter.attempt_acquire(1)?;
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut waiting = Box::pin(limiter.acquire(1));
    /// assert!(waiting.as_mut().poll(&mut cx).is_pending()); // queued
    /// limiter.dispose();
    /// let Poll::Ready(Ok(lease)) = waiting.as_mut().poll(&mut cx) else { panic!("not completed") };
    /// assert!(!lease.is_acquired());
    /// assert_eq!(limiter.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
    /// assert_eq!(limiter.statistics().unwrap().total_failed_leases, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn dispose(&self);

    /// Gives back an acquired `lease` as if the acquisition had never happened, as far as the
    /// limiter can: the successful count goes back, and so do the permits (concurrency permits,
    /// and tokens), window permits only while the window (or sliding-window segment) they were
    /// taken in is still the current one (after it has passed they have expired anyway; returning
    /// them would over-admit). Queued requests are served from what comes back.
    ///
    /// A lease that is not acquired, or not this limiter's, is simply dropped. This is how a
    /// [`ChainedRateLimiter`](crate::ChainedRateLimiter) undoes the grants of its earlier limiters
    /// when a later one refuses; an application can use it the same way, e.g. to return a token for
    /// a request it dropped before doing any work.
    ///
    /// The default implementation drops the lease (releasing what it holds), which is right for a
    /// limiter whose leases give everything back on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let bucket = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
    ///     token_limit: 1,
    ///     tokens_per_period: 1,
    ///     replenishment_period: Duration::from_secs(3600),
    ///     ..Default::default()
    /// })?;
    /// let lease = bucket.attempt_acquire(1)?;
    /// assert!(!bucket.attempt_acquire(1)?.is_acquired());
    /// bucket.refund(lease); // the token is back
    /// assert!(bucket.attempt_acquire(1)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn refund(&self, lease: RateLimitLease) {
        drop(lease);
    }

    /// This limiter as a [`ReplenishingRateLimiter`], if it is one (the built-in token bucket,
    /// fixed and sliding windows and chains are). A custom replenishing limiter should override it
    /// so that chains containing it can forward [`try_replenish`](ReplenishingRateLimiter::try_replenish).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter};
    /// use tollgate::{FixedWindowRateLimiterOptions, RateLimiter};
    ///
    /// let window: Box<dyn RateLimiter> = Box::new(FixedWindowRateLimiter::new(FixedWindowRateLimiterOptions {
    ///     permit_limit: 10, window: Duration::from_secs(1), ..Default::default()
    /// })?);
    /// let replenishing = window.as_replenishing().expect("a fixed window replenishes");
    /// assert_eq!(replenishing.replenishment_period(), Duration::from_secs(1));
    ///
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// assert!(ConcurrencyLimiter::new(options)?.as_replenishing().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        None
    }

    /// Disposes the limiter if it has been idle (see [`idle_duration`](RateLimiter::idle_duration))
    /// for at least `min_idle`; true if this call disposed it (or it was disposed already).
    ///
    /// The built-in limiters decide and dispose in one atomic step, so a request racing the call
    /// is either served first (and the limiter is not idle) or finds the limiter disposed: nothing
    /// is granted by a limiter that is being evicted. A
    /// [`PartitionedRateLimiter`](crate::PartitionedRateLimiter) evicts idle partitions with it.
    /// The default implementation checks `idle_duration` and then calls `dispose`, which is not
    /// atomic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::with_clock(options, clock.clone())?;
    /// clock.advance(Duration::from_secs(5));
    /// assert!(!limiter.dispose_if_idle(Duration::from_secs(10))); // idle for only 5 s
    /// clock.advance(Duration::from_secs(5));
    /// assert!(limiter.dispose_if_idle(Duration::from_secs(10)));
    /// assert_eq!(limiter.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        if self.idle_duration().is_some_and(|idle| idle >= min_idle) {
            self.dispose();
            true
        } else {
            false
        }
    }
}

/// A limiter whose permits come back with time: the token bucket, the fixed and sliding windows,
/// and chains (which forward to their replenishing limiters).
///
/// In automatic mode (the default) permits come back by themselves, computed lazily from the
/// clock; no timer or heartbeat is needed. In manual mode only
/// [`try_replenish`](ReplenishingRateLimiter::try_replenish) brings them back, for callers that
/// drive replenishment themselves. Reach it from a `dyn RateLimiter` with
/// [`RateLimiter::as_replenishing`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{ReplenishingRateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
///
/// let limiter = SlidingWindowRateLimiter::new(SlidingWindowRateLimiterOptions {
///     permit_limit: 10, window: Duration::from_secs(6), segments_per_window: 3, ..Default::default()
/// })?;
/// assert!(limiter.is_auto_replenishing());
/// assert_eq!(limiter.replenishment_period(), Duration::from_secs(2)); // one segment
/// assert!(!limiter.try_replenish()); // automatic: nothing to do
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ReplenishingRateLimiter: RateLimiter {
    /// Replenishes now if the limiter is in manual mode (.NET's `TryReplenish` rules); returns
    /// false and does nothing in automatic mode.
    ///
    /// In manual mode: the token bucket adds tokens in proportion to the time since its last
    /// replenishment (fractions are kept exactly); the fixed window starts a new window, and the
    /// sliding window slides one segment, if at least a window (a segment) has passed since the
    /// last call that passed this check. Queued requests are then served from what came back. In
    /// manual mode it returns true even when nothing came back (too early, a full limiter, or
    /// after disposal), as .NET does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, RateLimiter, ReplenishingRateLimiter};
    /// use tollgate::{TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// let bucket = TokenBucketRateLimiter::with_clock(
    ///     TokenBucketRateLimiterOptions {
    ///         token_limit: 2, tokens_per_period: 2, replenishment_period: Duration::from_secs(1),
    ///         auto_replenishment: false,
    ///         ..Default::default()
    ///     },
    ///     clock.clone(),
    /// )?;
    /// assert!(bucket.attempt_acquire(2)?.is_acquired());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!bucket.attempt_acquire(1)?.is_acquired()); // manual: time alone adds nothing
    /// assert!(bucket.try_replenish()); // 1 s at 2 tokens per second
    /// assert!(bucket.attempt_acquire(2)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_replenish(&self) -> bool;
    /// Whether permits come back by themselves (lazily, from the clock); false in manual mode.
    ///
    /// A chain is auto-replenishing iff all its replenishing limiters are.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ReplenishingRateLimiter};
    ///
    /// let window = Duration::from_secs(1);
    /// let options = FixedWindowRateLimiterOptions { permit_limit: 1, window, ..Default::default() };
    /// assert!(FixedWindowRateLimiter::new(options.clone())?.is_auto_replenishing());
    /// let manual = FixedWindowRateLimiterOptions { auto_replenishment: false, ..options };
    /// assert!(!FixedWindowRateLimiter::new(manual)?.is_auto_replenishing());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn is_auto_replenishing(&self) -> bool;
    /// The replenishment period (token period, window, or sliding-window segment).
    ///
    /// A chain's is the smallest positive period of its replenishing limiters (zero if none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ReplenishingRateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let bucket = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
    ///     token_limit: 10,
    ///     tokens_per_period: 1,
    ///     replenishment_period: Duration::from_millis(100),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(bucket.replenishment_period(), Duration::from_millis(100));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn replenishment_period(&self) -> Duration;
}

impl<L: RateLimiter + ?Sized> RateLimiter for std::sync::Arc<L> {
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        (**self).attempt_acquire(permits)
    }
    fn acquire(&self, permits: u32) -> Acquire<'_> {
        (**self).acquire(permits)
    }
    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        (**self).blocking_acquire(permits)
    }
    fn statistics(&self) -> Option<RateLimiterStatistics> {
        (**self).statistics()
    }
    fn idle_duration(&self) -> Option<Duration> {
        (**self).idle_duration()
    }
    fn dispose(&self) {
        (**self).dispose()
    }
    fn refund(&self, lease: RateLimitLease) {
        (**self).refund(lease)
    }
    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        (**self).as_replenishing()
    }
    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        (**self).dispose_if_idle(min_idle)
    }
}
