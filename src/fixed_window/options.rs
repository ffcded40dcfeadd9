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
///
/// # Configuration files (feature `serde`)
///
/// With the `serde` feature the options implement `Deserialize` and `Serialize` with the field
/// names above. `permit_limit` and `window` are required; `auto_replenishment` (`true`),
/// `queue_limit` (0) and `queue_processing_order` (`"oldest_first"`; or `"newest_first"`, .NET's
/// `"OldestFirst"` / `"NewestFirst"` are accepted too) may be omitted. Durations are strings of
/// numbers with units, largest unit first: `d`, `h`, `m`, `s`, `ms`, `us` (or `µs`), `ns`, as in
/// `"1s"`, `"1.5s"` or `"1m30s"`; a bare number is rejected as ambiguous. Unknown fields are an
/// error, and the options are checked with [`validate`](Self::validate) as they are read, so a
/// zero limit or window fails with its [`OptionsError`] message.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, RateLimiter};
///
/// let options: FixedWindowRateLimiterOptions = toml::from_str(
///     r#"
///     permit_limit = 100
///     window = "1m30s"
///     queue_processing_order = "NewestFirst" # .NET's spelling works too
///     "#,
/// )?;
/// assert_eq!(options.window, Duration::from_secs(90));
/// let limiter = FixedWindowRateLimiter::new(options)?;
/// assert!(limiter.attempt_acquire(1)?.is_acquired());
///
/// let error = toml::from_str::<FixedWindowRateLimiterOptions>(r#"permit_limit = 100"#).unwrap_err();
/// assert!(error.to_string().contains("missing field `window`"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(try_from = "RawOptions", into = "RawOptions")
)]
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::FixedWindowRateLimiterOptions;
    ///
    /// let options = FixedWindowRateLimiterOptions { permit_limit: 100, ..Default::default() };
    /// assert_eq!(options.validate().unwrap_err().to_string(), "window must be greater than 0");
    /// let options = FixedWindowRateLimiterOptions { window: Duration::from_secs(1), ..options };
    /// assert!(options.validate().is_ok());
    /// ```
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

/// The serde form of [`FixedWindowRateLimiterOptions`] (see `crate::serde_support`).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename = "FixedWindowRateLimiterOptions")]
struct RawOptions {
    permit_limit: u32,
    #[serde(with = "crate::serde_support::duration")]
    window: Duration,
    #[serde(default = "crate::serde_support::default_auto_replenishment")]
    auto_replenishment: bool,
    #[serde(default)]
    queue_processing_order: QueueProcessingOrder,
    #[serde(default)]
    queue_limit: u32,
}

#[cfg(feature = "serde")]
impl TryFrom<RawOptions> for FixedWindowRateLimiterOptions {
    type Error = OptionsError;

    fn try_from(raw: RawOptions) -> Result<Self, OptionsError> {
        let RawOptions { permit_limit, window, auto_replenishment, queue_processing_order, queue_limit } = raw;
        let options = Self { permit_limit, window, auto_replenishment, queue_processing_order, queue_limit };
        options.validate()?;
        Ok(options)
    }
}

#[cfg(feature = "serde")]
impl From<FixedWindowRateLimiterOptions> for RawOptions {
    fn from(options: FixedWindowRateLimiterOptions) -> Self {
        let FixedWindowRateLimiterOptions {
            permit_limit,
            window,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        } = options;
        Self { permit_limit, window, auto_replenishment, queue_processing_order, queue_limit }
    }
}
