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
//! (perf-reports/2026-11-29-fast-path.md). Groups: `lease_bucket` (token bucket and governor on
//! `common::rate`'s roomy quotas, as `vs_governor`), `lease_concurrency_busy` (concurrency limiter with one of its 1024
//! permits held elsewhere, so a drop does not end a busy period, vs tokio's `try_acquire` on a
//! semaphore in the same state).
//!
//! Ids are `<group>/<contender>/1` (one thread), the suite's scheme, so `examples/perf_report`
//! tabulates them.
//!
//! Does not measure: contention, refusals, the async path (see the other bench files).

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_main};
use governor::clock::QuantaClock;
use tollgate::{ConcurrencyLimiter, RateLimiter, TokenBucketRateLimiter};

use common::rate::{self, Governor};
use common::{harness, one_held};

/// Permits of the concurrency contenders (one of them held throughout).
const PERMITS: u32 = 1024;

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
    let bucket: TokenBucketRateLimiter = rate::roomy(rate::ALLOW_TICK_1S);
    three_ways(&mut group, &bucket);
    let governor: Governor<QuantaClock> = rate::roomy(rate::ALLOW_TICK_1NS);
    group.bench_function(BenchmarkId::new("governor", 1), |b| b.iter(|| black_box(&governor).check().is_ok()));
    group.finish();
}

fn lease_concurrency_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("lease_concurrency_busy");
    let limiter: ConcurrencyLimiter = one_held(PERMITS);
    three_ways(&mut group, &limiter);
    let semaphore: tokio::sync::Semaphore = one_held(PERMITS);
    group.bench_function(BenchmarkId::new("tokio_semaphore", 1), |b| {
        b.iter(|| black_box(&semaphore).try_acquire().is_ok())
    });
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn lease_handling() {
    let mut criterion = harness::criterion();
    lease_bucket(&mut criterion);
    lease_concurrency_busy(&mut criterion);
}

criterion_main!(lease_handling);
