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
///
/// # Configuration files (feature `serde`)
///
/// With the `serde` feature the options implement `Deserialize` and `Serialize` with the field
/// names above. `permit_limit` is required; `queue_limit` (0) and `queue_processing_order`
/// (`"oldest_first"`; or `"newest_first"`, .NET's `"OldestFirst"` / `"NewestFirst"` are accepted
/// too) may be omitted. Unknown fields are an error, and the options are checked with
/// [`validate`](Self::validate) as they are read, so a zero limit fails with its
/// [`OptionsError`] message.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, QueueProcessingOrder, RateLimiter};
///
/// let options: ConcurrencyLimiterOptions = serde_json::from_str(
///     r#"{ "permit_limit": 8, "queue_limit": 100, "queue_processing_order": "newest_first" }"#,
/// )?;
/// assert_eq!(options.queue_processing_order, QueueProcessingOrder::NewestFirst);
/// let limiter = ConcurrencyLimiter::new(options)?;
/// assert!(limiter.attempt_acquire(8)?.is_acquired());
///
/// let error = serde_json::from_str::<ConcurrencyLimiterOptions>(r#"{ "permit_limit": 0 }"#).unwrap_err();
/// assert!(error.to_string().starts_with("permit_limit must be greater than 0"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(try_from = "RawOptions", into = "RawOptions")
)]
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::ConcurrencyLimiterOptions;
    ///
    /// let options = ConcurrencyLimiterOptions { permit_limit: 0, ..Default::default() };
    /// assert_eq!(options.validate().unwrap_err().to_string(), "permit_limit must be greater than 0");
    /// assert!(ConcurrencyLimiterOptions { permit_limit: 1, ..options }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.permit_limit == 0 {
            return Err(OptionsError::must_be_positive("permit_limit"));
        }
        Ok(())
    }
}

/// The serde form of [`ConcurrencyLimiterOptions`] (see `crate::serde_support`).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename = "ConcurrencyLimiterOptions")]
struct RawOptions {
    permit_limit: u32,
    #[serde(default)]
    queue_processing_order: QueueProcessingOrder,
    #[serde(default)]
    queue_limit: u32,
}

#[cfg(feature = "serde")]
impl TryFrom<RawOptions> for ConcurrencyLimiterOptions {
    type Error = OptionsError;

    fn try_from(raw: RawOptions) -> Result<Self, OptionsError> {
        let RawOptions { permit_limit, queue_processing_order, queue_limit } = raw;
        let options = Self { permit_limit, queue_processing_order, queue_limit };
        options.validate()?;
        Ok(options)
    }
}

#[cfg(feature = "serde")]
impl From<ConcurrencyLimiterOptions> for RawOptions {
    fn from(options: ConcurrencyLimiterOptions) -> Self {
        let ConcurrencyLimiterOptions { permit_limit, queue_processing_order, queue_limit } = options;
        Self { permit_limit, queue_processing_order, queue_limit }
    }
}
