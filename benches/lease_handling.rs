//! What the caller does with the returned lease, measured: one uncontended `attempt_acquire(1)`
//! and the drop of its lease, written three ways, beside the rival's call, in wall-clock time
//! (criterion), one thread.
//!
//! * `moved`: the lease is bound by value out of the `Result` (`matches!(.., Ok(lease) if
//!   lease.is_acquired())`, what `benches/common` and much user code do; `?` and `.unwrap()` move
//!   it too).
//! * `unwrap`: `attempt_acquire(1).unwrap()`, then `is_acquired()`.
//! * `in_place`: the `Result` is inspected by reference and dropped where it was returned.
//!
//! Why it matters: `Result<RateLimitLease, AcquireError>` (48 bytes) comes back through memory,
//! written field by field with scalar stores; a move copies it with 16-byte loads, which the CPU
//! cannot forward from those narrower stores, so the copy waits for the stores to retire (a
//! store-forwarding stall). The difference between `moved` and `in_place` is that stall
//! (perf-reports/2026-11-29-fast-path.md). Groups: `lease_bucket` (token bucket, roomy quota, vs
//! governor's `check()`), `lease_concurrency_busy` (concurrency limiter with one of its 1024
//! permits held elsewhere, so a drop does not end a busy period, vs tokio's `try_acquire` on a
//! semaphore in the same state).
//!
//! Ids are `<group>/<contender>/1` (one thread), the suite's scheme, so `examples/perf_report`
//! tabulates them.
//!
//! Does not measure: contention, refusals, the async path (see the other bench files).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_main};
use tollgate::{
    ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

fn three_ways<L: RateLimiter>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    limiter: &L,
) {
    group.bench_function(BenchmarkId::new("tollgate_moved", 1), |b| {
        b.iter(|| matches!(black_box(limiter).attempt_acquire(1), Ok(lease) if lease.is_acquired()))
    });
    group.bench_function(BenchmarkId::new("tollgate_unwrap", 1), |b| {
        b.iter(|| black_box(limiter).attempt_acquire(1).unwrap().is_acquired())
    });
    group.bench_function(BenchmarkId::new("tollgate_in_place", 1), |b| {
        b.iter(|| {
            let result = black_box(limiter).attempt_acquire(1);
            matches!(&result, Ok(lease) if lease.is_acquired())
        })
    });
}

fn lease_bucket(c: &mut Criterion) {
    let mut group = c.benchmark_group("lease_bucket");
    let bucket = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
        token_limit: u32::MAX,
        tokens_per_period: 1_000_000_000,
        replenishment_period: Duration::from_secs(1),
        ..Default::default()
    })
    .expect("valid options");
    three_ways(&mut group, &bucket);
    let quota = governor::Quota::with_period(Duration::from_nanos(1))
        .expect("a non-zero period")
        .allow_burst(NonZeroU32::new(u32::MAX).expect("non-zero"));
    let governor = governor::RateLimiter::direct(quota);
    group.bench_function(BenchmarkId::new("governor", 1), |b| b.iter(|| black_box(&governor).check().is_ok()));
    group.finish();
}

fn lease_concurrency_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("lease_concurrency_busy");
    let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1024, ..Default::default() })
        .expect("valid options");
    let held = limiter.attempt_acquire(1).expect("open");
    assert!(held.is_acquired());
    three_ways(&mut group, &limiter);
    let semaphore = tokio::sync::Semaphore::new(1024);
    let _held = semaphore.try_acquire().expect("a free permit");
    group.bench_function(BenchmarkId::new("tokio_semaphore", 1), |b| {
        b.iter(|| black_box(&semaphore).try_acquire().is_ok())
    });
    group.finish();
    drop(held);
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn lease_handling() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    lease_bucket(&mut criterion);
    lease_concurrency_busy(&mut criterion);
}

criterion_main!(lease_handling);
