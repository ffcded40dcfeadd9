//! Memory under enqueue/cancel churn, measured with a counting global allocator: every limiter that
//! queues stays bounded after 1,000,000 cycles of "queue one request, then cancel it".
//!
//! A cycle: with the limiter exhausted (every permit taken by one `attempt_acquire` whose lease is
//! kept), `acquire(1)` is polled once (it must be pending: queued) and dropped (cancelled). Each
//! limiter runs it alone ("churn") and with three long-lived waiters queued before the churn and
//! pending throughout ("long-lived"); at the end permits come back (the lease is dropped, or the
//! clock moves on by a period), the long-lived waiters must be granted and nothing may stay queued.
//!
//! What is asserted, with `SLACK` = 64 KiB:
//! * after the warm-up (the first 10,000 cycles) the live bytes exceed the limiter's own size by at
//!   most `SLACK`, so not even 8 bytes per warm-up cycle were retained;
//! * at every checkpoint (each 10,000 cycles, and the last) they exceed the warm-up level by at most
//!   `SLACK`: a retention of 8 bytes per cycle fails at the first checkpoint after the warm-up, and
//!   one of a byte per 16 cycles by the end of 1,000,000;
//! * after the long-lived waiters are granted and everything is dropped they are back at the
//!   baseline (within `SLACK`).
//!
//! The queue (`src/wait/queue.rs`) removes a cancelled node at once when it is next in line, compacts
//! the deque when cancelled nodes outnumber live ones and shrinks it when mostly empty, so in the
//! steady state it holds at most about twice the live waiters. The figures confirm it: 0.8 to 1.5
//! KB above the limiter's own size after the warm-up (the inbox's current block and a few nodes),
//! the peak at most 72 bytes above that, and exactly the baseline again after dropping everything
//! (timer-thread mode: about 1.5 KB of cancelled timer entries stay in the process-wide timer until
//! their real-time deadline, a second later, which can also make a later test end below its
//! baseline). The slack absorbs that and the test harness's own allocations (other test threads
//! start and finish while one test measures; the tests are serialised by a mutex, as in
//! `partition_memory.rs`).
//!
//! Time-based limiters run on a `ManualClock` that never moves during the churn, in three modes:
//! * **auto** (the default `auto_replenishment: true`): a next-in-line waiter gets a deadline and
//!   sleeps on the clock ([`Clock::sleep_until`]);
//! * **manual** (`auto_replenishment: false`; `try_replenish` at the end): no waiter sleeps;
//! * **timer thread**: auto mode on a clock that reads the `ManualClock`'s time but sleeps with the
//!   trait's default `sleep_until` (tollgate's timer thread, as `TscClock` does in production).
//!
//! **Found by this file (fixed):** in auto mode, whenever the churned request is next in line
//! (oldest-first without long-lived waiters; newest-first always), it arms a `ManualClock` sleep
//! each cycle, and a dropped `ManualSleep` used to stay in `ManualClock`'s sleeper list until the
//! clock passed its deadline: about 79 bytes per cycle (794 KB after 10,000 cycles). A dropped
//! `ManualSleep` (and a parked thread woken by something else) now withdraws its registration.
//!
//! Cycle counts: `TOLLGATE_CHURN_CYCLES` (default 1,000,000) for one configuration per limiter kind
//! (oldest-first with long-lived waiters, default options: the one that exercises compaction
//! behind a live head); every other configuration runs a tenth of it (100,000 by default), so the
//! file stays well under a minute in a debug build. Run with `--nocapture` to see the figures.

mod common;

use std::time::{Duration, Instant};

use common::live_bytes::{LiveBytes, live, serial};
use common::poll_once;
use tollgate::{
    Clock, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter, FixedWindowRateLimiterOptions,
    ManualClock,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions, TokenBucketRateLimiter,
    TokenBucketRateLimiterOptions,
};

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

/// Cycles of the warm-up, and between two checkpoints.
const CHECKPOINT: u64 = 10_000;
/// Allowed growth (see the module docs).
const SLACK: isize = 64 * 1024;
/// Every limiter has this many permits, all taken before the churn.
const PERMITS: u32 = 4;
/// The replenishment period or window of the time-based limiters.
const PERIOD: Duration = Duration::from_secs(1);
/// The sliding window's segments per window.
const SEGMENTS: u32 = 2;
/// Queue limit, in permits: room for the long-lived waiters and the churned one (a newest-first
/// queue must not evict the long-lived ones).
const QUEUE_LIMIT: u32 = 16;
/// Long-lived waiters of the "long-lived" variant.
const LONG_LIVED: usize = 3;

/// `TOLLGATE_CHURN_CYCLES`, default 1,000,000: the full count.
fn full() -> u64 {
    std::env::var("TOLLGATE_CHURN_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

/// The count of the secondary configurations: a tenth of the full count.
fn tenth() -> u64 {
    (full() / 10).max(1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Concurrency,
    TokenBucket,
    FixedWindow,
    SlidingWindow,
}

/// How a time-based limiter replenishes, and what its waiters sleep on (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Time {
    /// Auto replenishment; sleeps on the `ManualClock`.
    Auto,
    /// Manual replenishment (`try_replenish`); nobody sleeps.
    Manual,
    /// Auto replenishment; the `ManualClock`'s time, the timer thread's sleeps.
    TimerThread,
}

/// The `ManualClock`'s time with the default `Clock::sleep_until`: tollgate's timer thread.
#[derive(Clone)]
struct TimerThreadClock(ManualClock);

impl Clock for TimerThreadClock {
    fn now_nanos(&self) -> u64 {
        self.0.now_nanos()
    }
}

fn build<C: Clock>(kind: Kind, order: QueueProcessingOrder, auto: bool, clock: C) -> Box<dyn RateLimiter> {
    match kind {
        Kind::Concurrency => Box::new(
            ConcurrencyLimiter::with_clock(
                ConcurrencyLimiterOptions {
                    permit_limit: PERMITS,
                    queue_processing_order: order,
                    queue_limit: QUEUE_LIMIT,
                },
                clock,
            )
            .unwrap(),
        ),
        Kind::TokenBucket => Box::new(
            TokenBucketRateLimiter::with_clock(
                TokenBucketRateLimiterOptions {
                    token_limit: PERMITS,
                    tokens_per_period: PERMITS,
                    replenishment_period: PERIOD,
                    auto_replenishment: auto,
                    queue_processing_order: order,
                    queue_limit: QUEUE_LIMIT,
                },
                clock,
            )
            .unwrap(),
        ),
        Kind::FixedWindow => Box::new(
            FixedWindowRateLimiter::with_clock(
                FixedWindowRateLimiterOptions {
                    permit_limit: PERMITS,
                    window: PERIOD,
                    auto_replenishment: auto,
                    queue_processing_order: order,
                    queue_limit: QUEUE_LIMIT,
                },
                clock,
            )
            .unwrap(),
        ),
        Kind::SlidingWindow => Box::new(
            SlidingWindowRateLimiter::with_clock(
                SlidingWindowRateLimiterOptions {
                    permit_limit: PERMITS,
                    window: PERIOD,
                    segments_per_window: SEGMENTS,
                    auto_replenishment: auto,
                    queue_processing_order: order,
                    queue_limit: QUEUE_LIMIT,
                },
                clock,
            )
            .unwrap(),
        ),
    }
}

/// Starts tollgate's timer thread (once per process) outside any measurement.
fn start_timer_thread() {
    let clock = TimerThreadClock(ManualClock::new());
    let mut sleep = clock.sleep_until(PERIOD.as_nanos() as u64);
    assert!(poll_once(&mut sleep).is_none());
}

/// Runs `cycles` enqueue/cancel cycles on a fresh, exhausted limiter with `long_lived` waiters
/// queued throughout, checks memory (see the module docs) and reports the figures.
fn churn(kind: Kind, order: QueueProcessingOrder, time: Time, long_lived: usize, cycles: u64) {
    let _serial = serial();
    if time == Time::TimerThread {
        start_timer_thread();
    }
    let label = if kind == Kind::Concurrency {
        format!("{kind:?} {order:?}, {long_lived} long-lived, {cycles} cycles")
    } else {
        format!("{kind:?} {order:?} {time:?}, {long_lived} long-lived, {cycles} cycles")
    };
    let started = Instant::now();

    let before = live();
    let clock = ManualClock::new();
    let auto = time != Time::Manual;
    let limiter = match time {
        Time::TimerThread => build(kind, order, auto, TimerThreadClock(clock.clone())),
        Time::Auto | Time::Manual => build(kind, order, auto, clock.clone()),
    };
    let limiter_bytes = live() - before;

    let lease = limiter.attempt_acquire(PERMITS).unwrap();
    assert!(lease.is_acquired(), "{label}: the limiter starts with {PERMITS} permits");
    assert!(!limiter.attempt_acquire(1).unwrap().is_acquired(), "{label}: exhausted");
    let mut waiters: Vec<_> = (0..long_lived)
        .map(|_| {
            let mut waiter = Box::pin(limiter.acquire(1));
            assert!(poll_once(&mut waiter).is_none(), "{label}: a long-lived waiter queues");
            waiter
        })
        .collect();

    let mut warm = None;
    let mut peak = 0;
    for cycle in 1..=cycles {
        let mut request = limiter.acquire(1);
        assert!(poll_once(&mut request).is_none(), "{label}: cycle {cycle} must queue");
        drop(request);
        if cycle % CHECKPOINT == 0 || cycle == cycles {
            let bytes = live() - before;
            peak = peak.max(bytes);
            match warm {
                None => {
                    assert!(
                        bytes <= limiter_bytes + SLACK,
                        "{label}: {bytes} bytes live after {cycle} warm-up cycles (the limiter alone: \
                         {limiter_bytes}; {:.1} bytes per cycle): memory grows with the churn",
                        (bytes - limiter_bytes) as f64 / cycle as f64
                    );
                    warm = Some(bytes);
                }
                Some(warm) => assert!(
                    bytes <= warm + SLACK,
                    "{label}: {bytes} bytes live after {cycle} cycles, {warm} after the warm-up"
                ),
            }
            let queued = limiter.statistics().unwrap().current_queued_count;
            assert_eq!(queued, long_lived as u64, "{label}: queued count after {cycle} cycles");
        }
    }
    let churned = live() - before;

    // Permits come back: the long-lived waiters are granted, in whatever order they are polled
    // (a time-based waiter asks for a drain once its deadline has passed).
    drop(lease);
    if kind != Kind::Concurrency {
        let steps = if kind == Kind::SlidingWindow { SEGMENTS } else { 1 };
        for _ in 0..steps {
            clock.advance(PERIOD / steps);
            if time == Time::Manual {
                assert!(limiter.as_replenishing().unwrap().try_replenish());
            }
        }
    }
    let mut leases: Vec<RateLimitLease> = Vec::new();
    for _round in 0..=long_lived {
        waiters.retain_mut(|waiter| match poll_once(waiter) {
            Some(result) => {
                let lease = result.unwrap_or_else(|e| panic!("{label}: a long-lived waiter failed: {e:?}"));
                assert!(lease.is_acquired(), "{label}: a long-lived waiter was refused");
                leases.push(lease);
                false
            }
            None => true,
        });
    }
    assert!(waiters.is_empty(), "{label}: {} long-lived waiters still pending", waiters.len());
    let stats = limiter.statistics().unwrap();
    assert_eq!(stats.current_queued_count, 0, "{label}: something stayed queued");
    // The first lease and the long-lived waiters; no churned request was ever granted.
    assert_eq!(stats.total_successful_leases, 1 + long_lived as u64, "{label}: {stats:?}");

    drop(leases);
    drop(waiters);
    drop(limiter);
    drop(clock);
    let end = live() - before;
    let elapsed = started.elapsed();
    let warm = warm.unwrap_or(churned);
    eprintln!(
        "{label}: limiter {limiter_bytes} B; after warm-up {warm} B; peak {peak} B; after the churn \
         {churned} B; after dropping everything {end} B; {elapsed:.2?}"
    );
    assert!(end.abs() <= SLACK, "{label}: {end} bytes left after dropping everything");
}

// ---------------------------------------------------------------------------------------------
// ConcurrencyLimiter
// ---------------------------------------------------------------------------------------------

#[test]
fn concurrency_oldest_first() {
    churn(Kind::Concurrency, OldestFirst, Time::Auto, 0, tenth());
}

#[test]
fn concurrency_oldest_first_long_lived() {
    churn(Kind::Concurrency, OldestFirst, Time::Auto, LONG_LIVED, full());
}

#[test]
fn concurrency_newest_first() {
    churn(Kind::Concurrency, NewestFirst, Time::Auto, 0, tenth());
}

#[test]
fn concurrency_newest_first_long_lived() {
    churn(Kind::Concurrency, NewestFirst, Time::Auto, LONG_LIVED, tenth());
}

// ---------------------------------------------------------------------------------------------
// Time-based limiters: one module per kind, the same twelve configurations each
// ---------------------------------------------------------------------------------------------

macro_rules! time_based {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            const KIND: Kind = $kind;

            #[test]
            fn auto_oldest_first() {
                churn(KIND, OldestFirst, Time::Auto, 0, tenth());
            }

            #[test]
            fn auto_oldest_first_long_lived() {
                churn(KIND, OldestFirst, Time::Auto, LONG_LIVED, full());
            }

            #[test]
            fn auto_newest_first() {
                churn(KIND, NewestFirst, Time::Auto, 0, tenth());
            }

            #[test]
            fn auto_newest_first_long_lived() {
                churn(KIND, NewestFirst, Time::Auto, LONG_LIVED, tenth());
            }

            #[test]
            fn manual_oldest_first() {
                churn(KIND, OldestFirst, Time::Manual, 0, tenth());
            }

            #[test]
            fn manual_oldest_first_long_lived() {
                churn(KIND, OldestFirst, Time::Manual, LONG_LIVED, tenth());
            }

            #[test]
            fn manual_newest_first() {
                churn(KIND, NewestFirst, Time::Manual, 0, tenth());
            }

            #[test]
            fn manual_newest_first_long_lived() {
                churn(KIND, NewestFirst, Time::Manual, LONG_LIVED, tenth());
            }

            #[test]
            fn timer_thread_oldest_first() {
                churn(KIND, OldestFirst, Time::TimerThread, 0, tenth());
            }

            #[test]
            fn timer_thread_oldest_first_long_lived() {
                churn(KIND, OldestFirst, Time::TimerThread, LONG_LIVED, tenth());
            }

            #[test]
            fn timer_thread_newest_first() {
                churn(KIND, NewestFirst, Time::TimerThread, 0, tenth());
            }

            #[test]
            fn timer_thread_newest_first_long_lived() {
                churn(KIND, NewestFirst, Time::TimerThread, LONG_LIVED, tenth());
            }
        }
    };
}

time_based!(token_bucket, Kind::TokenBucket);
time_based!(fixed_window, Kind::FixedWindow);
time_based!(sliding_window, Kind::SlidingWindow);
