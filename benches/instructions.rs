//! Instruction counts (iai-callgrind) of one non-waiting acquisition, tollgate against
//! `tokio::sync::Semaphore` and the `Mutex<VecDeque>` baseline, and tollgate's token bucket against
//! governor's direct rate limiter, through the shared workloads of `benches/common`.
//!
//! Measures the inclusive instruction count of one call of the benchmark function, which runs
//! `common::try_acquire_drop` once:
//! * `*_acquire_drop`: an attempt that succeeds (1024 permits) plus the drop that returns the permit.
//! * `*_acquire_drop_busy`: the same on a limiter that is never idle (one of its 1024 permits is held).
//! * `*_deny`: an attempt on an exhausted limiter (its only permit is held).
//!
//! Rate limiters (`common::rate`, default clocks: quanta's TSC clock on both sides):
//! * `bucket_allow` / `governor_allow`: an attempt that succeeds (burst `u32::MAX`, one permit per
//!   nanosecond). tollgate `attempt_acquire(1)` + lease drop, once with 1-ns ticks (the call finds
//!   ticks elapsed since construction) and once with 1-s ticks (no tick elapsed); governor `check()`.
//! * `bucket_deny` / `governor_deny`: an attempt on an exhausted limiter (burst 1, one permit per
//!   hour, the permit taken in setup). tollgate computes a `retry_after`; governor's `check()`
//!   returns its `NotUntil` without a time, `governor_deny_retry_after` also computes
//!   `wait_time_from(clock.now())`.
//!
//! Group `more`: `noop_allow` (the no-op limiter: a lease and the success count), `chain_allow` /
//! `chain_deny` (a chain of a token bucket and a concurrency limiter, `common::rate`), the naive
//! `Mutex` bucket's allow, and `*_acquire_ready`: an async `acquire` whose permit is free, polled
//! once with a no-op waker and dropped (tollgate's concurrency limiter and bucket, tokio's
//! `Semaphore::acquire`).
//!
//! Keyed limiters (group `keyed`): `keyed_allow` is `PartitionedRateLimiter::attempt_acquire(&42, 1)`
//! on a token-bucket partition that exists (the partitioner runs, the map is looked up, the bucket
//! decides); `governor_keyed_allow` is governor's `check_key(&42)` on its dashmap-keyed limiter.
//!
//! The limiter is built by a setup function and destroyed by a teardown function, so construction
//! and destruction are not counted. Does not measure: time (an instruction is not a nanosecond;
//! atomic read-modify-writes cost far more than their one instruction), cache or contention effects,
//! the async path. Callgrind runs the code once, cold; under valgrind, quanta may pick a different
//! clock source than on bare metal (see the perf report).

#![allow(missing_docs, reason = "the iai-callgrind macros generate `pub mod`s that cannot carry docs")]

mod common;

use std::hint::black_box;

use governor::clock::QuantaClock;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use tokio::sync::Semaphore;
use tollgate::{
    ConcurrencyLimiter, FixedWindowRateLimiter, NoopLimiter, RateLimiter, SlidingWindowRateLimiter,
    TokenBucketRateLimiter,
};

use common::rate::{self, BucketConcurrencyChain, Governor, MutexTokenBucket, Quota, RateContender};
use common::{Contender, MutexSemaphore};

/// Permits of the limiters that must never refuse.
const ROOMY: u32 = 1024;

fn roomy<C: Contender>() -> C {
    C::with_permits(ROOMY)
}

fn busy<C: Contender>() -> C {
    common::one_held(ROOMY)
}

fn teardown<C: Contender>(contender: C) {
    drop(black_box(contender));
}

#[library_benchmark]
#[bench::permits_1024(args = (), setup = roomy::<ConcurrencyLimiter>, teardown = teardown)]
fn tollgate_acquire_drop(limiter: ConcurrencyLimiter) -> ConcurrencyLimiter {
    black_box(common::try_acquire_drop(&limiter));
    limiter
}

#[library_benchmark]
#[bench::only_permit_held(args = (), setup = common::exhausted::<ConcurrencyLimiter>, teardown = teardown)]
fn tollgate_deny(limiter: ConcurrencyLimiter) -> ConcurrencyLimiter {
    black_box(common::try_acquire_drop(&limiter));
    limiter
}

#[library_benchmark]
#[bench::permits_1024(args = (), setup = roomy::<Semaphore>, teardown = teardown)]
fn tokio_acquire_drop(semaphore: Semaphore) -> Semaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

#[library_benchmark]
#[bench::only_permit_held(args = (), setup = common::exhausted::<Semaphore>, teardown = teardown)]
fn tokio_deny(semaphore: Semaphore) -> Semaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

#[library_benchmark]
#[bench::permits_1024(args = (), setup = roomy::<MutexSemaphore>, teardown = teardown)]
fn mutex_acquire_drop(semaphore: MutexSemaphore) -> MutexSemaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

#[library_benchmark]
#[bench::only_permit_held(args = (), setup = common::exhausted::<MutexSemaphore>, teardown = teardown)]
fn mutex_deny(semaphore: MutexSemaphore) -> MutexSemaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

#[library_benchmark]
#[bench::one_of_1024_held(args = (), setup = busy::<ConcurrencyLimiter>, teardown = teardown)]
fn tollgate_acquire_drop_busy(limiter: ConcurrencyLimiter) -> ConcurrencyLimiter {
    black_box(common::try_acquire_drop(&limiter));
    limiter
}

#[library_benchmark]
#[bench::one_of_1024_held(args = (), setup = busy::<Semaphore>, teardown = teardown)]
fn tokio_acquire_drop_busy(semaphore: Semaphore) -> Semaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

#[library_benchmark]
#[bench::one_of_1024_held(args = (), setup = busy::<MutexSemaphore>, teardown = teardown)]
fn mutex_acquire_drop_busy(semaphore: MutexSemaphore) -> MutexSemaphore {
    black_box(common::try_acquire_drop(&semaphore));
    semaphore
}

// The rate limiters are passed boxed: `TokenBucketRateLimiter` holds its state inline (640
// bytes), and moving it into and out of the benchmark function by value would add a `memcpy` of it
// (88 instructions) to the count. Both contenders pay the same pointer move instead.

fn rate_roomy<L: RateContender>(quota: Quota) -> Box<L> {
    Box::new(rate::roomy(quota))
}

fn rate_exhausted<L: RateContender>() -> Box<L> {
    Box::new(rate::exhausted())
}

fn rate_teardown<L: RateContender>(limiter: Box<L>) {
    drop(black_box(limiter));
}

#[library_benchmark]
#[bench::tick_1ns(args = (rate::ALLOW_TICK_1NS), setup = rate_roomy::<TokenBucketRateLimiter>, teardown = rate_teardown)]
#[bench::tick_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<TokenBucketRateLimiter>, teardown = rate_teardown)]
fn bucket_allow(limiter: Box<TokenBucketRateLimiter>) -> Box<TokenBucketRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<TokenBucketRateLimiter>, teardown = rate_teardown)]
fn bucket_deny(limiter: Box<TokenBucketRateLimiter>) -> Box<TokenBucketRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::cell_1ns(args = (rate::ALLOW_TICK_1NS), setup = rate_roomy::<Governor<QuantaClock>>, teardown = rate_teardown)]
fn governor_allow(limiter: Box<Governor<QuantaClock>>) -> Box<Governor<QuantaClock>> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<Governor<QuantaClock>>, teardown = rate_teardown)]
fn governor_deny(limiter: Box<Governor<QuantaClock>>) -> Box<Governor<QuantaClock>> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<TokenBucketRateLimiter>, teardown = rate_teardown)]
fn bucket_deny_retry_after(limiter: Box<TokenBucketRateLimiter>) -> Box<TokenBucketRateLimiter> {
    black_box(rate::check_retry_after(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<Governor<QuantaClock>>, teardown = rate_teardown)]
fn governor_deny_retry_after(limiter: Box<Governor<QuantaClock>>) -> Box<Governor<QuantaClock>> {
    black_box(rate::check_retry_after(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::window_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<FixedWindowRateLimiter>, teardown = rate_teardown)]
fn fixed_window_allow(limiter: Box<FixedWindowRateLimiter>) -> Box<FixedWindowRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<FixedWindowRateLimiter>, teardown = rate_teardown)]
fn fixed_window_deny(limiter: Box<FixedWindowRateLimiter>) -> Box<FixedWindowRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::window_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<SlidingWindowRateLimiter>, teardown = rate_teardown)]
fn sliding_window_allow(limiter: Box<SlidingWindowRateLimiter>) -> Box<SlidingWindowRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<SlidingWindowRateLimiter>, teardown = rate_teardown)]
fn sliding_window_deny(limiter: Box<SlidingWindowRateLimiter>) -> Box<SlidingWindowRateLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

/// A partitioned token bucket whose key 42 already has its partition (roomy quota, as `ALLOW_TICK_1S`).
fn keyed_roomy() -> Box<tollgate::PartitionedRateLimiter<u64>> {
    let limiter = Box::new(tollgate::PartitionedRateLimiter::new(|key: &u64| {
        tollgate::RateLimitPartition::get_token_bucket_limiter(*key, |_| tollgate::TokenBucketRateLimiterOptions {
            token_limit: u32::MAX,
            tokens_per_period: 1_000_000_000,
            replenishment_period: std::time::Duration::from_secs(1),
            ..Default::default()
        })
    }));
    assert!(limiter.attempt_acquire(&42, 1).unwrap().is_acquired());
    limiter
}

/// governor's keyed (dashmap) limiter whose key 42 already has its state (burst `u32::MAX`, one cell per ns).
fn governor_keyed_roomy() -> Box<governor::DefaultKeyedRateLimiter<u64>> {
    let quota = governor::Quota::with_period(std::time::Duration::from_nanos(1))
        .unwrap()
        .allow_burst(std::num::NonZeroU32::new(u32::MAX).unwrap());
    let limiter = Box::new(governor::RateLimiter::dashmap(quota));
    assert!(limiter.check_key(&42).is_ok());
    limiter
}

#[library_benchmark]
#[bench::hot_key(args = (), setup = keyed_roomy, teardown = drop)]
fn keyed_allow(limiter: Box<tollgate::PartitionedRateLimiter<u64>>) -> Box<tollgate::PartitionedRateLimiter<u64>> {
    black_box(limiter.attempt_acquire(black_box(&42), 1).map(|lease| lease.is_acquired()).unwrap_or(false));
    limiter
}

#[library_benchmark]
#[bench::hot_key(args = (), setup = governor_keyed_roomy, teardown = drop)]
fn governor_keyed_allow(
    limiter: Box<governor::DefaultKeyedRateLimiter<u64>>,
) -> Box<governor::DefaultKeyedRateLimiter<u64>> {
    black_box(limiter.check_key(black_box(&42)).is_ok());
    limiter
}

#[library_benchmark]
#[bench::always(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<NoopLimiter>, teardown = rate_teardown)]
fn noop_allow(limiter: Box<NoopLimiter>) -> Box<NoopLimiter> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::window_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<BucketConcurrencyChain>, teardown = rate_teardown)]
fn chain_allow(limiter: Box<BucketConcurrencyChain>) -> Box<BucketConcurrencyChain> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::permit_taken(args = (), setup = rate_exhausted::<BucketConcurrencyChain>, teardown = rate_teardown)]
fn chain_deny(limiter: Box<BucketConcurrencyChain>) -> Box<BucketConcurrencyChain> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

#[library_benchmark]
#[bench::tick_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<MutexTokenBucket>, teardown = rate_teardown)]
fn mutex_bucket_allow(limiter: Box<MutexTokenBucket>) -> Box<MutexTokenBucket> {
    black_box(rate::check_in_place(&*limiter));
    limiter
}

/// Polls a future once with a no-op waker and drops it: the cost of an `acquire().await` that
/// completes at once (a free permit), future construction and drop included.
fn poll_once<F: std::future::Future>(future: F) -> bool {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    future.as_mut().poll(&mut cx).is_ready()
}

#[library_benchmark]
#[bench::permits_1024(args = (), setup = roomy::<ConcurrencyLimiter>, teardown = teardown)]
fn tollgate_acquire_ready(limiter: ConcurrencyLimiter) -> ConcurrencyLimiter {
    black_box(poll_once(RateLimiter::acquire(black_box(&limiter), 1)));
    limiter
}

#[library_benchmark]
#[bench::permits_1024(args = (), setup = roomy::<Semaphore>, teardown = teardown)]
fn tokio_acquire_ready(semaphore: Semaphore) -> Semaphore {
    black_box(poll_once(Semaphore::acquire(black_box(&semaphore))));
    semaphore
}

#[library_benchmark]
#[bench::tick_1s(args = (rate::ALLOW_TICK_1S), setup = rate_roomy::<TokenBucketRateLimiter>, teardown = rate_teardown)]
fn bucket_acquire_ready(limiter: Box<TokenBucketRateLimiter>) -> Box<TokenBucketRateLimiter> {
    black_box(poll_once(RateLimiter::acquire(black_box(&*limiter), 1)));
    limiter
}

library_benchmark_group!(
    name = more;
    benchmarks =
        noop_allow,
        chain_allow,
        chain_deny,
        mutex_bucket_allow,
        tollgate_acquire_ready,
        tokio_acquire_ready,
        bucket_acquire_ready
);

library_benchmark_group!(
    name = keyed;
    benchmarks = keyed_allow, governor_keyed_allow
);

library_benchmark_group!(
    name = rate_limit;
    benchmarks =
        sliding_window_allow,
        sliding_window_deny,
        fixed_window_allow,
        fixed_window_deny,
        bucket_allow,
        governor_allow,
        bucket_deny,
        governor_deny,
        bucket_deny_retry_after,
        governor_deny_retry_after
);

library_benchmark_group!(
    name = try_acquire;
    benchmarks =
        tollgate_acquire_drop,
        tokio_acquire_drop,
        mutex_acquire_drop,
        tollgate_acquire_drop_busy,
        tokio_acquire_drop_busy,
        mutex_acquire_drop_busy,
        tollgate_deny,
        tokio_deny,
        mutex_deny
);

main!(library_benchmark_groups = try_acquire, rate_limit, keyed, more);
