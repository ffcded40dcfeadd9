//! The limiter traits.

use std::time::Duration;

use crate::{AcquireError, RateLimitLease, RateLimiterStatistics, wait::Acquire};

/// Which queued request is served first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QueueProcessingOrder {
    /// FIFO: the oldest queued request is served first; while anything is queued, new requests
    /// queue behind it (they cannot take permits past it).
    #[default]
    OldestFirst,
    /// LIFO: the newest queued request is served first; new requests may take free permits at once
    /// even when older ones wait, and a full queue evicts its oldest requests to make room.
    NewestFirst,
}

/// A rate limiter: hands out leases for permits.
///
/// Object-safe: `Arc<dyn RateLimiter>` works. Every built-in limiter is `Send + Sync`.
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
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError>;

    /// Acquires `permits`, waiting in the queue if they are not available now.
    ///
    /// The request joins the queue when the future is first polled. It fails at once (a lease that
    /// is not acquired) when the queue is full; queued requests may also fail later when evicted
    /// (NewestFirst) or when the limiter is disposed.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](RateLimiter::attempt_acquire).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future withdraws the request and restores the queued count at once.
    fn acquire(&self, permits: u32) -> Acquire<'_>;

    /// Like [`acquire`](RateLimiter::acquire), parking the calling thread while it waits.
    ///
    /// For plain threads; calling it from an async task blocks that task's worker thread.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](RateLimiter::attempt_acquire).
    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError>;

    /// A snapshot of the limiter's counters (`Some` for every built-in limiter, also after dispose).
    fn statistics(&self) -> Option<RateLimiterStatistics>;

    /// How long the limiter has been idle (everything available, nothing queued); `None` while in use.
    fn idle_duration(&self) -> Option<Duration>;

    /// Disposes the limiter: queued requests complete with leases that are not acquired (not
    /// counted as failures), later acquisitions fail with [`AcquireError::Disposed`]. Idempotent.
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
    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        if self.idle_duration().is_some_and(|idle| idle >= min_idle) {
            self.dispose();
            true
        } else {
            false
        }
    }
}

/// A limiter whose permits come back with time.
pub trait ReplenishingRateLimiter: RateLimiter {
    /// Replenishes now if the limiter is in manual mode (.NET's `TryReplenish` rules); returns
    /// false and does nothing in automatic mode.
    fn try_replenish(&self) -> bool;
    /// Whether permits come back by themselves (lazily, from the clock).
    fn is_auto_replenishing(&self) -> bool;
    /// The replenishment period (token period, window, or sliding-window segment).
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
