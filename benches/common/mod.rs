//! The workload layer shared by every bench file (STYLE habit 11).
//!
//! Each family of contenders implements one small trait, and every workload is written once,
//! generic over it, so tollgate and its rivals run the identical code: only the `impl` blocks
//! differ, and they are one-line adapters over each crate's public API.
//!
//! * [`Contender`] (this file): counting semaphores, one permit per acquisition —
//!   `tollgate::ConcurrencyLimiter`, `tokio::sync::Semaphore`, and [`MutexSemaphore`], a plain
//!   `Mutex<VecDeque>` FIFO semaphore (the baseline a lock-free queue has to beat).
//! * [`rate::RateContender`] (`rate.rs`): rate limiters, one permit per attempt, never waiting —
//!   tollgate's token bucket, fixed window, sliding window, no-op limiter and a token bucket +
//!   concurrency chain; governor's direct limiter; [`rate::MutexTokenBucket`], a naive token bucket
//!   behind a `Mutex`.
//! * [`keyed::KeyedContender`] (`keyed.rs`): keyed limiters — tollgate's `PartitionedRateLimiter`,
//!   governor's dashmap- and mutex-hashmap-keyed limiters; hot-key and Zipf key sequences.
//! * [`harness`] (`harness.rs`): the criterion configuration, the thread counts, and the one
//!   multi-thread driver every family's contended workloads run on.
//!
//! Criterion ids follow one scheme, which `examples/perf_report.rs` parses:
//! `<workload group>/<contender>/<threads>`, where a contender whose name starts with `tollgate_`
//! is tollgate's and every other is a rival.

// Each bench file (and `instructions.rs`) uses a different subset of this layer.
#![allow(dead_code, reason = "every bench file compiles this module and uses a part of it")]

pub mod harness;
pub mod keyed;
mod mutex_semaphore;
pub mod rate;

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimitLease, RateLimiter};

pub use mutex_semaphore::{MutexPermit, MutexSemaphore};

/// Queue room given to tollgate so that no waiter of the async workload is ever refused.
const TOLLGATE_QUEUE_LIMIT: u32 = 1 << 16;

/// A counting semaphore under test: one permit per acquisition.
pub trait Contender: Send + Sync + Sized + 'static {
    /// The name criterion and iai-callgrind report.
    const NAME: &'static str;
    /// What a successful acquisition holds; dropping it returns the permit.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// A contender with `permits` permits and room for any number of async waiters.
    fn with_permits(permits: u32) -> Self;
    /// Takes one permit if one is free now, without waiting.
    fn try_acquire(&self) -> Option<Self::Permit<'_>>;
    /// Attempts to take one permit without waiting and drops whatever the attempt returned right
    /// there, never moving the permit out of the call; returns whether a permit was acquired.
    fn try_acquire_in_place(&self) -> bool;
    /// Takes one permit, waiting in FIFO order behind earlier waiters.
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send;
}

impl Contender for ConcurrencyLimiter {
    const NAME: &'static str = "tollgate_concurrency";
    type Permit<'a> = RateLimitLease;

    fn with_permits(permits: u32) -> Self {
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: permits,
            queue_limit: TOLLGATE_QUEUE_LIMIT,
            ..Default::default()
        })
        .expect("valid options")
    }

    #[inline]
    fn try_acquire(&self) -> Option<RateLimitLease> {
        self.attempt_acquire(1).ok().filter(RateLimitLease::is_acquired)
    }

    #[inline]
    fn try_acquire_in_place(&self) -> bool {
        matches!(self.attempt_acquire(1), Ok(lease) if lease.is_acquired())
    }

    async fn acquire(&self) -> RateLimitLease {
        let lease = RateLimiter::acquire(self, 1).await.expect("limiter is open");
        assert!(lease.is_acquired(), "the queue never fills in these workloads");
        lease
    }
}

impl Contender for tokio::sync::Semaphore {
    const NAME: &'static str = "tokio_semaphore";
    type Permit<'a> = tokio::sync::SemaphorePermit<'a>;

    fn with_permits(permits: u32) -> Self {
        tokio::sync::Semaphore::new(permits as usize)
    }

    #[inline]
    fn try_acquire(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        tokio::sync::Semaphore::try_acquire(self).ok()
    }

    #[inline]
    fn try_acquire_in_place(&self) -> bool {
        tokio::sync::Semaphore::try_acquire(self).is_ok()
    }

    async fn acquire(&self) -> tokio::sync::SemaphorePermit<'_> {
        tokio::sync::Semaphore::acquire(self).await.expect("semaphore is open")
    }
}

impl Contender for MutexSemaphore {
    const NAME: &'static str = "mutex_vecdeque";
    type Permit<'a> = MutexPermit<'a>;

    fn with_permits(permits: u32) -> Self {
        MutexSemaphore::new(permits as usize)
    }

    #[inline]
    fn try_acquire(&self) -> Option<MutexPermit<'_>> {
        MutexSemaphore::try_acquire(self)
    }

    #[inline]
    fn try_acquire_in_place(&self) -> bool {
        MutexSemaphore::try_acquire(self).is_some()
    }

    async fn acquire(&self) -> MutexPermit<'_> {
        MutexSemaphore::acquire(self).await
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

/// One non-waiting attempt whose permit (if any) is dropped where it was returned: the plain
/// `attempt_acquire(1)` + drop, or `try_acquire()` + drop. Returns whether a permit was acquired.
#[inline]
pub fn try_acquire_drop<C: Contender>(contender: &C) -> bool {
    black_box(contender).try_acquire_in_place()
}

/// One non-waiting attempt whose permit (if any) is first moved out as an `Option` through
/// `black_box` (as when a caller returns or stores it), then dropped: adds the cost of moving the
/// permit type to [`try_acquire_drop`].
#[inline]
pub fn try_acquire_move_drop<C: Contender>(contender: &C) {
    drop(black_box(black_box(contender).try_acquire()));
}

/// A contender with `permits` permits, one of which is held forever (leaked): with 1 permit every
/// attempt is refused; with more, the contender is never idle (never has every permit back).
pub fn one_held<C: Contender>(permits: u32) -> C {
    let contender = C::with_permits(permits);
    std::mem::forget(contender.try_acquire().expect("a fresh contender has a permit"));
    contender
}

/// A contender whose only permit is held forever, so every attempt is refused.
pub fn exhausted<C: Contender>() -> C {
    one_held(1)
}

/// `threads` threads each run `iters` [`try_acquire_drop`]s on one shared contender; returns the
/// wall time from the common start to the last join ([`harness::run_threads`]).
///
/// Since every thread runs the whole `iters`, `elapsed / iters` is the time per op per thread.
pub fn hammer<C: Contender>(contender: &C, threads: usize, iters: u64) -> Duration {
    harness::run_threads(threads, iters, |_| try_acquire_drop(contender)).elapsed
}

/// `tasks` tasks share the contender; each acquires a permit `rounds` times, yields once while
/// holding it (so other tasks queue up behind it), then drops it. Must run inside a tokio runtime.
pub async fn handoff<C: Contender>(contender: &Arc<C>, tasks: usize, rounds: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let contender = Arc::clone(contender);
            tokio::spawn(async move {
                for _ in 0..rounds {
                    let permit = contender.acquire().await;
                    tokio::task::yield_now().await;
                    drop(permit);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("bench task panicked");
    }
}
