//! Partitioned (keyed) limiters: one limiter per key, created on first use, evicted when idle.
//!
//! # Implementation
//!
//! **The map.** A `papaya` concurrent hash map (chosen by measurement; see
//! `perf-reports/2026-11-29-partitioned.md`) from key to an entry. Looking up an existing key pins
//! an epoch guard, hashes the key and reads the table: no lock, no allocation, no write to shared
//! memory. The request then runs on the partition's limiter while the guard is held (async and
//! blocking waits clone the entry's `Arc` first, so no guard is held across a wait).
//!
//! **First use of a key.** A new key inserts an entry whose limiter is a `OnceLock`; the first
//! caller runs the partition's factory in it, concurrent callers of the same key wait for that one
//! call (other keys are not blocked), and only the first partition's factory is ever used.
//!
//! **Eviction without a heartbeat.** Every entry's key is also in a lock-free FIFO (the *ring*).
//! Each new key examines the ring's two oldest keys (and each queued acquisition one): an entry
//! whose limiter has been idle for `idle_timeout` is retired with
//! [`RateLimiter::dispose_if_idle`] (for the built-in limiters one CAS from the idle state to
//! disposed, so no request can be granted by a limiter that is being evicted: a racing request
//! either makes it non-idle first or finds it disposed and retries on a fresh partition); a
//! no-limiter partition is retired once unused for `idle_timeout`; others go back to the ring. Each
//! step is O(1): there is never a sweep over all partitions (unless asked for with
//! [`PartitionedRateLimiter::evict_idle`]). Memory grows only with new keys, and every new key
//! examines two old ones, so the live partitions stay bounded by the keys used within about the
//! idle timeout (twice that in the worst case of the ring's order); an existing-key request does
//! no eviction work at all.
//!
//! **The cap.** With `max_partitions` set, a new key takes a slot (an atomic count) before it is
//! inserted; when all are taken, up to 64 ring entries are examined for idle partitions to evict,
//! and if none frees a slot the request fails with a lease that is not acquired (reason
//! `"partition limit reached"`): existing partitions keep being served, a flood of new keys does
//! not grow memory.

//!
//! **Outside the `sync` facade.** This module uses std atomics directly: its map (papaya, with its
//! own epoch reclamation) cannot run under loom, so no loom model can include it. The protocol it
//! relies on — retiring an idle limiter atomically against a racing request — lives in the limiters
//! (`dispose_if_idle`) and is loom-modeled there; the store/fence pairs between `dispose` and a
//! concurrent insert or build are exercised with real threads in `tests/partitioned.rs`.

mod partition;

pub use partition::RateLimitPartition;

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam_queue::SegQueue;

use self::partition::Factory;
use crate::{
    Acquire, AcquireError, Clock, DefaultClock, OptionsError, RateLimitLease, RateLimiter, RateLimiterStatistics,
};

/// Configuration of a [`PartitionedRateLimiter`].
///
/// # Configuration files (feature `serde`)
///
/// With the `serde` feature the options implement `Deserialize` and `Serialize` with the field
/// names below; both may be omitted (`idle_timeout` defaults to `"10s"`, `max_partitions` to
/// unbounded). `idle_timeout` is a string of numbers with units, largest unit first: `d`, `h`,
/// `m`, `s`, `ms`, `us` (or `µs`), `ns`, as in `"30s"`, `"1.5s"` or `"1m30s"`. Unknown fields are
/// an error, and a `max_partitions` of 0 fails with its [`OptionsError`] message.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use tollgate::PartitionedRateLimiterOptions;
///
/// let options: PartitionedRateLimiterOptions = toml::from_str(
///     r#"
///     idle_timeout = "1m"
///     max_partitions = 10000
///     "#,
/// )?;
/// assert_eq!(options.idle_timeout, Duration::from_secs(60));
/// assert_eq!(options.max_partitions, Some(10_000));
/// assert_eq!(toml::from_str::<PartitionedRateLimiterOptions>("")?, PartitionedRateLimiterOptions::default());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(
        try_from = "crate::serde_support::RawPartitionedRateLimiterOptions",
        into = "crate::serde_support::RawPartitionedRateLimiterOptions"
    )
)]
pub struct PartitionedRateLimiterOptions {
    /// A partition idle for at least this long (its limiter's
    /// [`idle_duration`](RateLimiter::idle_duration); for a no-limiter partition, the time since
    /// its last use) is evicted; the next request for its key builds a new one. Default: 10 s
    /// (.NET's). Partitions whose limiter never reports an idle duration are never evicted.
    pub idle_timeout: Duration,
    /// At most this many live partitions (`None`: unbounded). When full, a request for a new key
    /// first evicts idle partitions; if none is idle it fails (a lease that is not acquired, with
    /// the reason phrase `"partition limit reached"`).
    pub max_partitions: Option<usize>,
}

impl Default for PartitionedRateLimiterOptions {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(10), max_partitions: None }
    }
}

impl PartitionedRateLimiterOptions {
    /// Checks the options, as the constructors do.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] for `max_partitions` when it is `Some(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::PartitionedRateLimiterOptions;
    ///
    /// assert!(PartitionedRateLimiterOptions::default().validate().is_ok());
    /// let none_allowed = PartitionedRateLimiterOptions { max_partitions: Some(0), ..Default::default() };
    /// assert_eq!(none_allowed.validate().unwrap_err().field, "max_partitions");
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.max_partitions == Some(0) {
            return Err(OptionsError::must_be_positive("max_partitions"));
        }
        Ok(())
    }
}

type Refunder<'a> = Box<dyn Fn(RateLimitLease) + Send + Sync + 'a>;

/// Why no partition could be found or made for a key.
enum Refused {
    Disposed,
    /// `max_partitions` partitions are live and none is idle.
    Full,
}

impl Refused {
    /// The refusal as an acquisition's outcome.
    fn outcome(self) -> Result<RateLimitLease, AcquireError> {
        match self {
            Refused::Disposed => Err(AcquireError::Disposed),
            Refused::Full => Ok(RateLimitLease::failure().with_reason_phrase(PARTITION_LIMIT_REACHED)),
        }
    }
}

/// The reason phrase of a request refused because `max_partitions` partitions are live.
///
/// See [`PartitionedRateLimiterOptions::max_partitions`]; an example is on
/// [`PartitionedRateLimiter::with_options`].
///
/// # Examples
///
/// ```
/// use tollgate::{PARTITION_LIMIT_REACHED, RateLimitLease};
///
/// fn is_partition_limit(lease: &RateLimitLease) -> bool {
///     !lease.is_acquired() && lease.reason_phrase() == Some(PARTITION_LIMIT_REACHED)
/// }
/// assert_eq!(PARTITION_LIMIT_REACHED, "partition limit reached");
/// assert!(!is_partition_limit(&RateLimitLease::failure()));
/// ```
pub const PARTITION_LIMIT_REACHED: &str = "partition limit reached";

/// What every kind of partitioned limiter does (keyed, chained, translated).
trait Core<R: ?Sized>: Send + Sync {
    fn attempt(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError>;
    fn acquire<'a>(&'a self, resource: &R, permits: u32) -> Acquire<'a>;
    fn blocking(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError>;
    fn statistics(&self, resource: &R) -> Option<RateLimiterStatistics>;
    fn refund(&self, resource: &R, lease: RateLimitLease);
    /// A refund of leases for `resource`, usable after the resource's borrow has ended (a chain's
    /// `acquire` future needs one per limiter).
    fn refunder<'a>(&'a self, resource: &R) -> Refunder<'a>;
    fn dispose(&self);
    fn evict_idle(&self) -> usize;
    fn partition_count(&self) -> usize;
}

/// A limiter per partition of the resources (.NET's `PartitionedRateLimiter<TResource>`): the
/// partitioner maps each resource to a [`RateLimitPartition`] (a key and a factory), and requests
/// are served by the key's limiter, built on first use.
///
/// - The partitioner runs on every call; for an existing key the call costs a hash-map lookup (no
///   lock, no allocation) plus the partition limiter's own decision.
/// - The first factory for a key runs once, even when many threads hit a new key at once; other
///   keys are not blocked meanwhile. [`statistics`](Self::statistics) builds the partition too.
/// - **No heartbeat** (API difference 6): built-in partitions replenish lazily from the clock, and
///   idle partitions are evicted incrementally (see [`PartitionedRateLimiterOptions`]).
/// - [`dispose`](Self::dispose) disposes every partition; later calls fail with
///   [`AcquireError::Disposed`].
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
///
/// // At most 2 requests in flight per tenant.
/// let limiter = PartitionedRateLimiter::new(|tenant: &u32| {
///     RateLimitPartition::get_concurrency_limiter(*tenant, |_| ConcurrencyLimiterOptions {
///         permit_limit: 2,
///         ..Default::default()
///     })
/// });
/// let a = limiter.attempt_acquire(&7, 2)?;
/// assert!(a.is_acquired());
/// assert!(!limiter.attempt_acquire(&7, 1)?.is_acquired());
/// assert!(limiter.attempt_acquire(&8, 1)?.is_acquired()); // another tenant
/// drop(a);
/// assert!(limiter.attempt_acquire(&7, 1)?.is_acquired());
/// # Ok::<(), tollgate::AcquireError>(())
/// ```
pub struct PartitionedRateLimiter<R: ?Sized> {
    core: Box<dyn Core<R>>,
}

impl<R: ?Sized + 'static> PartitionedRateLimiter<R> {
    /// A partitioned limiter with the default options (idle partitions evicted after 10 s, no cap)
    /// and the default clock.
    ///
    /// `partitioner` runs on every call and returns the resource's [`RateLimitPartition`]: its key
    /// and how to build its limiter the first time the key is seen.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// // 100 requests per minute per API key.
    /// let limiter = PartitionedRateLimiter::new(|api_key: &str| {
    ///     RateLimitPartition::get_fixed_window_limiter(api_key.to_owned(), |_| FixedWindowRateLimiterOptions {
    ///         permit_limit: 100,
    ///         window: Duration::from_secs(60),
    ///         ..Default::default()
    ///     })
    /// });
    /// assert!(limiter.attempt_acquire("key-1", 100)?.is_acquired());
    /// assert!(!limiter.attempt_acquire("key-1", 1)?.is_acquired());
    /// assert!(limiter.attempt_acquire("key-2", 1)?.is_acquired());
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn new<K>(partitioner: impl Fn(&R) -> RateLimitPartition<K> + Send + Sync + 'static) -> Self
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        Self::with_clock(partitioner, PartitionedRateLimiterOptions::default(), DefaultClock::new())
            .expect("the default options are valid")
    }

    /// A partitioned limiter with `options` and the default clock.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] if the options are invalid (see [`PartitionedRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{
    ///     ConcurrencyLimiterOptions, PARTITION_LIMIT_REACHED, PartitionedRateLimiter, PartitionedRateLimiterOptions,
    ///     RateLimitPartition,
    /// };
    ///
    /// let per_tenant = |tenant: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*tenant, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions { max_partitions: Some(1), ..Default::default() };
    /// let limiter = PartitionedRateLimiter::with_options(per_tenant, options)?;
    /// let _busy = limiter.attempt_acquire(&1, 1)?;
    /// // Tenant 1's partition is in use, so tenant 2's cannot be made.
    /// let refused = limiter.attempt_acquire(&2, 1)?;
    /// assert_eq!(refused.reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options<K>(
        partitioner: impl Fn(&R) -> RateLimitPartition<K> + Send + Sync + 'static,
        options: PartitionedRateLimiterOptions,
    ) -> Result<Self, OptionsError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        Self::with_clock(partitioner, options, DefaultClock::new())
    }

    /// A partitioned limiter on `clock`: the built-in partition factories build their limiters on
    /// it, and no-limiter partitions' idle time is measured with it.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] if the options are invalid (see [`PartitionedRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ConcurrencyLimiterOptions, ManualClock, PartitionedRateLimiter};
    /// use tollgate::{PartitionedRateLimiterOptions, RateLimitPartition};
    ///
    /// let clock = ManualClock::new();
    /// let per_user = |user: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*user, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions { idle_timeout: Duration::from_secs(30), ..Default::default() };
    /// let limiter = PartitionedRateLimiter::with_clock(per_user, options, clock.clone())?;
    /// drop(limiter.attempt_acquire(&1, 1)?);
    /// clock.advance(Duration::from_secs(30)); // idle for the timeout, on the manual clock
    /// assert_eq!(limiter.evict_idle(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock<K, C>(
        partitioner: impl Fn(&R) -> RateLimitPartition<K, C> + Send + Sync + 'static,
        options: PartitionedRateLimiterOptions,
        clock: C,
    ) -> Result<Self, OptionsError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        C: Clock,
    {
        options.validate()?;
        Ok(Self { core: Box::new(Keyed::new(partitioner, options, clock)) })
    }

    /// Chains partitioned limiters (.NET's `PartitionedRateLimiter.CreateChained`): every request
    /// is forwarded, with its resource, to each of them in order, with the rules of
    /// [`ChainedRateLimiter`](crate::ChainedRateLimiter) (all-or-nothing, the combined lease, the
    /// statistics). The chain does not own them: disposing it leaves them usable.
    /// [`evict_idle`](Self::evict_idle) and [`partition_count`](Self::partition_count) forward to
    /// each of them (and sum).
    ///
    /// # Errors
    ///
    /// [`OptionsError`] with `field` `"limiters"` when the list is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limit = |permit_limit| ConcurrencyLimiterOptions { permit_limit, ..Default::default() };
    /// // By user (2 at once) and by the user's organisation (3 at once): users 10 and 11 are in org 1.
    /// let by_user = Arc::new(PartitionedRateLimiter::new(move |user: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*user, move |_| limit(2))
    /// }));
    /// let by_org = Arc::new(PartitionedRateLimiter::new(move |user: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(user / 10, move |_| limit(3))
    /// }));
    /// let limiter = PartitionedRateLimiter::chained(vec![by_user, by_org])?;
    /// let a = limiter.attempt_acquire(&10, 2)?;
    /// let b = limiter.attempt_acquire(&11, 1)?;
    /// assert!(a.is_acquired() && b.is_acquired());
    /// assert!(!limiter.attempt_acquire(&11, 1)?.is_acquired()); // org 1 is full
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chained(limiters: Vec<Arc<PartitionedRateLimiter<R>>>) -> Result<Self, OptionsError> {
        if limiters.is_empty() {
            return Err(OptionsError::new("limiters", "must contain at least 1 limiter"));
        }
        Ok(Self {
            core: Box::new(ChainedCore {
                limiters: limiters.into_boxed_slice(),
                disposed: AtomicBool::new(false),
                id: crate::lease::limiter_id(),
            }),
        })
    }

    /// A partitioned limiter over resources of type `R2`, forwarding every call to this one with
    /// the resource `adapter(resource)` (run once per call). Disposing it (or dropping it)
    /// disposes this one too unless `leave_open` is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// struct Request {
    ///     user: u32,
    /// }
    ///
    /// let by_user = Arc::new(PartitionedRateLimiter::new(|user: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*user, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         ..Default::default()
    ///     })
    /// }));
    /// let by_request = Arc::clone(&by_user).with_translated_key(|request: &Request| request.user, true);
    /// let _lease = by_request.attempt_acquire(&Request { user: 7 }, 1)?;
    /// assert!(!by_user.attempt_acquire(&7, 1)?.is_acquired()); // the same partition
    /// drop(by_request); // `leave_open`: `by_user` stays usable
    /// assert!(by_user.attempt_acquire(&8, 1)?.is_acquired());
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn with_translated_key<R2: ?Sized + 'static>(
        self: Arc<Self>,
        adapter: impl Fn(&R2) -> R + Send + Sync + 'static,
        leave_open: bool,
    ) -> PartitionedRateLimiter<R2>
    where
        R: Sized + Send + Sync,
    {
        PartitionedRateLimiter {
            core: Box::new(Translated { inner: self, adapter, leave_open, disposed: AtomicBool::new(false) }),
        }
    }

    /// Tries to acquire `permits` from `resource`'s partition without waiting.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Disposed`] after [`dispose`](Self::dispose); the partition limiter's own
    /// errors (e.g. [`AcquireError::PermitLimitExceeded`]); [`AcquireError::InvalidOptions`] if the
    /// partition's factory was given invalid options.
    ///
    /// A new key whose partition cannot be made because `max_partitions` are live (and none is
    /// idle) is refused, not an error: the lease is not acquired and its reason phrase is
    /// [`PARTITION_LIMIT_REACHED`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{AcquireError, ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limiter = PartitionedRateLimiter::new(|tenant: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*tenant, |tenant| ConcurrencyLimiterOptions {
    ///         permit_limit: *tenant, // tenant 0 gets invalid options
    ///         ..Default::default()
    ///     })
    /// });
    /// let lease = limiter.attempt_acquire(&2, 2)?;
    /// assert!(lease.is_acquired());
    /// assert!(!limiter.attempt_acquire(&2, 1)?.is_acquired());
    /// assert!(matches!(limiter.attempt_acquire(&0, 1), Err(AcquireError::InvalidOptions(_))));
    /// # Ok::<(), AcquireError>(())
    /// ```
    pub fn attempt_acquire(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.core.attempt(resource, permits)
    }

    /// Acquires `permits` from `resource`'s partition, waiting in its queue.
    ///
    /// The partitioner (or, for a translated limiter, the adapter) runs when `acquire` is called;
    /// the partition is looked up (and built, for a new key) when the future is first polled.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](Self::attempt_acquire), reported when the future is first
    /// polled (a chained or translated limiter already disposed when `acquire` is called returns a
    /// future that is ready with [`AcquireError::Disposed`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as the partition limiter's [`RateLimiter::acquire`]: dropping the future
    /// withdraws the request from the partition's queue (or refunds a grant it has not yet
    /// observed), and dropping it before its first poll does nothing. A chain's future also
    /// refunds what its earlier limiters granted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tollgate::AcquireError> {
    /// let limiter = PartitionedRateLimiter::new(|tenant: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*tenant, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         queue_limit: 1,
    ///         ..Default::default()
    ///     })
    /// });
    /// let held = limiter.attempt_acquire(&7, 1)?;
    /// let (waited, ()) = tokio::join!(limiter.acquire(&7, 1), async move {
    ///     tokio::task::yield_now().await; // the request queues in tenant 7's partition...
    ///     drop(held); // ...and gets the permit this frees
    /// });
    /// assert!(waited?.is_acquired());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire(&self, resource: &R, permits: u32) -> Acquire<'_> {
        self.core.acquire(resource, permits)
    }

    /// Like [`acquire`](Self::acquire), parking the calling thread while it waits.
    ///
    /// # Errors
    ///
    /// As for [`attempt_acquire`](Self::attempt_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limiter = PartitionedRateLimiter::new(|db: &&str| {
    ///     RateLimitPartition::get_concurrency_limiter(*db, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         queue_limit: 1,
    ///         ..Default::default()
    ///     })
    /// });
    /// let held = limiter.attempt_acquire(&"orders", 1)?;
    /// std::thread::scope(|s| {
    ///     s.spawn(move || drop(held));
    ///     let lease = limiter.blocking_acquire(&"orders", 1).unwrap(); // parks until `held` is dropped
    ///     assert!(lease.is_acquired());
    /// });
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn blocking_acquire(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.core.blocking(resource, permits)
    }

    /// The statistics of `resource`'s partition (building it if needed); `None` after disposal, if
    /// its factory's options are invalid, or if the partition cap is reached.
    ///
    /// A chain's are combined as [`ChainedRateLimiter`](crate::ChainedRateLimiter)'s are.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiterOptions, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limiter = PartitionedRateLimiter::new(|tenant: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*tenant, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 4,
    ///         ..Default::default()
    ///     })
    /// });
    /// let _lease = limiter.attempt_acquire(&1, 3)?;
    /// assert_eq!(limiter.statistics(&1).unwrap().current_available_permits, 1);
    /// assert_eq!(limiter.statistics(&2).unwrap().current_available_permits, 4); // built by this call
    /// limiter.dispose();
    /// assert_eq!(limiter.statistics(&1), None);
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn statistics(&self, resource: &R) -> Option<RateLimiterStatistics> {
        self.core.statistics(resource)
    }

    /// Gives back a lease acquired for `resource` (see [`RateLimiter::refund`]).
    ///
    /// The lease goes to `resource`'s current partition; a lease of a partition evicted since (or
    /// of another limiter) is simply dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};
    ///
    /// let limiter = PartitionedRateLimiter::new(|user: &u32| {
    ///     RateLimitPartition::get_token_bucket_limiter(*user, |_| TokenBucketRateLimiterOptions {
    ///         token_limit: 1,
    ///         tokens_per_period: 1,
    ///         replenishment_period: Duration::from_secs(3600),
    ///         ..Default::default()
    ///     })
    /// });
    /// let lease = limiter.attempt_acquire(&1, 1)?;
    /// limiter.refund(&1, lease); // the request was dropped before any work: the token is back
    /// assert!(limiter.attempt_acquire(&1, 1)?.is_acquired());
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn refund(&self, resource: &R, lease: RateLimitLease) {
        self.core.refund(resource, lease);
    }

    /// Disposes every partition; later calls fail with [`AcquireError::Disposed`]. Idempotent.
    ///
    /// Queued requests complete with leases that are not acquired, as for
    /// [`RateLimiter::dispose`]. Dropping the partitioned limiter disposes it. A chain disposes only
    /// itself (its limiters stay usable); a translated limiter disposes the one it forwards to
    /// unless it was made with `leave_open`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{AcquireError, PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limiter = PartitionedRateLimiter::new(|user: &u32| RateLimitPartition::get_no_limiter(*user));
    /// assert!(limiter.attempt_acquire(&1, 1)?.is_acquired());
    /// limiter.dispose();
    /// assert_eq!(limiter.attempt_acquire(&1, 1).unwrap_err(), AcquireError::Disposed);
    /// assert_eq!(limiter.partition_count(), 0);
    /// # Ok::<(), AcquireError>(())
    /// ```
    pub fn dispose(&self) {
        self.core.dispose();
    }

    /// Evicts every partition that is idle now (an O(partitions) pass; eviction otherwise happens
    /// incrementally by itself). Returns how many were evicted.
    ///
    /// A partition is idle when its limiter's idle duration has reached the idle timeout (a
    /// no-limiter partition: when it has been unused that long). A translated limiter forwards the
    /// call to its inner limiter; a chain forwards it to each of its limiters and returns the sum
    /// of what they evicted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ConcurrencyLimiterOptions, ManualClock, PartitionedRateLimiter};
    /// use tollgate::{PartitionedRateLimiterOptions, RateLimitPartition};
    ///
    /// let clock = ManualClock::new();
    /// let per_user = |user: &u32| {
    ///     RateLimitPartition::get_concurrency_limiter(*user, |_| ConcurrencyLimiterOptions {
    ///         permit_limit: 1,
    ///         ..Default::default()
    ///     })
    /// };
    /// let options = PartitionedRateLimiterOptions::default();
    /// let limiter = PartitionedRateLimiter::with_clock(per_user, options, clock.clone())?;
    /// let _busy = limiter.attempt_acquire(&1, 1)?;
    /// drop(limiter.attempt_acquire(&2, 1)?);
    /// clock.advance(Duration::from_secs(10)); // the default idle timeout
    /// assert_eq!(limiter.evict_idle(), 1); // user 2's; user 1's partition is in use
    /// assert_eq!(limiter.partition_count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evict_idle(&self) -> usize {
        self.core.evict_idle()
    }

    /// The number of live partitions (for a chain or a translated limiter: of the limiters it
    /// forwards to).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{PartitionedRateLimiter, RateLimitPartition};
    ///
    /// let limiter = PartitionedRateLimiter::new(|user: &u32| RateLimitPartition::get_no_limiter(*user));
    /// for user in [1, 2, 2, 3] {
    ///     assert!(limiter.attempt_acquire(&user, 1)?.is_acquired());
    /// }
    /// assert_eq!(limiter.partition_count(), 3);
    /// # Ok::<(), tollgate::AcquireError>(())
    /// ```
    pub fn partition_count(&self) -> usize {
        self.core.partition_count()
    }
}

impl<R: ?Sized> fmt::Debug for PartitionedRateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedRateLimiter").field("partitions", &self.core.partition_count()).finish()
    }
}

impl<R: ?Sized> Drop for PartitionedRateLimiter<R> {
    fn drop(&mut self) {
        self.core.dispose();
    }
}

// ---------------------------------------------------------------------------------------------
// Keyed partitions.

/// One partition.
struct Entry {
    /// The partition's limiter, built by the first caller (or the factory's error).
    limiter: OnceLock<Result<Box<dyn RateLimiter>, OptionsError>>,
    /// A no-limiter partition: evicted by `last_use` instead of its (always `None`) idle duration.
    noop: bool,
    /// No-limiter partitions: the clock reading of the last use.
    last_use: AtomicU64,
    /// Set by the evictor before it tries to retire the limiter: a request that finds the limiter
    /// disposed while this is set retries on a fresh partition.
    retiring: AtomicBool,
    /// The limiter has been disposed by the partitioned limiter (so it is disposed exactly once).
    closed: AtomicBool,
}

impl Entry {
    /// Disposes the built limiter, once.
    fn close(&self, limiter: &dyn RateLimiter) {
        // ORDERING: Relaxed: only the "exactly once" matters, which the RMW gives.
        if !self.closed.swap(true, Ordering::Relaxed) {
            limiter.dispose();
        }
    }
}

type Hasher = foldhash::fast::RandomState;

struct Keyed<R: ?Sized, K, C: Clock, P> {
    partitioner: P,
    /// Entries are stored in papaya's nodes directly (one pointer hop less than an `Arc`).
    map: papaya::HashMap<K, Entry, Hasher>,
    /// Every live entry's key, in examination order for incremental eviction.
    ring: SegQueue<K>,
    /// Live partitions (slots taken, for the cap).
    live: AtomicUsize,
    max: usize,
    idle_timeout: Duration,
    disposed: AtomicBool,
    clock: C,
    _resource: std::marker::PhantomData<fn(&R)>,
}

/// Ring entries examined per new key (so eviction keeps up with a flood of new keys).
const STEPS_PER_INSERT: usize = 2;
/// Ring entries examined to make room when the cap is reached.
const STEPS_WHEN_FULL: usize = 64;

impl<R, K, C, P> Keyed<R, K, C, P>
where
    R: ?Sized,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    C: Clock,
    P: Fn(&R) -> RateLimitPartition<K, C> + Send + Sync,
{
    fn new(partitioner: P, options: PartitionedRateLimiterOptions, clock: C) -> Self {
        Self {
            partitioner,
            map: papaya::HashMap::builder().hasher(Hasher::default()).build(),
            ring: SegQueue::new(),
            live: AtomicUsize::new(0),
            max: options.max_partitions.unwrap_or(usize::MAX),
            idle_timeout: options.idle_timeout,
            disposed: AtomicBool::new(false),
            clock,
            _resource: std::marker::PhantomData,
        }
    }

    fn check_open(&self) -> Result<(), AcquireError> {
        // ORDERING: Acquire pairs with `dispose`'s Release store.
        if self.disposed.load(Ordering::Acquire) { Err(AcquireError::Disposed) } else { Ok(()) }
    }

    /// The entry's limiter, building it with the partition's factory on first use.
    #[inline]
    fn limiter<'e>(
        &self,
        entry: &'e Entry,
        key: &K,
        factory: &Factory<K, C>,
    ) -> Result<&'e dyn RateLimiter, AcquireError> {
        let built = match entry.limiter.get() {
            Some(built) => built,
            None => self.build(entry, key, factory)?,
        };
        if entry.noop {
            // ORDERING: Relaxed: an idle stamp; the evictor tolerates a stale reading.
            entry.last_use.store(self.clock.now_nanos(), Ordering::Relaxed);
        }
        match built {
            Ok(limiter) => Ok(&**limiter),
            Err(e) => Err(AcquireError::InvalidOptions(e.clone())),
        }
    }

    /// Builds the entry's limiter (or waits for the thread building it). A limiter that comes
    /// into being while the partitioned limiter is disposed is disposed here and not used: either
    /// `dispose` sees it built (and disposes it) or this check sees `disposed` (both sides use
    /// `SeqCst`, the store-then-load pattern).
    #[cold]
    #[inline(never)]
    fn build<'e>(
        &self,
        entry: &'e Entry,
        key: &K,
        factory: &Factory<K, C>,
    ) -> Result<&'e Result<Box<dyn RateLimiter>, OptionsError>, AcquireError> {
        let built = entry.limiter.get_or_init(|| factory(key, &self.clock));
        // ORDERING: SeqCst fence after the build, against `dispose`'s SeqCst swap before its pass
        // (see above).
        fence(Ordering::SeqCst);
        if self.disposed.load(Ordering::Relaxed) {
            if let Ok(limiter) = built {
                entry.close(&**limiter);
            }
            return Err(AcquireError::Disposed);
        }
        Ok(built)
    }

    /// Whether a `Disposed` error from `entry`'s limiter means it was evicted under us.
    fn retired(entry: &Entry, result: &Result<RateLimitLease, AcquireError>) -> bool {
        if !matches!(result, Err(AcquireError::Disposed)) {
            return false;
        }
        // ORDERING: the Acquire fence makes the evictor's `retiring` store (sequenced before its
        // Release CAS that closed the limiter, which our decision read) visible to the load.
        fence(Ordering::Acquire);
        entry.retiring.load(Ordering::Relaxed)
    }

    /// Removes a retired entry the evictor has not removed yet (so a request never waits for the
    /// evictor: it helps). Whoever removes it frees its slot.
    #[cold]
    /// `entry` must have been read under a guard that is still alive, so its node cannot have been
    /// reclaimed and reused: its address identifies it.
    fn unlink(&self, key: &K, entry: &Entry) {
        let map = self.map.pin();
        if map.remove_if(key, |_, e| std::ptr::eq(e, entry)).is_ok_and(|removed| removed.is_some()) {
            self.free_slot();
        }
    }

    /// Runs `f` on the key's limiter under the map's guard (building the partition if needed).
    fn with_limiter<T>(
        &self,
        partition: &RateLimitPartition<K, C>,
        f: impl FnOnce(&dyn RateLimiter) -> T,
    ) -> Result<Result<T, AcquireError>, Refused> {
        loop {
            if self.check_open().is_err() {
                return Err(Refused::Disposed);
            }
            {
                let map = self.map.pin();
                if let Some(entry) = map.get(&partition.key) {
                    return Ok(self.limiter(entry, &partition.key, &partition.factory).map(f));
                }
            }
            self.insert(partition)?;
        }
    }

    /// Inserts a new entry for the partition's key unless one is there (a retiring entry is
    /// waited out), taking a slot under the cap.
    #[cold]
    fn insert(&self, partition: &RateLimitPartition<K, C>) -> Result<(), Refused> {
        if self.map.pin().get(&partition.key).is_some() {
            return Ok(()); // inserted meanwhile
        }
        if !self.take_slot() {
            return Err(Refused::Full);
        }
        let fresh = Entry {
            limiter: OnceLock::new(),
            noop: partition.noop,
            last_use: AtomicU64::new(self.clock.now_nanos()),
            retiring: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        };
        let map = self.map.pin();
        match map.try_insert(partition.key.clone(), fresh) {
            Ok(inserted) => {
                // A key inserted while `dispose` runs must not outlive it: either `dispose`'s pass
                // sees (and clears) it, or this check sees `disposed` (SeqCst on both sides).
                // ORDERING: SeqCst fence against `dispose`'s SeqCst swap before its pass.
                fence(Ordering::SeqCst);
                if self.disposed.load(Ordering::Relaxed) {
                    let _ = map.remove_if(&partition.key, |_, e| std::ptr::eq(e, inserted));
                    return Err(Refused::Disposed);
                }
                drop(map);
                self.ring.push(partition.key.clone());
                self.sweep(STEPS_PER_INSERT);
            }
            Err(_) => self.free_slot(),
        }
        Ok(())
    }

    /// Refunds a lease of the key's current partition (a lease of an evicted one is dropped: it
    /// is not the new limiter's).
    fn refund_key(&self, key: &K, lease: RateLimitLease) {
        let map = self.map.pin();
        match map.get(key).and_then(|e| e.limiter.get()) {
            Some(Ok(limiter)) => limiter.refund(lease),
            _ => drop(lease),
        }
    }

    fn free_slot(&self) {
        // ORDERING: Relaxed: the slot count only needs atomicity. Saturating: `dispose` resets it.
        let _ = self.live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Takes a slot for a new partition, evicting idle ones if the cap is reached.
    fn take_slot(&self) -> bool {
        for attempt in 0..2 {
            // ORDERING: Relaxed: the count only needs atomicity (the map publishes the entries).
            let taken =
                self.live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < self.max).then_some(n + 1));
            if taken.is_ok() {
                return true;
            }
            if attempt == 0 {
                self.sweep(STEPS_WHEN_FULL);
            }
        }
        false
    }

    /// Examines up to `steps` ring entries, evicting the idle ones. Returns how many were evicted.
    fn sweep(&self, steps: usize) -> usize {
        let mut evicted = 0;
        for _ in 0..steps {
            let Some(key) = self.ring.pop() else { break };
            match self.examine(&key) {
                Examined::Keep => self.ring.push(key),
                Examined::Evicted => evicted += 1,
                Examined::Gone => {}
            }
        }
        evicted
    }

    /// Evicts the key's entry if it is idle.
    fn examine(&self, key: &K) -> Examined {
        let map = self.map.pin();
        let Some(entry) = map.get(key) else { return Examined::Gone };
        let idle = match entry.limiter.get() {
            None => false, // its factory is running
            Some(Err(_)) => true,
            Some(Ok(_)) if entry.noop => {
                // ORDERING: Relaxed: see `limiter`.
                let last = entry.last_use.load(Ordering::Relaxed);
                u128::from(self.clock.now_nanos().saturating_sub(last)) >= self.idle_timeout.as_nanos()
            }
            Some(Ok(limiter)) => {
                // ORDERING: Relaxed store, published to a racing request by the Release CAS with
                // which `dispose_if_idle` closes the limiter (see `retired`).
                entry.retiring.store(true, Ordering::Relaxed);
                let retired = limiter.dispose_if_idle(self.idle_timeout);
                if retired {
                    // ORDERING: Relaxed: see `Entry::close`.
                    entry.closed.store(true, Ordering::Relaxed);
                } else {
                    entry.retiring.store(false, Ordering::Relaxed);
                }
                retired
            }
        };
        if !idle {
            return Examined::Keep;
        }
        self.unlink(key, entry);
        Examined::Evicted
    }
}

enum Examined {
    Keep,
    Evicted,
    Gone,
}

impl<R, K, C, P> Core<R> for Keyed<R, K, C, P>
where
    R: ?Sized,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    C: Clock,
    P: Fn(&R) -> RateLimitPartition<K, C> + Send + Sync,
{
    #[inline]
    fn attempt(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        let partition = (self.partitioner)(resource);
        // The hot path, written out: one guarded lookup and the partition's own decision. (No
        // disposal check here: `dispose` disposes every partition before clearing the map, so a
        // request that still finds one gets `Disposed` from it; a miss checks in `insert`.)
        loop {
            {
                let map = self.map.pin();
                if let Some(entry) = map.get(&partition.key) {
                    let result = self.limiter(entry, &partition.key, &partition.factory)?.attempt_acquire(permits);
                    if !Self::retired(entry, &result) {
                        return result;
                    }
                    self.unlink(&partition.key, entry);
                    continue;
                }
            }
            self.check_open()?;
            if let Err(refused) = self.insert(&partition) {
                return refused.outcome();
            }
        }
    }

    fn acquire<'a>(&'a self, resource: &R, permits: u32) -> Acquire<'a> {
        let partition = (self.partitioner)(resource);
        Acquire::from_future(async move {
            loop {
                self.check_open()?;
                // The wait holds a (sendable) guard: the entry cannot be reclaimed under it. A long
                // wait delays the reclamation of entries evicted meanwhile, nothing else.
                let map = self.map.pin_owned();
                let Some(entry) = map.get(&partition.key) else {
                    drop(map);
                    if let Err(refused) = self.insert(&partition) {
                        return refused.outcome();
                    }
                    continue;
                };
                let limiter = self.limiter(entry, &partition.key, &partition.factory)?;
                let result = limiter.acquire(permits).await;
                if !Self::retired(entry, &result) {
                    drop(map);
                    self.sweep(1);
                    return result;
                }
                self.unlink(&partition.key, entry);
            }
        })
    }

    fn blocking(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        let partition = (self.partitioner)(resource);
        loop {
            self.check_open()?;
            let map = self.map.pin();
            let Some(entry) = map.get(&partition.key) else {
                drop(map);
                if let Err(refused) = self.insert(&partition) {
                    return refused.outcome();
                }
                continue;
            };
            let limiter = self.limiter(entry, &partition.key, &partition.factory)?;
            let result = limiter.blocking_acquire(permits);
            if !Self::retired(entry, &result) {
                drop(map);
                self.sweep(1);
                return result;
            }
            self.unlink(&partition.key, entry);
        }
    }

    fn statistics(&self, resource: &R) -> Option<RateLimiterStatistics> {
        let partition = (self.partitioner)(resource);
        match self.with_limiter(&partition, |limiter| limiter.statistics()) {
            Ok(Ok(stats)) => stats,
            _ => None,
        }
    }

    fn refund(&self, resource: &R, lease: RateLimitLease) {
        let partition = (self.partitioner)(resource);
        self.refund_key(&partition.key, lease);
    }

    fn refunder<'a>(&'a self, resource: &R) -> Refunder<'a> {
        let key = (self.partitioner)(resource).key;
        Box::new(move |lease| self.refund_key(&key, lease))
    }

    fn dispose(&self) {
        // ORDERING: SeqCst: pairs with the SeqCst fences in `build` and `insert` (a partition built
        // or inserted concurrently is either seen by the pass below or sees `disposed`); it is
        // also the Release that `check_open` acquires.
        if self.disposed.swap(true, Ordering::SeqCst) {
            return;
        }
        let map = self.map.pin();
        for (_, entry) in map.iter() {
            if let Some(Ok(limiter)) = entry.limiter.get() {
                entry.close(&**limiter);
            }
        }
        map.clear();
        while self.ring.pop().is_some() {}
        // ORDERING: Relaxed: the slot count only needs atomicity.
        self.live.store(0, Ordering::Relaxed);
    }

    fn evict_idle(&self) -> usize {
        self.sweep(self.ring.len())
    }

    fn partition_count(&self) -> usize {
        self.map.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Chains of partitioned limiters.

struct ChainedCore<R: ?Sized + 'static> {
    limiters: Box<[Arc<PartitionedRateLimiter<R>>]>,
    disposed: AtomicBool,
    id: u64,
}

/// Leases granted so far by a partitioned chain's earlier limiters; refunded in reverse order
/// unless taken out (see `chained::Granted`).
struct Granted<'a, R: ?Sized + 'static> {
    limiters: &'a [Arc<PartitionedRateLimiter<R>>],
    resource: Option<&'a R>,
    leases: Vec<RateLimitLease>,
}

impl<R: ?Sized> Drop for Granted<'_, R> {
    fn drop(&mut self) {
        let Some(resource) = self.resource else { return };
        while let Some(lease) = self.leases.pop() {
            self.limiters[self.leases.len()].refund(resource, lease);
        }
    }
}

impl<R: ?Sized> ChainedCore<R> {
    fn check_open(&self) -> Result<(), AcquireError> {
        // ORDERING: Acquire pairs with `dispose`'s Release store.
        if self.disposed.load(Ordering::Acquire) { Err(AcquireError::Disposed) } else { Ok(()) }
    }

    fn run(
        &self,
        resource: &R,
        mut step: impl FnMut(&PartitionedRateLimiter<R>) -> Result<RateLimitLease, AcquireError>,
    ) -> Result<RateLimitLease, AcquireError> {
        self.check_open()?;
        let mut granted = Granted { limiters: &self.limiters, resource: Some(resource), leases: Vec::new() };
        for limiter in self.limiters.iter() {
            let lease = step(limiter)?;
            if !lease.is_acquired() {
                return Ok(lease);
            }
            granted.leases.push(lease);
        }
        Ok(RateLimitLease::combined(self.id, std::mem::take(&mut granted.leases)))
    }
}

impl<R: ?Sized + 'static> Core<R> for ChainedCore<R> {
    fn attempt(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.run(resource, |l| l.attempt_acquire(resource, permits))
    }

    fn acquire<'a>(&'a self, resource: &R, permits: u32) -> Acquire<'a> {
        if let Err(e) = self.check_open() {
            return Acquire::ready(Err(e));
        }
        // The resource is only borrowed for this call: every inner `acquire` future is made now
        // (each only computes its partition; nothing is asked before it is polled, in order), and
        // so is a refunder per limiter for the all-or-nothing rule.
        let futures: Vec<Acquire<'a>> = self.limiters.iter().map(|l| l.acquire(resource, permits)).collect();
        let refunders: Vec<Refunder<'a>> = self.limiters.iter().map(|l| l.core.refunder(resource)).collect();
        let id = self.id;
        Acquire::from_future(async move {
            let mut granted = Refunding { refunders: &refunders, leases: Vec::with_capacity(futures.len()) };
            for future in futures {
                let lease = future.await?;
                if !lease.is_acquired() {
                    return Ok(lease);
                }
                granted.leases.push(lease);
            }
            Ok(RateLimitLease::combined(id, std::mem::take(&mut granted.leases)))
        })
    }

    fn blocking(&self, resource: &R, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.run(resource, |l| l.blocking_acquire(resource, permits))
    }

    fn statistics(&self, resource: &R) -> Option<RateLimiterStatistics> {
        // After disposal: `None`, as for every partitioned limiter (and without building the
        // inner limiters' partitions).
        self.check_open().ok()?;
        let mut total = RateLimiterStatistics {
            current_available_permits: i64::MAX as u64,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: 0,
        };
        for stats in self.limiters.iter().filter_map(|l| l.statistics(resource)) {
            total.current_available_permits = total.current_available_permits.min(stats.current_available_permits);
            total.current_queued_count += stats.current_queued_count;
            total.total_failed_leases += stats.total_failed_leases;
            total.total_successful_leases = stats.total_successful_leases;
        }
        Some(total)
    }

    fn refund(&self, resource: &R, lease: RateLimitLease) {
        match lease.into_inner(self.id) {
            Ok(inner) => drop(Granted { limiters: &self.limiters, resource: Some(resource), leases: inner }),
            Err(other) => drop(other),
        }
    }

    fn refunder<'a>(&'a self, resource: &R) -> Refunder<'a> {
        let refunders: Vec<Refunder<'a>> = self.limiters.iter().map(|l| l.core.refunder(resource)).collect();
        let id = self.id;
        Box::new(move |lease| match lease.into_inner(id) {
            Ok(inner) => drop(Refunding { refunders: &refunders, leases: inner }),
            Err(other) => drop(other),
        })
    }

    fn dispose(&self) {
        // ORDERING: Release: see `check_open`.
        self.disposed.store(true, Ordering::Release);
    }

    fn evict_idle(&self) -> usize {
        // Forwarded even after the chain is disposed, as a translated limiter forwards it: the
        // chain does not own its limiters, and evicting their idle partitions is only upkeep.
        self.limiters.iter().map(|l| l.evict_idle()).sum()
    }

    fn partition_count(&self) -> usize {
        self.limiters.iter().map(|l| l.partition_count()).sum()
    }
}

/// Leases granted so far in a partitioned chain's `acquire`: refunded in reverse order through
/// the limiters' refunders unless taken out.
struct Refunding<'r, 'a> {
    refunders: &'r [Refunder<'a>],
    leases: Vec<RateLimitLease>,
}

impl Drop for Refunding<'_, '_> {
    fn drop(&mut self) {
        while let Some(lease) = self.leases.pop() {
            (self.refunders[self.leases.len()])(lease);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Translated keys.

struct Translated<R: 'static, F> {
    inner: Arc<PartitionedRateLimiter<R>>,
    adapter: F,
    leave_open: bool,
    disposed: AtomicBool,
}

impl<R: Send + Sync + 'static, F> Translated<R, F> {
    fn check_open(&self) -> Result<(), AcquireError> {
        // ORDERING: Acquire pairs with `dispose`'s swap.
        if self.disposed.load(Ordering::Acquire) { Err(AcquireError::Disposed) } else { Ok(()) }
    }
}

impl<R2, R, F> Core<R2> for Translated<R, F>
where
    R2: ?Sized,
    R: Send + Sync + 'static,
    F: Fn(&R2) -> R + Send + Sync,
{
    fn attempt(&self, resource: &R2, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.check_open()?;
        self.inner.attempt_acquire(&(self.adapter)(resource), permits)
    }

    fn acquire<'a>(&'a self, resource: &R2, permits: u32) -> Acquire<'a> {
        if let Err(e) = self.check_open() {
            return Acquire::ready(Err(e));
        }
        let translated = (self.adapter)(resource);
        Acquire::from_future(async move { self.inner.acquire(&translated, permits).await })
    }

    fn blocking(&self, resource: &R2, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.check_open()?;
        self.inner.blocking_acquire(&(self.adapter)(resource), permits)
    }

    fn statistics(&self, resource: &R2) -> Option<RateLimiterStatistics> {
        if self.check_open().is_err() {
            return None;
        }
        self.inner.statistics(&(self.adapter)(resource))
    }

    fn refund(&self, resource: &R2, lease: RateLimitLease) {
        self.inner.refund(&(self.adapter)(resource), lease);
    }

    fn refunder<'a>(&'a self, resource: &R2) -> Refunder<'a> {
        let translated = (self.adapter)(resource);
        Box::new(move |lease| self.inner.refund(&translated, lease))
    }

    fn dispose(&self) {
        // ORDERING: AcqRel: idempotence needs only atomicity; Release pairs with `check_open`.
        if !self.disposed.swap(true, Ordering::AcqRel) && !self.leave_open {
            self.inner.dispose();
        }
    }

    fn evict_idle(&self) -> usize {
        self.inner.evict_idle()
    }

    fn partition_count(&self) -> usize {
        self.inner.partition_count()
    }
}
