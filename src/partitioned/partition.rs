//! `RateLimitPartition`: a key and the factory that builds its limiter.

use std::fmt;

use crate::{
    Clock, ConcurrencyLimiter, ConcurrencyLimiterOptions, DefaultClock, FixedWindowRateLimiter,
    FixedWindowRateLimiterOptions, NoopLimiter, OptionsError, RateLimiter, SlidingWindowRateLimiter,
    SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

/// Builds a partition's limiter from its key and the partitioned limiter's clock.
pub(crate) type Factory<K, C> = Box<dyn Fn(&K, &C) -> Result<Box<dyn RateLimiter>, OptionsError> + Send + Sync>;

/// What a partitioned limiter's partitioner returns for a resource: the partition's key and how to
/// build its limiter the first time the key is seen (.NET's `RateLimitPartition<TKey>`).
///
/// Only the first partition's factory for a key is ever used; later ones (the partitioner runs on
/// every call) are dropped unused. Building a partition whose factory captures nothing does not
/// allocate, so the partitioner can run on every call of a hot path.
///
/// The built-in factories (`get_concurrency_limiter`, `get_token_bucket_limiter`, ...) build the
/// limiter on the partitioned limiter's clock `C`, and time-based ones always replenish
/// automatically (lazily and exactly: no heartbeat needed), whatever the options say.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};
///
/// // One token bucket per client id; admins are not limited.
/// let limiter = PartitionedRateLimiter::new(|client: &String| {
///     if client == "admin" {
///         RateLimitPartition::get_no_limiter(client.clone())
///     } else {
///         RateLimitPartition::get_token_bucket_limiter(client.clone(), |_| TokenBucketRateLimiterOptions {
///             token_limit: 2,
///             tokens_per_period: 1,
///             replenishment_period: Duration::from_secs(1),
///             ..Default::default()
///         })
///     }
/// });
/// let alice = "alice".to_string();
/// assert!(limiter.attempt_acquire(&alice, 2)?.is_acquired());
/// assert!(!limiter.attempt_acquire(&alice, 1)?.is_acquired());
/// assert!(limiter.attempt_acquire(&"bob".to_string(), 2)?.is_acquired());
/// assert!(limiter.attempt_acquire(&"admin".to_string(), 1000)?.is_acquired());
/// # Ok::<(), tollgate::AcquireError>(())
/// ```
pub struct RateLimitPartition<K, C: Clock = DefaultClock> {
    pub(crate) key: K,
    pub(crate) noop: bool,
    pub(crate) factory: Factory<K, C>,
}

impl<K: Send + Sync + 'static, C: Clock> RateLimitPartition<K, C> {
    /// The partition's key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// A partition whose limiter is whatever `factory` builds for the key (called once per key,
    /// when the key is first used).
    pub fn get<L: RateLimiter + 'static>(key: K, factory: impl Fn(&K) -> L + Send + Sync + 'static) -> Self {
        Self {
            key,
            noop: false,
            factory: Box::new(move |k: &K, _: &C| Ok(Box::new(factory(k)) as Box<dyn RateLimiter>)),
        }
    }

    /// A partition with a [`ConcurrencyLimiter`] built from `factory(key)`'s options. Invalid
    /// options make the acquisitions for this key fail with
    /// [`AcquireError::InvalidOptions`](crate::AcquireError::InvalidOptions).
    pub fn get_concurrency_limiter(
        key: K,
        factory: impl Fn(&K) -> ConcurrencyLimiterOptions + Send + Sync + 'static,
    ) -> Self {
        Self {
            key,
            noop: false,
            factory: Box::new(move |k: &K, clock: &C| {
                Ok(Box::new(ConcurrencyLimiter::with_clock(factory(k), clock.clone())?) as Box<dyn RateLimiter>)
            }),
        }
    }

    /// A partition with a [`TokenBucketRateLimiter`] built from `factory(key)`'s options, with
    /// `auto_replenishment` forced on (API difference 6: partitions need no heartbeat).
    pub fn get_token_bucket_limiter(
        key: K,
        factory: impl Fn(&K) -> TokenBucketRateLimiterOptions + Send + Sync + 'static,
    ) -> Self {
        Self {
            key,
            noop: false,
            factory: Box::new(move |k: &K, clock: &C| {
                let options = TokenBucketRateLimiterOptions { auto_replenishment: true, ..factory(k) };
                Ok(Box::new(TokenBucketRateLimiter::with_clock(options, clock.clone())?) as Box<dyn RateLimiter>)
            }),
        }
    }

    /// A partition with a [`FixedWindowRateLimiter`] built from `factory(key)`'s options, with
    /// `auto_replenishment` forced on.
    pub fn get_fixed_window_limiter(
        key: K,
        factory: impl Fn(&K) -> FixedWindowRateLimiterOptions + Send + Sync + 'static,
    ) -> Self {
        Self {
            key,
            noop: false,
            factory: Box::new(move |k: &K, clock: &C| {
                let options = FixedWindowRateLimiterOptions { auto_replenishment: true, ..factory(k) };
                Ok(Box::new(FixedWindowRateLimiter::with_clock(options, clock.clone())?) as Box<dyn RateLimiter>)
            }),
        }
    }

    /// A partition with a [`SlidingWindowRateLimiter`] built from `factory(key)`'s options, with
    /// `auto_replenishment` forced on.
    pub fn get_sliding_window_limiter(
        key: K,
        factory: impl Fn(&K) -> SlidingWindowRateLimiterOptions + Send + Sync + 'static,
    ) -> Self {
        Self {
            key,
            noop: false,
            factory: Box::new(move |k: &K, clock: &C| {
                let options = SlidingWindowRateLimiterOptions { auto_replenishment: true, ..factory(k) };
                Ok(Box::new(SlidingWindowRateLimiter::with_clock(options, clock.clone())?) as Box<dyn RateLimiter>)
            }),
        }
    }

    /// A partition that never limits (a [`NoopLimiter`] per key). It is evicted once unused for
    /// the partitioned limiter's idle timeout.
    pub fn get_no_limiter(key: K) -> Self {
        Self {
            key,
            noop: true,
            factory: Box::new(|_: &K, _: &C| Ok(Box::new(NoopLimiter::new()) as Box<dyn RateLimiter>)),
        }
    }
}

impl<K: fmt::Debug, C: Clock> fmt::Debug for RateLimitPartition<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitPartition").field("key", &self.key).field("no_limiter", &self.noop).finish()
    }
}
