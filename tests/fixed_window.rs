//! Behavioural tests of `FixedWindowRateLimiter`, ported from .NET's
//! `System.Threading.RateLimiting` test suite (`FixedWindowRateLimiterTests` and the shared scenarios
//! of `BaseRateLimiterTests`), plus tests of the places where this crate's API deliberately differs.
//!
//! Conventions:
//! * Time is a `ManualClock` shared by the test and the limiter; no test sleeps in real time.
//! * Older .NET fixed-window tests use manual mode with `Window = TimeSpan.Zero`, so every
//!   `TryReplenish` resets. A zero window is invalid here (and in current .NET), so those tests use a
//!   1 ms window, as .NET's newest tests do, and .NET's `TryReplenish()` (or its reflection helper
//!   `Replenish(limiter, ms)`) becomes `clock.advance(window); limiter.try_replenish()` (the
//!   [`replenish`] helper). Manual mode resets only if at least a window has passed since the last
//!   call that passed that check, so every step advances by at least the window.
//! * Auto mode has no timer (API difference 3): window *k* starts at construction + *k*·window, and
//!   advancing the `ManualClock` to a window start is all it takes to reset the permits. An async
//!   waiter sleeps on the clock and is polled again after `advance`; a thread in `blocking_acquire`
//!   wakes by itself.
//! * A queued request is a `Box::pin(limiter.acquire(n))` future; it joins the queue when first
//!   polled, so every such future is polled once right away and asserted pending.
//! * .NET's cancellation tokens become dropping the future (API difference 1).
//! * RetryAfter (API difference 4): in auto mode the exact wait until the start of the window in
//!   which the same request succeeds (queued oldest-first requests served first); in manual mode the
//!   windows needed rounded **up** (.NET truncates) times the window.

mod common;

use common::limiter::*;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingWaker, poll_with, wait_until};
use tollgate::{
    Acquire, AcquireError, Clock, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, MetadataName,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, ReplenishingRateLimiter,
};

type Fixed = FixedWindowRateLimiter<ManualClock>;

fn options(
    permit_limit: u32,
    window: Duration,
    auto_replenishment: bool,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> FixedWindowRateLimiterOptions {
    FixedWindowRateLimiterOptions {
        permit_limit,
        window,
        auto_replenishment,
        queue_processing_order: order,
        queue_limit,
    }
}

fn build(options: FixedWindowRateLimiterOptions) -> (Fixed, ManualClock) {
    let clock = ManualClock::new();
    let limiter = FixedWindowRateLimiter::with_clock(options, clock.clone()).expect("valid options");
    (limiter, clock)
}

/// A manual-mode window (.NET `AutoReplenishment = false`) on a fresh `ManualClock` reading zero.
fn manual(permit_limit: u32, window: Duration, order: QueueProcessingOrder, queue_limit: u32) -> (Fixed, ManualClock) {
    build(options(permit_limit, window, false, order, queue_limit))
}

/// An auto-mode window on a fresh `ManualClock` reading zero: window *k* starts at *k*·`window`.
fn auto(permit_limit: u32, window: Duration, order: QueueProcessingOrder, queue_limit: u32) -> (Fixed, ManualClock) {
    build(options(permit_limit, window, true, order, queue_limit))
}

/// .NET's `Replenish(limiter, ms)` (or `TryReplenish()` with a zero window) for a manual-mode
/// limiter: time passes, then `TryReplenish`.
#[track_caller]
fn replenish(limiter: &Fixed, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    assert!(limiter.try_replenish(), "try_replenish returns true in manual mode");
}

// ---------------------------------------------------------------------------------------------
// §5.1 rows 1–41 (BaseRateLimiterTests scenarios, FixedWindow column)
// ---------------------------------------------------------------------------------------------

// .NET: CanAcquireResource (row 1)
#[test]
fn can_acquire_resource() {
    let (limiter, clock) = manual(1, MS, NewestFirst, 1);
    let lease = limiter.attempt_acquire(1).unwrap();
    assert!(lease.is_acquired());
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    // Returning a fixed-window lease gives nothing back.
    drop(lease);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    replenish(&limiter, &clock, MS);

    assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
}

// .NET: InvalidOptionsThrows (row 2)
// Differences: an `OptionsError` is returned instead of an ArgumentException. Negative values are
// unrepresentable (`u32` counts and `Duration`, difference 2), so .NET's `-1`, `MinValue` and
// `-2 min` cases collapse onto 0 / `Duration::ZERO`, .NET's `<= 0` boundary; `queue_limit` has no
// invalid value at all. With both fields invalid, `permit_limit` is reported (.NET's order).
#[test]
fn invalid_options_are_rejected() {
    let cases = [
        (options(0, secs(120), false, NewestFirst, 1), "permit_limit", "permit_limit must be greater than 0"),
        (options(1, Duration::ZERO, false, NewestFirst, 1), "window", "window must be greater than 0"),
        (options(1, Duration::ZERO, true, OldestFirst, 0), "window", "window must be greater than 0"),
        (options(0, Duration::ZERO, true, OldestFirst, 0), "permit_limit", "permit_limit must be greater than 0"),
    ];
    for (options, field, text) in cases {
        let err = FixedWindowRateLimiter::with_clock(options.clone(), ManualClock::new())
            .expect_err("invalid options must be rejected");
        assert_eq!(err.field, field);
        assert_eq!(err.to_string(), text);
        assert_eq!(options.validate(), Err(err.clone()));
        assert_eq!(FixedWindowRateLimiter::new(options).err(), Some(err));
    }

    // The smallest queue limit, 0, is valid (.NET rejects only negative ones).
    let (limiter, _clock) = manual(1, secs(120), NewestFirst, 0);
    let _lease = take(&limiter, 1);
    let rejected = acquire_now(&limiter, 1);
    assert!(!rejected.is_acquired());
}

// .NET: CanAcquireResourceAsync (row 3)
#[tokio::test]
async fn can_acquire_resource_async() {
    let (limiter, clock) = manual(1, MS, NewestFirst, 1);
    let lease = limiter.acquire(1).await.unwrap();
    assert!(lease.is_acquired());

    let mut wait = enqueue(&limiter, 1);

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsOldest (row 4)
#[test]
fn acquire_queues_and_grabs_oldest() {
    let (limiter, clock) = manual(1, MS, OldestFirst, 2);
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
    let (limiter, clock) = manual(2, MS, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);
    replenish(&limiter, &clock, MS);

    // The reset gives 2; the second (newest) request completes first and leaves 1, which the older
    // request (2) cannot use.
    let lease2 = ready_acquired(&mut wait2);
    assert_pending(&mut wait1);

    drop(lease2);
    assert_eq!(available(&limiter), 1);
    replenish(&limiter, &clock, MS);

    let _lease1 = ready_acquired(&mut wait1);
    assert_eq!(available(&limiter), 0);
}

// .NET: FailsWhenQueuingMoreThanLimit_OldestFirst (row 6)
// RetryAfter: 1 queued + 1 requested − 0 available = 2 permits at 1 per 1 ms window: 2 ms, as in
// .NET.
#[test]
fn fails_when_queuing_more_than_limit_oldest_first() {
    let (limiter, _clock) = manual(1, MS, OldestFirst, 1);
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
    let (limiter, clock) = manual(1, MS, NewestFirst, 1);
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
    let (limiter, clock) = manual(2, MS, NewestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    let mut wait3 = enqueue(&limiter, 2);
    let _failed1 = ready_failed(&mut wait);
    let _failed2 = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 2));

    // One reset gives the whole window back.
    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait3);
}

// .NET: DropsRequestedLeaseIfPermitCountGreaterThanQueueLimitAndNoAvailability_NewestFirst (row 9)
// API difference 4 changes the RetryAfter: (1 queued + 2 − 0) = 3 permits at 2 per window is 1.5
// windows, rounded UP to 2 windows (2 ms); .NET truncates to 1 window.
#[test]
fn drops_requested_lease_if_permit_count_greater_than_queue_limit_newest_first() {
    let (limiter, clock) = manual(2, MS, NewestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    // 2 > queue_limit: fails at once, and nothing is evicted for it.
    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(millis(2)));
    assert_pending(&mut wait);
    assert_eq!(queued(&limiter), 1);

    replenish(&limiter, &clock, MS);

    let _lease = ready_acquired(&mut wait);
}

// .NET: QueueAvailableAfterQueueLimitHitAndResources_BecomeAvailable (row 10)
#[test]
fn queue_available_after_queue_limit_hit_and_resources_become_available() {
    let (limiter, clock) = manual(1, MS, OldestFirst, 1);
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
// int.MaxValue becomes u32::MAX (difference 2) for permit_limit and queue_limit.
#[test]
fn large_acquires_and_queues_do_not_integer_overflow() {
    let (limiter, clock) = manual(u32::MAX, MS, NewestFirst, u32::MAX);
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
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
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
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
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
    let _: fn(&Fixed, u32) -> Result<RateLimitLease, AcquireError> = <Fixed as RateLimiter>::attempt_acquire;
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
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
    let _: fn(&Fixed, u32) -> Acquire<'_> = <Fixed as RateLimiter>::acquire;
    let _: fn(&Fixed, u32) -> Result<RateLimitLease, AcquireError> = <Fixed as RateLimiter>::blocking_acquire;
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
    let wrapped = (-1i32).cast_unsigned();
    let expected = AcquireError::PermitLimitExceeded { requested: u32::MAX, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(wrapped))), expected);
    assert_eq!(limiter.blocking_acquire(wrapped).err(), Some(expected));
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 0));
}

// .NET: AcquireZero_WithAvailability (row 16)
#[test]
fn acquire_zero_with_availability() {
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
    let lease = limiter.attempt_acquire(0).unwrap();
    assert!(lease.is_acquired());
    // A zero-permit lease takes nothing.
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireZero_WithoutAvailability (row 17)
#[test]
fn acquire_zero_without_availability() {
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let lease2 = limiter.attempt_acquire(0).unwrap();
    assert!(!lease2.is_acquired());
    // A refused zero-permit attempt carries a RetryAfter too (at least one window).
    assert_eq!(lease2.retry_after(), Some(MS));
    drop(lease2); // harmless: gives nothing back
    assert_eq!(stats(&limiter), snapshot(0, 0, 1, 1));
}

// .NET: AcquireAsyncZero_WithAvailability (row 18)
#[tokio::test]
async fn acquire_async_zero_with_availability() {
    let (limiter, _clock) = manual(1, MS, NewestFirst, 1);
    let lease = limiter.acquire(0).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: AcquireAsyncZero_WithoutAvailabilityWaitsForAvailability (row 19)
#[test]
fn acquire_async_zero_without_availability_waits_for_availability() {
    let (limiter, clock) = manual(1, MS, NewestFirst, 1);
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
    let (limiter, clock) = manual(2, MS, OldestFirst, 2);
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
    let (limiter, clock) = manual(1, MS, OldestFirst, 1);
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
// Difference 1: cancelling is dropping the future. .NET's version: permit_limit 3, window 2 ms.
#[test]
fn can_fill_queue_oldest_first_after_cancelling_first_queued_request() {
    let (limiter, clock) = manual(3, millis(2), OldestFirst, 3);
    let _lease1 = take(&limiter, 1);
    let _lease2 = take(&limiter, 2);

    let cancelled = enqueue(&limiter, 2);
    drop(cancelled);

    let mut wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    // The reset gives 3; the queued request takes 1.
    replenish(&limiter, &clock, millis(2));

    let _lease = ready_acquired(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (2, 0));
}

// .NET: CanFillQueueWithNewestFirstAfterCancelingQueuedRequestWithAnotherQueuedRequest (row 23)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_newest_first_after_cancelling_queued_request() {
    let (limiter, clock) = manual(2, MS, NewestFirst, 2);
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
    let (limiter, _clock) = manual(1, MS, OldestFirst, 1);
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
    let (limiter, clock) = manual(1, MS, OldestFirst, 1);
    let _lease = take(&limiter, 1);

    let never_polled = Box::pin(limiter.acquire(1));
    assert_eq!(queued(&limiter), 0);
    drop(never_polled);

    replenish(&limiter, &clock, MS);

    assert_eq!(available(&limiter), 1);
    // Not even with the permit available does an unpolled future take it.
    let never_polled = limiter.acquire(1);
    drop(never_polled);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));
}

// .NET: CancelUpdatesQueueLimit (row 26)
// Difference 1: cancelling is dropping the future.
#[test]
fn cancel_updates_queue_limit() {
    let (limiter, clock) = manual(1, MS, OldestFirst, 1);
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
    let (limiter, _clock) = manual(1, MS, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(lease.get(&MetadataName::RETRY_AFTER), None);
    assert_eq!(lease.retry_after(), None);
    assert_eq!(lease.reason_phrase(), None);
}

// .NET: MetadataNamesContainsAllMetadata (row 28)
// Also checked on the other kinds of lease: the name list never changes (as in .NET).
#[test]
fn metadata_names_contains_all_metadata() {
    let (limiter, _clock) = manual(1, MS, OldestFirst, 1);
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
    let (limiter, _clock) = manual(1, MS, OldestFirst, 3);
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
        Arc::new(FixedWindowRateLimiter::with_clock(options(1, MS, false, OldestFirst, 3), clock.clone()).unwrap());
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
    let (limiter, clock) = manual(2, MS, NewestFirst, 2);
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
    let (limiter, clock) = manual(2, MS, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    // One permit is free, but OldestFirst makes this request queue behind `wait`.
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    // The reset gives 2 (not 1 + 2): `wait` takes both.
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
    let (limiter, clock) = manual(2, MS, NewestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);

    let _lease2 = take(&limiter, 1);
    assert_pending(&mut wait);

    replenish(&limiter, &clock, MS);

    let _lease3 = ready_acquired(&mut wait);
}

// .NET: CannotAcquireResourcesWithAcquireWithQueuedItemsIfOldestFirst (row 34)
// RetryAfter (manual mode): 2 queued + 1 − 1 available = 2 permits at 2 per window: one window.
#[test]
fn cannot_acquire_with_attempt_acquire_with_queued_items_if_oldest_first() {
    let (limiter, clock) = manual(2, MS, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let mut wait = enqueue(&limiter, 2);
    let refused = refuse(&limiter, 1);
    assert_eq!(refused.retry_after(), Some(MS));

    replenish(&limiter, &clock, MS);

    let _lease2 = ready_acquired(&mut wait);
}

// .NET: NullIdleDurationWhenActive (row 35)
#[test]
fn null_idle_duration_when_active() {
    let (limiter, _clock) = manual(1, millis(2), OldestFirst, 2);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);

    let (limiter, _clock) = auto(1, millis(2), OldestFirst, 2);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
}

// .NET: IdleDurationUpdatesWhenIdle (row 36) [T]
// Uses a ManualClock instead of a real 15 ms delay, so the durations are exact. In auto mode the
// windows that start meanwhile find the window full and change nothing.
#[test]
fn idle_duration_updates_when_idle() {
    for (limiter, clock) in [manual(1, millis(2), OldestFirst, 2), auto(1, millis(2), OldestFirst, 2)] {
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
    let (limiter, clock) = manual(1, MS, OldestFirst, 2);
    clock.advance(millis(100));
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);

    replenish(&limiter, &clock, MS);

    // Idle since the reset, not since construction.
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
    clock.advance(millis(7));
    assert_eq!(limiter.idle_duration(), Some(millis(7)));
}

// .NET: GetStatisticsReturnsNewInstances (row 38)
// A Rust snapshot is a value: it cannot change after it is taken, and a later one differs.
#[test]
fn statistics_returns_new_snapshots() {
    let (limiter, _clock) = manual(1, MS, OldestFirst, 1);
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
    let (limiter, clock) = manual(100, MS, OldestFirst, 50);
    assert_eq!(stats(&limiter), snapshot(100, 0, 0, 0));

    // Success from an attempt with permits available.
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

    // The reset gives 100, of which the queued request takes 50; counted when granted.
    replenish(&limiter, &clock, MS);
    let _lease2 = ready_acquired(&mut lease2_wait);
    assert_eq!(stats(&limiter), snapshot(50, 0, 2, 2));
}

// .NET: GetStatisticsWithZeroPermitCount (row 40)
#[tokio::test]
async fn statistics_with_zero_permit_count() {
    let (limiter, _clock) = manual(100, MS, OldestFirst, 50);
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
    let (limiter, _clock) = manual(2, MS, OldestFirst, 2);
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
// §5.4 FixedWindowRateLimiterTests specific (7)
// ---------------------------------------------------------------------------------------------

// .NET: RetryMetadataOnFailedWaitAsync
// Manual mode (as in .NET): (2 requested − 0 available) at 2 per 20 s window = one window, 20 s.
#[test]
fn retry_metadata_on_failed_wait() {
    let (limiter, _clock) = manual(2, secs(20), OldestFirst, 1);
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

// .NET: CorrectRetryMetadataWithQueuedItem
// API rule 4 changes the number: (1 queued + 2 requested − 0) = 3 permits at 2 per window is 1.5
// windows, rounded UP to 2 windows (40 s) in manual mode; .NET truncates to 1 window (20 s).
#[test]
fn correct_retry_metadata_with_queued_item() {
    let (limiter, _clock) = manual(2, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.retry_after(), Some(secs(40)));
    assert_pending(&mut wait);
}

// .NET: CorrectRetryMetadataWithNonZeroAvailableItems
// Manual mode: (3 requested − 1 available) = 2 permits at 3 per window: one window, 20 s, as in .NET.
#[test]
fn correct_retry_metadata_with_non_zero_available_items() {
    let (limiter, _clock) = manual(3, secs(20), OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(3)));
    assert_eq!(failed.retry_after(), Some(secs(20)));
}

// .NET: TryReplenishWithAutoReplenish_ReturnsFalse
#[test]
fn try_replenish_with_auto_replenish_returns_false() {
    let (limiter, clock) = auto(2, secs(1), OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 2);

    // Nor does it reset a used window before the next window starts.
    let _lease = take(&limiter, 2);
    clock.advance(millis(999));
    assert!(!limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: AutoReplenish_ReplenishesCounters [T]
// Difference 3: no timer; advancing the ManualClock to the start of window 1 (1 s) grants the
// waiter, and not a nanosecond earlier.
#[test]
fn auto_replenish_replenishes_counters() {
    let (limiter, clock) = auto(2, secs(1), OldestFirst, 1);
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 2);

    let mut wait = enqueue(&limiter, 1);

    clock.advance(secs(1) - NS);
    assert_pending(&mut wait);

    clock.advance(NS);
    let _lease = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 2));
}

// .NET: ReplenishingRateLimiterPropertiesHaveCorrectValues
#[test]
fn replenishing_rate_limiter_properties_have_correct_values() {
    let (limiter, _clock) = auto(1, secs(60), OldestFirst, 2);
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(60));

    let (limiter, _clock) = manual(1, secs(2), OldestFirst, 2);
    assert!(!limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), secs(2));

    // Through the trait object too; sub-millisecond windows are kept exactly (no timer truncation).
    let limiter: Arc<dyn ReplenishingRateLimiter> =
        Arc::new(FixedWindowRateLimiter::new(options(1, Duration::from_nanos(1_500), true, OldestFirst, 0)).unwrap());
    assert!(limiter.is_auto_replenishing());
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(1_500));
}

// .NET: AutoReplenishIgnoresTimerJitter [R]
// Difference 3 changes what "jitter" means: there is no timer to fire early or late; window k
// starts at exactly k·window from construction, whatever chunks the clock moves in. .NET's timer
// fired at 10 min − 1 ms and reset the window then (10); here that instant is still inside window
// 0, so 7, and window 1 resets it at exactly 10 min. Window 2 starts at exactly 20 min: 1 ms
// before it the 5 taken at 10 min are still missing, 1 ms after it the window is full again.
#[test]
fn auto_replenish_ignores_timer_jitter() {
    let window = secs(600);
    let (limiter, clock) = auto(10, window, OldestFirst, 1);
    let _lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 7);

    clock.advance(window - MS);
    assert_eq!(available(&limiter), 7);
    clock.advance(MS);
    assert_eq!(available(&limiter), 10);

    let _lease = take(&limiter, 5);
    clock.advance(window - MS);
    assert_eq!(available(&limiter), 5);
    clock.advance(2 * MS);
    assert_eq!(available(&limiter), 10);
    assert_eq!(clock.now_nanos(), (2 * window + MS).as_nanos() as u64);
}

// ---------------------------------------------------------------------------------------------
// Bad input and disposal errors
// ---------------------------------------------------------------------------------------------

// .NET: (constructor validation, §1.3) — the default options value is invalid, and the fields are
// checked in .NET's order: permit_limit, then window.
#[test]
fn default_options_are_rejected_in_field_order() {
    let err = FixedWindowRateLimiter::new(FixedWindowRateLimiterOptions::default()).expect_err("default is invalid");
    assert_eq!(err.to_string(), "permit_limit must be greater than 0");

    let o = FixedWindowRateLimiterOptions { permit_limit: 1, ..Default::default() };
    assert_eq!(o.validate().unwrap_err().to_string(), "window must be greater than 0");
    let o = FixedWindowRateLimiterOptions { permit_limit: 1, window: NS, ..Default::default() };
    assert_eq!(o.validate(), Ok(()));
    // Defaults as in .NET: auto-replenishing, OldestFirst, no queue.
    assert!(o.auto_replenishment);
    assert_eq!(o.queue_processing_order, OldestFirst);
    assert_eq!(o.queue_limit, 0);
}

// .NET: (none; no upper bound in .NET, whose Timer caps periods at 49.7 days) — windows up to
// u64::MAX ns are accepted; a longer one is rejected with a named reason.
#[test]
fn window_beyond_u64_nanoseconds_is_rejected() {
    let o = options(1, Duration::from_nanos(u64::MAX) + NS, true, OldestFirst, 0);
    let err = o.validate().expect_err("too long");
    assert_eq!(err.field, "window");
    assert_eq!(err.to_string(), "window must be at most u64::MAX nanoseconds");
    assert_eq!(FixedWindowRateLimiter::with_clock(o, ManualClock::new()).err(), Some(err));

    let (limiter, clock) = auto(1, Duration::from_nanos(u64::MAX), OldestFirst, 0);
    assert_eq!(limiter.replenishment_period(), Duration::from_nanos(u64::MAX));
    let _lease = take(&limiter, 1);
    let refused = refuse(&limiter, 1);
    assert_eq!(refused.retry_after(), Some(Duration::from_nanos(u64::MAX)));
    // Window 1 would start at u64::MAX ns: the clock's range ends there (584 years), and a window
    // due at or beyond the end of the range never comes.
    clock.advance(Duration::MAX);
    let _refused = refuse(&limiter, 1);
}

// .NET: (§1.3 per-call validation, rule 3) — the limit check comes before the disposed check.
// Difference: `PermitLimitExceeded` / `Disposed` errors instead of exceptions.
#[test]
fn permit_limit_exceeded_is_checked_before_disposed() {
    for (limiter, _clock) in [manual(3, MS, OldestFirst, 5), auto(3, MS, NewestFirst, 5)] {
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
    for (limiter, clock) in [manual(3, MS, OldestFirst, 5), auto(3, MS, NewestFirst, 5)] {
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

// .NET: (§2.1 R7, §2.4 Replenish step 1) — after dispose, TryReplenish returns true in manual mode
// but resets nothing, and false in auto mode; IdleDuration still answers.
#[test]
fn try_replenish_after_dispose() {
    let (limiter, clock) = manual(4, MS, OldestFirst, 0);
    let _lease = take(&limiter, 3);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 1);
    assert!(limiter.try_replenish());
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 1));

    let (limiter, clock) = auto(4, MS, OldestFirst, 0);
    limiter.dispose();
    clock.advance(secs(10));
    assert!(!limiter.try_replenish());
    assert_eq!(limiter.idle_duration(), Some(secs(10)));
}

// .NET: (none) — the Debug output names the limiter and its options.
#[test]
fn debug_output_names_the_options() {
    let (limiter, _clock) = manual(3, secs(2), NewestFirst, 4);
    let _lease = take(&limiter, 1);
    let text = format!("{limiter:?}");
    for part in
        ["FixedWindowRateLimiter", "permit_limit: 3", "window: 2s", "auto_replenishment: false", "queue_limit: 4"]
    {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// RetryAfter (API differences 4 and 9)
// ---------------------------------------------------------------------------------------------

// .NET: RetryMetadataOnFailedWaitAsync, CorrectRetryMetadataWithQueuedItem,
// CorrectRetryMetadataWithNonZeroAvailableItems and FailsWhenQueuingMoreThanLimit_OldestFirst, in
// auto mode.
// Difference 4/9: the wait until the start of the window in which the same request would be
// granted at once, the queued permits served first (construction at 0, windows at 20 s, 40 s, ...).
// With 1 permit queued and acquire(2): window 1 (20 s) serves the queued request and leaves 1, so
// the request needs window 2: 40 s (.NET says 20 s). Each row is checked to be tight: 1 ns earlier
// the same request is refused, at retry_after it is granted.
#[test]
fn retry_after_table_in_auto_mode() {
    // permit_limit, window, permits taken, queued permits, requested, expected.
    let rows: [(u32, Duration, u32, u32, u32, Duration); 4] = [
        (2, secs(20), 2, 0, 2, secs(20)),
        (2, secs(20), 2, 1, 2, secs(40)),
        (3, secs(20), 2, 0, 3, secs(20)),
        (1, MS, 1, 1, 1, millis(2)),
    ];
    for (i, (limit, window, taken, queued_permits, requested, expected)) in rows.into_iter().enumerate() {
        let (limiter, clock) = auto(limit, window, OldestFirst, 1);
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

// .NET: (none) — API difference 4 in manual mode: windows needed, rounded UP, times the window
// (.NET truncates), at least one window. It does not depend on the time elapsed in the window (as
// in stable .NET, issue #92557), since only try_replenish starts a new window.
#[test]
fn retry_after_in_manual_mode_rounds_windows_up() {
    let (limiter, clock) = manual(4, secs(10), OldestFirst, 8);
    let _lease = take(&limiter, 4);
    // Deficit 0 (a zero-permit probe), 1, 4: one window.
    for requested in [0, 1, 4] {
        assert_eq!(refuse(&limiter, requested).retry_after(), Some(secs(10)), "{requested}");
    }
    clock.advance(secs(5));
    assert_eq!(refuse(&limiter, 4).retry_after(), Some(secs(10)));

    // Queued permits count: 3 queued + 2 = 5 at 4 per window: 2 windows (.NET: 1).
    let _wait = enqueue(&limiter, 3);
    assert_eq!(refuse(&limiter, 2).retry_after(), Some(secs(20)));
    // 7 queued + 1 = 8: exactly 2 windows; 7 + 2 = 9: 3 windows (.NET: 2).
    let _wait2 = enqueue(&limiter, 4);
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(20)));
    assert_eq!(refuse(&limiter, 2).retry_after(), Some(secs(30)));

    // Available permits count: 3 left, 5 − 3 = 2 at 5 per window: one window.
    let (limiter, _clock) = manual(5, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    assert_eq!(refuse(&limiter, 5).retry_after(), Some(secs(10)));
}

// .NET: (none) — API difference 4: tightness of retry_after in auto mode for several shapes:
// refusals in the middle of a window, several permits, permits partly available, odd windows.
#[test]
fn retry_after_is_tight_in_auto_mode() {
    // 2 permits, refused 4 s into a 10 s window: window 1 at 10 s.
    let (limiter, clock) = auto(3, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 3);
    clock.advance(secs(4));
    let retry = refuse(&limiter, 2).retry_after().expect("retry_after");
    assert_eq!(retry, secs(6));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());
    assert_eq!(available(&limiter), 1);

    // 2 of 5 left, 3 requested at 7 s: window 1 at 10 s.
    let (limiter, clock) = auto(5, secs(10), OldestFirst, 0);
    clock.advance(secs(2));
    let _lease = take(&limiter, 3);
    clock.advance(secs(5));
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, secs(3));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());
    assert_eq!(available(&limiter), 2);

    // A non-round window and an odd refusal time: refused at 1 ns.
    let window = millis(333);
    let (limiter, clock) = auto(4, window, OldestFirst, 0);
    let _lease = take(&limiter, 4);
    clock.advance(NS);
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, window - NS);
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());

    // Queue full with no queue at all (queue_limit 0): the refusal is for the request itself.
    let (limiter, clock) = auto(2, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(secs(3));
    let failed = acquire_now(&limiter, 1);
    assert_eq!(failed.retry_after(), Some(secs(7)));
    let _lease = assert_retry_after_is_tight(&clock, secs(7), || acquire_now(&limiter, 1));
}

// .NET: (none) — API difference 4 with a request queued ahead (OldestFirst), refused in the middle
// of a window: permit_limit 3, 10 s windows, 3 taken at 0, 2 permits queued, refusals at 3 s.
// Window 1 (10 s) serves the queued request and leaves 1: attempt(1) is told 7 s; attempt(2) needs
// window 2 (20 s): 17 s. Both are tight.
#[test]
fn retry_after_is_tight_with_a_queued_request_ahead() {
    let (limiter, clock) = auto(3, secs(10), OldestFirst, 4);
    let _lease = take(&limiter, 3);
    let (woken, waker) = CountingWaker::new();
    let mut wait = enqueue_with(&limiter, 2, &waker);
    clock.advance(secs(3));

    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(7)));
    assert_eq!(refuse(&limiter, 2).retry_after(), Some(secs(17)));

    let before = woken.count();
    let _lease = assert_retry_after_is_tight(&clock, secs(7), || limiter.attempt_acquire(1).unwrap());
    assert!(woken.count() > before, "the queued request's task is woken at its window");
    let _queued = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 0);

    // At 10 s, nothing left and nothing queued: attempt(2) waits for window 2.
    let retry = refuse(&limiter, 2).retry_after().expect("retry_after");
    assert_eq!(retry, secs(10));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());
    assert_eq!(stats(&limiter), snapshot(1, 0, 5, 4));

    // The same setup, with the tightness checked for the 2-permit request (17 s).
    let (limiter, clock) = auto(3, secs(10), OldestFirst, 4);
    let _lease = take(&limiter, 3);
    let mut wait = enqueue(&limiter, 2);
    clock.advance(secs(3));
    let retry = refuse(&limiter, 2).retry_after().expect("retry_after");
    assert_eq!(retry, secs(17));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(2).unwrap());
    let _queued = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: (none) — API difference 4 with several requests queued ahead, and after a cancel (the
// forecast of the queue's service is rebuilt). permit_limit 3, 10 s windows, queue [a 3, b 2]:
// a is served at window 1, b at window 2 (leaving 1), so attempt(3) needs window 3: 30 s. Once a is
// dropped, b is served at window 1 (leaving 1) and attempt(3) needs window 2: 20 s.
#[test]
fn retry_after_counts_every_queued_request_and_follows_a_cancel() {
    let (limiter, clock) = auto(3, secs(10), OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let a = enqueue(&limiter, 3);
    let mut b = enqueue(&limiter, 2);
    assert_eq!(refuse(&limiter, 3).retry_after(), Some(secs(30)));
    // attempt(1) fits beside b in window 2.
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(20)));

    drop(a);
    let retry = refuse(&limiter, 3).retry_after().expect("retry_after");
    assert_eq!(retry, secs(20));
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(10)));
    let _lease = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(3).unwrap());
    let _b = ready_acquired(&mut b);
}

// .NET: (§2.1 R3 with API difference 4) — a zero-permit request ignores the queue's order but
// needs a permit available. With 2 of 3 permits queued, window 1 leaves 1 permit, so a refused
// attempt(0) is told the start of window 1.
#[test]
fn zero_permit_retry_after_with_a_queue_that_leaves_a_permit() {
    let (limiter, clock) = auto(3, secs(10), OldestFirst, 3);
    let _lease = take(&limiter, 3);
    let mut wait = enqueue(&limiter, 2);
    clock.advance(secs(4));

    let retry = refuse(&limiter, 0).retry_after().expect("retry_after");
    assert_eq!(retry, secs(6));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    let _queued = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.1 R3 with API difference 4) — a refused zero-permit attempt while the queue will take
// the whole next window. permit_limit 2, 10 s windows, 2 taken, 2 permits queued: window 1 (10 s)
// resets to 2 and the queued request takes both, so attempt(0) at 10 s is refused again (R1: it
// needs available > 0); it first succeeds at window 2 (20 s). API rule 4 (and the type's docs: "the
// wait until the window in which the same request would succeed, the permits already queued
// served first — exact") make 20 s the answer.
#[test]
fn zero_permit_retry_after_counts_a_queue_that_takes_the_whole_window() {
    let (limiter, clock) = auto(2, secs(10), OldestFirst, 2);
    let _lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 2);

    let retry = refuse(&limiter, 0).retry_after().expect("retry_after");
    assert_eq!(retry, secs(20));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    let _queued = ready_acquired(&mut wait);
}

// .NET: (§2.1 R3) — the zero-permit request with no queue: retry_after is the next window start.
#[test]
fn zero_permit_retry_after_is_the_next_window() {
    let (limiter, clock) = auto(2, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    clock.advance(secs(6));
    let retry = refuse(&limiter, 0).retry_after().expect("retry_after");
    assert_eq!(retry, secs(4));
    let _zero = assert_retry_after_is_tight(&clock, retry, || limiter.attempt_acquire(0).unwrap());
    // A zero-permit success takes nothing.
    assert_eq!(available(&limiter), 2);
}

// ---------------------------------------------------------------------------------------------
// Lazy, exact windows (API difference 3)
// ---------------------------------------------------------------------------------------------

// .NET: (§2.4 Replenish step 5) — a new window is a reset to permit_limit, not an increment, in
// both modes; permits unused in a window do not carry over; however many windows pass, the window
// holds exactly permit_limit.
#[test]
fn a_new_window_resets_to_the_limit() {
    let (limiter, clock) = auto(3, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    clock.advance(secs(1));
    assert_eq!(available(&limiter), 3);
    clock.advance(secs(5));
    assert_eq!(available(&limiter), 3);
    let _lease = take(&limiter, 3);
    let _refused = refuse(&limiter, 1);

    let (limiter, clock) = manual(3, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 1);
    replenish(&limiter, &clock, secs(1));
    assert_eq!(available(&limiter), 3);
    let _lease = take(&limiter, 2);
    replenish(&limiter, &clock, secs(5));
    assert_eq!(available(&limiter), 3);
}

// .NET: (none) — difference 3: N elapsed windows have exactly the effect of N .NET timer ticks:
// one advance of 3.5 windows equals three separate windows plus half a window, in permits and in
// when the next window starts.
#[test]
fn elapsed_windows_apply_exactly_however_the_clock_moves() {
    let (at_once, clock_a) = auto(3, secs(1), OldestFirst, 0);
    let (stepwise, clock_b) = auto(3, secs(1), OldestFirst, 0);
    let _a = take(&at_once, 3);
    let _b = take(&stepwise, 3);

    clock_a.advance(millis(3_500));
    for step in [secs(1), secs(1), secs(1), millis(500)] {
        clock_b.advance(step);
        let _ = available(&stepwise);
    }
    assert_eq!(available(&at_once), 3);
    assert_eq!(stats(&at_once), stats(&stepwise));

    // Window 4 starts at 4 s in both.
    for (limiter, clock) in [(&at_once, &clock_a), (&stepwise, &clock_b)] {
        let _lease = take(limiter, 2);
        clock.advance(millis(500) - NS);
        assert_eq!(available(limiter), 1);
        clock.advance(NS);
        assert_eq!(available(limiter), 3);
    }
}

// .NET: (none) — difference 3: the window grid is fixed at construction (window k starts at
// construction + k·window); acquisitions, refusals and reads at arbitrary times never move it, and
// a limiter built on a clock that has already run starts its grid there.
#[test]
fn windows_stay_on_the_construction_grid() {
    let (limiter, clock) = auto(2, secs(10), OldestFirst, 0);
    clock.advance(secs(7));
    let _lease = take(&limiter, 2);
    // Window 1 starts at 10 s, 3 s after the take (not 10 s after it).
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(secs(3)));
    clock.advance(secs(3));
    let _lease = take(&limiter, 1);
    clock.advance(secs(9));
    assert_eq!(refuse(&limiter, 2).retry_after(), Some(secs(1)));
    clock.advance(secs(1));
    // 20 s: window 2.
    let _lease = take(&limiter, 2);
    clock.advance(millis(25_500));
    // 45.5 s: inside window 4.
    let _lease = take(&limiter, 2);
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(millis(4_500)));

    let clock = ManualClock::new();
    clock.advance(millis(1_234));
    let limiter = FixedWindowRateLimiter::with_clock(options(1, secs(1), true, OldestFirst, 0), clock.clone()).unwrap();
    clock.advance(millis(2_500));
    let _lease = take(&limiter, 1);
    // Windows at 1.234 s + k s: the next at 4.234 s, 0.5 s away.
    assert_eq!(refuse(&limiter, 1).retry_after(), Some(millis(500)));
}

// .NET: (R10 with difference 3) — a new limiter is idle from construction in both modes, even if
// created long after the clock's origin.
#[test]
fn new_limiter_is_idle_from_construction() {
    for auto_replenishment in [false, true] {
        let clock = ManualClock::new();
        clock.advance(secs(1_000));
        let limiter =
            FixedWindowRateLimiter::with_clock(options(1, secs(1), auto_replenishment, OldestFirst, 0), clock.clone())
                .unwrap();
        assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
        clock.advance(millis(2_500));
        // Windows starting meanwhile find the window full and do not restart the idle time.
        assert_eq!(limiter.idle_duration(), Some(millis(2_500)));
        if !auto_replenishment {
            // Neither does a manual try_replenish on a full window (§2.4 step 4, R10 early exit).
            assert!(limiter.try_replenish());
            assert_eq!(limiter.idle_duration(), Some(millis(2_500)));
        }
    }
}

// .NET: (R10 with difference 3) — auto mode: after the reset of a used window, the limiter is idle
// since the start of that window, however late it is read; a take from a full window makes it
// busy, and zero-permit requests and refusals do not touch it.
#[test]
fn idle_duration_counts_from_the_start_of_the_window_that_reset_it() {
    let (limiter, clock) = auto(3, secs(1), OldestFirst, 0);
    clock.advance(millis(2_500));
    assert_eq!(limiter.idle_duration(), Some(millis(2_500)), "idle from construction");

    // A take at 2.5 s; window 3 (3 s) resets it.
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(millis(500) - NS);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(NS + millis(1_250));
    // 4.25 s, read for the first time since window 3 reset the window at 3 s.
    assert_eq!(limiter.idle_duration(), Some(millis(1_250)));

    // Emptied at 4.25 s, read at 9.3 s: idle since window 5 (5 s).
    let _lease = take(&limiter, 3);
    let _refused = refuse(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(millis(5_050));
    assert_eq!(limiter.idle_duration(), Some(millis(4_300)));

    // Zero-permit acquisitions do not touch it.
    let _zero = take(&limiter, 0);
    assert_eq!(limiter.idle_duration(), Some(millis(4_300)));
}

// .NET: (none) — difference 3: the clock alone grants queued requests, window by window, in order.
// permit_limit 3, OldestFirst queue [1, 3, 1]: window 1 resets to 3 and grants the first (2 left);
// the second (3) does not fit and blocks the third. Window 2 grants the second (0 left), window 3
// the third (2 left). Each window wakes the task of the request it serves.
#[test]
fn queued_requests_are_granted_at_their_windows_by_the_clock_alone() {
    let window = secs(1);
    let (limiter, clock) = auto(3, window, OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 1, &k1);
    let mut w2 = enqueue_with(&limiter, 3, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);

    let before = c1.count();
    clock.advance(window);
    assert!(c1.count() > before, "window 1 wakes the first request");
    assert!(poll_with(&mut w1, &k1).expect("granted at window 1").unwrap().is_acquired());
    assert_pending_with(&mut w2, &k2);
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(2, 4, 0, 2));

    let before = c2.count();
    clock.advance(window - NS);
    assert_pending_with(&mut w2, &k2);
    clock.advance(NS);
    assert!(c2.count() > before, "window 2 wakes the second request");
    assert!(poll_with(&mut w2, &k2).expect("granted at window 2").unwrap().is_acquired());
    assert_pending_with(&mut w3, &k3);
    assert_eq!(stats(&limiter), snapshot(0, 1, 0, 3));

    let before = c3.count();
    clock.advance(window);
    assert!(c3.count() > before, "window 3 wakes the third request");
    assert!(poll_with(&mut w3, &k3).expect("granted at window 3").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 4));

    // Not idle (2 of 3) until window 4 resets it; then idle since window 4.
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(window + millis(10));
    assert_eq!(limiter.idle_duration(), Some(millis(10)));
}

// .NET: (none) — difference 3: "N elapsed windows have exactly the effect of N .NET timer ticks"
// and queued requests are granted at their windows. One advance of 3 windows over the queue
// [1, 3, 1] above grants all three (at windows 1, 2, 3) and leaves 2 permits, as three advances do
// (the clock wakes the head, whose poll serves the queue and wakes the others); statistics read
// without polling see the same; NewestFirst likewise ([a 1, b 2, c 1], limit 2: window 1 grants c
// and leaves 1, which b cannot use, blocking a; window 2 grants b, window 3 grants a).
#[test]
fn one_advance_over_several_windows_grants_queued_requests_as_separate_windows_would() {
    let window = secs(1);
    let (limiter, clock) = auto(3, window, OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let (c1, k1) = CountingWaker::new();
    let (c2, k2) = CountingWaker::new();
    let (c3, k3) = CountingWaker::new();
    let mut w1 = enqueue_with(&limiter, 1, &k1);
    let mut w2 = enqueue_with(&limiter, 3, &k2);
    let mut w3 = enqueue_with(&limiter, 1, &k3);
    let before = (c1.count(), c2.count(), c3.count());
    clock.advance(3 * window);
    assert!(c1.count() > before.0, "the clock wakes the head of the queue");
    assert!(poll_with(&mut w1, &k1).expect("granted").unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 4));
    assert!(c2.count() > before.1 && c3.count() > before.2, "the pass that served the queue wakes the others");
    let _l2 = ready_acquired(&mut w2);
    let _l3 = ready_acquired(&mut w3);

    // Nobody polls: statistics alone see the queue served at its windows.
    let (limiter, clock) = auto(3, window, OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let mut w1 = enqueue(&limiter, 1);
    let mut w2 = enqueue(&limiter, 3);
    let mut w3 = enqueue(&limiter, 1);
    clock.advance(3 * window + millis(500));
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 4));
    let _l3 = ready_acquired(&mut w3);
    let _l2 = ready_acquired(&mut w2);
    let _l1 = ready_acquired(&mut w1);

    // Stopping between windows 2 and 3: the third request still waits, with nothing left.
    let (limiter, clock) = auto(3, window, OldestFirst, 5);
    let _lease = take(&limiter, 3);
    let mut w1 = enqueue(&limiter, 1);
    let mut w2 = enqueue(&limiter, 3);
    let mut w3 = enqueue(&limiter, 1);
    clock.advance(3 * window - NS);
    let _l1 = ready_acquired(&mut w1);
    let _l2 = ready_acquired(&mut w2);
    assert_pending(&mut w3);
    assert_eq!(stats(&limiter), snapshot(0, 1, 0, 3));

    // NewestFirst.
    let (limiter, clock) = auto(2, window, NewestFirst, 4);
    let _lease = take(&limiter, 2);
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);
    clock.advance(3 * window);
    let _c = ready_acquired(&mut c);
    let _b = ready_acquired(&mut b);
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 4));
}

// .NET: (none) — NewestFirst window by window: the newest request is served first and blocks older
// ones while it does not fit (the queue of the test above, one window at a time).
#[test]
fn newest_first_queued_requests_are_granted_at_their_windows() {
    let window = secs(1);
    let (limiter, clock) = auto(2, window, NewestFirst, 4);
    let _lease = take(&limiter, 2);
    let mut a = enqueue(&limiter, 1);
    let mut b = enqueue(&limiter, 2);
    let mut c = enqueue(&limiter, 1);

    clock.advance(window);
    let _c = ready_acquired(&mut c);
    assert_pending(&mut b);
    assert_pending(&mut a);
    // One permit is free, but the newest waiter (2) blocks the older one.
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 2));
    clock.advance(window);
    let _b = ready_acquired(&mut b);
    assert_pending(&mut a);
    assert_eq!(stats(&limiter), snapshot(0, 1, 0, 3));
    clock.advance(window);
    let _a = ready_acquired(&mut a);
    assert_eq!(stats(&limiter), snapshot(1, 0, 0, 4));
}

// .NET: (none) — difference 3: when a waiter's window has started, it was granted at that window
// start; a newcomer arriving later cannot take the permits first, in either order.
#[test]
fn newcomer_cannot_take_permits_a_due_waiter_was_granted() {
    for order in [OldestFirst, NewestFirst] {
        let (limiter, clock) = auto(2, secs(1), order, 2);
        let _lease = take(&limiter, 2);
        let mut wait = enqueue(&limiter, 2);
        clock.advance(millis(1_500));
        // Nobody has polled the waiter since its window started.
        let refused = refuse(&limiter, 1);
        assert_eq!(refused.retry_after(), Some(millis(500)), "{order:?}");
        let _granted = ready_acquired(&mut wait);
        assert_eq!(stats(&limiter), snapshot(0, 0, 1, 2), "{order:?}");
    }
}

/// Spawns one task per entry awaiting `acquire(permits)`, each queued before the next is spawned.
fn spawn_queued(
    limiter: &Arc<Fixed>,
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

// .NET: AutoReplenish_ReplenishesCounters, for a real executor: tasks awaiting `acquire` on a
// multi-threaded runtime complete when the ManualClock reaches their windows, with nobody polling
// by hand (queue [1, 3, 1], permit_limit 3: one task per window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_the_clock() {
    let (limiter, clock) = auto(3, secs(1), OldestFirst, 5);
    let limiter = Arc::new(limiter);
    let _lease = take(&*limiter, 3);
    let tasks = spawn_queued(&limiter, &[1, 3, 1]);

    for task in &tasks {
        assert!(!task.is_finished());
        clock.advance(secs(1));
        wait_until(|| task.is_finished());
    }
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(2, 0, 0, 4));
}

// .NET: AutoReplenish_ReplenishesCounters (real executor) with one advance over all three windows:
// every task completes. Waits with a real-time deadline (wait_until panics after 20 s) instead of
// hanging when a task is never released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_tasks_are_released_by_one_advance_over_their_windows() {
    let (limiter, clock) = auto(3, secs(1), OldestFirst, 5);
    let limiter = Arc::new(limiter);
    let _lease = take(&*limiter, 3);
    let tasks = spawn_queued(&limiter, &[1, 3, 1]);

    clock.advance(secs(3));

    wait_until(|| tasks.iter().all(|t| t.is_finished()));
    for task in tasks {
        assert!(task.await.expect("task did not panic").expect("no error").is_acquired());
    }
    assert_eq!(stats(&*limiter), snapshot(2, 0, 0, 4));
}

// ---------------------------------------------------------------------------------------------
// blocking_acquire on a ManualClock-driven auto window
// ---------------------------------------------------------------------------------------------

// .NET: (none; AcquireAsync waiting, for plain threads) — a thread parked in blocking_acquire is
// released when the clock reaches the next window, and not before.
#[test]
fn blocking_acquire_is_released_by_the_clock() {
    let (limiter, clock) = auto(1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let blocked = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);

        clock.advance(secs(1) - NS);
        assert_eq!(queued(&limiter), 1, "still waiting 1 ns before the window starts");
        assert!(!blocked.is_finished());

        clock.advance(NS);

        let granted = blocked.join().expect("no panic").expect("no error");
        assert!(granted.is_acquired());
    });
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
}

// .NET: (none) — two blocked threads needing a whole window each, one advance covering both their
// windows: both are released, as two windows would. Waits with a real-time deadline (wait_until
// panics after 20 s) instead of hanging when a thread is never released.
#[test]
fn blocking_acquires_are_released_by_one_advance_over_their_windows() {
    let (limiter, clock) = auto(2, secs(1), OldestFirst, 4);
    let _lease = take(&limiter, 2);

    std::thread::scope(|s| {
        let first = s.spawn(|| limiter.blocking_acquire(2));
        wait_until(|| queued(&limiter) == 2);
        let second = s.spawn(|| limiter.blocking_acquire(2));
        wait_until(|| queued(&limiter) == 4);

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

// .NET: DisposeReleasesQueuedAcquires, for a thread blocked on an auto window.
#[test]
fn blocking_acquire_is_released_by_dispose() {
    let (limiter, _clock) = auto(1, secs(1), OldestFirst, 1);
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
    let (limiter, _clock) = auto(1, secs(1), OldestFirst, 0);
    assert!(limiter.blocking_acquire(1).unwrap().is_acquired());
    let refused = limiter.blocking_acquire(1).unwrap();
    assert!(!refused.is_acquired());
    assert_eq!(refused.retry_after(), Some(secs(1)));
}

// ---------------------------------------------------------------------------------------------
// Years of idle time and u32::MAX
// ---------------------------------------------------------------------------------------------

const FIFTY_YEARS: Duration = Duration::from_secs(50 * 365 * 86_400 + 12 * 86_400);

// .NET: (none) — years of idle time in auto mode: the window holds exactly permit_limit, nothing
// panics or wraps, and retry_after stays exact afterwards.
#[test]
fn years_of_idle_time_in_auto_mode() {
    let (limiter, clock) = auto(5, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 5);

    clock.advance(FIFTY_YEARS + millis(250));
    assert_eq!(available(&limiter), 5);
    // Window 1 (1 s) reset it: idle since 1 s.
    assert_eq!(limiter.idle_duration(), Some(FIFTY_YEARS + millis(250) - secs(1)));
    let _lease = take(&limiter, 5);
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

    // To the end of the clock's range (it saturates at u64::MAX ns): still exactly permit_limit.
    clock.advance(Duration::MAX);
    assert_eq!(clock.now_nanos(), u64::MAX);
    assert_eq!(available(&limiter), 5);
    assert!(limiter.idle_duration().is_some());
}

// .NET: (none) — at the end of a clock's range (u64::MAX ns, where a ManualClock saturates) time
// stands still and no window starts (window starts are at k·window; u64::MAX is not one for a 1 s
// window), so a used window must stay used.
#[test]
fn saturated_clock_does_not_create_phantom_windows() {
    let (limiter, clock) = auto(5, secs(1), OldestFirst, 0);
    clock.advance(Duration::MAX);
    assert_eq!(available(&limiter), 5);
    let _lease = take(&limiter, 5);
    assert_eq!(available(&limiter), 0);
    let _refused = refuse(&limiter, 1);
    let _refused = refuse(&limiter, 1);
    assert_eq!(available(&limiter), 0);
}

// .NET: (none) — years of idle time with a request queued and u32::MAX limits: the waiter is
// granted at window 1 and the window is then exactly full again.
#[test]
fn years_of_idle_time_with_queued_request_and_large_limits() {
    let (limiter, clock) = auto(u32::MAX, NS, OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    let mut wait = enqueue(&limiter, u32::MAX);
    clock.advance(FIFTY_YEARS);
    let _granted = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(u64::from(u32::MAX), 0, 0, 2));
}

// .NET: (none) — manual mode: TryReplenish after years resets the window once, and that call's time
// is the new window start.
#[test]
fn years_of_idle_time_in_manual_mode() {
    let (limiter, clock) = manual(5, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 5);
    replenish(&limiter, &clock, FIFTY_YEARS);
    assert_eq!(available(&limiter), 5);
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));

    let _lease = take(&limiter, 5);
    replenish(&limiter, &clock, millis(500));
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, millis(500));
    assert_eq!(available(&limiter), 5);

    // The largest numbers: u32::MAX permits per 1 ns window over the whole clock range.
    let (limiter, clock) = manual(u32::MAX, NS, OldestFirst, 0);
    let _lease = take(&limiter, u32::MAX);
    replenish(&limiter, &clock, Duration::MAX);
    assert_eq!(available(&limiter), u64::from(u32::MAX));
    let _lease = take(&limiter, u32::MAX);
    // The clock stands still at its end: less than a window since the last reset.
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 0);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow, in auto mode, with a queue of u32::MAX permits
// and a queue-full failure whose RetryAfter counts more than u32::MAX permits.
#[test]
fn u32_max_limits_in_auto_mode() {
    let (limiter, clock) = auto(u32::MAX, secs(1), OldestFirst, u32::MAX);
    let _lease = take(&limiter, u32::MAX);
    assert_eq!(refuse(&limiter, u32::MAX).retry_after(), Some(secs(1)));

    let mut wait = enqueue(&limiter, u32::MAX);
    assert_eq!(queued(&limiter), u64::from(u32::MAX));
    // u32::MAX queued + 1 requested: window 1 serves the queue, window 2 the request.
    let full = acquire_now(&limiter, 1);
    assert!(!full.is_acquired());
    assert_eq!(full.retry_after(), Some(secs(2)));

    clock.advance(secs(1));
    let _big = ready_acquired(&mut wait);
    assert_eq!(stats(&limiter), snapshot(0, 0, 2, 2));
    let _lease = assert_retry_after_is_tight(&clock, secs(1), || limiter.attempt_acquire(1).unwrap());
    assert_eq!(available(&limiter), u64::from(u32::MAX) - 1);
}

// ---------------------------------------------------------------------------------------------
// Manual mode details (.NET's fixed-window Replenish rule)
// ---------------------------------------------------------------------------------------------

// .NET: (§2.4 Replenish step 2) — a call less than a window after the last reset does nothing and
// does not move the window start: with resets at 0 (construction) and 10 s, calls at 15 s and
// 19.999 s change nothing, and the one at 20 s resets (had the call at 15 s moved the start, it
// would not).
#[test]
fn manual_call_less_than_a_window_after_the_last_reset_does_nothing() {
    let (limiter, clock) = manual(2, secs(10), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    replenish(&limiter, &clock, secs(10) - MS);
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, MS);
    assert_eq!(available(&limiter), 2);

    let _lease = take(&limiter, 2);
    replenish(&limiter, &clock, secs(5));
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, secs(5) - MS);
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, MS);
    assert_eq!(available(&limiter), 2);
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 2));
}

// .NET: (§2.4 Replenish step 3) — a call on a full window still moves the window start: the call at
// 10 s finds the window full, yet makes 10 s the start, so after a take the call at 19 s does
// nothing (it would reset if the start were still 0) and the one at 20 s resets.
#[test]
fn manual_call_on_a_full_window_moves_the_window_start() {
    let (limiter, clock) = manual(2, secs(10), OldestFirst, 0);
    replenish(&limiter, &clock, secs(10));
    assert_eq!(available(&limiter), 2);

    clock.advance(secs(2));
    let _lease = take(&limiter, 2);
    replenish(&limiter, &clock, secs(7));
    assert_eq!(available(&limiter), 0);
    replenish(&limiter, &clock, secs(1));
    assert_eq!(available(&limiter), 2);
}

// .NET: (§2.4 "at most one reset per call, no catch-up") — after ten windows' worth of time one
// call resets once and serves what fits; an immediate second call does nothing; only a window
// later does the next reset serve the next request. Time alone does nothing in manual mode.
#[test]
fn manual_mode_resets_at_most_once_per_call_without_catch_up() {
    let (limiter, clock) = manual(2, secs(1), OldestFirst, 4);
    let _lease = take(&limiter, 2);
    let mut first = enqueue(&limiter, 2);
    let mut second = enqueue(&limiter, 2);

    clock.advance(secs(10));
    assert_pending(&mut first);
    assert_eq!(available(&limiter), 0);

    assert!(limiter.try_replenish());
    let _first = ready_acquired(&mut first);
    assert_pending(&mut second);

    assert!(limiter.try_replenish());
    assert_pending(&mut second);
    replenish(&limiter, &clock, secs(1) - NS);
    assert_pending(&mut second);
    replenish(&limiter, &clock, NS);
    let _second = ready_acquired(&mut second);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (§2.4 TryReplenish, R10) — manual mode: true even when nothing happens (too early, or the
// window full), false in auto mode; a reset of a used window makes the limiter idle from that call,
// a call on a full window does not restart the idle time.
#[test]
fn try_replenish_return_values_and_idle_time_in_manual_mode() {
    let (limiter, clock) = manual(2, secs(1), OldestFirst, 0);
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 2);
    let _lease = take(&limiter, 1);
    // No time has passed: nothing happens, still true.
    assert!(limiter.try_replenish());
    assert_eq!(available(&limiter), 1);
    assert_eq!(limiter.idle_duration(), None);

    replenish(&limiter, &clock, secs(3));
    assert_eq!(available(&limiter), 2);
    clock.advance(millis(300));
    assert_eq!(limiter.idle_duration(), Some(millis(300)));

    // Full: true, nothing happens, and the idle time keeps counting from the reset.
    replenish(&limiter, &clock, secs(5));
    assert_eq!(stats(&limiter), snapshot(2, 0, 0, 1));
    assert_eq!(limiter.idle_duration(), Some(millis(5_300)));

    let (limiter, clock) = auto(2, secs(1), OldestFirst, 0);
    let _lease = take(&limiter, 2);
    assert!(!limiter.try_replenish());
    clock.advance(secs(1));
    assert!(!limiter.try_replenish());
    // The window started anyway (auto mode needs no TryReplenish).
    assert_eq!(available(&limiter), 2);
}

// ---------------------------------------------------------------------------------------------
// Deliberate difference 8 and the finer queue rules of §2.1
// ---------------------------------------------------------------------------------------------

// .NET: (none) — difference 8: a cancelled waiter makes the queue process again at once, in both
// modes (auto mode: between window starts). .NET would leave wait2 pending until the next
// replenishment even though a permit is free.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once() {
    for (limiter, _clock) in [manual(2, secs(1), OldestFirst, 3), auto(2, secs(1), OldestFirst, 3)] {
        let _lease = take(&limiter, 1);

        let wait1 = enqueue(&limiter, 2);
        let mut wait2 = enqueue(&limiter, 1);
        assert_eq!(available(&limiter), 1);

        drop(wait1);

        let _lease2 = ready_acquired(&mut wait2);
        assert_eq!(stats(&limiter), snapshot(0, 0, 0, 2));
    }
}

// .NET: (none) — difference 8, NewestFirst: queue [older 1, middle 2, newest 2], permit_limit 3.
// The reset grants the newest (1 left); the middle one (2) does not fit and blocks the older one.
// When the middle one goes away, the older one is granted at once.
#[test]
fn cancelled_blocking_waiter_lets_older_waiter_proceed_at_once_newest_first() {
    let (limiter, clock) = manual(3, secs(1), NewestFirst, 5);
    let _lease = take(&limiter, 3);
    let mut older = enqueue(&limiter, 1);
    let middle = enqueue(&limiter, 2);
    let mut newest = enqueue(&limiter, 2);

    replenish(&limiter, &clock, secs(1));
    let _newest = ready_acquired(&mut newest);
    assert_pending(&mut older);
    assert_eq!(stats(&limiter), snapshot(1, 3, 0, 2));

    drop(middle);

    let _granted = ready_acquired(&mut older);
    assert_eq!(stats(&limiter), snapshot(0, 0, 0, 3));
}

// .NET: (§2.1 R3 / R9) — a zero-permit waiter is granted by the same replenishment pass as the
// request ahead of it, even though that request took the last permit (.NET's check is
// `available >= 0`); in auto mode, at the same window start.
#[test]
fn zero_permit_waiter_is_granted_in_the_same_pass_behind_a_grant() {
    let (limiter, clock) = manual(1, secs(1), OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);
    replenish(&limiter, &clock, secs(1));
    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 0);

    let (limiter, clock) = auto(1, secs(1), OldestFirst, 1);
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
    let (limiter, clock) = auto(1, secs(1), OldestFirst, 0);
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
    let (limiter, clock) = manual(3, secs(1), OldestFirst, 3);
    let _lease = take(&limiter, 3);
    let mut two = enqueue(&limiter, 2);
    let mut one = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 3);
    let _full = ready_failed(&mut Box::pin(limiter.acquire(1)));

    replenish(&limiter, &clock, secs(1));
    let _two = ready_acquired(&mut two);
    let _one = ready_acquired(&mut one);
}

// .NET: (§1.4) — dropping a fixed-window lease never gives permits back, whichever way it was
// granted; a lease outliving the limiter is harmless.
#[test]
fn dropping_leases_returns_nothing() {
    let (limiter, clock) = manual(3, secs(1), OldestFirst, 3);
    let direct = take(&limiter, 2);
    let wait_lease = {
        let mut wait = enqueue(&limiter, 3);
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

// .NET: (none) — the registered waker is woken when a queued request is granted by a window start,
// evicted, or failed by disposal, so an executor re-polls it.
#[test]
fn queued_request_wakes_its_task_when_decided() {
    let (limiter, clock) = auto(1, secs(1), NewestFirst, 1);
    let _lease = take(&limiter, 1);

    let (granted_count, granted_waker) = CountingWaker::new();
    let mut granted = enqueue_with(&limiter, 1, &granted_waker);
    let before = granted_count.count();
    clock.advance(secs(1));
    assert!(granted_count.count() > before, "the window start must wake the task");
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
    let (limiter, _clock) = auto(1, secs(1), OldestFirst, 1);
    assert_send_sync(&limiter);
    let future = limiter.acquire(1);
    assert_send(&future);
    drop(future);
    let lease = take(&limiter, 1);
    assert_send_sync(&lease);
    assert_eq!(available(&limiter), 0);
}
