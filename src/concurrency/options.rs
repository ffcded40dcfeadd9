//! Options of the concurrency limiter.

use crate::{OptionsError, QueueProcessingOrder};

/// Options of a [`ConcurrencyLimiter`](crate::ConcurrencyLimiter).
///
/// The default value is invalid (`permit_limit` 0), as in .NET: set the fields you need and keep
/// the rest with `..Default::default()`.
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiterOptions, QueueProcessingOrder};
///
/// let options = ConcurrencyLimiterOptions {
///     permit_limit: 8,
///     queue_limit: 100,
///     queue_processing_order: QueueProcessingOrder::OldestFirst,
/// };
/// assert_eq!(options.permit_limit, 8);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConcurrencyLimiterOptions {
    /// How many permits may be held at once. Must be greater than 0.
    pub permit_limit: u32,
    /// Which queued request is served first.
    pub queue_processing_order: QueueProcessingOrder,
    /// How many permits (summed over requests) may wait in the queue. 0 disables queuing.
    pub queue_limit: u32,
}

impl ConcurrencyLimiterOptions {
    /// Checks the options as the constructor does (.NET's order: `permit_limit` first).
    ///
    /// # Errors
    ///
    /// `permit_limit must be greater than 0` when it is 0. (`queue_limit` cannot be negative.)
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.permit_limit == 0 {
            return Err(OptionsError::must_be_positive("permit_limit"));
        }
        Ok(())
    }
}
