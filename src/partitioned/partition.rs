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
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::RateLimitPartition;
    ///
    /// let partition: RateLimitPartition<&str> = RateLimitPartition::get_no_limiter("admin");
    /// assert_eq!(*partition.key(), "admin");
    /// ```
    pub fn key(&self) -> &K {
        &self.key
    }

    /// A partition whose limiter is whatever `factory` builds for the key (called once per key,
    /// when the key is first used).
    ///
    /// For limiters the other factories cannot build: a chain, a custom limiter, a limiter on
    /// another clock. The limiter is used as built (nothing forces auto-replenishment), and it is
    /// evicted when its [`idle_duration`](RateLimiter::idle_duration) reaches the idle timeout
    /// (never, if it never reports one).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions};
    /// use tollgate::{PartitionedRateLimiter, RateLimitPartition};
    ///
    /// // At most 2 requests in flight per user, and 3 over all users.
    /// let limit = |permit_limit| ConcurrencyLimiterOptions { permit_limit, ..Default::default() };
    /// let global = Arc::new(ConcurrencyLimiter::new(limit(3))?);
    /// let limiter = PartitionedRateLimiter::new(move |user: &u32| {
    ///     let global = Arc::clone(&global);
    ///     RateLimitPartition::get(*user, move |_| {
    ///         let own = Arc::new(ConcurrencyLimiter::new(limit(2)).unwrap());
    ///         ChainedRateLimiter::new(vec![own, global.clone()]).unwrap()
    ///     })
    /// });
    /// let _a = limiter.attempt_acquire(&1, 2)?;
    /// assert!(!limiter.attempt_acquire(&1, 1)?.is_acquired()); // user 1's own limit
    /// let _b = limiter.attempt_acquire(&2, 1)?;
    /// assert!(!limiter.attempt_acquire(&3, 1)?.is_acquired()); // the global limit
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{AcquireError, ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// // Tenant 0 (internal) may run 8 requests at once, every other tenant 1.
    /// let limiter = PartitionedRateLimiter::new(|tenant: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*tenant, |tenant| ConcurrencyLimiterOptions {
    ///         permit_limit: if *tenant == 0 { 8 } else { 1 },
    ///         ..Default::default()
    ///     })
    /// });
    /// assert!(limiter.attempt_acquire(&0, 8)?.is_acquired());
    /// let error = limiter.attempt_acquire(&5, 2).unwrap_err();
    /// assert_eq!(error, AcquireError::PermitLimitExceeded { requested: 2, limit: 1 });
    /// # Ok::<(), AcquireError>(())
    /// ```
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
    /// `auto_replenishment` forced on (API difference 6: partitions need no heartbeat). Its ticks
    /// are counted from the partition's creation (the key's first use). Invalid options make the
    /// acquisitions for this key fail with
    /// [`AcquireError::InvalidOptions`](crate::AcquireError::InvalidOptions).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{net::IpAddr, time::Duration};
    /// use tollgate::{ManualClock, PartitionedRateLimiter, PartitionedRateLimiterOptions};
    /// use tollgate::{RateLimitPartition, TokenBucketRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// let per_ip = |ip: &IpAddr| {
    ///     RateLimitPartition::get_token_bucket_limiter(*ip, |_| TokenBucketRateLimiterOptions {
    ///         token_limit: 1,
    ///         tokens_per_period: 1,
    ///         replenishment_period: Duration::from_secs(1),
    ///         auto_replenishment: false, // ignored: partitions always replenish by themselves
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions::default();
    /// let limiter = PartitionedRateLimiter::with_clock(per_ip, options, clock.clone())?;
    /// let ip = IpAddr::from([192, 0, 2, 7]);
    /// assert!(limiter.attempt_acquire(&ip, 1)?.is_acquired());
    /// assert_eq!(limiter.attempt_acquire(&ip, 1)?.retry_after(), Some(Duration::from_secs(1)));
    /// clock.advance(Duration::from_secs(1));
    /// assert!(limiter.attempt_acquire(&ip, 1)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// `auto_replenishment` forced on. Its first window starts when the partition is created (the
    /// key's first use), so each key has its own window boundaries. Invalid options make the
    /// acquisitions for this key fail with
    /// [`AcquireError::InvalidOptions`](crate::AcquireError::InvalidOptions).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiterOptions, ManualClock, PartitionedRateLimiter};
    /// use tollgate::{PartitionedRateLimiterOptions, RateLimitPartition};
    ///
    /// let clock = ManualClock::new();
    /// let per_key = |api_key: &u64| {
    ///     RateLimitPartition::get_fixed_window_limiter(*api_key, |_| FixedWindowRateLimiterOptions {
    ///         permit_limit: 100,
    ///         window: Duration::from_secs(60),
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions::default();
    /// let limiter = PartitionedRateLimiter::with_clock(per_key, options, clock.clone())?;
    /// assert!(limiter.attempt_acquire(&1, 100)?.is_acquired()); // key 1's window: 0 s to 60 s
    /// clock.advance(Duration::from_secs(20));
    /// assert_eq!(limiter.attempt_acquire(&1, 1)?.retry_after(), Some(Duration::from_secs(40)));
    /// assert!(limiter.attempt_acquire(&2, 100)?.is_acquired()); // key 2's window: 20 s to 80 s
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// `auto_replenishment` forced on. Its segment 0 starts when the partition is created (the
    /// key's first use). Invalid options make the acquisitions for this key fail with
    /// [`AcquireError::InvalidOptions`](crate::AcquireError::InvalidOptions).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, PartitionedRateLimiter, PartitionedRateLimiterOptions};
    /// use tollgate::{RateLimitPartition, SlidingWindowRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// let per_user = |user: &u32| {
    ///     RateLimitPartition::get_sliding_window_limiter(*user, |_| SlidingWindowRateLimiterOptions {
    ///         permit_limit: 2,
    ///         window: Duration::from_secs(2),
    ///         segments_per_window: 2,
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions::default();
    /// let limiter = PartitionedRateLimiter::with_clock(per_user, options, clock.clone())?;
    /// assert!(limiter.attempt_acquire(&7, 2)?.is_acquired());
    /// clock.advance(Duration::from_secs(1)); // one segment later: the permits are still in the window
    /// assert!(!limiter.attempt_acquire(&7, 1)?.is_acquired());
    /// clock.advance(Duration::from_secs(1)); // their segment has left the window
    /// assert!(limiter.attempt_acquire(&7, 2)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, PartitionedRateLimiter, PartitionedRateLimiterOptions, RateLimitPartition};
    ///
    /// let clock = ManualClock::new();
    /// let options = PartitionedRateLimiterOptions { idle_timeout: Duration::from_secs(10), ..Default::default() };
    /// let per_user = |user: &u32| RateLimitPartition::get_no_limiter(*user);
    /// let limiter = PartitionedRateLimiter::with_clock(per_user, options, clock.clone())?;
    /// assert!(limiter.attempt_acquire(&1, u32::MAX)?.is_acquired());
    /// assert_eq!(limiter.partition_count(), 1);
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(limiter.evict_idle(), 1);
    /// assert_eq!(limiter.partition_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
