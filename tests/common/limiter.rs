//! Helpers for the limiter behaviour tests (token bucket, fixed and sliding windows): requests,
//! queued futures, statistics snapshots, and the retry-after tightness check.

use std::pin::Pin;
use std::task::Waker;
use std::time::Duration;

use tollgate::{Acquire, AcquireError, ManualClock, RateLimitLease, RateLimiter, RateLimiterStatistics};

use super::{poll_once, poll_with};

pub type Waiting<'a> = Pin<Box<Acquire<'a>>>;

pub const NS: Duration = Duration::from_nanos(1);

pub const MS: Duration = Duration::from_millis(1);

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[track_caller]
pub fn stats(limiter: &(impl RateLimiter + ?Sized)) -> RateLimiterStatistics {
    limiter.statistics().expect("built-in limiters always report statistics")
}

#[track_caller]
pub fn available(limiter: &(impl RateLimiter + ?Sized)) -> u64 {
    stats(limiter).current_available_permits
}

#[track_caller]
pub fn queued(limiter: &(impl RateLimiter + ?Sized)) -> u64 {
    stats(limiter).current_queued_count
}

pub fn snapshot(available: u64, queued: u64, failed: u64, successful: u64) -> RateLimiterStatistics {
    RateLimiterStatistics {
        current_available_permits: available,
        current_queued_count: queued,
        total_failed_leases: failed,
        total_successful_leases: successful,
    }
}

/// Takes `permits` with `attempt_acquire`, asserting success.
#[track_caller]
pub fn take(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(permits).expect("no error");
    assert!(lease.is_acquired(), "attempt_acquire({permits}) should succeed");
    lease
}

/// `attempt_acquire(permits)`, asserting it is refused; returns the failed lease.
#[track_caller]
pub fn refuse(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> RateLimitLease {
    let lease = limiter.attempt_acquire(permits).expect("no error");
    assert!(!lease.is_acquired(), "attempt_acquire({permits}) should be refused");
    lease
}

/// Starts an `acquire(permits)` and polls it once, asserting that it queued (is pending).
#[track_caller]
pub fn enqueue(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> Waiting<'_> {
    let mut wait = Box::pin(limiter.acquire(permits));
    assert_pending(&mut wait);
    wait
}

/// As [`enqueue`], with the first poll made with `waker` (the one the clock will wake).
#[track_caller]
pub fn enqueue_with<'a>(limiter: &'a (impl RateLimiter + ?Sized), permits: u32, waker: &Waker) -> Waiting<'a> {
    let mut wait = Box::pin(limiter.acquire(permits));
    if let Some(result) = poll_with(&mut wait, waker) {
        panic!("expected the request to be pending, but it completed with {result:?}");
    }
    wait
}

/// Polls once with `waker` (keeping it registered), asserting the request is still pending.
#[track_caller]
pub fn assert_pending_with(wait: &mut Waiting<'_>, waker: &Waker) {
    if let Some(result) = poll_with(wait, waker) {
        panic!("expected the request to be pending, but it completed with {result:?}");
    }
}

#[track_caller]
pub fn assert_pending(wait: &mut Waiting<'_>) {
    if let Some(result) = poll_once(wait) {
        panic!("expected the request to be pending, but it completed with {result:?}");
    }
}

/// Polls once; the future must be complete without error.
#[track_caller]
pub fn ready(wait: &mut Waiting<'_>) -> RateLimitLease {
    match poll_once(wait) {
        Some(Ok(lease)) => lease,
        Some(Err(e)) => panic!("expected a lease, got error {e:?}"),
        None => panic!("expected the request to be complete, but it is still pending"),
    }
}

#[track_caller]
pub fn ready_acquired(wait: &mut Waiting<'_>) -> RateLimitLease {
    let lease = ready(wait);
    assert!(lease.is_acquired(), "expected an acquired lease, got {lease:?}");
    lease
}

#[track_caller]
pub fn ready_failed(wait: &mut Waiting<'_>) -> RateLimitLease {
    let lease = ready(wait);
    assert!(!lease.is_acquired(), "expected a failed lease, got {lease:?}");
    lease
}

/// Polls once; the future must complete with an error.
#[track_caller]
pub fn ready_err(wait: &mut Waiting<'_>) -> AcquireError {
    match poll_once(wait) {
        Some(Err(e)) => e,
        Some(Ok(lease)) => panic!("expected an error, got lease {lease:?}"),
        None => panic!("expected an error, but the request is pending"),
    }
}

/// `acquire(permits)` that must be decided on its first poll (granted or refused, never queued).
#[track_caller]
pub fn acquire_now(limiter: &(impl RateLimiter + ?Sized), permits: u32) -> RateLimitLease {
    ready(&mut Box::pin(limiter.acquire(permits)))
}

pub fn names(lease: &RateLimitLease) -> Vec<&str> {
    lease.metadata_names().collect()
}

/// API difference 4, auto mode: after a refusal reporting `retry`, the same request made
/// `retry − 1 ns` later is still refused (and is told to wait exactly 1 ns more), and made at
/// `retry` it succeeds. `request` makes the request (an `attempt_acquire` or an `acquire` that is
/// decided at once). Advances the clock by `retry` and returns the successful lease.
#[track_caller]
pub fn assert_retry_after_is_tight(
    clock: &ManualClock,
    retry: Duration,
    mut request: impl FnMut() -> RateLimitLease,
) -> RateLimitLease {
    assert!(retry > Duration::ZERO, "a refused request must be told to wait");
    clock.advance(retry - NS);
    let early = request();
    assert!(!early.is_acquired(), "retrying 1 ns before retry_after ({retry:?}) must still fail");
    assert_eq!(early.retry_after(), Some(NS), "1 ns before the retry time, exactly 1 ns is left");
    clock.advance(NS);
    let lease = request();
    assert!(lease.is_acquired(), "retrying at exactly retry_after ({retry:?}) must succeed");
    lease
}
