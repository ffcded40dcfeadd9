//! Statistics snapshots.

/// A snapshot of a limiter's counters, taken by [`RateLimiter::statistics`](crate::RateLimiter::statistics).
///
/// Later activity does not change a snapshot. Counts are exact; under concurrent use the four
/// fields are read one after another, so they need not describe a single instant.
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
