//! Options of the token bucket.

use std::time::Duration;

use crate::{OptionsError, QueueProcessingOrder};

/// Options of a [`TokenBucketRateLimiter`](crate::TokenBucketRateLimiter).
///
/// The default value is invalid (limits and period zero), as in .NET: set the fields you need and
/// keep the rest with `..Default::default()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::TokenBucketRateLimiterOptions;
///
/// let options = TokenBucketRateLimiterOptions {
///     token_limit: 100,
///     tokens_per_period: 10,
///     replenishment_period: Duration::from_millis(100),
///     queue_limit: 50,
///     ..Default::default()
/// };
/// assert!(options.validate().is_ok());
/// assert!(options.auto_replenishment);
/// ```
///
/// # Configuration files (feature `serde`)
///
/// With the `serde` feature the options implement `Deserialize` and `Serialize` with the field
/// names above. `token_limit`, `tokens_per_period` and `replenishment_period` are required;
/// `auto_replenishment` (`true`), `queue_limit` (0) and `queue_processing_order`
/// (`"oldest_first"`; or `"newest_first"`, .NET's `"OldestFirst"` / `"NewestFirst"` are accepted
/// too) may be omitted. Durations are strings of numbers with units, largest unit first: `d`, `h`,
/// `m`, `s`, `ms`, `us` (or `µs`), `ns`, as in `"100ms"`, `"1.5s"` or `"1m30s"`; a bare number is
/// rejected as ambiguous. Unknown fields are an error, and the options are checked with
/// [`validate`](Self::validate) as they are read, so a zero limit or period fails with its
/// [`OptionsError`] message.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use tollgate::{RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
///
/// let options: TokenBucketRateLimiterOptions = toml::from_str(
///     r#"
///     token_limit = 100
///     tokens_per_period = 10
///     replenishment_period = "100ms"
///     queue_limit = 50
///     "#,
/// )?;
/// assert_eq!(options.replenishment_period, Duration::from_millis(100));
/// assert!(options.auto_replenishment);
/// let limiter = TokenBucketRateLimiter::new(options)?;
/// assert!(limiter.attempt_acquire(100)?.is_acquired());
///
/// let error = toml::from_str::<TokenBucketRateLimiterOptions>(
///     r#"
///     token_limit = 100
///     tokens_per_period = 10
///     replenishment_period = "100"
///     "#,
/// )
/// .unwrap_err();
/// assert!(error.to_string().contains(r#"write e.g. "100s" or "100ms""#));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(try_from = "RawOptions", into = "RawOptions")
)]
pub struct TokenBucketRateLimiterOptions {
    /// The bucket's capacity: at most this many tokens are available at once. Must be greater than 0.
    pub token_limit: u32,
    /// Tokens added at every tick (capped at `token_limit`). Must be greater than 0.
    pub tokens_per_period: u32,
    /// Time between ticks. Must be greater than zero (and at most `u64::MAX` nanoseconds).
    pub replenishment_period: Duration,
    /// `true` (the default): tokens come back by themselves, computed lazily from the clock.
    /// `false`: only [`try_replenish`](crate::ReplenishingRateLimiter::try_replenish) adds tokens.
    pub auto_replenishment: bool,
    /// Which queued request is served first.
    pub queue_processing_order: QueueProcessingOrder,
    /// How many permits (summed over requests) may wait in the queue. 0 disables queuing.
    pub queue_limit: u32,
}

impl Default for TokenBucketRateLimiterOptions {
    fn default() -> Self {
        Self {
            token_limit: 0,
            tokens_per_period: 0,
            replenishment_period: Duration::ZERO,
            auto_replenishment: true,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
            queue_limit: 0,
        }
    }
}

impl TokenBucketRateLimiterOptions {
    /// Checks the options as the constructor does (.NET's order: `token_limit`, `tokens_per_period`,
    /// `replenishment_period`).
    ///
    /// # Errors
    ///
    /// An [`OptionsError`] naming the first invalid field: a zero `token_limit` or
    /// `tokens_per_period`, or a `replenishment_period` that is zero or longer than `u64::MAX`
    /// nanoseconds (584 years).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::TokenBucketRateLimiterOptions;
    ///
    /// let options = TokenBucketRateLimiterOptions { token_limit: 10, tokens_per_period: 1, ..Default::default() };
    /// // The period is still zero:
    /// assert_eq!(options.validate().unwrap_err().to_string(), "replenishment_period must be greater than 0");
    /// let options = TokenBucketRateLimiterOptions { replenishment_period: Duration::from_secs(1), ..options };
    /// assert!(options.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.token_limit == 0 {
            return Err(OptionsError::must_be_positive("token_limit"));
        }
        if self.tokens_per_period == 0 {
            return Err(OptionsError::must_be_positive("tokens_per_period"));
        }
        if self.replenishment_period.is_zero() {
            return Err(OptionsError::must_be_positive("replenishment_period"));
        }
        if u64::try_from(self.replenishment_period.as_nanos()).is_err() {
            return Err(OptionsError::new("replenishment_period", "must be at most u64::MAX nanoseconds"));
        }
        Ok(())
    }

    pub(crate) fn period_nanos(&self) -> u64 {
        self.replenishment_period.as_nanos() as u64
    }
}

/// The serde form of [`TokenBucketRateLimiterOptions`] (see `crate::serde_support`).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename = "TokenBucketRateLimiterOptions")]
struct RawOptions {
    token_limit: u32,
    tokens_per_period: u32,
    #[serde(with = "crate::serde_support::duration")]
    replenishment_period: Duration,
    #[serde(default = "crate::serde_support::default_auto_replenishment")]
    auto_replenishment: bool,
    #[serde(default)]
    queue_processing_order: QueueProcessingOrder,
    #[serde(default)]
    queue_limit: u32,
}

#[cfg(feature = "serde")]
impl TryFrom<RawOptions> for TokenBucketRateLimiterOptions {
    type Error = OptionsError;

    fn try_from(raw: RawOptions) -> Result<Self, OptionsError> {
        let RawOptions {
            token_limit,
            tokens_per_period,
            replenishment_period,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        } = raw;
        let options = Self {
            token_limit,
            tokens_per_period,
            replenishment_period,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        };
        options.validate()?;
        Ok(options)
    }
}

#[cfg(feature = "serde")]
impl From<TokenBucketRateLimiterOptions> for RawOptions {
    fn from(options: TokenBucketRateLimiterOptions) -> Self {
        let TokenBucketRateLimiterOptions {
            token_limit,
            tokens_per_period,
            replenishment_period,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        } = options;
        Self {
            token_limit,
            tokens_per_period,
            replenishment_period,
            auto_replenishment,
            queue_processing_order,
            queue_limit,
        }
    }
}
