//! Behavioural tests of `PartitionedRateLimiter`, ported from .NET's
//! `PartitionedRateLimiterTests.cs` (the 39 tests of the newest version, commit 0119d3da), plus
//! tests of what this crate adds (no heartbeat, incremental eviction, the partition cap,
//! atomic eviction, refunds, invalid partition options, concurrent first use of a key).
//!
//! Conventions:
//! * .NET's `TrackingRateLimiter` / `CustomizableLimiter` become `common::fake::Fake`: every
//!   acquisition succeeds, `statistics` is `None`, `idle_duration` is settable (`set_idle`), and
//!   atomics count the calls. `common::fake::TrackingFactory` is .NET's
//!   `TrackingRateLimiterFactory`: it records every fake its partitions built.
//! * .NET's `string` resources are `str` (or `String` where `with_translated_key` needs a sized
//!   resource); keys are `u32`.
//! * "Awaiting" an `acquire` is polling the future by hand: [`now`] polls once and requires
//!   completion, [`queued`] polls once and requires it to be pending.
//! * There is no heartbeat (API difference 6). .NET's heartbeat tests, which call the private
//!   heartbeat through reflection, become tests of lazy replenishment on a `ManualClock` and of
//!   eviction, both by `evict_idle()` and by the incremental eviction that each new key (and each
//!   `acquire` / `blocking_acquire`) performs.
//! * Deliberate differences from .NET encoded here:
//!   - built-in partition factories force `auto_replenishment` on (lazy, exact, from the clock),
//!     where .NET forces it off and replenishes from the heartbeat;
//!   - a limiter built by a generic `RateLimitPartition::get` factory is used as given: a
//!     manual-mode limiter is never replenished by the partitioned limiter (nothing calls
//!     `try_replenish`);
//!   - a chained partition's `idle_duration` is `None` if any child's is (.NET's 2026 rule), so
//!     it is evicted only when every child is idle;
//!   - `dispose` cannot fail (no `AggregateException`), and there is no `DisposeAsync`: dropping
//!     the limiter disposes it;
//!   - after `dispose`, `statistics` returns `None` instead of throwing.
//! * Only [`create_blocking_factory_does_not_block_other_partitions`] and
//!   [`slow_factory_for_one_key_does_not_block_another_key`] wait in real time (at most 20 ms);
//!   the stress tests use real threads without sleeping.

mod common;

use common::fake::{Fake, TrackingFactory, given};
use common::poll_once;

use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use tollgate::{
    Acquire, AcquireError, ChainedRateLimiter, Clock, ConcurrencyLimiterOptions, FixedWindowRateLimiterOptions,
    ManualClock, PARTITION_LIMIT_REACHED, PartitionedRateLimiter, PartitionedRateLimiterOptions,
    QueueProcessingOrder::{NewestFirst, OldestFirst},
    RateLimitLease, RateLimitPartition, RateLimiter, SlidingWindowRateLimiterOptions, TokenBucketRateLimiter,
    TokenBucketRateLimiterOptions,
};

// ---------------------------------------------------------------------------------------------
// Helpers and fake limiters
// ---------------------------------------------------------------------------------------------

const NS: Duration = Duration::from_nanos(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// What the .NET tests make their fakes report as idle time (more than the 10 s timeout).
const ONE_MINUTE: Duration = Duration::from_secs(60);

type Pending<'a> = Pin<Box<Acquire<'a>>>;

/// A shared call counter.
type Calls = Arc<AtomicUsize>;

/// Shared storage the tests read back (e.g. the fakes a factory built).
type Slot<T> = Arc<Mutex<T>>;

/// Polls `acquire` once; it must complete (with a lease or an error).
#[track_caller]
fn now(acquire: Acquire<'_>) -> Result<RateLimitLease, AcquireError> {
    poll_once(&mut Box::pin(acquire)).expect("expected the acquire to complete on its first poll")
}

/// Polls `acquire` once; it must be pending (queued).
#[track_caller]
fn queued(acquire: Acquire<'_>) -> Pending<'_> {
    let mut pending = Box::pin(acquire);
    if let Some(result) = poll_once(&mut pending) {
        panic!("expected the acquire to be pending, but it completed with {result:?}");
    }
    pending
}

/// Polls a pending acquire again; it must now be complete.
#[track_caller]
fn finished(pending: &mut Pending<'_>) -> Result<RateLimitLease, AcquireError> {
    poll_once(pending).expect("expected the acquire to be complete")
}

#[track_caller]
fn acquired(result: Result<RateLimitLease, AcquireError>) -> RateLimitLease {
    let lease = result.expect("no error");
    assert!(lease.is_acquired(), "expected an acquired lease, got {lease:?}");
    lease
}

#[track_caller]
fn refused(result: Result<RateLimitLease, AcquireError>) -> RateLimitLease {
    let lease = result.expect("no error");
    assert!(!lease.is_acquired(), "expected a refused lease, got {lease:?}");
    lease
}

/// As [`acquired`], dropping the lease at once.
#[track_caller]
fn grant(result: Result<RateLimitLease, AcquireError>) {
    drop(acquired(result));
}

/// As [`refused`], dropping the lease.
#[track_caller]
fn deny(result: Result<RateLimitLease, AcquireError>) {
    drop(refused(result));
}

#[track_caller]
fn available<R: ?Sized + 'static>(limiter: &PartitionedRateLimiter<R>, resource: &R) -> u64 {
    limiter.statistics(resource).expect("built-in limiters report statistics").current_available_permits
}

fn concurrency_options(permit_limit: u32, queue_limit: u32) -> ConcurrencyLimiterOptions {
    ConcurrencyLimiterOptions { permit_limit, queue_processing_order: OldestFirst, queue_limit }
}

/// .NET's test token bucket: 1 token, 1 per 100 ms, NewestFirst, queue 1, manual mode asked for.
fn bucket_options() -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit: 1,
        tokens_per_period: 1,
        replenishment_period: Duration::from_millis(100),
        auto_replenishment: false,
        queue_processing_order: NewestFirst,
        queue_limit: 1,
    }
}

fn options(idle_timeout: Duration, max_partitions: Option<usize>) -> PartitionedRateLimiterOptions {
    PartitionedRateLimiterOptions { idle_timeout, max_partitions }
}

/// A partitioned limiter whose every resource is key 1, a tracked fake.
fn one_tracked_partition() -> (TrackingFactory, PartitionedRateLimiter<str>) {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |_: &str| m.partition(1));
    (made, limiter)
}

/// .NET's usual setup: resource "1" is key 1, anything else key 2, both tracked fakes.
fn two_tracked_partitions() -> (TrackingFactory, PartitionedRateLimiter<str>) {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |r: &str| m.partition(if r == "1" { 1 } else { 2 }));
    (made, limiter)
}

/// Counts the calls of a partition factory.
fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------------------------
// Argument checks
// ---------------------------------------------------------------------------------------------

// .NET: ThrowsWhenAcquiringLessThanZero (1)
// Permit counts are u32 (API difference 2), so the Rust analogue of the argument error is asking
// for more than the partition's limiter can ever grant: its own error comes back unchanged.
#[test]
fn attempt_acquire_more_than_the_partition_limit_is_an_error() {
    let limiter = PartitionedRateLimiter::new(|_: &str| {
        RateLimitPartition::get_concurrency_limiter(1, |_| concurrency_options(1, 0))
    });
    assert_eq!(
        limiter.attempt_acquire("", 2).unwrap_err(),
        AcquireError::PermitLimitExceeded { requested: 2, limit: 1 }
    );
    // Nothing was taken.
    assert_eq!(available(&limiter, ""), 1);
}

// .NET: ThrowsWhenWaitingForLessThanZero (2)
// As (1), through `acquire` and `blocking_acquire`.
#[test]
fn acquire_more_than_the_partition_limit_is_an_error() {
    let limiter = PartitionedRateLimiter::new(|_: &str| {
        RateLimitPartition::get_concurrency_limiter(1, |_| concurrency_options(1, 5))
    });
    let expected = AcquireError::PermitLimitExceeded { requested: 2, limit: 1 };
    assert_eq!(now(limiter.acquire("", 2)).unwrap_err(), expected);
    assert_eq!(limiter.blocking_acquire("", 2).unwrap_err(), expected);
    let stats = limiter.statistics("").unwrap();
    assert_eq!((stats.current_available_permits, stats.current_queued_count), (1, 0));
}

// .NET: WaitAsyncThrowsWhenPassedACanceledToken (3) — [N] no cancellation tokens: cancelling is
// dropping the future, which cannot happen before the call (see create_dropping_acquire_cancels_the_partition_wait).

// ---------------------------------------------------------------------------------------------
// Forwarding to the partition's limiter
// ---------------------------------------------------------------------------------------------

// .NET: Create_AcquireCallsUnderlyingPartitionsLimiter (4)
#[test]
fn create_attempt_acquire_calls_underlying_partitions_limiter() {
    let (made, limiter) = one_tracked_partition();

    grant(limiter.attempt_acquire("", 1));
    let fake = made.only();
    assert_eq!(fake.key(), 1);
    assert_eq!((fake.attempts(), fake.acquires(), fake.blockings()), (1, 0, 0));
}

// .NET: Create_WaitAsyncCallsUnderlyingPartitionsLimiter (5)
// Also `blocking_acquire` (no .NET analogue), which must reach the limiter's own blocking call.
#[test]
fn create_acquire_calls_underlying_partitions_limiter() {
    let (made, limiter) = one_tracked_partition();

    grant(now(limiter.acquire("", 1)));
    let fake = made.only();
    assert_eq!((fake.attempts(), fake.acquires(), fake.blockings()), (0, 1, 0));

    grant(limiter.blocking_acquire("", 1));
    assert_eq!(made.count(), 1);
    assert_eq!((fake.attempts(), fake.acquires(), fake.blockings()), (0, 1, 1));
}

// .NET: Create_GetStatisticsCallsUnderlyingPartitionsLimiter (6)
#[test]
fn create_statistics_calls_underlying_partitions_limiter() {
    let (made, limiter) = one_tracked_partition();

    // Statistics builds the partition; the fake reports none.
    assert_eq!(limiter.statistics(""), None);
    let fake = made.only();
    assert_eq!(fake.stats_calls(), 1);
    assert_eq!((fake.attempts(), fake.acquires()), (0, 0));
    assert_eq!(limiter.partition_count(), 1);
}

// .NET: Create_PartitionIsCached (7)
#[test]
fn create_partition_is_cached() {
    let (made, limiter) = one_tracked_partition();

    grant(limiter.attempt_acquire("", 1));
    grant(now(limiter.acquire("", 1)));
    grant(limiter.attempt_acquire("", 1));
    grant(now(limiter.acquire("", 1)));
    let fake = made.only();
    assert_eq!((fake.attempts(), fake.acquires()), (2, 2));
    assert_eq!(limiter.partition_count(), 1);
}

// .NET: Create_MultiplePartitionsWork (8)
#[test]
fn create_multiple_partitions_work() {
    let (made, limiter) = two_tracked_partitions();

    grant(limiter.attempt_acquire("1", 1));
    grant(limiter.attempt_acquire("2", 1));
    grant(limiter.attempt_acquire("1", 1));
    grant(limiter.attempt_acquire("2", 1));

    assert_eq!(made.count(), 2);
    assert_eq!(made.nth(0).key(), 1);
    assert_eq!(made.nth(0).attempts(), 2);
    assert_eq!(made.nth(1).key(), 2);
    assert_eq!(made.nth(1).attempts(), 2);
    assert_eq!(limiter.partition_count(), 2);
}

// .NET: Create_BlockingWaitDoesNotBlockOtherPartitions (9)
#[test]
fn create_blocking_wait_does_not_block_other_partitions() {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |r: &str| {
        if r == "1" {
            m.partition(1)
        } else {
            RateLimitPartition::get_concurrency_limiter(2, |_| concurrency_options(1, 2))
        }
    });

    let lease = acquired(now(limiter.acquire("2", 1)));
    let mut wait = queued(limiter.acquire("2", 1));

    // Another partition is not held back by the wait in partition 2.
    grant(now(limiter.acquire("1", 1)));

    drop(lease);
    grant(finished(&mut wait));

    let fake = made.only();
    assert_eq!((fake.attempts(), fake.acquires()), (0, 1));
}

/// A partitioned limiter whose key-1 factory signals `started`, then blocks until `release`
/// receives (or 10 s pass, so a second call cannot hang the test); key 2 is a plain fake.
/// Returns the factory-1 call counter.
fn blocking_factory_limiter(
    made: &TrackingFactory,
    started: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
) -> (Arc<AtomicUsize>, PartitionedRateLimiter<str>) {
    let calls = counter();
    let c = Arc::clone(&calls);
    let m = made.clone();
    let started = Mutex::new(started);
    let release = Arc::new(Mutex::new(release));
    let started = Arc::new(started);
    let limiter = PartitionedRateLimiter::new(move |r: &str| {
        if r == "1" {
            let (m, c, started, release) = (m.clone(), Arc::clone(&c), Arc::clone(&started), Arc::clone(&release));
            RateLimitPartition::get(1, move |k: &u32| {
                c.fetch_add(1, Ordering::SeqCst);
                started.lock().unwrap().send(()).unwrap();
                let _ = release.lock().unwrap().recv_timeout(Duration::from_secs(10));
                m.make(*k)
            })
        } else {
            m.partition(2)
        }
    });
    (calls, limiter)
}

// .NET: Create_BlockingFactoryDoesNotBlockOtherPartitions (10) [T]
// Real threads; the only real-time wait is a 20 ms pause to let the second key-1 request reach
// the factory's wait. The .NET `await AcquireAsync` on a worker becomes polling the `acquire`
// future there (its first poll blocks while the factory runs).
#[test]
fn create_blocking_factory_does_not_block_other_partitions() {
    let made = TrackingFactory::default();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (factory_calls, limiter) = blocking_factory_limiter(&made, started_tx, release_rx);

    let _lease = acquired(now(limiter.acquire("2", 1)));
    thread::scope(|s| {
        let blocked = s.spawn(|| acquired(now(limiter.acquire("1", 1))));
        started_rx.recv_timeout(Duration::from_secs(10)).expect("the key-1 factory started");

        // Other partitions are not blocked.
        grant(now(limiter.acquire("2", 1)));

        // A second request for key 1 waits for the running factory instead of building another.
        let blocked2 = s.spawn(|| acquired(now(limiter.acquire("1", 1))));
        thread::sleep(Duration::from_millis(20));
        assert!(!blocked.is_finished() && !blocked2.is_finished(), "key 1 must wait for its factory");

        release_tx.send(()).unwrap();
        drop(blocked.join().unwrap());
        drop(blocked2.join().unwrap());
    });

    assert_eq!(count(&factory_calls), 1);
    assert_eq!(made.count(), 2);
    assert_eq!(made.for_key(1).acquires(), 2);
    assert_eq!(made.for_key(2).acquires(), 2);
}

/// A key whose equality and hash ignore ASCII case.
#[derive(Clone, Debug)]
struct CaseInsensitive(String);

impl PartialEq for CaseInsensitive {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for CaseInsensitive {}

impl Hash for CaseInsensitive {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_ascii_lowercase().hash(state);
    }
}

// .NET: Create_PassedInEqualityComparerIsUsed (11)
// There is no comparer parameter: the key's own `Eq` and `Hash` are the comparer. The .NET call
// counts of Equals/GetHashCode describe its dictionary [N]; what is kept is that equal keys share a
// partition.
#[test]
fn create_key_equality_and_hash_are_used() {
    let calls = counter();
    let c = Arc::clone(&calls);
    let limiter = PartitionedRateLimiter::new(move |r: &str| {
        let c = Arc::clone(&c);
        RateLimitPartition::get(CaseInsensitive(r.to_string()), move |_: &CaseInsensitive| {
            c.fetch_add(1, Ordering::SeqCst);
            Fake::new()
        })
    });

    grant(limiter.attempt_acquire("a", 1));
    grant(limiter.attempt_acquire("A", 1));
    assert_eq!(count(&calls), 1, "\"a\" and \"A\" are the same key");
    assert_eq!(limiter.partition_count(), 1);
    grant(limiter.attempt_acquire("b", 1));
    assert_eq!(count(&calls), 2);
    assert_eq!(limiter.partition_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Disposal
// ---------------------------------------------------------------------------------------------

// .NET: Create_DisposeWithoutLimitersNoops (12)
#[test]
fn create_dispose_without_limiters_noops() {
    let (made, limiter) = one_tracked_partition();

    limiter.dispose();
    assert_eq!(made.count(), 0);
    assert_eq!(limiter.partition_count(), 0);
}

// .NET: Create_DisposeDisposesAllLimiters (13)
#[test]
fn create_dispose_disposes_all_limiters() {
    let (made, limiter) = two_tracked_partitions();

    grant(limiter.attempt_acquire("1", 1));
    grant(limiter.attempt_acquire("2", 1));

    limiter.dispose();

    assert_eq!(made.count(), 2);
    for i in 0..2 {
        assert_eq!(made.nth(i).attempts(), 1);
        assert_eq!(made.nth(i).disposals(), 1);
    }
}

// .NET: Create_DisposeWithThrowingDisposes_DisposesAllLimiters (14) — [N] `dispose` cannot fail,
// so there is no AggregateException to collect; "every limiter is disposed" is (13).

// .NET: Create_DisposeThrowsForFutureMethodCalls (15)
// Also `acquire`, `blocking_acquire` and `statistics` (`None`: API difference 5 keeps statistics
// of a disposed limiter readable, but a disposed partitioned limiter has no partitions left).
#[test]
fn create_dispose_fails_future_calls() {
    let (made, limiter) = one_tracked_partition();

    limiter.dispose();

    assert_eq!(limiter.attempt_acquire("1", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(now(limiter.acquire("1", 1)).unwrap_err(), AcquireError::Disposed);
    assert_eq!(limiter.blocking_acquire("1", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(limiter.statistics("1"), None);
    assert_eq!(made.count(), 0, "no limiter is built after disposal");
}

// .NET: Create_DisposeAsyncDisposesAllLimiters (16) — [N] no DisposeAsync / Dispose(bool) pattern.
// .NET: Create_DisposeAsyncWithThrowingDisposes_DisposesAllLimiters (17) — [N] no DisposeAsync, and
// `dispose` cannot fail.

// ---------------------------------------------------------------------------------------------
// Replenishment (no heartbeat: lazy, from the clock)
// ---------------------------------------------------------------------------------------------

// .NET: Create_WithTokenBucketReplenishesAutomatically (18) [T]
// .NET forces the factory's bucket into manual mode and the 100 ms heartbeat replenishes it. Here
// the factory forces auto mode (deliberate difference): the bucket refills from the ManualClock,
// and a queued acquire completes once the clock reaches the next period, with nobody else calling.
#[test]
fn create_with_token_bucket_replenishes_automatically() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |_: &str| RateLimitPartition::get_token_bucket_limiter(1, |_| bucket_options()),
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();

    grant(limiter.attempt_acquire("", 1));
    let mut wait = queued(limiter.acquire("", 1));
    clock.advance(Duration::from_millis(100) - NS);
    assert!(poll_once(&mut wait).is_none(), "no token before the period has passed");
    clock.advance(NS);
    grant(finished(&mut wait));
    deny(limiter.attempt_acquire("", 1));
}

// .NET: Create_WithReplenishingLimiterReplenishesAutomatically (19) [T]
// Through the generic `get`, whose limiter is used as given: it must be an auto-replenishing
// bucket here (on the test's clock). A manual one is never replenished: see
// generic_manual_mode_limiter_is_not_replenished.
#[test]
fn create_with_replenishing_limiter_replenishes_automatically() {
    let clock = ManualClock::new();
    let c = clock.clone();
    let limiter = PartitionedRateLimiter::new(move |_: &str| {
        let c = c.clone();
        RateLimitPartition::get(1, move |_: &u32| {
            let options = TokenBucketRateLimiterOptions { auto_replenishment: true, ..bucket_options() };
            TokenBucketRateLimiter::with_clock(options, c.clone()).unwrap()
        })
    });

    grant(limiter.attempt_acquire("", 1));
    let mut wait = queued(limiter.acquire("", 1));
    clock.advance(Duration::from_millis(100));
    grant(finished(&mut wait));
}

// Deliberate difference (no heartbeat): a manual-mode limiter from a generic factory is used as
// given, and nothing calls its `try_replenish`, however much time passes or how often it is used.
#[test]
fn generic_manual_mode_limiter_is_not_replenished() {
    let clock = ManualClock::new();
    let c = clock.clone();
    let limiter = PartitionedRateLimiter::new(move |_: &str| {
        let c = c.clone();
        RateLimitPartition::get(1, move |_: &u32| {
            TokenBucketRateLimiter::with_clock(bucket_options(), c.clone()).unwrap()
        })
    });

    grant(limiter.attempt_acquire("", 1));
    clock.advance(Duration::from_secs(3600));
    for _ in 0..10 {
        deny(limiter.attempt_acquire("", 1));
    }
    assert_eq!(limiter.evict_idle(), 0);
    assert_eq!(available(&limiter, ""), 0);
}

// .NET: Create_MultipleReplenishingLimitersReplenishAutomatically (20) [T]
// The second bucket is built after the first has already been replenished once; both refill.
#[test]
fn create_multiple_replenishing_limiters_replenish_automatically() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |r: &str| RateLimitPartition::get_token_bucket_limiter(if r == "1" { 1 } else { 2 }, |_| bucket_options()),
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();
    let period = Duration::from_millis(100);

    grant(limiter.attempt_acquire("1", 1));
    let mut wait = queued(limiter.acquire("1", 1));
    clock.advance(period);
    grant(finished(&mut wait));

    // Creates the second bucket (at t = 100 ms: its periods start then).
    grant(limiter.attempt_acquire("2", 1));

    let mut wait1 = queued(limiter.acquire("1", 1));
    let mut wait2 = queued(limiter.acquire("2", 1));
    clock.advance(period);
    grant(finished(&mut wait1));
    grant(finished(&mut wait2));
    assert_eq!(limiter.partition_count(), 2);
}

// .NET: Create_CancellationTokenPassedToUnderlyingLimiter (21)
// Cancelling is dropping the future (API difference 1): the partition's queued request is withdrawn.
#[test]
fn create_dropping_acquire_cancels_the_partition_wait() {
    let limiter = PartitionedRateLimiter::new(|_: &str| {
        RateLimitPartition::get_concurrency_limiter(1, |_| ConcurrencyLimiterOptions {
            permit_limit: 1,
            queue_processing_order: NewestFirst,
            queue_limit: 1,
        })
    });

    let lease = acquired(limiter.attempt_acquire("", 1));
    let wait = queued(limiter.acquire("", 1));
    assert_eq!(limiter.statistics("").unwrap().current_queued_count, 1);
    drop(wait);
    let stats = limiter.statistics("").unwrap();
    assert_eq!((stats.current_queued_count, stats.current_available_permits), (0, 0));

    // The withdrawn request takes nothing: the permit goes straight to the lease's releaser.
    drop(lease);
    assert_eq!(available(&limiter, ""), 1);
}

// ---------------------------------------------------------------------------------------------
// Eviction of idle partitions
// ---------------------------------------------------------------------------------------------

/// A fake partition (key 1) whose factory counts its calls in `calls` and keeps the fake it built
/// last in `current`.
fn counted_fake_partition<C: Clock>(calls: &Calls, current: &Slot<Option<Arc<Fake>>>) -> RateLimitPartition<u32, C> {
    let (c, cur) = (Arc::clone(calls), Arc::clone(current));
    RateLimitPartition::get(1, move |_: &u32| {
        c.fetch_add(1, Ordering::SeqCst);
        let fake = Fake::new().arc();
        *cur.lock().unwrap() = Some(Arc::clone(&fake));
        fake
    })
}

/// A limiter whose every resource is a [`counted_fake_partition`].
fn one_fake_partition<C: Clock>(
    options: PartitionedRateLimiterOptions,
    clock: C,
) -> (Calls, Slot<Option<Arc<Fake>>>, PartitionedRateLimiter<str>) {
    let calls = counter();
    let current = Arc::new(Mutex::new(None::<Arc<Fake>>));
    let (c, cur) = (Arc::clone(&calls), Arc::clone(&current));
    let limiter =
        PartitionedRateLimiter::with_clock(move |_: &str| counted_fake_partition(&c, &cur), options, clock).unwrap();
    (calls, current, limiter)
}

fn current(slot: &Mutex<Option<Arc<Fake>>>) -> Arc<Fake> {
    Arc::clone(slot.lock().unwrap().as_ref().expect("a limiter was built"))
}

// .NET: IdleLimiterIsCleanedUp (22) [R]
// .NET runs the heartbeat by reflection; here `evict_idle()` is the explicit pass.
#[test]
fn idle_limiter_is_cleaned_up() {
    let (calls, slot, limiter) = one_fake_partition(PartitionedRateLimiterOptions::default(), ManualClock::new());

    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 1);
    let inner = current(&slot);

    // Reporting less than the idle timeout keeps it.
    inner.set_idle(Some(IDLE_TIMEOUT - NS));
    assert_eq!(limiter.evict_idle(), 0);
    assert_eq!(inner.disposals(), 0);

    inner.set_idle(Some(ONE_MINUTE));
    assert_eq!(limiter.evict_idle(), 1);
    assert_eq!(inner.disposals(), 1, "an evicted limiter is disposed");
    assert_eq!(limiter.partition_count(), 0);

    // The next request calls the factory again.
    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 2);
    assert!(!Arc::ptr_eq(&inner, &current(&slot)));
    assert_eq!(inner.attempts(), 1, "the evicted limiter is not used again");
}

// .NET: IdleLimiterIsCleanedUp (22), by the incremental eviction a new key performs.
#[test]
fn idle_limiter_is_cleaned_up_when_a_new_key_arrives() {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |r: &str| m.partition(r.parse().unwrap()));

    grant(limiter.attempt_acquire("1", 1));
    made.for_key(1).set_idle(Some(ONE_MINUTE));

    grant(limiter.attempt_acquire("2", 1));
    assert_eq!(made.for_key(1).disposals(), 1, "a new key examines the oldest partitions");
    assert_eq!(limiter.partition_count(), 1);

    grant(limiter.attempt_acquire("1", 1));
    assert_eq!(made.count(), 3, "key 1 was rebuilt");
}

// .NET: IdleLimiterIsCleanedUp (22), by the incremental eviction an `acquire` or
// `blocking_acquire` performs (one partition examined per call), on another key.
#[test]
fn idle_limiter_is_cleaned_up_by_acquisitions_on_other_keys() {
    for blocking in [false, true] {
        let (made, limiter) = two_tracked_partitions();

        grant(limiter.attempt_acquire("1", 1));
        grant(limiter.attempt_acquire("2", 1));
        let idle = made.for_key(1);
        idle.set_idle(Some(ONE_MINUTE));

        // Two partitions: two eviction steps examine both.
        for _ in 0..2 {
            if blocking {
                grant(limiter.blocking_acquire("2", 1));
            } else {
                grant(now(limiter.acquire("2", 1)));
            }
        }
        assert_eq!(idle.disposals(), 1);
        assert_eq!(made.for_key(2).disposals(), 0);
        assert_eq!(limiter.partition_count(), 1);
        assert_eq!(idle.attempts(), 1);

        grant(limiter.attempt_acquire("1", 1));
        assert_eq!(made.count(), 3, "key 1 was rebuilt");
    }
}

// .NET: IdleLimiterIsCleanedUp (22), with a built-in limiter whose idle time is measured on the
// partitioned limiter's ManualClock: evicted exactly when idle for the idle timeout.
#[test]
fn idle_concurrency_partition_is_evicted_after_the_idle_timeout() {
    let clock = ManualClock::new();
    let built = counter();
    let b = Arc::clone(&built);
    let limiter = PartitionedRateLimiter::with_clock(
        move |_: &str| {
            let b = Arc::clone(&b);
            RateLimitPartition::get_concurrency_limiter(1, move |_| {
                b.fetch_add(1, Ordering::SeqCst);
                concurrency_options(1, 0)
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();

    let lease = acquired(limiter.attempt_acquire("", 1));
    clock.advance(Duration::from_secs(60));
    assert_eq!(limiter.evict_idle(), 0, "a partition with a lease out is in use");
    drop(lease); // idle from now (t = 60 s)
    clock.advance(IDLE_TIMEOUT - NS);
    assert_eq!(limiter.evict_idle(), 0);
    clock.advance(NS);
    assert_eq!(limiter.evict_idle(), 1);
    assert_eq!(limiter.partition_count(), 0);
    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&built), 2);
}

// .NET: NoopLimiterPartitionIsCleanedUp (23) [R][main-2026]
// .NET backdates the entry's last access by reflection; here the ManualClock moves.
#[test]
fn noop_limiter_partition_is_cleaned_up() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |_: &str| RateLimitPartition::get_no_limiter(1),
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();

    grant(limiter.attempt_acquire("", 1));
    assert_eq!(limiter.partition_count(), 1);

    // Every use refreshes the last access.
    clock.advance(Duration::from_secs(9));
    grant(limiter.attempt_acquire("", 1));
    clock.advance(IDLE_TIMEOUT - NS);
    assert_eq!(limiter.evict_idle(), 0);
    assert_eq!(limiter.partition_count(), 1);

    clock.advance(NS);
    assert_eq!(limiter.evict_idle(), 1);
    assert_eq!(limiter.partition_count(), 0);

    grant(limiter.attempt_acquire("", 1));
    assert_eq!(limiter.partition_count(), 1);
    // A fresh no-limiter: only this request (and not the two before) is counted.
    assert_eq!(limiter.statistics("").unwrap().total_successful_leases, 1);
}

// .NET: NoopLimiterPartitionIsCleanedUp (23), by the incremental eviction of a new key.
#[test]
fn noop_limiter_partition_is_cleaned_up_when_a_new_key_arrives() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |k: &u32| RateLimitPartition::get_no_limiter(*k),
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();

    grant(limiter.attempt_acquire(&1, 1));
    clock.advance(IDLE_TIMEOUT);
    grant(limiter.attempt_acquire(&2, 1));
    assert_eq!(limiter.partition_count(), 1, "the idle no-limiter partition was evicted");
}

// .NET: LimiterWithNullIdleDurationIsNotCleanedUp (24) [R][main-2026]
// Neither time, nor evict_idle, nor new keys, nor many requests evict a limiter that never reports
// an idle duration.
#[test]
fn limiter_with_none_idle_duration_is_not_cleaned_up() {
    let clock = ManualClock::new();
    let calls = counter();
    let c = Arc::clone(&calls);
    let limiter = PartitionedRateLimiter::with_clock(
        move |k: &u32| {
            if *k == 1 {
                let c = Arc::clone(&c);
                RateLimitPartition::get(1, move |_: &u32| {
                    c.fetch_add(1, Ordering::SeqCst);
                    Fake::new().idle(None)
                })
            } else {
                RateLimitPartition::get_no_limiter(*k)
            }
        },
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();

    grant(limiter.attempt_acquire(&1, 1));
    assert_eq!(count(&calls), 1);

    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(limiter.evict_idle(), 0);
    for key in 2..10 {
        grant(limiter.attempt_acquire(&key, 1));
    }
    for _ in 0..20 {
        grant(now(limiter.acquire(&2, 1)));
        grant(limiter.blocking_acquire(&2, 1));
    }
    clock.advance(IDLE_TIMEOUT);
    limiter.evict_idle();

    grant(limiter.attempt_acquire(&1, 1));
    assert_eq!(count(&calls), 1);
}

// .NET: AllIdleLimitersCleanedUp_DisposeThrows (25) [R]
// Disposal cannot fail, so there is no AggregateException [N]; what is kept: one pass disposes
// every idle limiter.
#[test]
fn all_idle_limiters_cleaned_up() {
    let (made, limiter) = two_tracked_partitions();

    grant(limiter.attempt_acquire("1", 1));
    grant(limiter.attempt_acquire("2", 1));
    made.nth(0).set_idle(Some(ONE_MINUTE));
    made.nth(1).set_idle(Some(ONE_MINUTE));

    assert_eq!(limiter.evict_idle(), 2);
    assert_eq!(made.nth(0).disposals(), 1);
    assert_eq!(made.nth(1).disposals(), 1);
    assert_eq!(limiter.partition_count(), 0);
}

// .NET: ThrowingTryReplenishDoesNotPreventIdleLimiterBeingCleanedUp (26) [R]
// Nothing calls `try_replenish` (no heartbeat), so it cannot throw [N]; what is kept: a
// replenishing partition next to an idle one does not stop its eviction, and is never replenished.
#[test]
fn replenishing_partition_does_not_prevent_idle_limiter_being_cleaned_up() {
    let replenishing = Fake::new().replenishing(Duration::ZERO, false, true).arc();
    let calls = counter();
    let slot = Arc::new(Mutex::new(None::<Arc<Fake>>));
    let c = Arc::clone(&calls);
    let (s, r) = (Arc::clone(&slot), Arc::clone(&replenishing));
    let limiter = PartitionedRateLimiter::new(
        move |res: &str| {
            if res == "1" { counted_fake_partition(&c, &s) } else { given(2, &r) }
        },
    );

    grant(limiter.attempt_acquire("2", 1));
    grant(limiter.attempt_acquire("1", 1));
    assert_eq!(count(&calls), 1);
    let idle = current(&slot);
    idle.set_idle(Some(ONE_MINUTE));

    assert_eq!(limiter.evict_idle(), 1);
    assert_eq!(idle.disposals(), 1);
    for _ in 0..10 {
        grant(limiter.attempt_acquire("2", 1));
        grant(now(limiter.acquire("2", 1)));
        grant(limiter.blocking_acquire("2", 1));
    }
    assert_eq!(replenishing.replenishes(), 0, "no heartbeat: try_replenish is never called");
    assert_eq!(replenishing.disposals(), 0);
}

// .NET: ChainedLimiter_HeartbeatCallsTryReplenishOnInnerReplenishingLimiters (27) — [N] no heartbeat
// calls try_replenish (see replenishing_partition_does_not_prevent_idle_limiter_being_cleaned_up).
// .NET: ChainedLimiter_HeartbeatCallsTryReplenishOnAllInnerReplenishingLimiters (28) — [N] as (27).
// .NET: ChainedLimiter_ThrowingTryReplenishStillReplenishesOtherLimiters (29) — [N] heartbeat exceptions.

/// A partition of key 1 whose factory builds a chain of two fresh fakes (kept in `children`).
fn chained_fakes_limiter() -> (Calls, Slot<Vec<Arc<Fake>>>, PartitionedRateLimiter<str>) {
    let calls = counter();
    let children = Arc::new(Mutex::new(Vec::<Arc<Fake>>::new()));
    let (c, ch) = (Arc::clone(&calls), Arc::clone(&children));
    let limiter = PartitionedRateLimiter::new(move |_: &str| {
        let (c, ch) = (Arc::clone(&c), Arc::clone(&ch));
        RateLimitPartition::get(1, move |_: &u32| {
            c.fetch_add(1, Ordering::SeqCst);
            let (a, b) = (Fake::new().arc(), Fake::new().arc());
            *ch.lock().unwrap() = vec![Arc::clone(&a), Arc::clone(&b)];
            ChainedRateLimiter::new(vec![a as Arc<dyn RateLimiter>, b]).unwrap()
        })
    });
    (calls, children, limiter)
}

fn children(slot: &Mutex<Vec<Arc<Fake>>>) -> (Arc<Fake>, Arc<Fake>) {
    let children = slot.lock().unwrap();
    (Arc::clone(&children[0]), Arc::clone(&children[1]))
}

// .NET: ChainedLimiter_IdleChainedLimiterWithNullChildIdleDurationNotEvicted (30) [R][main-2026]
#[test]
fn chained_limiter_idle_with_none_child_idle_duration_not_evicted() {
    let (calls, slot, limiter) = chained_fakes_limiter();
    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 1);

    let (idle, active) = children(&slot);
    idle.set_idle(Some(ONE_MINUTE));
    active.set_idle(None);

    assert_eq!(limiter.evict_idle(), 0);
    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 1);
    assert_eq!(idle.attempts(), 2);
}

// .NET: ChainedLimiter_FullyIdleChainedLimiterIsEvicted (31) [R][main-2026]
// Also (no .NET analogue): a chain is idle for its least idle child, so one child idle for less
// than the timeout keeps it.
#[test]
fn chained_limiter_fully_idle_is_evicted() {
    let (calls, slot, limiter) = chained_fakes_limiter();
    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 1);

    let (first, second) = children(&slot);
    first.set_idle(Some(ONE_MINUTE));
    second.set_idle(Some(IDLE_TIMEOUT - NS));
    assert_eq!(limiter.evict_idle(), 0, "the chain is idle for its least idle child only");

    second.set_idle(Some(ONE_MINUTE));
    assert_eq!(limiter.evict_idle(), 1);
    // The chain does not own its children: disposing the evicted chain leaves them alone.
    assert_eq!((first.disposals(), second.disposals()), (0, 0));

    grant(limiter.attempt_acquire("", 1));
    assert_eq!(count(&calls), 2);
}

// ---------------------------------------------------------------------------------------------
// Translated keys
// ---------------------------------------------------------------------------------------------

/// .NET's translate setup: both branches of the partitioner use key 1 (a concurrency limiter with
/// 1 permit, NewestFirst, queue 1); the adapter turns an `i32` into its string and counts calls.
fn translate_setup(
    leave_open: bool,
) -> (Arc<PartitionedRateLimiter<String>>, Arc<AtomicUsize>, PartitionedRateLimiter<i32>) {
    let options = || ConcurrencyLimiterOptions { permit_limit: 1, queue_processing_order: NewestFirst, queue_limit: 1 };
    let limiter = Arc::new(PartitionedRateLimiter::new(move |r: &String| {
        if r == "1" {
            RateLimitPartition::get_concurrency_limiter(1, move |_| options())
        } else {
            RateLimitPartition::get_concurrency_limiter(1, move |_| options())
        }
    }));
    let calls = counter();
    let c = Arc::clone(&calls);
    let translated = Arc::clone(&limiter).with_translated_key(
        move |i: &i32| {
            c.fetch_add(1, Ordering::SeqCst);
            i.to_string()
        },
        leave_open,
    );
    (limiter, calls, translated)
}

fn one() -> String {
    "1".to_string()
}

// .NET: Translate_AcquirePassesThroughToInnerLimiter (32)
#[test]
fn translate_attempt_acquire_passes_through_to_inner_limiter() {
    let (limiter, calls, translated) = translate_setup(true);

    let lease = acquired(translated.attempt_acquire(&1, 1));
    assert_eq!(count(&calls), 1);

    deny(limiter.attempt_acquire(&one(), 1));
    drop(lease);
    grant(limiter.attempt_acquire(&one(), 1));
    assert_eq!(count(&calls), 1);
}

// .NET: Translate_WaitAsyncPassesThroughToInnerLimiter (33)
// Also `blocking_acquire` (no .NET analogue).
#[test]
fn translate_acquire_passes_through_to_inner_limiter() {
    let (limiter, calls, translated) = translate_setup(true);

    let lease = acquired(now(translated.acquire(&1, 1)));
    assert_eq!(count(&calls), 1);

    deny(limiter.attempt_acquire(&one(), 1));
    drop(lease);
    let lease = acquired(limiter.attempt_acquire(&one(), 1));
    assert_eq!(count(&calls), 1);

    drop(lease);
    let lease = acquired(translated.blocking_acquire(&1, 1));
    assert_eq!(count(&calls), 2);
    deny(limiter.attempt_acquire(&one(), 1));
    drop(lease);
}

// .NET: Translate_GetAvailablePermitsPassesThroughToInnerLimiter (34)
#[test]
fn translate_statistics_pass_through_to_inner_limiter() {
    let (limiter, calls, translated) = translate_setup(true);
    let avail = |t: &PartitionedRateLimiter<i32>| t.statistics(&1).unwrap().current_available_permits;

    assert_eq!(avail(&translated), 1);
    assert_eq!(count(&calls), 1);

    let lease = acquired(translated.attempt_acquire(&1, 1));
    assert_eq!(count(&calls), 2);
    assert_eq!(avail(&translated), 0);
    assert_eq!(count(&calls), 3);

    deny(limiter.attempt_acquire(&one(), 1));
    drop(lease);

    assert_eq!(avail(&translated), 1);
    assert_eq!(count(&calls), 4);

    let _lease = acquired(limiter.attempt_acquire(&one(), 1));
    assert_eq!(avail(&translated), 0);
    assert_eq!(count(&calls), 5);
}

// .NET: Translate_DisposeDoesNotDisposeInnerLimiter (35)
#[test]
fn translate_dispose_does_not_dispose_inner_limiter() {
    let (limiter, _calls, translated) = translate_setup(true);

    translated.dispose();

    grant(limiter.attempt_acquire(&one(), 1));
    assert_eq!(translated.attempt_acquire(&1, 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(now(translated.acquire(&1, 1)).unwrap_err(), AcquireError::Disposed);
    assert_eq!(translated.blocking_acquire(&1, 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(translated.statistics(&1), None);
}

// .NET: Translate_DisposeDoesDisposeInnerLimiter (36)
#[test]
fn translate_dispose_does_dispose_inner_limiter() {
    let (limiter, _calls, translated) = translate_setup(false);

    translated.dispose();

    assert_eq!(limiter.attempt_acquire(&one(), 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(translated.attempt_acquire(&1, 1).unwrap_err(), AcquireError::Disposed);
}

// .NET: Translate_DisposeAsyncDoesNotDisposeInnerLimiter (37)
// No DisposeAsync; the other implicit disposal is dropping the translated limiter.
#[test]
fn translate_drop_does_not_dispose_inner_limiter() {
    let (limiter, _calls, translated) = translate_setup(true);
    grant(translated.attempt_acquire(&2, 1));

    drop(translated);

    let lease = acquired(limiter.attempt_acquire(&one(), 1));
    drop(lease);
}

// .NET: Translate_DisposeAsyncDoesDisposeInnerLimiter (38)
// As (37): dropping a translated limiter that does not leave the inner one open disposes it.
#[test]
fn translate_drop_does_dispose_inner_limiter() {
    let (limiter, _calls, translated) = translate_setup(false);

    drop(translated);

    assert_eq!(limiter.attempt_acquire(&one(), 1).unwrap_err(), AcquireError::Disposed);
}

// .NET: Translate_GetStatisticsCallsUnderlyingLimiter (39)
#[test]
fn translate_statistics_calls_underlying_limiter() {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = Arc::new(PartitionedRateLimiter::new(move |_: &String| m.partition(1)));
    let translated = Arc::clone(&limiter).with_translated_key(|i: &i32| i.to_string(), false);

    assert_eq!(translated.statistics(&1), None);
    assert_eq!(made.only().stats_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: partition lookup
// ---------------------------------------------------------------------------------------------

// §4.1: the partitioner runs on every call, but only the first partition's factory for a key is
// ever used (each call here makes a partition of the same key with a factory of its own).
#[test]
fn partitioner_runs_on_every_call_and_only_the_first_factory_is_used() {
    let partitioner_calls = counter();
    let factories_run = Arc::new(Mutex::new(Vec::<usize>::new()));
    let (p, f) = (Arc::clone(&partitioner_calls), Arc::clone(&factories_run));
    let limiter = PartitionedRateLimiter::new(move |_: &str| {
        let n = p.fetch_add(1, Ordering::SeqCst);
        let f = Arc::clone(&f);
        RateLimitPartition::get(1, move |_: &u32| {
            f.lock().unwrap().push(n);
            Fake::new()
        })
    });

    for _ in 0..3 {
        grant(limiter.attempt_acquire("x", 1));
    }
    grant(now(limiter.acquire("x", 1)));
    grant(limiter.blocking_acquire("x", 1));
    assert_eq!(limiter.statistics("x"), None);
    assert_eq!(count(&partitioner_calls), 6);
    assert_eq!(*factories_run.lock().unwrap(), vec![0], "only the first call's factory ran");
}

// (a) Concurrent first use of one new key from 8 threads: the factory runs once and every thread
// uses the same limiter (8 permits: exactly 8 grants, a 9th is refused).
#[test]
fn concurrent_first_use_of_a_key_builds_one_limiter() {
    const THREADS: usize = 8;
    for _round in 0..50 {
        let built = counter();
        let b = Arc::clone(&built);
        let limiter = PartitionedRateLimiter::new(move |_: &u32| {
            let b = Arc::clone(&b);
            RateLimitPartition::get_concurrency_limiter(7, move |_| {
                b.fetch_add(1, Ordering::SeqCst);
                // Keep the factory running a little, so that the others arrive meanwhile.
                for _ in 0..100 {
                    thread::yield_now();
                }
                concurrency_options(THREADS as u32, 0)
            })
        });
        let barrier = Barrier::new(THREADS);
        let leases: Vec<RateLimitLease> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        limiter.attempt_acquire(&0, 1).expect("no error")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(count(&built), 1, "the factory must run exactly once");
        assert_eq!(leases.iter().filter(|l| l.is_acquired()).count(), THREADS);
        deny(limiter.attempt_acquire(&0, 1));
        assert_eq!(available(&limiter, &0), 0);
        assert_eq!(limiter.partition_count(), 1);
    }
}

// (b) A slow factory for key 1 (blocked on a channel) does not hold back any kind of request for
// key 2; the key-1 request completes once the factory returns. Real threads; one 20 ms real wait.
#[test]
fn slow_factory_for_one_key_does_not_block_another_key() {
    let made = TrackingFactory::default();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (factory_calls, limiter) = blocking_factory_limiter(&made, started_tx, release_rx);

    thread::scope(|s| {
        let blocked = s.spawn(|| acquired(limiter.blocking_acquire("1", 1)));
        started_rx.recv_timeout(Duration::from_secs(10)).expect("the key-1 factory started");

        grant(limiter.attempt_acquire("2", 1));
        grant(now(limiter.acquire("2", 1)));
        grant(limiter.blocking_acquire("2", 1));
        assert_eq!(limiter.statistics("2"), None);
        let two = made.for_key(2);
        assert_eq!((two.attempts(), two.acquires(), two.blockings(), two.stats_calls()), (1, 1, 1, 1));

        thread::sleep(Duration::from_millis(20));
        assert!(!blocked.is_finished(), "key 1 waits for its factory");
        release_tx.send(()).unwrap();
        drop(blocked.join().unwrap());
    });
    assert_eq!(count(&factory_calls), 1);
    assert_eq!(made.for_key(1).blockings(), 1);
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: the partition cap
// ---------------------------------------------------------------------------------------------

// (c) With max_partitions 2, a third key is refused ("partition limit reached") while both
// partitions are live and not idle; once one has been idle for the idle timeout, the third key
// gets a partition. A partition with a lease out is never the one evicted.
#[test]
fn max_partitions_refuses_new_keys_until_a_partition_is_idle() {
    let clock = ManualClock::new();
    let built = Arc::new(Mutex::new(Vec::<u32>::new()));
    let b = Arc::clone(&built);
    let limiter = PartitionedRateLimiter::with_clock(
        move |k: &u32| {
            let b = Arc::clone(&b);
            RateLimitPartition::get_concurrency_limiter(*k, move |k| {
                b.lock().unwrap().push(*k);
                concurrency_options(1, 0)
            })
        },
        options(IDLE_TIMEOUT, Some(2)),
        clock.clone(),
    )
    .unwrap();

    let held = acquired(limiter.attempt_acquire(&1, 1)); // key 1 stays in use
    drop(acquired(limiter.attempt_acquire(&2, 1))); // key 2 idle from t = 0
    assert_eq!(limiter.partition_count(), 2);

    let lease = refused(limiter.attempt_acquire(&3, 1));
    assert_eq!(lease.reason_phrase(), Some("partition limit reached"));
    assert_eq!(lease.reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    assert_eq!(refused(now(limiter.acquire(&3, 1))).reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    assert_eq!(refused(limiter.blocking_acquire(&3, 1)).reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    assert_eq!(limiter.statistics(&3), None);
    assert_eq!(*built.lock().unwrap(), vec![1, 2], "a refused key builds nothing");

    // Existing partitions are still served.
    deny(limiter.attempt_acquire(&1, 1));
    drop(acquired(limiter.attempt_acquire(&2, 1))); // key 2 idle again from t = 0

    clock.advance(IDLE_TIMEOUT - NS);
    deny(limiter.attempt_acquire(&3, 1));
    clock.advance(NS);
    let three = acquired(limiter.attempt_acquire(&3, 1));
    assert_eq!(limiter.partition_count(), 2);
    assert_eq!(*built.lock().unwrap(), vec![1, 2, 3]);

    // Key 1 (in use) survived: it is the same limiter, still without its permit.
    deny(limiter.attempt_acquire(&1, 1));
    drop(held);
    let one = acquired(limiter.attempt_acquire(&1, 1));
    // Key 2 was evicted: with keys 1 and 3 live and in use, it is the one refused now.
    assert_eq!(refused(limiter.attempt_acquire(&2, 1)).reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    assert_eq!(*built.lock().unwrap(), vec![1, 2, 3]);
    drop((one, three));
}

// (c) max_partitions 0 is invalid.
#[test]
fn max_partitions_zero_is_an_options_error() {
    let err = PartitionedRateLimiter::with_options(
        |_: &u32| RateLimitPartition::get_no_limiter(0u32),
        options(IDLE_TIMEOUT, Some(0)),
    )
    .unwrap_err();
    assert_eq!(err.field, "max_partitions");
    let err = PartitionedRateLimiter::with_clock(
        |_: &u32| RateLimitPartition::get_no_limiter(0u32),
        options(IDLE_TIMEOUT, Some(0)),
        ManualClock::new(),
    )
    .unwrap_err();
    assert_eq!(err.field, "max_partitions");
    assert!(options(IDLE_TIMEOUT, Some(1)).validate().is_ok());
    assert!(PartitionedRateLimiterOptions::default().validate().is_ok());
    assert_eq!(PartitionedRateLimiterOptions::default(), options(IDLE_TIMEOUT, None));
}

// (c) With max_partitions 1, a no-limiter partition unused for the idle timeout makes room.
#[test]
fn max_partitions_makes_room_by_evicting_an_unused_noop_partition() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |k: &u32| RateLimitPartition::get_no_limiter(*k),
        options(IDLE_TIMEOUT, Some(1)),
        clock.clone(),
    )
    .unwrap();
    grant(limiter.attempt_acquire(&1, 1));
    clock.advance(IDLE_TIMEOUT - NS);
    assert_eq!(refused(limiter.attempt_acquire(&2, 1)).reason_phrase(), Some(PARTITION_LIMIT_REACHED));
    clock.advance(NS);
    grant(limiter.attempt_acquire(&2, 1));
    assert_eq!(limiter.partition_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: eviction never over-admits
// ---------------------------------------------------------------------------------------------

fn fixed_window_limiter(
    clock: &ManualClock,
    window: Duration,
    built: &Arc<AtomicUsize>,
) -> PartitionedRateLimiter<str> {
    let b = Arc::clone(built);
    PartitionedRateLimiter::with_clock(
        move |r: &str| {
            let b = Arc::clone(&b);
            RateLimitPartition::get_fixed_window_limiter(if r.is_empty() { 1 } else { 2 }, move |_| {
                b.fetch_add(1, Ordering::SeqCst);
                FixedWindowRateLimiterOptions { permit_limit: 1, window, ..Default::default() }
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap()
}

// (d) A fixed-window partition whose permit is taken is in use for the rest of its window, however
// long: it is not evicted (a fresh partition would admit again), by evict_idle, new keys or requests.
#[test]
fn fixed_window_partition_in_use_is_not_evicted() {
    let clock = ManualClock::new();
    let built = counter();
    let limiter = fixed_window_limiter(&clock, Duration::from_secs(3600), &built);

    grant(limiter.attempt_acquire("", 1));
    clock.advance(IDLE_TIMEOUT * 6);
    assert_eq!(limiter.evict_idle(), 0);
    for _ in 0..10 {
        deny(limiter.attempt_acquire("", 1));
        deny(now(limiter.acquire("", 1)));
        deny(limiter.blocking_acquire("", 1));
    }
    // A new key examines the oldest partitions too.
    grant(limiter.attempt_acquire("other", 1));
    assert_eq!(count(&built), 2);
    deny(limiter.attempt_acquire("", 1));
    assert_eq!(available(&limiter, ""), 0);
}

// (d) An idle fixed-window partition is evicted, and the one built next starts full.
#[test]
fn idle_fixed_window_partition_is_evicted_and_recreated_full() {
    let clock = ManualClock::new();
    let built = counter();
    let window = Duration::from_secs(1);
    let limiter = fixed_window_limiter(&clock, window, &built);

    grant(limiter.attempt_acquire("", 1));
    // Full again at t = 1 s, idle for the timeout at t = 11 s.
    clock.advance(window + IDLE_TIMEOUT - NS);
    assert_eq!(limiter.evict_idle(), 0);
    clock.advance(NS);
    assert_eq!(limiter.evict_idle(), 1);
    assert_eq!(limiter.partition_count(), 0);

    let stats = limiter.statistics("").unwrap();
    assert_eq!(count(&built), 2);
    assert_eq!((stats.current_available_permits, stats.total_successful_leases), (1, 0));
    grant(limiter.attempt_acquire("", 1));
    deny(limiter.attempt_acquire("", 1));
}

// (d) Under contention, with idle_timeout 0 (every idle partition is evictable at once) and an
// evictor thread evicting all the time: a token bucket on a frozen clock grants exactly its tokens
// over all its incarnations, and no request sees an error.
#[test]
fn eviction_racing_requests_never_over_admits_tokens() {
    const TOKENS: u32 = 5;
    for _round in 0..20 {
        let clock = ManualClock::new();
        let limiter = PartitionedRateLimiter::with_clock(
            |_: &u32| {
                RateLimitPartition::get_token_bucket_limiter(1, |_| TokenBucketRateLimiterOptions {
                    token_limit: TOKENS,
                    tokens_per_period: 1,
                    replenishment_period: Duration::from_secs(1),
                    ..Default::default()
                })
            },
            options(Duration::ZERO, None),
            clock,
        )
        .unwrap();
        let stop = AtomicBool::new(false);
        let granted = AtomicUsize::new(0);
        thread::scope(|s| {
            let evictor = s.spawn(|| {
                let mut evicted = 0;
                while !stop.load(Ordering::SeqCst) {
                    evicted += limiter.evict_idle();
                }
                evicted
            });
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..500 {
                            if limiter.attempt_acquire(&0, 1).expect("no error").is_acquired() {
                                granted.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            stop.store(true, Ordering::SeqCst);
            evictor.join().unwrap();
        });
        assert_eq!(granted.load(Ordering::SeqCst), TOKENS as usize);
    }
}

// (d) As above with a concurrency partition of 1 permit, idle (and so evictable) between any two
// leases: never more than one lease held at once, although its incarnations are evicted and
// rebuilt all the time, and no request sees an error.
#[test]
fn eviction_racing_requests_never_over_admits_concurrency() {
    let limiter = PartitionedRateLimiter::with_clock(
        |_: &u32| RateLimitPartition::get_concurrency_limiter(1, |_| concurrency_options(1, 0)),
        options(Duration::ZERO, None),
        ManualClock::new(),
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    let in_flight = AtomicUsize::new(0);
    let granted = AtomicUsize::new(0);
    let evicted = thread::scope(|s| {
        let evictor = s.spawn(|| {
            let mut evicted = 0;
            while !stop.load(Ordering::SeqCst) {
                evicted += limiter.evict_idle();
            }
            evicted
        });
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..5000 {
                        let lease = limiter.attempt_acquire(&0, 1).expect("no error");
                        if lease.is_acquired() {
                            granted.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(in_flight.fetch_add(1, Ordering::SeqCst), 0, "two leases held at once");
                            for _ in 0..20 {
                                std::hint::spin_loop();
                            }
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                        }
                        drop(lease);
                        for _ in 0..20 {
                            std::hint::spin_loop();
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::SeqCst);
        evictor.join().unwrap()
    });
    assert!(granted.load(Ordering::SeqCst) > 0);
    // (Typically thousands of evictions on 2 cores; not asserted, it depends on scheduling.)
    let _ = evicted;
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: invalid partition options
// ---------------------------------------------------------------------------------------------

/// Asserts every kind of request for `resource` reports `InvalidOptions` naming `field`.
#[track_caller]
fn assert_invalid<R: ?Sized + 'static>(limiter: &PartitionedRateLimiter<R>, resource: &R, field: &str) {
    for result in [
        limiter.attempt_acquire(resource, 1),
        now(limiter.acquire(resource, 1)),
        limiter.blocking_acquire(resource, 1),
        limiter.attempt_acquire(resource, 1),
    ] {
        match result {
            Err(AcquireError::InvalidOptions(e)) => assert_eq!(e.field, field),
            other => panic!("expected InvalidOptions({field}), got {other:?}"),
        }
    }
    assert_eq!(limiter.statistics(resource), None);
}

// (e) A partition factory with invalid options makes that key's requests fail with
// InvalidOptions (attempt, acquire, blocking) and its statistics None; nothing panics, and other
// keys work.
#[test]
fn invalid_partition_options_are_reported_per_request() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |r: &str| match r {
            "concurrency" => RateLimitPartition::get_concurrency_limiter(1, |_| concurrency_options(0, 0)),
            "bucket" => RateLimitPartition::get_token_bucket_limiter(2, |_| TokenBucketRateLimiterOptions {
                token_limit: 1,
                tokens_per_period: 1,
                ..Default::default()
            }),
            "fixed" => RateLimitPartition::get_fixed_window_limiter(3, |_| FixedWindowRateLimiterOptions {
                permit_limit: 1,
                ..Default::default()
            }),
            "sliding" => RateLimitPartition::get_sliding_window_limiter(4, |_| SlidingWindowRateLimiterOptions {
                permit_limit: 1,
                window: Duration::from_secs(1),
                segments_per_window: 0,
                ..Default::default()
            }),
            _ => RateLimitPartition::get_concurrency_limiter(5, |_| concurrency_options(1, 0)),
        },
        PartitionedRateLimiterOptions::default(),
        clock,
    )
    .unwrap();

    assert_invalid(&limiter, "concurrency", "permit_limit");
    assert_invalid(&limiter, "bucket", "replenishment_period");
    assert_invalid(&limiter, "fixed", "window");
    assert_invalid(&limiter, "sliding", "segments_per_window");
    let _lease = acquired(limiter.attempt_acquire("ok", 1));
    // Statistics of the invalid key before its first request also just report None.
    assert_eq!(limiter.statistics("concurrency"), None);
    limiter.evict_idle();
    assert_invalid(&limiter, "bucket", "replenishment_period");
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: partition count and disposal
// ---------------------------------------------------------------------------------------------

// (f) partition_count grows with each new key and shrinks on eviction.
#[test]
fn partition_count_grows_per_key_and_shrinks_on_eviction() {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |k: &u32| m.partition(*k));

    assert_eq!(limiter.partition_count(), 0);
    for key in 1..=5 {
        grant(limiter.attempt_acquire(&key, 1));
        grant(limiter.attempt_acquire(&key, 1));
        assert_eq!(limiter.partition_count(), key as usize);
    }
    made.for_key(2).set_idle(Some(ONE_MINUTE));
    made.for_key(4).set_idle(Some(ONE_MINUTE));
    assert_eq!(limiter.evict_idle(), 2);
    assert_eq!(limiter.partition_count(), 3);
    assert_eq!(limiter.evict_idle(), 0);
    grant(limiter.attempt_acquire(&2, 1));
    assert_eq!(limiter.partition_count(), 4);
}

// (f) dispose disposes every partition's limiter exactly once (also when called twice, or when the
// partitioned limiter is dropped afterwards), completes queued requests with refused leases, and
// every later call fails with Disposed.
#[test]
fn dispose_disposes_every_partition_once_and_fails_later_calls() {
    let made = TrackingFactory::default();
    let m = made.clone();
    let limiter = PartitionedRateLimiter::new(move |k: &u32| {
        if *k == 0 {
            RateLimitPartition::get_concurrency_limiter(0, |_| concurrency_options(1, 1))
        } else {
            m.partition(*k)
        }
    });

    for key in 1..=3 {
        grant(limiter.attempt_acquire(&key, 1));
    }
    let _lease = acquired(limiter.attempt_acquire(&0, 1));
    let mut wait = queued(limiter.acquire(&0, 1));
    assert_eq!(limiter.partition_count(), 4);

    limiter.dispose();
    limiter.dispose();

    assert_eq!(made.count(), 3);
    for i in 0..3 {
        assert_eq!(made.nth(i).disposals(), 1);
    }
    deny(finished(&mut wait));
    drop(wait);
    assert_eq!(limiter.partition_count(), 0);
    assert_eq!(limiter.evict_idle(), 0);
    for key in [0, 1, 9] {
        assert_eq!(limiter.attempt_acquire(&key, 1).unwrap_err(), AcquireError::Disposed);
        assert_eq!(now(limiter.acquire(&key, 1)).unwrap_err(), AcquireError::Disposed);
        assert_eq!(limiter.blocking_acquire(&key, 1).unwrap_err(), AcquireError::Disposed);
        assert_eq!(limiter.statistics(&key), None);
    }
    assert_eq!(made.count(), 3);

    drop(limiter);
    for i in 0..3 {
        assert_eq!(made.nth(i).disposals(), 1);
    }
}

// (f) Dropping a partitioned limiter disposes its partitions.
#[test]
fn drop_disposes_every_partition() {
    let (made, limiter) = two_tracked_partitions();
    grant(limiter.attempt_acquire("1", 1));
    grant(limiter.attempt_acquire("2", 1));
    drop(limiter);
    assert_eq!((made.nth(0).disposals(), made.nth(1).disposals()), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: refunds
// ---------------------------------------------------------------------------------------------

// (g) refund(resource, lease) gives the token back to the resource's partition, and only to it.
#[test]
fn refund_gives_a_token_back_to_the_right_partition() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |r: &str| {
            RateLimitPartition::get_token_bucket_limiter(if r == "a" { 1 } else { 2 }, |_| {
                TokenBucketRateLimiterOptions {
                    token_limit: 1,
                    tokens_per_period: 1,
                    replenishment_period: Duration::from_secs(3600),
                    ..Default::default()
                }
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock,
    )
    .unwrap();

    let a = acquired(limiter.attempt_acquire("a", 1));
    let b = acquired(limiter.attempt_acquire("b", 1));
    deny(limiter.attempt_acquire("a", 1));

    limiter.refund("a", a);
    let stats_a = limiter.statistics("a").unwrap();
    assert_eq!((stats_a.current_available_permits, stats_a.total_successful_leases), (1, 0));
    assert_eq!(available(&limiter, "b"), 0, "the other partition is untouched");

    // A lease refunded to the wrong resource is not that partition's: nothing comes back.
    let a = acquired(limiter.attempt_acquire("a", 1));
    limiter.refund("b", a);
    assert_eq!(available(&limiter, "a"), 0);
    assert_eq!(available(&limiter, "b"), 0);

    limiter.refund("b", b);
    assert_eq!(available(&limiter, "b"), 1);
    assert_eq!(available(&limiter, "a"), 0);
}

// (g) refund reaches a custom partition limiter's own `refund`.
#[test]
fn refund_reaches_the_partition_limiter() {
    let (made, limiter) = two_tracked_partitions();
    let lease = acquired(limiter.attempt_acquire("2", 1));
    grant(limiter.attempt_acquire("1", 1));
    limiter.refund("2", lease);
    assert_eq!(made.for_key(2).refunds(), 1);
    assert_eq!(made.for_key(1).refunds(), 0);
}

// (f) A partition whose factory is still running when `dispose` is called is disposed too (.NET
// forces the lazy entry in order to dispose it): the limiter built after `dispose` must not stay
// live, and the request that was waiting for it must not be granted by it. Real threads, no sleep.
#[test]
fn dispose_during_a_running_factory_disposes_the_late_limiter() {
    let made = TrackingFactory::default();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (_factory_calls, limiter) = blocking_factory_limiter(&made, started_tx, release_rx);

    let result = thread::scope(|s| {
        let blocked = s.spawn(|| limiter.attempt_acquire("1", 1));
        started_rx.recv_timeout(Duration::from_secs(10)).expect("the key-1 factory started");
        limiter.dispose();
        release_tx.send(()).unwrap();
        blocked.join().unwrap()
    });

    assert_eq!(made.count(), 1);
    let late = made.for_key(1);
    assert_eq!(late.disposals(), 1, "the limiter built during dispose was never disposed");
    assert_eq!(result.map(|l| l.is_acquired()), Err(AcquireError::Disposed));
}

// (f) `dispose` racing requests for new keys (real threads, no sleep): afterwards no partition is
// left and every limiter that was built has been disposed.
#[test]
fn dispose_racing_new_keys_leaves_no_partition() {
    for round in 0..200 {
        let made = TrackingFactory::default();
        let m = made.clone();
        let limiter = PartitionedRateLimiter::new(move |k: &u32| m.partition(*k));
        let go = Barrier::new(3);
        thread::scope(|s| {
            for t in 0..2u32 {
                let (limiter, go) = (&limiter, &go);
                s.spawn(move || {
                    go.wait();
                    for i in 0..2000 {
                        if limiter.attempt_acquire(&(t * 100_000 + i), 1).is_err() {
                            break;
                        }
                    }
                });
            }
            go.wait();
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            limiter.dispose();
        });
        assert_eq!(limiter.partition_count(), 0, "round {round}: partitions left after dispose");
        for fake in made.made() {
            assert_eq!(fake.disposals(), 1, "round {round}: a built limiter was not disposed");
        }
    }
}
