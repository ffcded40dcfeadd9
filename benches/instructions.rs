//! Instruction counts (iai-callgrind) of one non-waiting acquisition, tollgate against
//! `tokio::sync::Semaphore` and the `Mutex<VecDeque>` baseline, through the shared workload of
//! `benches/common`.
//!
//! Measures the inclusive instruction count of one call of the benchmark function, which runs
//! `common::try_acquire_drop` once:
//! * `*_acquire_drop`: an attempt that succeeds (1024 permits) plus the drop that returns the permit.
//! * `*_acquire_drop_busy`: the same on a limiter that is never idle (one of its 1024 permits is held).
//! * `*_deny`: an attempt on an exhausted limiter (its only permit is held).
//!
//! The limiter is built by a setup function and destroyed by a teardown function, so construction
//! and destruction are not counted. Does not measure: time (an instruction is not a nanosecond;
//! atomic read-modify-writes cost far more than their one instruction), cache or contention effects,
//! the async path. Callgrind runs the code once, cold; under valgrind, quanta may pick a different
//! clock source than on bare metal (see the perf report).

#![allow(missing_docs, reason = "the iai-callgrind macros generate `pub mod`s that cannot carry docs")]

#[allow(dead_code, reason = "the threaded and async workloads serve the criterion bench only")]
mod common;

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use tokio::sync::Semaphore;
use tollgate::ConcurrencyLimiter;

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

main!(library_benchmark_groups = try_acquire);
