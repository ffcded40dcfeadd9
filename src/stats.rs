//! Statistics snapshots.

/// A snapshot of a limiter's counters, taken by [`RateLimiter::statistics`](crate::RateLimiter::statistics).
///
/// Later activity does not change a snapshot. Counts are exact; under concurrent use the four
/// fields are read one after another, so they need not describe a single instant.
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter, RateLimiterStatistics};
///
/// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 3, ..Default::default() })?;
/// let _lease = limiter.attempt_acquire(2)?; // a success
/// assert!(!limiter.attempt_acquire(2)?.is_acquired()); // a failure
/// assert_eq!(
///     limiter.statistics(),
///     Some(RateLimiterStatistics {
///         current_available_permits: 1,
///         current_queued_count: 0,
///         total_failed_leases: 1,
///         total_successful_leases: 1,
///     })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RateLimiterStatistics {
    /// Permits (or whole tokens) available now.
    pub current_available_permits: u64,
    /// The sum of the permit counts of the requests waiting in the queue.
    pub current_queued_count: u64,
    /// Failed leases so far: refused attempts, queue-full failures and NewestFirst evictions
    /// (disposal failures are not counted).
    pub total_failed_leases: u64,
    /// Successful leases so far, including zero-permit ones and queued requests when granted.
    pub total_successful_leases: u64,
}
