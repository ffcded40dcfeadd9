//! Errors.

use std::fmt;

/// Why an options value was rejected by a limiter constructor.
///
/// `Display` names the offending field in snake_case and says why, for example
/// `permit_limit must be greater than 0`. Constructors report the first invalid field, in .NET's
/// order; the options types' `validate` methods run the same checks without building a limiter.
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions};
///
/// // The default options are invalid on purpose: `permit_limit` is 0.
/// let error = ConcurrencyLimiter::new(ConcurrencyLimiterOptions::default()).unwrap_err();
/// assert_eq!(error.field, "permit_limit");
/// assert_eq!(error.reason, "must be greater than 0");
/// assert_eq!(error.to_string(), "permit_limit must be greater than 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OptionsError {
    /// The snake_case name of the options field that is invalid (or `limiters` for a chain).
    pub field: &'static str,
    /// Why it is invalid, e.g. `must be greater than 0`.
    pub reason: &'static str,
}

impl OptionsError {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }

    pub(crate) const fn must_be_positive(field: &'static str) -> Self {
        Self::new(field, "must be greater than 0")
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for OptionsError {}

/// Why an acquisition could not even be attempted.
///
/// A request that is merely refused (no permits, queue full) is *not* an error: it returns a lease
/// whose [`is_acquired`](crate::RateLimitLease::is_acquired) is false. Errors are for requests that
/// can never succeed.
///
/// `AcquireError` converts from [`OptionsError`] (as [`AcquireError::InvalidOptions`], which is
/// also its [`source`](std::error::Error::source)), so `?` works on both in one function.
///
/// # Examples
///
/// ```
/// use tollgate::{AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
///
/// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 2, ..Default::default() })?;
/// assert_eq!(
///     limiter.attempt_acquire(3).unwrap_err(),
///     AcquireError::PermitLimitExceeded { requested: 3, limit: 2 },
/// );
/// limiter.dispose();
/// assert_eq!(limiter.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// More permits were requested than the limiter can ever grant at once. Checked before
    /// [`AcquireError::Disposed`], as in .NET.
    PermitLimitExceeded {
        /// The permit count requested.
        requested: u32,
        /// The limiter's permit (or token) limit.
        limit: u32,
    },
    /// The limiter has been disposed.
    Disposed,
    /// A partition factory produced invalid options; the acquire reports it instead of panicking.
    InvalidOptions(OptionsError),
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PermitLimitExceeded { requested, limit } => {
                write!(f, "{requested} permit(s) exceeds the permit limit of {limit}")
            }
            Self::Disposed => f.write_str("the rate limiter has been disposed"),
            Self::InvalidOptions(e) => write!(f, "invalid limiter options: {e}"),
        }
    }
}

impl std::error::Error for AcquireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidOptions(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OptionsError> for AcquireError {
    fn from(e: OptionsError) -> Self {
        Self::InvalidOptions(e)
    }
}
