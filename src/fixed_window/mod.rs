//! The fixed window: at most `permit_limit` permits per window; each window starts full.
//!
//! # Implementation
//!
//! A fixed window is a token bucket whose bucket holds `permit_limit` tokens and whose every tick
//! adds `permit_limit` (so a tick is a reset: `min(limit, tokens + limit) = limit`). It therefore
//! runs on the token bucket's engine (`token_bucket::Shared`): the same 128-bit word, lazy exact
//! window boundaries at construction + k·`window`, the same waiter queue with timed next-in-line
//! waiters, the same exact `retry_after` (the start of the window in which the request, queued
//! permits served first, fits). Only manual mode differs, following .NET's `Replenish`: at most one
//! reset per call, and none if less than a window has passed since the last call that passed that
//! check.

mod options;

pub use options::FixedWindowRateLimiterOptions;

use std::fmt;
use std::time::Duration;

use crate::token_bucket::{ManualRule, Params, Shape, Shared};
use crate::{
    Acquire, AcquireError, Clock, DefaultClock, OptionsError, RateLimitLease, RateLimiter, RateLimiterStatistics,
    ReplenishingRateLimiter,
};

/// A fixed window limiter with .NET's semantics: at most `permit_limit` permits per `window`,
/// requests waiting in a queue of at most `queue_limit` permits.
///
/// In automatic mode (the default) no timer runs: window *k* starts at construction +
/// *k*·`window`, and every access brings the limiter up to date from the clock; queued requests are
/// granted when their window starts, with no other caller needed. In manual mode
/// (`auto_replenishment: false`) only [`try_replenish`](ReplenishingRateLimiter::try_replenish)
/// starts a new window, at most once per `window` (.NET's rule).
///
/// Every failed lease of a failed attempt or a full queue carries
/// [`retry_after`](RateLimitLease::retry_after): in automatic mode the wait until the window in which
/// the same request would succeed, the permits already queued (oldest-first) served first — exact:
/// retrying then succeeds and a nanosecond earlier does not; in manual mode the number of windows
/// needed, rounded up, times the window. Newest-first queues get an estimate, as for the token
/// bucket.
///
/// Dropping a lease returns nothing (a window's permits are spent). Dropping the limiter disposes it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, RateLimiter};
///
/// let clock = ManualClock::new();
/// let window = FixedWindowRateLimiter::with_clock(
///     FixedWindowRateLimiterOptions { permit_limit: 2, window: Duration::from_secs(1), ..Default::default() },
///     clock.clone(),
/// )?;
/// assert!(window.attempt_acquire(2)?.is_acquired());
/// clock.advance(Duration::from_millis(300));
/// let refused = window.attempt_acquire(1)?;
/// assert_eq!(refused.retry_after(), Some(Duration::from_millis(700)));
/// clock.advance(Duration::from_millis(700));
/// assert!(window.attempt_acquire(2)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FixedWindowRateLimiter<C: Clock = DefaultClock> {
    shared: Shared<C>,
}

impl FixedWindowRateLimiter<DefaultClock> {
    /// Creates a fixed window limiter on the default (TSC) clock; the first window starts now.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`FixedWindowRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, RateLimiter};
    ///
    /// // At most 100 requests per minute.
    /// let window = Duration::from_secs(60);
    /// let options = FixedWindowRateLimiterOptions { permit_limit: 100, window, ..Default::default() };
    /// let limiter = FixedWindowRateLimiter::new(options)?;
    /// assert!(limiter.attempt_acquire(100)?.is_acquired());
    /// assert!(!limiter.attempt_acquire(1)?.is_acquired()); // until the next window
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(options: FixedWindowRateLimiterOptions) -> Result<Self, OptionsError> {
        Self::with_clock(options, DefaultClock::new())
    }
}

impl<C: Clock> FixedWindowRateLimiter<C> {
    /// Creates a fixed window limiter that reads time from `clock`; the first window starts now.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`FixedWindowRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let clock = ManualClock::new();
    /// let options = FixedWindowRateLimiterOptions {
    ///     permit_limit: 1, window: Duration::from_secs(1), queue_limit: 1, ..Default::default()
    /// };
    /// let limiter = FixedWindowRateLimiter::with_clock(options, clock.clone())?;
    /// let _first = limiter.attempt_acquire(1)?;
    /// let (waited, ()) = tokio::join!(limiter.acquire(1), async {
    ///     tokio::task::yield_now().await; // the request queues for the next window...
    ///     clock.advance(Duration::from_secs(1)); // ...which starts now: it is granted
    /// });
    /// assert!(waited?.is_acquired());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_clock(options: FixedWindowRateLimiterOptions, clock: C) -> Result<Self, OptionsError> {
        options.validate()?;
        let params = Params {
            limit: options.permit_limit,
            per_period: options.permit_limit,
            period: options.window.as_nanos() as u64,
        };
        let shape = Shape {
            params,
            auto: options.auto_replenishment,
            order: options.queue_processing_order,
            queue_limit: options.queue_limit,
            manual_rule: ManualRule::ResetPerWindow,
        };
        Ok(Self { shared: Shared::new(shape, clock) })
    }
}

impl<C: Clock> RateLimiter for FixedWindowRateLimiter<C> {
    #[inline]
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.shared.attempt(permits)
    }

    fn acquire(&self, permits: u32) -> Acquire<'_> {
        self.shared.acquire(permits)
    }

    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.shared.blocking_acquire(permits)
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        Some(self.shared.statistics())
    }

    fn idle_duration(&self) -> Option<Duration> {
        self.shared.idle_duration()
    }

    fn dispose(&self) {
        self.shared.dispose();
    }

    fn refund(&self, lease: RateLimitLease) {
        self.shared.refund(lease);
    }

    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        Some(self)
    }

    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        self.shared.dispose_if_idle(min_idle)
    }
}

impl<C: Clock> ReplenishingRateLimiter for FixedWindowRateLimiter<C> {
    fn try_replenish(&self) -> bool {
        self.shared.try_replenish()
    }

    fn is_auto_replenishing(&self) -> bool {
        self.shared.is_auto()
    }

    fn replenishment_period(&self) -> Duration {
        self.shared.period()
    }
}

impl<C: Clock> Drop for FixedWindowRateLimiter<C> {
    fn drop(&mut self) {
        self.shared.dispose();
    }
}

impl<C: Clock> fmt::Debug for FixedWindowRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("FixedWindowRateLimiter")
            .field("permit_limit", &shared.limit())
            .field("window", &shared.period())
            .field("auto_replenishment", &shared.is_auto())
            .field("queue_limit", &shared.queue_limit())
            .field("order", &shared.order())
            .field("statistics", &shared.statistics())
            .finish()
    }
}
