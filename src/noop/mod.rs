//! The no-op limiter: every request succeeds.

use std::fmt;
use std::time::Duration;

use crate::lease::Names;
use crate::sync::{AtomicU64, Ordering};
use crate::wait::{AcquireHost, Begin, Waiter, Wake};
use crate::{Acquire, AcquireError, RateLimitLease, RateLimiter, RateLimiterStatistics};

/// A limiter that never limits (.NET's `RateLimitPartition.GetNoLimiter`): every
/// `attempt_acquire`, `acquire` and `blocking_acquire` succeeds at once, for any permit count, also
/// after [`dispose`](RateLimiter::dispose) (which does nothing). Leases carry no metadata and
/// dropping them does nothing. `idle_duration` is always `None`.
///
/// Statistics count every acquisition as successful; the available count is `i64::MAX` (.NET's
/// `long.MaxValue`), so a chain's "minimum available" treats this limiter as unlimited.
///
/// # Cancel safety
///
/// As for every limiter, the [`acquire`](RateLimiter::acquire) future does nothing until it is
/// first polled: that poll grants, counts the success and returns the lease (it never waits). A
/// future dropped before its first poll leaves no trace (nothing is counted).
///
/// # Examples
///
/// ```
/// use tollgate::{NoopLimiter, RateLimiter};
///
/// let noop = NoopLimiter::new();
/// assert!(noop.attempt_acquire(u32::MAX)?.is_acquired());
/// assert_eq!(noop.statistics().unwrap().total_successful_leases, 1);
/// # Ok::<(), tollgate::AcquireError>(())
/// ```
pub struct NoopLimiter {
    successes: AtomicU64,
    /// Identity in leases (`lease::limiter_id`), for refunds.
    id: u64,
}

impl Default for NoopLimiter {
    fn default() -> Self {
        Self { successes: AtomicU64::new(0), id: crate::lease::limiter_id() }
    }
}

/// `CurrentAvailablePermits` of a no-op limiter (.NET: `long.MaxValue`).
const UNLIMITED: u64 = i64::MAX as u64;

impl NoopLimiter {
    /// Creates a no-op limiter (the same as [`NoopLimiter::default`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{NoopLimiter, RateLimiter};
    ///
    /// let noop = NoopLimiter::new();
    /// noop.dispose(); // does nothing
    /// assert!(noop.attempt_acquire(10)?.is_acquired());
    /// assert_eq!(noop.idle_duration(), None);
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn grant(&self) -> RateLimitLease {
        // ORDERING: Relaxed: a statistic; exact because it is an RMW.
        self.successes.fetch_add(1, Ordering::Relaxed);
        RateLimitLease::granted(Names::None, self.id, 0, 0)
    }
}

impl RateLimiter for NoopLimiter {
    #[inline]
    fn attempt_acquire(&self, _permits: u32) -> Result<RateLimitLease, AcquireError> {
        Ok(self.grant())
    }

    /// Grants at the future's first poll (see the type's `# Cancel safety`); does not allocate.
    fn acquire(&self, permits: u32) -> Acquire<'_> {
        Acquire::queued(self, permits)
    }

    fn blocking_acquire(&self, _permits: u32) -> Result<RateLimitLease, AcquireError> {
        Ok(self.grant())
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        Some(RateLimiterStatistics {
            current_available_permits: UNLIMITED,
            current_queued_count: 0,
            total_failed_leases: 0,
            // ORDERING: Relaxed: a statistic.
            total_successful_leases: self.successes.load(Ordering::Relaxed),
        })
    }

    fn idle_duration(&self) -> Option<Duration> {
        None
    }

    fn dispose(&self) {}

    fn refund(&self, lease: RateLimitLease) {
        if lease.grant_of(self.id).is_some() {
            // ORDERING: Relaxed: a statistic.
            self.successes.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The `acquire` future's host: its first poll calls `begin`, which always decides at once, so no
/// request ever queues and the queue methods are never called.
impl AcquireHost for NoopLimiter {
    fn begin(&self, _permits: u32, _wake: Wake) -> Begin {
        Begin::Done(Ok(self.grant()))
    }

    fn finish(&self, _node: &Waiter, _state: u8) -> Result<RateLimitLease, AcquireError> {
        unreachable!("a no-op limiter never queues a request")
    }

    fn cancel(&self, _node: &Waiter) -> bool {
        unreachable!("a no-op limiter never queues a request")
    }

    fn refund(&self, lease: RateLimitLease) {
        RateLimiter::refund(self, lease);
    }
}

impl fmt::Debug for NoopLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoopLimiter").field("statistics", &self.statistics()).finish()
    }
}
