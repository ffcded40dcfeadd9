//! Options of the sliding window limiter.

use std::time::Duration;

use crate::{OptionsError, QueueProcessingOrder};

/// Options of a [`SlidingWindowRateLimiter`](crate::SlidingWindowRateLimiter).
///
/// The default value is invalid (limit, window and segments zero), as in .NET: set the fields you
/// need and keep the rest with `..Default::default()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::SlidingWindowRateLimiterOptions;
///
/// let options = SlidingWindowRateLimiterOptions {
///     permit_limit: 100,
///     window: Duration::from_secs(1),
///     segments_per_window: 10,
///     ..Default::default()
/// };
/// assert!(options.validate().is_ok());
/// ```
///
/// # Configuration files (feature `serde`)
///
/// With the `serde` feature the options implement `Deserialize` and `Serialize` with the field
/// names above. `permit_limit`, `window` and `segments_per_window` are required;
/// `auto_replenishment` (`true`), `queue_limit` (0) and `queue_processing_order`
/// (`"oldest_first"`; or `"newest_first"`, .NET's `"OldestFirst"` / `"NewestFirst"` are accepted
/// too) may be omitted. Durations are strings of numbers with units, largest unit first: `d`, `h`,
/// `m`, `s`, `ms`, `us` (or `µs`), `ns`, as in `"1s"`, `"1.5s"` or `"1m30s"`; a bare number is
/// rejected as ambiguous. Unknown fields are an error, and the options are checked with
/// [`validate`](Self::validate) as they are read, so a zero limit or an empty segment fails with
/// its [`OptionsError`] message.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use tollgate::{RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
///
/// let options: SlidingWindowRateLimiterOptions = serde_json::from_str(
///     r#"{ "permit_limit": 100, "window": "1s", "segments_per_window": 10, "queue_limit": 5 }"#,
/// )?;
/// assert_eq!(options.window, Duration::from_secs(1));
/// let limiter = SlidingWindowRateLimiter::new(options)?;
/// assert!(limiter.attempt_acquire(100)?.is_acquired());
///
/// let error = serde_json::from_str::<SlidingWindowRateLimiterOptions>(
///     r#"{ "permit_limit": 100, "window": "1s", "segments_per_window": 10, "queue_limt": 5 }"#,
/// )
/// .unwrap_err();
/// assert!(error.to_string().starts_with("unknown field `queue_limt`"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(try_from = "RawOptions", into = "RawOptions")
)]
pub struct SlidingWindowRateLimiterOptions {
    /// Permits per window. Must be greater than 0.
    pub permit_limit: u32,
    /// The window's length. Must be greater than zero; the segment length is `window /
    /// segments_per_window` in whole nanoseconds (.NET divides whole ticks), which must not be zero.
    pub window: Duration,
    /// How many segments the window slides by. Must be greater than 0.
    pub segments_per_window: u32,
    /// `true` (the default): segments slide by themselves, at construction + k·segment, computed
    /// lazily from the clock. `false`: only
    /// [`try_replenish`](crate::ReplenishingRateLimiter::try_replenish) slides the window, one
    /// segment per call at most.
    pub auto_replenishment: bool,
    /// Which queued request is served first.
    pub queue_processing_order: QueueProcessingOrder,
    /// How many permits (summed over requests) may wait in the queue. 0 disables queuing.
    pub queue_limit: u32,
}

impl Default for SlidingWindowRateLimiterOptions {
    fn default() -> Self {
        Self {
            permit_limit: 0,
            window: Duration::ZERO,
            segments_per_window: 0,
            auto_replenishment: true,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
            queue_limit: 0,
        }
    }
}

impl SlidingWindowRateLimiterOptions {
    /// Checks the options as the constructor does (.NET's order: `permit_limit`,
    /// `segments_per_window`, `window`).
    ///
    /// # Errors
    ///
    /// An [`OptionsError`] naming the first invalid field: a zero `permit_limit` or
    /// `segments_per_window`, or a `window` that is zero, longer than `u64::MAX` nanoseconds, or
    /// shorter than `segments_per_window` nanoseconds (a segment would be empty).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::SlidingWindowRateLimiterOptions;
    ///
    /// let options = SlidingWindowRateLimiterOptions {
    ///     permit_limit: 100,
    ///     window: Duration::from_secs(1),
    ///     ..Default::default()
    /// };
    /// assert_eq!(options.validate().unwrap_err().to_string(), "segments_per_window must be greater than 0");
    /// assert!(SlidingWindowRateLimiterOptions { segments_per_window: 10, ..options }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.permit_limit == 0 {
            return Err(OptionsError::must_be_positive("permit_limit"));
        }
        if self.segments_per_window == 0 {
            return Err(OptionsError::must_be_positive("segments_per_window"));
        }
        if self.window.is_zero() {
            return Err(OptionsError::must_be_positive("window"));
        }
        let Ok(window) = u64::try_from(self.window.as_nanos()) else {
            return Err(OptionsError::new("window", "must be at most u64::MAX nanoseconds"));
        };
        if window < u64::from(self.segments_per_window) {
            return Err(OptionsError::new("window", "must be at least segments_per_window nanoseconds"));
        }
        Ok(())
    }

    /// The segment length in nanoseconds (whole-nanosecond division, like .NET's tick division).
    pub(crate) fn segment_nanos(&self) -> u64 {
        self.window.as_nanos() as u64 / u64::from(self.segments_per_window)
    }
}

/// The serde form of [`SlidingWindowRateLimiterOptions`] (see `crate::serde_support`).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename = "SlidingWindowRateLimiterOptions")]
struct RawOptions {
    permit_limit: u32,
    #[serde(with = "crate::serde_support::duration")]
    window: Duration,
    segments_per_window: u32,
    #[serde(default = "crate::serde_support::default_auto_replenishment")]
    auto_replenishment: bool,
    #[serde(default)]
    queue_processing_order: QueueProcessingOrder,
    #[serde(default)]
    queue_limit: u32,
}

#[cfg(feature = "serde")]
impl TryFrom<RawOptions> for SlidingWindowRateLimiterOptions {
    type Error = OptionsError;

    fn try_from(raw: RawOptions) -> Result<Self, OptionsError> {
        let RawOptions {
            permit_limit,
            window,
            segments_per_window,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        } = raw;
        let options =
            Self { permit_limit, window, segments_per_window, auto_replenishment, queue_processing_order, queue_limit };
        options.validate()?;
        Ok(options)
    }
}

#[cfg(feature = "serde")]
impl From<SlidingWindowRateLimiterOptions> for RawOptions {
    fn from(options: SlidingWindowRateLimiterOptions) -> Self {
        let SlidingWindowRateLimiterOptions {
            permit_limit,
            window,
            segments_per_window,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        } = options;
        Self { permit_limit, window, segments_per_window, auto_replenishment, queue_processing_order, queue_limit }
    }
}
