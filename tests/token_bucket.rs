//! Behavioural tests of `TokenBucketRateLimiter`, ported from .NET's
//! `System.Threading.RateLimiting` test suite (`TokenBucketRateLimiterTests` and the shared scenarios
//! of `BaseRateLimiterTests`), plus tests of the places where this crate's API deliberately differs.
//!
//! Conventions:
//! * Time is a `ManualClock` shared by the test and the limiter; no test sleeps in real time.
//! * .NET's reflection helper `Replenish(limiter, ms)` on a manual-mode limiter becomes
//!   `clock.advance(ms); limiter.try_replenish()` (the [`replenish`] helper). Most .NET tests use
//!   manual mode (`auto_replenishment: false`) and keep it here.
//! * Auto mode has no timer (API difference 3): tick *k* happens at construction + *k*·period, and
//!   advancing the `ManualClock` past a tick is all it takes. An async waiter sleeps on the clock
//!   and is polled again after `advance`; a thread in `blocking_acquire` wakes by itself.
//! * A queued request is a `Box::pin(limiter.acquire(n))` future; it joins the queue when first
//!   polled, so every such future is polled once right away and asserted pending.
//! * .NET's cancellation tokens become dropping the future (API difference 1).
//! * RetryAfter (API difference 4): in auto mode the exact wait until the same request succeeds;
//!   in manual mode the periods needed rounded **up** (.NET truncates) times the period.

mod common;

use common::limiter::*;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingWaker, poll_with, wait_until};
use tollgate::{
    Acquire, AcquireError, Clock, ManualClock, MetadataName,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, ReplenishingRateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

type Bucket = TokenBucketRateLimiter<ManualClock>;

fn options(
    token_limit: u32,
    tokens_per_period: u32,
    replenishment_period: Duration,
    auto_replenishment: bool,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit,
        tokens_per_period,
        replenishment_period,
        auto_replenishment,
        queue_processing_order: order,
        queue_limit,
    }
}

fn build(options: TokenBucketRateLimiterOptions) -> (Bucket, ManualClock) {
    let clock = ManualClock::new();
    let limiter = TokenBucketRateLimiter::with_clock(options, clock.clone()).expect("valid options");
    (limiter, clock)
}

/// A manual-mode bucket (.NET `autoReplenishment: false`) on a fresh `ManualClock` reading zero.
fn manual(
    token_limit: u32,
    tokens_per_period: u32,
    period: Duration,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> (Bucket, ManualClock) {
    build(options(token_limit, tokens_per_period, period, false, order, queue_limit))
}

/// An auto-mode bucket on a fresh `ManualClock` reading zero: tick *k* is at *k*·`period`.
fn auto(
    token_limit: u32,
    tokens_per_period: u32,
    period: Duration,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> (Bucket, ManualClock) {
    build(options(token_limit, tokens_per_period, period, true, order, queue_limit))
}

/// .NET's `Replenish(limiter, ms)` for a manual-mode limiter: time passes, then `TryReplenish`.
#[track_caller]
fn replenish(limiter: &Bucket, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    assert!(limiter.try_replenish(), "try_replenish returns true in manual mode");
}

// ---------------------------------------------------------------------------------------------
// §5.1 rows 1–41 (BaseRateLimiterTests scenarios, TokenBucket column)
// ---------------------------------------------------------------------------------------------

// .NET: CanAcquireResource (row 1)
#[test]
fn can_acquire_resource() {
    let (limiter, clock) = manual(1, 1, MS, NewestFirst, 1);
    let lease = limiter.attempt_acquire(1).unwrap();
    assert!(lease.is_acquired());
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    // Returning a token-bucket lease gives nothing back.
    drop(lease);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    replenish(&limiter, &clock, MS);

    assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
}

// .NET: InvalidOptionsThrows (row 2)
// Differences: an `OptionsError` is returned instead of an ArgumentException. Negative values are
// unrepresentable (`u32` counts and `Duration`, difference 2), so .NET's `-1`, `MinValue` and
// `-1 ms` cases collapse onto 0 / `Duration::ZERO`, .NET's `<= 0` boundary; `queue_limit` has no
// invalid value at all.
#[test]
fn invalid_options_are_rejected() {
    let cases = [
        (options(0, 1, secs(120), false, NewestFirst, 1), "token_limit", "token_limit must be greater than 0"),
        (
            options(1, 0, secs(120), false, NewestFirst, 1),
            "tokens_per_period",
            "tokens_per_period must be greater than 0",
        ),
        (
            options(1, 1, Duration::ZERO, false, NewestFirst, 1),
            "replenishment_period",
            "replenishment_period must be greater than 0",
        ),
        (
            options(1, 1, Duration::ZERO, true, OldestFirst, 0),
            "replenishment_period",
            "replenishment_period must be greater than 0",
        ),
    ];
    for (options, field, text) in cases {
        let err = TokenBucketRateLimiter::with_clock(options.clone(), ManualClock::new())
            .expect_err("invalid options must be rejected");
        assert_eq!(err.field, field);
        assert_eq!(err.to_string(), text);
        assert_eq!(options.validate(), Err(err.clone()));
        assert_eq!(TokenBucketRateLimiter::new(options).err(), Some(err));
    }

    // The smallest queue limit, 0, is valid (.NET rejects only negative ones).
    let (limiter, _clock) = manual(1, 1, secs(120), NewestFirst, 0);
    let _lease = take(&limiter, 1);
    let rejected = acquire_now(&limiter, 1);
    assert!(!rejected.is_acquired());
}

// .NET: CanAcquireResourceAsync (row 3)
#[tokio::test]
async fn can_acquire_resource_async() {
    let (limiter, clock) = manual(1, 1, MS, NewestFirst, 1);
    let lease = limiter.acquire(1).await.unwrap();
    assert!(lease.is_acquired());

    let mut wait = enqueue(&limiter, 1);

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsOldest (row 4)
#[test]
fn acquire_queues_and_grabs_oldest() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 2);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);
    replenish(&limiter, &clock, MS);

    let lease = ready_acquired(&mut wait1);
    assert_pending(&mut wait2);

    drop(lease);
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait2);
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsNewest (row 5)
#[test]
fn acquire_queues_and_grabs_newest() {
    let (limiter, clock) = manual(2, 1, MS, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);
    replenish(&limiter, &clock, MS);

    // The second (newest) request completes first; the older one needs 2 and only 1 came back.
    let _lease2 = ready_acquired(&mut wait2);
    assert_pending(&mut wait1);
    assert_eq!(available(&limiter), 0);

    replenish(&limiter, &clock, MS);
    assert_pending(&mut wait1);
    assert_eq!(available(&limiter), 1);
    replenish(&limiter, &clock, MS);

    let _lease1 = ready_acquired(&mut wait1);
    assert_eq!(available(&limiter), 0);
}

// .NET: FailsWhenQueuingMoreThanLimit_OldestFirst (row 6)
// RetryAfter: 1 queued + 1 requested − 0 available = 2 tokens at 1 per 1 ms period: 2 ms, as in .NET.
#[test]
fn fails_when_queuing_more_than_limit_oldest_first() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(failed.retry_after(), Some(millis(2)));
    assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(millis(2)));

    // OldestFirst evicts nothing: the queued request is still waiting.
    assert_pending(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (1, 1));
}

// .NET: DropsOldestWhenQueuingMoreThanLimit_NewestFirst (row 7)
#[test]
fn drops_oldest_when_queuing_more_than_limit_newest_first() {
    let (limiter, clock) = manual(1, 1, MS, NewestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let mut wait2 = enqueue(&limiter, 1);
    let evicted = ready_failed(&mut wait);
    // An evicted request gets a plain failed lease: no RetryAfter.
    assert_eq!(evicted.retry_after(), None);
    assert_eq!(names(&evicted), vec!["RETRY_AFTER"]);
    assert_pending(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (1, 1));

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait2);
}

// .NET: DropsMultipleOldestWhenQueuingMoreThanLimit_NewestFirst (row 8)
#[test]
fn drops_multiple_oldest_when_queuing_more_than_limit_newest_first() {
    let (limiter, clock) = manual(2, 1, MS, NewestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    let mut wait3 = enqueue(&limiter, 2);
    let _failed1 = ready_failed(&mut wait);
    let _failed2 = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 2));

    replenish(&limiter, &clock, MS);
    assert_pending(&mut wait3);
    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait3);
}

// .NET: DropsRequestedLeaseIfPermitCountGreaterThanQueueLimitAndNoAvailability_NewestFirst (row 9)
#[test]
fn drops_requested_lease_if_permit_count_greater_than_queue_limit_newest_first() {
    let (limiter, clock) = manual(2, 1, MS, NewestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    // 2 > queue_limit: fails at once, and nothing is evicted for it. A queue-full failure carries
    // a RetryAfter: (1 queued + 2 − 0) tokens at 1 per period = 3 periods.
    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(millis(3)));
    assert_pending(&mut wait);
    assert_eq!(queued(&limiter), 1);

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
}

// .NET: QueueAvailableAfterQueueLimitHitAndResources_BecomeAvailable (row 10)
#[test]
fn queue_available_after_queue_limit_hit_and_resources_become_available() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let _failed = ready_failed(&mut Box::pin(limiter.acquire(1)));

    replenish(&limiter, &clock, MS);
    let _lease = ready_acquired(&mut wait);

    let mut wait = enqueue(&limiter, 1);

    replenish(&limiter, &clock, MS);
    let _lease = ready_acquired(&mut wait);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow (row 11)
// int.MaxValue becomes u32::MAX (difference 2) for token_limit, tokens_per_period and queue_limit.
#[test]
fn large_acquires_and_queues_do_not_integer_overflow() {
    let (limiter, clock) = manual(u32::MAX, u32::MAX, MS, NewestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    assert_eq!(available(&limiter), 0);

    let mut wait = enqueue(&limiter, 3);
    let mut wait2 = enqueue(&limiter, u32::MAX);

    let _evicted = ready_failed(&mut wait);
    assert_pending(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (u64::from(u32::MAX), 1));

    replenish(&limiter, &clock, MS);

    let _big = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 2));
}

// .NET: ThrowsWhenAcquiringMoreThanLimit (row 12)
// Difference: `Err(AcquireError::PermitLimitExceeded)` instead of ArgumentOutOfRangeException.
#[test]
fn errors_when_acquiring_more_than_limit() {
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let err = limiter.attempt_acquire(2).expect_err("2 > token_limit");
    assert_eq!(err, AcquireError::PermitLimitExceeded { requested: 2, limit: 1 });
    assert_eq!(err.to_string(), "2 permit(s) exceeds the permit limit of 1");
    // An error is not a failed lease, and nothing was taken.
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 0));
}

// .NET: ThrowsWhenWaitingForMoreThanLimit (row 13)
// Difference: the future completes with `Err(PermitLimitExceeded)` on its first poll (and
// `blocking_acquire` returns it) instead of an ArgumentOutOfRangeException.
#[test]
fn errors_when_waiting_for_more_than_limit() {
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let expected = AcquireError::PermitLimitExceeded { requested: 2, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(2))), expected);
    assert_eq!(limiter.blocking_acquire(2).err(), Some(expected));
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 0));
}

// .NET: ThrowsWhenAcquiringLessThanZero (row 14)
// Difference 2: permit counts are u32, so a negative count cannot be passed at all — the signature
// below pins that at compile time. At run time, the nearest mistake (a negative i32 wrapped into a
// u32) must be refused as exceeding the limit, never granted.
#[test]
fn acquiring_less_than_zero_is_unrepresentable() {
    let _: fn(&Bucket, u32) -> Result<RateLimitLease, AcquireError> = <Bucket as RateLimiter>::attempt_acquire;
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let wrapped = (-1i32).cast_unsigned();
    assert_eq!(
        limiter.attempt_acquire(wrapped).err(),
        Some(AcquireError::PermitLimitExceeded { requested: u32::MAX, limit: 1 })
    );
    assert_eq!(available(&limiter), 1);
}

// .NET: ThrowsWhenWaitingForLessThanZero (row 15)
// Difference 2, as for row 14, for `acquire` and `blocking_acquire`.
#[test]
fn waiting_for_less_than_zero_is_unrepresentable() {
    let _: fn(&Bucket, u32) -> Acquire<'_> = <Bucket as RateLimiter>::acquire;
    let _: fn(&Bucket, u32) -> Result<RateLimitLease, AcquireError> = <Bucket as RateLimiter>::blocking_acquire;
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let wrapped = (-1i32).cast_unsigned();
    let expected = AcquireError::PermitLimitExceeded { requested: u32::MAX, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(wrapped))), expected);
    assert_eq!(limiter.blocking_acquire(wrapped).err(), Some(expected));
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 0));
}

// .NET: AcquireZero_WithAvailability (row 16)
#[test]
fn acquire_zero_with_availability() {
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let lease = limiter.attempt_acquire(0).unwrap();
    assert!(lease.is_acquired());
    // A zero-permit lease takes nothing.
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireZero_WithoutAvailability (row 17)
#[test]
fn acquire_zero_without_availability() {
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let lease2 = limiter.attempt_acquire(0).unwrap();
    assert!(!lease2.is_acquired());
    // A refused zero-permit attempt carries a RetryAfter too (one period here).
    assert_eq!(lease2.retry_after(), Some(MS));
    drop(lease2); // harmless: gives nothing back
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 1));
}

// .NET: AcquireAsyncZero_WithAvailability (row 18)
#[tokio::test]
async fn acquire_async_zero_with_availability() {
    let (limiter, _clock) = manual(1, 1, MS, NewestFirst, 1);
    let lease = limiter.acquire(0).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireAsyncZero_WithoutAvailabilityWaitsForAvailability (row 19)
#[test]
fn acquire_async_zero_without_availability_waits_for_availability() {
    let (limiter, clock) = manual(1, 1, MS, NewestFirst, 1);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait = enqueue(&limiter, 0);
    // A zero-permit request adds nothing to the queued count.
    assert_eq!(queued(&limiter), 0);

    drop(lease);
    replenish(&limiter, &clock, MS);

    let _lease2 = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: CanDequeueMultipleResourcesAtOnce (row 20)
#[test]
fn can_dequeue_multiple_resources_at_once() {
    let (limiter, clock) = manual(2, 2, MS, OldestFirst, 2);
    let _lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    replenish(&limiter, &clock, MS);

    let _lease1 = ready_acquired(&mut wait1);
    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: CanCancelAcquireAsyncAfterQueuing (row 21)
// Difference 1: cancelling is dropping the queued future (no token, no TaskCanceledException).
#[test]
fn can_cancel_acquire_after_queuing() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    drop(wait);
    // The queued count is restored at once; cancellation is not a failed lease.
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));

    replenish(&limiter, &clock, MS);

    assert_eq!(available(&limiter), 1);
}

// .NET: CanFillQueueWithOldestFirstAfterCancelingFirstQueuedRequestManually (row 22)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_oldest_first_after_cancelling_first_queued_request() {
    let (limiter, clock) = manual(3, 3, millis(3), OldestFirst, 3);
    let _lease = take(&limiter, 3);

    let cancelled = enqueue(&limiter, 2);
    drop(cancelled);

    let mut wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    // 1 ms of a 3 ms period at 3 tokens per period: exactly one token.
    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
}

// .NET: CanFillQueueWithNewestFirstAfterCancelingQueuedRequestWithAnotherQueuedRequest (row 23)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_newest_first_after_cancelling_queued_request() {
    let (limiter, clock) = manual(2, 2, MS, NewestFirst, 2);
    let _lease = take(&limiter, 2);

    let wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);
    drop(wait);
    assert_eq!(queued(&limiter), 1);

    let mut wait3 = enqueue(&limiter, 2);
    // wait2 is evicted to make room (the cancelled request is not counted a second time).
    let _evicted = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 1));

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait3);
    assert_eq!(queued(&limiter), 0);
}

// .NET: CanDisposeAfterCancelingQueuedRequest (row 24)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_dispose_after_cancelling_queued_request() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    limiter.dispose();

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));
}

// .NET: CanCancelAcquireAsyncBeforeQueuing (row 25)
// Difference 1: the analogue of a pre-cancelled token is dropping the future before its first poll:
// it never joins the queue and never takes tokens.
#[test]
fn can_cancel_acquire_before_queuing() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let never_polled = Box::pin(limiter.acquire(1));
    assert_eq!(queued(&limiter), 0);
    drop(never_polled);

    replenish(&limiter, &clock, MS);

    assert_eq!(available(&limiter), 1);
    // Not even with the token available does an unpolled future take it.
    let never_polled = limiter.acquire(1);
    drop(never_polled);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: CancelUpdatesQueueLimit (row 26)
// Difference 1: cancelling is dropping the future.
#[test]
fn cancel_updates_queue_limit() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    // The freed queue space is usable at once: this request queues instead of failing.
    let mut wait = enqueue(&limiter, 1);

    replenish(&limiter, &clock, MS);
    let _lease = ready_acquired(&mut wait);
}

// .NET: NoMetadataOnAcquiredLease (row 27)
#[test]
fn no_metadata_on_acquired_lease() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(lease.get(&MetadataName::RETRY_AFTER), None);
    assert_eq!(lease.retry_after(), None);
    assert_eq!(lease.reason_phrase(), None);
}

// .NET: MetadataNamesContainsAllMetadata (row 28)
// Also checked on the other kinds of lease: the name list never changes (as in .NET).
#[test]
fn metadata_names_contains_all_metadata() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(names(&lease), vec!["RETRY_AFTER"]);

    let refused = refuse(&limiter, 1);
    assert_eq!(names(&refused), vec!["RETRY_AFTER"]);
    let refused_zero = refuse(&limiter, 0);
    assert_eq!(names(&refused_zero), vec!["RETRY_AFTER"]);

    let _wait = enqueue(&limiter, 1);
    let queue_full = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(names(&queue_full), vec!["RETRY_AFTER"]);
}

// .NET: DisposeReleasesQueuedAcquires (row 29)
// Difference: errors after dispose are `Err(AcquireError::Disposed)` instead of ObjectDisposedException.
#[test]
fn dispose_releases_queued_acquires() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);
    let mut wait3 = enqueue(&limiter, 1);

    limiter.dispose();

    for wait in [&mut wait1, &mut wait2, &mut wait3] {
        let failed = ready_failed(wait);
        // Disposal failures carry no RetryAfter (there is nothing to retry).
        assert_eq!(failed.retry_after(), None);
        assert_eq!(names(&failed), vec!["RETRY_AFTER"]);
    }
    // Disposal failures are not counted as failed leases.
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(1))), AcquireError::Disposed);
}

// .NET: DisposeAsyncReleasesQueuedAcquires (row 30)
// Difference: there is no separate async dispose. The analogue exercises the other ways to reach
// `dispose`: through an `Arc<dyn ReplenishingRateLimiter>` trait object, twice (dispose is
// idempotent).
#[test]
fn dispose_through_trait_object_twice_releases_queued_acquires() {
    let clock = ManualClock::new();
    let limiter: Arc<dyn ReplenishingRateLimiter> =
        Arc::new(TokenBucketRateLimiter::with_clock(options(1, 1, MS, false, OldestFirst, 3), clock.clone()).unwrap());
    let _lease = take(&*limiter, 1);

    let mut wait1 = enqueue(&*limiter, 1);
    let mut wait2 = enqueue(&*limiter, 1);
    let mut wait3 = enqueue(&*limiter, 1);

    limiter.dispose();
    limiter.dispose();

    let _failed1 = ready_failed(&mut wait1);
    let _failed2 = ready_failed(&mut wait2);
    let _failed3 = ready_failed(&mut wait3);

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(1))), AcquireError::Disposed);
    assert_eq!(limiter.blocking_acquire(1).err(), Some(AcquireError::Disposed));
    // The replenishing side stays callable: manual mode answers true and does nothing.
    assert!(limiter.try_replenish());
}

// .NET: CanAcquireResourcesWithAcquireAsyncWithQueuedItemsIfNewestFirst (row 31)
#[test]
fn can_acquire_with_acquire_with_queued_items_if_newest_first() {
    let (limiter, clock) = manual(2, 2, MS, NewestFirst, 2);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    assert_eq!(available(&limiter), 1);

    // NewestFirst lets a new request that fits bypass the queue.
    let _lease2 = ready_acquired(&mut Box::pin(limiter.acquire(1)));
    assert_pending(&mut wait);

    replenish(&limiter, &clock, MS);

    let _lease3 = ready_acquired(&mut wait);
}

// .NET: CannotAcquireResourcesWithAcquireAsyncWithQueuedItemsIfOldestFirst (row 32)
#[test]
fn cannot_acquire_with_acquire_with_queued_items_if_oldest_first() {
    let (limiter, clock) = manual(2, 2, MS, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    // One token is free, but OldestFirst makes this request queue behind `wait`.
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    // 1 + 2 capped at 2: `wait` takes both.
    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
    assert_pending(&mut wait2);
    assert_eq!(available(&limiter), 0);

    replenish(&limiter, &clock, MS);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(available(&limiter), 1);
}

// .NET: CanAcquireResourcesWithAcquireWithQueuedItemsIfNewestFirst (row 33)
#[test]
fn can_acquire_with_attempt_acquire_with_queued_items_if_newest_first() {
    let (limiter, clock) = manual(2, 2, MS, NewestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);

    let _lease2 = take(&limiter, 1);
    assert_pending(&mut wait);

    replenish(&limiter, &clock, MS);

    let _lease3 = ready_acquired(&mut wait);
}

// .NET: CannotAcquireResourcesWithAcquireWithQueuedItemsIfOldestFirst (row 34)
#[test]
fn cannot_acquire_with_attempt_acquire_with_queued_items_if_oldest_first() {
    let (limiter, clock) = manual(2, 2, MS, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    let refused = refuse(&limiter, 1);
    assert!(refused.retry_after().is_some());

    replenish(&limiter, &clock, MS);

    let _lease2 = ready_acquired(&mut wait);
}

// .NET: NullIdleDurationWhenActive (row 35)
#[test]
fn null_idle_duration_when_active() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);

    let (limiter, _clock) = auto(1, 1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
}

// .NET: IdleDurationUpdatesWhenIdle (row 36) [T]
// Uses a ManualClock instead of a real 15 ms delay, so the durations are exact.
#[test]
fn idle_duration_updates_when_idle() {
    for (limiter, clock) in [manual(1, 1, MS, OldestFirst, 1), auto(1, 1, MS, OldestFirst, 1)] {
        let previous = limiter.idle_duration().expect("a new limiter is idle");
        assert_eq!(previous, Duration::ZERO);

        clock.advance(millis(15));

        let now = limiter.idle_duration().expect("still idle");
        assert!(now > previous);
        assert_eq!(now, millis(15));
    }
}

// .NET: IdleDurationUpdatesWhenChangingFromActive (row 37)
#[test]
fn idle_duration_updates_when_changing_from_active() {
    let (limiter, clock) = manual(1, 1, MS, OldestFirst, 1);
    clock.advance(millis(100));
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);

    replenish(&limiter, &clock, MS);

    // Idle since the replenishment that filled the bucket, not since construction.
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
    clock.advance(millis(7));
    assert_eq!(limiter.idle_duration(), Some(millis(7)));
}

// .NET: GetStatisticsReturnsNewInstances (row 38)
// A Rust snapshot is a value: it cannot change after it is taken, and a later one differs.
#[test]
fn statistics_returns_new_snapshots() {
    let (limiter, _clock) = manual(1, 1, MS, OldestFirst, 1);
    let stats1 = stats(&limiter);
    assert_eq!(stats1.current_available_permits, 1);

    let _lease = take(&limiter, 1);

    let stats2 = stats(&limiter);
    assert_eq!(stats1.current_available_permits, 1);
    assert_eq!(stats2.current_available_permits, 0);
    assert_ne!(stats1, stats2);
}

// .NET: GetStatisticsHasCorrectValues (row 39)
#[test]
fn statistics_has_correct_values() {
    let (limiter, clock) = manual(100, 30, MS, OldestFirst, 50);
    assert_eq!(stats(&limiter), snapshot(100, 0, 0, 0));

    // Success from an attempt with tokens available.
    let _lease1 = take(&limiter, 60);
    assert_eq!(stats(&limiter), snapshot(40, 0, 0, 1));

    // Queued.
    let mut lease2_wait = enqueue(&limiter, 50);
    assert_eq!(stats(&limiter), snapshot(40, 50, 0, 1));

    // Failure from acquire (queue full).
    let _lease3 = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(stats(&limiter), snapshot(40, 50, 1, 1));

    // Failure from attempt.
    let _refused = refuse(&limiter, 100);
    assert_eq!(stats(&limiter), snapshot(40, 50, 2, 1));

    // 40 + 30 = 70, of which the queued request takes 50; counted when granted.
    replenish(&limiter, &clock, MS);
    let _lease2 = ready_acquired(&mut lease2_wait);
    assert_eq!(stats(&limiter), snapshot(20, 0, 2, 2));
}

// .NET: GetStatisticsWithZeroPermitCount (row 40)
#[tokio::test]
async fn statistics_with_zero_permit_count() {
    let (limiter, _clock) = manual(100, 30, MS, OldestFirst, 50);
    let lease = limiter.attempt_acquire(0).unwrap();
    assert!(lease.is_acquired());
    assert_eq!(stats(&limiter).total_successful_leases, 1);
    assert_eq!(available(&limiter), 100);

    let lease = limiter.acquire(0).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(stats(&limiter).total_successful_leases, 2);
    assert_eq!(available(&limiter), 100);

    let _lease = take(&limiter, 100);
    assert_eq!(stats(&limiter).total_successful_leases, 3);
    assert_eq!(available(&limiter), 0);

    let _lease2 = refuse(&limiter, 0);
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 3));
}

// .NET: GetStatisticsThrowsAfterDispose (row 41)
// Difference 7: statistics stay readable after dispose (.NET throws ObjectDisposedException). They
// keep the totals; the queue is empty because disposal failed every waiter (not counted as failures).
#[test]
fn statistics_readable_after_dispose() {
    let (limiter, _clock) = manual(2, 1, MS, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    let _refused = refuse(&limiter, 2);
    let mut wait = enqueue(&limiter, 2);

    limiter.dispose();
    let _failed = ready_failed(&mut wait);

    let after = limiter.statistics().expect("statistics stay readable after dispose");
    assert_eq!(after, snapshot(1, 0, 1, 1));
    assert_eq!(limiter.statistics(), Some(after));
}

// ---------------------------------------------------------------------------------------------
// §5.3 TokenBucketRateLimiterTests specific (13)
// ---------------------------------------------------------------------------------------------

// .NET: RetryMetadataOnFailedWaitAsync
// Manual mode (as in .NET): (2 requested − 0 available) tokens at 1 per 20 s period = 40 s.
#[test]
fn retry_metadata_on_failed_wait() {
    let (limiter, _clock) = manual(2, 1, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));

    // By a name built from the string (the analogue of .NET's string overload) ...
    let by_string: MetadataName<Duration> = MetadataName::new("RETRY_AFTER");
    assert_eq!(failed.get(&by_string), Some(secs(40)));
    // ... and by the typed constant.
    assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(secs(40)));
    assert_eq!(failed.retry_after(), Some(secs(40)));
    assert_eq!(names(&failed), vec!["RETRY_AFTER"]);
    // Asking with the wrong value type yields nothing (.NET would throw InvalidCastException).
    let wrong_type: MetadataName<String> = MetadataName::new("RETRY_AFTER");
    assert_eq!(failed.get(&wrong_type), None);
    assert_eq!(failed.reason_phrase(), None);
}

// .NET: CorrectRetryMetadataWithQueuedItem
// Manual mode: (1 queued + 2 requested − 0) = 3 tokens at 1 per period: 60 s, as in .NET.
#[test]
fn correct_retry_metadata_with_queued_item() {
    let (limiter, _clock) = manual(2, 1, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(secs(60)));
    assert_pending(&mut wait);
}

// .NET: CorrectRetryMetadataWithMultipleTokensPerPeriod
// API rule 4 changes the number: 3 tokens at 2 per period is 1.5 periods, rounded UP to 2 periods
// (40 s) in manual mode; .NET truncates to 1 period (20 s).
#[test]
fn correct_retry_metadata_with_multiple_tokens_per_period() {
    let (limiter, _clock) = manual(2, 2, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(secs(40)));
    assert_pending(&mut wait);
}

// .NET: CorrectRetryMetadataWithLargeTokensPerPeriod
// Manual mode: 3 tokens at 100 per period is less than one period: at least one period, 20 s.
#[test]
fn correct_retry_metadata_with_large_tokens_per_period() {
    let (limiter, _clock) = manual(2, 100, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(secs(20)));
    assert_pending(&mut wait);
}

// .NET: CorrectRetryMetadataWithNonZeroAvailableItems
// Manual mode: (3 requested − 1 available) = 2 tokens at 1 per period: 40 s, as in .NET.
#[test]
fn correct_retry_metadata_with_non_zero_available_items() {
    let (limiter, _clock) = manual(3, 1, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(3)));
    assert_eq!(failed.retry_after(), Some(secs(40)));
}

// .NET: ReplenishHonorsTokensPerPeriod
#[test]
fn replenish_honors_tokens_per_period() {
    let (limiter, clock) = manual(7, 3, MS, OldestFirst, 1);
    let _lease = take(&limiter, 5);
    let _refused = refuse(&limiter, 3);
    assert_eq!(available(&limiter), 2);

    replenish(&limiter, &clock, MS);
    assert_eq!(available(&limiter), 5);

    // 5 + 3 capped at the limit.
    replenish(&limiter, &clock, MS);
    assert_eq!(available(&limiter), 7);
}

// .NET: TryReplenishWithAllTokensAvailable_Noops [T]
// The 100 ms real delay becomes a ManualClock advance.
#[test]
fn try_replenish_with_all_tokens_available_noops() {
    let (limiter, clock) = manual(2, 1, MS, OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    clock.advance(millis(100));
    assert!(limiter.try_replenish());
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 0));
}

// .NET: TryReplenishWithAutoReplenish_ReturnsFalse
#[test]
fn try_replenish_with_auto_replenish_returns_false() {
    let (limiter, clock) = auto(2, 1, secs(1), OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 2);

    // Nor does it add anything to a drained bucket between ticks.
    let _lease = take(&limiter, 2);
    clock.advance(millis(999));
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: AutoReplenish_ReplenishesTokens [T]
// Difference 3: no timer; advancing the ManualClock to the first tick (1 s) grants the waiter.
#[test]
fn auto_replenish_replenishes_tokens() {
    let (limiter, clock) = auto(2, 1, secs(1), OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 2);

    let mut wait = enqueue(&limiter, 1);

    clock.advance(secs(1) - NS);
    assert_pending(&mut wait);

    clock.advance(NS);
    let _lease = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: ReplenishWorksWithTicksOverInt32Max [R]
// The .NET helper fakes time relative to the last replenishment; here the clock really moves
// uint.MaxValue ms (49.7 days). TryReplenish on the full bucket is a no-op that keeps the last
// replenishment time, so (.NET §2.3 "Consequence") the next TryReplenish after draining refills the
// whole bucket at once: the large elapsed time neither wraps nor overflows. From there the .NET
// steps follow: 2 ms = 1 token, then 1 ms = half a token that is kept and completed 2 ms later.
#[test]
fn replenish_works_with_ticks_over_int32_max() {
    let (limiter, clock) = manual(10, 1, millis(2), OldestFirst, 2);
    replenish(&limiter, &clock, millis(u64::from(u32::MAX)));
    assert_eq!(available(&limiter), 10);

    let _lease = take(&limiter, 10);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 10, "49.7 days since the last non-full replenishment refill the bucket");

    let _lease = take(&limiter, 10);
    let mut wait = enqueue(&limiter, 1);
    replenish(&limiter, &clock, millis(2));
    let _lease = ready_acquired(&mut wait);

    let mut wait = enqueue(&limiter, 1);
    replenish(&limiter, &clock, MS);
    // Half a token: not enough for 1 permit.
    assert_pending(&mut wait);
    assert_eq!(available(&limiter), 0);

    replenish(&limiter, &clock, millis(2));
    let _lease = ready_acquired(&mut wait);
    // 0.5 + 1 − 1: half a token is left (shown truncated).
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, MS);
    assert_eq!(available(&limiter), 1);
}

// .NET: ReplenishingRateLimiterPropertiesHaveCorrectValues
#[test]
fn replenishing_rate_limiter_properties_have_correct_values() {
    let (limiter, _clock) = auto(1, 1, secs(60), OldestFirst, 1);
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(60));

    let (limiter, _clock) = manual(1, 1, secs(2), OldestFirst, 1);
    assert!(!limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(2));

    // Through the trait object too; sub-millisecond periods are kept exactly (no timer truncation).
    let limiter: Arc<dyn ReplenishingRateLimiter> = Arc::new(
        TokenBucketRateLimiter::new(options(1, 1, Duration::from_nanos(1_500), true, OldestFirst, 0)).unwrap(),
    );
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(1_500));
}

// .NET: AutoReplenishIgnoresTimerJitter [R]
// Difference 3 changes what "jitter" means: there is no timer to fire early or late; ticks are at
// exactly k·period from construction, whatever chunks the clock moves in. .NET's timer fired at
// 10 min − 1 ms and added a token then (8); here that instant is before tick 1, so 7 tokens, and
// tick 1 adds exactly one token at 10 min. After 20 min in uneven steps: exactly two ticks, 9.
#[test]
fn auto_replenish_ignores_timer_jitter() {
    let period = secs(600);
    let (limiter, clock) = auto(10, 1, period, OldestFirst, 1);
    let _lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 7);

    clock.advance(period - MS);
    assert_eq!(available(&limiter), 7);
    clock.advance(MS);
    assert_eq!(available(&limiter), 8);

    clock.advance(period - MS);
    assert_eq!(available(&limiter), 8);
    clock.advance(2 * MS);
    assert_eq!(available(&limiter), 9);
    assert_eq!(clock.now_nanos(), (2 * period + MS).as_nanos() as u64);
}

// .NET: ManualReplenishPreservesTimeWithTimerJitter [R]
// Manual mode keeps .NET's proportional rule and the fraction (here exactly, not as a double).
#[test]
fn manual_replenish_preserves_time_with_timer_jitter() {
    let period = secs(600);
    let (limiter, clock) = manual(10, 1, period, OldestFirst, 1);
    let _lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 7);

    // 0.99999… of a token: shown truncated.
    replenish(&limiter, &clock, period - MS);
    assert_eq!(available(&limiter), 7);

    // The carried fraction completes two whole tokens exactly.
    replenish(&limiter, &clock, period + MS);
    assert_eq!(available(&limiter), 9);
}

// ---------------------------------------------------------------------------------------------
// Bad input and disposal errors
// ---------------------------------------------------------------------------------------------

// .NET: (constructor validation, §1.3) — the default options value is invalid, and the fields are
// checked in .NET's order: token_limit, tokens_per_period, replenishment_period.
#[test]
fn default_options_are_rejected_in_field_order() {
    let err = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions::default()).expect_err("default is invalid");
    assert_eq!(err.to_string(), "token_limit must be greater than 0");

    let o = TokenBucketRateLimiterOptions { token_limit: 1, ..Default::default() };
    assert_eq!(o.validate().unwrap_err().to_string(), "tokens_per_period must be greater than 0");
    let o = TokenBucketRateLimiterOptions { token_limit: 1, tokens_per_period: 1, ..Default::default() };
    assert_eq!(o.validate().unwrap_err().to_string(), "replenishment_period must be greater than 0");
    let o = TokenBucketRateLimiterOptions {
        token_limit: 1,
        tokens_per_period: 1,
        replenishment_period: NS,
        ..Default::default()
    };
    assert_eq!(o.validate(), Ok(()));
    // Defaults as in .NET: auto-replenishing, OldestFirst, no queue.
    assert!(o.auto_replenishment);
    assert_eq!(o.queue_processing_order, OldestFirst);
    assert_eq!(o.queue_limit, 0);
}

// .NET: (none; no upper bound in .NET, whose Timer caps periods at 49.7 days) — periods up to
// u64::MAX ns are accepted; a longer one is rejected with a named reason.
#[test]
fn replenishment_period_beyond_u64_nanoseconds_is_rejected() {
    let o = options(1, 1, Duration::from_nanos(u64::MAX) + NS, true, OldestFirst, 0);
    let err = o.validate().expect_err("too long");
    assert_eq!(err.field, "replenishment_period");
    assert_eq!(err.to_string(), "replenishment_period must be at most u64::MAX nanoseconds");
    assert_eq!(TokenBucketRateLimiter::with_clock(o, ManualClock::new()).err(), Some(err));

    let (limiter, clock) = auto(1, 1, Duration::from_nanos(u64::MAX), OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(u64::MAX));
    let _lease = take(&limiter, 1);
    let refused = refuse(&limiter, 1);
    assert_eq!(refused.retry_after(), Some(Duration::from_nanos(u64::MAX)));
    // Tick 1 would be at u64::MAX ns: the clock's range ends there (584 years), and a tick due at
    // or beyond the end of the range never comes (documented in `state::catch_up`).
    clock.advance(Duration::MAX);
    let _refused = refuse(&limiter, 1);
}

// .NET: (§1.3 per-call validation, rule 3) — the limit check comes before the disposed check.
// Difference: `PermitLimitExceeded` / `Disposed` errors instead of exceptions.
#[test]
fn permit_limit_exceeded_is_checked_before_disposed() {
    for (limiter, _clock) in [manual(3, 1, MS, OldestFirst, 5), auto(3, 1, MS, NewestFirst, 5)] {
        limiter.dispose();
        let expected = AcquireError::PermitLimitExceeded { requested: 4, limit: 3 };
        assert_eq!(limiter.attempt_acquire(4).err(), Some(expected.clone()));
        assert_eq!(ready_err(&mut Box::pin(limiter.acquire(4))), expected.clone());
        assert_eq!(limiter.blocking_acquire(4).err(), Some(expected));
    }
}

// .NET: (§1.3 rule 4, §2.1 R7) — after dispose every acquisition fails, including zero permits
// with tokens available.
// Difference: `Err(AcquireError::Disposed)` instead of ObjectDisposedException.
#[test]
fn acquisitions_after_dispose_are_errors() {
    for (limiter, clock) in [manual(3, 1, MS, OldestFirst, 5), auto(3, 1, MS, NewestFirst, 5)] {
        let _lease = take(&limiter, 1);
        limiter.dispose();
        clock.advance(secs(1));
        for permits in [0, 1, 3] {
            assert_eq!(limiter.attempt_acquire(permits).err(), Some(AcquireError::Disposed), "attempt {permits}");
            assert_eq!(ready_err(&mut Box::pin(limiter.acquire(permits))), AcquireError::Disposed);
            assert_eq!(limiter.blocking_acquire(permits).err(), Some(AcquireError::Disposed));
        }
        assert_eq!(AcquireError::Disposed.to_string(), "the rate limiter has been disposed");
        // Errors are not counted as leases.
        let s = stats(&limiter);
        assert_eq!((s.total_failed_leases, s.total_successful_leases), (0, 1));
    }
}

// .NET: (§2.1 R7, §2.3 TryReplenish) — after dispose, TryReplenish returns true in manual mode but
// does nothing, and false in auto mode; IdleDuration still answers.
#[test]
fn try_replenish_after_dispose() {
    let (limiter, clock) = manual(4, 4, MS, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 1);
    assert!(limiter.try_replenish());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));

    let (limiter, clock) = auto(4, 4, MS, OldestFirst, 0);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(!limiter.try_replenish());
    assert_eq!(limiter.idle_duration(), Some(secs(10)));
}

// ---------------------------------------------------------------------------------------------
// RetryAfter (API differences 4 and 9)
// ---------------------------------------------------------------------------------------------

// .NET: RetryMetadataOnFailedWaitAsync, CorrectRetryMetadataWithQueuedItem,
// CorrectRetryMetadataWithMultipleTokensPerPeriod, CorrectRetryMetadataWithNonZeroAvailableItems and
// FailsWhenQueuingMoreThanLimit_OldestFirst, in auto mode.
// Difference 4/9: the exact wait until the same request would be granted at once, counting the
// queued permits first (construction at 0, ticks at 20 s, 40 s, ...). For each row the retry is
// checked to be tight: 1 ns earlier the same request is refused, at retry_after it is granted.
// tokens_per_period 2 with one queued permit: tick 1 gives 2 (the queued request takes 1), tick 2
// caps at 2, so 40 s (.NET says 20 s).
#[test]
fn retry_after_table_in_auto_mode() {
    // token_limit, tokens_per_period, period, tokens taken, queued permits, requested, expected.
    let rows: [(u32, u32, Duration, u32, u32, u32, Duration); 5] = [
        (2, 1, secs(20), 2, 0, 2, secs(40)),
        (2, 1, secs(20), 2, 1, 2, secs(60)),
        (2, 2, secs(20), 2, 1, 2, secs(40)),
        (3, 1, secs(20), 2, 0, 3, secs(40)),
        (1, 1, MS, 1, 1, 1, millis(2)),
    ];
    for (i, (limit, per_period, period, taken, queued_permits, requested, expected)) in rows.into_iter().enumerate() {
        let (limiter, clock) = auto(limit, per_period, period, OldestFirst, 1);
        let _lease = take(&limiter, taken);
        let mut wait = (queued_permits > 0).then(|| enqueue(&limiter, queued_permits));

        // Queue full (acquire) and a plain refused attempt report the same wait.
        let failed = acquire_now(&limiter, requested);
        assert!(!failed.is_acquired(), "row {i}");
        assert_eq!(failed.retry_after(), Some(expected), "row {i}: acquire");
        assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(expected), "row {i}");
        assert_eq!(refuse(&limiter, requested).retry_after(), Some(expected), "row {i}: attempt");

        let _granted = assert_retry_after_is_tight(&clock, expected, || limiter.attempt_acquire(requested).unwrap());
        if let Some(wait) = wait.as_mut() {
            let _queued = ready_acquired(wait);
        }
    }
}

// .NET: (none) — API difference 4 in manual mode: periods needed, rounded UP, times the period
// (.NET truncates), at least one period; the fraction of a token held is not counted.
#[test]
fn retry_after_in_manual_mode_rounds_periods_up() {
    let (limiter, clock) = manual(10, 3, secs(10), OldestFirst, 10);
    let _lease = take(&limiter, 10);
    // Deficit 1, 3, 4, 7 tokens at 3 per period: 1, 1, 2, 3 periods.
    for (requested, periods) in [(1, 1), (3, 1), (4, 2), (7, 3)] {
        assert_eq!(refuse(&limiter, requested).retry_after(), Some(secs(10 * periods)), "{requested}");
    }
    // Half a period: 1.5 tokens held, shown and counted as 1. Deficit 4 − 1 = 3: 1 period.
    replenish(&limiter, &clock, secs(5));
    assert_eq!(available(&limiter), 1);
    assert_eq!(refuse(&limiter, 4).retry_after(), Some(secs(10)));
    // Queued permits count: 5 queued + 1 requested − 1 = 5 → 2 periods.
    let _wait = enqueue(&limiter, 5);
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(20)));
    // Zero permits with nothing available: at least one period.
    let (limiter, _clock) = manual(1, 5, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    assert_eq!(refuse(&limiter, 0).retry_after(), Some(secs(10)));
}

// .NET: (none) — API difference 4: tightness of retry_after in auto mode for several shapes:
// one token per period, several per period, several permits, refusals in the middle of a period.
#[test]
fn retry_after_is_tight_in_auto_mode() {
    // One per period, 2 permits, refused 4 s into a 10 s period: tick 2 at 20 s.
    let (limiter, clock) = auto(3, 1, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 3);
    clock.advance(secs(4));
    let retry = refuse(&limiter, 2).retry_after().expect("retry_after");
    assert_eq!(retry, secs(16));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());

    // 3 per 7 s period, 5 permits, refused at 3.5 s: 3 tokens at 7 s, 6 at 14 s.
    let (limiter, clock) = auto(10, 3, secs(7), OldestFirst, 0);
    let _lease = take(&limiter, 10);
    clock.advance(millis(3_500));
    let retry = refuse(&limiter, 5).retry_after().expect("retry_after");
    assert_eq!(retry, millis(10_500));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(5).unwrap());
    assert_eq!(available(&limiter), 1);

    // More per period than requested: the next tick, 0.7 s away.
    let (limiter, clock) = auto(10, 4, secs(1), NewestFirst, 0);
    let _lease = take(&limiter, 10);
    clock.advance(millis(300));
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, millis(700));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());

    // A non-round period and an odd refusal time: 3 permits at 2 per 333 ms, refused at 1 ns.
    let period = millis(333);
    let (limiter, clock) = auto(4, 2, period, OldestFirst, 0);
    let _lease = take(&limiter, 4);
    clock.advance(NS);
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, 2 * period - NS);
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());

    // Queue full with no queue at all (queue_limit 0): the refusal is for the request itself.
    let (limiter, clock) = auto(2, 1, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(secs(3));
    let failed = acquire_now(&limiter, 1);
    assert_eq!(failed.retry_after(), Some(secs(7)));
    let _lease = assert_retry_after_is_tight(&clock, secs(7), || acquire_now(&limiter, 1));
}

// .NET: (none) — API difference 4 with a request queued ahead (OldestFirst): the queued permits are
// served first. 4 tokens taken at 0, 2 queued; an attempt for 1 at 3 s needs 3 tokens: tick 3 at
// 30 s. The queued request is granted at tick 2 (20 s), before the retry time.
#[test]
fn retry_after_is_tight_with_a_queued_request_ahead() {
    let (limiter, clock) = auto(4, 1, secs(10), OldestFirst, 4);
    let _lease = take(&limiter, 4);
    let (woken, waker) = CountingWaker::new();
    let mut wait = enqueue_with(&limiter, 2, &waker);
    clock.advance(secs(3));

    let retry = refuse(&limiter, 1).retry_after().expect("retry_after");
    assert_eq!(retry, secs(27));

    clock.advance(secs(17) - NS);
    assert_pending_with(&mut wait, &waker);
    let before = woken.count();
    clock.advance(NS);
    assert!(woken.count() > before, "the clock wakes the queued request at its tick");
    let _queued = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 0);

    let _lease = assert_retry_after_is_tight(&clock, secs(10), || limiter.attempt_acquire(1).unwrap());
    assert_eq!(stats(&limiter), snapshot(0, 0, 2, 3));
}

// .NET: CorrectRetryMetadataWithLargeTokensPerPeriod (auto mode), and a refused attempt behind a
// queued request — both where the bucket's cap swallows part of a tick.
// API difference 4/9: "the smallest wait after which the same request would succeed (queued
// requests ahead of it served first)". Case 1: token_limit 2, tokens_per_period 100, 2 taken,
// 1 permit queued; acquire(2) is refused (queue full). Tick 1 (20 s) fills the bucket to its cap,
// 2, the queued request takes 1, and 1 < 2 is left: acquire(2) at 20 s is refused again; it is
// granted at tick 2 (40 s). Case 2: token_limit 3, tokens_per_period 3; 2 tokens left at 10 s with
// a request for 3 queued; attempt(1) is refused. Tick 2 (20 s) caps the bucket at 3, the queued
// request takes all 3, so attempt(1) succeeds only at tick 3 (30 s): retry_after must be 20 s.
#[test]
fn retry_after_counts_tokens_lost_to_the_cap_with_a_queued_request() {
    // Case 1 (brief's "tpp100 → 20 s"; the tightness check shows 20 s is not enough).
    let (limiter, clock) = auto(2, 100, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    let failed = acquire_now(&limiter, 2);
    assert!(!failed.is_acquired());
    assert_eq!(failed.retry_after(), Some(secs(40)));
    let _granted = assert_retry_after_is_tight(&clock, secs(40), || acquire_now(&limiter, 2));
    let _queued = ready_acquired(&mut wait);

    // Case 2.
    let (limiter, clock) = auto(3, 3, secs(10), OldestFirst, 3);
    let _lease = take(&limiter, 3);
    clock.advance(secs(10));
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 3);
    let retry = refuse(&limiter, 1).retry_after().expect("retry_after");
    assert_eq!(retry, secs(20));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(1).unwrap());
    let _queued = ready_acquired(&mut wait);

    // Case 3: the forecast is rebuilt after a cancel. token_limit 3, 2 per 10 s; queue [a 3, b 2];
    // a is dropped, so b (2) is served at tick 1 (10 s) and 0 tokens are left; attempt(3) then
    // needs ticks 2 and 3 (2 + 2, capped at 3): 30 s.
    let (limiter, clock) = auto(3, 2, secs(10), OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let a = enqueue(&limiter, 3);
    let mut b = enqueue(&limiter, 2);
    drop(a);
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, secs(30));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());
    let _b = ready_acquired(&mut b);
}

// .NET: (§2.1 R3 with API difference 4) — a zero-permit request ignores the queue: it succeeds as
// soon as any token is available, even with OldestFirst and requests waiting. So its retry_after is
// the first tick that makes a token available: with 2 permits queued (needing 2 ticks), a refused
// attempt(0) at 0 must be told 10 s (tick 1 gives 1 token, the queued request still waits, and
// attempt(0) succeeds), not 30 s.
#[test]
fn zero_permit_retry_after_ignores_the_queue() {
    let (limiter, clock) = auto(2, 1, secs(10), OldestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 2);

    let retry = refuse(&limiter, 0).retry_after().expect("retry_after");
    assert_eq!(retry, secs(10));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    assert_pending(&mut wait);
}

// .NET: (§2.1 R3) — the zero-permit request with no queue: retry_after is the next tick.
#[test]
fn zero_permit_retry_after_is_the_next_tick() {
    let (limiter, clock) = auto(2, 1, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(secs(6));
    let retry = refuse(&limiter, 0).retry_after().expect("retry_after");
    assert_eq!(retry, secs(4));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    // A zero-permit success takes nothing.
    assert_eq!(available(&limiter), 1);
}

// ---------------------------------------------------------------------------------------------
// Lazy, exact auto replenishment (API difference 3)
// ---------------------------------------------------------------------------------------------

// .NET: (none) — N elapsed ticks add exactly N·tokens_per_period, capped: one advance of 3.5
// periods equals three separate ticks plus half a period, in tokens and in when the next tick is.
#[test]
fn elapsed_ticks_apply_exactly_however_the_clock_moves() {
    let (at_once, clock_a) = auto(10, 3, secs(1), OldestFirst, 0);
    let (stepwise, clock_b) = auto(10, 3, secs(1), OldestFirst, 0);
    let _a = take(&at_once, 10);
    let _b = take(&stepwise, 10);

    clock_a.advance(millis(3_500));
    for step in [secs(1), secs(1), secs(1), millis(500)] {
        clock_b.advance(step);
        let _ = available(&stepwise);
    }
    assert_eq!(available(&at_once), 9);
    assert_eq!(stats(&at_once), stats(&stepwise));

    // Tick 4 is at 4 s in both: 9 + 3 capped at 10.
    for (limiter, clock) in [(&at_once, &clock_a), (&stepwise, &clock_b)] {
        clock.advance(millis(500) - NS);
        assert_eq!(available(limiter), 9);
        clock.advance(NS);
        assert_eq!(available(limiter), 10);
    }
}

// .NET: (none) — difference 3: the tick grid is fixed at construction; acquisitions, refusals and
// reads at arbitrary times never move it.
#[test]
fn ticks_stay_on_the_construction_grid() {
    let (limiter, clock) = auto(2, 1, secs(10), OldestFirst, 0);
    clock.advance(secs(7));
    let _lease = take(&limiter, 2);
    // The next tick is at 10 s, 3 s after the take (not 10 s after it).
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(3)));
    clock.advance(secs(3));
    let _lease = take(&limiter, 1);
    clock.advance(secs(9));
    let _refused = refuse(&limiter, 1);
    clock.advance(secs(1));
    // 20 s: tick 2.
    let _lease = take(&limiter, 1);
    assert_eq!(available(&limiter), 0);
    clock.advance(millis(25_500));
    // 45.5 s: ticks at 30 s and 40 s (capped at 2).
    assert_eq!(available(&limiter), 2);
}

// .NET: (R10 with difference 3) — idle_duration after a refill is the time since the tick that
// filled the bucket, however late it is read; a take from a full bucket makes it busy, and the
// refill later restarts the idle time at its own tick.
#[test]
fn idle_duration_counts_from_the_tick_that_filled_the_bucket() {
    let (limiter, clock) = auto(10, 3, secs(1), OldestFirst, 0);
    clock.advance(millis(2_000));
    assert_eq!(limiter.idle_duration(), Some(secs(2)), "idle from construction");

    let _lease = take(&limiter, 10);
    // Ticks at 3 s, 4 s, 5 s give 3, 6, 9 tokens; the one at 6 s fills the bucket.
    clock.advance(millis(3_500));
    assert_eq!(limiter.idle_duration(), None);
    assert_eq!(available(&limiter), 9);
    clock.advance(millis(3_800));
    // 9.3 s, read for the first time since the bucket filled at 6 s.
    assert_eq!(limiter.idle_duration(), Some(millis(3_300)));

    // A take in the middle of a period from the full bucket; tick 10 (10 s) refills it.
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(millis(700) - NS);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(NS + millis(1_250));
    assert_eq!(limiter.idle_duration(), Some(millis(1_250)));

    // Zero-permit acquisitions and refusals do not touch it.
    let _zero = take(&limiter, 0);
    assert_eq!(limiter.idle_duration(), Some(millis(1_250)));
}

// .NET: (R10) — a new limiter is idle from construction in both modes, even if created long after
// the clock's origin.
#[test]
fn new_limiter_is_idle_from_construction() {
    for auto_replenishment in [false, true] {
        let clock = ManualClock::new();
        clock.advance(secs(1_000));
        let limiter = TokenBucketRateLimiter::with_clock(
            options(1, 1, secs(1), auto_replenishment, OldestFirst, 0),
            clock.clone(),
        )
        .unwrap();
        assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
        clock.advance(millis(2_500));
        assert_eq!(limiter.idle_duration(), Some(millis(2_500)));
        // The tick grid starts at construction too.
        if auto_replenishment {
            let _lease = take(&limiter, 1);
            assert_eq!(refuse(&limiter, 1).retry_after(), Some(millis(500)));
        }
    }
}

// .NET: (none) — difference 3: the clock alone grants queued requests, tick by tick. token_limit 2,
// tokens_per_period 2, OldestFirst queue [2, 2, 1]: tick 1 grants the first, tick 2 the second,
// tick 3 the third (leaving 1). Each tick wakes the task of the request it serves.
#[test]
fn queued_requests_are_granted_at_their_ticks_by_the_clock_alone() {
    let period = secs(1);
    let (limiter, clock) = auto(2, 2, period, OldestFirst, 5);
    let _lease = take(&limiter, 2);
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 2, &k1);
    let mut w2 = enqueue_with(&limiter, 2, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);

    let before = c1.count();
    clock.advance(period);
    assert!(c1.count() > before, "tick 1 wakes the first request");
    assert!(poll_with(&mut w1, &k1).expect("granted at tick 1").unwrap().is_acquired());
    assert_pending_with(&mut w2, &k2);
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(0, 3, 0, 2));

    let before = c2.count();
    clock.advance(period - NS);
    assert_pending_with(&mut w2, &k2);
    clock.advance(NS);
    assert!(c2.count() > before, "tick 2 wakes the second request");
    assert!(poll_with(&mut w2, &k2).expect("granted at tick 2").unwrap().is_acquired());
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(0, 1, 0, 3));

    let before = c3.count();
    clock.advance(period);
    assert!(c3.count() > before, "tick 3 wakes the third request");
    assert!(poll_with(&mut w3, &k3).expect("granted at tick 3").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 4));

    // Not idle (1 of 2) until tick 4 fills the bucket; then idle since tick 4.
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(period + millis(10));
    assert_eq!(limiter.idle_duration(), Some(millis(10)));
}

// .NET: (none) — difference 3: "N elapsed ticks have exactly the effect of N .NET timer ticks" and
// queued requests are granted at their ticks. One advance of 3 periods over the queue [2, 2, 1]
// above must grant all three (at ticks 1, 2, 3) and leave 1 token, as three advances do (the
// clock wakes the head, whose poll serves the queue and wakes the others); statistics read without
// polling must see the same; NewestFirst likewise ([a 1, b 2, c 1], limit 2, 1 per period: four
// periods grant c, b, a). The tick-by-tick versions pass (the tests above and below).
#[test]
fn one_advance_over_several_ticks_grants_queued_requests_as_separate_ticks_would() {
    let period = secs(1);
    let (limiter, clock) = auto(2, 2, period, OldestFirst, 5);
    let _lease = take(&limiter, 2);
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 2, &k1);
    let mut w2 = enqueue_with(&limiter, 2, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);
    let before = (c1.count(), c2.count(), c3.count());
    clock.advance(3 * period);
    assert!(c1.count() > before.0, "the clock wakes the head of the queue");
    assert!(poll_with(&mut w1, &k1).expect("granted").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 4));
    assert!(c2.count() > before.1 && c3.count() > before.2, "the pass that served the queue wakes the others");
    let _l2 = ready_acquired(&mut w2);
    let _l3 = ready_acquired(&mut w3);

    // Nobody polls: statistics alone see the queue served at its ticks.
    let (limiter, clock) = auto(2, 2, period, OldestFirst, 5);
    let _lease = take(&limiter, 2);
    let mut w1 = enqueue(&limiter, 2);
    let mut w2 = enqueue(&limiter, 2);
    let mut w3 = enqueue(&limiter, 1);
    clock.advance(3 * period + millis(500));
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 4));
    let _l3 = ready_acquired(&mut w3);
    let _l2 = ready_acquired(&mut w2);
    let _l1 = ready_acquired(&mut w1);

    // NewestFirst.
    let (limiter, clock) = auto(2, 1, period, NewestFirst, 4);
    let _lease = take(&limiter, 2);
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);
    clock.advance(4 * period);
    let _c = ready_acquired(&mut c);
    let _b = ready_acquired(&mut b);
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 4));
}

// .NET: (none) — NewestFirst with ticks: the newest request is served first and blocks older ones
// while it does not fit. token_limit 2, 1 token per period, queue [a 1, b 2, c 1] (c newest):
// tick 1 grants c; tick 2 leaves 1 token that b (2) cannot use, blocking a; tick 3 grants b;
// tick 4 grants a. (One advance over several ticks: see the test above.)
#[test]
fn newest_first_queued_requests_are_granted_at_their_ticks() {
    let period = secs(1);
    let (limiter, clock) = auto(2, 1, period, NewestFirst, 4);
    let _lease = take(&limiter, 2);
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);

    clock.advance(period);
    let _c = ready_acquired(&mut c);
    assert_pending(&mut b);
    assert_pending(&mut a);
    clock.advance(period);
    assert_pending(&mut b);
    assert_pending(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 2));
    clock.advance(period);
    let _b = ready_acquired(&mut b);
    assert_pending(&mut a);
    clock.advance(period);
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 4));

    // Stopping between ticks 2 and 3 after one advance: only c is granted.
    let (partial, clock) = auto(2, 1, period, NewestFirst, 4);
    let _lease = take(&partial, 2);
    let mut a = enqueue(&partial, 1);
    let mut b = enqueue(&partial, 2);
    let mut c = enqueue(&partial, 1);
    clock.advance(3 * period - NS);
    let _c = ready_acquired(&mut c);
    assert_pending(&mut b);
    assert_pending(&mut a);
    assert_eq!(stats(&partial), snapshot(1, 3, 0, 2));
}

// .NET: (none) — difference 3: when a waiter's tick has passed, it was granted at that tick; a
// newcomer arriving later cannot take the tokens first, in either order.
#[test]
fn newcomer_cannot_take_tokens_a_due_waiter_was_granted() {
    for order in [OldestFirst, NewestFirst] {
        let (limiter, clock) = auto(2, 2, secs(1), order, 2);
        let _lease = take(&limiter, 2);
        let mut wait = enqueue(&limiter, 2);
        clock.advance(millis(1_500));
        // Nobody has polled the waiter since its tick.
        let refused = refuse(&limiter, 1);
        assert_eq!(refused.retry_after(), Some(millis(500)), "{order:?}");
        let _granted = ready_acquired(&mut wait);
        assert_eq!(stats(&limiter), snapshot(0, 0, 1, 2), "{order:?}");
    }
}

// .NET: AutoReplenish_ReplenishesTokens, for a real executor: tasks awaiting `acquire` on a
// multi-threaded runtime complete when the ManualClock reaches their ticks, with nobody polling by
// hand (queue [2, 2, 1], token_limit 2, 2 per period: one task per tick).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_the_clock() {
    let (limiter, clock) = auto(2, 2, secs(1), OldestFirst, 5);
    let limiter = Arc::new(limiter);
    let _lease = take(&*limiter, 2);
    let tasks = spawn_queued(&limiter, &[2, 2, 1]);

    for task in &tasks {
        assert!(!task.is_finished());
        clock.advance(secs(1));
        wait_until(|| task.is_finished());
    }
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(1, 0, 0, 4));
}

/// Spawns one task per entry awaiting `acquire(permits)`, each queued before the next is spawned.
fn spawn_queued(
    limiter: &Arc<Bucket>,
    permits: &[u32],
) -> Vec<tokio::task::JoinHandle<Result<RateLimitLease, AcquireError>>> {
    let mut tasks = Vec::new();
    let mut expected_queued = 0;
    for &n in permits {
        let task_limiter = Arc::clone(limiter);
        tasks.push(tokio::spawn(async move { task_limiter.acquire(n).await }));
        expected_queued += u64::from(n);
        wait_until(|| queued(&**limiter) == expected_queued);
    }
    tasks
}

// .NET: AutoReplenish_ReplenishesTokens (real executor) with one advance over all three ticks:
// every task completes. Waits with a real-time deadline (wait_until panics after 20 s) instead of
// hanging when a task is never released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_one_advance_over_their_ticks() {
    let (limiter, clock) = auto(2, 2, secs(1), OldestFirst, 5);
    let limiter = Arc::new(limiter);
    let _lease = take(&*limiter, 2);
    let tasks = spawn_queued(&limiter, &[2, 2, 1]);

    clock.advance(secs(3));

    wait_until(|| tasks.iter().all(|t| t.is_finished()));
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(1, 0, 0, 4));
}

// ---------------------------------------------------------------------------------------------
// blocking_acquire on a ManualClock-driven auto bucket
// ---------------------------------------------------------------------------------------------

// .NET: (none; AcquireAsync waiting, for plain threads) — a thread parked in blocking_acquire is
// released when the clock reaches the tick, and not before.
#[test]
fn blocking_acquire_is_released_by_the_clock() {
    let (limiter, clock) = auto(1, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let blocked = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);

        clock.advance(secs(1) - NS);
        assert_eq!(queued(&limiter), 1, "still waiting 1 ns before the tick");
        assert!(!blocked.is_finished());

        clock.advance(NS);

        let granted = blocked.join().expect("no panic").expect("no error");
        assert!(granted.is_acquired());
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — two blocked threads are released one per tick, in order.
#[test]
fn blocking_acquires_are_released_at_their_ticks() {
    let (limiter, clock) = auto(1, 1, secs(1), OldestFirst, 2);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let first = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);
        let second = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 2);

        clock.advance(secs(1));
        wait_until(|| first.is_finished());
        assert_eq!(queued(&limiter), 1);
        assert!(!second.is_finished());

        clock.advance(secs(1));
        wait_until(|| second.is_finished());
        for blocked in [first, second] {
            assert!(blocked.join().expect("no panic").expect("no error").is_acquired());
        }
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (none) — two blocked threads, one advance covering both their ticks: both are released,
// as two ticks would. Waits with a real-time deadline (wait_until panics after 20 s) instead of
// hanging when a thread is never released.
#[test]
fn blocking_acquires_are_released_by_one_advance_over_their_ticks() {
    let (limiter, clock) = auto(1, 1, secs(1), OldestFirst, 2);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let first = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);
        let second = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 2);

        clock.advance(secs(2));

        let both_done = || first.is_finished() && second.is_finished();
        let released = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(both_done)));
        if released.is_err() {
            // Unblock the scope so the test fails instead of hanging.
            limiter.dispose();
            panic!("a thread blocked in blocking_acquire was not released by the advance");
        }
        for blocked in [first, second] {
            assert!(blocked.join().expect("no panic").expect("no error").is_acquired());
        }
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: DisposeReleasesQueuedAcquires, for a thread blocked on an auto bucket.
#[test]
fn blocking_acquire_is_released_by_dispose() {
    let (limiter, _clock) = auto(1, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let blocked = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);

        limiter.dispose();

        let failed = blocked.join().expect("no panic").expect("a lease, not an error");
        assert!(!failed.is_acquired());
        assert_eq!(failed.retry_after(), None);
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));
}

// .NET: (none) — blocking_acquire decides at once when it can: granted, or refused (queue full)
// with a RetryAfter, without parking.
#[test]
fn blocking_acquire_decides_at_once_when_it_can() {
    let (limiter, _clock) = auto(1, 1, secs(1), OldestFirst, 0);
    assert!(limiter.blocking_acquire(1).unwrap().is_acquired());
    let refused = limiter.blocking_acquire(1).unwrap();
    assert!(!refused.is_acquired());
    assert_eq!(refused.retry_after(), Some(secs(1)));
}

// ---------------------------------------------------------------------------------------------
// Years of idle time and u32::MAX
// ---------------------------------------------------------------------------------------------

const FIFTY_YEARS: Duration = Duration::from_secs(50 * 365 * 86_400 + 12 * 86_400);

// .NET: (none) — years of idle time in auto mode: the bucket is exactly full (never more), nothing
// panics or wraps, and retry_after stays exact afterwards.
#[test]
fn years_of_idle_time_fill_the_bucket_exactly_in_auto_mode() {
    let (limiter, clock) = auto(5, 2, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 5);

    clock.advance(FIFTY_YEARS + millis(250));
    assert_eq!(available(&limiter), 5);
    // Ticks at 1 s, 2 s, 3 s give 2, 4, 5: idle since 3 s.
    assert_eq!(limiter.idle_duration(), Some(FIFTY_YEARS + millis(250) - secs(3)));
    let _lease = take(&limiter, 5);
    let _refused = refuse(&limiter, 1);

    let retry = refuse(&limiter, 2).retry_after().expect("retry_after");
    assert_eq!(retry, millis(750));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());

    // Half of the clock's range in one step.
    clock.advance(Duration::from_nanos(u64::MAX / 2));
    assert_eq!(available(&limiter), 5);
    let _lease = take(&limiter, 5);
    let retry = refuse(&limiter, 1).retry_after().expect("retry_after");
    assert!(retry > Duration::ZERO && retry <= secs(1), "{retry:?}");
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(1).unwrap());

    // To the end of the clock's range (it saturates at u64::MAX ns): still exactly full.
    // (Taking at that instant: see the next test.)
    clock.advance(Duration::MAX);
    assert_eq!(clock.now_nanos(), u64::MAX);
    assert_eq!(available(&limiter), 5);
    assert!(limiter.idle_duration().is_some());
}

// .NET: (none) — at the end of a clock's range (u64::MAX ns, where a ManualClock saturates; any
// Clock may report it) time stands still and no tick is due (ticks are at k·period; u64::MAX is
// not one for a 1 s period), so a drained bucket must stay drained. With a period of u64::MAX ns,
// tick 1 would be exactly at u64::MAX, the end of the range, where no tick is ever due.
#[test]
fn saturated_clock_does_not_create_phantom_ticks() {
    let (limiter, clock) = auto(5, 2, secs(1), OldestFirst, 0);
    clock.advance(Duration::MAX);
    assert_eq!(available(&limiter), 5);
    let _lease = take(&limiter, 5);
    assert_eq!(available(&limiter), 0);
    let _refused = refuse(&limiter, 1);

    let (limiter, clock) = auto(1, 1, Duration::from_nanos(u64::MAX), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(Duration::MAX);
    // The only tick would be at the very end of the clock's range, which never comes.
    let _refused = refuse(&limiter, 1);
    let _refused = refuse(&limiter, 1);
}

// .NET: (none) — years of idle time with a request queued and a u32::MAX bucket: the waiter is
// granted at its tick and the bucket is then exactly full.
#[test]
fn years_of_idle_time_with_queued_request_and_large_limits() {
    let (limiter, clock) = auto(u32::MAX, 1, NS, OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    let mut wait = enqueue(&limiter, u32::MAX);
    clock.advance(FIFTY_YEARS);
    let _granted = ready_acquired(&mut wait);
    // u32::MAX ticks (4.3 s at 1 ns) served the waiter; 50 years more filled the bucket again.
    assert_eq!(stats(&limiter), snapshot(u64::from(u32::MAX), 0, 0, 2));
}

// .NET: (none) — manual mode: TryReplenish after years fills exactly to the limit (from the last
// replenishment time, which moves to now), and fractions resume from there.
#[test]
fn years_of_idle_time_fill_the_bucket_exactly_in_manual_mode() {
    let (limiter, clock) = manual(5, 1, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 5);
    replenish(&limiter, &clock, FIFTY_YEARS);
    assert_eq!(available(&limiter), 5);
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));

    let _lease = take(&limiter, 5);
    replenish(&limiter, &clock, millis(500));
    assert_eq!(available(&limiter), 0);
    let _zero = take(&limiter, 0);
    replenish(&limiter, &clock, millis(500));
    assert_eq!(available(&limiter), 1);

    // The largest numbers: u32::MAX tokens per 1 ns period over the whole clock range.
    let (limiter, clock) = manual(u32::MAX, u32::MAX, NS, OldestFirst, 0);
    let _lease = take(&limiter, u32::MAX);
    replenish(&limiter, &clock, Duration::MAX);
    assert_eq!(available(&limiter), u64::from(u32::MAX));
    let _lease = take(&limiter, u32::MAX);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow, in auto mode, with a queue of u32::MAX permits
// and a queue-full failure whose RetryAfter needs more than u32::MAX tokens.
#[test]
fn u32_max_limits_in_auto_mode() {
    let (limiter, clock) = auto(u32::MAX, u32::MAX, secs(1), OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    assert_eq!(refuse(&limiter, u32::MAX).retry_after(), Some(secs(1)));

    let mut wait = enqueue(&limiter, u32::MAX);
    assert_eq!(queued(&limiter), u64::from(u32::MAX));
    // u32::MAX queued + 1 requested: tick 1 serves the queue, tick 2 the request.
    let full = acquire_now(&limiter, 1);
    assert!(!full.is_acquired());
    assert_eq!(full.retry_after(), Some(secs(2)));

    clock.advance(secs(1));
    let _big = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(0, 0, 2, 2));
    let _lease = assert_retry_after_is_tight(&clock, secs(1), || limiter.attempt_acquire(1).unwrap());
    assert_eq!(available(&limiter), u64::from(u32::MAX) - 1);

    // u32::MAX tokens per period into a small bucket: capped.
    let (limiter, clock) = auto(3, u32::MAX, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 3);
    clock.advance(secs(5));
    assert_eq!(available(&limiter), 3);
}

// ---------------------------------------------------------------------------------------------
// Manual mode details (.NET's TryReplenish rules, fractions kept exactly)
// ---------------------------------------------------------------------------------------------

// .NET: (§2.3 fractions) — half a token lets a zero-permit request succeed, is shown truncated, and
// is not enough for one permit.
#[test]
fn fractional_tokens_in_manual_mode() {
    let (limiter, clock) = manual(2, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let _refused = refuse(&limiter, 0);

    replenish(&limiter, &clock, millis(500));
    assert_eq!(available(&limiter), 0);
    let zero = limiter.attempt_acquire(0).unwrap();
    assert!(zero.is_acquired(), "0.5 tokens count as available for a zero-permit request");
    let zero = acquire_now(&limiter, 0);
    assert!(zero.is_acquired());
    let one = refuse(&limiter, 1);
    // 1 requested − 0 (truncated) = 1 token: one period.
    assert_eq!(one.retry_after(), Some(secs(1)));
    assert_eq!(stats(&limiter), snapshot(0, 0, 2, 3));

    // The other half arrives in two quarters.
    replenish(&limiter, &clock, millis(250));
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, millis(250));
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.1 R3/R9) — a zero-permit waiter is granted by any replenishment pass, even one that
// adds only a fraction of a token (.NET's check is `tokens >= 0`).
#[test]
fn zero_permit_waiter_is_granted_by_a_fractional_replenishment() {
    let (limiter, clock) = manual(1, 1, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    replenish(&limiter, &clock, millis(1));
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 0);
}

// .NET: (§2.3 TryReplenish) — true in manual mode even when nothing changes (full bucket, or no
// time elapsed), false in auto mode.
#[test]
fn try_replenish_return_values() {
    let (limiter, clock) = manual(2, 1, secs(1), OldestFirst, 0);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 1);
    // No time has passed: nothing to add, still true.
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 1);
    replenish(&limiter, &clock, secs(1));
    assert_eq!(available(&limiter), 2);
    // Full: true, nothing happens.
    replenish(&limiter, &clock, secs(5));
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 1));

    let (limiter, clock) = auto(2, 1, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    assert!(!limiter.try_replenish());
    clock.advance(secs(1));
    assert!(!limiter.try_replenish());
    // The tick happened anyway (auto mode needs no TryReplenish).
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.3 "Consequence") — manual mode measures from the last replenishment that found the
// bucket not full: after sitting full, a drained bucket is refilled at once by the next TryReplenish.
#[test]
fn manual_mode_measures_from_the_last_replenishment_that_found_the_bucket_not_full() {
    let (limiter, clock) = manual(4, 1, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    replenish(&limiter, &clock, secs(1));
    assert_eq!(available(&limiter), 4);
    // Full for 10 s; the replenishments in between change nothing and keep the time of the last one.
    for _ in 0..10 {
        replenish(&limiter, &clock, secs(1));
    }
    let _lease = take(&limiter, 4);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 4);
}

// .NET: (none) — manual mode: time alone adds nothing; only try_replenish does.
#[test]
fn manual_mode_adds_tokens_only_on_try_replenish() {
    let (limiter, clock) = manual(2, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    clock.advance(secs(10));
    assert_eq!(available(&limiter), 0);
    assert_pending(&mut wait);
    assert!(limiter.try_replenish());
    let _lease = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// ---------------------------------------------------------------------------------------------
// Deliberate difference 8 and the finer queue rules of §2.1
// ---------------------------------------------------------------------------------------------

// .NET: (none) — difference 8: a cancelled waiter makes the queue process again at once. .NET would
// leave wait2 pending until the next replenishment even though a token is free.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once() {
    let (limiter, _clock) = manual(2, 1, secs(1), OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    drop(wait1);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — difference 8 in auto mode, between ticks: tick 1 gives 1 token, which the head
// (2 permits) cannot use; dropping the head grants the next request at once, not at tick 2.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once_in_auto_mode() {
    let (limiter, clock) = auto(2, 1, secs(1), OldestFirst, 3);
    let _lease = take(&limiter, 2);
    let wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    clock.advance(millis(1_500));
    assert_pending(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 1));

    drop(wait1);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — difference 8, NewestFirst: the newest waiter blocks older ones while it does not
// fit; when it goes away, the older waiter that fits the free token is granted at once.
#[test]
fn cancelled_newest_waiter_lets_older_waiter_proceed_at_once() {
    let (limiter, clock) = manual(2, 1, secs(1), NewestFirst, 3);
    let _lease = take(&limiter, 2);
    let mut older = enqueue(&limiter, 1);
    let newer = enqueue(&limiter, 2);

    replenish(&limiter, &clock, secs(1));
    // One token is free, but the newest request (2) is served first and blocks the older.
    assert_pending(&mut older);
    assert_eq!(available(&limiter), 1);

    drop(newer);

    let _granted = ready_acquired(&mut older);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (§2.1 R3 / R9) — a zero-permit waiter is granted by the same replenishment pass as the
// request ahead of it, even though that request took the last token (.NET's check is
// `tokens >= 0`); in auto mode, at the same tick.
#[test]
fn zero_permit_waiter_is_granted_in_the_same_pass_behind_a_grant() {
    let (limiter, clock) = manual(1, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    replenish(&limiter, &clock, secs(1));
    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 0);

    let (limiter, clock) = auto(1, 1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    clock.advance(secs(1));
    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (§2.1 R3) — a zero-permit request queues even when the queue limit is 0 or the queue is
// full, adding nothing to the queued count.
#[test]
fn zero_permit_request_queues_even_when_queue_is_full() {
    let (limiter, clock) = auto(1, 1, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 1);

    let mut zero = enqueue(&limiter, 0);
    let full = acquire_now(&limiter, 1);
    assert!(!full.is_acquired());
    assert_eq!(full.retry_after(), Some(secs(1)));
    assert_eq!(queued(&limiter), 0);

    clock.advance(secs(1));
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.1 R4) — the queue limit counts permits, not requests.
#[test]
fn queue_limit_counts_permits_not_requests() {
    let (limiter, clock) = manual(3, 3, secs(1), OldestFirst, 3);
    let _lease = take(&limiter, 3);
    let mut two = enqueue(&limiter, 2);
    let mut one = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 3);
    let _full = ready_failed(&mut Box::pin(limiter.acquire(1)));

    replenish(&limiter, &clock, secs(1));
    let _two = ready_acquired(&mut two);
    let _one = ready_acquired(&mut one);
}

// .NET: (§1.4) — dropping a token-bucket lease never gives tokens back, whichever way it was
// granted; a lease outliving the limiter is harmless.
#[test]
fn dropping_leases_returns_nothing() {
    let (limiter, clock) = manual(3, 1, secs(1), OldestFirst, 2);
    let direct = take(&limiter, 2);
    let wait_lease = {
        let mut wait = enqueue(&limiter, 2);
        replenish(&limiter, &clock, secs(1));
        ready_acquired(&mut wait)
    };
    drop(direct);
    assert_eq!(available(&limiter), 0);
    drop(wait_lease);
    assert_eq!(available(&limiter), 0);

    replenish(&limiter, &clock, secs(1));
    let lease = take(&limiter, 1);
    drop(limiter);
    assert!(lease.is_acquired());
    drop(lease);
}

// .NET: (none) — the registered waker is woken when a queued request is granted by a tick, evicted,
// or failed by disposal, so an executor re-polls it.
#[test]
fn queued_request_wakes_its_task_when_decided() {
    let (limiter, clock) = auto(1, 1, secs(1), NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let (granted_count, granted_waker) = CountingWaker::new();
    let mut granted = enqueue_with(&limiter, 1, &granted_waker);
    let before = granted_count.count();
    clock.advance(secs(1));
    assert!(granted_count.count() > before, "the tick must wake the task");
    let lease = poll_with(&mut granted, &granted_waker).expect("ready").unwrap();
    assert!(lease.is_acquired());

    let (evicted_count, evicted_waker) = CountingWaker::new();
    let mut evicted = enqueue_with(&limiter, 1, &evicted_waker);
    let before = evicted_count.count();
    let (disposed_count, disposed_waker) = CountingWaker::new();
    let mut disposed = enqueue_with(&limiter, 1, &disposed_waker);
    assert!(evicted_count.count() > before, "eviction must wake the task");
    assert!(!poll_with(&mut evicted, &evicted_waker).expect("ready").unwrap().is_acquired());

    let before = disposed_count.count();
    limiter.dispose();
    assert!(disposed_count.count() > before, "disposal must wake the task");
    assert!(!poll_with(&mut disposed, &disposed_waker).expect("ready").unwrap().is_acquired());
}

// .NET: (none; API contract) — limiters, leases and acquire futures can cross threads.
#[test]
fn limiter_lease_and_future_are_thread_safe() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let (limiter, _clock) = auto(1, 1, secs(1), OldestFirst, 1);
    assert_send_sync(&limiter);
    let future = limiter.acquire(1);
    assert_send(&future);
    drop(future);
    let lease = take(&limiter, 1);
    assert_send_sync(&lease);
    assert_eq!(available(&limiter), 0);
}
