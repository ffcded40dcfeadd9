//! The criterion configuration and the one multi-thread driver shared by every bench file.
//!
//! Every workload is registered as `<group>/<contender>/<threads>` (see the parent module). With
//! one thread the operation runs on criterion's own thread (`Bencher::iter`); with more, it runs
//! on `threads` freshly spawned threads that start together behind a barrier and each run the
//! whole iteration count ([`run_threads`]), so the reported time is the time per operation *per
//! thread*, and the aggregate rate is `threads / time`.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, measurement::WallTime};

/// The thread counts of the contended workloads: uncontended, one per core of the two-core
/// reference machine, and two and four times more threads than cores (preemption while a thread
/// is inside the limiter).
pub const THREAD_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// Set to anything but `0` for a smoke run: 10 samples in 0.3 s per benchmark instead of 30 in 2 s.
pub const QUICK_ENV: &str = "TOLLGATE_BENCH_QUICK";

/// The criterion configuration of every bench file: 30 samples in 2 s after a 0.5 s warm-up (about
/// 3 s per benchmark), or the quick one when [`QUICK_ENV`] is set; command-line arguments (a
/// filter, `--measurement-time` ...) override it.
pub fn criterion() -> Criterion {
    let quick = std::env::var_os(QUICK_ENV).is_some_and(|value| value != "0");
    let (warm_up, measurement, samples) = if quick {
        (Duration::from_millis(100), Duration::from_millis(300), 10)
    } else {
        (Duration::from_millis(500), Duration::from_secs(2), 30)
    };
    Criterion::default().warm_up_time(warm_up).measurement_time(measurement).sample_size(samples).configure_from_args()
}

/// What every attempt of a workload must return; checked after each sample, so a limiter that
/// ran dry (or let a request through) cannot pass for a fast one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Every attempt is admitted.
    Admitted,
    /// Every attempt is refused.
    Refused,
}

/// The outcome of one [`run_threads`].
pub struct Run {
    /// Wall time from the common start to the last join.
    pub elapsed: Duration,
    /// Attempts refused, across all threads.
    pub refused: u64,
}

/// `threads` threads each run `op` `iters` times; `op` gets a per-thread running index (thread
/// `t` starts at `t * 977`, so threads walking a key sequence start at different places) and
/// returns whether the attempt was admitted. The clock starts when every thread has been spawned
/// and waits at a barrier, and stops at the last join.
pub fn run_threads<O>(threads: usize, iters: u64, op: O) -> Run
where
    O: Fn(usize) -> bool + Sync,
{
    let barrier = Barrier::new(threads + 1);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, op) = (&barrier, &op);
                scope.spawn(move || {
                    barrier.wait();
                    let mut refused = 0;
                    for index in (thread * 977..).take(iters as usize) {
                        refused += u64::from(!op(black_box(index)));
                    }
                    refused
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let refused = workers.into_iter().map(|worker| worker.join().expect("bench thread panicked")).sum();
        Run { elapsed: start.elapsed(), refused }
    })
}

/// Registers `<group>/<contender>/<threads>`: `op` (see [`run_threads`]) on one thread through
/// `Bencher::iter`, or on `threads` threads through [`run_threads`]; every attempt must turn out
/// as `expect` says.
pub fn bench_threads<O>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    contender: &str,
    threads: usize,
    expect: Expect,
    op: O,
) where
    O: Fn(usize) -> bool + Sync,
{
    let admitted = expect == Expect::Admitted;
    group.bench_function(BenchmarkId::new(contender, threads), |b| {
        if threads == 1 {
            let mut index = 0usize;
            b.iter(|| {
                index = index.wrapping_add(1);
                op(index)
            });
            assert_eq!(op(index), admitted, "{contender}: an attempt was not {expect:?}");
        } else {
            b.iter_custom(|iters| {
                let run = run_threads(threads, iters, &op);
                let wrong = if admitted { run.refused } else { iters * threads as u64 - run.refused };
                assert_eq!(wrong, 0, "{contender}/{threads}: {wrong} attempts were not {expect:?}");
                run.elapsed
            });
        }
    });
}
