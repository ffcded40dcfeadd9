//! Hostile clocks: time that goes backwards or jumps by years must neither panic nor over-admit.
//!
//! Behaviour (documented on the limiters): time is only compared with saturating arithmetic. A
//! clock that goes backwards freezes the limiter's view of time until it catches up again (no
//! ticks, no refills, retry hints measured from the later, remembered tick); a jump forward applies
//! the elapsed ticks once (a bucket or window simply fills; nothing is ever added beyond the limit).

use std::time::Duration;

use tollgate::{
    FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, RateLimiter, ReplenishingRateLimiter,
    TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

const SEC: u64 = 1_000_000_000;
const YEAR: u64 = 365 * 24 * 3600 * SEC;

fn bucket(auto: bool) -> (TokenBucketRateLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.set_nanos(10 * YEAR);
    let b = TokenBucketRateLimiter::with_clock(
        TokenBucketRateLimiterOptions {
            token_limit: 3,
            tokens_per_period: 1,
            replenishment_period: Duration::from_secs(1),
            auto_replenishment: auto,
            queue_limit: 2,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    (b, clock)
}

fn available(l: &dyn RateLimiter) -> u64 {
    l.statistics().unwrap().current_available_permits
}

#[test]
fn token_bucket_survives_time_going_backwards_and_jumping() {
    for auto in [true, false] {
        let (b, clock) = bucket(auto);
        assert!(b.attempt_acquire(3).unwrap().is_acquired());
        // Backwards by years: no tick, no refill, no panic; the refusal's hint is finite.
        clock.set_nanos(YEAR);
        let refused = b.attempt_acquire(1).unwrap();
        assert!(!refused.is_acquired());
        assert!(refused.retry_after().is_some());
        b.try_replenish();
        assert_eq!(available(&b), 0, "auto {auto}: time going backwards must not refill");
        assert!(b.idle_duration().is_none());
        // Back to the original time: still nothing (no tick has passed on the limiter's grid).
        clock.set_nanos(10 * YEAR);
        b.try_replenish();
        assert_eq!(available(&b), 0);
        // A jump forward by years fills the bucket to its limit, never beyond.
        clock.set_nanos(40 * YEAR);
        b.try_replenish();
        assert_eq!(available(&b), 3, "auto {auto}");
        assert!(b.attempt_acquire(3).unwrap().is_acquired());
        assert!(!b.attempt_acquire(1).unwrap().is_acquired());
        // To the end of the clock's range and back to zero: no panic, no over-admission.
        clock.set_nanos(u64::MAX);
        b.try_replenish();
        assert!(available(&b) <= 3);
        clock.set_nanos(0);
        b.try_replenish();
        assert!(available(&b) <= 3);
        let _ = b.attempt_acquire(1).unwrap();
        let _ = b.idle_duration();
    }
}

#[test]
fn token_bucket_waiter_survives_a_backwards_clock() {
    let (b, clock) = bucket(true);
    assert!(b.attempt_acquire(3).unwrap().is_acquired());
    let mut wait = Box::pin(b.acquire(1));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    clock.set_nanos(0);
    assert!(wait.as_mut().poll(&mut cx).is_pending(), "time going backwards grants nothing");
    clock.set_nanos(10 * YEAR + SEC);
    match wait.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(lease)) => assert!(lease.is_acquired()),
        other => panic!("the waiter's tick came: {other:?}"),
    }
}

#[test]
fn fixed_window_survives_time_going_backwards_and_jumping() {
    for auto in [true, false] {
        let clock = ManualClock::new();
        clock.set_nanos(10 * YEAR);
        let w = FixedWindowRateLimiter::with_clock(
            FixedWindowRateLimiterOptions {
                permit_limit: 2,
                window: Duration::from_secs(1),
                auto_replenishment: auto,
                ..Default::default()
            },
            clock.clone(),
        )
        .unwrap();
        assert!(w.attempt_acquire(2).unwrap().is_acquired());
        clock.set_nanos(YEAR);
        w.try_replenish();
        assert_eq!(available(&w), 0, "auto {auto}: a backwards clock starts no window");
        clock.set_nanos(20 * YEAR);
        w.try_replenish();
        assert_eq!(available(&w), 2);
        assert!(w.attempt_acquire(2).unwrap().is_acquired());
        assert!(!w.attempt_acquire(1).unwrap().is_acquired());
        clock.set_nanos(u64::MAX);
        w.try_replenish();
        assert!(available(&w) <= 2);
    }
}
