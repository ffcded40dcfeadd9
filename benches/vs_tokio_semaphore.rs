//! `tollgate::ConcurrencyLimiter` against `tokio::sync::Semaphore` and a `Mutex<VecDeque>` FIFO
//! semaphore, in wall-clock time (criterion).
//!
//! Measures, one permit per operation, every contender running the identical workload from
//! `benches/common`. Ids are `<group>/<contender>/<threads>`; with more than one thread, every
//! thread runs the full iteration count on the one shared limiter and the time is per operation
//! per thread (`common::harness`).
//! * `semaphore_allow/*/{1,2,4,8}`: a non-waiting acquisition that succeeds (1024 permits), then the
//!   drop that returns the permit, the permit dropped where the call returned it. tollgate:
//!   `attempt_acquire(1)` + lease drop; tokio: `try_acquire()` + permit drop. With one thread every
//!   drop makes the limiter idle again; 4 and 8 threads are more threads than the reference
//!   machine's two cores (preemption while a thread is inside the limiter).
//! * `semaphore_allow_busy/*/1`: the same on a limiter that is never idle (one of its 1024 permits
//!   is held throughout), so no release is the one that makes it idle again.
//! * `semaphore_allow_move/*/1`: as `semaphore_allow/*/1`, but the permit is first moved out as an
//!   `Option` through `black_box` (as when a caller returns or stores it): adds the cost of moving
//!   the permit type (tollgate's lease is larger than tokio's permit).
//! * `semaphore_deny/*/1`: a non-waiting acquisition on an exhausted limiter (its one permit held).
//! * `async_handoff/*/{2,8}`: 16 tasks share 2 permits on a multi-thread tokio runtime with 2 (one
//!   per core) or 8 worker threads; each task acquires (`acquire(1).await`), yields once while
//!   holding the permit, and drops it, 64 times, so nearly every permit is handed to a queued
//!   waiter. Reported per acquisition (criterion throughput: 1024 elements per iteration); it
//!   includes spawning the 16 tasks per iteration, the same for every contender.
//!
//! Does not measure: weighted (multi-permit) requests, NewestFirst order, cancellation, blocking
//! (thread-parking) waits, statistics or idle-time reads, or memory use. Timings on the shared
//! two-core reference machine are noisy: compare contenders only as ratios within one group of one
//! run; absolute numbers from different runs are not comparable.

mod common;

use std::sync::Arc;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_main, measurement::WallTime};
use tokio::sync::Semaphore;
use tollgate::ConcurrencyLimiter;

use common::harness::{self, Expect, THREAD_COUNTS};
use common::{Contender, MutexSemaphore};

/// Permits of the limiters that must never refuse.
const ROOMY: u32 = 1024;
/// Async handoff: tasks, permits shared by them, and acquisitions per task per iteration.
const TASKS: usize = 16;
const SHARED_PERMITS: u32 = 2;
const ROUNDS: usize = 64;
/// Worker threads of the async handoff's runtimes: one per core, and four per core.
const WORKER_COUNTS: [usize; 2] = [2, 8];

fn allow<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, threads: usize) {
    let contender = C::with_permits(ROOMY);
    harness::bench_threads(group, C::NAME, threads, Expect::Admitted, |_| common::try_acquire_drop(&contender));
}

fn allow_busy<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = common::one_held::<C>(ROOMY);
    harness::bench_threads(group, C::NAME, 1, Expect::Admitted, |_| common::try_acquire_drop(&contender));
}

fn allow_move<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = C::with_permits(ROOMY);
    harness::bench_threads(group, C::NAME, 1, Expect::Admitted, |_| {
        common::try_acquire_move_drop(&contender);
        true
    });
}

fn deny<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = common::exhausted::<C>();
    harness::bench_threads(group, C::NAME, 1, Expect::Refused, |_| common::try_acquire_drop(&contender));
}

fn async_handoff<C: Contender>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    workers: usize,
) {
    let contender = Arc::new(C::with_permits(SHARED_PERMITS));
    group.bench_function(BenchmarkId::new(C::NAME, workers), |b| {
        b.to_async(runtime).iter(|| common::handoff(&contender, TASKS, ROUNDS))
    });
}

/// Runs `$bench` for every contender, side by side in one group.
macro_rules! for_each_contender {
    ($bench:ident ( $group:expr $(, $arg:expr)* )) => {
        $bench::<ConcurrencyLimiter>($group $(, $arg)*);
        $bench::<Semaphore>($group $(, $arg)*);
        $bench::<MutexSemaphore>($group $(, $arg)*);
    };
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("semaphore_allow");
    for threads in THREAD_COUNTS {
        for_each_contender!(allow(&mut group, threads));
    }
    group.finish();

    let mut group = c.benchmark_group("semaphore_allow_busy");
    for_each_contender!(allow_busy(&mut group));
    group.finish();

    let mut group = c.benchmark_group("semaphore_allow_move");
    for_each_contender!(allow_move(&mut group));
    group.finish();

    let mut group = c.benchmark_group("semaphore_deny");
    for_each_contender!(deny(&mut group));
    group.finish();

    let mut group = c.benchmark_group("async_handoff");
    group.throughput(Throughput::Elements((TASKS * ROUNDS) as u64));
    for workers in WORKER_COUNTS {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().expect("tokio runtime");
        for_each_contender!(async_handoff(&mut group, &runtime, workers));
    }
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn vs_tokio_semaphore() {
    let mut criterion = harness::criterion();
    benches(&mut criterion);
}

criterion_main!(vs_tokio_semaphore);
