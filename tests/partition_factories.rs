//! Tests of the `RateLimitPartition` factories, ported from .NET's `RateLimiterPartitionTests.cs`
//! (7 tests).
//!
//! Conventions:
//! * .NET reads the partition's private `Factory` field by reflection and inspects the limiter it
//!   builds. Here the factory is private and the built limiter is not reachable, so every test
//!   builds a one-partition `PartitionedRateLimiter` on a `ManualClock` and observes the limiter
//!   through the partitioned limiter: statistics, and behaviour as the clock moves.
//! * `ReplenishingRateLimiter` properties (.NET: `IsAutoReplenishing`, `ReplenishmentPeriod`) are
//!   checked by behaviour: the permits come back by themselves (nobody calls `try_replenish`)
//!   exactly one period after they were taken, not a nanosecond earlier.
//! * Deliberate difference: the built-in factories force `auto_replenishment` on (API difference 6:
//!   no heartbeat), so the limiters they build are auto-replenishing where .NET's report
//!   `IsAutoReplenishing == false` (it forces manual mode and replenishes from its heartbeat).
//!   The generic `get` uses its limiter as given, manual mode included.
//! * No test sleeps in real time.

mod common;

use common::fake::given;
use common::poll_once;

use std::sync::Arc;
use std::time::Duration;

use tollgate::{
    Acquire, AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiterOptions, ManualClock,
    PartitionedRateLimiter, PartitionedRateLimiterOptions,
    QueueProcessingOrder::{NewestFirst, OldestFirst},
    RateLimitLease, RateLimitPartition, RateLimiter, RateLimiterStatistics, ReplenishingRateLimiter,
    SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

const NS: Duration = Duration::from_nanos(1);
const ONE_MINUTE: Duration = Duration::from_secs(60);
/// .NET's `long.MaxValue`: what a no-limiter reports as available.
const UNLIMITED: u64 = i64::MAX as u64;

/// A partitioned limiter whose only partition is `partition()` (the partitioner runs per call),
/// on `clock`.
fn one_partition(
    clock: &ManualClock,
    partition: impl Fn() -> RateLimitPartition<u32, ManualClock> + Send + Sync + 'static,
) -> PartitionedRateLimiter<()> {
    PartitionedRateLimiter::with_clock(
        move |_: &()| partition(),
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .expect("valid options")
}

fn stats(limiter: &PartitionedRateLimiter<()>) -> RateLimiterStatistics {
    limiter.statistics(&()).expect("built-in limiters report statistics")
}

fn available(limiter: &PartitionedRateLimiter<()>) -> u64 {
    stats(limiter).current_available_permits
}

#[track_caller]
fn now(acquire: Acquire<'_>) -> Result<RateLimitLease, AcquireError> {
    poll_once(&mut Box::pin(acquire)).expect("expected the acquire to complete on its first poll")
}

#[track_caller]
fn take(limiter: &PartitionedRateLimiter<()>, permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(&(), permits).expect("no error");
    assert!(lease.is_acquired(), "attempt_acquire({permits}) should succeed");
    lease
}

#[track_caller]
fn refuse(limiter: &PartitionedRateLimiter<()>, permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(&(), permits).expect("no error");
    assert!(!lease.is_acquired(), "attempt_acquire({permits}) should be refused");
    lease
}

/// .NET's `Create_TokenBucket` partition (1 token, 1 per minute, OldestFirst, queue 10), with
/// `auto_replenishment` as given in the options, alone in a partitioned limiter on `clock`.
fn one_minute_bucket(clock: &ManualClock, auto_replenishment: bool) -> PartitionedRateLimiter<()> {
    one_partition(clock, move || {
        RateLimitPartition::get_token_bucket_limiter(1, move |_| TokenBucketRateLimiterOptions {
            token_limit: 1,
            tokens_per_period: 1,
            replenishment_period: ONE_MINUTE,
            auto_replenishment,
            queue_processing_order: OldestFirst,
            queue_limit: 10,
        })
    })
}

/// The permit taken now comes back by itself exactly `period` later: refused until
/// `period − 1 ns`, granted at `period` (nobody calls `try_replenish`: auto-replenishing).
#[track_caller]
fn assert_comes_back_after(clock: &ManualClock, limiter: &PartitionedRateLimiter<()>, period: Duration) {
    drop(take(limiter, 1));
    assert_eq!(available(limiter), 0);
    clock.advance(period - NS);
    drop(refuse(limiter, 1));
    clock.advance(NS);
    assert_eq!(available(limiter), 1, "the permit is back one period after it was taken");
    drop(take(limiter, 1));
}

// .NET: Create_Concurrency (1)
#[test]
fn create_concurrency() {
    let clock = ManualClock::new();
    let options = ConcurrencyLimiterOptions { permit_limit: 10, queue_processing_order: OldestFirst, queue_limit: 10 };
    let partition = RateLimitPartition::<u32, ManualClock>::get_concurrency_limiter(1, move |_| options.clone());
    assert_eq!(*partition.key(), 1);
    let limiter = one_partition(&clock, move || {
        RateLimitPartition::get_concurrency_limiter(1, |_| ConcurrencyLimiterOptions {
            permit_limit: 10,
            queue_processing_order: OldestFirst,
            queue_limit: 10,
        })
    });

    assert_eq!(available(&limiter), 10);
    // A concurrency limiter: permits are held by leases and come back when they are dropped, not
    // with time.
    let leases: Vec<_> = (0..10).map(|_| take(&limiter, 1)).collect();
    assert_eq!(available(&limiter), 0);
    clock.advance(Duration::from_secs(3600));
    drop(refuse(&limiter, 1));
    drop(leases);
    assert_eq!(available(&limiter), 10);
}

// .NET: Create_TokenBucket (2)
// Deliberate difference: `auto_replenishment: true` is kept (forced on), so the bucket is
// auto-replenishing, where .NET's is not.
#[test]
fn create_token_bucket() {
    let clock = ManualClock::new();
    let limiter = one_minute_bucket(&clock, true);

    assert_eq!(available(&limiter), 1);
    // ReplenishmentPeriod 1 min, auto-replenishing.
    assert_comes_back_after(&clock, &limiter, ONE_MINUTE);
}

// .NET: Create_TokenBucket (2), with `auto_replenishment: false` in the options: forced on
// all the same (deliberate difference: .NET forces manual mode either way).
#[test]
fn create_token_bucket_forces_auto_replenishment() {
    let clock = ManualClock::new();
    let limiter = one_minute_bucket(&clock, false);

    assert_eq!(available(&limiter), 1);
    assert_comes_back_after(&clock, &limiter, ONE_MINUTE);
    // A queued request is granted at the next period by itself.
    let mut wait = Box::pin(limiter.acquire(&(), 1));
    assert!(poll_once(&mut wait).is_none(), "queued");
    clock.advance(ONE_MINUTE);
    let lease = poll_once(&mut wait).expect("granted at the period").expect("no error");
    assert!(lease.is_acquired());
}

// .NET: Create_NoLimiter (3)
#[test]
fn create_no_limiter() {
    let clock = ManualClock::new();
    let partition = RateLimitPartition::<u32, ManualClock>::get_no_limiter(1);
    assert_eq!(*partition.key(), 1);
    let limiter = one_partition(&clock, || RateLimitPartition::get_no_limiter(1));

    let before = available(&limiter);
    assert_eq!(before, UNLIMITED);
    let lease = take(&limiter, u32::MAX);
    assert_eq!(available(&limiter), before);
    drop(lease);
    drop(take(&limiter, u32::MAX));

    // Decided at once (.NET: the ValueTask is completed successfully).
    let lease = now(limiter.acquire(&(), u32::MAX)).expect("no error");
    assert!(lease.is_acquired());
    let lease = limiter.blocking_acquire(&(), u32::MAX).expect("no error");
    assert!(lease.is_acquired());
    assert_eq!(available(&limiter), UNLIMITED);
}

// .NET: NoLimiter_GetStatistics (4)
// .NET checks that each call returns a new object; the Rust analogue is that a snapshot does not
// change with later activity.
#[test]
fn no_limiter_statistics() {
    let clock = ManualClock::new();
    let limiter = one_partition(&clock, || RateLimitPartition::get_no_limiter(1));

    let first = stats(&limiter);
    assert_eq!(
        first,
        RateLimiterStatistics {
            current_available_permits: UNLIMITED,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: 0,
        }
    );

    for i in 0..134 {
        drop(take(&limiter, i));
    }
    let after_attempts = stats(&limiter);
    assert_eq!(after_attempts.total_successful_leases, 134);
    assert_eq!(first.total_successful_leases, 0, "a snapshot does not change");

    for _ in 0..165 {
        let lease = now(limiter.acquire(&(), u32::MAX)).expect("no error");
        assert!(lease.is_acquired());
    }
    let after_acquires = stats(&limiter);
    assert_eq!(
        after_acquires,
        RateLimiterStatistics {
            current_available_permits: UNLIMITED,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: 299,
        }
    );
    assert_eq!(after_attempts.total_successful_leases, 134);
}

// .NET: Create_AnyLimiter (5)
// `get` hands out exactly the factory's limiter: permits taken through the partitioned limiter are
// gone from the test's own handle, and the other way round. Its token bucket stays in manual mode
// (nothing is forced on a generic factory's limiter, and nothing replenishes it but
// `try_replenish`).
#[test]
fn create_any_limiter() {
    let clock = ManualClock::new();

    let concurrency = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: 1,
            queue_processing_order: NewestFirst,
            queue_limit: 10,
        })
        .unwrap(),
    );
    let handle = Arc::clone(&concurrency);
    let partition = RateLimitPartition::<u32, ManualClock>::get(1, move |_: &u32| Arc::clone(&handle));
    assert_eq!(*partition.key(), 1);
    let handle = Arc::clone(&concurrency);
    let limiter = one_partition(&clock, move || given(1, &handle));
    assert_eq!(available(&limiter), 1);
    let lease = take(&limiter, 1);
    assert_eq!(concurrency.statistics().unwrap().current_available_permits, 0);
    drop(lease);
    let own = concurrency.attempt_acquire(1).unwrap();
    assert!(own.is_acquired());
    assert_eq!(available(&limiter), 0);
    drop(own);

    let bucket = Arc::new(
        TokenBucketRateLimiter::with_clock(
            TokenBucketRateLimiterOptions {
                token_limit: 1,
                tokens_per_period: 1,
                replenishment_period: Duration::from_millis(100),
                auto_replenishment: false,
                queue_processing_order: NewestFirst,
                queue_limit: 10,
            },
            clock.clone(),
        )
        .unwrap(),
    );
    let handle = Arc::clone(&bucket);
    let limiter = one_partition(&clock, move || given(1, &handle));
    assert_eq!(available(&limiter), 1);
    drop(take(&limiter, 1));
    assert_eq!(bucket.statistics().unwrap().current_available_permits, 0);
    assert!(!bucket.is_auto_replenishing(), "the generic factory's limiter is used as given");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(available(&limiter), 0, "manual mode: time alone does not replenish");
    assert!(bucket.try_replenish());
    assert_eq!(available(&limiter), 1);
}

// .NET: Create_FixedWindow (6)
// Deliberate difference: auto-replenishing (.NET: IsAutoReplenishing false). ReplenishmentPeriod
// is the window (1 min).
#[test]
fn create_fixed_window() {
    for auto_replenishment in [true, false] {
        let clock = ManualClock::new();
        let limiter = one_partition(&clock, move || {
            RateLimitPartition::get_fixed_window_limiter(1, move |_| FixedWindowRateLimiterOptions {
                permit_limit: 1,
                window: ONE_MINUTE,
                auto_replenishment,
                queue_processing_order: OldestFirst,
                queue_limit: 10,
            })
        });

        assert_eq!(available(&limiter), 1);
        assert_comes_back_after(&clock, &limiter, ONE_MINUTE);
    }
}

// .NET: Create_SlidingWindow (7)
// Window 33 s in 3 segments: ReplenishmentPeriod 11 s, shown by a permit taken at 12 s (in the
// segment [11 s, 22 s)) coming back when that segment leaves the window, at 44 s (with one 33 s
// segment it would be back at 33 s; with a continuous window, at 45 s). Deliberate difference:
// `auto_replenishment: false` is forced on, so no try_replenish is needed.
#[test]
fn create_sliding_window() {
    let clock = ManualClock::new();
    let limiter = one_partition(&clock, || {
        RateLimitPartition::get_sliding_window_limiter(1, |_| SlidingWindowRateLimiterOptions {
            permit_limit: 1,
            window: Duration::from_secs(33),
            segments_per_window: 3,
            auto_replenishment: false,
            queue_processing_order: OldestFirst,
            queue_limit: 10,
        })
    });

    // Builds the limiter at t = 0 (its segments start then).
    assert_eq!(available(&limiter), 1);

    clock.advance(Duration::from_secs(12));
    drop(take(&limiter, 1));
    clock.advance(Duration::from_secs(21)); // t = 33 s
    let refused = refuse(&limiter, 1);
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(11)), "back at the 44 s boundary");
    clock.advance(Duration::from_secs(11) - NS);
    drop(refuse(&limiter, 1));
    clock.advance(NS); // t = 44 s
    assert_eq!(available(&limiter), 1);
    drop(take(&limiter, 1));
}

// Beyond .NET: the option factories receive the partition's key, and run once per limiter built.
#[test]
fn option_factories_receive_the_key() {
    let clock = ManualClock::new();
    let limiter = PartitionedRateLimiter::with_clock(
        |k: &u32| {
            RateLimitPartition::get_concurrency_limiter(*k, |k| ConcurrencyLimiterOptions {
                permit_limit: *k,
                ..Default::default()
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock,
    )
    .unwrap();
    for key in [1, 5, 9] {
        assert_eq!(limiter.statistics(&key).unwrap().current_available_permits, u64::from(key));
    }
}
