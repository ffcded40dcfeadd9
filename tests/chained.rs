//! Behavioural tests of `ChainedRateLimiter`, ported from .NET's `ChainedLimiterTests.cs`
//! (`RateLimiter.CreateChained`, the 44 tests of the version before PR #126158), plus tests of the
//! places where this crate deliberately differs and of the all-or-nothing guarantee.
//!
//! Conventions:
//! * .NET's fake limiters (`TrackingRateLimiter`, `CustomizableLimiter`, `NotImplementedLimiter`,
//!   `CustomizableReplenishingLimiter`) become `common::fake::Fake`: closures decide the leases,
//!   atomics count the calls and refunds.
//! * A child that "throws" returns an `Err`; the chain must hand back that very error, unchanged.
//!   `child_error()` is a sentinel value the chain cannot produce by itself.
//! * "Lease disposed" is observed with `RateLimitLease::on_release` (runs when the lease is dropped;
//!   `Fake::records_release`).
//! * .NET's cancellation tokens become dropping the `acquire` future (API difference 1). A queued
//!   request is a `Box::pin(chain.acquire(n))` future polled once right away (`enqueue`).
//! * Deliberate differences from .NET encoded here:
//!   - all-or-nothing: when a later limiter refuses or errors (or the future is dropped), earlier
//!     grants are *refunded* for every limiter kind, successful counts included (.NET only gets
//!     concurrency permits back, and keeps the counts);
//!   - `idle_duration` is `None` if any child's is `None` (.NET's 2026 rule);
//!   - `statistics` and `idle_duration` stay usable after `dispose` (API difference 5);
//!   - dropping a lease cannot fail, so .NET's "dispose throws" tests have no analogue.
//! * No test sleeps in real time.

mod common;

use common::fake::*;
use common::limiter::*;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tollgate::{
    AcquireError, ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter,
    FixedWindowRateLimiterOptions, ManualClock, MetadataName,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimiter, ReplenishingRateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions,
    TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

// ---------------------------------------------------------------------------------------------
// Helpers and fake limiters
// ---------------------------------------------------------------------------------------------

/// Builds a chain from limiters held in `Arc`s (the test keeps its own handles).
macro_rules! chain {
    ($($limiter:expr),+ $(,)?) => {
        ChainedRateLimiter::new(vec![$(Arc::clone(&$limiter) as Arc<dyn RateLimiter>),+]).expect("non-empty chain")
    };
}

fn concurrency(permit_limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> Arc<ConcurrencyLimiter> {
    Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit, queue_processing_order: order, queue_limit })
            .expect("valid options"),
    )
}

fn clocked_concurrency(clock: &ManualClock, permit_limit: u32) -> Arc<ConcurrencyLimiter<ManualClock>> {
    Arc::new(
        ConcurrencyLimiter::with_clock(ConcurrencyLimiterOptions { permit_limit, ..Default::default() }, clock.clone())
            .expect("valid options"),
    )
}

fn bucket(
    clock: &ManualClock,
    token_limit: u32,
    tokens_per_period: u32,
    period: Duration,
    auto: bool,
    queue_limit: u32,
) -> Arc<TokenBucketRateLimiter<ManualClock>> {
    Arc::new(
        TokenBucketRateLimiter::with_clock(
            TokenBucketRateLimiterOptions {
                token_limit,
                tokens_per_period,
                replenishment_period: period,
                auto_replenishment: auto,
                queue_processing_order: OldestFirst,
                queue_limit,
            },
            clock.clone(),
        )
        .expect("valid options"),
    )
}

fn fixed_window(clock: &ManualClock, permit_limit: u32, window: Duration) -> Arc<FixedWindowRateLimiter<ManualClock>> {
    Arc::new(
        FixedWindowRateLimiter::with_clock(
            FixedWindowRateLimiterOptions { permit_limit, window, auto_replenishment: true, ..Default::default() },
            clock.clone(),
        )
        .expect("valid options"),
    )
}

fn sliding_window(
    clock: &ManualClock,
    permit_limit: u32,
    window: Duration,
    segments_per_window: u32,
) -> Arc<SlidingWindowRateLimiter<ManualClock>> {
    Arc::new(
        SlidingWindowRateLimiter::with_clock(
            SlidingWindowRateLimiterOptions {
                permit_limit,
                window,
                segments_per_window,
                auto_replenishment: true,
                ..Default::default()
            },
            clock.clone(),
        )
        .expect("valid options"),
    )
}

/// .NET's `CustomizableReplenishingLimiter`: a replenishing fake with `period`, automatic mode
/// `auto`, and `answer` from every `try_replenish` (which it counts).
fn replenishing(period: Duration, auto: bool, answer: bool) -> Arc<Fake> {
    Fake::new().replenishing(period, auto, answer).arc()
}

// ---------------------------------------------------------------------------------------------
// ChainedLimiterTests.cs, tests 1–44
// ---------------------------------------------------------------------------------------------

// .NET: ThrowsWhenNoLimitersProvided (1)
// Difference: an `OptionsError` naming `limiters` instead of an ArgumentException. .NET's two cases
// (no arguments, an empty array) are both the empty `Vec` here.
#[test]
fn throws_when_no_limiters_provided() {
    let err = ChainedRateLimiter::new(Vec::new()).unwrap_err();
    assert_eq!(err.field, "limiters");
    let err = ChainedRateLimiter::new(Vec::<Arc<dyn RateLimiter>>::with_capacity(4)).unwrap_err();
    assert_eq!(err.field, "limiters");
}

// .NET: ThrowsWhenNullPassedIn (2)
// [N] A `Vec<Arc<dyn RateLimiter>>` cannot be null; no Rust analogue.

// .NET: DisposeMakesMethodsThrow (3)
// Difference (API difference 5): after dispose the acquisitions fail with `Disposed`, but
// `statistics` and `idle_duration` keep working. The children are neither asked nor disposed, and
// stay usable (the chain does not own them; .NET's PR #126158 rule).
#[test]
fn dispose_makes_methods_throw() {
    let limiter1 = Fake::new().idle(millis(5)).arc();
    let limiter2 = Fake::new().idle(millis(7)).arc();
    let chain = chain![limiter1, limiter2];

    chain.dispose();

    assert_eq!(chain.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(acquire_err(&chain, 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(chain.statistics(), Some(snapshot(i64::MAX as u64, 0, 0, 0)));
    assert_eq!(chain.idle_duration(), Some(millis(5)));

    for child in [&limiter1, &limiter2] {
        assert_eq!((child.attempts(), child.acquires(), child.blockings()), (0, 0, 0), "children not asked");
        assert_eq!(child.disposals(), 0, "the chain does not dispose its children");
        assert!(take(&**child, 1).is_acquired(), "the children stay usable");
    }
}

/// Starts `chain.acquire(permits)` and polls it once; it must fail with an error at once.
#[track_caller]
fn acquire_err(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> AcquireError {
    ready_err(&mut Box::pin(limiter.acquire(permits)))
}

// .NET: DisposeAsyncMakesMethodsThrow (4)
// Difference: Rust has one `dispose`; the analogue disposes through `Arc<dyn RateLimiter>` (the
// way an owner holding the chain type-erased would), twice (idempotent), with real concurrency
// children that must stay usable and undisposed.
#[test]
fn dispose_async_makes_methods_throw() {
    let limiter1 = concurrency(1, NewestFirst, 0);
    let limiter2 = concurrency(1, NewestFirst, 0);
    let chain: Arc<dyn RateLimiter> = Arc::new(chain![limiter1, limiter2]);

    chain.dispose();
    chain.dispose();

    assert_eq!(chain.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(acquire_err(&*chain, 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(chain.statistics(), Some(snapshot(1, 0, 0, 0)));
    assert!(chain.idle_duration().is_some(), "idle children: the chain is idle, also after dispose");

    let lease1 = take(&*limiter1, 1);
    let lease2 = take(&*limiter2, 1);
    drop((lease1, lease2));
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 1));
    assert_eq!(stats(&*limiter2), snapshot(1, 0, 0, 1));
}

// .NET: ArrayChangesAreIgnored (5)
// The chain takes its own copy of the list: changing the caller's list afterwards has no effect.
#[test]
fn array_changes_are_ignored() {
    let limiter1: Arc<dyn RateLimiter> = Fake::new().idle(millis(1)).arc();
    let limiter2: Arc<dyn RateLimiter> = Fake::new().idle(millis(2)).arc();
    let mut limiters = vec![Arc::clone(&limiter1)];
    let chain = ChainedRateLimiter::new(limiters.clone()).unwrap();

    limiters[0] = limiter2;

    assert_eq!(chain.idle_duration(), Some(millis(1)));
    assert_eq!(chain.limiters().len(), 1);
    assert!(Arc::ptr_eq(&chain.limiters()[0], &limiter1));
}

// .NET: GetStatisticsReturnsLowestOrAggregateValues (6)
#[test]
fn get_statistics_returns_lowest_or_aggregate_values() {
    let limiter1 = concurrency(34, NewestFirst, 4);
    let limiter2 = concurrency(22, NewestFirst, 2);
    let limiter3 = concurrency(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(stats(&chain), snapshot(13, 0, 0, 0));
}

// .NET: GetStatisticsWithSingleLimiterWorks (7)
#[test]
fn get_statistics_with_single_limiter_works() {
    let limiter = concurrency(34, NewestFirst, 4);
    let chain = chain![limiter];

    assert_eq!(stats(&chain), snapshot(34, 0, 0, 0));
}

// .NET: GetStatisticsReturnsNewInstances (8)
// [N] Object identity has no analogue; the Rust analogue is "a snapshot does not change": a
// statistics value taken earlier is unaffected by later activity, and a new call sees the change.
#[test]
fn get_statistics_returns_new_instances() {
    let limiter1 = concurrency(34, NewestFirst, 4);
    let limiter2 = concurrency(22, NewestFirst, 2);
    let limiter3 = concurrency(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    let before = stats(&chain);
    let _lease = take(&chain, 3);
    assert_eq!(before, snapshot(13, 0, 0, 0), "an old snapshot does not change");
    assert_eq!(stats(&chain), snapshot(10, 0, 0, 1));
}

// .NET: GetStatisticsHasCorrectValues (9)
// The chain's numbers are .NET's (available = minimum, queued and failed = sums, successful = the
// inner-most limiter's). Difference (all-or-nothing): the refused second attempt refunds what
// limiters 1 and 2 granted, successful counts included, so their own statistics read 1 success
// each where .NET's read 2.
#[test]
fn get_statistics_has_correct_values() {
    let limiter1 = concurrency(34, NewestFirst, 4);
    let limiter2 = concurrency(22, NewestFirst, 2);
    let limiter3 = concurrency(13, NewestFirst, 10);
    let chain = chain![limiter1, limiter2, limiter3];

    let lease = take(&chain, 10);
    assert_eq!(stats(&chain), snapshot(3, 0, 0, 1));

    // Limiters 1 and 2 grant, limiter 3 (3 left) refuses: the grants are refunded.
    drop(refuse(&chain, 10));
    assert_eq!(stats(&chain), snapshot(3, 0, 1, 1));
    assert_eq!(stats(&*limiter1), snapshot(24, 0, 0, 1), "limiter 1: refunded, success uncounted");
    assert_eq!(stats(&*limiter2), snapshot(12, 0, 0, 1), "limiter 2: refunded, success uncounted");
    assert_eq!(stats(&*limiter3), snapshot(3, 0, 1, 1));

    // Limiters 1 and 2 grant; the request waits in limiter 3's queue.
    let mut waiting = enqueue(&chain, 10);
    assert_eq!(stats(&chain), snapshot(2, 10, 1, 1));
    assert_eq!(stats(&*limiter1), snapshot(14, 0, 0, 2));
    assert_eq!(stats(&*limiter2), snapshot(2, 0, 0, 2));
    assert_eq!(stats(&*limiter3), snapshot(3, 10, 1, 1));

    drop(lease);
    let lease = ready_acquired(&mut waiting);
    assert_eq!(stats(&chain), snapshot(3, 0, 1, 2));
    assert_eq!(stats(&*limiter1), snapshot(24, 0, 0, 2));
    assert_eq!(stats(&*limiter2), snapshot(12, 0, 0, 2));
    assert_eq!(stats(&*limiter3), snapshot(3, 0, 1, 2));
    drop(lease);
}

// .NET: IdleDurationReturnsLowestValue (10)
// Difference: .NET's 2026 rule. A child whose idle duration is `None` is in use, so the chain is
// in use: children None / 2 ms / 3 ms give `None` (.NET 10: 2 ms).
#[test]
fn idle_duration_returns_lowest_value() {
    let limiter1 = Fake::new().arc();
    let limiter2 = Fake::new().idle(millis(2)).arc();
    let limiter3 = Fake::new().idle(millis(3)).arc();
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.idle_duration(), None);
}

// .NET: IdleDurationReturnsLowestValue (10), the variant where every child is idle: the minimum.
#[test]
fn idle_duration_returns_lowest_value_when_all_children_are_idle() {
    let limiter1 = Fake::new().idle(millis(3)).arc();
    let limiter2 = Fake::new().idle(millis(2)).arc();
    let limiter3 = Fake::new().idle(millis(4)).arc();
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.idle_duration(), Some(millis(2)));
}

// .NET: AcquireWorksWithSingleLimiter (11)
#[test]
fn acquire_works_with_single_limiter() {
    let log = CallLog::default();
    let limiter = Fake::new().tracked(1, &log).arc();
    let chain = chain![limiter];

    let lease = chain.attempt_acquire(1).unwrap();

    assert!(lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "attempt_acquire")]);
    assert_eq!(limiter.attempts(), 1);
    assert_eq!(limiter.acquires(), 0);
}

// .NET: AcquireAsyncWorksWithSingleLimiter (12)
#[tokio::test]
async fn acquire_async_works_with_single_limiter() {
    let log = CallLog::default();
    let limiter = Fake::new().tracked(1, &log).arc();
    let chain = chain![limiter];

    let lease = chain.acquire(1).await.unwrap();

    assert!(lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "acquire")]);
    assert_eq!(limiter.acquires(), 1);
    assert_eq!(limiter.attempts(), 0);
}

// .NET: AcquireWorksWithMultipleLimiters (13)
#[test]
fn acquire_works_with_multiple_limiters() {
    let log = CallLog::default();
    let limiter1 = Fake::new().tracked(1, &log).arc();
    let limiter2 = Fake::new().tracked(2, &log).arc();
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire(1).unwrap();

    assert!(lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "attempt_acquire"), (2, "attempt_acquire")]);
    assert_eq!((limiter1.attempts(), limiter2.attempts()), (1, 1));
    assert_eq!((limiter1.refunds(), limiter2.refunds()), (0, 0), "a success refunds nothing");
}

// .NET: AcquireAsyncWorksWithMultipleLimiters (14)
#[tokio::test]
async fn acquire_async_works_with_multiple_limiters() {
    let log = CallLog::default();
    let limiter1 = Fake::new().tracked(1, &log).arc();
    let limiter2 = Fake::new().tracked(2, &log).arc();
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire(1).await.unwrap();

    assert!(lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "acquire"), (2, "acquire")]);
    assert_eq!((limiter1.acquires(), limiter2.acquires()), (1, 1));
    assert_eq!((limiter1.refunds(), limiter2.refunds()), (0, 0), "a success refunds nothing");
}

// .NET: AcquireLeaseCorrectlyDisposesWithMultipleLimiters (15)
#[test]
fn acquire_lease_correctly_disposes_with_multiple_limiters() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (0, 0));

    drop(lease);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (1, 1));
}

// .NET: AcquireAsyncLeaseCorrectlyDisposesWithMultipleLimiters (16)
#[tokio::test]
async fn acquire_async_lease_correctly_disposes_with_multiple_limiters() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire(1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!((available(&*limiter1), available(&*limiter2)), (0, 0));

    drop(lease);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (1, 1));
}

// .NET: AcquireLeaseCorrectlyDisposesWithSingleLimiter (17)
#[test]
fn acquire_lease_correctly_disposes_with_single_limiter() {
    let limiter = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter];

    let lease = take(&chain, 1);
    assert_eq!(available(&*limiter), 0);

    drop(lease);
    assert_eq!(available(&*limiter), 1);
}

// .NET: AcquireAsyncLeaseCorrectlyDisposesWithSingleLimiter (18)
#[tokio::test]
async fn acquire_async_lease_correctly_disposes_with_single_limiter() {
    let limiter = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter];

    let lease = chain.acquire(1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*limiter), 0);

    drop(lease);
    assert_eq!(available(&*limiter), 1);
}

// .NET: AcquireFailsWhenOneLimiterDoesNotHaveEnoughResources (19)
// Addition (all-or-nothing): the first limiter's grant is handed back through its `refund`.
#[test]
fn acquire_fails_when_one_limiter_does_not_have_enough_resources() {
    let log = CallLog::default();
    let limiter1 = Fake::new().tracked(1, &log).arc();
    let limiter2 = concurrency(1, OldestFirst, 0);
    // Take the concurrency limiter's only permit, so the chain fails there.
    let _held = take(&*limiter2, 1);
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire(1).unwrap();

    assert!(!lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "attempt_acquire")]);
    assert_eq!(limiter1.refunds(), 1, "the first limiter's grant is refunded");
    assert_eq!(stats(&*limiter2), snapshot(0, 0, 1, 1), "the refusal is the second limiter's own");
}

// .NET: AcquireAsyncFailsWhenOneLimiterDoesNotHaveEnoughResources (20)
// As in .NET the permit is taken with `acquire` and the chain is asked with `attempt_acquire`;
// added: the chain's `acquire` fails the same way and returns the concurrency limiter's own
// queue-full lease (its REASON_PHRASE reaches the caller).
#[test]
fn acquire_async_fails_when_one_limiter_does_not_have_enough_resources() {
    let log = CallLog::default();
    let limiter1 = Fake::new().tracked(1, &log).arc();
    let limiter2 = concurrency(1, OldestFirst, 0);
    let held = acquire_now(&*limiter2, 1);
    assert!(held.is_acquired());
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire(1).unwrap();
    assert!(!lease.is_acquired());
    assert_eq!(*log.lock().unwrap(), [(1, "attempt_acquire")]);
    assert_eq!(limiter1.refunds(), 1);

    let lease = acquire_now(&chain, 1);
    assert!(!lease.is_acquired());
    assert_eq!(lease.reason_phrase(), Some("Queue limit reached"));
    assert_eq!(*log.lock().unwrap(), [(1, "attempt_acquire"), (1, "acquire")]);
    assert_eq!(limiter1.refunds(), 2);
}

// .NET: AcquireFailsAndReleasesAcquiredResources (21)
// Addition (all-or-nothing): limiter 1's successful count goes back too.
#[test]
fn acquire_fails_and_releases_acquired_resources() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = concurrency(1, OldestFirst, 0);
    let _held = take(&*limiter2, 1);
    let chain = chain![limiter1, limiter2];

    drop(refuse(&chain, 1));

    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));
}

// .NET: AcquireAsyncFailsAndReleasesAcquiredResources (22)
// As in .NET (permit taken with `acquire`, chain asked with `attempt_acquire`); added: the chain's
// `acquire` and `blocking_acquire` release limiter 1 the same way.
#[test]
fn acquire_async_fails_and_releases_acquired_resources() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = concurrency(1, OldestFirst, 0);
    let held = acquire_now(&*limiter2, 1);
    assert!(held.is_acquired());
    let chain = chain![limiter1, limiter2];

    drop(refuse(&chain, 1));
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));

    assert!(!acquire_now(&chain, 1).is_acquired());
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));

    assert!(!chain.blocking_acquire(1).unwrap().is_acquired());
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));
}

// .NET: AcquireThrowsAndReleasesAcquiredResources (23)
// The child's error comes back unchanged (.NET: unwrapped), and limiter 1 is refunded.
#[test]
fn acquire_throws_and_releases_acquired_resources() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = Fake::failing().arc();
    let chain = chain![limiter1, limiter2];

    assert_eq!(chain.attempt_acquire(1).unwrap_err(), child_error());
    assert_eq!(limiter2.attempts(), 1);
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));
}

// .NET: AcquireAsyncThrowsAndReleasesAcquiredResources (24)
#[tokio::test]
async fn acquire_async_throws_and_releases_acquired_resources() {
    let limiter1 = concurrency(1, OldestFirst, 0);
    let limiter2 = Fake::failing().arc();
    let chain = chain![limiter1, limiter2];

    assert_eq!(chain.acquire(1).await.unwrap_err(), child_error());
    assert_eq!(limiter2.acquires(), 1);
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 0));
}

// .NET: AcquireThrows_SingleLimiter (25)
#[test]
fn acquire_throws_single_limiter() {
    let limiter = Fake::failing().arc();
    let chain = chain![limiter];

    assert_eq!(chain.attempt_acquire(1).unwrap_err(), child_error());
    assert_eq!(chain.blocking_acquire(1).unwrap_err(), child_error());
}

// .NET: AcquireAsyncThrows_SingleLimiter (26)
#[tokio::test]
async fn acquire_async_throws_single_limiter() {
    let limiter = Fake::failing().arc();
    let chain = chain![limiter];

    assert_eq!(chain.acquire(1).await.unwrap_err(), child_error());
}

// .NET: AcquireFailsDisposeThrows (27)
// [N] Dropping a lease cannot fail, so there is no AggregateException of dispose errors.
// .NET: AcquireAsyncFailsDisposeThrows (28)
// [N] As 27.
// .NET: AcquireFailsDisposeThrowsMultipleLimitersThrow (29)
// [N] As 27.
// .NET: AcquireAsyncFailsDisposeThrowsMultipleLimitersThrow (30)
// [N] As 27.
// .NET: AcquireThrowsDisposeThrowsMultipleLimitersThrow (31)
// [N] As 27 (the child's own error is returned unchanged; see 23–26 and 41–42).
// .NET: AcquireAsyncThrowsDisposeThrowsMultipleLimitersThrow (32)
// [N] As 31.

// .NET: AcquireSucceedsDisposeThrowsAndReleasesResources (33)
// [N] for the throwing dispose. What remains: dropping the combined lease releases every inner
// lease, the custom one and the concurrency child's permit.
#[test]
fn acquire_succeeds_dispose_throws_and_releases_resources() {
    let released = ReleaseOrder::default();
    let limiter1 = Fake::new().records_release(1, &released).arc();
    let limiter2 = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = chain.attempt_acquire(1).unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*limiter2), 0);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [1]);
    assert_eq!(available(&*limiter2), 1);
}

// .NET: AcquireAsyncSucceedsDisposeThrowsAndReleasesResources (34)
// [N] for the throwing dispose; what remains, as 33, through `acquire`.
#[tokio::test]
async fn acquire_async_succeeds_dispose_throws_and_releases_resources() {
    let released = ReleaseOrder::default();
    let limiter1 = Fake::new().records_release(1, &released).arc();
    let limiter2 = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire(1).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&*limiter2), 0);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [1]);
    assert_eq!(available(&*limiter2), 1);
}

// .NET: AcquireForwardsCorrectPermitCount (35)
#[test]
fn acquire_forwards_correct_permit_count() {
    let limiter1 = concurrency(5, OldestFirst, 0);
    let limiter2 = concurrency(3, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 3);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (2, 0));

    drop(lease);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (5, 3));
}

// .NET: AcquireAsyncForwardsCorrectPermitCount (36)
#[tokio::test]
async fn acquire_async_forwards_correct_permit_count() {
    let limiter1 = concurrency(5, OldestFirst, 0);
    let limiter2 = concurrency(3, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = chain.acquire(3).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!((available(&*limiter1), available(&*limiter2)), (2, 0));

    drop(lease);
    assert_eq!((available(&*limiter1), available(&*limiter2)), (5, 3));
}

// .NET: AcquireAsyncCanBeCanceled (37)
// Cancellation = dropping the pending future: the queued count is restored at once, and the
// withdrawn request does not take the permit when it comes back.
#[test]
fn acquire_async_can_be_canceled() {
    let limiter = concurrency(1, OldestFirst, 1);
    let chain = chain![limiter];

    let lease = take(&chain, 1);
    let waiting = enqueue(&chain, 1);
    assert_eq!(stats(&chain), snapshot(0, 1, 0, 1));

    drop(waiting);
    assert_eq!(stats(&chain), snapshot(0, 0, 0, 1));
    assert_eq!(stats(&*limiter), snapshot(0, 0, 0, 1));

    drop(lease);
    assert_eq!(stats(&*limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireAsyncCanceledReleasesAcquiredResources (38)
// Addition (all-or-nothing): limiter 1's successful count goes back too.
#[test]
fn acquire_async_canceled_releases_acquired_resources() {
    let limiter1 = concurrency(2, OldestFirst, 0);
    let limiter2 = concurrency(1, OldestFirst, 1);
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);
    assert_eq!(available(&*limiter1), 1);

    // Takes limiter 1's other permit, then waits in limiter 2's queue.
    let waiting = enqueue(&chain, 1);
    assert_eq!(stats(&*limiter1), snapshot(0, 0, 0, 2));
    assert_eq!(stats(&*limiter2), snapshot(0, 1, 0, 1));

    drop(waiting);
    assert_eq!(stats(&*limiter1), snapshot(1, 0, 0, 1));
    assert_eq!(stats(&*limiter2), snapshot(0, 0, 0, 1));
    drop(lease);
}

// .NET: AcquireAsyncWaitsForResourcesBeforeCallingNextLimiter (39)
// Limiter 2 has no queue: had it been asked while limiter 1 was still waiting, it would have
// refused (and counted a failure).
#[test]
fn acquire_async_waits_for_resources_before_calling_next_limiter() {
    let limiter1 = concurrency(1, OldestFirst, 1);
    let limiter2 = concurrency(1, OldestFirst, 0);
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);
    let mut waiting = enqueue(&chain, 1);
    assert_eq!(stats(&*limiter2), snapshot(0, 0, 0, 1), "limiter 2 not asked yet");

    drop(lease);
    let lease = ready_acquired(&mut waiting);
    assert_eq!(stats(&*limiter1), snapshot(0, 0, 0, 2));
    assert_eq!(stats(&*limiter2), snapshot(0, 0, 0, 2));
    drop(lease);
}

// .NET: LeasesAreDisposedInReverseOrder (40)
#[test]
fn leases_are_disposed_in_reverse_order() {
    let released = ReleaseOrder::default();
    let limiter1 = Fake::new().records_release(1, &released).arc();
    let limiter2 = Fake::new().records_release(2, &released).arc();
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);
    assert!(released.lock().unwrap().is_empty());

    drop(lease);
    assert_eq!(*released.lock().unwrap(), [2, 1]);
}

// .NET: LeasesAreDisposedInReverseOrderWhenAcquireThrows (41)
// Here the earlier leases are handed back through each limiter's `refund`, in reverse order.
#[test]
fn leases_are_disposed_in_reverse_order_when_acquire_throws() {
    let released = ReleaseOrder::default();
    let limiter1 = Fake::new().records_release(1, &released).arc();
    let limiter2 = Fake::new().records_release(2, &released).arc();
    let limiter3 = Fake::failing().arc();
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.attempt_acquire(1).unwrap_err(), child_error());
    assert_eq!(*released.lock().unwrap(), [2, 1]);
    assert_eq!((limiter1.refunds(), limiter2.refunds()), (1, 1));
}

// .NET: LeasesAreDisposedInReverseOrderWhenAcquireAsyncThrows (42)
#[tokio::test]
async fn leases_are_disposed_in_reverse_order_when_acquire_async_throws() {
    let released = ReleaseOrder::default();
    let limiter1 = Fake::new().records_release(1, &released).arc();
    let limiter2 = Fake::new().records_release(2, &released).arc();
    let limiter3 = Fake::failing().arc();
    let chain = chain![limiter1, limiter2, limiter3];

    assert_eq!(chain.acquire(1).await.unwrap_err(), child_error());
    assert_eq!(*released.lock().unwrap(), [2, 1]);
    assert_eq!((limiter1.refunds(), limiter2.refunds()), (1, 1));
}

// .NET: MetadataIsCombined (43)
// .NET's DateTime / TimeSpan / Exception / List<int> values become SystemTime / Duration /
// `Marker` / `Vec<i32>`; typed `get` replaces `TryGetMetadata` + `IsType`.
#[test]
fn metadata_is_combined() {
    let limiter1 = Fake::new().metadata(&META_1, SystemTime::UNIX_EPOCH).metadata(&META_2, Duration::ZERO).arc();
    let limiter2 = Fake::new().metadata(&META_3, Marker("3")).metadata(&META_4, Vec::new()).arc();
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);

    assert_eq!(sorted_names(&lease), ["1", "2", "3", "4"]);
    assert_eq!(lease.get(&META_1), Some(SystemTime::UNIX_EPOCH));
    assert_eq!(lease.get(&META_2), Some(Duration::ZERO));
    assert_eq!(lease.get(&META_3), Some(Marker("3")));
    assert_eq!(lease.get(&META_4), Some(Vec::new()));
}

// .NET: DuplicateMetadataUsesFirstOne (44)
// Both leases carry "1" with the same value type here (with typed `get`, different types would
// not compete), so "first one wins" is observable: the first lease's value is returned.
#[test]
fn duplicate_metadata_uses_first_one() {
    const DUP: MetadataName<Marker> = MetadataName::new("1");
    let limiter1 = Fake::new().metadata(&DUP, Marker("first")).metadata(&META_2, Duration::ZERO).arc();
    let limiter2 = Fake::new().metadata(&DUP, Marker("second")).metadata(&META_4, vec![1]).arc();
    let chain = chain![limiter1, limiter2];

    let lease = take(&chain, 1);

    assert_eq!(sorted_names(&lease), ["1", "2", "4"]);
    assert_eq!(lease.get(&DUP), Some(Marker("first")));
    assert_eq!(lease.get(&META_2), Some(Duration::ZERO));
    assert_eq!(lease.get(&META_4), Some(vec![1]));
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: the all-or-nothing chain
// ---------------------------------------------------------------------------------------------

/// With `first` ahead of a concurrency limiter whose permits are all held, every way of asking the
/// chain is refused and leaves `first`'s statistics exactly as they were.
#[track_caller]
fn assert_second_refusal_leaves_first_untouched(first: Arc<dyn RateLimiter>, permits: u32) {
    let second = concurrency(permits, OldestFirst, 0);
    let _held = take(&*second, permits);
    let chain = chain![first, second];
    let before = stats(&*first);

    let refused = refuse(&chain, permits);
    assert_eq!(stats(&*first), before, "attempt_acquire: the first limiter is refunded exactly");
    drop(refused);

    assert!(!acquire_now(&chain, permits).is_acquired());
    assert_eq!(stats(&*first), before, "acquire: the first limiter is refunded exactly");

    assert!(!chain.blocking_acquire(permits).unwrap().is_acquired());
    assert_eq!(stats(&*first), before, "blocking_acquire: the first limiter is refunded exactly");

    assert_eq!(stats(&*second).total_failed_leases, 3);
}

#[test]
fn refusal_by_second_limiter_refunds_token_bucket_exactly() {
    let clock = ManualClock::new();
    let first = bucket(&clock, 10, 1, secs(1), true, 0);
    // Some history first, so "exactly as before" is not just "the initial state".
    drop(take(&*first, 3));
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));

    assert_second_refusal_leaves_first_untouched(first.clone(), 2);
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));
    // The tokens really are back: all 7 can be taken.
    drop(take(&*first, 7));
}

#[test]
fn refusal_by_second_limiter_refunds_fixed_window_exactly() {
    let clock = ManualClock::new();
    let first = fixed_window(&clock, 10, secs(1));
    drop(take(&*first, 3));
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));

    assert_second_refusal_leaves_first_untouched(first.clone(), 2);
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));
    drop(take(&*first, 7));
}

#[test]
fn refusal_by_second_limiter_refunds_sliding_window_exactly() {
    let clock = ManualClock::new();
    let first = sliding_window(&clock, 10, secs(4), 4);
    drop(take(&*first, 3));
    clock.advance(millis(1500)); // a later segment than the first grant
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));

    assert_second_refusal_leaves_first_untouched(first.clone(), 2);
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1));
    drop(take(&*first, 7));
}

#[test]
fn refusal_by_second_limiter_refunds_concurrency_exactly() {
    let first = concurrency(4, OldestFirst, 0);
    let _held = take(&*first, 1);

    assert_second_refusal_leaves_first_untouched(first.clone(), 2);
    assert_eq!(stats(&*first), snapshot(3, 0, 0, 1));
}

// Spec §3.1: the chain stops at the first refusal; later limiters are not asked.
#[test]
fn later_limiters_are_not_asked_after_a_refusal() {
    let first = Fake::new().arc();
    let second = concurrency(1, OldestFirst, 0);
    let third = Fake::new().arc();
    let _held = take(&*second, 1);
    let chain = chain![first, second, third];

    drop(refuse(&chain, 1));
    assert!(!acquire_now(&chain, 1).is_acquired());
    assert!(!chain.blocking_acquire(1).unwrap().is_acquired());

    assert_eq!((first.attempts(), first.acquires(), first.blockings(), first.refunds()), (1, 1, 1, 3));
    assert_eq!((third.attempts(), third.acquires(), third.blockings()), (0, 0, 0));
}

// The refused lease is the refusing limiter's own: a token bucket's RETRY_AFTER reaches the caller,
// and the concurrency limiter ahead of it gets its permit and success back.
#[test]
fn refusal_returns_the_refusing_limiters_retry_after() {
    let clock = ManualClock::new();
    let first = concurrency(5, OldestFirst, 0);
    let second = bucket(&clock, 1, 1, secs(1), true, 0);
    let chain = chain![first, second];

    let lease = take(&chain, 1);
    let refused = refuse(&chain, 1);
    assert_eq!(refused.retry_after(), Some(secs(1)));
    assert_eq!(refused.get(&MetadataName::RETRY_AFTER), Some(secs(1)));
    assert!(names(&refused).contains(&"RETRY_AFTER"));
    assert_eq!(stats(&*first), snapshot(4, 0, 0, 1));
    drop(lease);
}

// A queued chain request dropped while the *second* limiter queues gives the first limiter's
// tokens (and its success) back.
#[test]
fn dropped_acquire_while_second_limiter_queues_refunds_first_limiters_tokens() {
    let clock = ManualClock::new();
    let first = bucket(&clock, 10, 1, secs(1), true, 0);
    let second = concurrency(3, OldestFirst, 4);
    let held = take(&*second, 3);
    let chain = chain![first, second];
    let before = stats(&*first);

    let waiting = enqueue(&chain, 3);
    assert_eq!(stats(&*first), snapshot(7, 0, 0, 1), "the bucket granted");
    assert_eq!(queued(&*second), 3, "the request waits in the second limiter");

    drop(waiting);
    assert_eq!(stats(&*first), before, "the bucket's tokens and success are back");
    assert_eq!(queued(&*second), 0);

    // Nothing left waiting takes the permit when it comes back.
    drop(held);
    assert_eq!(stats(&*second), snapshot(3, 0, 0, 1));
}

// The same through tokio: a timed-out (dropped) `.await` is the cancellation.
#[tokio::test]
async fn dropped_acquire_via_select_refunds_first_limiters_tokens() {
    let clock = ManualClock::new();
    let first = bucket(&clock, 10, 1, secs(1), true, 0);
    let second = concurrency(2, OldestFirst, 4);
    let _held = take(&*second, 2);
    let chain = chain![first, second];

    let mut fut = Box::pin(chain.acquire(2));
    tokio::select! {
        biased;
        _ = &mut fut => panic!("the second limiter's permits are held"),
        _ = std::future::ready(()) => {}
    }
    assert_eq!(available(&*first), 8);
    drop(fut);
    assert_eq!(stats(&*first), snapshot(10, 0, 0, 0));
}

// `chain.refund(combined)` refunds every inner limiter, as if the request had never happened.
#[test]
fn refund_of_a_combined_lease_refunds_every_inner_limiter() {
    let clock = ManualClock::new();
    let tokens = bucket(&clock, 10, 1, secs(1), true, 0);
    let window = fixed_window(&clock, 10, secs(1));
    let sliding = sliding_window(&clock, 10, secs(2), 2);
    let permits = concurrency(10, OldestFirst, 0);
    let chain = chain![tokens, window, sliding, permits];
    let limiters: [Arc<dyn RateLimiter>; 4] = [tokens.clone(), window.clone(), sliding.clone(), permits.clone()];
    let before: Vec<_> = limiters.iter().map(|l| stats(&**l)).collect();
    let chain_before = stats(&chain);

    let lease = take(&chain, 4);
    for l in &limiters {
        assert_eq!(available(&**l), 6);
    }
    chain.refund(lease);

    let after: Vec<_> = limiters.iter().map(|l| stats(&**l)).collect();
    assert_eq!(after, before);
    assert_eq!(stats(&chain), chain_before);
}

// A lease the chain did not make is not refunded by it (simply dropped: concurrency permits come
// back, tokens do not).
#[test]
fn refund_of_a_foreign_lease_is_just_dropped() {
    let clock = ManualClock::new();
    let tokens = bucket(&clock, 10, 1, secs(1), true, 0);
    let permits = concurrency(10, OldestFirst, 0);
    let chain_a = chain![tokens, permits];
    let chain_b = chain![tokens, permits];

    let lease = take(&chain_b, 4);
    chain_a.refund(lease);
    assert_eq!(stats(&*tokens), snapshot(6, 0, 0, 1), "tokens are spent: not chain_a's lease");
    assert_eq!(stats(&*permits), snapshot(10, 0, 0, 1), "dropped: the concurrency permits are back");

    let direct = take(&*tokens, 1);
    chain_a.refund(direct);
    assert_eq!(stats(&*tokens), snapshot(5, 0, 0, 2));
}

// Errors of real limiters propagate unchanged and refund the earlier grants: a permit count above
// the second limiter's limit, and a disposed second limiter.
#[test]
fn real_limiter_errors_propagate_and_refund_earlier_grants() {
    let clock = ManualClock::new();
    let first = bucket(&clock, 10, 1, secs(1), true, 0);
    let small = concurrency(2, OldestFirst, 0);
    let chain = chain![first, small];

    assert_eq!(chain.attempt_acquire(3).unwrap_err(), AcquireError::PermitLimitExceeded { requested: 3, limit: 2 });
    assert_eq!(acquire_err(&chain, 3), AcquireError::PermitLimitExceeded { requested: 3, limit: 2 });
    assert_eq!(chain.blocking_acquire(3).unwrap_err(), AcquireError::PermitLimitExceeded { requested: 3, limit: 2 });
    assert_eq!(stats(&*first), snapshot(10, 0, 0, 0));

    small.dispose();
    assert_eq!(chain.attempt_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(acquire_err(&chain, 1), AcquireError::Disposed);
    assert_eq!(chain.blocking_acquire(1).unwrap_err(), AcquireError::Disposed);
    assert_eq!(stats(&*first), snapshot(10, 0, 0, 0));
}

// Statistics when no child reports any: .NET's long.MaxValue available, zero counts.
#[test]
fn statistics_without_reporting_children() {
    let chain = chain![Fake::new().arc(), Fake::new().arc()];
    assert_eq!(stats(&chain), snapshot(i64::MAX as u64, 0, 0, 0));

    // Children that report none are skipped; the successful count is the last reporting one's.
    let reporting = Fake::new().with_stats(snapshot(5, 2, 3, 4)).arc();
    let chain = chain![reporting, Fake::new().arc()];
    assert_eq!(stats(&chain), snapshot(5, 2, 3, 4));
}

// Idle duration with real limiters: the smallest while every child is idle, `None` while one is
// in use.
#[test]
fn idle_duration_with_busy_and_idle_children() {
    let clock = ManualClock::new();
    let limiter1 = clocked_concurrency(&clock, 1);
    clock.advance(millis(5));
    let limiter2 = clocked_concurrency(&clock, 1);
    let chain = chain![limiter1, limiter2];
    clock.advance(millis(2));
    assert_eq!(chain.idle_duration(), Some(millis(2)));

    let lease = take(&*limiter1, 1);
    assert_eq!(chain.idle_duration(), None);
    drop(lease);
    assert_eq!(chain.idle_duration(), Some(Duration::ZERO));
}

// ---------------------------------------------------------------------------------------------
// Beyond .NET: the chain as a ReplenishingRateLimiter (.NET's 2026 ChainedReplenishingRateLimiter)
// ---------------------------------------------------------------------------------------------

#[test]
fn try_replenish_forwards_to_manual_token_buckets() {
    let clock = ManualClock::new();
    let manual1 = bucket(&clock, 2, 1, secs(1), false, 0);
    let manual2 = bucket(&clock, 2, 2, secs(2), false, 0);
    let permits = concurrency(5, OldestFirst, 0);
    let chain = chain![manual1, permits, manual2];
    assert!(chain.as_replenishing().is_some());

    drop(take(&chain, 2));
    assert_eq!((available(&*manual1), available(&*manual2)), (0, 0));

    clock.advance(secs(2));
    assert!(chain.try_replenish());
    assert_eq!(available(&*manual1), 2, "2 periods of 1 s at 1 token");
    assert_eq!(available(&*manual2), 2, "1 period of 2 s at 2 tokens");

    // Through the type-erased view too.
    drop(take(&chain, 2));
    clock.advance(secs(2));
    assert!(chain.as_replenishing().unwrap().try_replenish());
    assert_eq!((available(&*manual1), available(&*manual2)), (2, 2));
}

#[test]
fn try_replenish_is_true_if_any_child_replenished_and_asks_them_all() {
    let clock = ManualClock::new();
    let auto = bucket(&clock, 2, 1, secs(1), true, 0);
    let manual = bucket(&clock, 2, 1, secs(1), false, 0);
    let refuses = replenishing(secs(1), false, false);
    let accepts = replenishing(secs(1), false, true);

    // Only auto-replenishing and refusing children: false.
    let chain = chain![auto, refuses];
    assert!(!chain.try_replenish());
    assert_eq!(refuses.replenishes(), 1);

    // One manual bucket among them: true.
    let chain = chain![auto, manual];
    assert!(chain.try_replenish());

    // Every replenishing child is asked, even after one said true.
    let chain = chain![accepts, refuses, accepts];
    assert!(chain.try_replenish());
    assert_eq!((accepts.replenishes(), refuses.replenishes()), (2, 2));

    // No replenishing child at all: false.
    let chain = chain![concurrency(1, OldestFirst, 0), Fake::new().arc()];
    assert!(!chain.try_replenish());
}

#[test]
fn replenishment_period_is_the_smallest_positive_one() {
    let clock = ManualClock::new();
    let zero = replenishing(Duration::ZERO, false, true);
    let three = bucket(&clock, 1, 1, secs(3), false, 0);
    let five = replenishing(secs(5), false, true);
    let window = fixed_window(&clock, 1, secs(4));

    let chain = chain![five, zero, three, window, concurrency(1, OldestFirst, 0)];
    assert_eq!(chain.replenishment_period(), secs(3));

    let chain = chain![five, zero];
    assert_eq!(chain.replenishment_period(), secs(5));

    let chain = chain![zero, Fake::new().arc()];
    assert_eq!(chain.replenishment_period(), Duration::ZERO);

    let chain = chain![concurrency(1, OldestFirst, 0)];
    assert_eq!(chain.replenishment_period(), Duration::ZERO);
}

#[test]
fn is_auto_replenishing_iff_every_replenishing_child_is() {
    let clock = ManualClock::new();
    let auto1 = bucket(&clock, 1, 1, secs(1), true, 0);
    let auto2 = fixed_window(&clock, 1, secs(1));
    let manual = bucket(&clock, 1, 1, secs(1), false, 0);
    let permits = concurrency(1, OldestFirst, 0);

    assert!(chain![auto1, permits, auto2].is_auto_replenishing());
    assert!(!chain![auto1, manual].is_auto_replenishing());
    assert!(!chain![manual].is_auto_replenishing());
    assert!(chain![permits].is_auto_replenishing(), "no replenishing child: vacuously true");
    assert!(!chain![auto1, replenishing(secs(1), false, true)].is_auto_replenishing());
}

// A chain inside a chain: replenishment forwards through it.
#[test]
fn nested_chain_forwards_replenishment() {
    let clock = ManualClock::new();
    let manual = bucket(&clock, 1, 1, secs(1), false, 0);
    let inner = Arc::new(chain![manual]);
    let outer = chain![inner, concurrency(1, OldestFirst, 0)];

    drop(take(&outer, 1));
    assert_eq!(available(&*manual), 0);
    clock.advance(secs(1));
    assert!(outer.try_replenish());
    assert_eq!(available(&*manual), 1);
    assert_eq!(outer.replenishment_period(), secs(1));
    assert!(!outer.is_auto_replenishing());
}
