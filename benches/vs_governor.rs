//! tollgate's rate limiters against governor's direct rate limiter and a naive `Mutex` token
//! bucket, in wall-clock time (criterion).
//!
//! Every contender runs the identical workload from `benches/common` (`common::rate`), one permit
//! per attempt, never waiting, all on the same quota. tollgate: `attempt_acquire(1)`, the lease
//! dropped where the call returned it; governor: `check()`; the mutex bucket: lock, refill from
//! `Instant::now()`, take. Ids are `<group>/<contender>/<threads>`; with more than one thread,
//! every thread runs the full iteration count on the one shared limiter and the time is per
//! operation per thread (`common::harness`).
//!
//! * `rate_allow/*/{1,2,4,8}`: an attempt that succeeds: a burst of `u32::MAX` and one more permit
//!   per nanosecond, which no caller here outpaces (checked: no attempt of the run is refused).
//!   `tollgate_token_bucket` adds 10⁹ tokens every second (a call rarely finds a tick elapsed);
//!   `tollgate_token_bucket_tick_1ns` adds 1 token every nanosecond (as close to governor's
//!   continuous replenishment as it gets; nearly every call finds a tick elapsed). The fixed and
//!   sliding windows (10 segments) admit the burst per one-second window; the no-op limiter admits
//!   everything; the chain takes a token from a bucket and a slot from a 1024-permit concurrency
//!   limiter. 4 and 8 threads are more threads than the two cores of the reference machine: they
//!   show what preemption inside (or around) the limiter does.
//! * `rate_deny/*/1`: an attempt on an exhausted limiter (burst 1, one permit per hour, the permit
//!   taken beforehand). tollgate computes a `retry_after` on every refusal; governor returns its
//!   `NotUntil` without computing a time. (No no-op limiter: it never refuses.)
//! * `rate_deny_retry_after/*/1`: the same, but every contender returns the wait until a retry
//!   could succeed: tollgate's lease `retry_after()`, governor's `wait_time_from(clock.now())` (a
//!   second clock read), the mutex bucket's time to its next refill.
//! * `rate_allow_coarse_clock/*/{1,2}`: `rate_allow` on the upkeep-thread clocks refreshed every
//!   millisecond, tollgate's `CoarseClock` (its own refresh thread) against governor's
//!   `QuantaUpkeepClock` (quanta's upkeep thread). Runs last, since both refresh threads then run
//!   until the process exits.
//!
//! Does not measure: weighted (multi-permit) requests, queued or blocking waits, keyed limiters
//! (`vs_governor_keyed`), statistics reads, memory use. Timings on the shared two-core reference
//! machine are noisy: compare contenders only as ratios within one group of one run; absolute
//! numbers from different runs are not comparable.

mod common;

use criterion::{BenchmarkGroup, Criterion, criterion_main, measurement::WallTime};
use governor::clock::{QuantaClock, QuantaUpkeepClock};
use tollgate::{CoarseClock, FixedWindowRateLimiter, NoopLimiter, SlidingWindowRateLimiter, TokenBucketRateLimiter};

use common::harness::{self, Expect, THREAD_COUNTS};
use common::rate::{
    self, ALLOW_TICK_1NS, ALLOW_TICK_1S, BucketConcurrencyChain, Governor, MutexTokenBucket, Quota, RateContender,
};

/// `<group>/<contender>/<threads>`: attempts on a limiter with `quota` that must all succeed.
fn allow<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>, quota: Quota, threads: usize) {
    allow_as::<L>(group, L::NAME, quota, threads);
}

/// [`allow`] under another contender name (the same limiter type on another quota).
fn allow_as<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, quota: Quota, threads: usize) {
    let limiter = rate::roomy::<L>(quota);
    harness::bench_threads(group, name, threads, Expect::Admitted, |_| rate::check_in_place(&limiter));
}

/// `<group>/<contender>/1`: attempts on an exhausted limiter.
fn deny<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let limiter = rate::exhausted::<L>();
    harness::bench_threads(group, L::NAME, 1, Expect::Refused, |_| rate::check_in_place(&limiter));
}

/// `<group>/<contender>/1`: attempts on an exhausted limiter, each computing its retry time.
fn deny_retry_after<L: RateContender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let limiter = rate::exhausted::<L>();
    harness::bench_threads(group, L::NAME, 1, Expect::Refused, |_| {
        let retry_after = rate::check_retry_after(&limiter).expect("a refusal carries a retry time");
        retry_after.is_zero()
    });
}

fn rate_allow(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_allow");
    for threads in THREAD_COUNTS {
        allow::<TokenBucketRateLimiter>(&mut group, ALLOW_TICK_1S, threads);
        allow_as::<TokenBucketRateLimiter>(&mut group, "tollgate_token_bucket_tick_1ns", ALLOW_TICK_1NS, threads);
        allow::<FixedWindowRateLimiter>(&mut group, ALLOW_TICK_1S, threads);
        allow::<SlidingWindowRateLimiter>(&mut group, ALLOW_TICK_1S, threads);
        allow::<NoopLimiter>(&mut group, ALLOW_TICK_1S, threads);
        allow::<BucketConcurrencyChain>(&mut group, ALLOW_TICK_1S, threads);
        allow::<Governor<QuantaClock>>(&mut group, ALLOW_TICK_1NS, threads);
        allow::<MutexTokenBucket>(&mut group, ALLOW_TICK_1NS, threads);
    }
    group.finish();
}

fn rate_deny(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_deny");
    deny::<TokenBucketRateLimiter>(&mut group);
    deny::<FixedWindowRateLimiter>(&mut group);
    deny::<SlidingWindowRateLimiter>(&mut group);
    deny::<BucketConcurrencyChain>(&mut group);
    deny::<Governor<QuantaClock>>(&mut group);
    deny::<MutexTokenBucket>(&mut group);
    group.finish();

    let mut group = c.benchmark_group("rate_deny_retry_after");
    deny_retry_after::<TokenBucketRateLimiter>(&mut group);
    deny_retry_after::<Governor<QuantaClock>>(&mut group);
    deny_retry_after::<MutexTokenBucket>(&mut group);
    group.finish();
}

fn rate_allow_coarse_clock(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_allow_coarse_clock");
    for threads in [1, 2] {
        allow::<TokenBucketRateLimiter<CoarseClock>>(&mut group, ALLOW_TICK_1S, threads);
        allow::<Governor<QuantaUpkeepClock>>(&mut group, ALLOW_TICK_1NS, threads);
    }
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn vs_governor() {
    let mut criterion = harness::criterion();
    rate_allow(&mut criterion);
    rate_deny(&mut criterion);
    // Last: the coarse clocks start refresh threads that run until the process exits.
    rate_allow_coarse_clock(&mut criterion);
}

criterion_main!(vs_governor);
