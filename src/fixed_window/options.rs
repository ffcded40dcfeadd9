//! Options of the fixed window limiter.

use std::time::Duration;

use crate::{OptionsError, QueueProcessingOrder};

/// Options of a [`FixedWindowRateLimiter`](crate::FixedWindowRateLimiter).
///
/// The default value is invalid (limit and window zero), as in .NET: set the fields you need and
/// keep the rest with `..Default::default()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::FixedWindowRateLimiterOptions;
///
/// let options = FixedWindowRateLimiterOptions {
///     permit_limit: 100,
///     window: Duration::from_secs(1),
///     queue_limit: 10,
///     ..Default::default()
/// };
/// assert!(options.validate().is_ok());
/// assert!(options.auto_replenishment);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedWindowRateLimiterOptions {
    /// Permits per window. Must be greater than 0.
    pub permit_limit: u32,
    /// The window's length. Must be greater than zero (and at most `u64::MAX` nanoseconds).
    pub window: Duration,
    /// `true` (the default): windows start by themselves, at construction + k·`window`, computed
    /// lazily from the clock. `false`: only
    /// [`try_replenish`](crate::ReplenishingRateLimiter::try_replenish) starts a new window.
    pub auto_replenishment: bool,
    /// Which queued request is served first.
    pub queue_processing_order: QueueProcessingOrder,
    /// How many permits (summed over requests) may wait in the queue. 0 disables queuing.
    pub queue_limit: u32,
}

impl Default for FixedWindowRateLimiterOptions {
    fn default() -> Self {
        Self {
            permit_limit: 0,
            window: Duration::ZERO,
            auto_replenishment: true,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
            queue_limit: 0,
        }
    }
}

impl FixedWindowRateLimiterOptions {
    /// Checks the options as the constructor does (.NET's order: `permit_limit`, then `window`).
    ///
    /// # Errors
    ///
    /// An [`OptionsError`] naming the first invalid field: a zero `permit_limit`, or a `window`
    /// that is zero or longer than `u64::MAX` nanoseconds (584 years).
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.permit_limit == 0 {
            return Err(OptionsError::must_be_positive("permit_limit"));
        }
        if self.window.is_zero() {
            return Err(OptionsError::must_be_positive("window"));
        }
        if u64::try_from(self.window.as_nanos()).is_err() {
            return Err(OptionsError::new("window", "must be at most u64::MAX nanoseconds"));
        }
        Ok(())
    }
}
