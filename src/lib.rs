//! # tollgate
//!
//! Lock-free rate limiters with the feature set of .NET's `System.Threading.RateLimiting`: leases
//! with metadata, queues served oldest- or newest-first with .NET's limits and eviction, statistics,
//! idle durations and disposal — callable from async tasks ([`RateLimiter::acquire`], cancel-safe),
//! from plain threads ([`RateLimiter::blocking_acquire`]) and without waiting
//! ([`RateLimiter::attempt_acquire`]).
//!
//! The fast path of every limiter is one compare-and-swap on one cache-padded atomic word; only
//! requests that must wait reach the lock-free waiter queue.
//!
//! Every limiter implements the [`RateLimiter`] trait (import it to call the methods), and every
//! request returns a [`RateLimitLease`].
//!
//! ## Quick start
//!
//! ```
//! use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
//!     permit_limit: 4,
//!     queue_limit: 16,
//!     ..Default::default()
//! })?;
//!
//! // Never waits:
//! let lease = limiter.attempt_acquire(1)?;
//! if lease.is_acquired() {
//!     // ... do the limited work while `lease` is alive ...
//! }
//!
//! // Waits in the queue if it must (dropping the future withdraws the request):
//! let lease = limiter.acquire(1).await?;
//! assert!(lease.is_acquired());
//! # Ok(())
//! # }
//! ```
//!
//! ## Choosing a limiter
//!
//! | limiter | limits | permits come back |
//! |---|---|---|
//! | [`ConcurrencyLimiter`] | permits held at once | when the lease is dropped |
//! | [`FixedWindowRateLimiter`] | `permit_limit` per window | all at once, when the next window starts |
//! | [`SlidingWindowRateLimiter`] | `permit_limit` in any window of `segments_per_window` segments | per segment, one window after they were taken |
//! | [`NoopLimiter`] | nothing (every request succeeds) | — |
//! | [`TokenBucketRateLimiter`] | a rate with bursts: `token_limit` tokens, `tokens_per_period` more per period | with time (lazily computed), or on [`ReplenishingRateLimiter::try_replenish`] |
//! | [`ChainedRateLimiter`] | several limiters at once (e.g. a rate *and* a concurrency limit), all-or-nothing | as each inner limiter's |
//! | [`PartitionedRateLimiter`] | one limiter per key (client IP, API key, tenant), built on first use, evicted when idle | as each partition's |
//!
//! ## Leases
//!
//! A [`RateLimitLease`] says whether the permits were acquired
//! ([`is_acquired`](RateLimitLease::is_acquired)); a refusal is not an error, and its lease may
//! say when to retry ([`retry_after`](RateLimitLease::retry_after)) or why it failed
//! ([`reason_phrase`](RateLimitLease::reason_phrase)). Errors ([`AcquireError`]) are for requests
//! that can never succeed: more permits than the limit, or a disposed limiter. Dropping a
//! concurrency lease returns its permits; tokens and window permits are spent when taken, but
//! [`RateLimiter::refund`] gives back a grant that was not used.
//!
//! ## Clocks
//!
//! Time-based limiters read a [`Clock`]: [`TscClock`] (the default; quanta's calibrated TSC, about
//! 10 ns per reading), [`CoarseClock`] (a background thread refreshes the time; about 2 ns per
//! reading, up to its interval stale) and [`ManualClock`] (moves only when told; for tests).
//! The concurrency, token-bucket, fixed- and sliding-window limiters and [`PartitionedRateLimiter`]
//! have a `with_clock` constructor; on a [`ManualClock`], time-based behaviour is deterministic and
//! instant to test:
//!
//! ```
//! use std::time::Duration;
//! use tollgate::{ManualClock, RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
//!
//! let clock = ManualClock::new();
//! let options = SlidingWindowRateLimiterOptions {
//!     permit_limit: 10,
//!     window: Duration::from_secs(60),
//!     segments_per_window: 6,
//!     ..Default::default()
//! };
//! let limiter = SlidingWindowRateLimiter::with_clock(options, clock.clone())?;
//! assert!(limiter.attempt_acquire(10)?.is_acquired());
//! assert_eq!(limiter.attempt_acquire(1)?.retry_after(), Some(Duration::from_secs(60)));
//! clock.advance(Duration::from_secs(60));
//! assert!(limiter.attempt_acquire(10)?.is_acquired());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Optional features
//!
//! - `tower`: the `tollgate::tower` module, a `tower::Layer` that rate-limits a service's
//!   requests with any limiter or with partitions keyed by the request (HTTP 429 with
//!   `Retry-After`, or typed errors); see `examples/axum_proxy.rs`.
//! - `serde`: every options type (and [`QueueProcessingOrder`]) deserializes from configuration
//!   files, with durations written as `"250ms"`, `"1s"` or `"1m30s"`, and is validated as it is
//!   read; each options type's docs show the format (for example
//!   [`TokenBucketRateLimiterOptions`]).
//!
//! ## Deliberate differences from .NET
//!
//! 1. Cancellation is dropping the future: there is no cancellation-token parameter.
//! 2. Permit counts are `u32` (negative counts cannot be expressed); statistics are `u64`.
//! 3. Auto-replenishment is lazy and exact: no timers. Tick *k* happens at construction +
//!    *k*·period; every access brings the state up to date from the clock, so N elapsed ticks have
//!    exactly the effect of N .NET timer ticks, and queued requests are granted at their tick with no
//!    other caller needed. Manual mode keeps .NET's `TryReplenish` rules (the token bucket's
//!    fractional refill is kept exactly, where .NET uses a `double`).
//! 4. RetryAfter is exact in auto mode: the wait until the tick at which the same request would
//!    succeed, queued permits served first (a queue-full failure: until it would be granted at once).
//!    In manual mode it is the number of periods needed, rounded **up** (.NET truncates), times the
//!    period.
//! 5. Chains are all-or-nothing: when a later limiter of a [`ChainedRateLimiter`] refuses (or
//!    errors, or the future is dropped), what the earlier limiters granted is given back through
//!    [`RateLimiter::refund`] — tokens and window permits too (those only while their window or
//!    segment is current), not only concurrency permits — and their successful counts go back.
//!    An `acquire` future dropped after its grant but before it was polled refunds the grant too.
//! 6. Partitions need no heartbeat: built-in partition factories always auto-replenish (lazily and
//!    exactly), and idle partitions are evicted incrementally (a few examined per new key, each
//!    retired atomically with [`RateLimiter::dispose_if_idle`]), never by a sweep over all of them.
//! 7. Statistics stay readable after dispose (a partitioned limiter's, whose partitions are gone,
//!    are `None`).
//! 8. A cancelled or evicted waiter never stalls the queue: when a queued request goes away the queue
//!    is processed again at once.
//! 9. A chain's idle duration is `None` while any inner limiter is in use (.NET's 2026 rule; .NET 10
//!    returned the smallest known one).

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod chained;
mod clock;
mod concurrency;
mod error;
mod fixed_window;
mod lease;
mod limiter;
mod noop;
mod partitioned;
#[cfg(feature = "serde")]
mod serde_support;
mod sliding_window;
mod stats;
mod sync;
mod timer;
mod token_bucket;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
mod wait;

pub use chained::ChainedRateLimiter;
pub use clock::{Clock, CoarseClock, DefaultClock, ManualClock, ManualSleep, Sleep, TscClock};
pub use concurrency::{ConcurrencyLimiter, ConcurrencyLimiterOptions};
pub use error::{AcquireError, OptionsError};
pub use fixed_window::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions};
pub use lease::{MetadataName, RateLimitLease};
pub use limiter::{QueueProcessingOrder, RateLimiter, ReplenishingRateLimiter};
pub use noop::NoopLimiter;
pub use partitioned::{
    PARTITION_LIMIT_REACHED, PartitionedRateLimiter, PartitionedRateLimiterOptions, RateLimitPartition,
};
pub use sliding_window::{SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
pub use stats::RateLimiterStatistics;
pub use token_bucket::{TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
pub use wait::Acquire;
