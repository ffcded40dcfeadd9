//! The chained limiter: several limiters acting as one, all-or-nothing.

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use crate::sync::{AtomicBool, Ordering};
use crate::{
    Acquire, AcquireError, OptionsError, RateLimitLease, RateLimiter, RateLimiterStatistics, ReplenishingRateLimiter,
};

/// Several limiters acting as one (.NET's `RateLimiter.CreateChained`): a request is granted only
/// if every limiter grants it, asked **in order**.
///
/// - `attempt_acquire` asks each limiter in turn and stops at the first refusal or error; later
///   limiters are not asked. `acquire` / `blocking_acquire` wait in each limiter's queue in turn
///   (a wait in the first holds back the second).
/// - **All-or-nothing** (a deliberate difference from .NET, which returns only concurrency
///   permits): when a later limiter refuses or errors, or the `acquire` future is dropped while a
///   later limiter is still waiting, what the earlier limiters granted is given back through
///   [`RateLimiter::refund`], in reverse order — concurrency permits, tokens, and window permits
///   whose window (or sliding-window segment) is still current — and their successful counts go
///   back too. The caller receives the refusing limiter's own lease (with its `RETRY_AFTER` or
///   `REASON_PHRASE`), or its error unchanged.
/// - The combined lease lists the union of the inner leases' metadata names, takes each value from
///   the first inner lease (in chain order) that has it, and releases the inner leases in reverse
///   order when dropped.
/// - [`statistics`](RateLimiter::statistics): the minimum available count, the sums of queued and
///   failed counts, and the successful count of the last (inner-most) limiter that reports one,
///   which counts whole-chain successes.
/// - [`idle_duration`](RateLimiter::idle_duration) is `None` if any limiter is in use (its idle
///   duration is `None`), else the smallest (.NET's 2026 rule; .NET 10 returned the smallest
///   non-`None` value, which would let a partition holding a busy chain be evicted).
/// - The chain does not own its limiters: [`dispose`](RateLimiter::dispose) disposes only the
///   chain (later acquisitions fail with [`AcquireError::Disposed`]); the limiters stay usable.
/// - It is always a [`ReplenishingRateLimiter`]: `try_replenish` asks every replenishing limiter
///   and is true if any replenished; the period is the smallest positive one (zero if none); it is
///   auto-replenishing iff every replenishing limiter is.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tollgate::{
///     ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter,
///     TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
/// };
///
/// let bucket = Arc::new(TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
///     token_limit: 10,
///     tokens_per_period: 10,
///     replenishment_period: Duration::from_secs(1),
///     ..Default::default()
/// })?);
/// let in_flight = Arc::new(ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
///     permit_limit: 1,
///     ..Default::default()
/// })?);
/// let chain = ChainedRateLimiter::new(vec![bucket.clone(), in_flight.clone()])?;
///
/// let lease = chain.attempt_acquire(1)?;
/// assert!(lease.is_acquired());
/// // The concurrency limiter refuses the second request: the bucket's token is given back.
/// assert!(!chain.attempt_acquire(1)?.is_acquired());
/// assert_eq!(bucket.statistics().unwrap().current_available_permits, 9);
/// drop(lease);
/// assert_eq!(in_flight.statistics().unwrap().current_available_permits, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChainedRateLimiter {
    limiters: Box<[Arc<dyn RateLimiter>]>,
    disposed: AtomicBool,
    /// Identity of this chain in its combined leases (`lease::limiter_id`), for refunds.
    id: u64,
}

/// `current_available_permits` when no limiter reports statistics (.NET: `long.MaxValue`).
const UNLIMITED: u64 = i64::MAX as u64;

/// Leases granted so far by a chain's earlier limiters. Dropped without `into_leases` (a refusal, an
/// error, or a dropped future), it refunds them to their limiters in reverse order.
struct Granted<'a> {
    limiters: &'a [Arc<dyn RateLimiter>],
    leases: Vec<RateLimitLease>,
}

impl<'a> Granted<'a> {
    fn new(limiters: &'a [Arc<dyn RateLimiter>]) -> Self {
        Self { limiters, leases: Vec::new() }
    }

    fn into_leases(mut self) -> Vec<RateLimitLease> {
        std::mem::take(&mut self.leases)
    }
}

impl Drop for Granted<'_> {
    fn drop(&mut self) {
        while let Some(lease) = self.leases.pop() {
            self.limiters[self.leases.len()].refund(lease);
        }
    }
}

impl ChainedRateLimiter {
    /// Chains `limiters` (asked in this order).
    ///
    /// The chain shares the limiters (they stay usable on their own, and may be in several
    /// chains). Later limiters are asked only after the earlier ones granted, and a refusal makes
    /// the earlier ones refund: putting the limiter that refuses most often first saves work.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] with `field` `"limiters"` when the list is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let options = ConcurrencyLimiterOptions { permit_limit: 2, ..Default::default() };
    /// let global = Arc::new(ConcurrencyLimiter::new(options.clone())?);
    /// let local = Arc::new(ConcurrencyLimiter::new(options)?);
    /// let chain = ChainedRateLimiter::new(vec![global, local])?;
    /// assert!(chain.attempt_acquire(2)?.is_acquired());
    ///
    /// assert_eq!(ChainedRateLimiter::new(Vec::new()).unwrap_err().field, "limiters");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(limiters: Vec<Arc<dyn RateLimiter>>) -> Result<Self, OptionsError> {
        if limiters.is_empty() {
            return Err(OptionsError::new("limiters", "must contain at least 1 limiter"));
        }
        Ok(Self {
            limiters: limiters.into_boxed_slice(),
            disposed: AtomicBool::new(false),
            id: crate::lease::limiter_id(),
        })
    }

    /// The chained limiters, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{ChainedRateLimiter, NoopLimiter, RateLimiter};
    ///
    /// let chain = ChainedRateLimiter::new(vec![Arc::new(NoopLimiter::new()), Arc::new(NoopLimiter::new())])?;
    /// assert_eq!(chain.limiters().len(), 2);
    /// assert!(chain.attempt_acquire(1)?.is_acquired());
    /// // Each limiter counted the chain's success.
    /// for limiter in chain.limiters() {
    ///     assert_eq!(limiter.statistics().unwrap().total_successful_leases, 1);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limiters(&self) -> &[Arc<dyn RateLimiter>] {
        &self.limiters
    }

    fn check_open(&self) -> Result<(), AcquireError> {
        // ORDERING: Acquire pairs with `dispose`'s Release store (nothing else is published by it;
        // Relaxed would do, Acquire keeps it obviously ordered).
        if self.disposed.load(Ordering::Acquire) { Err(AcquireError::Disposed) } else { Ok(()) }
    }

    /// Asks every limiter in turn with `step`; the combined lease, or the first refusal or error
    /// (the earlier grants refunded).
    fn run(
        &self,
        mut step: impl FnMut(&dyn RateLimiter) -> Result<RateLimitLease, AcquireError>,
    ) -> Result<RateLimitLease, AcquireError> {
        self.check_open()?;
        let mut granted = Granted::new(&self.limiters);
        for limiter in self.limiters.iter() {
            let lease = step(&**limiter)?;
            if !lease.is_acquired() {
                return Ok(lease);
            }
            granted.leases.push(lease);
        }
        Ok(RateLimitLease::combined(self.id, granted.into_leases()))
    }
}

impl RateLimiter for ChainedRateLimiter {
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.run(|limiter| limiter.attempt_acquire(permits))
    }

    fn acquire(&self, permits: u32) -> Acquire<'_> {
        Acquire::from_future(async move {
            self.check_open()?;
            // Dropping this future while a limiter waits drops `granted`, refunding the others.
            let mut granted = Granted::new(&self.limiters);
            for limiter in self.limiters.iter() {
                let lease = limiter.acquire(permits).await?;
                if !lease.is_acquired() {
                    return Ok(lease);
                }
                granted.leases.push(lease);
            }
            Ok(RateLimitLease::combined(self.id, granted.into_leases()))
        })
    }

    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.run(|limiter| limiter.blocking_acquire(permits))
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        let mut total = RateLimiterStatistics {
            current_available_permits: UNLIMITED,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: 0,
        };
        for stats in self.limiters.iter().filter_map(|l| l.statistics()) {
            total.current_available_permits = total.current_available_permits.min(stats.current_available_permits);
            total.current_queued_count += stats.current_queued_count;
            total.total_failed_leases += stats.total_failed_leases;
            total.total_successful_leases = stats.total_successful_leases;
        }
        Some(total)
    }

    fn idle_duration(&self) -> Option<Duration> {
        let mut idle = Duration::MAX;
        for limiter in self.limiters.iter() {
            idle = idle.min(limiter.idle_duration()?);
        }
        Some(idle)
    }

    fn dispose(&self) {
        // ORDERING: Release: see `check_open`.
        self.disposed.store(true, Ordering::Release);
    }

    /// Refunds a combined lease of this chain to every limiter, in reverse order.
    fn refund(&self, lease: RateLimitLease) {
        match lease.into_inner(self.id) {
            Ok(inner) => drop(Granted { limiters: &self.limiters, leases: inner }),
            Err(other) => drop(other),
        }
    }

    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        Some(self)
    }
}

impl ReplenishingRateLimiter for ChainedRateLimiter {
    /// Calls `try_replenish` on every replenishing limiter (all of them, in order); true if any
    /// returned true.
    fn try_replenish(&self) -> bool {
        let mut any = false;
        for limiter in self.limiters.iter().filter_map(|l| l.as_replenishing()) {
            any |= limiter.try_replenish();
        }
        any
    }

    /// True iff every replenishing limiter is auto-replenishing (limiters that do not replenish are
    /// ignored; with none, true).
    fn is_auto_replenishing(&self) -> bool {
        self.limiters.iter().filter_map(|l| l.as_replenishing()).all(|l| l.is_auto_replenishing())
    }

    /// The smallest positive period of the replenishing limiters, or zero if there is none.
    fn replenishment_period(&self) -> Duration {
        self.limiters
            .iter()
            .filter_map(|l| l.as_replenishing())
            .map(|l| l.replenishment_period())
            .filter(|p| !p.is_zero())
            .min()
            .unwrap_or(Duration::ZERO)
    }
}

impl fmt::Debug for ChainedRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainedRateLimiter")
            .field("limiters", &self.limiters.len())
            // ORDERING: Relaxed: a diagnostic.
            .field("disposed", &self.disposed.load(Ordering::Relaxed))
            .field("statistics", &self.statistics())
            .finish()
    }
}
