//! `tollgate::TokenBucketRateLimiter` against governor's direct rate limiter, in wall-clock time
//! (criterion).
//!
//! Every contender runs the identical workload from `benches/common` (`common::rate`), one permit
//! per operation, never waiting, both crates with the same quota. tollgate: `attempt_acquire(1)`,
//! the lease dropped where the call returned it; governor: `check()`.
//! * `rate_allow/*`: an attempt that succeeds: a burst of `u32::MAX` and one more permit per nanosecond,
//!   which no caller here outpaces (checked: no attempt of the run is refused). tollgate runs twice
//!   on that rate: `tick_1ns` adds 1 token every nanosecond (as close to governor's continuous
//!   replenishment as it gets; nearly every call finds a tick elapsed), `tick_1s` adds 10⁹ tokens
//!   every second (a call rarely finds a tick elapsed). governor's quota is the same for both
//!   (`cell_1ns`: one cell per nanosecond).
//!   * `1_thread`, and `2_threads` on one shared limiter, reported as time per operation per thread
//!     (each thread runs the full iteration count; threads start once per sample, then a barrier).
//! * `rate_deny/1_thread`: an attempt on an exhausted limiter (burst 1, one permit per hour, the permit
//!   taken beforehand). tollgate computes a `retry_after` on every refusal; governor returns its
//!   `NotUntil` without computing a time.
//! * `rate_deny_retry_after/1_thread`: the same, but both return the wait until a retry could succeed:
//!   tollgate's lease `retry_after()`, governor's `wait_time_from(clock.now())` (a second clock read).
//!
//! The group names start with `rate_` so that criterion's saved results never mix with those of
//! `vs_tokio_semaphore` (which has a `deny/1_thread/tollgate` of its own).
//!
//! Each group exists on both crates' default clocks (quanta's TSC clock on both sides) and with the
//! suffix `_coarse` on the upkeep-thread clocks refreshed every millisecond: tollgate's
//! `CoarseClock` (its own refresh thread) against governor's `QuantaUpkeepClock` (quanta's upkeep
//! thread). The coarse groups run last, since both threads then run until the process exits.
//!
//! Does not measure: weighted (multi-permit) requests, queued or blocking waits, keyed limiters,
//! statistics, contention beyond two threads (the reference machine has two shared cores), memory
//! use. Timings on this machine are noisy: compare contenders only as ratios within one group of one
//! run; absolute numbers from different runs are not comparable.

#[allow(dead_code, reason = "the semaphore workloads serve the other bench files")]
mod common;

use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_main, measurement::WallTime};
use governor::clock::{QuantaClock, QuantaUpkeepClock};
use tollgate::{CoarseClock, FixedWindowRateLimiter, SlidingWindowRateLimiter, TokenBucketRateLimiter, TscClock};

use common::rate::{self, ALLOW_TICK_1NS, ALLOW_TICK_1S, Governor, Quota, RateContender};

fn allow_1_thread<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>, quota: Quota, label: &str) {
    let limiter = rate::roomy::<L>(quota);
    group.bench_function(BenchmarkId::new(L::NAME, label), |b| b.iter(|| rate::check_in_place(&limiter)));
    assert!(limiter.check_in_place(), "{}/{label} ran dry", L::NAME);
}

fn allow_2_threads<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>, quota: Quota, label: &str) {
    let limiter = rate::roomy::<L>(quota);
    group.bench_function(BenchmarkId::new(L::NAME, label), |b| {
        b.iter_custom(|iters| {
            let (elapsed, refused) = rate::hammer(&limiter, 2, iters);
            assert_eq!(refused, 0, "{}/{label} ran dry", L::NAME);
            elapsed
        })
    });
}

fn deny_1_thread<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let limiter = rate::exhausted::<L>();
    group.bench_function(L::NAME, |b| b.iter(|| rate::check_in_place(&limiter)));
    assert!(!limiter.check_in_place(), "{} allowed", L::NAME);
}

fn deny_retry_after_1_thread<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let limiter = rate::exhausted::<L>();
    group.bench_function(L::NAME, |b| b.iter(|| rate::check_retry_after(&limiter)));
    let retry_after = limiter.check_retry_after().expect("a refusal carries a retry time");
    assert!(retry_after > Duration::from_secs(3000), "{} retry_after {retry_after:?}", L::NAME);
}

/// Runs the allow workload `$bench` for tollgate (both tick lengths) and governor, on one clock.
macro_rules! allow_contenders {
    ($bench:ident ( $group:expr ), $tollgate:ty, $governor:ty) => {
        $bench::<$tollgate>($group, ALLOW_TICK_1NS, "tick_1ns");
        $bench::<$tollgate>($group, ALLOW_TICK_1S, "tick_1s");
        $bench::<$governor>($group, ALLOW_TICK_1NS, "cell_1ns");
    };
}

/// Every group on one pair of clocks; `$suffix` is appended to the group names.
macro_rules! all_groups {
    ($c:expr, $suffix:literal, $tollgate:ty, $governor:ty) => {
        let mut group = $c.benchmark_group(concat!("rate_allow/1_thread", $suffix));
        allow_contenders!(allow_1_thread(&mut group), $tollgate, $governor);
        group.finish();

        let mut group = $c.benchmark_group(concat!("rate_allow/2_threads", $suffix));
        allow_contenders!(allow_2_threads(&mut group), $tollgate, $governor);
        group.finish();

        let mut group = $c.benchmark_group(concat!("rate_deny/1_thread", $suffix));
        deny_1_thread::<$tollgate>(&mut group);
        deny_1_thread::<$governor>(&mut group);
        group.finish();

        let mut group = $c.benchmark_group(concat!("rate_deny_retry_after/1_thread", $suffix));
        deny_retry_after_1_thread::<$tollgate>(&mut group);
        deny_retry_after_1_thread::<$governor>(&mut group);
        group.finish();
    };
}

fn benches(c: &mut Criterion) {
    all_groups!(c, "", TokenBucketRateLimiter<TscClock>, Governor<QuantaClock>);
    // The fixed window (the token bucket's engine), in the same groups, TSC clock.
    // The fixed window (the token bucket's engine) and the sliding window (10 segments), in the
    // same groups, TSC clock.
    let mut group = c.benchmark_group("rate_allow/1_thread");
    allow_1_thread::<FixedWindowRateLimiter<TscClock>>(&mut group, ALLOW_TICK_1S, "window_1s");
    allow_1_thread::<SlidingWindowRateLimiter<TscClock>>(&mut group, ALLOW_TICK_1S, "window_1s");
    group.finish();
    let mut group = c.benchmark_group("rate_allow/2_threads");
    allow_2_threads::<FixedWindowRateLimiter<TscClock>>(&mut group, ALLOW_TICK_1S, "window_1s");
    allow_2_threads::<SlidingWindowRateLimiter<TscClock>>(&mut group, ALLOW_TICK_1S, "window_1s");
    group.finish();
    let mut group = c.benchmark_group("rate_deny/1_thread");
    deny_1_thread::<FixedWindowRateLimiter<TscClock>>(&mut group);
    deny_1_thread::<SlidingWindowRateLimiter<TscClock>>(&mut group);
    group.finish();
    // Last: the first coarse clocks start their refresh threads, which then run until exit.
    all_groups!(c, "_coarse", TokenBucketRateLimiter<CoarseClock>, Governor<QuantaUpkeepClock>);
}

fn config() -> Criterion {
    Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30)
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn vs_governor() {
    let mut criterion = config().configure_from_args();
    benches(&mut criterion);
}

criterion_main!(vs_governor);
