//! Behavioural tests of chains of partitioned limiters (`PartitionedRateLimiter::chained`), ported
//! from .NET's `PartitionedChainedLimiterTests.cs` (`PartitionedRateLimiter.CreateChained`, 47
//! tests), plus tests of the all-or-nothing guarantee per partition and of how the resource is
//! forwarded.
//!
//! Conventions (the same as `chained.rs`):
//! * Resources are `&str` (`PartitionedRateLimiter<str>`); .NET's `""` is `""`.
//! * .NET's fake limiters (`TrackingRateLimiter`, `CustomizableLimiter`, `NotImplementedLimiter`)
//!   become `common::fake::Fake`: closures decide the leases, atomics count the calls and refunds.
//!   .NET's `TrackingRateLimiterFactory` is `common::fake::TrackingFactory`, which records every
//!   limiter it builds; [`tracking`] is a partitioned limiter of its partitions.
//! * .NET's `RateLimitPartition.Get(key, _ => limiter)` (a shared limiter behind every resource) is
//!   [`serving`].
//! * A child that "throws" returns an `Err`; the chain must hand back that very error, unchanged.
//!   `child_error()` is a sentinel value the chain cannot produce by itself.
//! * "Lease disposed" is observed with `RateLimitLease::on_release` (runs when the lease is dropped;
//!   `Fake::records_release`).
//! * .NET's cancellation tokens become dropping the `acquire` future (API difference 1). A queued
//!   request is a `Box::pin(chain.acquire(resource, n))` future polled once right away
//!   ([`penqueue`]).
//! * Deliberate differences from .NET encoded here:
//!   - all-or-nothing: when a later limiter refuses or errors (or the future is dropped), earlier
//!     grants are *refunded* to their partitions for every limiter kind, successful counts
//!     included (.NET only gets concurrency permits back, and keeps the counts);
//!   - after `dispose`, acquisitions fail with `AcquireError::Disposed` (.NET:
//!     ObjectDisposedException); disposing the chain never disposes the inner limiters;
//!   - dropping a lease cannot fail, so .NET's "dispose throws" tests have no analogue.
//! * No test sleeps in real time.

mod common;

use common::fake::*;
use common::limiter::*;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tollgate::{
    AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiterOptions, ManualClock,
    MetadataName, PartitionedRateLimiter, PartitionedRateLimiterOptions,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimitPartition, RateLimiter, RateLimiterStatistics, SlidingWindowRateLimiterOptions,
    TokenBucketRateLimiterOptions,
};

// ---------------------------------------------------------------------------------------------
// Helpers and fake limiters
// ---------------------------------------------------------------------------------------------

type Partitioned = PartitionedRateLimiter<str>;

/// Builds a chain from partitioned limiters held in `Arc`s (the test keeps its own handles).
macro_rules! chain {
    ($($limiter:expr),+ $(,)?) => {
        PartitionedRateLimiter::chained(vec![$(Arc::clone(&$limiter)),+]).expect("non-empty chain")
    };
}

/// A partitioned limiter (default options, default clock) with `partitioner`.
fn partitioned<K>(partitioner: impl Fn(&str) -> RateLimitPartition<K> + Send + Sync + 'static) -> Arc<Partitioned>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    Arc::new(PartitionedRateLimiter::new(partitioner))
}

/// .NET's `RateLimitPartition.Get(key, _ => limiter)`: every resource maps to `key`, whose
/// limiter is the test's own `limiter`.
fn serving<L: RateLimiter + 'static>(key: u32, limiter: &Arc<L>) -> Arc<Partitioned> {
    let limiter = Arc::clone(limiter);
    partitioned(move |_| given(key, &limiter))
}

/// .NET's `RateLimitPartition.Get(key, key => factory.GetLimiter(key))`: every resource maps to
/// `key`, whose limiter `factory` builds (and records).
fn tracking(factory: &TrackingFactory, key: u32) -> Arc<Partitioned> {
    let factory = factory.clone();
    partitioned(move |_| factory.partition(key))
}

/// Concurrency limiters of `permits1` and `permits2` permits, each the only partition of its own
/// partitioned limiter ([`serving`], keys 1 and 2), and the chain of those two.
fn served_concurrency_chain(
    permits1: u32,
    permits2: u32,
) -> (Arc<ConcurrencyLimiter>, Arc<ConcurrencyLimiter>, Partitioned) {
    let concurrency1 = concurrency(permits1, OldestFirst, 0);
    let concurrency2 = concurrency(permits2, OldestFirst, 0);
    let limiter1 = serving(1, &concurrency1);
    let limiter2 = serving(2, &concurrency2);
    (concurrency1, concurrency2, chain![limiter1, limiter2])
}

/// .NET's `RateLimitPartition.GetConcurrencyLimiter(1, _ => options)` for every resource.
fn concurrency_partitions(permit_limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> Arc<Partitioned> {
    partitioned(move |_| {
        RateLimitPartition::get_concurrency_limiter(1, move |_| ConcurrencyLimiterOptions {
            permit_limit,
            queue_processing_order: order,
            queue_limit,
        })
    })
}

fn concurrency(permit_limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> Arc<ConcurrencyLimiter> {
    Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit, queue_processing_order: order, queue_limit })
            .expect("valid options"),
    )
}

/// One token bucket per resource (keyed by the resource itself), on `clock`.
fn bucket_partitions(clock: &ManualClock, token_limit: u32) -> Arc<Partitioned> {
    Arc::new(
        PartitionedRateLimiter::with_clock(
            move |r: &str| {
                RateLimitPartition::get_token_bucket_limiter(r.to_owned(), move |_| TokenBucketRateLimiterOptions {
                    token_limit,
                    tokens_per_period: 1,
                    replenishment_period: secs(1),
                    auto_replenishment: true,
                    queue_processing_order: OldestFirst,
                    queue_limit: 0,
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    )
}

/// One fixed window per resource, on `clock`.
fn fixed_window_partitions(clock: &ManualClock, permit_limit: u32) -> Arc<Partitioned> {
    Arc::new(
        PartitionedRateLimiter::with_clock(
            move |r: &str| {
                RateLimitPartition::get_fixed_window_limiter(r.to_owned(), move |_| FixedWindowRateLimiterOptions {
                    permit_limit,
                    window: secs(1),
                    auto_replenishment: true,
                    ..Default::default()
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    )
}

/// One sliding window (2 segments of 1 s) per resource, on `clock`.
fn sliding_window_partitions(clock: &ManualClock, permit_limit: u32) -> Arc<Partitioned> {
    Arc::new(
        PartitionedRateLimiter::with_clock(
            move |r: &str| {
                RateLimitPartition::get_sliding_window_limiter(r.to_owned(), move |_| SlidingWindowRateLimiterOptions {
                    permit_limit,
                    window: secs(2),
                    segments_per_window: 2,
                    auto_replenishment: true,
                    ..Default::default()
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    )
}

/// One concurrency limiter per resource, on `clock`.
fn keyed_concurrency_partitions(clock: &ManualClock, permit_limit: u32, queue_limit: u32) -> Arc<Partitioned> {
    Arc::new(
        PartitionedRateLimiter::with_clock(
            move |r: &str| {
                RateLimitPartition::get_concurrency_limiter(r.to_owned(), move |_| ConcurrencyLimiterOptions {
                    permit_limit,
                    queue_processing_order: OldestFirst,
                    queue_limit,
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    )
}

#[track_caller]
fn pstats(limiter: &Partitioned, resource: &str) -> RateLimiterStatistics {
    limiter.statistics(resource).expect("statistics of a live partitioned limiter")
}

#[track_caller]
fn pavailable(limiter: &Partitioned, resource: &str) -> u64 {
    pstats(limiter, resource).current_available_permits
}

/// `attempt_acquire(resource, permits)`, asserting success.
#[track_caller]
fn ptake(limiter: &Partitioned, resource: &str, permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(resource, permits).expect("no error");
    assert!(lease.is_acquired(), "attempt_acquire({resource:?}, {permits}) should succeed");
    lease
}

/// `attempt_acquire(resource, permits)`, asserting it is refused.
#[track_caller]
fn prefuse(limiter: &Partitioned, resource: &str, permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(resource, permits).expect("no error");
    assert!(!lease.is_acquired(), "attempt_acquire({resource:?}, {permits}) should be refused");
    lease
}

/// Starts `acquire(resource, permits)` and polls it once, asserting that it is pending.
#[track_caller]
fn penqueue<'a>(limiter: &'a Partitioned, resource: &str, permits: u32) -> Waiting<'a> {
    let mut wait = Box::pin(limiter.acquire(resource, permits));
    assert_pending(&mut wait);
    wait
}

/// `acquire(resource, permits)` that must be decided on its first poll.
#[track_caller]
fn pacquire_now(limiter: &Partitioned, resource: &str, permits: u32) -> RateLimitLease {
    ready(&mut Box::pin(limiter.acquire(resource, permits)))
}

/// `acquire(resource, permits)` that must fail with an error on its first poll.
#[track_caller]
fn pacquire_err(limiter: &Partitioned, resource: &str, permits: u32) -> AcquireError {
    ready_err(&mut Box::pin(limiter.acquire(resource, permits)))
}

// ---------------------------------------------------------------------------------------------
// PartitionedChainedLimiterTests.cs, tests 1–47
// ---------------------------------------------------------------------------------------------

// .NET: ThrowsWhenNoLimitersProvided (1)
// Difference: an `OptionsError` naming `limiters` instead of an ArgumentException. .NET's two cases
// (no arguments, an empty array) are both the empty `Vec` here.
#[test]
fn throws_when_no_limiters_provided() {
    let err = PartitionedRateLimiter::<str>::chained(Vec::new()).unwrap_err();
    assert_eq!(err.field, "limiters");
    let err = PartitionedRateLimiter::<str>::chained(Vec::with_capacity(4)).unwrap_err();
    assert_eq!(err.field, "limiters");
}

// .NET: ThrowsWhenNullPassedIn (2)
// [N] A `Vec<Arc<PartitionedRateLimiter<R>>>` cannot be null; no Rust analogue.

// .NET: DisposeMakesMethodsThrow (3)
// The acquisitions fail with `Disposed`; the inner limiters are not asked (no partition is even
// built) and stay usable. The statistics part is `dispose_makes_statistics_unavailable` below.
#[test]
fn dispose_makes_methods_throw() {
    let limiter1 = concurrency_partitions(1, NewestFirst, 0);
    let limiter2 = concurrency_partitions(1, NewestFirst, 0);
    let chain = chain![limiter1, limiter2];

    chain.dispose();

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(pacquire_err(&chain, "", 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire("", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!((limiter1.partition_count(), limiter2.partition_count()), (0, 0), "the inner limiters were not asked");

    drop(ptake(&limiter1, "", 1));
    drop(ptake(&limiter2, "", 1));
}

// .NET: DisposeMakesMethodsThrow (3), the `GetStatistics("")` assertion.
// `PartitionedRateLimiter::statistics` is documented to be `None` after disposal (.NET throws
// ObjectDisposedException); a keyed or translated partitioned limiter does so, the chain must too.
#[test]
fn dispose_makes_statistics_unavailable() {
    let limiter1 = concurrency_partitions(1, NewestFirst, 0);
    let limiter2 = concurrency_partitions(1, NewestFirst, 0);
    let chain = chain![limiter1, limiter2];

    chain.dispose();

    assert_eq!(chain.statistics(""), None);
}

// .NET: DisposeAsyncMakesMethodsThrow (4)
// Difference: Rust has one `dispose`; the analogue disposes twice (idempotent) and then drops the
// chain (dropping disposes too); the inner limiters stay usable throughout.
#[test]
fn dispose_async_makes_methods_throw() {
    let limiter1 = concurrency_partitions(1, NewestFirst, 0);
    let limiter2 = concurrency_partitions(1, NewestFirst, 0);
    let chain = chain![limiter1, limiter2];

    chain.dispose();
    chain.dispose();

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(pacquire_err(&chain, "", 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire("", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!((limiter1.partition_count(), limiter2.partition_count()), (0, 0));

    drop(chain);
    let lease1 = ptake(&limiter1, "", 1);
    let lease2 = ptake(&limiter2, "", 1);
    drop((lease1, lease2));
    assert_eq!(pstats(&limiter1, ""), snapshot(1, 0, 0, 1));
    assert_eq!(pstats(&limiter2, ""), snapshot(1, 0, 0, 1));
}

// .NET: ArrayChangesAreIgnored (5)
// The chain takes its own copy of the list: changing the caller's list afterwards has no effect;
// the failing child's error still comes back, and the replacement is never asked.
#[test]
fn array_changes_are_ignored() {
    let failing = Fake::failing().arc();
    let fine = Fake::new().arc();
    let limiter1 = serving(1, &failing);
    let limiter2 = serving(1, &fine);
    let mut limiters = vec![Arc::clone(&limiter1)];
    let chain = PartitionedRateLimiter::chained(limiters.clone()).unwrap();

    limiters[0] = Arc::clone(&limiter2);

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), child_error());
    assert_eq!(failing.attempts(), 1);
    assert_eq!((fine.attempts(), limiter2.partition_count()), (0, 0));
}

// .NET: GetStatisticsReturnsLowestOrAggregateValues (6)
#[test]
fn get_statistics_returns_lowest_or_aggregate_values() {
    let limiter1 = concurrency_partitions(34, NewestFirst, 4);
    let limiter2 = concurrency_partitions(22, NewestFirst, 2);
    let limiter3 = concurrency_partitions(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(pstats(&chain, ""), snapshot(13, 0, 0, 0));
}

// .NET: GetStatisticsWithSingleLimiterWorks (7)
#[test]
fn get_statistics_with_single_limiter_works() {
    let limiter = concurrency_partitions(34, NewestFirst, 0);
    let chain = chain![limiter];

    assert_eq!(pstats(&chain, ""), snapshot(34, 0, 0, 0));
}

// .NET: GetStatisticsReturnsNewInstances (8)
// [N] Object identity has no analogue; the Rust analogue is "a snapshot does not change": a
// statistics value taken earlier is unaffected by later activity, and a new call sees the change.
#[test]
fn get_statistics_returns_new_instances() {
    let limiter1 = concurrency_partitions(34, NewestFirst, 4);
    let limiter2 = concurrency_partitions(22, NewestFirst, 2);
    let limiter3 = concurrency_partitions(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    let before = pstats(&chain, "");
    let _lease = ptake(&chain, "", 3);
    assert_eq!(before, snapshot(13, 0, 0, 0), "an old snapshot does not change");
    assert_eq!(pstats(&chain, ""), snapshot(10, 0, 0, 1));
}

// .NET: GetStatisticsHasCorrectValues (9)
// The chain's numbers are .NET's (available = minimum, queued and failed = sums, successful = the
// inner-most limiter's). Difference (all-or-nothing): the refused second attempt refunds what
// the partitions of limiters 1 and 2 granted, successful counts included.
#[test]
fn get_statistics_has_correct_values() {
    let limiter1 = concurrency_partitions(34, NewestFirst, 4);
    let limiter2 = concurrency_partitions(22, NewestFirst, 2);
    let limiter3 = concurrency_partitions(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    let lease = ptake(&chain, "", 10);
    assert_eq!(pstats(&chain, ""), snapshot(3, 0, 0, 1));

    // Limiters 1 and 2 grant, limiter 3 (3 left) refuses: the grants are refunded.
    drop(prefuse(&chain, "", 10));
    assert_eq!(pstats(&chain, ""), snapshot(3, 0, 1, 1));
    assert_eq!(pstats(&limiter1, ""), snapshot(24, 0, 0, 1), "limiter 1: refunded, success uncounted");
    assert_eq!(pstats(&limiter2, ""), snapshot(12, 0, 0, 1), "limiter 2: refunded, success uncounted");
    assert_eq!(pstats(&limiter3, ""), snapshot(3, 0, 1, 1));

    // Limiters 1 and 2 grant; the request waits in limiter 3's queue.
    let mut waiting = penqueue(&chain, "", 10);
    assert_eq!(pstats(&chain, ""), snapshot(2, 10, 1, 1));

    drop(lease);
    let lease = ready_acquired(&mut waiting);
    assert_eq!(pstats(&chain, ""), snapshot(3, 0, 1, 2));
    assert_eq!(pstats(&limiter1, ""), snapshot(24, 0, 0, 2));
    assert_eq!(pstats(&limiter2, ""), snapshot(12, 0, 0, 2));
    assert_eq!(pstats(&limiter3, ""), snapshot(3, 0, 1, 2));
    drop(lease);
}

// .NET: AcquireWorksWithSingleLimiter (10)
#[test]
fn acquire_works_with_single_limiter() {
    let factory = TrackingFactory::default();
    let limiter = tracking(&factory, 1);
    let chain = chain![limiter];

    let lease = chain.attempt_acquire("", 1).unwrap();

    assert!(lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1]);
    assert_eq!((made[0].attempts(), made[0].acquires()), (1, 0));
}

// .NET: AcquireAsyncWorksWithSingleLimiter (11)
#[tokio::test]
async fn acquire_async_works_with_single_limiter() {
    let factory = TrackingFactory::default();
    let limiter = tracking(&factory, 1);
    let chain = chain![limiter];

    let lease = chain.acquire("", 1).await.unwrap();

    assert!(lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1]);
    assert_eq!((made[0].acquires(), made[0].attempts()), (1, 0));
}

// .NET: AcquireWorksWithMultipleLimiters (12)
#[test]
fn acquire_works_with_multiple_limiters() {
    let factory = TrackingFactory::default();
    let limiter1 = tracking(&factory, 1);
    let limiter2 = tracking(&factory, 2);
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire("", 1).unwrap();

    assert!(lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1, 2]);
    assert_eq!((made[0].attempts(), made[1].attempts()), (1, 1));
    assert_eq!(factory.calls(), [(1, "attempt_acquire"), (2, "attempt_acquire")]);
    assert_eq!((made[0].refunds(), made[1].refunds()), (0, 0), "a success refunds nothing");
}

// .NET: AcquireAsyncWorksWithMultipleLimiters (13)
#[tokio::test]
async fn acquire_async_works_with_multiple_limiters() {
    let factory = TrackingFactory::default();
    let limiter1 = tracking(&factory, 1);
    let limiter2 = tracking(&factory, 2);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire("", 1).await.unwrap();

    assert!(lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1, 2]);
    assert_eq!((made[0].acquires(), made[1].acquires()), (1, 1));
    assert_eq!(factory.calls(), [(1, "acquire"), (2, "acquire")]);
    assert_eq!((made[0].refunds(), made[1].refunds()), (0, 0), "a success refunds nothing");
}

// .NET: AcquireLeaseCorrectlyDisposesWithMultipleLimiters (14)
#[test]
fn acquire_lease_correctly_disposes_with_multiple_limiters() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(1, 1);

    let lease = ptake(&chain, "", 1);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (0, 0));

    drop(lease);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (1, 1));
}

// .NET: AcquireAsyncLeaseCorrectlyDisposesWithMultipleLimiters (15)
#[tokio::test]
async fn acquire_async_lease_correctly_disposes_with_multiple_limiters() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(1, 1);

    let lease = chain.acquire("", 1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (0, 0));

    drop(lease);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (1, 1));
}

// .NET: AcquireLeaseCorrectlyDisposesWithSingleLimiter (16)
#[test]
fn acquire_lease_correctly_disposes_with_single_limiter() {
    let inner = concurrency(1, OldestFirst, 0);
    let limiter = serving(1, &inner);
    let chain = chain![limiter];

    let lease = ptake(&chain, "", 1);
    assert_eq!(available(&*inner), 0);

    drop(lease);
    assert_eq!(available(&*inner), 1);
}

// .NET: AcquireAsyncLeaseCorrectlyDisposesWithSingleLimiter (17)
#[tokio::test]
async fn acquire_async_lease_correctly_disposes_with_single_limiter() {
    let inner = concurrency(1, OldestFirst, 0);
    let limiter = serving(1, &inner);
    let chain = chain![limiter];

    let lease = chain.acquire("", 1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*inner), 0);

    drop(lease);
    assert_eq!(available(&*inner), 1);
}

// .NET: AcquireFailsWhenOneLimiterDoesNotHaveEnoughResources (18)
// Addition (all-or-nothing): the first partition's grant is handed back through its `refund`.
#[test]
fn acquire_fails_when_one_limiter_does_not_have_enough_resources() {
    let factory = TrackingFactory::default();
    let inner = concurrency(1, OldestFirst, 0);
    let limiter1 = tracking(&factory, 1);
    let limiter2 = serving(2, &inner);
    // Take the concurrency limiter's only permit, so the chain fails there.
    let _held = take(&*inner, 1);
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire("", 1).unwrap();

    assert!(!lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1]);
    assert_eq!(made[0].attempts(), 1);
    assert_eq!(made[0].refunds(), 1, "the first partition's grant is refunded");
    assert_eq!(stats(&*inner), snapshot(0, 0, 1, 1), "the refusal is the second limiter's own");
}

// .NET: AcquireAsyncFailsWhenOneLimiterDoesNotHaveEnoughResources (19)
// As in .NET the permit is taken with `acquire` and the chain is asked with `attempt_acquire`;
// added: the chain's `acquire` fails the same way and returns the concurrency limiter's own
// queue-full lease (its REASON_PHRASE reaches the caller).
#[test]
fn acquire_async_fails_when_one_limiter_does_not_have_enough_resources() {
    let factory = TrackingFactory::default();
    let inner = concurrency(1, OldestFirst, 0);
    let limiter1 = tracking(&factory, 1);
    let limiter2 = serving(2, &inner);
    let held = acquire_now(&*inner, 1);
    assert!(held.is_acquired());
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire("", 1).unwrap();
    assert!(!lease.is_acquired());
    let made = factory.made();
    assert_eq!(factory.keys(), [1]);
    assert_eq!(made[0].attempts(), 1);
    assert_eq!(made[0].refunds(), 1);

    let lease = pacquire_now(&chain, "", 1);
    assert!(!lease.is_acquired());
    assert_eq!(lease.reason_phrase(), Some("Queue limit reached"));
    assert_eq!(factory.calls(), [(1, "attempt_acquire"), (1, "acquire")]);
    assert_eq!(made[0].refunds(), 2);
}

// .NET: AcquireFailsAndReleasesAcquiredResources (20)
// Addition (all-or-nothing): limiter 1's successful count goes back too.
#[test]
fn acquire_fails_and_releases_acquired_resources() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(1, 1);
    let _held = take(&*concurrency2, 1);

    drop(prefuse(&chain, "", 1));

    assert_eq!(stats(&*concurrency1), snapshot(1, 0, 0, 0));
}

// .NET: AcquireAsyncFailsAndReleasesAcquiredResources (21)
// As in .NET (permit taken with `acquire`, chain asked with `attempt_acquire`); added: the chain's
// `acquire` and `blocking_acquire` release limiter 1 the same way.
#[test]
fn acquire_async_fails_and_releases_acquired_resources() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(1, 1);
    let held = acquire_now(&*concurrency2, 1);
    assert!(held.is_acquired());

    drop(prefuse(&chain, "", 1));
    assert_eq!(stats(&*concurrency1), snapshot(1, 0, 0, 0));

    assert!(!pacquire_now(&chain, "", 1).is_acquired());
    assert_eq!(stats(&*concurrency1), snapshot(1, 0, 0, 0));

    assert!(!chain.blocking_acquire("", 1).unwrap().is_acquired());
    assert_eq!(stats(&*concurrency1), snapshot(1, 0, 0, 0));
    assert_eq!(stats(&*concurrency2).total_failed_leases, 3);
}

// .NET: AcquireThrowsAndReleasesAcquiredResources (22)
// The child's error comes back unchanged (.NET: unwrapped), and limiter 1 is refunded.
#[test]
fn acquire_throws_and_releases_acquired_resources() {
    let inner = concurrency(1, OldestFirst, 0);
    let failing = Fake::failing().arc();
    let limiter1 = serving(1, &inner);
    let limiter2 = serving(2, &failing);
    let chain = chain![limiter1, limiter2];

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), child_error());
    assert_eq!(failing.attempts(), 1);
    assert_eq!(stats(&*inner), snapshot(1, 0, 0, 0));

    assert_eq!(chain.blocking_acquire("", 1).unwrap_err(), child_error());
    assert_eq!(failing.blockings(), 1);
    assert_eq!(stats(&*inner), snapshot(1, 0, 0, 0));
}

// .NET: AcquireAsyncThrowsAndReleasesAcquiredResources (23)
#[tokio::test]
async fn acquire_async_throws_and_releases_acquired_resources() {
    let inner = concurrency(1, OldestFirst, 0);
    let failing = Fake::failing().arc();
    let limiter1 = serving(1, &inner);
    let limiter2 = serving(2, &failing);
    let chain = chain![limiter1, limiter2];

    assert_eq!(chain.acquire("", 1).await.unwrap_err(), child_error());
    assert_eq!(failing.acquires(), 1);
    assert_eq!(stats(&*inner), snapshot(1, 0, 0, 0));
}

// .NET: AcquireThrows_SingleLimiter (24)
#[test]
fn acquire_throws_single_limiter() {
    let failing = Fake::failing().arc();
    let limiter = serving(1, &failing);
    let chain = chain![limiter];

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), child_error());
    assert_eq!(chain.blocking_acquire("", 1).unwrap_err(), child_error());
}

// .NET: AcquireAsyncThrows_SingleLimiter (25)
#[tokio::test]
async fn acquire_async_throws_single_limiter() {
    let failing = Fake::failing().arc();
    let limiter = serving(1, &failing);
    let chain = chain![limiter];

    assert_eq!(chain.acquire("", 1).await.unwrap_err(), child_error());
}

// .NET: AcquireFailsDisposeThrows (26)
// [N] Dropping a lease cannot fail, so there is no AggregateException of dispose errors.
// .NET: AcquireAsyncFailsDisposeThrows (27)
// [N] As 26.
// .NET: AcquireFailsDisposeThrowsMultipleLimitersThrow (28)
// [N] As 26.
// .NET: AcquireAsyncFailsDisposeThrowsMultipleLimitersThrow (29)
// [N] As 26.
// .NET: AcquireThrowsDisposeThrowsMultipleLimitersThrow (30)
// [N] As 26 (the child's own error is returned unchanged; see 22–25 and 42–43).
// .NET: AcquireAsyncThrowsDisposeThrowsMultipleLimitersThrow (31)
// [N] As 30.

// .NET: AcquireSucceedsDisposeThrowsAndReleasesResources (32)
// [N] for the throwing dispose. What remains: dropping the combined lease releases every inner
// lease, the custom one and the concurrency partition's permit.
#[test]
fn acquire_succeeds_dispose_throws_and_releases_resources() {
    let released = ReleaseOrder::default();
    let custom = Fake::new().records_release(1, &released).arc();
    let inner = concurrency(1, OldestFirst, 0);
    let limiter1 = serving(1, &custom);
    let limiter2 = serving(1, &inner);
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire("", 1).unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*inner), 0);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [1]);
    assert_eq!(available(&*inner), 1);
}

// .NET: AcquireAsyncSucceedsDisposeThrowsAndReleasesResources (33)
// [N] for the throwing dispose; what remains, as 32, through `acquire`.
#[tokio::test]
async fn acquire_async_succeeds_dispose_throws_and_releases_resources() {
    let released = ReleaseOrder::default();
    let custom = Fake::new().records_release(1, &released).arc();
    let inner = concurrency(1, OldestFirst, 0);
    let limiter1 = serving(1, &custom);
    let limiter2 = serving(1, &inner);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire("", 1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*inner), 0);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [1]);
    assert_eq!(available(&*inner), 1);
}

// .NET: AcquireForwardsCorrectPermitCount (34)
#[test]
fn acquire_forwards_correct_permit_count() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(5, 3);

    let lease = ptake(&chain, "", 3);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (2, 0));

    drop(lease);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (5, 3));
}

// .NET: AcquireAsyncForwardsCorrectPermitCount (35)
#[tokio::test]
async fn acquire_async_forwards_correct_permit_count() {
    let (concurrency1, concurrency2, chain) = served_concurrency_chain(5, 3);

    let lease = chain.acquire("", 3).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (2, 0));

    drop(lease);
    assert_eq!((available(&*concurrency1), available(&*concurrency2)), (5, 3));
}

/// The two partitioned limiters of .NET's `AcquireForwardsCorrectResource`: resource "1" maps to
/// keys 1 and 3, any other resource to keys 2 and 4.
fn forwarding_limiters(factory: &TrackingFactory) -> (Arc<Partitioned>, Arc<Partitioned>) {
    let (f1, f2) = (factory.clone(), factory.clone());
    let limiter1 = partitioned(move |r| if r == "1" { f1.partition(1) } else { f1.partition(2) });
    let limiter2 = partitioned(move |r| if r == "1" { f2.partition(3) } else { f2.partition(4) });
    (limiter1, limiter2)
}

// .NET: AcquireForwardsCorrectResource (36)
#[test]
fn acquire_forwards_correct_resource() {
    let factory = TrackingFactory::default();
    let (limiter1, limiter2) = forwarding_limiters(&factory);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "1", 1);

    assert_eq!(factory.keys(), [1, 3]);
    assert_eq!(factory.calls(), [(1, "attempt_acquire"), (3, "attempt_acquire")]);
    drop(lease);
}

// .NET: AcquireAsyncForwardsCorrectResource (37)
#[tokio::test]
async fn acquire_async_forwards_correct_resource() {
    let factory = TrackingFactory::default();
    let (limiter1, limiter2) = forwarding_limiters(&factory);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire("1", 1).await.unwrap();

    assert!(lease.is_acquired());
    assert_eq!(factory.keys(), [1, 3]);
    assert_eq!(factory.calls(), [(1, "acquire"), (3, "acquire")]);
}

// .NET: AcquireAsyncCanBeCanceled (38)
// Cancellation = dropping the pending future: the queued count is restored at once, and the
// withdrawn request does not take the permit when it comes back.
#[test]
fn acquire_async_can_be_canceled() {
    let limiter = concurrency_partitions(1, OldestFirst, 1);
    let chain = chain![limiter];

    let lease = ptake(&chain, "", 1);
    let waiting = penqueue(&chain, "", 1);
    assert_eq!(pstats(&chain, ""), snapshot(0, 1, 0, 1));

    drop(waiting);
    assert_eq!(pstats(&chain, ""), snapshot(0, 0, 0, 1));

    drop(lease);
    assert_eq!(pstats(&limiter, ""), snapshot(1, 0, 0, 1));
}

// .NET: AcquireAsyncCanceledReleasesAcquiredResources (39)
// Addition (all-or-nothing): limiter 1's successful count goes back too.
#[test]
fn acquire_async_canceled_releases_acquired_resources() {
    let inner = concurrency(2, OldestFirst, 0);
    let limiter1 = serving(1, &inner);
    let limiter2 = concurrency_partitions(1, OldestFirst, 1);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "", 1);
    assert_eq!(available(&*inner), 1);

    // Takes limiter 1's other permit, then waits in limiter 2's queue.
    let waiting = penqueue(&chain, "", 1);
    assert_eq!(stats(&*inner), snapshot(0, 0, 0, 2));
    assert_eq!(pstats(&limiter2, ""), snapshot(0, 1, 0, 1));

    drop(waiting);
    assert_eq!(stats(&*inner), snapshot(1, 0, 0, 1));
    assert_eq!(pstats(&limiter2, ""), snapshot(0, 0, 0, 1));
    drop(lease);
}

// .NET: AcquireAsyncWaitsForResourcesBeforeCallingNextLimiter (40)
// Limiter 2 has no queue: had it been asked while limiter 1 was still waiting, it would have
// refused (and counted a failure).
#[test]
fn acquire_async_waits_for_resources_before_calling_next_limiter() {
    let limiter1 = concurrency_partitions(1, OldestFirst, 1);
    let limiter2 = concurrency_partitions(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "", 1);
    let mut waiting = penqueue(&chain, "", 1);
    assert_eq!(pstats(&limiter2, ""), snapshot(0, 0, 0, 1), "limiter 2 not asked yet");

    drop(lease);
    let lease = ready_acquired(&mut waiting);
    assert_eq!(pstats(&limiter1, ""), snapshot(0, 0, 0, 2));
    assert_eq!(pstats(&limiter2, ""), snapshot(0, 0, 0, 2));
    drop(lease);
}

// .NET: LeasesAreDisposedInReverseOrder (41)
#[test]
fn leases_are_disposed_in_reverse_order() {
    let released = ReleaseOrder::default();
    let custom1 = Fake::new().records_release(1, &released).arc();
    let custom2 = Fake::new().records_release(2, &released).arc();
    let limiter1 = serving(1, &custom1);
    let limiter2 = serving(1, &custom2);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "", 1);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [2, 1]);
}

// .NET: LeasesAreDisposedInReverseOrderWhenAcquireThrows (42)
// Here the earlier leases are handed back through each partition's `refund`, in reverse order.
#[test]
fn leases_are_disposed_in_reverse_order_when_acquire_throws() {
    let released = ReleaseOrder::default();
    let custom1 = Fake::new().records_release(1, &released).arc();
    let custom2 = Fake::new().records_release(2, &released).arc();
    let failing = Fake::failing().arc();
    let limiter1 = serving(1, &custom1);
    let limiter2 = serving(1, &custom2);
    let limiter3 = serving(1, &failing);
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.attempt_acquire("", 1).unwrap_err(), child_error());
    assert_eq!(*released.lock().unwrap(), [2, 1]);
    assert_eq!((custom1.refunds(), custom2.refunds()), (1, 1));
}

// .NET: LeasesAreDisposedInReverseOrderWhenAcquireAsyncThrows (43)
#[tokio::test]
async fn leases_are_disposed_in_reverse_order_when_acquire_async_throws() {
    let released = ReleaseOrder::default();
    let custom1 = Fake::new().records_release(1, &released).arc();
    let custom2 = Fake::new().records_release(2, &released).arc();
    let failing = Fake::failing().arc();
    let limiter1 = serving(1, &custom1);
    let limiter2 = serving(1, &custom2);
    let limiter3 = serving(1, &failing);
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.acquire("", 1).await.unwrap_err(), child_error());
    assert_eq!(*released.lock().unwrap(), [2, 1]);
    assert_eq!((custom1.refunds(), custom2.refunds()), (1, 1));
}

// .NET: MetadataIsCombined (44)
// .NET's DateTime / TimeSpan / Exception / List<int> values become SystemTime / Duration /
// `Marker` / `Vec<i32>`; typed `get` replaces `TryGetMetadata` + `IsType`.
#[test]
fn metadata_is_combined() {
    let custom1 = Fake::new().metadata(&META_1, SystemTime::UNIX_EPOCH).metadata(&META_2, Duration::ZERO).arc();
    let custom2 = Fake::new().metadata(&META_3, Marker("3")).metadata(&META_4, Vec::new()).arc();
    let limiter1 = serving(1, &custom1);
    let limiter2 = serving(1, &custom2);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "", 1);

    assert_eq!(sorted_names(&lease), ["1", "2", "3", "4"]);
    assert_eq!(lease.get(&META_1), Some(SystemTime::UNIX_EPOCH));
    assert_eq!(lease.get(&META_2), Some(Duration::ZERO));
    assert_eq!(lease.get(&META_3), Some(Marker("3")));
    assert_eq!(lease.get(&META_4), Some(Vec::new()));
}

// .NET: DuplicateMetadataUsesFirstOne (45)
// Both leases carry "1" with the same value type here (with typed `get`, different types would
// not compete), so "first one wins" is observable: the first lease's value is returned.
#[test]
fn duplicate_metadata_uses_first_one() {
    const DUP: MetadataName<Marker> = MetadataName::new("1");
    let custom1 = Fake::new().metadata(&DUP, Marker("first")).metadata(&META_2, Duration::ZERO).arc();
    let custom2 = Fake::new().metadata(&DUP, Marker("second")).metadata(&META_4, vec![1]).arc();
    let limiter1 = serving(1, &custom1);
    let limiter2 = serving(1, &custom2);
    let chain = chain![limiter1, limiter2];

    let lease = ptake(&chain, "", 1);

    assert_eq!(sorted_names(&lease), ["1", "2", "4"]);
    assert_eq!(lease.get(&DUP), Some(Marker("first")));
    assert_eq!(lease.get(&META_2), Some(Duration::ZERO));
    assert_eq!(lease.get(&META_4), Some(vec![1]));
}

// .NET: DisposeDoesNotDisposeInnerLimiters (46)
// Added: inner partitions built before the chain's disposal (including custom limiters) are not
// disposed either, and keep their state.
#[test]
fn dispose_does_not_dispose_inner_limiters() {
    let limiter1 = concurrency_partitions(1, NewestFirst, 0);
    let limiter2 = concurrency_partitions(1, NewestFirst, 0);
    let custom = Fake::new().arc();
    let limiter3 = serving(1, &custom);
    let chain = chain![limiter1, limiter2, limiter3];
    drop(ptake(&chain, "", 1));

    chain.dispose();

    assert_eq!(custom.disposals(), 0);
    let lease1 = ptake(&limiter1, "", 1);
    let lease2 = ptake(&limiter2, "", 1);
    assert_eq!(pstats(&limiter1, ""), snapshot(0, 0, 0, 2));
    assert_eq!(pstats(&limiter2, ""), snapshot(0, 0, 0, 2));
    drop(ptake(&limiter3, "", 1));
    drop((lease1, lease2));

    limiter1.dispose();
    limiter2.dispose();
    assert_eq!(limiter1.attempt_acquire("", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(limiter1.statistics(""), None, "a disposed partitioned limiter reports no statistics");
}

// .NET: DisposeAsyncDoesNotDisposeInnerLimiters (47)
// Difference: Rust has no DisposeAsync; the other way a chain gets disposed is being dropped.
// Dropping it leaves the inner limiters (and their custom partitions) undisposed and usable.
#[test]
fn dispose_async_does_not_dispose_inner_limiters() {
    let limiter1 = concurrency_partitions(1, NewestFirst, 0);
    let limiter2 = concurrency_partitions(1, NewestFirst, 0);
    let custom = Fake::new().arc();
    let limiter3 = serving(1, &custom);
    let chain = chain![limiter1, limiter2, limiter3];
    drop(ptake(&chain, "", 1));

    drop(chain);

    assert_eq!(custom.disposals(), 0);
    let lease1 = ptake(&limiter1, "", 1);
    let lease2 = ptake(&limiter2, "", 1);
    drop(ptake(&limiter3, "", 1));
    drop((lease1, lease2));

    limiter1.dispose();
    limiter2.dispose();
    limiter3.dispose();
    assert_eq!(custom.disposals(), 1, "disposing the partitioned limiter itself disposes its partitions");
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: all-or-nothing per partition, and the resource
// ---------------------------------------------------------------------------------------------

// A chain of [token-bucket partitions, concurrency partitions (P1)]: when the concurrency partition
// refuses, the token-bucket partition is left exactly as before (tokens and successful count), for
// every way of asking. (.NET keeps the tokens spent: issue #113314.)
#[test]
fn refusal_by_second_partition_leaves_first_partition_exactly_as_before() {
    let clock = ManualClock::new();
    let buckets = bucket_partitions(&clock, 10);
    let permits = keyed_concurrency_partitions(&clock, 1, 0);
    let chain = chain![buckets, permits];

    // Some history first, so "exactly as before" is not just "the initial state".
    drop(ptake(&buckets, "a", 3));
    let _held = ptake(&permits, "a", 1);
    let before = pstats(&buckets, "a");
    assert_eq!(before, snapshot(7, 0, 0, 1));

    drop(prefuse(&chain, "a", 1));
    assert_eq!(pstats(&buckets, "a"), before, "attempt_acquire: refunded exactly");
    assert!(!pacquire_now(&chain, "a", 1).is_acquired());
    assert_eq!(pstats(&buckets, "a"), before, "acquire: refunded exactly");
    assert!(!chain.blocking_acquire("a", 1).unwrap().is_acquired());
    assert_eq!(pstats(&buckets, "a"), before, "blocking_acquire: refunded exactly");
    assert_eq!(pstats(&permits, "a"), snapshot(0, 0, 3, 1));

    // Another resource's partitions are not involved; there the chain succeeds and spends a token.
    let lease = ptake(&chain, "b", 1);
    assert_eq!(pstats(&buckets, "b"), snapshot(9, 0, 0, 1));
    assert_eq!(pstats(&buckets, "a"), before);
    drop(lease);

    // The tokens really are back: all 7 can be taken.
    drop(ptake(&buckets, "a", 7));
}

// An `acquire` future dropped while the second partition queues gives the first partition's
// tokens (and its success) back.
#[test]
fn dropped_acquire_while_second_partition_queues_refunds_first_partitions_tokens() {
    let clock = ManualClock::new();
    let buckets = bucket_partitions(&clock, 10);
    let permits = keyed_concurrency_partitions(&clock, 3, 4);
    let chain = chain![buckets, permits];
    let held = ptake(&permits, "a", 3);
    let before = pstats(&buckets, "a");

    let waiting = penqueue(&chain, "a", 3);
    assert_eq!(pstats(&buckets, "a"), snapshot(7, 0, 0, 1), "the bucket partition granted");
    assert_eq!(pstats(&permits, "a").current_queued_count, 3, "the request waits in the second partition");

    drop(waiting);
    assert_eq!(pstats(&buckets, "a"), before, "the tokens and the success are back");
    assert_eq!(pstats(&permits, "a").current_queued_count, 0);

    // Nothing left waiting takes the permits when they come back.
    drop(held);
    assert_eq!(pstats(&permits, "a"), snapshot(3, 0, 0, 1));
}

// The same through tokio: a `select!` that gives up on the chained `acquire` drops it.
#[tokio::test]
async fn dropped_acquire_via_select_refunds_first_partitions_tokens() {
    let clock = ManualClock::new();
    let buckets = bucket_partitions(&clock, 10);
    let permits = keyed_concurrency_partitions(&clock, 2, 4);
    let chain = chain![buckets, permits];
    let _held = ptake(&permits, "a", 2);

    let mut fut = Box::pin(chain.acquire("a", 2));
    tokio::select! {
        biased;
        _ = &mut fut => panic!("the second partition's permits are held"),
        _ = std::future::ready(()) => {}
    }
    assert_eq!(pavailable(&buckets, "a"), 8);
    drop(fut);
    assert_eq!(pstats(&buckets, "a"), snapshot(10, 0, 0, 0));
}

// The resource is forwarded to each inner partitioned limiter: each partitioner sees the caller's
// resource, and each inner limiter picks its own key from it (the first by length, the second by
// first letter).
#[test]
fn resource_is_forwarded_to_every_inner_limiter() {
    let seen1 = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen2 = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s1, s2) = (Arc::clone(&seen1), Arc::clone(&seen2));
    let by_length = partitioned(move |r: &str| {
        s1.lock().unwrap().push(r.to_owned());
        RateLimitPartition::get_concurrency_limiter(r.len(), |_| ConcurrencyLimiterOptions {
            permit_limit: 2,
            ..Default::default()
        })
    });
    let by_letter = partitioned(move |r: &str| {
        s2.lock().unwrap().push(r.to_owned());
        RateLimitPartition::get_concurrency_limiter(r.chars().next(), |_| ConcurrencyLimiterOptions {
            permit_limit: 1,
            ..Default::default()
        })
    });
    let chain = chain![by_length, by_letter];
    let seen = |log: &Arc<Mutex<Vec<String>>>| {
        let mut v = std::mem::take(&mut *log.lock().unwrap());
        v.dedup();
        v
    };

    // "ab": length 2, letter 'a'.
    let ab = ptake(&chain, "ab", 1);
    assert_eq!((seen(&seen1), seen(&seen2)), (vec!["ab".to_owned()], vec!["ab".to_owned()]));
    assert_eq!((by_length.partition_count(), by_letter.partition_count()), (1, 1));

    // "xyz": length 3, letter 'x': new partitions in both.
    let xyz = pacquire_now(&chain, "xyz", 1);
    assert!(xyz.is_acquired());
    assert_eq!((seen(&seen1), seen(&seen2)), (vec!["xyz".to_owned()], vec!["xyz".to_owned()]));
    assert_eq!((by_length.partition_count(), by_letter.partition_count()), (2, 2));

    // "ac": length 2 (granted, 1 of 2 left), letter 'a' (its only permit held by "ab"): refused,
    // and the length-2 partition is refunded.
    assert!(!chain.blocking_acquire("ac", 1).unwrap().is_acquired());
    assert_eq!((seen(&seen1), seen(&seen2)), (vec!["ac".to_owned()], vec!["ac".to_owned()]));
    assert_eq!((by_length.partition_count(), by_letter.partition_count()), (2, 2));
    assert_eq!(pstats(&by_length, "zz"), snapshot(1, 0, 0, 1), "the length-2 partition: only \"ab\"'s grant");
    assert_eq!(pstats(&by_letter, "a"), snapshot(0, 0, 1, 1));

    // The chain's statistics for a resource combine that resource's partitions.
    assert_eq!(pstats(&chain, "ac"), snapshot(0, 0, 1, 1));
    assert_eq!(pstats(&chain, "xy"), snapshot(0, 0, 0, 1), "length 2 (1 left) and 'x' (held by \"xyz\")");
    assert_eq!(pstats(&chain, "b"), snapshot(1, 0, 0, 0), "new partitions: length 1 and 'b'");

    // Dropping the combined leases releases the partitions they came from.
    drop((ab, xyz));
    assert_eq!(pavailable(&by_length, "zz"), 2);
    assert_eq!(pavailable(&by_length, "zzz"), 2);
    assert_eq!(pavailable(&by_letter, "a"), 1);
    assert_eq!(pavailable(&by_letter, "x"), 1);
}

// `refund(&resource, combined)` restores every inner partition (token bucket, fixed window,
// sliding window, concurrency) as if the request had never happened.
#[test]
fn refund_of_a_combined_lease_restores_every_inner_partition() {
    let clock = ManualClock::new();
    let tokens = bucket_partitions(&clock, 10);
    let window = fixed_window_partitions(&clock, 10);
    let sliding = sliding_window_partitions(&clock, 10);
    let permits = keyed_concurrency_partitions(&clock, 10, 0);
    let chain = chain![tokens, window, sliding, permits];
    let limiters = [&tokens, &window, &sliding, &permits];
    let before: Vec<_> = limiters.iter().map(|l| pstats(l, "a")).collect();
    let chain_before = pstats(&chain, "a");

    let lease = ptake(&chain, "a", 4);
    let other = ptake(&chain, "b", 2);
    for l in limiters {
        assert_eq!(pavailable(l, "a"), 6);
    }
    chain.refund("a", lease);

    let after: Vec<_> = limiters.iter().map(|l| pstats(l, "a")).collect();
    assert_eq!(after, before);
    assert_eq!(pstats(&chain, "a"), chain_before);
    for l in limiters {
        assert_eq!(pstats(l, "b"), snapshot(8, 0, 0, 1), "the other resource's partitions are untouched");
    }
    drop(other);
}

// A combined lease refunded with a resource that maps to other partitions is not theirs: it is
// just dropped (concurrency permits come back, tokens stay spent). So is a lease of another chain.
#[test]
fn refund_with_another_resource_or_chain_just_drops_the_lease() {
    let clock = ManualClock::new();
    let tokens = bucket_partitions(&clock, 10);
    let permits = keyed_concurrency_partitions(&clock, 10, 0);
    let chain_a = chain![tokens, permits];
    let chain_b = chain![tokens, permits];

    let lease = ptake(&chain_a, "a", 4);
    chain_a.refund("b", lease);
    assert_eq!(pstats(&tokens, "a"), snapshot(6, 0, 0, 1), "tokens are spent: not partition b's lease");
    assert_eq!(pstats(&permits, "a"), snapshot(10, 0, 0, 1), "dropped: the concurrency permits are back");
    assert_eq!(pstats(&tokens, "b"), snapshot(10, 0, 0, 0));

    let lease = ptake(&chain_b, "a", 1);
    chain_a.refund("a", lease);
    assert_eq!(pstats(&tokens, "a"), snapshot(5, 0, 0, 2), "not chain_a's lease");
}

// Errors of real partitions propagate unchanged and refund the earlier grants: a permit count
// above the second partition's limit, and a disposed second partitioned limiter.
#[test]
fn real_errors_propagate_and_refund_earlier_partitions() {
    let clock = ManualClock::new();
    let tokens = bucket_partitions(&clock, 10);
    let small = keyed_concurrency_partitions(&clock, 2, 0);
    let chain = chain![tokens, small];
    let exceeded = AcquireError::PermitLimitExceeded { requested: 3, limit: 2 };

    assert_eq!(chain.attempt_acquire("a", 3).unwrap_err(), exceeded);
    assert_eq!(pacquire_err(&chain, "a", 3), exceeded);
    assert_eq!(chain.blocking_acquire("a", 3).unwrap_err(), exceeded);
    assert_eq!(pstats(&tokens, "a"), snapshot(10, 0, 0, 0));

    small.dispose();
    assert_eq!(chain.attempt_acquire("a", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(pacquire_err(&chain, "a", 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire("a", 1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(pstats(&tokens, "a"), snapshot(10, 0, 0, 0));
}

// A chain inside a chain: a refusal by the outer chain's second limiter refunds through the inner
// chain to its partitions, for `attempt_acquire` and for a dropped `acquire`.
#[test]
fn nested_chain_refunds_through_the_inner_chain() {
    let clock = ManualClock::new();
    let tokens = bucket_partitions(&clock, 10);
    let inner = Arc::new(chain![tokens]);
    let permits = keyed_concurrency_partitions(&clock, 1, 1);
    let outer = chain![inner, permits];
    let held = ptake(&permits, "a", 1);

    drop(prefuse(&outer, "a", 1));
    assert_eq!(pstats(&tokens, "a"), snapshot(10, 0, 0, 0));

    let waiting = penqueue(&outer, "a", 1);
    assert_eq!(pstats(&tokens, "a"), snapshot(9, 0, 0, 1));
    drop(waiting);
    assert_eq!(pstats(&tokens, "a"), snapshot(10, 0, 0, 0));

    drop(held);
    let lease = ptake(&outer, "a", 1);
    outer.refund("a", lease);
    assert_eq!(pstats(&tokens, "a"), snapshot(10, 0, 0, 0));
    assert_eq!(pstats(&permits, "a"), snapshot(1, 0, 1, 1));
}

// Statistics when no inner partition reports any: .NET's long.MaxValue available, zero counts.
#[test]
fn statistics_without_reporting_partitions() {
    let custom = Fake::new().arc();
    let limiter1 = serving(1, &custom);
    let limiter2 = serving(2, &custom);
    let chain = chain![limiter1, limiter2];
    assert_eq!(pstats(&chain, ""), snapshot(i64::MAX as u64, 0, 0, 0));

    // Partitions that report none are skipped; the successful count is the last reporting one's.
    let reporting = concurrency_partitions(5, OldestFirst, 0);
    let chain = chain![reporting, limiter1];
    let lease = ptake(&chain, "", 2);
    assert_eq!(pstats(&chain, ""), snapshot(3, 0, 0, 1));
    drop(lease);
}

// `evict_idle` on a chain forwards to its partitioned limiters (as a translated limiter forwards
// to its inner one) and returns the sum of what they evicted; a chain in a chain forwards too.
#[test]
fn evict_idle_forwards_to_the_chained_limiters() {
    let clock = ManualClock::new();
    let first = keyed_concurrency_partitions(&clock, 1, 0);
    let second = keyed_concurrency_partitions(&clock, 1, 0);
    let chain = chain![first, second];
    drop(ptake(&chain, "idle", 1));
    let busy = ptake(&chain, "busy", 1);
    assert_eq!(chain.evict_idle(), 0, "not idle long enough yet");

    clock.advance(secs(10)); // the default idle timeout
    assert_eq!(chain.evict_idle(), 2, "\"idle\"'s partition in each limiter; \"busy\"'s are in use");
    assert_eq!((first.partition_count(), second.partition_count()), (1, 1));
    assert_eq!(chain.partition_count(), 2);
    assert_eq!(chain.evict_idle(), 0, "nothing left to evict");

    let third = keyed_concurrency_partitions(&clock, 1, 0);
    let inner = Arc::new(chain![first, second]);
    let outer = chain![inner, third];
    drop(ptake(&outer, "later", 1));
    clock.advance(secs(10));
    assert_eq!(outer.evict_idle(), 3, "\"later\"'s partition in each of the three limiters");
    assert_eq!((first.partition_count(), second.partition_count(), third.partition_count()), (1, 1, 0));

    drop(busy);
    clock.advance(secs(10));
    assert_eq!(chain.evict_idle(), 2);
    assert_eq!(outer.partition_count(), 0);
}
