//! The configurable fake limiter of the chained and partitioned tests, the factory that records
//! the fakes it builds, and the lease helpers those tests share.
//!
//! * [`Fake`] is .NET's `TrackingRateLimiter`, `CustomizableLimiter`, `NotImplementedLimiter` and
//!   `CustomizableReplenishingLimiter` in one type: by default every acquisition succeeds with a
//!   plain lease and `statistics` and `idle_duration` are `None`; builder methods change that, and
//!   atomics count every call, refund and disposal.
//! * [`TrackingFactory`] is .NET's `TrackingRateLimiterFactory`: it builds a tracked [`Fake`] per
//!   partition key and records every one it built.
//! * A child that "throws" returns [`child_error`], a value no limiter under test produces itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tollgate::{
    Acquire, AcquireError, Clock, MetadataName, RateLimitLease, RateLimitPartition, RateLimiter, RateLimiterStatistics,
    ReplenishingRateLimiter,
};

type LeaseFn = Box<dyn Fn(u32) -> Result<RateLimitLease, AcquireError> + Send + Sync>;

/// A shared record of which fake was asked, in order: `(key, method)` (.NET's tracking keys).
pub type CallLog = Arc<Mutex<Vec<(u32, &'static str)>>>;

/// A shared record of the ids of dropped leases, in drop order (see [`Fake::records_release`]).
pub type ReleaseOrder = Arc<Mutex<Vec<u32>>>;

/// What a failing child returns: a value the limiters under test never produce themselves (their
/// own errors are `Disposed`), standing in for .NET's `NotImplementedException`.
pub fn child_error() -> AcquireError {
    AcquireError::PermitLimitExceeded { requested: 4242, limit: 7 }
}

/// The answers of a replenishing [`Fake`] (see [`Fake::replenishing`]).
struct Replenishing {
    period: Duration,
    auto: bool,
    answer: bool,
}

/// .NET's `TrackingRateLimiter` / `CustomizableLimiter` / `NotImplementedLimiter` /
/// `CustomizableReplenishingLimiter`, in one type.
///
/// By default every acquisition succeeds with a plain lease, `statistics` and `idle_duration` are
/// `None` and it is not replenishing. Calls (acquisitions, statistics, `try_replenish`), refunds
/// and disposals are counted.
pub struct Fake {
    key: u32,
    log: Option<CallLog>,
    lease: LeaseFn,
    idle: Mutex<Option<Duration>>,
    stats: Option<RateLimiterStatistics>,
    replenishing: Option<Replenishing>,
    attempt_calls: AtomicUsize,
    acquire_calls: AtomicUsize,
    blocking_calls: AtomicUsize,
    stats_calls: AtomicUsize,
    refunds: AtomicUsize,
    disposals: AtomicUsize,
    replenishes: AtomicUsize,
}

impl Default for Fake {
    fn default() -> Self {
        Self::new()
    }
}

impl Fake {
    pub fn new() -> Self {
        Self {
            key: 0,
            log: None,
            lease: Box::new(|_| Ok(RateLimitLease::success())),
            idle: Mutex::new(None),
            stats: None,
            replenishing: None,
            attempt_calls: AtomicUsize::new(0),
            acquire_calls: AtomicUsize::new(0),
            blocking_calls: AtomicUsize::new(0),
            stats_calls: AtomicUsize::new(0),
            refunds: AtomicUsize::new(0),
            disposals: AtomicUsize::new(0),
            replenishes: AtomicUsize::new(0),
        }
    }

    /// .NET's `NotImplementedLimiter`: every acquisition returns [`child_error`].
    pub fn failing() -> Self {
        Self::new().leases(|_| Err(child_error()))
    }

    /// Records `(key, method)` in `log` on every acquisition call.
    pub fn tracked(mut self, key: u32, log: &CallLog) -> Self {
        self.key = key;
        self.log = Some(Arc::clone(log));
        self
    }

    /// Decides the result of every acquisition (`attempt_acquire`, `acquire`, `blocking_acquire`).
    pub fn leases(mut self, f: impl Fn(u32) -> Result<RateLimitLease, AcquireError> + Send + Sync + 'static) -> Self {
        self.lease = Box::new(f);
        self
    }

    /// Every lease it hands out carries `name` = `value` (besides what it carried already).
    pub fn metadata<T: Clone + Send + Sync + 'static>(self, name: &'static MetadataName<T>, value: T) -> Self {
        self.map_leases(move |lease| lease.with_metadata(name, value.clone()))
    }

    /// Every lease it hands out records `id` in `order` when it is dropped (.NET: disposed).
    pub fn records_release(self, id: u32, order: &ReleaseOrder) -> Self {
        let order = Arc::clone(order);
        self.map_leases(move |lease| {
            let order = Arc::clone(&order);
            lease.on_release(move || order.lock().unwrap().push(id))
        })
    }

    fn map_leases(mut self, f: impl Fn(RateLimitLease) -> RateLimitLease + Send + Sync + 'static) -> Self {
        let inner = self.lease;
        self.lease = Box::new(move |permits| inner(permits).map(&f));
        self
    }

    /// The idle duration it reports (`Some(duration)`, or `None`: in use).
    pub fn idle(self, idle: impl Into<Option<Duration>>) -> Self {
        self.set_idle(idle.into());
        self
    }

    /// Changes the idle duration it reports from now on.
    pub fn set_idle(&self, idle: Option<Duration>) {
        *self.idle.lock().unwrap() = idle;
    }

    /// The statistics it reports.
    pub fn with_stats(mut self, stats: RateLimiterStatistics) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Makes it a `ReplenishingRateLimiter` (.NET's `CustomizableReplenishingLimiter`) with
    /// `period`, automatic mode `auto`, and `answer` from every `try_replenish`.
    pub fn replenishing(mut self, period: Duration, auto: bool, answer: bool) -> Self {
        self.replenishing = Some(Replenishing { period, auto, answer });
        self
    }

    pub fn arc(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// The key given to [`tracked`](Fake::tracked) (0 if untracked).
    pub fn key(&self) -> u32 {
        self.key
    }

    fn record(&self, method: &'static str) {
        if let Some(log) = &self.log {
            log.lock().unwrap().push((self.key, method));
        }
    }

    pub fn attempts(&self) -> usize {
        self.attempt_calls.load(Ordering::SeqCst)
    }

    pub fn acquires(&self) -> usize {
        self.acquire_calls.load(Ordering::SeqCst)
    }

    pub fn blockings(&self) -> usize {
        self.blocking_calls.load(Ordering::SeqCst)
    }

    pub fn stats_calls(&self) -> usize {
        self.stats_calls.load(Ordering::SeqCst)
    }

    pub fn refunds(&self) -> usize {
        self.refunds.load(Ordering::SeqCst)
    }

    pub fn disposals(&self) -> usize {
        self.disposals.load(Ordering::SeqCst)
    }

    /// How often `try_replenish` was called.
    pub fn replenishes(&self) -> usize {
        self.replenishes.load(Ordering::SeqCst)
    }
}

impl RateLimiter for Fake {
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.attempt_calls.fetch_add(1, Ordering::SeqCst);
        self.record("attempt_acquire");
        (self.lease)(permits)
    }

    fn acquire(&self, permits: u32) -> Acquire<'_> {
        self.acquire_calls.fetch_add(1, Ordering::SeqCst);
        self.record("acquire");
        Acquire::ready((self.lease)(permits))
    }

    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.blocking_calls.fetch_add(1, Ordering::SeqCst);
        self.record("blocking_acquire");
        (self.lease)(permits)
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        self.stats_calls.fetch_add(1, Ordering::SeqCst);
        self.stats.clone()
    }

    fn idle_duration(&self) -> Option<Duration> {
        *self.idle.lock().unwrap()
    }

    fn dispose(&self) {
        self.disposals.fetch_add(1, Ordering::SeqCst);
    }

    fn refund(&self, lease: RateLimitLease) {
        self.refunds.fetch_add(1, Ordering::SeqCst);
        drop(lease);
    }

    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        if self.replenishing.is_some() { Some(self) } else { None }
    }
}

impl ReplenishingRateLimiter for Fake {
    fn try_replenish(&self) -> bool {
        self.replenishes.fetch_add(1, Ordering::SeqCst);
        self.replenishing.as_ref().is_some_and(|r| r.answer)
    }

    fn is_auto_replenishing(&self) -> bool {
        self.replenishing.as_ref().is_some_and(|r| r.auto)
    }

    fn replenishment_period(&self) -> Duration {
        self.replenishing.as_ref().map_or(Duration::ZERO, |r| r.period)
    }
}

/// .NET's `TrackingRateLimiterFactory<int>`: builds a [`Fake`] tracked under its partition key
/// (all of them logging to one [`CallLog`]) and records every fake it built, in order. Clones
/// share the records.
#[derive(Clone, Default)]
pub struct TrackingFactory {
    made: Arc<Mutex<Vec<Arc<Fake>>>>,
    log: CallLog,
}

impl TrackingFactory {
    /// Builds (and records) a fake tracked under `key` (.NET's `GetLimiter(key)`).
    pub fn make(&self, key: u32) -> Arc<Fake> {
        let fake = Fake::new().tracked(key, &self.log).arc();
        self.made.lock().unwrap().push(Arc::clone(&fake));
        fake
    }

    /// `RateLimitPartition.Get(key, key => factory.GetLimiter(key))`.
    pub fn partition<C: Clock>(&self, key: u32) -> RateLimitPartition<u32, C> {
        let this = self.clone();
        RateLimitPartition::get(key, move |k: &u32| this.make(*k))
    }

    /// Every fake built so far, in order.
    pub fn made(&self) -> Vec<Arc<Fake>> {
        self.made.lock().unwrap().clone()
    }

    /// The keys of the fakes built so far, in order.
    pub fn keys(&self) -> Vec<u32> {
        self.made().iter().map(|fake| fake.key()).collect()
    }

    /// Every `(key, method)` acquisition call made on the fakes, in order.
    pub fn calls(&self) -> Vec<(u32, &'static str)> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.made.lock().unwrap().len()
    }

    pub fn nth(&self, i: usize) -> Arc<Fake> {
        Arc::clone(&self.made.lock().unwrap()[i])
    }

    pub fn only(&self) -> Arc<Fake> {
        assert_eq!(self.count(), 1, "expected exactly one limiter to have been built");
        self.nth(0)
    }

    pub fn for_key(&self, key: u32) -> Arc<Fake> {
        let made = self.made.lock().unwrap();
        let mut of_key = made.iter().filter(|fake| fake.key() == key);
        let fake = Arc::clone(of_key.next().expect("a limiter for the key"));
        assert!(of_key.next().is_none(), "expected one limiter for key {key}");
        fake
    }
}

/// A partition of `key` whose factory hands out the limiter the test already holds (.NET's
/// `RateLimitPartition.Get(key, _ => limiter)`).
pub fn given<C: Clock, L: RateLimiter + ?Sized + 'static>(key: u32, limiter: &Arc<L>) -> RateLimitPartition<u32, C> {
    let limiter = Arc::clone(limiter);
    RateLimitPartition::get(key, move |_: &u32| Arc::clone(&limiter))
}

/// The lease's metadata names, sorted.
pub fn sorted_names(lease: &RateLimitLease) -> Vec<String> {
    let mut names: Vec<String> = lease.metadata_names().map(str::to_owned).collect();
    names.sort();
    names
}

/// Stand-in for .NET's `Exception` metadata value.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker(pub &'static str);

/// The metadata of .NET's `MetadataIsCombined`: a DateTime, a TimeSpan, an Exception and a
/// `List<int>` become a `SystemTime`, a `Duration`, a [`Marker`] and a `Vec<i32>`.
pub const META_1: MetadataName<SystemTime> = MetadataName::new("1");
pub const META_2: MetadataName<Duration> = MetadataName::new("2");
pub const META_3: MetadataName<Marker> = MetadataName::new("3");
pub const META_4: MetadataName<Vec<i32>> = MetadataName::new("4");
