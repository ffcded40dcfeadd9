//! loom models of the time-based limiters (token bucket, fixed window, sliding window): the lazy-tick
//! fast path, window and segment boundaries racing acquisitions, and the timed next-in-line waiter.
//!
//! Run: `RUSTFLAGS="--cfg tollgate_loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release --test loom_time_based`
//! Without the cfg this file compiles to nothing.
#![cfg(tollgate_loom)]

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use tollgate::{ManualClock, QueueProcessingOrder, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};

const PERIOD: Duration = Duration::from_nanos(10);

fn bucket(limit: u32, queue_limit: u32) -> (Arc<TokenBucketRateLimiter<ManualClock>>, ManualClock) {
    let clock = ManualClock::new();
    let bucket = TokenBucketRateLimiter::with_clock(
        TokenBucketRateLimiterOptions {
            token_limit: limit,
            tokens_per_period: 1,
            replenishment_period: PERIOD,
            queue_limit,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    (Arc::new(bucket), clock)
}

/// A sliding window on a fresh `ManualClock`: `limit` permits per `segments` segments of one
/// `PERIOD` each.
fn sliding(
    limit: u32,
    segments: u32,
    queue_limit: u32,
) -> (Arc<tollgate::SlidingWindowRateLimiter<ManualClock>>, ManualClock) {
    let clock = ManualClock::new();
    let window = tollgate::SlidingWindowRateLimiter::with_clock(
        tollgate::SlidingWindowRateLimiterOptions {
            permit_limit: limit,
            window: PERIOD * segments,
            segments_per_window: segments,
            queue_limit,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    (Arc::new(window), clock)
}

/// Two attempts race a tick: the empty bucket gains exactly one token, so at most one attempt
/// succeeds, and the statistics count both decisions.
#[test]
fn attempts_never_over_grant_across_a_tick() {
    loom::model(|| {
        let (b, clock) = bucket(1, 0);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.attempt_acquire(1).unwrap().is_acquired())
            })
            .collect();
        clock.advance(PERIOD);
        let granted = threads.into_iter().map(|t| t.join().unwrap()).filter(|&g| g).count();
        assert!(granted <= 1, "{granted} grants from one tick");
        let s = b.statistics().unwrap();
        assert_eq!(s.total_successful_leases, 1 + granted as u64);
        assert_eq!(s.total_failed_leases, 2 - granted as u64);
        assert_eq!(s.current_available_permits, 1 - granted as u64);
    });
}

/// A blocked waiter is woken by the tick alone (loom reports a deadlock if the wake-up is lost).
#[test]
fn blocked_waiter_is_granted_at_its_tick() {
    loom::model(|| {
        let (b, clock) = bucket(1, 1);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let b2 = b.clone();
        let waiter = thread::spawn(move || b2.blocking_acquire(1).unwrap().is_acquired());
        clock.advance(PERIOD);
        assert!(waiter.join().unwrap());
        let s = b.statistics().unwrap();
        assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
    });
}

/// An async waiter's timer races the tick.
#[test]
fn async_waiter_is_granted_at_its_tick() {
    loom::model(|| {
        let (b, clock) = bucket(1, 1);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let b2 = b.clone();
        let waiter = thread::spawn(move || loom::future::block_on(b2.acquire(1)).unwrap().is_acquired());
        clock.advance(PERIOD);
        assert!(waiter.join().unwrap());
    });
}

/// The next-in-line waiter's wake races a concurrent attempt and a dispose: the waiter always
/// finishes (granted, or failed by the dispose), and one tick never grants two requests.
#[test]
fn waiter_wake_races_attempt_and_dispose() {
    loom::model(|| {
        let (b, clock) = bucket(1, 1);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let b2 = b.clone();
        let waiter = thread::spawn(move || match b2.blocking_acquire(1) {
            Ok(lease) => lease.is_acquired(),
            Err(e) => {
                assert_eq!(e, tollgate::AcquireError::Disposed);
                false
            }
        });
        let b3 = b.clone();
        let racer = thread::spawn(move || {
            clock.advance(PERIOD);
            match b3.attempt_acquire(1) {
                Ok(lease) => lease.is_acquired(),
                Err(e) => {
                    assert_eq!(e, tollgate::AcquireError::Disposed);
                    false
                }
            }
        });
        b.dispose();
        let waited = waiter.join().unwrap();
        let attempted = racer.join().unwrap();
        assert!(!(waited && attempted), "one token granted twice");
        assert_eq!(b.statistics().unwrap().current_queued_count, 0);
    });
}

/// Two blocked waiters and one clock advance over both of their ticks, racing the second
/// waiter's enqueue pass: each tick serves one waiter (a pass that merged the two ticks into the
/// one-token bucket would lose the second token and leave a waiter asleep forever, which loom
/// reports as a deadlock).
#[test]
fn one_advance_over_two_ticks_serves_two_waiters() {
    loom::model(|| {
        let (b, clock) = bucket(1, 2);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.blocking_acquire(1).unwrap().is_acquired())
            })
            .collect();
        // Advance only once both wait (an advance before an enqueue serves that request at once
        // and leaves the other for the third tick, which this model never reaches).
        while b.statistics().unwrap().current_queued_count < 2 {
            thread::yield_now();
        }
        clock.advance(PERIOD * 2);
        for w in waiters {
            assert!(w.join().unwrap());
        }
        let s = b.statistics().unwrap();
        assert_eq!((s.current_available_permits, s.current_queued_count, s.total_successful_leases), (0, 0, 3));
    });
}

/// Fixed window (the same engine, a tick that resets): attempts racing a window boundary never get
/// more than `permit_limit` permits in one window.
#[test]
fn fixed_window_reset_never_over_grants() {
    use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions};
    loom::model(|| {
        let clock = ManualClock::new();
        let w = Arc::new(
            FixedWindowRateLimiter::with_clock(
                FixedWindowRateLimiterOptions { permit_limit: 2, window: PERIOD, ..Default::default() },
                clock.clone(),
            )
            .unwrap(),
        );
        assert!(w.attempt_acquire(1).unwrap().is_acquired());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || w.attempt_acquire(1).unwrap().is_acquired())
            })
            .collect();
        clock.advance(PERIOD);
        let granted = threads.into_iter().map(|t| t.join().unwrap()).filter(|&g| g).count();
        // Window 0 had 1 left, window 1 has 2: at most 3 more, and at most 2 in either window;
        // with two attempts both may succeed (one per window, or both in window 1).
        assert!(granted <= 2);
        let s = w.statistics().unwrap();
        assert_eq!(s.total_successful_leases, 1 + granted as u64);
        // Window 1 gave out 2 − available permits, which must be among this model's grants (so no
        // window ever exceeded 2: window 0 gave 1 + the rest).
        assert!(s.current_available_permits <= 2);
        assert!(2 - s.current_available_permits <= granted as u64);
    });
}

/// Sliding window: attempts racing a segment boundary. While all grants are inside the window the
/// available count is exactly the limit minus them (nothing freed early), a grant straddling the
/// boundary comes back late at worst, and once every counter has been harvested and expired the
/// window is exactly whole again (nothing freed twice, nothing leaked).
#[test]
fn sliding_window_advance_racing_attempts() {
    loom::model(|| {
        let (w, clock) = sliding(2, 2, 0);
        assert!(w.attempt_acquire(1).unwrap().is_acquired());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || w.attempt_acquire(1).unwrap().is_acquired())
            })
            .collect();
        clock.advance(PERIOD); // segment 1: segment 0 is still in the window
        let granted = threads.into_iter().map(|t| t.join().unwrap()).filter(|&g| g).count() as u64;
        assert!(granted <= 1, "{granted} grants with 1 permit left in the window");
        assert_eq!(w.statistics().unwrap().current_available_permits, 1 - granted);
        clock.advance(PERIOD * 2); // segments 0 and 1 have left the window
        // A grant whose counter update straddled the boundary is counted with a later segment
        // (its permit comes back late, never early): never more than the limit.
        let available = w.statistics().unwrap().current_available_permits;
        assert!(available <= 2 && available + granted >= 2, "available {available}, granted {granted}");
        clock.advance(PERIOD * 2); // and every later one: the window is exactly whole again
        assert_eq!(w.statistics().unwrap().current_available_permits, 2);
        assert!(w.attempt_acquire(2).unwrap().is_acquired());
    });
}

/// Sliding window: a blocked waiter is granted at the boundary that frees its permits, by the
/// clock alone.
#[test]
fn sliding_window_waiter_is_granted_at_its_boundary() {
    loom::model(|| {
        let (w, clock) = sliding(1, 2, 1);
        assert!(w.attempt_acquire(1).unwrap().is_acquired());
        let w2 = w.clone();
        let waiter = thread::spawn(move || w2.blocking_acquire(1).unwrap().is_acquired());
        clock.advance(PERIOD * 2);
        assert!(waiter.join().unwrap());
        let s = w.statistics().unwrap();
        assert_eq!((s.current_available_permits, s.current_queued_count), (0, 0));
    });
}

/// A tick's grant racing the waiter's cancel (dropping its future): exactly one side wins the node;
/// if the cancel wins after the tokens were taken, they go back (`give_back`). Either way the token
/// is accounted once: available + granted == 1, and nothing stays queued.
#[test]
fn token_bucket_grant_races_cancel() {
    use std::future::Future;
    use std::task::{Context, Waker};
    loom::model(|| {
        let (b, clock) = bucket(1, 1);
        assert!(b.attempt_acquire(1).unwrap().is_acquired());
        let b2 = b.clone();
        let waiter = thread::spawn(move || {
            let mut future = Box::pin(b2.acquire(1));
            let mut cx = Context::from_waker(Waker::noop());
            let first = future.as_mut().poll(&mut cx);
            let granted = matches!(first, std::task::Poll::Ready(Ok(ref lease)) if lease.is_acquired());
            drop(future); // cancel if still queued
            granted
        });
        clock.advance(PERIOD);
        let s = b.statistics().unwrap(); // runs the pass that may grant the waiter
        let _ = waiter.join().unwrap();
        let s_end = b.statistics().unwrap();
        assert_eq!(s_end.current_queued_count, 0);
        let granted_after_start = s_end.total_successful_leases - 1;
        assert_eq!(s_end.current_available_permits + granted_after_start, 1, "{s:?} then {s_end:?}");
    });
}

/// The same race on the sliding window: a boundary's grant racing the waiter's cancel; the permit
/// is accounted once, and once everything has expired the window is exactly whole.
#[test]
fn sliding_window_grant_races_cancel() {
    use std::future::Future;
    use std::task::{Context, Waker};
    loom::model(|| {
        let (w, clock) = sliding(1, 1, 1);
        assert!(w.attempt_acquire(1).unwrap().is_acquired());
        let w2 = w.clone();
        let waiter = thread::spawn(move || {
            let mut future = Box::pin(w2.acquire(1));
            let mut cx = Context::from_waker(Waker::noop());
            let _ = future.as_mut().poll(&mut cx);
            drop(future); // cancel if still queued
        });
        clock.advance(PERIOD);
        let _ = w.statistics().unwrap(); // runs the pass that may grant the waiter
        waiter.join().unwrap();
        let s = w.statistics().unwrap();
        assert_eq!(s.current_queued_count, 0);
        assert_eq!(s.current_available_permits + (s.total_successful_leases - 1), 1, "{s:?}");
        clock.advance(PERIOD * 3);
        assert_eq!(w.statistics().unwrap().current_available_permits, 1);
    });
}

/// A sliding-window refund races the boundary that harvests the grant's segment: either the refund
/// is applied before the harvest (the permit is back at once) or it is discarded (the permit comes
/// back when its segment expires), never both — a permit freed twice would let the next segment
/// admit more than the limit.
#[test]
fn sliding_window_refund_races_the_boundary() {
    loom::model(|| {
        let (w, clock) = sliding(2, 2, 0);
        let lease = w.attempt_acquire(1).unwrap(); // segment 0
        assert!(lease.is_acquired());
        let w2 = w.clone();
        let refunder = thread::spawn(move || w2.refund(lease));
        clock.advance(PERIOD);
        let _ = w.statistics().unwrap(); // the slide to segment 1 harvests segment 0
        refunder.join().unwrap();
        assert_eq!(w.statistics().unwrap().total_successful_leases, 0);
        // Take everything segment 1 offers.
        let mut taken = 0;
        let mut leases = Vec::new();
        loop {
            let lease = w.attempt_acquire(1).unwrap();
            if !lease.is_acquired() {
                break;
            }
            taken += 1;
            leases.push(lease);
        }
        assert!(taken == 1 || taken == 2, "taken {taken}");
        // Segment 0 expires: only what it still held comes back; segment 1's grants stay counted.
        clock.advance(PERIOD);
        assert_eq!(w.statistics().unwrap().current_available_permits, 2 - taken);
    });
}

/// Eviction of an idle token bucket or sliding window (`dispose_if_idle`) races a request: never
/// both granted and evicted (see the concurrency limiter's model).
#[test]
fn dispose_if_idle_races_a_request() {
    use tollgate::AcquireError;
    fn check(result: Result<tollgate::RateLimitLease, AcquireError>, evicted: bool) {
        match result {
            Ok(lease) => {
                assert!(lease.is_acquired());
                assert!(!evicted, "evicted while a lease was being granted");
            }
            Err(e) => {
                assert_eq!(e, AcquireError::Disposed);
                assert!(evicted);
            }
        }
    }
    loom::model(|| {
        let (b, _clock) = bucket(1, 0);
        let b2 = b.clone();
        let evictor = thread::spawn(move || b2.dispose_if_idle(Duration::ZERO));
        let result = b.attempt_acquire(1);
        check(result, evictor.join().unwrap());
    });
    loom::model(|| {
        let (w, _clock) = sliding(1, 2, 0);
        let w2 = w.clone();
        let evictor = thread::spawn(move || w2.dispose_if_idle(Duration::ZERO));
        let result = w.attempt_acquire(1);
        check(result, evictor.join().unwrap());
    });
}
