//! `tollgate::ConcurrencyLimiter` against `tokio::sync::Semaphore` and a `Mutex<VecDeque>` FIFO
//! semaphore, in wall-clock time (criterion).
//!
//! Measures, one permit per operation, every contender running the identical workload from
//! `benches/common`:
//! * `try_acquire_drop/1_thread`: a non-waiting acquisition that succeeds, then the drop that returns
//!   the permit (1024 permits, so it always succeeds), the permit dropped where the call returned it.
//!   tollgate: `attempt_acquire(1)` + lease drop; tokio: `try_acquire()` + permit drop.
//! * `try_acquire_move_drop/1_thread`: the same, but the permit is first moved out as an `Option`
//!   through `black_box` (as when a caller returns or stores it): adds the cost of moving the permit
//!   type (tollgate's lease is 64 bytes, tokio's permit 16).
//! * `try_acquire_drop/1_thread_busy`: the same on a limiter that is never idle (one of its 1024
//!   permits is held throughout), so no release is the one that makes it idle again.
//! * `try_acquire_drop/2_threads`: the same from two threads on one shared limiter; reported as time
//!   per operation per thread (each thread runs the full iteration count).
//! * `deny/1_thread`: a non-waiting acquisition on an exhausted limiter (its one permit is held).
//! * `async_handoff`: 16 tasks share 2 permits on a 2-worker tokio runtime; each task acquires
//!   (`acquire(1).await`), yields once while holding the permit, and drops it, 64 times. Throughput
//!   is in acquisitions; it includes spawning the 16 tasks per iteration, the same for every
//!   contender.
//!
//! Does not measure: weighted (multi-permit) requests, NewestFirst order, cancellation, blocking
//! (thread-parking) waits, statistics or idle-time reads, contention beyond two threads (the
//! reference machine has two shared cores), or memory use. Timings on this machine are noisy:
//! compare contenders only as ratios within one group of one run; absolute numbers from different
//! runs are not comparable.

mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_main, measurement::WallTime};
use tokio::sync::Semaphore;
use tollgate::ConcurrencyLimiter;

use common::{Contender, MutexSemaphore};

/// Permits of the limiters that must never refuse.
const ROOMY: u32 = 1024;
/// Async handoff: tasks, permits shared by them, and acquisitions per task per iteration.
const TASKS: usize = 16;
const SHARED_PERMITS: u32 = 2;
const ROUNDS: usize = 64;

fn try_acquire_drop_1_thread<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = C::with_permits(ROOMY);
    group.bench_function(C::NAME, |b| b.iter(|| common::try_acquire_drop(&contender)));
}

fn try_acquire_move_drop_1_thread<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = C::with_permits(ROOMY);
    group.bench_function(C::NAME, |b| b.iter(|| common::try_acquire_move_drop(&contender)));
}

fn try_acquire_drop_1_thread_busy<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = common::one_held::<C>(ROOMY);
    group.bench_function(C::NAME, |b| b.iter(|| common::try_acquire_drop(&contender)));
}

fn try_acquire_drop_2_threads<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = C::with_permits(ROOMY);
    group.bench_function(C::NAME, |b| b.iter_custom(|iters| common::hammer(&contender, 2, iters)));
}

fn deny_1_thread<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let contender = common::exhausted::<C>();
    group.bench_function(C::NAME, |b| b.iter(|| common::try_acquire_drop(&contender)));
}

fn async_handoff<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, runtime: &tokio::runtime::Runtime) {
    let contender = Arc::new(C::with_permits(SHARED_PERMITS));
    group.bench_function(C::NAME, |b| b.to_async(runtime).iter(|| common::handoff(&contender, TASKS, ROUNDS)));
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
    let mut group = c.benchmark_group("try_acquire_drop/1_thread");
    for_each_contender!(try_acquire_drop_1_thread(&mut group));
    group.finish();

    let mut group = c.benchmark_group("try_acquire_move_drop/1_thread");
    for_each_contender!(try_acquire_move_drop_1_thread(&mut group));
    group.finish();

    let mut group = c.benchmark_group("try_acquire_drop/1_thread_busy");
    for_each_contender!(try_acquire_drop_1_thread_busy(&mut group));
    group.finish();

    let mut group = c.benchmark_group("try_acquire_drop/2_threads");
    for_each_contender!(try_acquire_drop_2_threads(&mut group));
    group.finish();

    let mut group = c.benchmark_group("deny/1_thread");
    for_each_contender!(deny_1_thread(&mut group));
    group.finish();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("tokio runtime");
    let mut group = c.benchmark_group("async_handoff");
    group.throughput(Throughput::Elements((TASKS * ROUNDS) as u64));
    for_each_contender!(async_handoff(&mut group, &runtime));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30)
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn vs_tokio_semaphore() {
    let mut criterion = config().configure_from_args();
    benches(&mut criterion);
}

criterion_main!(vs_tokio_semaphore);
