//! Behavioural tests of `SlidingWindowRateLimiter`, ported from .NET's
//! `System.Threading.RateLimiting` test suite (`SlidingWindowRateLimiterTests`, the shared scenarios
//! of `BaseRateLimiterTests`, and the eight RetryAfter tests of .NET's 2026 main branch), plus tests
//! of the places where this crate's API deliberately differs.
//!
//! Conventions:
//! * Time is a `ManualClock` shared by the test and the limiter; no test sleeps in real time.
//! * Most .NET sliding-window tests use manual mode with `Window = TimeSpan.Zero` (so every
//!   `TryReplenish` slides). A zero window is invalid here (and in current .NET), so those tests use
//!   `window = segments × 1 ms` (a 1 ms segment), and .NET's `TryReplenish()` (or its reflection
//!   helper `Replenish`) becomes `clock.advance(segment); limiter.try_replenish()` (the [`slide`]
//!   helper): manual mode slides one segment per call, and only if a segment's length has passed
//!   since the last slide.
//! * Auto mode has no timer (API difference 3): segment *k* starts at construction + *k*·segment,
//!   and advancing the `ManualClock` over a boundary slides the window. Permits taken in segment
//!   *k* come back at the start of segment *k* + `segments_per_window`. An async waiter sleeps on
//!   the clock and is polled again after `advance`; a thread in `blocking_acquire` wakes by itself.
//! * A queued request is a `Box::pin(limiter.acquire(n))` future; it joins the queue when first
//!   polled, so every such future is polled once right away and asserted pending.
//! * .NET's cancellation tokens become dropping the future (API difference 1).
//! * RetryAfter (API difference 4; .NET stable has none for the sliding window, .NET main-2026
//!   has one): in auto mode the exact wait until the boundary at which the same request succeeds
//!   (queued requests ahead of it served first); in manual mode the number of slides needed times
//!   the segment length.

mod common;

use common::limiter::*;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingWaker, poll_once, poll_with, wait_until};
use tollgate::{
    Acquire, AcquireError, Clock, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, MetadataName,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, ReplenishingRateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions,
};

type Sliding = SlidingWindowRateLimiter<ManualClock>;

fn options(
    permit_limit: u32,
    window: Duration,
    segments_per_window: u32,
    auto_replenishment: bool,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> SlidingWindowRateLimiterOptions {
    SlidingWindowRateLimiterOptions {
        permit_limit,
        window,
        segments_per_window,
        auto_replenishment,
        queue_processing_order: order,
        queue_limit,
    }
}

fn build(options: SlidingWindowRateLimiterOptions) -> (Sliding, ManualClock) {
    let clock = ManualClock::new();
    let limiter = SlidingWindowRateLimiter::with_clock(options, clock.clone()).expect("valid options");
    (limiter, clock)
}

/// A manual-mode window (.NET `AutoReplenishment = false`) on a fresh `ManualClock` reading zero.
fn manual(
    permit_limit: u32,
    window: Duration,
    segments: u32,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> (Sliding, ManualClock) {
    build(options(permit_limit, window, segments, false, order, queue_limit))
}

/// An auto-mode window on a fresh `ManualClock` reading zero: segment *k* starts at *k*·segment.
fn auto(
    permit_limit: u32,
    window: Duration,
    segments: u32,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> (Sliding, ManualClock) {
    build(options(permit_limit, window, segments, true, order, queue_limit))
}

/// .NET's `TryReplenish()` on a manual-mode limiter: one segment's length passes, then
/// `try_replenish`, which slides the window by one segment.
#[track_caller]
fn slide(limiter: &Sliding, clock: &ManualClock) {
    clock.advance(limiter.replenishment_period());
    assert!(limiter.try_replenish(), "try_replenish returns true in manual mode");
}

/// `n` calls of [`slide`].
#[track_caller]
fn slides(limiter: &Sliding, clock: &ManualClock, n: u32) {
    for _ in 0..n {
        slide(limiter, clock);
    }
}

/// The `retry_after` of a refused `attempt_acquire(permits)`.
#[track_caller]
fn refused_retry(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> Duration {
    refuse(limiter, permits).retry_after().expect("a refused attempt carries retry_after")
}

// ---------------------------------------------------------------------------------------------
// §5.1 rows 1–41 (BaseRateLimiterTests scenarios, SlidingWindow column)
// ---------------------------------------------------------------------------------------------

// .NET: CanAcquireResource (row 1)
#[test]
fn can_acquire_resource() {
    let (limiter, clock) = manual(1, millis(2), 2, NewestFirst, 1);
    let lease = limiter.attempt_acquire(1).unwrap();
    assert!(lease.is_acquired());
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    // Returning a sliding-window lease gives nothing back.
    drop(lease);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    // The permit was taken in segment 0, which leaves the window at the second slide.
    slide(&limiter, &clock);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());
    slide(&limiter, &clock);

    assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
}

// .NET: InvalidOptionsThrows (row 2)
// Differences: an `OptionsError` is returned instead of an ArgumentException. Negative values are
// unrepresentable (`u32` counts and `Duration`, difference 2), so .NET's `-1`, `MinValue` and
// `-2 min` cases collapse onto 0 / `Duration::ZERO`, .NET's `<= 0` boundary; `queue_limit` has no
// invalid value at all. Two bounds are this crate's own: the window must fit in u64 nanoseconds,
// and a segment (`window / segments_per_window`, whole nanoseconds) must not be empty.
#[test]
fn invalid_options_are_rejected() {
    let cases = [
        (options(0, secs(120), 1, false, NewestFirst, 1), "permit_limit", "permit_limit must be greater than 0"),
        (
            options(1, secs(120), 0, false, NewestFirst, 1),
            "segments_per_window",
            "segments_per_window must be greater than 0",
        ),
        (options(1, Duration::ZERO, 1, false, NewestFirst, 1), "window", "window must be greater than 0"),
        (options(1, Duration::ZERO, 2, true, OldestFirst, 0), "window", "window must be greater than 0"),
        (
            options(1, Duration::from_nanos(u64::MAX) + NS, 1, true, OldestFirst, 0),
            "window",
            "window must be at most u64::MAX nanoseconds",
        ),
        (
            options(1, Duration::from_nanos(2), 3, false, OldestFirst, 0),
            "window",
            "window must be at least segments_per_window nanoseconds",
        ),
    ];
    for (options, field, text) in cases {
        let err = SlidingWindowRateLimiter::with_clock(options.clone(), ManualClock::new())
            .expect_err("invalid options must be rejected");
        assert_eq!(err.field, field);
        assert_eq!(err.to_string(), text);
        assert_eq!(options.validate(), Err(err.clone()));
        assert_eq!(SlidingWindowRateLimiter::new(options).err(), Some(err));
    }

    // The smallest queue limit, 0, is valid (.NET rejects only negative ones).
    let (limiter, _clock) = manual(1, secs(120), 1, NewestFirst, 0);
    let _lease = take(&limiter, 1);
    let rejected = acquire_now(&limiter, 1);
    assert!(!rejected.is_acquired());
}

// .NET: CanAcquireResourceAsync (row 3)
#[tokio::test]
async fn can_acquire_resource_async() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 4);
    let lease = limiter.acquire(1).await.unwrap();
    assert!(lease.is_acquired());

    let mut wait = enqueue(&limiter, 2);

    // The first slide frees nothing (segment 0 is still in the window).
    slide(&limiter, &clock);
    assert_pending(&mut wait);

    let mut wait2 = enqueue(&limiter, 2);

    // The second frees segment 0's permit: 2 available, taken by the newest request.
    slide(&limiter, &clock);

    let _lease2 = ready_acquired(&mut wait2);
    assert_pending(&mut wait);
    assert_eq!(stats(&limiter), snapshot(0, 2, 0, 2));
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsOldest (row 4)
#[test]
fn acquire_queues_and_grabs_oldest() {
    let (limiter, clock) = manual(2, millis(2), 2, OldestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 2);

    drop(lease);
    slide(&limiter, &clock);
    assert_pending(&mut wait1);
    slide(&limiter, &clock);

    let lease = ready_acquired(&mut wait1);
    assert_pending(&mut wait2);

    drop(lease);
    assert_eq!(available(&limiter), 1);
    // Segment 1 is empty; segment 2 holds wait1's permit.
    slide(&limiter, &clock);
    assert_pending(&mut wait2);
    slide(&limiter, &clock);

    let _lease = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsNewest (row 5)
#[test]
fn acquire_queues_and_grabs_newest() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);
    slide(&limiter, &clock);
    assert_pending(&mut wait2);

    slide(&limiter, &clock);
    // The second (newest) request completes first; the older one needs 2 and only 1 is left.
    let lease = ready_acquired(&mut wait2);
    assert_pending(&mut wait1);

    drop(lease);
    assert_eq!(available(&limiter), 1);
    slides(&limiter, &clock, 2);

    let _lease = ready_acquired(&mut wait1);
    assert_eq!(available(&limiter), 0);
}

// .NET: FailsWhenQueuingMoreThanLimit_OldestFirst (row 6)
// RetryAfter (difference 4, manual mode: slides needed × segment): the queued request is granted
// at slide 2 and its permit leaves the window at slide 4, when the same request would be granted:
// 4 slides of 1 ms. (.NET main-2026 reports the window, 2 segments: its walk stops at one window.)
#[test]
fn fails_when_queuing_more_than_limit_oldest_first() {
    let (limiter, _clock) = manual(1, millis(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(failed.retry_after(), Some(millis(4)));
    assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(millis(4)));

    // OldestFirst evicts nothing: the queued request is still waiting.
    assert_pending(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (1, 1));
}

// .NET: DropsOldestWhenQueuingMoreThanLimit_NewestFirst (row 7)
#[test]
fn drops_oldest_when_queuing_more_than_limit_newest_first() {
    let (limiter, clock) = manual(1, millis(2), 2, NewestFirst, 1);
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

    slide(&limiter, &clock);
    assert_pending(&mut wait2);
    slide(&limiter, &clock);

    let _lease = ready_acquired(&mut wait2);
}

// .NET: DropsMultipleOldestWhenQueuingMoreThanLimit_NewestFirst (row 8)
#[test]
fn drops_multiple_oldest_when_queuing_more_than_limit_newest_first() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    let mut wait3 = enqueue(&limiter, 2);
    let _failed1 = ready_failed(&mut wait);
    let _failed2 = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 2));

    slide(&limiter, &clock);
    assert_pending(&mut wait3);
    slide(&limiter, &clock);

    let _lease = ready_acquired(&mut wait3);
}

// .NET: DropsRequestedLeaseIfPermitCountGreaterThanQueueLimitAndNoAvailability_NewestFirst (row 9)
#[test]
fn drops_requested_lease_if_permit_count_greater_than_queue_limit_newest_first() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    // 2 > queue_limit: fails at once, and nothing is evicted for it. A queue-full failure carries
    // a RetryAfter: the queued request takes 1 of the 2 permits back at slide 2, and that permit
    // leaves the window at slide 4 (1 ms each).
    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(millis(4)));
    assert_pending(&mut wait);
    assert_eq!(queued(&limiter), 1);

    slides(&limiter, &clock, 2);

    let _lease = ready_acquired(&mut wait);
}

// .NET: QueueAvailableAfterQueueLimitHitAndResources_BecomeAvailable (row 10)
#[test]
fn queue_available_after_queue_limit_hit_and_resources_become_available() {
    let (limiter, clock) = manual(3, millis(3), 3, OldestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 2);

    // RetryAfter: the queued request is served at slide 3, leaving 1; its 2 permits come back at
    // slide 6, when the same request would be granted.
    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(millis(6)));

    slides(&limiter, &clock, 2);
    assert_pending(&mut wait);

    slide(&limiter, &clock);
    let _lease = ready_acquired(&mut wait);

    let mut wait = enqueue(&limiter, 2);

    slides(&limiter, &clock, 2);
    assert_pending(&mut wait);
    slide(&limiter, &clock);
    let _lease = ready_acquired(&mut wait);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow (row 11)
// int.MaxValue becomes u32::MAX (difference 2) for permit_limit and queue_limit.
#[test]
fn large_acquires_and_queues_do_not_integer_overflow() {
    let (limiter, clock) = manual(u32::MAX, millis(2), 2, NewestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    assert_eq!(available(&limiter), 0);

    let mut wait = enqueue(&limiter, 3);
    let mut wait2 = enqueue(&limiter, u32::MAX);

    let _evicted = ready_failed(&mut wait);
    assert_pending(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (u64::from(u32::MAX), 1));

    slide(&limiter, &clock);
    assert_pending(&mut wait2);
    slide(&limiter, &clock);

    let _big = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 2));
}

// .NET: ThrowsWhenAcquiringMoreThanLimit (row 12)
// Difference: `Err(AcquireError::PermitLimitExceeded)` instead of ArgumentOutOfRangeException.
#[test]
fn errors_when_acquiring_more_than_limit() {
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
    let err = limiter.attempt_acquire(2).expect_err("2 > permit_limit");
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
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
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
    let _: fn(&Sliding, u32) -> Result<RateLimitLease, AcquireError> = <Sliding as RateLimiter>::attempt_acquire;
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
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
    let _: fn(&Sliding, u32) -> Acquire<'_> = <Sliding as RateLimiter>::acquire;
    let _: fn(&Sliding, u32) -> Result<RateLimitLease, AcquireError> = <Sliding as RateLimiter>::blocking_acquire;
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
    let wrapped = (-1i32).cast_unsigned();
    let expected = AcquireError::PermitLimitExceeded { requested: u32::MAX, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(wrapped))), expected);
    assert_eq!(limiter.blocking_acquire(wrapped).err(), Some(expected));
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 0));
}

// .NET: AcquireZero_WithAvailability (row 16)
#[test]
fn acquire_zero_with_availability() {
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
    let lease = limiter.attempt_acquire(0).unwrap();
    assert!(lease.is_acquired());
    // A zero-permit lease takes nothing.
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireZero_WithoutAvailability (row 17)
#[test]
fn acquire_zero_without_availability() {
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let lease2 = limiter.attempt_acquire(0).unwrap();
    assert!(!lease2.is_acquired());
    // A refused zero-permit attempt carries a RetryAfter too (difference 4): one slide of 1 ms.
    assert_eq!(lease2.retry_after(), Some(MS));
    drop(lease2); // harmless: gives nothing back
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 1));
}

// .NET: AcquireAsyncZero_WithAvailability (row 18)
#[tokio::test]
async fn acquire_async_zero_with_availability() {
    let (limiter, _clock) = manual(1, MS, 1, NewestFirst, 1);
    let lease = limiter.acquire(0).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireAsyncZero_WithoutAvailabilityWaitsForAvailability (row 19)
// The first slide frees nothing, so (.NET §2.5 step 6) the queue is not processed and the
// zero-permit request keeps waiting; the second frees the permit.
#[test]
fn acquire_async_zero_without_availability_waits_for_availability() {
    let (limiter, clock) = manual(1, millis(2), 2, NewestFirst, 1);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait = enqueue(&limiter, 0);
    // A zero-permit request adds nothing to the queued count.
    assert_eq!(queued(&limiter), 0);

    drop(lease);
    slide(&limiter, &clock);
    assert_pending(&mut wait);
    slide(&limiter, &clock);

    let _lease2 = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: CanDequeueMultipleResourcesAtOnce (row 20)
#[test]
fn can_dequeue_multiple_resources_at_once() {
    let (limiter, clock) = manual(2, millis(2), 2, OldestFirst, 4);
    let _lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    slides(&limiter, &clock, 2);

    let _lease1 = ready_acquired(&mut wait1);
    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: CanCancelAcquireAsyncAfterQueuing (row 21)
// Difference 1: cancelling is dropping the queued future (no token, no TaskCanceledException).
#[test]
fn can_cancel_acquire_after_queuing() {
    let (limiter, clock) = manual(2, millis(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    drop(wait);
    // The queued count is restored at once; cancellation is not a failed lease.
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));

    // One slide: segment 0 has not left the window yet.
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 0);
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 2);
}

// .NET: CanFillQueueWithOldestFirstAfterCancelingFirstQueuedRequestManually (row 22)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_oldest_first_after_cancelling_first_queued_request() {
    let (limiter, clock) = manual(3, millis(2), 2, OldestFirst, 3);
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 2);

    let cancelled = enqueue(&limiter, 2);
    drop(cancelled);

    let mut wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    // Segment 0's single permit leaves the window.
    slide(&limiter, &clock);

    let _lease = ready_acquired(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
}

// .NET: CanFillQueueWithNewestFirstAfterCancelingQueuedRequestWithAnotherQueuedRequest (row 23)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_newest_first_after_cancelling_queued_request() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 2);
    let _lease = take(&limiter, 2);

    let wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);
    drop(wait);
    assert_eq!(queued(&limiter), 1);

    slide(&limiter, &clock);

    let mut wait3 = enqueue(&limiter, 2);
    // wait2 is evicted to make room (the cancelled request is not counted a second time).
    let _evicted = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 1));

    slide(&limiter, &clock);

    let _lease = ready_acquired(&mut wait3);
    assert_eq!(queued(&limiter), 0);
}

// .NET: CanDisposeAfterCancelingQueuedRequest (row 24)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_dispose_after_cancelling_queued_request() {
    let (limiter, _clock) = manual(1, millis(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    limiter.dispose();

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 1));
}

// .NET: CanCancelAcquireAsyncBeforeQueuing (row 25)
// Difference 1: the analogue of a pre-cancelled token is dropping the future before its first poll:
// it never joins the queue and never takes permits.
#[test]
fn can_cancel_acquire_before_queuing() {
    let (limiter, clock) = manual(2, millis(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let never_polled = Box::pin(limiter.acquire(1));
    assert_eq!(queued(&limiter), 0);
    drop(never_polled);

    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 0);

    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 2);
    // Not even with permits available does an unpolled future take them.
    let never_polled = limiter.acquire(1);
    drop(never_polled);
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 1));
}

// .NET: CancelUpdatesQueueLimit (row 26)
// Difference 1: cancelling is dropping the future.
#[test]
fn cancel_updates_queue_limit() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 1);
    let _lease = take(&limiter, 2);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    // The freed queue space is usable at once: this request queues instead of failing.
    let mut wait = enqueue(&limiter, 1);

    slides(&limiter, &clock, 2);
    let _lease = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: NoMetadataOnAcquiredLease (row 27)
#[test]
fn no_metadata_on_acquired_lease() {
    let (limiter, _clock) = manual(1, millis(2), 2, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(lease.get(&MetadataName::RETRY_AFTER), None);
    assert_eq!(lease.retry_after(), None);
    assert_eq!(lease.reason_phrase(), None);
}

// .NET: MetadataNamesContainsAllMetadata (row 28)
// Also checked on the other kinds of lease: the name list never changes (as in .NET).
#[test]
fn metadata_names_contains_all_metadata() {
    let (limiter, _clock) = manual(1, MS, 1, OldestFirst, 1);
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
    let (limiter, _clock) = manual(1, MS, 1, OldestFirst, 3);
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
    let limiter: Arc<dyn ReplenishingRateLimiter> = Arc::new(
        SlidingWindowRateLimiter::with_clock(options(1, millis(2), 2, false, OldestFirst, 3), clock.clone()).unwrap(),
    );
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
    clock.advance(secs(1));
    assert!(limiter.try_replenish());
    assert_eq!(available(&*limiter), 0);
}

// .NET: CanAcquireResourcesWithAcquireAsyncWithQueuedItemsIfNewestFirst (row 31)
#[test]
fn can_acquire_with_acquire_with_queued_items_if_newest_first() {
    let (limiter, clock) = manual(2, millis(3), 3, NewestFirst, 2);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    assert_eq!(available(&limiter), 1);

    // NewestFirst lets a new request that fits bypass the queue.
    let _lease2 = ready_acquired(&mut Box::pin(limiter.acquire(1)));
    assert_pending(&mut wait);

    slides(&limiter, &clock, 2);
    assert_pending(&mut wait);

    // Segment 0 (both permits) leaves the window at the third slide.
    slide(&limiter, &clock);
    let _lease3 = ready_acquired(&mut wait);
}

// .NET: CannotAcquireResourcesWithAcquireAsyncWithQueuedItemsIfOldestFirst (row 32)
#[test]
fn cannot_acquire_with_acquire_with_queued_items_if_oldest_first() {
    let (limiter, clock) = manual(3, millis(2), 2, OldestFirst, 5);
    let _lease = take(&limiter, 3);

    let mut wait = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 2);

    slide(&limiter, &clock);
    assert_pending(&mut wait);
    assert_pending(&mut wait2);

    // 3 permits back: `wait` takes 2, 1 is left, not enough for wait2.
    slide(&limiter, &clock);
    let _lease = ready_acquired(&mut wait);
    assert_pending(&mut wait2);
    assert_eq!(available(&limiter), 1);

    slide(&limiter, &clock);
    assert_pending(&mut wait2);
    slide(&limiter, &clock);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(available(&limiter), 1);
}

// .NET: CanAcquireResourcesWithAcquireWithQueuedItemsIfNewestFirst (row 33)
#[test]
fn can_acquire_with_attempt_acquire_with_queued_items_if_newest_first() {
    let (limiter, clock) = manual(2, millis(2), 2, NewestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);

    let _lease2 = take(&limiter, 1);
    assert_pending(&mut wait);

    slides(&limiter, &clock, 2);

    let _lease3 = ready_acquired(&mut wait);
}

// .NET: CannotAcquireResourcesWithAcquireWithQueuedItemsIfOldestFirst (row 34)
// RetryAfter: the queued request takes both permits at slide 2; they leave the window at slide 4.
#[test]
fn cannot_acquire_with_attempt_acquire_with_queued_items_if_oldest_first() {
    let (limiter, clock) = manual(2, millis(2), 2, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    let refused = refuse(&limiter, 1);
    assert_eq!(refused.retry_after(), Some(millis(4)));

    slides(&limiter, &clock, 2);

    let _lease2 = ready_acquired(&mut wait);
}

// .NET: NullIdleDurationWhenActive (row 35)
#[test]
fn null_idle_duration_when_active() {
    let (limiter, _clock) = manual(1, millis(2), 1, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);

    let (limiter, _clock) = auto(1, millis(2), 1, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
}

// .NET: IdleDurationUpdatesWhenIdle (row 36) [T]
// Uses a ManualClock instead of a real 15 ms delay, so the durations are exact.
#[test]
fn idle_duration_updates_when_idle() {
    for (limiter, clock) in [manual(3, millis(2), 2, OldestFirst, 2), auto(3, millis(2), 2, OldestFirst, 2)] {
        let previous = limiter.idle_duration().expect("a new limiter is idle");
        assert_eq!(previous, Duration::ZERO);

        clock.advance(millis(15));

        let now = limiter.idle_duration().expect("still idle");
        assert!(now > previous);
        assert_eq!(now, millis(15));
    }
}

// .NET: IdleDurationUpdatesWhenChangingFromActive (row 37)
// (The exact value, in manual and auto mode: see the idle-duration tests further down.)
#[test]
fn idle_duration_updates_when_changing_from_active() {
    let (limiter, clock) = manual(1, millis(2), 2, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    // Segment 0 is still in the window.
    assert_eq!(limiter.idle_duration(), None);
    slide(&limiter, &clock);
    assert!(limiter.idle_duration().is_some());
}

// .NET: GetStatisticsReturnsNewInstances (row 38)
// A Rust snapshot is a value: it cannot change after it is taken, and a later one differs.
#[test]
fn statistics_returns_new_snapshots() {
    let (limiter, _clock) = manual(1, millis(2), 2, OldestFirst, 1);
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
    let (limiter, clock) = manual(100, millis(2), 2, OldestFirst, 50);
    assert_eq!(stats(&limiter), snapshot(100, 0, 0, 0));

    // Success from an attempt with permits available (segment 0).
    let _lease1 = take(&limiter, 60);
    assert_eq!(stats(&limiter), snapshot(40, 0, 0, 1));

    // Queued.
    let mut lease2_wait = enqueue(&limiter, 50);
    assert_eq!(stats(&limiter), snapshot(40, 50, 0, 1));

    // A slide that frees nothing changes nothing.
    slide(&limiter, &clock);
    assert_eq!(stats(&limiter), snapshot(40, 50, 0, 1));

    // Failure from acquire (queue full).
    let _lease3 = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(stats(&limiter), snapshot(40, 50, 1, 1));

    // Failure from attempt.
    let _refused = refuse(&limiter, 100);
    assert_eq!(stats(&limiter), snapshot(40, 50, 2, 1));

    // Segment 0's 60 permits come back: 100, of which the queued request takes 50; counted when
    // granted.
    slide(&limiter, &clock);
    let _lease2 = ready_acquired(&mut lease2_wait);
    assert_eq!(stats(&limiter), snapshot(50, 0, 2, 2));
}

// .NET: GetStatisticsWithZeroPermitCount (row 40)
#[tokio::test]
async fn statistics_with_zero_permit_count() {
    let (limiter, _clock) = manual(100, millis(3), 3, OldestFirst, 50);
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
    let (limiter, _clock) = manual(2, millis(2), 2, OldestFirst, 2);
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
// §5.5 SlidingWindowRateLimiterTests specific (5 stable)
// ---------------------------------------------------------------------------------------------

// .NET: CanAcquireMultipleRequestsAsync
#[test]
fn can_acquire_multiple_requests() {
    let (limiter, clock) = manual(4, millis(3), 3, NewestFirst, 4);
    let _lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait = enqueue(&limiter, 3);

    slide(&limiter, &clock);
    assert_pending(&mut wait);

    // NewestFirst: a request that fits bypasses the queue and is decided on its first poll.
    let _lease2 = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    slide(&limiter, &clock);

    // Nothing available; 3 of 4 queue permits used: the oldest request (3) is evicted for this one.
    let mut wait3 = enqueue(&limiter, 2);

    // Segment 0's 2 permits leave the window.
    slide(&limiter, &clock);
    let _lease3 = ready_acquired(&mut wait3);

    let evicted = ready_failed(&mut wait);
    assert_eq!(evicted.retry_after(), None);
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 3));
}

// .NET: TryReplenishWithAutoReplenish_ReturnsFalse
#[test]
fn try_replenish_with_auto_replenish_returns_false() {
    let (limiter, clock) = auto(2, secs(1), 1, OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 2);

    // Nor does it slide a drained window between boundaries.
    let _lease = take(&limiter, 2);
    clock.advance(millis(999));
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: AutoReplenish_ReplenishesCounters [T]
// Difference 3: no timer. Segment 0's permits leave the window at boundary 2 (1 s), which grants
// the waiter by the clock alone; boundary 1 (500 ms) frees nothing.
#[test]
fn auto_replenish_replenishes_counters() {
    let (limiter, clock) = auto(2, secs(1), 2, OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 2);

    let mut wait = enqueue(&limiter, 1);

    clock.advance(millis(500));
    assert_pending(&mut wait);
    clock.advance(millis(500) - NS);
    assert_pending(&mut wait);

    clock.advance(NS);
    let _lease = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 2));
}

// .NET: ReplenishingRateLimiterPropertiesHaveCorrectValues
// With one segment the period is the window, as in .NET. With more it is the segment, in whole
// nanoseconds (.NET divides whole 100 ns ticks); sub-millisecond periods are kept exactly.
#[test]
fn replenishing_rate_limiter_properties_have_correct_values() {
    let (limiter, _clock) = auto(1, secs(60), 1, OldestFirst, 2);
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(60));

    let (limiter, _clock) = manual(1, secs(2), 1, OldestFirst, 2);
    assert!(!limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(2));

    let (limiter, _clock) = manual(1, secs(1), 3, OldestFirst, 2);
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(333_333_333));

    let limiter: Arc<dyn ReplenishingRateLimiter> = Arc::new(
        SlidingWindowRateLimiter::new(options(1, Duration::from_nanos(1_500), 2, true, OldestFirst, 0)).unwrap(),
    );
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(750));
}

// .NET: AutoReplenishIgnoresTimerJitter [R]
// Difference 3 changes what "jitter" means: there is no timer to fire early or late; boundaries
// are at exactly k·segment from construction, whatever chunks the clock moves in. .NET's timer
// slid at 5 min − 1 ms, so its second take (3) landed in segment 1 and its first 3 came back at
// the next slide; here that instant is still segment 0. The same shape, on the exact grid: 3
// taken in segment 0, 3 in segment 1; each comes back exactly one window (10 min) later.
#[test]
fn auto_replenish_ignores_timer_jitter() {
    let segment = secs(300);
    let (limiter, clock) = auto(10, 2 * segment, 2, OldestFirst, 1);
    let _lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 7);

    clock.advance(segment - MS);
    assert_eq!(available(&limiter), 7);
    clock.advance(MS);
    // Boundary 1 (5 min) frees segment −1: nothing.
    assert_eq!(available(&limiter), 7);
    let _lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 4);

    clock.advance(segment - MS);
    assert_eq!(available(&limiter), 4);
    clock.advance(2 * MS);
    // Boundary 2 (10 min) frees segment 0's 3.
    assert_eq!(available(&limiter), 7);
    clock.advance(segment - MS);
    // Boundary 3 (15 min) frees segment 1's 3.
    assert_eq!(available(&limiter), 10);
    assert_eq!(clock.now_nanos(), (3 * segment).as_nanos() as u64);
}

// ---------------------------------------------------------------------------------------------
// §5.5 main-2026 RetryAfter tests (API difference 4: .NET stable has no sliding-window RetryAfter)
// ---------------------------------------------------------------------------------------------

// .NET (main-2026): RetryMetadataOnFailedWaitAsync
// Manual mode (slides × segment): segment 0's 2 permits leave the window after 4 slides of 5 s:
// 20 s, as in .NET.
#[test]
fn retry_metadata_on_failed_wait() {
    let (limiter, _clock) = manual(2, secs(20), 4, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));

    // By a name built from the string (the analogue of .NET's string overload) ...
    let by_string: MetadataName<Duration> = MetadataName::new("RETRY_AFTER");
    assert_eq!(failed.get(&by_string), Some(secs(20)));
    // ... and by the typed constant.
    assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(secs(20)));
    assert_eq!(failed.retry_after(), Some(secs(20)));
    assert_eq!(names(&failed), vec!["RETRY_AFTER"]);
    // Asking with the wrong value type yields nothing (.NET would throw InvalidCastException).
    let wrong_type: MetadataName<String> = MetadataName::new("RETRY_AFTER");
    assert_eq!(failed.get(&wrong_type), None);
    assert_eq!(failed.reason_phrase(), None);
}

// .NET (main-2026): CorrectRetryMetadataWithQueuedItem
// Difference 4 changes the number: .NET walks one window at most and says 20 s. Here the queued
// request (1) is served first: it is granted at slide 4 (20 s) from segment 0's 2 permits, leaving
// 1, and its own permit leaves the window 4 slides later: 8 slides of 5 s, 40 s.
#[test]
fn correct_retry_metadata_with_queued_item() {
    let (limiter, _clock) = manual(2, secs(20), 4, OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(secs(40)));
    assert_pending(&mut wait);
}

// .NET (main-2026): CorrectRetryMetadataWithNonZeroAvailableItems
// 1 available + segment 0's 2 after 4 slides: 20 s, as in .NET.
#[test]
fn correct_retry_metadata_with_non_zero_available_items() {
    let (limiter, _clock) = manual(3, secs(20), 4, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(3)));
    assert_eq!(failed.retry_after(), Some(secs(20)));
}

// .NET (main-2026): RetryAfterWithPartiallyElapsedSegment [R]
// .NET fakes 2 s elapsed since the last replenishment and expects 18 s. Auto mode measures from the
// clock: the permit taken at 0 leaves the window at 20 s, so 18 s at 2 s, and it is tight. Manual
// mode (difference 4) counts slides only: still 4 slides of 5 s, 20 s.
#[test]
fn retry_after_with_partially_elapsed_segment() {
    let (limiter, clock) = auto(1, secs(20), 4, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(secs(2));
    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, secs(18));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(1).unwrap());

    let (limiter, clock) = manual(1, secs(20), 4, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(secs(2));
    assert_eq!(refused_retry(&limiter, 1), secs(20));
}

// .NET (main-2026): RetryAfterClampsToZeroWhenWindowExpired [R]
// .NET fakes 25 s elapsed without a replenishment and expects RetryAfter 0. Auto mode has no such
// state: at 25 s the window has slid and the request succeeds. Manual mode (difference 4) counts
// the slides still needed, whatever the clock says: 4 slides of 5 s before any try_replenish, 3
// after one (a single call slides a single segment).
#[test]
fn retry_after_when_the_window_has_expired() {
    let (limiter, clock) = auto(1, secs(20), 4, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(secs(25));
    let _lease = take(&limiter, 1);

    let (limiter, clock) = manual(1, secs(20), 4, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(secs(25));
    assert_eq!(refused_retry(&limiter, 1), secs(20));
    assert!(limiter.try_replenish());
    assert_eq!(refused_retry(&limiter, 1), secs(15));
}

// .NET (main-2026): RetryMetadataOnFailedAttemptAcquire
#[test]
fn retry_metadata_on_failed_attempt_acquire() {
    let (limiter, _clock) = manual(2, secs(20), 4, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = refuse(&limiter, 2);
    assert_eq!(failed.retry_after(), Some(secs(20)));
    assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(secs(20)));
    assert_eq!(names(&failed), vec!["RETRY_AFTER"]);
}

// .NET (main-2026): RetryMetadataOnFailedAttemptAcquireZeroPermitCount
#[test]
fn retry_metadata_on_failed_attempt_acquire_zero_permit_count() {
    let (limiter, _clock) = manual(1, secs(20), 4, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let failed = refuse(&limiter, 0);
    assert_eq!(failed.retry_after(), Some(secs(20)));
}

// .NET (main-2026): RetryAfterAccountsForPermitsAcrossMultipleSegments [R]
// 3 taken in segment 0, a slide (2 s), 1 taken in segment 1: 2 permits come back when segment 0
// leaves, after 3 more slides (6 s), as in .NET; 4 need segment 1 too (4 slides, 8 s).
#[test]
fn retry_after_accounts_for_permits_across_multiple_segments() {
    let (limiter, clock) = manual(4, secs(8), 4, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 1);

    let failed = acquire_now(&limiter, 2);
    assert!(!failed.is_acquired());
    assert_eq!(failed.retry_after(), Some(secs(6)));
    assert_eq!(refused_retry(&limiter, 1), secs(6));
    assert_eq!(refused_retry(&limiter, 3), secs(6));
    assert_eq!(refused_retry(&limiter, 4), secs(8));
}

// .NET (main-2026): all eight RetryAfter tests above, in auto mode.
// Difference 4/9: the exact wait until the same request would be granted at once, counting the
// queued permits first (construction at 0). Each row is checked to be tight: 1 ns earlier the same
// request is refused, at retry_after it is granted. The queue limit equals the queued permits, so
// `acquire` fails at once (queue full).
#[test]
fn retry_after_table_in_auto_mode() {
    // permit_limit, window, segments, taken at 0, advance, taken then, queued, requested, expected.
    type Row = (u32, Duration, u32, u32, Duration, u32, u32, u32, Duration);
    let rows: [Row; 6] = [
        // RetryMetadataOnFailedWaitAsync / RetryMetadataOnFailedAttemptAcquire
        (2, secs(20), 4, 2, Duration::ZERO, 0, 0, 2, secs(20)),
        // CorrectRetryMetadataWithQueuedItem (.NET: 20 s)
        (2, secs(20), 4, 2, Duration::ZERO, 0, 1, 2, secs(40)),
        // CorrectRetryMetadataWithNonZeroAvailableItems
        (3, secs(20), 4, 2, Duration::ZERO, 0, 0, 3, secs(20)),
        // RetryAfterWithPartiallyElapsedSegment
        (1, secs(20), 4, 1, secs(2), 0, 0, 1, secs(18)),
        // FailsWhenQueuingMoreThanLimit_OldestFirst (row 6; .NET: the window, 2 ms)
        (1, millis(2), 2, 1, Duration::ZERO, 0, 1, 1, millis(4)),
        // RetryAfterAccountsForPermitsAcrossMultipleSegments
        (4, secs(8), 4, 3, secs(2), 1, 0, 2, secs(6)),
    ];
    for (i, (limit, window, segments, first, advance, second, queued_permits, requested, expected)) in
        rows.into_iter().enumerate()
    {
        let (limiter, clock) = auto(limit, window, segments, OldestFirst, queued_permits);
        let _first = take(&limiter, first);
        clock.advance(advance);
        let _second = (second > 0).then(|| take(&limiter, second));
        let mut wait = (queued_permits > 0).then(|| enqueue(&limiter, queued_permits));

        // Queue full (acquire) and a plain refused attempt report the same wait.
        let failed = acquire_now(&limiter, requested);
        assert!(!failed.is_acquired(), "row {i}");
        assert_eq!(failed.retry_after(), Some(expected), "row {i}: acquire");
        assert_eq!(failed.get(&MetadataName::RETRY_AFTER), Some(expected), "row {i}");
        assert_eq!(refused_retry(&limiter, requested), expected, "row {i}: attempt");

        let _granted = assert_retry_after_is_tight(&clock, expected, || limiter.attempt_acquire(requested).unwrap());
        if let Some(wait) = wait.as_mut() {
            let _queued = ready_acquired(wait);
        }
    }

    // RetryMetadataOnFailedAttemptAcquireZeroPermitCount (attempt only: acquire(0) would queue).
    let (limiter, clock) = auto(1, secs(20), 4, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    let retry = refused_retry(&limiter, 0);
    assert_eq!(retry, secs(20));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Bad input and disposal errors
// ---------------------------------------------------------------------------------------------

// .NET: (constructor validation, §1.3) — the default options value is invalid, and the fields are
// checked in .NET's order: permit_limit, segments_per_window, window.
#[test]
fn default_options_are_rejected_in_field_order() {
    let err =
        SlidingWindowRateLimiter::new(SlidingWindowRateLimiterOptions::default()).expect_err("default is invalid");
    assert_eq!(err.to_string(), "permit_limit must be greater than 0");

    let o = SlidingWindowRateLimiterOptions { permit_limit: 1, ..Default::default() };
    assert_eq!(o.validate().unwrap_err().to_string(), "segments_per_window must be greater than 0");
    let o = SlidingWindowRateLimiterOptions { permit_limit: 1, segments_per_window: 1, ..Default::default() };
    assert_eq!(o.validate().unwrap_err().to_string(), "window must be greater than 0");
    let o =
        SlidingWindowRateLimiterOptions { permit_limit: 1, segments_per_window: 1, window: NS, ..Default::default() };
    assert_eq!(o.validate(), Ok(()));
    // Defaults as in .NET: auto-replenishing, OldestFirst, no queue.
    assert!(o.auto_replenishment);
    assert_eq!(o.queue_processing_order, OldestFirst);
    assert_eq!(o.queue_limit, 0);
}

// .NET: (none; .NET's Timer caps periods at 49.7 days and a zero segment is possible there) — the
// window's bounds: exactly u64::MAX ns is accepted, and so is a window of exactly
// segments_per_window ns (1 ns segments); a segment is the window divided in whole nanoseconds.
#[test]
fn window_bounds() {
    let (limiter, _clock) = auto(1, Duration::from_nanos(u64::MAX), 1, OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(u64::MAX));
    let _lease = take(&limiter, 1);
    assert_eq!(refused_retry(&limiter, 1), Duration::from_nanos(u64::MAX));

    let (limiter, clock) = auto(2, Duration::from_nanos(3), 3, OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), NS);
    let _lease = take(&limiter, 2);
    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, Duration::from_nanos(3));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());

    // 1 s in 3 segments of 333 333 333 ns: the window slides by whole segments, so a permit comes
    // back after 999 999 999 ns.
    let (limiter, clock) = auto(1, secs(1), 3, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, Duration::from_nanos(999_999_999));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(1).unwrap());
}

// .NET: (§1.3 per-call validation, rule 3) — the limit check comes before the disposed check.
// Difference: `PermitLimitExceeded` / `Disposed` errors instead of exceptions.
#[test]
fn permit_limit_exceeded_is_checked_before_disposed() {
    for (limiter, _clock) in [manual(3, MS, 1, OldestFirst, 5), auto(3, millis(2), 2, NewestFirst, 5)] {
        limiter.dispose();
        let expected = AcquireError::PermitLimitExceeded { requested: 4, limit: 3 };
        assert_eq!(limiter.attempt_acquire(4).err(), Some(expected.clone()));
        assert_eq!(ready_err(&mut Box::pin(limiter.acquire(4))), expected.clone());
        assert_eq!(limiter.blocking_acquire(4).err(), Some(expected));
    }
}

// .NET: (§1.3 rule 4, §2.1 R7) — after dispose every acquisition fails, including zero permits
// with permits available.
// Difference: `Err(AcquireError::Disposed)` instead of ObjectDisposedException.
#[test]
fn acquisitions_after_dispose_are_errors() {
    for (limiter, clock) in [manual(3, MS, 1, OldestFirst, 5), auto(3, millis(2), 2, NewestFirst, 5)] {
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

// .NET: (§2.1 R7, §2.5 TryReplenish) — after dispose, TryReplenish returns true in manual mode but
// slides nothing, and false in auto mode; IdleDuration still answers.
#[test]
fn try_replenish_after_dispose() {
    let (limiter, clock) = manual(4, MS, 1, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 1);
    clock.advance(secs(10));
    assert!(limiter.try_replenish());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));

    let (limiter, clock) = auto(4, MS, 1, OldestFirst, 0);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(!limiter.try_replenish());
    assert_eq!(limiter.idle_duration(), Some(secs(10)));
}

// ---------------------------------------------------------------------------------------------
// RetryAfter (API differences 4 and 9)
// ---------------------------------------------------------------------------------------------

/// A 6-permit, 6 s window of three 2 s segments (auto mode) holding 1 permit from segment 0
/// (taken at 0.5 s), 2 from segment 1 (2.5 s) and 3 from segment 2 (5 s); the clock reads 5.5 s.
/// The permits come back 1 at 6 s, 2 more at 8 s and 3 more at 10 s.
fn spread_over_three_segments() -> (Sliding, ManualClock) {
    let (limiter, clock) = auto(6, secs(6), 3, OldestFirst, 0);
    clock.advance(millis(500));
    let _lease = take(&limiter, 1);
    clock.advance(secs(2));
    let _lease = take(&limiter, 2);
    clock.advance(millis(2_500));
    let _lease = take(&limiter, 3);
    clock.advance(millis(500));
    assert_eq!(available(&limiter), 0);
    (limiter, clock)
}

// .NET: (none) — API difference 4: tightness of retry_after in auto mode with permits spread over
// several segments: each request is told the boundary at which enough of them have come back,
// and that is exact (1 ns earlier refused, then granted).
#[test]
fn retry_after_is_tight_in_auto_mode() {
    for (permits, expected) in [(0, millis(500)), (1, millis(500)), (2, millis(2_500)), (3, millis(2_500))] {
        let (limiter, clock) = spread_over_three_segments();
        let retry = refused_retry(&limiter, permits);
        assert_eq!(retry, expected, "{permits} permits");
        let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(permits).unwrap());
    }
    for permits in [4, 6] {
        let (limiter, clock) = spread_over_three_segments();
        let retry = refused_retry(&limiter, permits);
        assert_eq!(retry, millis(4_500), "{permits} permits");
        let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(permits).unwrap());
    }

    // A queue-full failure (no queue at all) reports the same wait, and `acquire` succeeds then.
    let (limiter, clock) = spread_over_three_segments();
    let failed = acquire_now(&limiter, 3);
    assert!(!failed.is_acquired());
    assert_eq!(failed.retry_after(), Some(millis(2_500)));
    let _lease = assert_retry_after_is_tight(&clock, millis(2_500), || acquire_now(&limiter, 3));

    // Some permits available: only the missing ones are waited for (3 + 1 from segment 0).
    let (limiter, clock) = auto(6, secs(6), 3, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(millis(4_100));
    let _lease = take(&limiter, 2);
    let retry = refused_retry(&limiter, 4);
    assert_eq!(retry, millis(1_900));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(4).unwrap());
}

// .NET: (none) — API difference 4 in manual mode: the number of slides needed times the segment,
// walking the segments in the order they leave the window; the time since the last slide does
// not count.
#[test]
fn retry_after_in_manual_mode_counts_slides() {
    let (limiter, clock) = manual(6, secs(6), 3, OldestFirst, 0);
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 2);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 3);
    // Segment 0 leaves at the next slide, segment 1 at the second, segment 2 at the third.
    for (permits, slides) in [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (6, 3)] {
        assert_eq!(refused_retry(&limiter, permits), secs(2 * slides), "{permits} permits");
    }
    clock.advance(millis(1_500));
    assert_eq!(refused_retry(&limiter, 2), secs(4));

    // The slide count is what it takes: after two slides, 3 permits are there.
    slides(&limiter, &clock, 2);
    let _lease = take(&limiter, 3);
}

// .NET: (none) — API difference 4 with a request queued ahead (OldestFirst), within one window:
// the queued permits are served first. 4 permits, 4 s window of 1 s segments: 1 taken in segment
// 0, 1 in segment 1, 2 in segment 2; 2 permits queued; an attempt for 1 at 2.5 s needs 3 permits
// back: 4 s (+1), 5 s (+1, the queued request is served), 6 s (+2): 3.5 s.
#[test]
fn retry_after_is_tight_with_a_queued_request_ahead() {
    let (limiter, clock) = auto(4, secs(4), 4, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    clock.advance(secs(1));
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 2);
    let (woken, waker) = CountingWaker::new();
    let mut wait = enqueue_with(&limiter, 2, &waker);

    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, millis(3_500));
    let full = acquire_now(&limiter, 1);
    assert_eq!(full.retry_after(), Some(millis(3_500)));

    // The queued request is granted at 5 s by the clock alone.
    clock.advance(millis(2_500) - NS);
    assert_pending_with(&mut wait, &waker);
    let before = woken.count();
    clock.advance(NS);
    assert!(woken.count() > before, "the clock wakes the queued request at its boundary");
    let _queued = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 0);

    // 6 s brings segment 2's 2 permits back; the request takes 1.
    let _lease = assert_retry_after_is_tight(&clock, secs(1), || limiter.attempt_acquire(1).unwrap());
    assert_eq!(stats(&limiter), snapshot(1, 0, 3, 5));
}

// .NET: (none) — API difference 4/9 behind a queue when the queued request's own permits must
// leave the window before the request fits. 2 permits, 2 s window of 1 s segments: 1 taken in
// segment 0, 1 in segment 1; 1 permit queued (OldestFirst); attempt(2) at 1.5 s. Boundary 2 s
// frees 1, which the queued request takes (segment 2); 3 s frees 1; 4 s frees the queued request's
// permit: 2 available. The same request succeeds at 4 s: retry_after must be 2.5 s (manual mode:
// 3 slides × 1 s).
#[test]
fn retry_after_behind_a_queue_counts_the_queued_permits_own_expiry() {
    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let retry = refused_retry(&limiter, 2);
    let full = acquire_now(&limiter, 2);
    // Observed here: 3.5 s for both.
    assert_eq!((retry, full.retry_after()), (millis(2_500), Some(millis(2_500))));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());
    let _queued = ready_acquired(&mut wait);

    let (limiter, clock) = manual(2, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    // Observed here: 4 s.
    assert_eq!(refused_retry(&limiter, 2), secs(3));
    slides(&limiter, &clock, 3);
    let _queued = ready_acquired(&mut wait);
    let _lease = take(&limiter, 2);
}

// .NET: (§2.1 R3 with API difference 4) — a zero-permit request ignores the queue: it succeeds as
// soon as any permit is available, even with OldestFirst and requests waiting. 2 permits, 2 s
// window of 1 s segments, 1 taken in segment 0 and 1 in segment 1, 2 permits queued: the boundary
// at 2 s frees 1 permit, which the queued request (2) cannot use, so attempt(0) succeeds at 2 s.
#[test]
fn zero_permit_retry_after_ignores_the_queue() {
    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 2);

    let retry = refused_retry(&limiter, 0);
    assert_eq!(retry, millis(500));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    assert_pending(&mut wait);
    assert_eq!(stats(&limiter), snapshot(1, 2, 2, 3));
}

// .NET: (§2.1 R3/R9 with API difference 4) — the other side of the test above: when the queued
// request does fit the permits that come back, it takes them in the same pass (queued requests are
// served first), and a zero-permit attempt at that instant is refused. 1 permit, 2 s window of 1 s
// segments, taken at 0; 1 permit queued; attempt(0) at 0. At 2 s the queued request takes the
// permit (segment 2), which comes back at 4 s: retry_after must be 4 s (manual: 4 slides, 4 s).
#[test]
fn zero_permit_retry_after_counts_queued_requests_that_fit() {
    let (limiter, clock) = auto(1, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let retry = refused_retry(&limiter, 0);
    // Observed here: 2 s.
    assert_eq!(retry, secs(4));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    let _queued = ready_acquired(&mut wait);

    let (limiter, _clock) = manual(1, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let _wait = enqueue(&limiter, 1);
    assert_eq!(refused_retry(&limiter, 0), secs(4));
}

// .NET: (none) — a refused request in auto mode is never told zero: the boundary it waits for is
// always in the future (the next boundary at the latest is one segment away).
#[test]
fn retry_after_is_never_zero_in_auto_mode() {
    let (limiter, clock) = auto(3, secs(3), 3, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    clock.advance(secs(3) - NS);
    assert_eq!(refused_retry(&limiter, 1), NS);
    assert_eq!(refused_retry(&limiter, 0), NS);
    clock.advance(NS);
    let _lease = take(&limiter, 3);
    assert_eq!(refused_retry(&limiter, 1), secs(3));
}

// ---------------------------------------------------------------------------------------------
// Lazy, exact auto replenishment (API difference 3)
// ---------------------------------------------------------------------------------------------

// .NET: (none) — N elapsed boundaries act as N timer ticks, each sliding one segment: one advance
// over several boundaries equals separate advances, in permits and in when the next boundary is.
#[test]
fn elapsed_boundaries_apply_exactly_however_the_clock_moves() {
    let setup = || {
        let (limiter, clock) = auto(10, secs(4), 4, OldestFirst, 0);
        for permits in [1, 2, 3, 4] {
            let _lease = take(&limiter, permits);
            clock.advance(secs(1));
        }
        // 4 s: segment 0's 1 permit has come back.
        assert_eq!(available(&limiter), 1);
        (limiter, clock)
    };
    let (at_once, clock_a) = setup();
    let (stepwise, clock_b) = setup();

    clock_a.advance(millis(2_500));
    for step in [secs(1), secs(1), millis(500)] {
        clock_b.advance(step);
        let _ = available(&stepwise);
    }
    // 6.5 s: segments 1 and 2 have come back too (1 + 2 + 3).
    assert_eq!(available(&at_once), 6);
    assert_eq!(stats(&at_once), stats(&stepwise));

    // Segment 3's 4 permits come back at 7 s in both.
    for (limiter, clock) in [(&at_once, &clock_a), (&stepwise, &clock_b)] {
        clock.advance(millis(500) - NS);
        assert_eq!(available(limiter), 6);
        clock.advance(NS);
        assert_eq!(available(limiter), 10);
    }
}

// .NET: (none) — difference 3: the segment grid is fixed at construction; acquisitions, refusals
// and reads at arbitrary times never move it. A permit comes back one window after the start of
// the segment it was taken in, not one window after it was taken.
#[test]
fn boundaries_stay_on_the_construction_grid() {
    let (limiter, clock) = auto(2, secs(10), 2, OldestFirst, 0);
    clock.advance(secs(4));
    let _lease = take(&limiter, 2);
    // Taken in segment 0 (0–5 s): back at 10 s, 6 s after the take.
    assert_eq!(refused_retry(&limiter, 1), secs(6));
    clock.advance(secs(3));
    let _refused = refuse(&limiter, 1);
    clock.advance(secs(3) - NS);
    let _refused = refuse(&limiter, 1);
    clock.advance(NS);
    let _lease = take(&limiter, 1);
    // 10 s: taken in segment 2 (10–15 s), back at 20 s.
    clock.advance(millis(9_999));
    let _lease = take(&limiter, 1);
    // 19.999 s: taken in segment 3, back at 25 s.
    assert_eq!(refused_retry(&limiter, 1), millis(1));
    assert_eq!(refused_retry(&limiter, 2), millis(5_001));
}

// .NET: (R10 with difference 3) — idle_duration after the window becomes whole is the time since
// the boundary at which the last permits came back, however late it is read; a take makes it busy,
// and the boundary that frees it restarts the idle time there. Zero-permit requests and slides
// that free nothing do not touch it (.NET's early exit when a slide frees 0).
#[test]
fn idle_duration_counts_from_the_boundary_at_which_the_window_became_whole() {
    let (limiter, clock) = auto(10, secs(4), 4, OldestFirst, 0);
    clock.advance(millis(2_000));
    assert_eq!(limiter.idle_duration(), Some(secs(2)), "idle from construction");

    let _lease = take(&limiter, 3);
    clock.advance(secs(1));
    let _lease = take(&limiter, 4);
    // 3 permits back at 6 s, 4 more at 7 s.
    clock.advance(millis(3_500));
    assert_eq!(limiter.idle_duration(), None);
    assert_eq!(available(&limiter), 6);
    clock.advance(millis(3_800));
    // 10.3 s, read for the first time since the window became whole at 7 s.
    assert_eq!(limiter.idle_duration(), Some(millis(3_300)));

    // A take at 10.3 s (segment 10) comes back at 14 s.
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(millis(3_700) - NS);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(NS + millis(1_250));
    assert_eq!(limiter.idle_duration(), Some(millis(1_250)));

    // Zero-permit acquisitions do not touch it.
    let _zero = take(&limiter, 0);
    assert_eq!(limiter.idle_duration(), Some(millis(1_250)));
}

// .NET: (R10) — in manual mode the window becomes whole at the slide that frees its last permits:
// idle since that slide (.NET sets idleSince to the replenishment time), not since construction
// or since the clock's origin. The limiter is built at 50 s on the clock.
#[test]
fn idle_duration_in_manual_mode_counts_from_the_slide_that_made_the_window_whole() {
    let clock = ManualClock::new();
    clock.advance(secs(50));
    let limiter =
        SlidingWindowRateLimiter::with_clock(options(2, secs(2), 2, false, OldestFirst, 0), clock.clone()).unwrap();
    clock.advance(secs(100));
    assert_eq!(limiter.idle_duration(), Some(secs(100)));
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    assert_eq!(limiter.idle_duration(), None);
    slide(&limiter, &clock);
    // The slide at 152 s freed the permit. Observed here: Some(152 s).
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
    clock.advance(millis(7));
    assert_eq!(limiter.idle_duration(), Some(millis(7)));
}

// .NET: (R10) — a slide that frees nothing leaves idle_duration alone (.NET returns early when the
// expiring segment is empty); so does a try_replenish that does not slide.
#[test]
fn slides_that_free_nothing_keep_the_idle_time() {
    let (limiter, clock) = manual(2, secs(2), 2, OldestFirst, 0);
    clock.advance(secs(5));
    assert!(limiter.try_replenish());
    assert!(limiter.try_replenish());
    clock.advance(secs(1));
    assert!(limiter.try_replenish());
    assert_eq!(limiter.idle_duration(), Some(secs(6)));

    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 0);
    clock.advance(secs(5));
    assert_eq!(limiter.idle_duration(), Some(secs(5)));
}

// .NET: (R10) — a new limiter is idle from construction in both modes, even if created long after
// the clock's origin; the segment grid starts at construction too.
#[test]
fn new_limiter_is_idle_from_construction() {
    for auto_replenishment in [false, true] {
        let clock = ManualClock::new();
        clock.advance(secs(1_000));
        let limiter = SlidingWindowRateLimiter::with_clock(
            options(1, secs(2), 2, auto_replenishment, OldestFirst, 0),
            clock.clone(),
        )
        .unwrap();
        assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
        clock.advance(millis(500));
        assert_eq!(limiter.idle_duration(), Some(millis(500)));
        let _lease = take(&limiter, 1);
        if auto_replenishment {
            // Taken in segment 0 (1000–1001 s): back at 1002 s.
            assert_eq!(refused_retry(&limiter, 1), millis(1_500));
        } else {
            // The first try_replenish may slide once a segment has passed since construction.
            clock.advance(millis(499));
            assert!(limiter.try_replenish());
            clock.advance(millis(1_001));
            assert!(limiter.try_replenish());
            assert_eq!(available(&limiter), 0, "only one slide has happened");
        }
    }
}

// .NET: (none) — difference 3: the clock alone grants queued requests, boundary by boundary. 4
// permits, 4 s window of 1 s segments, 1 permit taken in segment 0, 1 in segment 1, 2 in segment
// 2; OldestFirst queue [1, 2, 1] at 2.5 s. Boundary 4 s frees 1: the first is granted; 5 s frees
// 1: the second (2) waits; 6 s frees 2: the second and the third are granted. Each boundary wakes
// the task of the request it serves.
#[test]
fn queued_requests_are_granted_at_their_boundaries_by_the_clock_alone() {
    let (limiter, clock) = busy_window_of_four();
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 1, &k1);
    let mut w2 = enqueue_with(&limiter, 2, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);

    let before = c1.count();
    clock.advance(millis(1_500) - NS);
    assert_pending_with(&mut w1, &k1);
    clock.advance(NS);
    assert!(c1.count() > before, "boundary 4 s wakes the first request");
    assert!(poll_with(&mut w1, &k1).expect("granted at 4 s").unwrap().is_acquired());
    assert_pending_with(&mut w2, &k2);
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(0, 3, 0, 4));

    clock.advance(secs(1));
    assert_pending_with(&mut w2, &k2);
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 4));

    let before = (c2.count(), c3.count());
    clock.advance(secs(1));
    assert!(c2.count() > before.0, "boundary 6 s wakes the second request");
    assert!(poll_with(&mut w2, &k2).expect("granted at 6 s").unwrap().is_acquired());
    assert!(c3.count() > before.1, "the pass that served the second request wakes the third");
    assert!(poll_with(&mut w3, &k3).expect("granted at 6 s").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 6));

    // The grants were recorded in their boundaries' segments: the first's permit comes back at
    // 8 s, the others' at 10 s.
    assert_permits_return_by_segment(&limiter, &clock);
}

/// 4 permits, a 4 s window of 1 s segments (auto): 1 permit taken in segment 0, 1 in segment 1,
/// 2 in segment 2; the clock reads 2.5 s, nothing is available. They come back 1 at 4 s, 1 at 5 s
/// and 2 at 6 s.
fn busy_window_of_four() -> (Sliding, ManualClock) {
    let (limiter, clock) = auto(4, secs(4), 4, OldestFirst, 4);
    let _lease = take(&limiter, 1);
    clock.advance(secs(1));
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 2);
    assert_eq!(available(&limiter), 0);
    (limiter, clock)
}

/// After the queue [1, 2, 1] on [`busy_window_of_four`] was served at 4 s, 6 s and 6 s, with the
/// clock at 6 s or later (but before 8 s): 1 permit comes back at 8 s and 3 at 10 s.
#[track_caller]
fn assert_permits_return_by_segment(limiter: &Sliding, clock: &ManualClock) {
    let now = Duration::from_nanos(clock.now_nanos());
    assert!(now >= secs(6) && now < secs(8), "{now:?}");
    assert_eq!(available(limiter), 0);
    clock.advance(secs(8) - now - NS);
    assert_eq!(available(limiter), 0);
    clock.advance(NS);
    assert_eq!(available(limiter), 1);
    clock.advance(secs(2) - NS);
    assert_eq!(available(limiter), 1);
    clock.advance(NS);
    assert_eq!(available(limiter), 4);
}

// .NET: (none) — difference 3: "N elapsed boundaries act as N timer ticks" with requests queued.
// One advance over the boundaries at 4 s, 5 s and 6 s of the queue above must grant all three, each
// at its own boundary and recorded in that boundary's segment, as three advances do (the clock
// wakes the head, whose poll serves the queue and wakes the others); statistics read without
// polling must see the same; stopping between 5 s and 6 s grants only the first.
#[test]
fn one_advance_over_several_boundaries_serves_each_boundary_in_order() {
    let (limiter, clock) = busy_window_of_four();
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 1, &k1);
    let mut w2 = enqueue_with(&limiter, 2, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);
    let before = (c1.count(), c2.count(), c3.count());
    clock.advance(millis(4_000));
    assert!(c1.count() > before.0, "the clock wakes the head of the queue");
    assert!(poll_with(&mut w1, &k1).expect("granted").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 6));
    assert!(c2.count() > before.1 && c3.count() > before.2, "the pass that served the queue wakes the others");
    let _l2 = ready_acquired(&mut w2);
    let _l3 = ready_acquired(&mut w3);
    assert_permits_return_by_segment(&limiter, &clock);

    // Nobody polls: statistics alone see the queue served at its boundaries.
    let (limiter, clock) = busy_window_of_four();
    let mut w1 = enqueue(&limiter, 1);
    let mut w2 = enqueue(&limiter, 2);
    let mut w3 = enqueue(&limiter, 1);
    clock.advance(millis(4_500));
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 6));
    let _l3 = ready_acquired(&mut w3);
    let _l2 = ready_acquired(&mut w2);
    let _l1 = ready_acquired(&mut w1);
    assert_permits_return_by_segment(&limiter, &clock);

    // Stopping between 5 s and 6 s after one advance: only the first is granted.
    let (limiter, clock) = busy_window_of_four();
    let mut w1 = enqueue(&limiter, 1);
    let mut w2 = enqueue(&limiter, 2);
    let mut w3 = enqueue(&limiter, 1);
    clock.advance(millis(3_500) - NS);
    let _l1 = ready_acquired(&mut w1);
    assert_pending(&mut w2);
    assert_pending(&mut w3);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 4));
    clock.advance(NS);
    let _l2 = ready_acquired(&mut w2);
    let _l3 = ready_acquired(&mut w3);
}

// .NET: (none) — NewestFirst at boundaries: the newest request is served first and blocks older
// ones while it does not fit. 2 permits, 2 s window of 1 s segments, 1 taken in segment 0 and 1 in
// segment 1; queue [a 1, b 2, c 1] (c newest). 2 s frees 1: c; 3 s frees 1, which b (2) cannot
// use, blocking a; 4 s frees c's permit: b; 5 s frees nothing; 6 s frees b's 2: a, 1 left. Tick
// by tick, and in one advance.
#[test]
fn newest_first_queued_requests_are_granted_at_their_boundaries() {
    let setup = || {
        let (limiter, clock) = auto(2, secs(2), 2, NewestFirst, 4);
        let _lease = take(&limiter, 1);
        clock.advance(secs(1));
        let _lease = take(&limiter, 1);
        (limiter, clock)
    };
    let (limiter, clock) = setup();
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);

    clock.advance(secs(1));
    let _c = ready_acquired(&mut c);
    assert_pending(&mut b);
    clock.advance(secs(1));
    assert_pending(&mut b);
    assert_pending(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 3));
    clock.advance(secs(1));
    let _b = ready_acquired(&mut b);
    assert_pending(&mut a);
    clock.advance(secs(1));
    assert_pending(&mut a);
    clock.advance(secs(1));
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 5));

    let (limiter, clock) = setup();
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);
    clock.advance(secs(5));
    let _c = ready_acquired(&mut c);
    let _b = ready_acquired(&mut b);
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 5));
    // a's permit (segment 6) comes back at 8 s, with the 1 left: whole again.
    clock.advance(secs(2) - NS);
    assert_eq!(available(&limiter), 1);
    clock.advance(NS);
    assert_eq!(available(&limiter), 2);
}

// .NET: (none) — difference 3: when a waiter's boundary has passed, it was granted at that
// boundary; a newcomer arriving later cannot take the permits first, in either order.
#[test]
fn newcomer_cannot_take_permits_a_due_waiter_was_granted() {
    for order in [OldestFirst, NewestFirst] {
        let (limiter, clock) = auto(2, secs(2), 2, order, 2);
        let _lease = take(&limiter, 2);
        let mut wait = enqueue(&limiter, 2);
        clock.advance(millis(2_500));
        // Nobody has polled the waiter since its boundary (2 s); its permits come back at 4 s.
        let refused = refuse(&limiter, 1);
        assert_eq!(refused.retry_after(), Some(millis(1_500)), "{order:?}");
        let _granted = ready_acquired(&mut wait);
        assert_eq!(stats(&limiter), snapshot(0, 0, 1, 2), "{order:?}");
    }
}

// .NET: AutoReplenish_ReplenishesCounters, for a real executor: tasks awaiting `acquire` on a
// multi-threaded runtime complete when the ManualClock reaches their boundaries, with nobody
// polling by hand (the queue [1, 2, 1] above: 4 s, 6 s, 6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_the_clock() {
    let (limiter, clock) = busy_window_of_four();
    let limiter = Arc::new(limiter);
    let tasks = spawn_queued(&limiter, &[1, 2, 1]);

    clock.advance(millis(1_500));
    wait_until(|| tasks[0].is_finished());
    clock.advance(secs(1));
    assert_eq!(queued(&*limiter), 3);
    assert!(!tasks[1].is_finished() && !tasks[2].is_finished());
    clock.advance(secs(1));
    wait_until(|| tasks.iter().all(|t| t.is_finished()));
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(0, 0, 0, 6));
}

/// Spawns one task per entry awaiting `acquire(permits)`, each queued before the next is spawned.
fn spawn_queued(
    limiter: &Arc<Sliding>,
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

// .NET: AutoReplenish_ReplenishesCounters (real executor) with one advance over all three
// boundaries: every task completes. Waits with a real-time deadline (wait_until panics after 20 s)
// instead of hanging when a task is never released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_one_advance_over_their_boundaries() {
    let (limiter, clock) = busy_window_of_four();
    let limiter = Arc::new(limiter);
    let tasks = spawn_queued(&limiter, &[1, 2, 1]);

    clock.advance(secs(4));

    wait_until(|| tasks.iter().all(|t| t.is_finished()));
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(0, 0, 0, 6));
    assert_permits_return_by_segment(&limiter, &clock);
}

// ---------------------------------------------------------------------------------------------
// blocking_acquire on a ManualClock-driven auto window
// ---------------------------------------------------------------------------------------------

// .NET: (none; AcquireAsync waiting, for plain threads) — a thread parked in blocking_acquire is
// released when the clock reaches the boundary at which the permit comes back, and not before.
#[test]
fn blocking_acquire_is_released_by_the_clock() {
    let (limiter, clock) = auto(1, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let blocked = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);

        // Boundary 1 (1 s) frees nothing.
        clock.advance(secs(2) - NS);
        assert_eq!(queued(&limiter), 1, "still waiting 1 ns before the boundary");
        assert!(!blocked.is_finished());

        clock.advance(NS);

        let granted = blocked.join().expect("no panic").expect("no error");
        assert!(granted.is_acquired());
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — two blocked threads, one advance over both their boundaries: both are released,
// each at its own boundary (recorded in that boundary's segment), as two advances would. 2
// permits, 2 s window of 1 s segments, 1 taken in segment 0 and 1 in segment 1 (at 1.5 s). One
// advance to 3.5 s: 2 s frees 1 (first thread), 3 s frees 1 (second). Their permits come back at
// 4 s and 5 s. Waits with a real-time deadline (wait_until panics after 20 s) instead of hanging
// when a thread is never released.
#[test]
fn blocking_acquires_are_released_by_one_advance_over_their_boundaries() {
    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 2);
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
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
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 4));
    clock.advance(millis(500) - NS);
    assert_eq!(available(&limiter), 0);
    clock.advance(NS);
    assert_eq!(available(&limiter), 1);
    clock.advance(secs(1));
    assert_eq!(available(&limiter), 2);
}

// .NET: DisposeReleasesQueuedAcquires, for a thread blocked on an auto window.
#[test]
fn blocking_acquire_is_released_by_dispose() {
    let (limiter, _clock) = auto(1, secs(2), 2, OldestFirst, 1);
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
    let (limiter, _clock) = auto(1, secs(2), 2, OldestFirst, 0);
    assert!(limiter.blocking_acquire(1).unwrap().is_acquired());
    let refused = limiter.blocking_acquire(1).unwrap();
    assert!(!refused.is_acquired());
    assert_eq!(refused.retry_after(), Some(secs(2)));
}

// ---------------------------------------------------------------------------------------------
// Years of idle time, u32::MAX, and the number of segments
// ---------------------------------------------------------------------------------------------

const FIFTY_YEARS: Duration = Duration::from_secs(50 * 365 * 86_400 + 12 * 86_400);

// .NET: (none) — years of idle time in auto mode: the window is exactly whole again (never more),
// nothing panics or wraps, idle_duration counts from the boundary at which it became whole, and
// retry_after stays exact on the construction grid afterwards.
#[test]
fn years_of_idle_time_make_the_window_whole_exactly_in_auto_mode() {
    let (limiter, clock) = auto(5, secs(4), 4, OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 3);

    clock.advance(FIFTY_YEARS + millis(250));
    assert_eq!(available(&limiter), 5);
    // Segment 1's 3 permits came back at 5 s.
    assert_eq!(limiter.idle_duration(), Some(FIFTY_YEARS + millis(1_750) - secs(5)));
    let _lease = take(&limiter, 5);
    // Taken 0.75 s into a segment: back one window after the segment's start.
    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, millis(3_250));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(5).unwrap());

    // Half of the clock's range in one step.
    clock.advance(Duration::from_nanos(u64::MAX / 2));
    assert_eq!(available(&limiter), 5);
    let _lease = take(&limiter, 5);
    let retry = refused_retry(&limiter, 1);
    assert!(retry > secs(3) && retry <= secs(4), "{retry:?}");
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(1).unwrap());

    // To the end of the clock's range (it saturates at u64::MAX ns): still exactly whole.
    clock.advance(Duration::MAX);
    assert_eq!(clock.now_nanos(), u64::MAX);
    assert_eq!(available(&limiter), 5);
    assert!(limiter.idle_duration().is_some());
}

// .NET: (none) — at the end of a clock's range (u64::MAX ns, where a ManualClock saturates) time
// stands still and no boundary is due, so a drained window must stay drained. With three segments
// of u64::MAX / 3 ns, the boundary that would free segment 0 is exactly at u64::MAX, the end of
// the range, where no boundary is ever due.
#[test]
fn saturated_clock_does_not_create_phantom_boundaries() {
    let (limiter, clock) = auto(5, secs(4), 4, OldestFirst, 0);
    clock.advance(Duration::MAX);
    assert_eq!(available(&limiter), 5);
    let _lease = take(&limiter, 5);
    assert_eq!(available(&limiter), 0);
    let _refused = refuse(&limiter, 1);

    let (limiter, clock) = auto(1, Duration::from_nanos(u64::MAX), 3, OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(u64::MAX / 3));
    let _lease = take(&limiter, 1);
    clock.advance(Duration::MAX);
    let _refused = refuse(&limiter, 1);
    let _refused = refuse(&limiter, 1);
    assert_eq!(available(&limiter), 0);
}

// .NET: (none) — years of idle time with a request queued and a u32::MAX window of 1 ns segments:
// the waiter is granted at its boundary and the window is then exactly whole.
#[test]
fn years_of_idle_time_with_queued_request_and_large_limits() {
    let (limiter, clock) = auto(u32::MAX, Duration::from_nanos(2), 2, OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    let mut wait = enqueue(&limiter, u32::MAX);
    clock.advance(FIFTY_YEARS);
    let _granted = ready_acquired(&mut wait);
    // Granted at 2 ns; its permits came back at 4 ns.
    assert_eq!(stats(&limiter), snapshot(u64::from(u32::MAX), 0, 0, 2));
    assert_eq!(limiter.idle_duration(), Some(FIFTY_YEARS - Duration::from_nanos(4)));
}

// .NET: (§2.5 "no catch-up") — manual mode after years: one try_replenish slides one segment, no
// more; the window becomes whole only after segments_per_window slides, and never exceeds the limit.
#[test]
fn years_of_idle_time_in_manual_mode_slide_one_segment_per_call() {
    let (limiter, clock) = manual(5, secs(4), 4, OldestFirst, 0);
    let _lease = take(&limiter, 5);
    clock.advance(FIFTY_YEARS);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
    slides(&limiter, &clock, 2);
    assert_eq!(available(&limiter), 0);
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 5);
    slides(&limiter, &clock, 4);
    assert_eq!(stats(&limiter), snapshot(5, 0, 0, 1));

    // The whole clock range in one step: still one slide.
    let _lease = take(&limiter, 5);
    clock.advance(Duration::MAX);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow, in auto mode, with a queue of u32::MAX permits
// and a queue-full failure whose RetryAfter needs more than u32::MAX permits back.
#[test]
fn u32_max_limits_in_auto_mode() {
    let (limiter, clock) = auto(u32::MAX, secs(2), 2, OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    assert_eq!(refused_retry(&limiter, u32::MAX), secs(2));

    let mut wait = enqueue(&limiter, u32::MAX);
    assert_eq!(queued(&limiter), u64::from(u32::MAX));
    // u32::MAX queued + 1 requested: the queue is served at 2 s, its permits come back at 4 s.
    let full = acquire_now(&limiter, 1);
    assert!(!full.is_acquired());
    assert_eq!(full.retry_after(), Some(secs(4)));

    clock.advance(secs(2));
    let _big = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(0, 0, 2, 2));
    let _lease = assert_retry_after_is_tight(&clock, secs(2), || limiter.attempt_acquire(1).unwrap());
    assert_eq!(available(&limiter), u64::from(u32::MAX) - 1);
}

// .NET: (§2.5 "with S == 1 it behaves like a fixed window") — one segment: every boundary frees
// everything taken in the window. Checked side by side with a FixedWindowRateLimiter of the same
// window on the same operations, in auto mode (attempts, queue-full failures, queued requests,
// retry_after) and in manual mode (one reset per try_replenish, at most once per window).
#[test]
fn one_segment_behaves_as_a_fixed_window() {
    for auto_replenishment in [true, false] {
        let clock = ManualClock::new();
        let sliding = SlidingWindowRateLimiter::with_clock(
            options(3, secs(1), 1, auto_replenishment, OldestFirst, 3),
            clock.clone(),
        )
        .unwrap();
        let fixed = FixedWindowRateLimiter::with_clock(
            FixedWindowRateLimiterOptions {
                permit_limit: 3,
                window: secs(1),
                auto_replenishment,
                queue_processing_order: OldestFirst,
                queue_limit: 3,
            },
            clock.clone(),
        )
        .unwrap();
        assert_eq!(sliding.replenishment_period(), fixed.replenishment_period());
        let both: [&dyn ReplenishingRateLimiter; 2] = [&sliding, &fixed];
        let step = |advance: Duration, permits: u32| {
            clock.advance(advance);
            let outcomes: Vec<_> = both
                .iter()
                .map(|limiter| {
                    assert!(limiter.try_replenish() != auto_replenishment);
                    let lease = limiter.attempt_acquire(permits).unwrap();
                    (lease.is_acquired(), lease.retry_after(), stats(*limiter))
                })
                .collect();
            assert_eq!(outcomes[0], outcomes[1], "auto {auto_replenishment}: {advance:?}, {permits}");
            outcomes[0].0
        };
        assert!(step(millis(200), 1));
        assert!(step(millis(700), 2));
        assert!(!step(millis(50), 1));
        assert!(!step(Duration::ZERO, 0));
        assert!(step(millis(50), 3));
        assert!(!step(millis(999), 1));
        assert!(step(millis(1), 2));
        assert!(step(millis(2_500), 3));
        assert!(!step(millis(400), 3));

        if auto_replenishment {
            // Queued requests, and a queue-full failure behind them.
            let mut waits: Vec<_> = both.iter().map(|limiter| enqueue(*limiter, 3)).collect();
            let full: Vec<_> = both.iter().map(|limiter| acquire_now(*limiter, 1).retry_after()).collect();
            assert_eq!(full[0], full[1]);
            assert_eq!(full[0], Some(millis(1_100)));
            clock.advance(millis(100));
            for wait in &mut waits {
                let _granted = ready_acquired(wait);
            }
            assert_eq!(stats(&sliding), stats(&fixed));
        }
    }
}

// .NET: (none) — many segments: with 1000 segments of 1 ms, each permit comes back exactly one
// window (1 s) after the start of the millisecond it was taken in; one advance over hundreds of
// boundaries and years of idle time are handled exactly.
#[test]
fn a_thousand_segments() {
    let (limiter, clock) = auto(10, secs(1), 1_000, OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), MS);
    let _lease = take(&limiter, 1);
    clock.advance(Duration::from_micros(250_500));
    let _lease = take(&limiter, 2);
    clock.advance(Duration::from_micros(749_400));
    let _lease = take(&limiter, 3);
    // 999.9 ms: 4 left. 5 permits need segment 0's 1 back: at 1 s.
    assert_eq!(available(&limiter), 4);
    let retry = refused_retry(&limiter, 5);
    assert_eq!(retry, Duration::from_micros(100));
    assert_eq!(refused_retry(&limiter, 7), Duration::from_micros(250_100));
    assert_eq!(refused_retry(&limiter, 10), Duration::from_micros(999_100));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(5).unwrap());
    // 1 s: taken 5 in segment 1000.
    assert_eq!(available(&limiter), 0);

    // 1.25 s: segment 250's 2 come back; 1.999 s: segment 999's 3; 2 s: segment 1000's 5.
    clock.advance(millis(250) - NS);
    assert_eq!(available(&limiter), 0);
    clock.advance(NS);
    assert_eq!(available(&limiter), 2);
    clock.advance(millis(749));
    assert_eq!(available(&limiter), 5);
    clock.advance(MS);
    assert_eq!(available(&limiter), 10);
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));

    // Years later, on the same grid.
    clock.advance(FIFTY_YEARS + Duration::from_micros(300));
    let _lease = take(&limiter, 10);
    let retry = refused_retry(&limiter, 1);
    assert_eq!(retry, Duration::from_micros(999_700));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(10).unwrap());

    // Manual mode: 1000 slides bring the permits back, 999 do not.
    let (limiter, clock) = manual(10, secs(1), 1_000, OldestFirst, 0);
    let _lease = take(&limiter, 10);
    assert_eq!(refused_retry(&limiter, 1), secs(1));
    slides(&limiter, &clock, 999);
    assert_eq!(available(&limiter), 0);
    assert_eq!(refused_retry(&limiter, 1), MS);
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 10);
}

// ---------------------------------------------------------------------------------------------
// Manual mode details (.NET's TryReplenish rules for the sliding window)
// ---------------------------------------------------------------------------------------------

// .NET: (§2.5 Replenish step 2) — a try_replenish less than a segment after the last slide (or
// construction) does nothing, and still returns true; the next slide is due a full segment after
// the last one, measured from that call's time, not from the grid.
#[test]
fn try_replenish_within_a_segment_of_the_last_slide_does_nothing() {
    let (limiter, clock) = manual(2, secs(2), 2, OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(millis(1_999));
    for _ in 0..3 {
        assert!(limiter.try_replenish());
    }
    clock.advance(MS);
    // 2 s: the first slide (segment 0 is still in the window).
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
    clock.advance(millis(1_500));
    // 3.5 s: the second slide, 1.5 s after the first.
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 2);

    let _lease = take(&limiter, 2);
    clock.advance(millis(999));
    assert!(limiter.try_replenish());
    clock.advance(MS);
    // 4.5 s: the third slide, a segment after the second.
    assert!(limiter.try_replenish());
    clock.advance(millis(999));
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
    clock.advance(MS);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 2);
}

// .NET: (§2.5 "no catch-up") — at most one slide per try_replenish, however long it has been; a
// second call at the same instant does nothing.
#[test]
fn at_most_one_slide_per_try_replenish() {
    let (limiter, clock) = manual(3, secs(3), 3, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    clock.advance(secs(10));
    assert!(limiter.try_replenish());
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
    // Segment 0 leaves at the third slide.
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 0);
    slide(&limiter, &clock);
    assert_eq!(available(&limiter), 3);
}

// .NET: (none) — manual mode: time alone frees nothing and grants nothing; only try_replenish does.
#[test]
fn manual_mode_frees_permits_only_on_try_replenish() {
    let (limiter, clock) = manual(2, secs(2), 1, OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    clock.advance(secs(10));
    assert_eq!(available(&limiter), 0);
    assert_pending(&mut wait);
    assert_eq!(refused_retry(&limiter, 0), secs(2));
    assert!(limiter.try_replenish());
    let _lease = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.5 TryReplenish) — true in manual mode whether or not it slid or freed anything,
// false in auto mode (where the boundaries happen anyway).
#[test]
fn try_replenish_return_values() {
    let (limiter, clock) = manual(2, secs(2), 2, OldestFirst, 0);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 1);
    assert!(limiter.try_replenish());
    slides(&limiter, &clock, 2);
    assert_eq!(available(&limiter), 2);
    // Whole: true, nothing happens.
    slides(&limiter, &clock, 3);
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 1));

    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 0);
    let _lease = take(&limiter, 2);
    assert!(!limiter.try_replenish());
    clock.advance(secs(2));
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 2);
}

// ---------------------------------------------------------------------------------------------
// Deliberate difference 8 and the finer queue rules of §2.1
// ---------------------------------------------------------------------------------------------

// .NET: (none) — difference 8: a cancelled waiter makes the queue process again at once. .NET would
// leave wait2 pending until the next slide that frees something even though a permit is free.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once() {
    let (limiter, _clock) = manual(2, secs(2), 2, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    drop(wait1);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — difference 8 in auto mode, between boundaries: 1 taken in segment 0, 1 in segment
// 1; boundary 2 s frees 1, which the head (2 permits) cannot use; dropping the head grants the
// next request at once, not at 3 s.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once_in_auto_mode() {
    let (limiter, clock) = auto(2, secs(2), 2, OldestFirst, 3);
    let _lease = take(&limiter, 1);
    clock.advance(millis(1_500));
    let _lease = take(&limiter, 1);
    let wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    clock.advance(secs(1));
    assert_pending(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 2));

    drop(wait1);

    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (none) — difference 8, NewestFirst: the newest waiter blocks older ones while it does not
// fit; when it goes away, the older waiter that fits the free permit is granted at once.
#[test]
fn cancelled_newest_waiter_lets_older_waiter_proceed_at_once() {
    let (limiter, clock) = manual(2, secs(2), 2, NewestFirst, 3);
    let _lease = take(&limiter, 1);
    slide(&limiter, &clock);
    let _lease = take(&limiter, 1);
    let mut older = enqueue(&limiter, 1);
    let newer = enqueue(&limiter, 2);

    slide(&limiter, &clock);
    // One permit is free, but the newest request (2) is served first and blocks the older.
    assert_pending(&mut older);
    assert_eq!(available(&limiter), 1);

    drop(newer);

    let _granted = ready_acquired(&mut older);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (§2.1 R3 / R9) — a zero-permit waiter is granted by the same processing pass as the
// request ahead of it, even though that request took the last permit (.NET's check is
// `available >= 0`); in auto mode, at the same boundary.
#[test]
fn zero_permit_waiter_is_granted_in_the_same_pass_behind_a_grant() {
    let (limiter, clock) = manual(1, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    slides(&limiter, &clock, 2);
    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 0);

    let (limiter, clock) = auto(1, secs(2), 2, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    clock.advance(secs(2));
    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (§2.1 R3) — a zero-permit request queues even when the queue limit is 0 or the queue is
// full, adding nothing to the queued count; it is granted at the boundary that frees a permit.
#[test]
fn zero_permit_request_queues_even_when_queue_is_full() {
    let (limiter, clock) = auto(1, secs(2), 2, OldestFirst, 0);
    let _lease = take(&limiter, 1);

    let mut zero = enqueue(&limiter, 0);
    let full = acquire_now(&limiter, 1);
    assert!(!full.is_acquired());
    assert_eq!(full.retry_after(), Some(secs(2)));
    assert_eq!(queued(&limiter), 0);

    clock.advance(secs(1));
    assert_pending(&mut zero);
    clock.advance(secs(1));
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.1 R4) — the queue limit counts permits, not requests.
#[test]
fn queue_limit_counts_permits_not_requests() {
    let (limiter, clock) = manual(3, secs(1), 1, OldestFirst, 3);
    let _lease = take(&limiter, 3);
    let mut two = enqueue(&limiter, 2);
    let mut one = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 3);
    let _full = ready_failed(&mut Box::pin(limiter.acquire(1)));

    slide(&limiter, &clock);
    let _two = ready_acquired(&mut two);
    let _one = ready_acquired(&mut one);
}

// .NET: (§1.4) — dropping a sliding-window lease never gives permits back, whichever way it was
// granted; a lease outliving the limiter is harmless.
#[test]
fn dropping_leases_returns_nothing() {
    let (limiter, clock) = manual(3, secs(2), 2, OldestFirst, 2);
    let direct = take(&limiter, 2);
    let wait_lease = {
        let mut wait = enqueue(&limiter, 2);
        slides(&limiter, &clock, 2);
        ready_acquired(&mut wait)
    };
    drop(direct);
    assert_eq!(available(&limiter), 1);
    drop(wait_lease);
    assert_eq!(available(&limiter), 1);

    slides(&limiter, &clock, 2);
    let lease = take(&limiter, 3);
    drop(limiter);
    assert!(lease.is_acquired());
    drop(lease);
}

// .NET: (none) — the registered waker is woken when a queued request is granted by a boundary,
// evicted, or failed by disposal, so an executor re-polls it.
#[test]
fn queued_request_wakes_its_task_when_decided() {
    let (limiter, clock) = auto(1, secs(2), 2, NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let (granted_count, granted_waker) = CountingWaker::new();
    let mut granted = enqueue_with(&limiter, 1, &granted_waker);
    let before = granted_count.count();
    clock.advance(secs(2));
    assert!(granted_count.count() > before, "the boundary must wake the task");
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
    let (limiter, _clock) = auto(1, secs(2), 2, OldestFirst, 1);
    assert_send_sync(&limiter);
    let future = limiter.acquire(1);
    assert_send(&future);
    drop(future);
    let lease = take(&limiter, 1);
    assert_send_sync(&lease);
    assert_eq!(available(&limiter), 0);
}

// .NET: (none) — hostile clocks: time going backwards freezes the window (no slide, no panic, a
// finite retry hint); a jump forward by years makes the window whole, never more than the limit.
#[test]
fn time_going_backwards_or_jumping_neither_panics_nor_over_admits() {
    const YEAR: u64 = 365 * 86_400 * 1_000_000_000;
    for auto_replenishment in [true, false] {
        let clock = ManualClock::new();
        clock.set_nanos(10 * YEAR);
        let limiter = SlidingWindowRateLimiter::with_clock(
            options(3, secs(3), 3, auto_replenishment, OldestFirst, 2),
            clock.clone(),
        )
        .unwrap();
        let _lease = take(&limiter, 3);
        clock.set_nanos(YEAR);
        let refused = refuse(&limiter, 1);
        assert!(refused.retry_after().is_some());
        assert!(limiter.try_replenish() != auto_replenishment);
        assert_eq!(available(&limiter), 0, "auto {auto_replenishment}: time going backwards must not free permits");
        assert!(limiter.idle_duration().is_none());
        clock.set_nanos(10 * YEAR);
        assert!(limiter.try_replenish() != auto_replenishment);
        assert_eq!(available(&limiter), 0);
        clock.set_nanos(40 * YEAR);
        for _ in 0..3 {
            assert!(limiter.try_replenish() != auto_replenishment);
            clock.advance(secs(1));
        }
        assert_eq!(available(&limiter), 3, "auto {auto_replenishment}");
        let _lease = take(&limiter, 3);
        let _refused = refuse(&limiter, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// A sequential reference model
// ---------------------------------------------------------------------------------------------

/// The sliding window by definition: the permits granted per segment index; available = limit −
/// those granted in the last `segments` segments.
#[derive(Clone)]
struct Model {
    limit: u64,
    segments: u64,
    granted: Vec<u64>,
}

impl Model {
    fn available_in(&self, segment: u64) -> u64 {
        let first = (segment + 1).saturating_sub(self.segments);
        let used: u64 = (first..=segment).map(|k| self.granted.get(k as usize).copied().unwrap_or(0)).sum();
        self.limit - used
    }

    fn grant(&mut self, segment: u64, permits: u64) {
        if self.granted.len() <= segment as usize {
            self.granted.resize(segment as usize + 1, 0);
        }
        self.granted[segment as usize] += permits;
    }

    /// The first segment after `segment`, with no further grants, in which `need` permits are
    /// available.
    fn first_segment_with(&self, segment: u64, need: u64) -> u64 {
        (segment + 1..).find(|&k| self.available_in(k) >= need).expect("within one window")
    }
}

// The model-based tests below draw their sequences with proptest, which shrinks a failure to a
// minimal sequence and records its seed in tests/proptest-regressions/sliding_window.txt (replayed
// first on every later run); fixed pseudo-random sequences of each test must, in addition, exercise
// the outcomes the test is about.

use proptest::prelude::{Just, ProptestConfig, Strategy, prop, prop_oneof, proptest};
use proptest::test_runner::FileFailurePersistence;

/// The segment length of the model-based tests.
const SEGMENT_NANOS: u64 = 1_000;

/// Proptest cases per model-based property test (each of up to `MAX_OPS` operations).
const MODEL_CASES: u32 = 256;
const MAX_OPS: usize = 400;

fn model_config() -> ProptestConfig {
    ProptestConfig {
        cases: MODEL_CASES,
        // Proptest's default stops shrinking after 4 × cases steps, far from a minimal sequence.
        max_shrink_iters: 50_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/sliding_window.txt"
        )))),
        ..ProptestConfig::default()
    }
}

/// The xorshift generator of the fixed sequences: `next(bound)` draws from `0..bound`.
fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |bound| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    }
}

/// One step of [`run_attempts`]: the clock advances by `advance` ns (several segments may pass,
/// or none), then `attempt_acquire(permits)`.
#[derive(Clone, Copy, Debug)]
struct AttemptStep {
    advance: u64,
    permits: u32,
}

/// Runs `steps` on an auto window of `limit` permits over `segments` segments (no queue), each
/// compared with [`Model`], including the exact retry_after of every refusal: (granted, refused).
fn run_attempts(limit: u32, segments: u32, steps: &[AttemptStep]) -> (u32, u32) {
    let segment_nanos = SEGMENT_NANOS;
    let (limiter, clock) =
        auto(limit, Duration::from_nanos(segment_nanos * u64::from(segments)), segments, OldestFirst, 0);
    let mut model = Model { limit: u64::from(limit), segments: u64::from(segments), granted: Vec::new() };
    let (mut granted, mut refused) = (0, 0);
    for (step, &AttemptStep { advance, permits }) in steps.iter().enumerate() {
        clock.advance(Duration::from_nanos(advance));
        let now = clock.now_nanos();
        let segment = now / segment_nanos;
        let lease = limiter.attempt_acquire(permits).unwrap();
        let free = model.available_in(segment);
        let fits = if permits == 0 { free > 0 } else { free >= u64::from(permits) };
        assert_eq!(lease.is_acquired(), fits, "step {step}: {permits} permits at {now} ns, {free} free");
        if fits {
            granted += 1;
            model.grant(segment, u64::from(permits));
        } else {
            refused += 1;
            let at = model.first_segment_with(segment, u64::from(permits.max(1))) * segment_nanos;
            assert_eq!(lease.retry_after(), Some(Duration::from_nanos(at - now)), "step {step}");
        }
        assert_eq!(available(&limiter), model.available_in(segment), "step {step}");
    }
    (granted, refused)
}

/// A window (permit_limit 1..=10, 1..=10 segments) and up to `MAX_OPS` steps for it.
fn attempt_case() -> impl Strategy<Value = ((u32, u32), Vec<AttemptStep>)> {
    (1u32..=10, 1u32..=10).prop_flat_map(|(limit, segments)| {
        let step =
            (0..3 * SEGMENT_NANOS + 500, 0..=limit).prop_map(|(advance, permits)| AttemptStep { advance, permits });
        (Just((limit, segments)), prop::collection::vec(step, 1..=MAX_OPS))
    })
}

// .NET: (none) — the window never admits more than permit_limit in any window of segments, and
// grants and refuses exactly as the definition does: a pseudo-random sequence of attempts at
// pseudo-random times (several segments may pass in one step, or none) on an auto window, each
// compared with a sequential model, including the exact retry_after of every refusal. Fixed
// shapes and sequences, which must exercise both outcomes; the property test below draws them.
#[test]
fn attempts_match_a_sequential_model_on_fixed_sequences() {
    for (limit, segments) in [(5u32, 4u32), (7, 1), (3, 7), (10, 10)] {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64 ^ u64::from(limit * 31 + segments));
        let steps: Vec<AttemptStep> = (0..2_000)
            .map(|_| {
                let advance = next(3 * SEGMENT_NANOS + 500);
                AttemptStep { advance, permits: next(u64::from(limit) + 1) as u32 }
            })
            .collect();
        let (granted, refused) = run_attempts(limit, segments, &steps);
        assert!(granted > 100 && refused > 100, "the sequence exercises both outcomes");
    }
}

/// [`Model`] with a queue, as .NET processes it (§2.1 R2, R9, §2.5): at each boundary the expiring
/// segment's permits come back and, if there were any, the queue is served from its head (oldest
/// first) or tail (newest first) while that request fits (a zero-permit request always fits in such
/// a pass), grants recorded in the new segment; newest-first evicts the oldest requests to make
/// room. Difference 8: a cancelled request makes the queue process again at once; a zero-permit
/// request reached in that pass fits if a permit was available as the pass began (the crate's rule
/// for passes that do not follow a boundary, `wait::QueueHost::try_take_for_waiter`).
/// Manual mode (§2.5): only `try_replenish` slides, one segment per call, and only if a segment's
/// length has passed since the last slide. A disposal fails the queue (not counted as failures).
#[derive(Clone)]
struct QueueModel {
    /// Manual mode: the clock reading of the last slide (construction first).
    last: u64,
    /// Disposed.
    closed: bool,
    window: Model,
    newest_first: bool,
    queue_limit: u64,
    segment: u64,
    /// Pending requests, oldest first: (id, permits).
    queue: std::collections::VecDeque<(usize, u64)>,
    /// Per request id: None while pending, then whether it was granted.
    outcome: Vec<Option<bool>>,
    failed: u64,
    successful: u64,
}

impl QueueModel {
    fn available(&self) -> u64 {
        self.window.available_in(self.segment)
    }

    fn queued_permits(&self) -> u64 {
        self.queue.iter().map(|&(_, n)| n).sum()
    }

    /// Slides to `segment`; nothing after a disposal (as .NET disposes its timer, no boundary
    /// passes any more: the statistics keep the permits available then).
    fn advance_to(&mut self, segment: u64) {
        if self.closed {
            return;
        }
        while self.segment < segment {
            self.segment += 1;
            let expiring = self.segment.checked_sub(self.window.segments);
            let freed = expiring.and_then(|k| self.window.granted.get(k as usize).copied()).unwrap_or(0);
            if freed > 0 {
                self.process(true);
            }
        }
    }

    fn process(&mut self, replenished: bool) {
        while let Some(&(id, n)) = if self.newest_first { self.queue.back() } else { self.queue.front() } {
            let fits = if n == 0 { replenished || self.available() > 0 } else { self.available() >= n };
            if !fits {
                break;
            }
            if self.newest_first {
                self.queue.pop_back();
            } else {
                self.queue.pop_front();
            }
            self.window.grant(self.segment, n);
            self.outcome[id] = Some(true);
            self.successful += 1;
        }
    }

    /// Whether a new request for `n` permits is granted at once (R1 step 3, R3).
    fn fits_now(&self, n: u64) -> bool {
        if n == 0 {
            self.available() > 0
        } else {
            self.available() >= n && (self.queue.is_empty() || self.newest_first)
        }
    }

    /// `attempt_acquire(n)`: whether it is granted.
    fn attempt(&mut self, n: u64) -> bool {
        let granted = self.fits_now(n);
        if granted {
            self.window.grant(self.segment, n);
            self.successful += 1;
        } else {
            self.failed += 1;
        }
        granted
    }

    /// `acquire(n)` with id `id`: Some(granted) if decided at once, None if queued.
    fn acquire(&mut self, id: usize, n: u64) -> Option<bool> {
        self.outcome.push(None);
        if self.fits_now(n) {
            self.window.grant(self.segment, n);
            self.successful += 1;
            self.outcome[id] = Some(true);
        } else if n > 0 && self.queued_permits() + n > self.queue_limit {
            if self.newest_first && n <= self.queue_limit {
                while self.queued_permits() + n > self.queue_limit {
                    let (evicted, _) = self.queue.pop_front().expect("something to evict");
                    self.outcome[evicted] = Some(false);
                    self.failed += 1;
                }
                self.queue.push_back((id, n));
            } else {
                self.failed += 1;
                self.outcome[id] = Some(false);
            }
        } else {
            self.queue.push_back((id, n));
        }
        self.outcome[id]
    }

    /// The first boundary (as a segment index) at which a request for `n` permits made then would
    /// be granted at once, if nothing else arrived: the queue served at each boundary first.
    fn first_segment_granting(&self, n: u64) -> u64 {
        let mut future = self.clone();
        loop {
            future.advance_to(future.segment + 1);
            if future.fits_now(n) {
                return future.segment;
            }
        }
    }

    fn cancel(&mut self, id: usize) {
        let position = self.queue.iter().position(|&(i, _)| i == id).expect("pending in the model");
        self.queue.remove(position);
        let replenished = self.available() > 0;
        self.process(replenished);
    }

    /// Manual mode's `try_replenish()` at clock reading `now`: whether it slid the window.
    fn try_replenish(&mut self, now: u64) -> bool {
        if self.closed || now - self.last < SEGMENT_NANOS {
            return false;
        }
        self.last = now;
        self.advance_to(self.segment + 1);
        true
    }

    /// `dispose()`: every pending request completes not acquired (not counted as a failure).
    fn dispose(&mut self) {
        self.closed = true;
        for (id, _) in self.queue.drain(..) {
            self.outcome[id] = Some(false);
        }
    }
}

/// One step of [`run_queued`]. Permit counts lie in `0..=limit` of the run's shape.
#[derive(Clone, Copy, Debug)]
enum QueueOp {
    /// Advance the clock by this many nanoseconds (none, part of a segment, or several boundaries).
    Advance(u64),
    /// `attempt_acquire(permits)`.
    Attempt(u32),
    /// `acquire(permits)`, polled once: decided at once, or kept pending (queued).
    Acquire(u32),
    /// Drop the pending future at this index (modulo their number, oldest first); nothing if
    /// none is pending.
    Cancel(usize),
    /// Advance the clock by this many nanoseconds, then `try_replenish()` (false in auto mode).
    TryReplenish(u64),
    /// `dispose()`: pending requests complete not acquired, later requests are `Err(Disposed)`.
    Dispose,
}

/// The window of [`run_queued`].
#[derive(Clone, Copy, Debug)]
struct QueueShape {
    limit: u32,
    segments: u32,
    queue_limit: u32,
    order: QueueProcessingOrder,
    /// `auto_replenishment: false`.
    manual: bool,
}

/// What [`run_queued`] exercised.
#[derive(Default, Debug)]
struct QueueCoverage {
    queued_at_most: usize,
    cancelled: u32,
    checked_behind_queue: u32,
    checked_queue_full: u32,
    /// Manual mode: `try_replenish` calls that slid the window, and that were too early.
    slid: u32,
    slide_skipped: u32,
    /// Pending requests released (not acquired) by a disposal.
    released_by_dispose: u32,
    /// Attempts and acquisitions after a disposal (each `Err(Disposed)`).
    after_dispose: u32,
    /// `try_replenish` calls (in either mode).
    replenish_calls: u32,
}

/// Runs `ops` on an auto window of `shape`, each step compared with [`QueueModel`].
/// After every step all queued futures are polled, next-in-line first (as an executor woken by the
/// clock would), and their outcomes, the statistics and, where documented exact, every retry_after
/// are compared.
fn run_queued(shape: QueueShape, ops: &[QueueOp]) -> QueueCoverage {
    let mut ops = ops.iter().copied();
    run_queued_with(shape, |_| ops.next())
}

/// [`run_queued`] with the operations from `next_op`, which is told how many futures are pending
/// (the fixed sequences draw a cancel's index only when one is).
fn run_queued_with(shape: QueueShape, mut next_op: impl FnMut(usize) -> Option<QueueOp>) -> QueueCoverage {
    let QueueShape { limit, segments, queue_limit, order, manual } = shape;
    let segment_nanos = SEGMENT_NANOS;
    let window = Duration::from_nanos(segment_nanos * u64::from(segments));
    let (limiter, clock) = if manual {
        self::manual(limit, window, segments, order, queue_limit)
    } else {
        auto(limit, window, segments, order, queue_limit)
    };
    // The segment the model is at as of the clock: from the clock (auto) or its own (manual).
    let now_segment = |model: &QueueModel| if manual { model.segment } else { clock.now_nanos() / segment_nanos };
    // The wait until boundary `segment`: from the clock (auto) or in slides (manual).
    let wait_until_segment = |model: &QueueModel, segment: u64| {
        if manual { (segment - model.segment) * segment_nanos } else { segment * segment_nanos - clock.now_nanos() }
    };
    let mut model = QueueModel {
        last: 0,
        closed: false,
        window: Model { limit: u64::from(limit), segments: u64::from(segments), granted: Vec::new() },
        newest_first: order == NewestFirst,
        queue_limit: u64::from(queue_limit),
        segment: 0,
        queue: std::collections::VecDeque::new(),
        outcome: Vec::new(),
        failed: 0,
        successful: 0,
    };
    let mut pending: Vec<(usize, Waiting<'_>)> = Vec::new();
    let mut ids = 0;
    let mut cov = QueueCoverage::default();
    let mut step = 0;
    while let Some(op) = next_op(pending.len()) {
        let context = format!(
            "{order:?}, manual {manual}, limit {limit}, {segments} segments, queue {queue_limit}, step {step} ({op:?})"
        );
        step += 1;
        match op {
            QueueOp::Advance(by) => {
                clock.advance(Duration::from_nanos(by));
            }
            QueueOp::Attempt(permits) if model.closed => {
                let result = limiter.attempt_acquire(permits);
                assert_eq!(result.err(), Some(AcquireError::Disposed), "{context}: after dispose");
                cov.after_dispose += 1;
            }
            QueueOp::Acquire(permits) if model.closed => {
                let result = poll_once(&mut Box::pin(limiter.acquire(permits)));
                assert_eq!(result.map(|r| r.err()), Some(Some(AcquireError::Disposed)), "{context}: after dispose");
                cov.after_dispose += 1;
            }
            QueueOp::TryReplenish(by) => {
                clock.advance(Duration::from_nanos(by));
                model.advance_to(now_segment(&model));
                cov.replenish_calls += 1;
                assert_eq!(limiter.try_replenish(), manual, "{context}: try_replenish");
                if manual && !model.closed {
                    if model.try_replenish(clock.now_nanos()) {
                        cov.slid += 1;
                    } else {
                        cov.slide_skipped += 1;
                    }
                }
            }
            QueueOp::Dispose => {
                cov.released_by_dispose += pending.len() as u32;
                limiter.dispose();
                model.dispose();
            }
            QueueOp::Attempt(permits) => {
                let permits = u64::from(permits);
                model.advance_to(now_segment(&model));
                let was_empty = model.queue.is_empty();
                let lease = limiter.attempt_acquire(permits as u32).unwrap();
                assert_eq!(lease.is_acquired(), model.attempt(permits), "{context}: attempt({permits})");
                // Exact retry_after (difference 4) where it is not documented as an estimate:
                // nothing queued, or oldest-first with the queued permits and the request
                // within one window, or a single queued request (several are walked as one
                // block, see `SlidingWindowRateLimiter`).
                let exact = was_empty
                    || order == OldestFirst
                        && permits > 0
                        && (model.queued_permits() + permits <= u64::from(limit) || model.queue.len() == 1);
                if !lease.is_acquired() && exact {
                    let wait = wait_until_segment(&model, model.first_segment_granting(permits));
                    assert_eq!(lease.retry_after(), Some(Duration::from_nanos(wait)), "{context}");
                    cov.checked_behind_queue += u32::from(!was_empty);
                }
            }
            QueueOp::Acquire(permits) => {
                let permits = u64::from(permits);
                model.advance_to(now_segment(&model));
                let id = ids;
                ids += 1;
                let exact = model.queue.is_empty()
                    || order == OldestFirst && model.queued_permits() + permits <= u64::from(limit);
                let retry_at = exact.then(|| wait_until_segment(&model, model.first_segment_granting(permits)));
                let mut wait = Box::pin(limiter.acquire(permits as u32));
                let polled = poll_once(&mut wait).map(|result| result.unwrap());
                let decided = polled.as_ref().map(RateLimitLease::is_acquired);
                assert_eq!(decided, model.acquire(id, permits), "{context}: acquire({permits})");
                match polled {
                    None => pending.push((id, wait)),
                    // Queue full: the same exact retry_after as a refused attempt.
                    Some(lease) if !lease.is_acquired() => {
                        if let Some(wait) = retry_at {
                            let wait = Duration::from_nanos(wait);
                            assert_eq!(lease.retry_after(), Some(wait), "{context}: acquire({permits})");
                            cov.checked_queue_full += 1;
                        }
                    }
                    Some(_) => {}
                }
            }
            QueueOp::Cancel(index) => {
                if !pending.is_empty() {
                    model.advance_to(now_segment(&model));
                    let (id, wait) = pending.remove(index % pending.len());
                    drop(wait);
                    model.cancel(id);
                    cov.cancelled += 1;
                }
            }
        }
        model.advance_to(now_segment(&model));
        cov.queued_at_most = cov.queued_at_most.max(model.queue.len());
        // Poll in the order of service, next-in-line first: only that request's future sleeps
        // on the clock and runs the pass at its boundary (which then wakes the others).
        if order == NewestFirst {
            pending.reverse();
        }
        pending.retain_mut(|(id, wait)| match poll_once(wait) {
            None => {
                assert_eq!(model.outcome[*id], None, "{context}: request {id} should be decided");
                true
            }
            Some(result) => {
                let lease = result.unwrap();
                let granted = lease.is_acquired();
                assert_eq!(model.outcome[*id], Some(granted), "{context}: request {id}");
                if model.closed && !granted {
                    assert_eq!(lease.retry_after(), None, "{context}: request {id} released by dispose");
                }
                false
            }
        });
        if order == NewestFirst {
            pending.reverse();
        }
        let expected = snapshot(model.available(), model.queued_permits(), model.failed, model.successful);
        assert_eq!(stats(&limiter), expected, "{context}");
    }
    cov
}

/// A queued window (permit_limit 1..=6, 1..=8 segments, queue_limit 0..=10, either order, manual
/// mode in 2 cases of 5) and up to `MAX_OPS` operations for it, in the mix of the fixed sequences:
/// 4 in 11 advances, 2 attempts, 3 acquires, 1 cancel, 1 `try_replenish` after an advance (in
/// manual mode, 1 advance and 4 `try_replenish` calls); in half the cases a disposal among the last 8.
fn queued_case() -> impl Strategy<Value = (QueueShape, Vec<QueueOp>)> {
    let order = prop_oneof![Just(OldestFirst), Just(NewestFirst)];
    let manual = prop::bool::weighted(0.4);
    (1u32..=6, 1u32..=8, 0u32..=10, order, manual).prop_flat_map(|(limit, segments, queue_limit, order, manual)| {
        let (advances, replenishes) = if manual { (1, 4) } else { (4, 1) };
        let op = prop_oneof![
            advances => (0..5 * SEGMENT_NANOS / 2).prop_map(QueueOp::Advance),
            2 => (0..=limit).prop_map(QueueOp::Attempt),
            3 => (0..=limit).prop_map(QueueOp::Acquire),
            1 => (0..64usize).prop_map(QueueOp::Cancel),
            replenishes => (0..2 * SEGMENT_NANOS).prop_map(QueueOp::TryReplenish),
        ];
        let shape = QueueShape { limit, segments, queue_limit, order, manual };
        (Just(shape), prop::collection::vec(op, 1..=MAX_OPS), prop::option::of(0..8usize)).prop_map(
            |(shape, mut ops, dispose)| {
                if let Some(from_end) = dispose {
                    ops.insert(ops.len().saturating_sub(from_end), QueueOp::Dispose);
                }
                (shape, ops)
            },
        )
    })
}

/// The fixed sequences' operations: `steps` pseudo-random ones from `next` for a window of
/// `limit`, in the mix [`queued_case`] draws (`manual`: its manual-mode mix; auto: every fourth
/// step's advance is a `try_replenish` after it instead of an eleventh kind); a cancel draws its
/// index only if a future is pending; one operation among the last 60 is a disposal (the first
/// there with a future pending, or 30 steps before the end).
fn queued_ops(
    mut next: impl FnMut(u64) -> u64,
    steps: u32,
    limit: u32,
    manual: bool,
) -> impl FnMut(usize) -> Option<QueueOp> {
    let mut step = 0;
    let mut disposed = false;
    move |pending: usize| {
        (step < steps).then(|| {
            step += 1;
            if !disposed && step + 60 >= steps && (pending > 0 || step + 30 >= steps) {
                disposed = true;
                return QueueOp::Dispose;
            }
            match next(if manual { 11 } else { 10 }) {
                0 if manual => QueueOp::Advance(next(5 * SEGMENT_NANOS / 2)),
                0..=3 if manual => QueueOp::TryReplenish(next(2 * SEGMENT_NANOS)),
                // Auto mode: every fourth step's advance also calls `try_replenish` (a no-op).
                0..=3 if step % 4 == 0 => QueueOp::TryReplenish(next(5 * SEGMENT_NANOS / 2)),
                0..=3 => QueueOp::Advance(next(5 * SEGMENT_NANOS / 2)),
                4..=5 => QueueOp::Attempt(next(u64::from(limit) + 1) as u32),
                6..=8 => QueueOp::Acquire(next(u64::from(limit) + 1) as u32),
                9 => QueueOp::Cancel(if pending > 0 { next(pending as u64) as usize } else { 0 }),
                _ => QueueOp::TryReplenish(next(2 * SEGMENT_NANOS)),
            }
        })
    }
}

// .NET: (none) — as the attempts above, with a queue in either order: a pseudo-random sequence of
// clock advances (none, part of a segment, or several boundaries at once), attempts, acquisitions
// (granted at once, queued, refused because the queue is full, or evicting older requests) and
// cancellations (dropping a queued future), each compared with a sequential model of .NET's
// processing with difference 8 (see `run_queued`). Fixed shapes and sequences, which must exercise
// the queue, cancellations and the exact retry hints; the property test below draws them.
#[test]
fn queued_requests_match_a_sequential_model_on_fixed_sequences() {
    let shapes = [(4u32, 3u32, 5u32), (6, 4, 6), (3, 1, 3), (5, 8, 10), (6, 3, 2), (4, 2, 0)];
    let mut released = 0;
    for (order, (limit, segments, queue_limit)) in
        [OldestFirst, NewestFirst].into_iter().flat_map(|o| shapes.map(|s| (o, s)))
    {
        let next = xorshift(0x9e37_79b9_7f4a_7c15u64 ^ u64::from(limit * 131 + segments * 7 + queue_limit));
        let ops = queued_ops(next, 3_000, limit, false);
        let cov = run_queued_with(QueueShape { limit, segments, queue_limit, order, manual: false }, ops);
        assert!(cov.queued_at_most >= 3 && cov.cancelled >= 10, "the sequence exercises the queue: {cov:?}");
        assert!(cov.after_dispose > 5 && cov.replenish_calls > 100, "dispose and try_replenish: {cov:?}");
        released += cov.released_by_dispose;
        assert!(
            order == NewestFirst || cov.checked_behind_queue > 20,
            "retry hints behind a queue are checked: {cov:?}"
        );
        assert!(queue_limit >= limit || cov.checked_queue_full > 20, "queue-full retry hints are checked: {cov:?}");
    }
    assert!(released > 6, "disposals release queued requests: {released}");
}

// .NET: (none) — as above in manual mode (§2.5: `try_replenish` slides one segment per call, and
// only if a segment's length has passed since the last slide; retry_after counts slides), with a
// disposal near the end of each sequence. Fixed shapes and sequences, which must exercise slides
// and skipped calls, the queue, cancellations, the exact retry hints and the disposal.
#[test]
fn manual_queued_requests_match_a_sequential_model_on_fixed_sequences() {
    let shapes = [(4u32, 3u32, 5u32), (6, 4, 6), (3, 1, 3), (5, 8, 10), (6, 3, 2), (4, 2, 0)];
    let mut released = 0;
    for (order, (limit, segments, queue_limit)) in
        [OldestFirst, NewestFirst].into_iter().flat_map(|o| shapes.map(|s| (o, s)))
    {
        let next = xorshift(0xbb67_ae85_84ca_a73bu64 ^ u64::from(limit * 131 + segments * 7 + queue_limit));
        let ops = queued_ops(next, 3_000, limit, true);
        let cov = run_queued_with(QueueShape { limit, segments, queue_limit, order, manual: true }, ops);
        assert!(cov.queued_at_most >= 3 && cov.cancelled >= 10, "the sequence exercises the queue: {cov:?}");
        assert!(cov.slid > 200 && cov.slide_skipped > 100, "slides and skipped calls: {cov:?}");
        assert!(cov.after_dispose > 5, "requests after dispose: {cov:?}");
        assert!(
            order == NewestFirst || cov.checked_behind_queue > 20,
            "retry hints behind a queue are checked: {cov:?}"
        );
        assert!(queue_limit >= limit || cov.checked_queue_full > 20, "queue-full retry hints are checked: {cov:?}");
        released += cov.released_by_dispose;
    }
    assert!(released > 6, "disposals release queued requests: {released}");
}

proptest! {
    #![proptest_config(model_config())]

    // .NET: (none) — `attempts_match_a_sequential_model_on_fixed_sequences` with proptest-drawn
    // windows and sequences.
    #[test]
    fn attempts_match_a_sequential_model(((limit, segments), steps) in attempt_case()) {
        run_attempts(limit, segments, &steps);
    }

    // .NET: (none) — `queued_requests_match_a_sequential_model_on_fixed_sequences` with
    // proptest-drawn windows and operation sequences.
    #[test]
    fn queued_requests_match_a_sequential_model((shape, ops) in queued_case()) {
        run_queued(shape, &ops);
    }
}
