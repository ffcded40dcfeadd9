//! Behavioural tests of `ConcurrencyLimiter`, ported from .NET's
//! `System.Threading.RateLimiting` test suite (`ConcurrencyLimiterTests` and the shared scenarios of
//! `BaseRateLimiterTests`), plus tests of the places where this crate's API deliberately differs.
//!
//! Conventions:
//! * A queued request is a `Box::pin(limiter.acquire(n))` future; it joins the queue when first
//!   polled, so every such future is polled once right away and asserted pending.
//! * A release grants queued requests synchronously (in the releasing call, as .NET completes the
//!   waiter inside `Release`), so "acquired after the release" is checked with a single poll rather
//!   than an `.await` that could hang.
//! * .NET's cancellation tokens become dropping the future (API difference 1).
//! * Time is a `ManualClock`; no test sleeps in real time.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{CountingWaker, poll_once, poll_with, wait_until};
use tollgate::{
    Acquire, AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, MetadataName,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, RateLimiterStatistics,
};

const QUEUE_LIMIT_REACHED: &str = "Queue limit reached";

type Waiting<'a> = Pin<Box<Acquire<'a>>>;

fn options(permit_limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> ConcurrencyLimiterOptions {
    ConcurrencyLimiterOptions { permit_limit, queue_processing_order: order, queue_limit }
}

fn limiter(permit_limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> ConcurrencyLimiter {
    ConcurrencyLimiter::new(options(permit_limit, order, queue_limit)).expect("valid options")
}

fn clocked(
    permit_limit: u32,
    order: QueueProcessingOrder,
    queue_limit: u32,
) -> (ConcurrencyLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let limiter = ConcurrencyLimiter::with_clock(options(permit_limit, order, queue_limit), clock.clone())
        .expect("valid options");
    (limiter, clock)
}

#[track_caller]
fn stats(limiter: &(impl RateLimiter + ?Sized)) -> RateLimiterStatistics {
    limiter.statistics().expect("built-in limiters always report statistics")
}

#[track_caller]
fn available(limiter: &(impl RateLimiter + ?Sized)) -> u64 {
    stats(limiter).current_available_permits
}

#[track_caller]
fn queued(limiter: &(impl RateLimiter + ?Sized)) -> u64 {
    stats(limiter).current_queued_count
}

/// Takes `permits` with `attempt_acquire`, asserting success.
#[track_caller]
fn take(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(permits).expect("no error");
    assert!(lease.is_acquired(), "attempt_acquire({permits}) should succeed");
    lease
}

/// Starts an `acquire(permits)` and polls it once, asserting that it queued (is pending).
#[track_caller]
fn enqueue(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> Waiting<'_> {
    let mut wait = Box::pin(limiter.acquire(permits));
    assert_pending(&mut wait);
    wait
}

#[track_caller]
fn assert_pending(wait: &mut Waiting<'_>) {
    if let Some(result) = poll_once(wait) {
        panic!("expected the request to be pending, but it completed with {result:?}");
    }
}

/// Polls once; the future must be complete without error.
#[track_caller]
fn ready(wait: &mut Waiting<'_>) -> RateLimitLease {
    match poll_once(wait) {
        Some(Ok(lease)) => lease,
        Some(Err(e)) => panic!("expected a lease, got error {e:?}"),
        None => panic!("expected the request to be complete, but it is still pending"),
    }
}

#[track_caller]
fn ready_acquired(wait: &mut Waiting<'_>) -> RateLimitLease {
    let lease = ready(wait);
    assert!(lease.is_acquired(), "expected an acquired lease, got {lease:?}");
    lease
}

#[track_caller]
fn ready_failed(wait: &mut Waiting<'_>) -> RateLimitLease {
    let lease = ready(wait);
    assert!(!lease.is_acquired(), "expected a failed lease, got {lease:?}");
    lease
}

/// Polls once; the future must complete with an error.
#[track_caller]
fn ready_err(wait: &mut Waiting<'_>) -> AcquireError {
    match poll_once(wait) {
        Some(Err(e)) => e,
        Some(Ok(lease)) => panic!("expected an error, got lease {lease:?}"),
        None => panic!("expected an error, but the request is pending"),
    }
}

fn names(lease: &RateLimitLease) -> Vec<&str> {
    lease.metadata_names().collect()
}

// ---------------------------------------------------------------------------------------------
// §5.1 rows 1–41 (BaseRateLimiterTests scenarios, Concurrency column)
// ---------------------------------------------------------------------------------------------

// .NET: CanAcquireResource (row 1)
#[test]
fn can_acquire_resource() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = limiter.attempt_acquire(1).unwrap();
    assert!(lease.is_acquired());
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    drop(lease);

    assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
}

// .NET: InvalidOptionsThrows (row 2)
// Differences: an `OptionsError` is returned instead of an ArgumentException; `queue_limit: -1` is
// unrepresentable (u32, difference 2), so only `permit_limit` (0, .NET's `<= 0` case) can be invalid.
#[test]
fn invalid_options_are_rejected() {
    let err = ConcurrencyLimiter::new(options(0, NewestFirst, 1)).expect_err("permit_limit 0 must be rejected");
    assert_eq!(err.field, "permit_limit");
    assert_eq!(err.to_string(), "permit_limit must be greater than 0");

    let err = ConcurrencyLimiter::with_clock(options(0, OldestFirst, 0), ManualClock::new())
        .expect_err("with_clock validates too");
    assert_eq!(err.field, "permit_limit");
    assert_eq!(options(0, OldestFirst, 5).validate(), Err(err));

    // The smallest queue limit, 0, is valid (.NET rejects only negative ones).
    let limiter = limiter(1, NewestFirst, 0);
    let _lease = take(&limiter, 1);
    let mut rejected = Box::pin(limiter.acquire(1));
    let failed = ready_failed(&mut rejected);
    assert_eq!(failed.reason_phrase(), Some(QUEUE_LIMIT_REACHED));
}

// .NET: CanAcquireResourceAsync (row 3)
#[tokio::test]
async fn can_acquire_resource_async() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = limiter.acquire(1).await.unwrap();
    assert!(lease.is_acquired());

    let mut wait = enqueue(&limiter, 1);

    drop(lease);

    let _lease = ready_acquired(&mut wait);
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsOldest (row 4)
#[test]
fn acquire_queues_and_grabs_oldest() {
    let limiter = limiter(1, OldestFirst, 2);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);

    let lease = ready_acquired(&mut wait1);
    assert_pending(&mut wait2);

    drop(lease);

    let _lease = ready_acquired(&mut wait2);
}

// .NET: CanAcquireResourceAsync_QueuesAndGrabsNewest (row 5)
#[test]
fn acquire_queues_and_grabs_newest() {
    let limiter = limiter(2, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);

    // The second (newest) request completes first; the older one needs 2 and only 1 is left.
    let lease = ready_acquired(&mut wait2);
    assert_pending(&mut wait1);
    assert_eq!(available(&limiter), 1);

    drop(lease);

    let _lease = ready_acquired(&mut wait1);
    assert_eq!(available(&limiter), 0);
}

// .NET: FailsWhenQueuingMoreThanLimit_OldestFirst (row 6)
#[test]
fn fails_when_queuing_more_than_limit_oldest_first() {
    let limiter = limiter(1, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(failed.reason_phrase(), Some(QUEUE_LIMIT_REACHED));

    // OldestFirst evicts nothing: the queued request is still waiting.
    assert_pending(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (1, 1));
}

// .NET: DropsOldestWhenQueuingMoreThanLimit_NewestFirst (row 7)
#[test]
fn drops_oldest_when_queuing_more_than_limit_newest_first() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let mut wait2 = enqueue(&limiter, 1);
    let evicted = ready_failed(&mut wait);
    // An evicted request gets a plain failed lease: no reason phrase (only queue-full has one).
    assert_eq!(evicted.reason_phrase(), None);
    assert_eq!(evicted.get(&MetadataName::REASON_PHRASE), None);
    assert_pending(&mut wait2);
    assert_eq!(stats(&limiter).total_failed_leases, 1);
    assert_eq!(queued(&limiter), 1);

    drop(lease);

    let _lease = ready_acquired(&mut wait2);
}

// .NET: DropsMultipleOldestWhenQueuingMoreThanLimit_NewestFirst (row 8)
#[test]
fn drops_multiple_oldest_when_queuing_more_than_limit_newest_first() {
    let limiter = limiter(2, NewestFirst, 2);
    let lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    let mut wait3 = enqueue(&limiter, 2);
    let _failed1 = ready_failed(&mut wait);
    let _failed2 = ready_failed(&mut wait2);
    assert_pending(&mut wait3);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (2, 2));

    drop(lease);

    let _lease = ready_acquired(&mut wait3);
}

// .NET: DropsRequestedLeaseIfPermitCountGreaterThanQueueLimitAndNoAvailability_NewestFirst (row 9)
#[test]
fn drops_requested_lease_if_permit_count_greater_than_queue_limit_newest_first() {
    let limiter = limiter(2, NewestFirst, 1);
    let lease = take(&limiter, 2);
    let mut wait = enqueue(&limiter, 1);

    // 2 > queue_limit: fails at once, and nothing is evicted for it.
    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));
    assert_eq!(failed.reason_phrase(), Some(QUEUE_LIMIT_REACHED));
    assert_pending(&mut wait);
    assert_eq!(queued(&limiter), 1);

    drop(lease);

    let _lease = ready_acquired(&mut wait);
}

// .NET: QueueAvailableAfterQueueLimitHitAndResources_BecomeAvailable (row 10)
#[test]
fn queue_available_after_queue_limit_hit_and_resources_become_available() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);

    let _failed = ready_failed(&mut Box::pin(limiter.acquire(1)));

    drop(lease);
    let lease = ready_acquired(&mut wait);

    let mut wait = enqueue(&limiter, 1);

    drop(lease);
    let _lease = ready_acquired(&mut wait);
}

// .NET: LargeAcquiresAndQueuesDoNotIntegerOverflow (row 11)
// int.MaxValue becomes u32::MAX (difference 2).
#[test]
fn large_acquires_and_queues_do_not_integer_overflow() {
    let limiter = limiter(u32::MAX, NewestFirst, u32::MAX);
    let lease = take(&limiter, u32::MAX);
    assert_eq!(available(&limiter), 0);

    let mut wait = enqueue(&limiter, 3);
    let mut wait2 = enqueue(&limiter, u32::MAX);

    let _evicted = ready_failed(&mut wait);
    assert_pending(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (u64::from(u32::MAX), 1));

    drop(lease);

    let big = ready_acquired(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
    drop(big);
    assert_eq!(available(&limiter), u64::from(u32::MAX));
}

// .NET: ThrowsWhenAcquiringMoreThanLimit (row 12)
// Difference: `Err(AcquireError::PermitLimitExceeded)` instead of ArgumentOutOfRangeException.
#[test]
fn errors_when_acquiring_more_than_limit() {
    let limiter = limiter(1, NewestFirst, 1);
    assert_eq!(limiter.attempt_acquire(2).err(), Some(AcquireError::PermitLimitExceeded { requested: 2, limit: 1 }));
    // An error is not a failed lease.
    assert_eq!(stats(&limiter).total_failed_leases, 0);
}

// .NET: ThrowsWhenWaitingForMoreThanLimit (row 13)
// Difference: the future completes with `Err(PermitLimitExceeded)` on its first poll (and
// `blocking_acquire` returns it) instead of an ArgumentOutOfRangeException.
#[test]
fn errors_when_waiting_for_more_than_limit() {
    let limiter = limiter(1, NewestFirst, 1);
    let expected = AcquireError::PermitLimitExceeded { requested: 2, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(2))), expected);
    assert_eq!(limiter.blocking_acquire(2).err(), Some(expected));
    // Nothing was queued or counted.
    assert_eq!(stats(&limiter), RateLimiterStatistics { current_available_permits: 1, ..Default::default() });
}

// .NET: ThrowsWhenAcquiringLessThanZero (row 14)
// Difference 2: permit counts are u32, so a negative count cannot be passed at all — the signature
// below pins that at compile time. At run time, the nearest mistake (a negative i32 wrapped into a
// u32) must be refused as exceeding the limit, never granted or queued.
#[test]
fn acquiring_less_than_zero_is_unrepresentable() {
    let _: fn(&ConcurrencyLimiter, u32) -> Result<RateLimitLease, AcquireError> =
        <ConcurrencyLimiter as RateLimiter>::attempt_acquire;
    let limiter = limiter(1, NewestFirst, 1);
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
    let _: fn(&ConcurrencyLimiter, u32) -> Acquire<'_> = <ConcurrencyLimiter as RateLimiter>::acquire;
    let _: fn(&ConcurrencyLimiter, u32) -> Result<RateLimitLease, AcquireError> =
        <ConcurrencyLimiter as RateLimiter>::blocking_acquire;
    let limiter = limiter(1, NewestFirst, 1);
    let wrapped = (-1i32).cast_unsigned();
    let expected = AcquireError::PermitLimitExceeded { requested: u32::MAX, limit: 1 };
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(wrapped))), expected);
    assert_eq!(limiter.blocking_acquire(wrapped).err(), Some(expected));
    assert_eq!(queued(&limiter), 0);
}

// .NET: AcquireZero_WithAvailability (row 16)
#[test]
fn acquire_zero_with_availability() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = limiter.attempt_acquire(0).unwrap();
    assert!(lease.is_acquired());
    // A zero-permit lease holds nothing.
    assert_eq!(available(&limiter), 1);
    drop(lease);
    assert_eq!(available(&limiter), 1);
    assert_eq!(stats(&limiter).total_successful_leases, 1);
}

// .NET: AcquireZero_WithoutAvailability (row 17)
#[test]
fn acquire_zero_without_availability() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = take(&limiter, 1);

    let lease2 = limiter.attempt_acquire(0).unwrap();
    assert!(!lease2.is_acquired());
    drop(lease2); // harmless: gives nothing back
    assert_eq!(available(&limiter), 0);
    assert_eq!(stats(&limiter).total_failed_leases, 1);

    drop(lease);
    assert_eq!(available(&limiter), 1);
}

// .NET: AcquireAsyncZero_WithAvailability (row 18)
#[tokio::test]
async fn acquire_async_zero_with_availability() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = limiter.acquire(0).await.unwrap();
    assert!(lease.is_acquired());
    assert_eq!(available(&limiter), 1);
    assert_eq!(stats(&limiter).total_successful_leases, 1);
}

// .NET: AcquireAsyncZero_WithoutAvailabilityWaitsForAvailability (row 19)
#[test]
fn acquire_async_zero_without_availability_waits_for_availability() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait = enqueue(&limiter, 0);
    // A zero-permit request adds nothing to the queued count.
    assert_eq!(queued(&limiter), 0);

    drop(lease);

    let lease2 = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
    drop(lease2);
    assert_eq!(available(&limiter), 1);
}

// .NET: CanDequeueMultipleResourcesAtOnce (row 20)
#[test]
fn can_dequeue_multiple_resources_at_once() {
    let limiter = limiter(2, OldestFirst, 2);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(2)));

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);

    drop(lease);

    let _lease1 = ready_acquired(&mut wait1);
    let _lease2 = ready_acquired(&mut wait2);
    assert_eq!(stats(&limiter).total_successful_leases, 3);
}

// .NET: CanCancelAcquireAsyncAfterQueuing (row 21)
// Difference 1: cancelling is dropping the queued future (no token, no TaskCanceledException).
#[test]
fn can_cancel_acquire_after_queuing() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    drop(wait);
    // The queued count is restored at once; cancellation is not a failed lease.
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases, s.total_successful_leases), (0, 0, 1));

    drop(lease);

    assert_eq!(available(&limiter), 1);
}

// .NET: CanFillQueueWithOldestFirstAfterCancelingFirstQueuedRequestManually (row 22)
// Not in the Concurrency version of the .NET suite; adapted from the FixedWindow variant.
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_oldest_first_after_cancelling_first_queued_request() {
    let limiter = limiter(3, OldestFirst, 3);
    let lease_a = take(&limiter, 1);
    let _lease_b = take(&limiter, 2);

    let cancelled = enqueue(&limiter, 2);
    drop(cancelled);

    let mut wait = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 1);

    drop(lease_a);

    let _lease = ready_acquired(&mut wait);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
}

// .NET: CanFillQueueWithNewestFirstAfterCancelingQueuedRequestWithAnotherQueuedRequest (row 23)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_fill_queue_newest_first_after_cancelling_queued_request() {
    let limiter = limiter(2, NewestFirst, 2);
    let lease = take(&limiter, 2);

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

    drop(lease);

    let _lease = ready_acquired(&mut wait3);
    assert_eq!(queued(&limiter), 0);
}

// .NET: CanDisposeAfterCancelingQueuedRequest (row 24)
// Difference 1: cancelling is dropping the future.
#[test]
fn can_dispose_after_cancelling_queued_request() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    limiter.dispose();

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    drop(lease);
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases, s.total_successful_leases), (0, 0, 1));
}

// .NET: CanCancelAcquireAsyncBeforeQueuing (row 25)
// Difference 1: the analogue of a pre-cancelled token is dropping the future before its first poll:
// it never joins the queue and never takes permits, even when permits are free.
#[test]
fn can_cancel_acquire_before_queuing() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);

    let never_polled = Box::pin(limiter.acquire(1));
    assert_eq!(queued(&limiter), 0);
    drop(never_polled);

    drop(lease);

    assert_eq!(available(&limiter), 1);

    let never_polled = limiter.acquire(1);
    drop(never_polled);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.total_successful_leases, s.total_failed_leases), (1, 1, 0));
}

// .NET: CancelUpdatesQueueLimit (row 26)
// Difference 1: cancelling is dropping the future.
#[test]
fn cancel_updates_queue_limit() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);

    let wait = enqueue(&limiter, 1);
    drop(wait);

    // The freed queue space is usable at once: this request queues instead of failing.
    let mut wait = enqueue(&limiter, 1);

    drop(lease);
    let _lease = ready_acquired(&mut wait);
}

// .NET: NoMetadataOnAcquiredLease (row 27)
#[test]
fn no_metadata_on_acquired_lease() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(lease.get(&MetadataName::REASON_PHRASE), None);
    assert_eq!(lease.reason_phrase(), None);
    assert_eq!(lease.retry_after(), None);
}

// .NET: MetadataNamesContainsAllMetadata (row 28)
// Also checked on the other kinds of lease: the name list never changes (as in .NET).
#[test]
fn metadata_names_contains_all_metadata() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);
    assert_eq!(names(&lease), vec!["REASON_PHRASE"]);

    let refused = limiter.attempt_acquire(1).unwrap();
    assert_eq!(names(&refused), vec!["REASON_PHRASE"]);
    let refused_zero = limiter.attempt_acquire(0).unwrap();
    assert_eq!(names(&refused_zero), vec!["REASON_PHRASE"]);

    let _wait = enqueue(&limiter, 1);
    let queue_full = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(names(&queue_full), vec!["REASON_PHRASE"]);
}

// .NET: DisposeReleasesQueuedAcquires (row 29)
// Difference: errors after dispose are `Err(AcquireError::Disposed)` instead of ObjectDisposedException.
#[test]
fn dispose_releases_queued_acquires() {
    let limiter = limiter(1, OldestFirst, 3);
    let lease = take(&limiter, 1);

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);
    let mut wait3 = enqueue(&limiter, 1);

    limiter.dispose();

    for wait in [&mut wait1, &mut wait2, &mut wait3] {
        let failed = ready_failed(wait);
        assert_eq!(failed.reason_phrase(), None);
        assert_eq!(names(&failed), vec!["REASON_PHRASE"]);
    }
    // Disposal failures are not counted as failed leases.
    let s = stats(&limiter);
    assert_eq!((s.current_queued_count, s.total_failed_leases), (0, 0));

    drop(lease);

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(1))), AcquireError::Disposed);
}

// .NET: DisposeAsyncReleasesQueuedAcquires (row 30)
// Difference: there is no separate async dispose. The analogue exercises the other ways to reach
// `dispose`: through an `Arc<dyn RateLimiter>` trait object, twice (Dispose then DisposeAsync on
// one limiter is legal in .NET; dispose is idempotent).
#[test]
fn dispose_through_trait_object_twice_releases_queued_acquires() {
    let limiter: Arc<dyn RateLimiter> = Arc::new(limiter(1, OldestFirst, 3));
    let lease = take(&limiter, 1);

    let mut wait1 = enqueue(&limiter, 1);
    let mut wait2 = enqueue(&limiter, 1);
    let mut wait3 = enqueue(&limiter, 1);

    limiter.dispose();
    limiter.dispose();

    let _failed1 = ready_failed(&mut wait1);
    let _failed2 = ready_failed(&mut wait2);
    let _failed3 = ready_failed(&mut wait3);

    drop(lease);

    assert_eq!(limiter.attempt_acquire(1).err(), Some(AcquireError::Disposed));
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(1))), AcquireError::Disposed);
    assert_eq!(limiter.blocking_acquire(1).err(), Some(AcquireError::Disposed));
}

// .NET: CanAcquireResourcesWithAcquireAsyncWithQueuedItemsIfNewestFirst (row 31)
#[test]
fn can_acquire_with_acquire_with_queued_items_if_newest_first() {
    let limiter = limiter(2, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 2);
    let lease2 = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    drop(lease);
    assert_pending(&mut wait1);

    drop(lease2);
    let _lease1 = ready_acquired(&mut wait1);
}

// .NET: CannotAcquireResourcesWithAcquireAsyncWithQueuedItemsIfOldestFirst (row 32)
#[test]
fn cannot_acquire_with_acquire_with_queued_items_if_oldest_first() {
    let limiter = limiter(2, OldestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 2);
    // One permit is free, but OldestFirst makes this request queue behind wait1.
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    drop(lease);

    let lease1 = ready_acquired(&mut wait1);
    assert_pending(&mut wait2);

    drop(lease1);
    let _lease2 = ready_acquired(&mut wait2);
}

// .NET: CanAcquireResourcesWithAcquireWithQueuedItemsIfNewestFirst (row 33)
#[test]
fn can_acquire_with_attempt_acquire_with_queued_items_if_newest_first() {
    let limiter = limiter(2, NewestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 2);
    let lease2 = take(&limiter, 1);

    drop(lease);
    assert_pending(&mut wait1);

    drop(lease2);
    let _lease1 = ready_acquired(&mut wait1);
}

// .NET: CannotAcquireResourcesWithAcquireWithQueuedItemsIfOldestFirst (row 34)
#[test]
fn cannot_acquire_with_attempt_acquire_with_queued_items_if_oldest_first() {
    let limiter = limiter(2, OldestFirst, 3);
    let lease = ready_acquired(&mut Box::pin(limiter.acquire(1)));

    let mut wait1 = enqueue(&limiter, 2);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());

    drop(lease);
    let _lease1 = ready_acquired(&mut wait1);
}

// .NET: NullIdleDurationWhenActive (row 35)
#[test]
fn null_idle_duration_when_active() {
    let limiter = limiter(1, OldestFirst, 1);
    let _lease = take(&limiter, 1);
    assert_eq!(limiter.idle_duration(), None);
}

// .NET: IdleDurationUpdatesWhenIdle (row 36)
// Uses a ManualClock instead of a real 15 ms delay, so the durations are exact.
#[test]
fn idle_duration_updates_when_idle() {
    let (limiter, clock) = clocked(1, OldestFirst, 1);
    let previous = limiter.idle_duration().expect("a new limiter is idle");
    assert_eq!(previous, Duration::ZERO);

    clock.advance(Duration::from_millis(15));

    let now = limiter.idle_duration().expect("still idle");
    assert!(now > previous);
    assert_eq!(now, Duration::from_millis(15));
}

// .NET: IdleDurationUpdatesWhenChangingFromActive (row 37)
#[test]
fn idle_duration_updates_when_changing_from_active() {
    let (limiter, clock) = clocked(1, OldestFirst, 1);
    clock.advance(Duration::from_millis(100));
    let lease = take(&limiter, 1);
    clock.advance(Duration::from_millis(10));
    assert_eq!(limiter.idle_duration(), None);

    drop(lease);

    // Idle since the release, not since construction.
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
    clock.advance(Duration::from_millis(7));
    assert_eq!(limiter.idle_duration(), Some(Duration::from_millis(7)));
}

// .NET: GetStatisticsReturnsNewInstances (row 38)
// A Rust snapshot is a value: it cannot change after it is taken, and a later one differs.
#[test]
fn statistics_returns_new_snapshots() {
    let limiter = limiter(1, OldestFirst, 1);
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
    let limiter = limiter(100, OldestFirst, 50);
    let snapshot = |available, queued, failed, successful| RateLimiterStatistics {
        current_available_permits: available,
        current_queued_count: queued,
        total_failed_leases: failed,
        total_successful_leases: successful,
    };
    assert_eq!(stats(&limiter), snapshot(100, 0, 0, 0));

    // Success from an attempt with permits available.
    let lease1 = take(&limiter, 60);
    assert_eq!(stats(&limiter), snapshot(40, 0, 0, 1));

    // Queued.
    let mut lease2_wait = enqueue(&limiter, 50);
    assert_eq!(stats(&limiter), snapshot(40, 50, 0, 1));

    // Failure from acquire (queue full).
    let _lease3 = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(stats(&limiter), snapshot(40, 50, 1, 1));

    // Failure from attempt.
    assert!(!limiter.attempt_acquire(100).unwrap().is_acquired());
    assert_eq!(stats(&limiter), snapshot(40, 50, 2, 1));

    drop(lease1);
    let _lease2 = ready_acquired(&mut lease2_wait);

    // Success from the queue, counted when granted.
    assert_eq!(stats(&limiter), snapshot(50, 0, 2, 2));
}

// .NET: GetStatisticsWithZeroPermitCount (row 40)
#[tokio::test]
async fn statistics_with_zero_permit_count() {
    let limiter = limiter(100, OldestFirst, 50);
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

    let lease2 = limiter.attempt_acquire(0).unwrap();
    assert!(!lease2.is_acquired());
    let s = stats(&limiter);
    assert_eq!((s.total_successful_leases, s.total_failed_leases, s.current_available_permits), (3, 1, 0));
}

// .NET: GetStatisticsThrowsAfterDispose (row 41)
// Difference 7: statistics stay readable after dispose (.NET throws ObjectDisposedException). They
// keep the totals; the queue is empty because disposal failed every waiter (not counted as failures).
#[test]
fn statistics_readable_after_dispose() {
    let limiter = limiter(2, OldestFirst, 2);
    let lease = take(&limiter, 1);
    assert!(!limiter.attempt_acquire(2).unwrap().is_acquired());
    let mut wait = enqueue(&limiter, 2);

    limiter.dispose();
    let _failed = ready_failed(&mut wait);

    let after = limiter.statistics().expect("statistics stay readable after dispose");
    assert_eq!(
        after,
        RateLimiterStatistics {
            current_available_permits: 1,
            current_queued_count: 0,
            total_failed_leases: 1,
            total_successful_leases: 1,
        }
    );

    drop(lease);
    let later = limiter.statistics().expect("still readable");
    assert_eq!((later.current_queued_count, later.total_failed_leases, later.total_successful_leases), (0, 1, 1));
}

// ---------------------------------------------------------------------------------------------
// §5.2 ConcurrencyLimiterTests specific
// ---------------------------------------------------------------------------------------------

// .NET: ReasonMetadataOnFailedWaitAsync
#[test]
fn reason_metadata_on_failed_wait() {
    let limiter = limiter(2, OldestFirst, 1);
    let _lease = take(&limiter, 2);

    let failed = ready_failed(&mut Box::pin(limiter.acquire(2)));

    // By a name built from the string (the analogue of .NET's string overload) ...
    let by_string: MetadataName<String> = MetadataName::new("REASON_PHRASE");
    assert_eq!(failed.get(&by_string), Some(QUEUE_LIMIT_REACHED.to_string()));
    // ... and by the typed constant.
    assert_eq!(failed.get(&MetadataName::REASON_PHRASE), Some(QUEUE_LIMIT_REACHED.to_string()));
    assert_eq!(failed.reason_phrase(), Some(QUEUE_LIMIT_REACHED));
    assert_eq!(names(&failed), vec!["REASON_PHRASE"]);
    // Asking with the wrong value type yields nothing (.NET would throw InvalidCastException).
    let wrong_type: MetadataName<u32> = MetadataName::new("REASON_PHRASE");
    assert_eq!(failed.get(&wrong_type), None);
    assert_eq!(failed.retry_after(), None);
}

// ---------------------------------------------------------------------------------------------
// Bad input and disposal errors
// ---------------------------------------------------------------------------------------------

// .NET: (constructor validation, §1.3) — the default options value is invalid.
// Difference: `OptionsError` with a snake_case field name instead of ArgumentException.
#[test]
fn default_options_are_rejected() {
    let err = ConcurrencyLimiter::new(ConcurrencyLimiterOptions::default()).expect_err("default options are invalid");
    assert_eq!(err.to_string(), "permit_limit must be greater than 0");
    assert_eq!(err.field, "permit_limit");
    assert_eq!(ConcurrencyLimiterOptions::default().validate().map_err(|e| e.to_string()), Err(err.to_string()));
}

// .NET: (§1.3 per-call validation, rule 3) — the limit check comes before the disposed check.
// Difference: `PermitLimitExceeded` / `Disposed` errors instead of exceptions.
#[test]
fn permit_limit_exceeded_is_checked_before_disposed() {
    let limiter = limiter(3, OldestFirst, 5);
    limiter.dispose();
    let expected = AcquireError::PermitLimitExceeded { requested: 4, limit: 3 };
    assert_eq!(limiter.attempt_acquire(4).err(), Some(expected.clone()));
    assert_eq!(ready_err(&mut Box::pin(limiter.acquire(4))), expected.clone());
    assert_eq!(limiter.blocking_acquire(4).err(), Some(expected));
}

// .NET: (§1.3 rule 4, §2.1 R7) — after dispose every acquisition fails, including zero permits
// with availability (.NET skips its zero-permit fast path when disposed).
// Difference: `Err(AcquireError::Disposed)` instead of ObjectDisposedException.
#[test]
fn acquisitions_after_dispose_are_errors() {
    let limiter = limiter(3, NewestFirst, 5);
    limiter.dispose();
    for permits in [0, 1, 3] {
        assert_eq!(limiter.attempt_acquire(permits).err(), Some(AcquireError::Disposed), "attempt {permits}");
        assert_eq!(ready_err(&mut Box::pin(limiter.acquire(permits))), AcquireError::Disposed, "acquire {permits}");
        assert_eq!(limiter.blocking_acquire(permits).err(), Some(AcquireError::Disposed), "blocking {permits}");
    }
    // Errors are not counted as leases.
    let s = stats(&limiter);
    assert_eq!((s.total_failed_leases, s.total_successful_leases), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// Deliberate difference 8 and the finer queue rules of §2.1
// ---------------------------------------------------------------------------------------------

// .NET: (none) — difference 8: a cancelled waiter makes the queue process again at once. .NET would
// leave wait2 pending until the next release even though its permit is free.
#[test]
fn cancelled_head_waiter_lets_the_queue_proceed_at_once() {
    let limiter = limiter(2, OldestFirst, 3);
    let _lease = take(&limiter, 1);

    let wait1 = enqueue(&limiter, 2);
    let mut wait2 = enqueue(&limiter, 1);
    assert_eq!(available(&limiter), 1);

    drop(wait1);

    let _lease2 = ready_acquired(&mut wait2);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
}

// .NET: (none) — difference 8, NewestFirst: the newest waiter blocks older ones while it does not
// fit; when it goes away, the older waiter that fits the free permit is granted at once (.NET would
// wait for the next release).
#[test]
fn cancelled_newest_waiter_lets_older_waiter_proceed_at_once() {
    let limiter = limiter(2, NewestFirst, 3);
    let lease_a = take(&limiter, 1);
    let _lease_b = take(&limiter, 1);
    let mut older = enqueue(&limiter, 1);
    let newer = enqueue(&limiter, 2);

    drop(lease_a);
    // One permit is free, but the newest request (2 permits) is served first and blocks the older.
    assert_pending(&mut older);
    assert_eq!(available(&limiter), 1);

    drop(newer);

    let _granted = ready_acquired(&mut older);
    let s = stats(&limiter);
    assert_eq!((s.current_available_permits, s.current_queued_count, s.total_failed_leases), (0, 0, 0));
}

// .NET: (§2.1 R3 / R9) — a zero-permit waiter is granted by the same release pass as the request
// ahead of it, even though that request took the last permit (.NET's check is `available >= 0`).
// Fails against the current library: `state::take_for_waiter` (src/concurrency/state.rs) requires
// `available > 0` for zero permits, so the zero-permit waiter waits for the next release.
#[test]
fn zero_permit_waiter_is_granted_in_the_same_pass_behind_a_grant() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);
    let mut wait = enqueue(&limiter, 1);
    let mut zero = enqueue(&limiter, 0);

    drop(lease);

    let _lease = ready_acquired(&mut wait);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 0);
}

// .NET: (§2.1 R3) — a zero-permit request queues even when the queue limit is 0 or the queue is full.
#[test]
fn zero_permit_request_queues_even_when_queue_is_full() {
    let limiter = limiter(1, OldestFirst, 0);
    let lease = take(&limiter, 1);

    let mut zero = enqueue(&limiter, 0);
    let full = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(full.reason_phrase(), Some(QUEUE_LIMIT_REACHED));
    assert_eq!(queued(&limiter), 0);

    drop(lease);
    let _zero = ready_acquired(&mut zero);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.1 R4) — the queue limit counts permits, not requests.
#[test]
fn queue_limit_counts_permits_not_requests() {
    let limiter = limiter(3, OldestFirst, 3);
    let lease = take(&limiter, 3);
    let mut two = enqueue(&limiter, 2);
    let mut one = enqueue(&limiter, 1);
    assert_eq!(queued(&limiter), 3);
    let full = ready_failed(&mut Box::pin(limiter.acquire(1)));
    assert_eq!(full.reason_phrase(), Some(QUEUE_LIMIT_REACHED));

    drop(lease);
    let _two = ready_acquired(&mut two);
    let _one = ready_acquired(&mut one);
}

// .NET: (§2.1 R10) — zero-permit acquisitions never touch the idle state.
#[test]
fn zero_permit_acquisitions_do_not_touch_idle_duration() {
    let (limiter, clock) = clocked(2, OldestFirst, 1);
    clock.advance(Duration::from_millis(5));
    let zero = limiter.attempt_acquire(0).unwrap();
    assert!(zero.is_acquired());
    assert_eq!(limiter.idle_duration(), Some(Duration::from_millis(5)));
    drop(zero);
    assert_eq!(limiter.idle_duration(), Some(Duration::from_millis(5)));

    // A partial release does not make the limiter idle; the last one does.
    let a = take(&limiter, 1);
    let b = take(&limiter, 1);
    clock.advance(Duration::from_millis(3));
    drop(a);
    assert_eq!(limiter.idle_duration(), None);
    clock.advance(Duration::from_millis(2));
    drop(b);
    assert_eq!(limiter.idle_duration(), Some(Duration::ZERO));
}

// ---------------------------------------------------------------------------------------------
// Leases return permits exactly once
// ---------------------------------------------------------------------------------------------

// .NET: (§2.2) — disposing a lease returns its permits exactly once. In Rust a lease can only be
// dropped once; moving it around must not release anything early.
#[test]
fn lease_drop_returns_its_permits_exactly_once() {
    let limiter = limiter(5, OldestFirst, 0);
    let lease = take(&limiter, 3);
    assert_eq!(available(&limiter), 2);

    let moved = lease;
    let boxed = Box::new(moved);
    assert_eq!(available(&limiter), 2);
    let handed_back = std::thread::scope(|s| s.spawn(move || *boxed).join().unwrap());
    assert_eq!(available(&limiter), 2);

    drop(handed_back);
    assert_eq!(available(&limiter), 5);
    // Exactly 3 came back: 5 can be taken, 6 cannot exist.
    let all = take(&limiter, 5);
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());
    drop(all);
    assert_eq!(available(&limiter), 5);
}

// .NET: (§2.2) — zero-permit leases and failed leases release nothing.
#[test]
fn zero_permit_and_failed_leases_release_nothing() {
    let limiter = limiter(2, OldestFirst, 1);
    let held = take(&limiter, 2);

    let refused = limiter.attempt_acquire(1).unwrap();
    let refused_zero = limiter.attempt_acquire(0).unwrap();
    let _wait = enqueue(&limiter, 1);
    let queue_full = ready_failed(&mut Box::pin(limiter.acquire(1)));
    drop((refused, refused_zero, queue_full));
    assert_eq!(available(&limiter), 0);

    drop(held);
    // The released permits went to the queued request (1) and the rest is free (1).
    assert_eq!(available(&limiter), 1);
    let zero = limiter.attempt_acquire(0).unwrap();
    assert!(zero.is_acquired());
    drop(zero);
    assert_eq!(available(&limiter), 1);
}

// .NET: (§2.2) — a granted queued request's lease returns its permits when dropped.
#[test]
fn granted_waiter_lease_returns_permits_when_dropped() {
    let limiter = limiter(3, OldestFirst, 3);
    let held = take(&limiter, 3);
    let mut wait = enqueue(&limiter, 2);
    drop(held);
    let granted = ready_acquired(&mut wait);
    assert_eq!(available(&limiter), 1);
    drop(granted);
    assert_eq!(available(&limiter), 3);
}

// .NET: (none) — dropping the limiter disposes it; a lease still held stays valid and can be
// dropped afterwards without effect.
#[test]
fn lease_outliving_the_limiter_is_safe() {
    let limiter = limiter(2, OldestFirst, 0);
    let lease = take(&limiter, 2);
    drop(limiter);
    assert!(lease.is_acquired());
    drop(lease);
}

// ---------------------------------------------------------------------------------------------
// Wake-ups, blocking_acquire and many tasks
// ---------------------------------------------------------------------------------------------

// .NET: (none) — the registered waker is woken when a queued request is granted, evicted or failed
// by disposal, so an executor re-polls it.
#[test]
fn queued_request_wakes_its_task_when_decided() {
    let limiter = limiter(1, NewestFirst, 1);
    let lease = take(&limiter, 1);

    let (granted_count, granted_waker) = CountingWaker::new();
    let mut granted = Box::pin(limiter.acquire(1));
    assert!(poll_with(&mut granted, &granted_waker).is_none());
    assert_eq!(granted_count.count(), 0);
    drop(lease);
    assert!(granted_count.count() >= 1, "grant must wake the task");
    let lease = poll_with(&mut granted, &granted_waker).expect("ready").unwrap();
    assert!(lease.is_acquired());

    let (evicted_count, evicted_waker) = CountingWaker::new();
    let mut evicted = Box::pin(limiter.acquire(1));
    assert!(poll_with(&mut evicted, &evicted_waker).is_none());
    let (disposed_count, disposed_waker) = CountingWaker::new();
    let mut disposed = Box::pin(limiter.acquire(1));
    assert!(poll_with(&mut disposed, &disposed_waker).is_none());
    assert!(evicted_count.count() >= 1, "eviction must wake the task");
    assert!(!poll_with(&mut evicted, &evicted_waker).expect("ready").unwrap().is_acquired());

    assert_eq!(disposed_count.count(), 0);
    limiter.dispose();
    assert!(disposed_count.count() >= 1, "disposal must wake the task");
    assert!(!poll_with(&mut disposed, &disposed_waker).expect("ready").unwrap().is_acquired());
    drop(lease);
}

// .NET: (none; AcquireAsync waiting, for plain threads) — a thread parked in blocking_acquire is
// released when a lease is dropped.
#[test]
fn blocking_acquire_is_released_by_a_lease_drop() {
    let limiter = limiter(1, OldestFirst, 1);
    let lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let blocked = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);
        assert!(!blocked.is_finished());

        drop(lease);

        let granted = blocked.join().expect("no panic").expect("no error");
        assert!(granted.is_acquired());
        assert_eq!(available(&limiter), 0);
        drop(granted);
    });
    assert_eq!(available(&limiter), 1);
}

// .NET: DisposeReleasesQueuedAcquires, for blocked threads.
#[test]
fn blocking_acquire_is_released_by_dispose() {
    let limiter = limiter(1, OldestFirst, 2);
    let lease = take(&limiter, 1);

    std::thread::scope(|s| {
        let first = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 1);
        let second = s.spawn(|| limiter.blocking_acquire(1));
        wait_until(|| queued(&limiter) == 2);

        limiter.dispose();

        for blocked in [first, second] {
            let failed = blocked.join().expect("no panic").expect("a lease, not an error");
            assert!(!failed.is_acquired());
            assert_eq!(failed.reason_phrase(), None);
        }
    });
    drop(lease);
    assert_eq!(stats(&limiter).total_failed_leases, 0);
}

// .NET: (none) — blocking_acquire decides at once when it can: granted, or refused with the
// queue-full reason, without parking.
#[test]
fn blocking_acquire_decides_at_once_when_it_can() {
    let limiter = limiter(1, OldestFirst, 0);
    let lease = limiter.blocking_acquire(1).unwrap();
    assert!(lease.is_acquired());
    let refused = limiter.blocking_acquire(1).unwrap();
    assert!(!refused.is_acquired());
    assert_eq!(refused.reason_phrase(), Some(QUEUE_LIMIT_REACHED));
    assert_eq!(refused.get(&MetadataName::REASON_PHRASE), Some(QUEUE_LIMIT_REACHED.to_string()));
    drop(lease);
    assert_eq!(available(&limiter), 1);
}

// .NET: (none) — many tasks on a multi-threaded runtime never hold more than permit_limit permits,
// and every permit comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_never_exceed_the_permit_limit() {
    const TASKS: usize = 64;
    let limiter = Arc::new(limiter(3, OldestFirst, 1_000));
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));

    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let (limiter, active, peak) = (Arc::clone(&limiter), Arc::clone(&active), Arc::clone(&peak));
        handles.push(tokio::spawn(async move {
            let lease = limiter.acquire(1).await.expect("no error");
            assert!(lease.is_acquired());
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            active.fetch_sub(1, Ordering::SeqCst);
            drop(lease);
        }));
    }
    for handle in handles {
        handle.await.expect("task did not panic");
    }

    assert!(peak.load(Ordering::SeqCst) <= 3, "more than 3 permits were held at once");
    assert_eq!(
        stats(&*limiter),
        RateLimiterStatistics {
            current_available_permits: 3,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: TASKS as u64,
        }
    );
}

// .NET: (none; API contract) — limiters, leases and acquire futures can cross threads.
#[test]
fn limiter_lease_and_future_are_thread_safe() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let limiter = limiter(1, OldestFirst, 1);
    assert_send_sync(&limiter);
    let future = limiter.acquire(1);
    assert_send(&future);
    drop(future);
    let lease = take(&limiter, 1);
    assert_send_sync(&lease);
    // Nothing above touched the permits except the one lease.
    assert_eq!(available(&limiter), 0);
}
