//! The workload layer shared by the bench files (STYLE habit 11).
//!
//! Every contender implements [`Contender`], and every workload below is written once, generic over
//! it, so tollgate and its rivals run the identical code: only the `impl Contender` blocks differ,
//! and they are one-line adapters over each crate's public API.
//!
//! The contenders:
//! * `tollgate::ConcurrencyLimiter` (default clock, OldestFirst queue),
//! * `tokio::sync::Semaphore`,
//! * [`MutexSemaphore`], a deliberately plain FIFO async semaphore, `Mutex<(permits, VecDeque)>`,
//!   the baseline a lock-free queue has to beat (ARCHITECTURE.md, "The waiter queue").

use std::collections::VecDeque;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimitLease, RateLimiter};

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
    const NAME: &'static str = "tollgate";
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
    const NAME: &'static str = "tokio";
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
/// wall time from the common start (a barrier, after the threads are spawned) to the last join.
///
/// Since every thread runs the whole `iters`, `elapsed / iters` is the time per op per thread.
pub fn hammer<C: Contender>(contender: &C, threads: usize, iters: u64) -> Duration {
    let barrier = Barrier::new(threads + 1);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..iters {
                        try_acquire_drop(contender);
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            worker.join().expect("bench thread panicked");
        }
        start.elapsed()
    })
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

// ---------------------------------------------------------------------------------------------
// The baseline: a FIFO async semaphore behind one std Mutex
// ---------------------------------------------------------------------------------------------

/// A FIFO async semaphore: `Mutex<(available permits, VecDeque<waiter>)>`.
///
/// A releaser hands its permit directly to the oldest waiter (sets the waiter's flag and wakes it,
/// the permit never becomes "available"), so a newcomer cannot overtake the queue. A dropped,
/// still-waiting future removes itself; a dropped future that had been granted gives the permit on.
pub struct MutexSemaphore {
    state: Mutex<MutexState>,
}

struct MutexState {
    available: usize,
    waiters: VecDeque<QueuedWaiter>,
}

struct QueuedWaiter {
    /// Set (under the mutex) when a permit is handed to this waiter.
    granted: Arc<AtomicBool>,
    waker: Waker,
}

impl MutexSemaphore {
    /// A semaphore with `permits` available permits.
    pub fn new(permits: usize) -> Self {
        Self { state: Mutex::new(MutexState { available: permits, waiters: VecDeque::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, MutexState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a permit if one is free and nobody waits.
    pub fn try_acquire(&self) -> Option<MutexPermit<'_>> {
        let mut state = self.lock();
        if state.available > 0 && state.waiters.is_empty() {
            state.available -= 1;
            Some(MutexPermit { semaphore: self })
        } else {
            None
        }
    }

    /// Takes a permit, waiting in FIFO order.
    pub fn acquire(&self) -> MutexAcquire<'_> {
        MutexAcquire { semaphore: self, granted: None, done: false }
    }

    /// Returns one permit: to the oldest waiter if there is one, else to the pool.
    fn release(&self) {
        let mut state = self.lock();
        match state.waiters.pop_front() {
            Some(waiter) => {
                // ORDERING: Release pairs with the waiter's Acquire load, publishing the holder's
                // writes; the mutex orders it too.
                waiter.granted.store(true, Ordering::Release);
                drop(state);
                waiter.waker.wake();
            }
            None => state.available += 1,
        }
    }
}

/// A permit of [`MutexSemaphore`]; dropping it releases the permit.
pub struct MutexPermit<'a> {
    semaphore: &'a MutexSemaphore,
}

impl Drop for MutexPermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

/// The future of [`MutexSemaphore::acquire`].
pub struct MutexAcquire<'a> {
    semaphore: &'a MutexSemaphore,
    /// The flag of this request's queue entry, once queued.
    granted: Option<Arc<AtomicBool>>,
    done: bool,
}

impl<'a> Future for MutexAcquire<'a> {
    type Output = MutexPermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexPermit<'a>> {
        let this = self.get_mut();
        assert!(!this.done, "MutexAcquire polled after completion");
        let semaphore = this.semaphore;
        if let Some(granted) = &this.granted {
            // ORDERING: Acquire pairs with the releaser's Release store.
            if granted.load(Ordering::Acquire) {
                this.done = true;
                return Poll::Ready(MutexPermit { semaphore });
            }
        }
        let mut state = semaphore.lock();
        match &this.granted {
            None => {
                if state.available > 0 && state.waiters.is_empty() {
                    state.available -= 1;
                    this.done = true;
                    return Poll::Ready(MutexPermit { semaphore });
                }
                let granted = Arc::new(AtomicBool::new(false));
                state.waiters.push_back(QueuedWaiter { granted: Arc::clone(&granted), waker: cx.waker().clone() });
                this.granted = Some(granted);
                Poll::Pending
            }
            Some(granted) => {
                // ORDERING: Relaxed is enough under the mutex that the grant was made under.
                if granted.load(Ordering::Relaxed) {
                    this.done = true;
                    return Poll::Ready(MutexPermit { semaphore });
                }
                // Spurious wake-up: refresh the stored waker.
                if let Some(entry) = state.waiters.iter_mut().find(|entry| Arc::ptr_eq(&entry.granted, granted)) {
                    entry.waker.clone_from(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for MutexAcquire<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(granted) = self.granted.take() else {
            return;
        };
        let mut state = self.semaphore.lock();
        // ORDERING: Relaxed: grants are made under the mutex we hold.
        if granted.load(Ordering::Relaxed) {
            // Granted but never observed: pass the permit on.
            drop(state);
            self.semaphore.release();
        } else {
            state.waiters.retain(|entry| !Arc::ptr_eq(&entry.granted, &granted));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limiters: tollgate's token bucket against governor
// ---------------------------------------------------------------------------------------------

/// The workload layer of the rate-limiter comparison (`vs_governor`, `instructions`), the same
/// pattern as above: one [`RateContender`](rate::RateContender) trait, workloads written once.
///
/// The contenders, each on two clocks:
/// * `tollgate::TokenBucketRateLimiter` on [`TscClock`](tollgate::TscClock) (its default) and on
///   [`CoarseClock`](tollgate::CoarseClock),
/// * governor's direct (un-keyed, in-memory) `RateLimiter` on its default `QuantaClock` and on its
///   `QuantaUpkeepClock`.
#[allow(dead_code, reason = "`vs_tokio_semaphore` compiles this file too and uses none of it")]
pub mod rate {
    use std::hint::black_box;
    use std::num::NonZeroU32;
    use std::sync::{Barrier, OnceLock};
    use std::thread;
    use std::time::{Duration, Instant};

    use governor::clock::{QuantaClock, QuantaUpkeepClock};
    use governor::middleware::NoOpMiddleware;
    use governor::state::{InMemoryState, NotKeyed};
    use tollgate::{
        Clock, CoarseClock, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, RateLimiter,
        SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions, TokenBucketRateLimiter,
        TokenBucketRateLimiterOptions, TscClock,
    };

    /// Refresh interval of the coarse (upkeep-thread) clocks.
    pub const COARSE_INTERVAL: Duration = Duration::from_millis(1);

    /// A rate limit in both crates' terms: at most `burst` permits at once, `per_period` more every
    /// `period`. governor replenishes continuously (one cell every `period / per_period`, which must
    /// be a whole number of nanoseconds); tollgate adds `per_period` tokens at every tick.
    #[derive(Clone, Copy, Debug)]
    pub struct Quota {
        /// tollgate's `token_limit`, governor's burst.
        pub burst: u32,
        /// tollgate's `tokens_per_period`.
        pub per_period: u32,
        /// tollgate's `replenishment_period`.
        pub period: Duration,
    }

    impl Quota {
        /// governor's form: one cell every `period / per_period`, burst `burst`.
        fn governor(self) -> governor::Quota {
            let period = self.period.as_nanos();
            assert_eq!(period % u128::from(self.per_period), 0, "governor needs a whole-nanosecond cell interval");
            let cell = Duration::from_nanos((period / u128::from(self.per_period)) as u64);
            governor::Quota::with_period(cell)
                .expect("non-zero interval")
                .allow_burst(NonZeroU32::new(self.burst).expect("non-zero burst"))
        }

        /// tollgate's form, without a queue.
        fn tollgate(self) -> TokenBucketRateLimiterOptions {
            TokenBucketRateLimiterOptions {
                token_limit: self.burst,
                tokens_per_period: self.per_period,
                replenishment_period: self.period,
                ..Default::default()
            }
        }
    }

    /// Never runs dry: a burst of `u32::MAX` and one more permit every nanosecond, which no caller
    /// here can outpace. tollgate ticks every nanosecond, as close to governor's continuous
    /// replenishment as it gets (so nearly every call finds a tick elapsed since the last).
    pub const ALLOW_TICK_1NS: Quota = Quota { burst: u32::MAX, per_period: 1, period: Duration::from_nanos(1) };

    /// The same rate and burst as [`ALLOW_TICK_1NS`] (identical for governor), but tollgate adds its
    /// 10⁹ tokens once a second, so a call rarely finds a tick elapsed.
    pub const ALLOW_TICK_1S: Quota =
        Quota { burst: u32::MAX, per_period: 1_000_000_000, period: Duration::from_secs(1) };

    /// One permit, one more an hour: exhausted for the whole run once its permit is taken.
    pub const DENY: Quota = Quota { burst: 1, per_period: 1, period: Duration::from_secs(3600) };

    /// A rate limiter under test: one permit per attempt, never waiting.
    pub trait RateContender: Send + Sync + Sized + 'static {
        /// The name criterion and iai-callgrind report.
        const NAME: &'static str;

        /// A limiter enforcing `quota`, full.
        fn with_quota(quota: Quota) -> Self;
        /// Attempts to take one permit and drops whatever the attempt returned right there;
        /// returns whether a permit was taken.
        fn check_in_place(&self) -> bool;
        /// Attempts to take one permit; on refusal, returns the wait until a retry could succeed
        /// (`Some(ZERO)` when taken, so both crates return the same type).
        fn check_retry_after(&self) -> Option<Duration>;
    }

    /// The clocks each crate is benchmarked on; `bench_clock` gives the instance a limiter uses.
    pub trait BenchClock: Clone + Send + Sync + 'static {
        /// The clock for one more limiter.
        fn bench_clock() -> Self;
    }

    impl BenchClock for TscClock {
        fn bench_clock() -> Self {
            TscClock::new()
        }
    }

    impl BenchClock for QuantaClock {
        fn bench_clock() -> Self {
            QuantaClock::default()
        }
    }

    /// governor's upkeep clock, shared by every governor limiter and kept alive for the whole
    /// process: quanta allows one upkeep thread per process (a second `start` fails), and governor
    /// stops it when the last clone of its clock is dropped. (tollgate's [`CoarseClock`] runs its
    /// own refresh thread, independent of quanta's.)
    fn governor_upkeep_clock() -> QuantaUpkeepClock {
        static CLOCK: OnceLock<QuantaUpkeepClock> = OnceLock::new();
        CLOCK.get_or_init(|| QuantaUpkeepClock::from_interval(COARSE_INTERVAL).expect("quanta upkeep thread")).clone()
    }

    impl BenchClock for QuantaUpkeepClock {
        fn bench_clock() -> Self {
            governor_upkeep_clock()
        }
    }

    impl BenchClock for CoarseClock {
        fn bench_clock() -> Self {
            CoarseClock::new(COARSE_INTERVAL).expect("coarse clock thread")
        }
    }

    impl<C: Clock + BenchClock> RateContender for TokenBucketRateLimiter<C> {
        const NAME: &'static str = "tollgate";

        fn with_quota(quota: Quota) -> Self {
            TokenBucketRateLimiter::with_clock(quota.tollgate(), C::bench_clock()).expect("valid options")
        }

        #[inline]
        fn check_in_place(&self) -> bool {
            matches!(self.attempt_acquire(1), Ok(lease) if lease.is_acquired())
        }

        #[inline]
        fn check_retry_after(&self) -> Option<Duration> {
            match self.attempt_acquire(1) {
                Ok(lease) if lease.is_acquired() => Some(Duration::ZERO),
                Ok(lease) => lease.retry_after(),
                Err(_) => None,
            }
        }
    }

    /// The fixed window on the same quota: `permit_limit` = burst per `window` = period (every
    /// window starts full, so `ALLOW_TICK_1S` never runs dry and `DENY` stays exhausted).
    impl<C: Clock + BenchClock> RateContender for FixedWindowRateLimiter<C> {
        const NAME: &'static str = "tollgate_fixed_window";

        fn with_quota(quota: Quota) -> Self {
            let options =
                FixedWindowRateLimiterOptions { permit_limit: quota.burst, window: quota.period, ..Default::default() };
            FixedWindowRateLimiter::with_clock(options, C::bench_clock()).expect("valid options")
        }

        #[inline]
        fn check_in_place(&self) -> bool {
            matches!(self.attempt_acquire(1), Ok(lease) if lease.is_acquired())
        }

        #[inline]
        fn check_retry_after(&self) -> Option<Duration> {
            match self.attempt_acquire(1) {
                Ok(lease) if lease.is_acquired() => Some(Duration::ZERO),
                Ok(lease) => lease.retry_after(),
                Err(_) => None,
            }
        }
    }

    /// The sliding window on the same quota: `permit_limit` = burst per `window` = period, in 10
    /// segments.
    impl<C: Clock + BenchClock> RateContender for SlidingWindowRateLimiter<C> {
        const NAME: &'static str = "tollgate_sliding_window";

        fn with_quota(quota: Quota) -> Self {
            let options = SlidingWindowRateLimiterOptions {
                permit_limit: quota.burst,
                window: quota.period,
                segments_per_window: 10,
                ..Default::default()
            };
            SlidingWindowRateLimiter::with_clock(options, C::bench_clock()).expect("valid options")
        }

        #[inline]
        fn check_in_place(&self) -> bool {
            matches!(self.attempt_acquire(1), Ok(lease) if lease.is_acquired())
        }

        #[inline]
        fn check_retry_after(&self) -> Option<Duration> {
            match self.attempt_acquire(1) {
                Ok(lease) if lease.is_acquired() => Some(Duration::ZERO),
                Ok(lease) => lease.retry_after(),
                Err(_) => None,
            }
        }
    }

    /// governor's direct in-memory limiter on clock `C`.
    pub type Governor<C> =
        governor::RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as governor::clock::Clock>::Instant>>;

    impl<C: governor::clock::Clock + BenchClock> RateContender for Governor<C> {
        const NAME: &'static str = "governor";

        fn with_quota(quota: Quota) -> Self {
            governor::RateLimiter::direct_with_clock(quota.governor(), C::bench_clock())
        }

        #[inline]
        fn check_in_place(&self) -> bool {
            self.check().is_ok()
        }

        #[inline]
        fn check_retry_after(&self) -> Option<Duration> {
            match self.check() {
                Ok(()) => Some(Duration::ZERO),
                Err(not_until) => Some(not_until.wait_time_from(self.clock().now())),
            }
        }
    }

    /// A limiter that allows every attempt of a run (`ALLOW_*` quota); checks that it allows one.
    pub fn roomy<L: RateContender>(quota: Quota) -> L {
        let limiter = L::with_quota(quota);
        assert!(limiter.check_in_place(), "a fresh limiter allows");
        limiter
    }

    /// A [`DENY`] limiter whose only permit is taken, so every attempt is refused.
    pub fn exhausted<L: RateContender>() -> L {
        let limiter = L::with_quota(DENY);
        assert!(limiter.check_in_place(), "a fresh limiter allows");
        limiter
    }

    /// One attempt whose lease or outcome is dropped where it was returned.
    #[inline]
    pub fn check_in_place<L: RateContender>(limiter: &L) -> bool {
        black_box(limiter).check_in_place()
    }

    /// One attempt that also computes the time until a retry could succeed (tollgate computes it
    /// on every refusal; governor computes it from its `NotUntil` and a second clock reading).
    #[inline]
    pub fn check_retry_after<L: RateContender>(limiter: &L) -> Option<Duration> {
        black_box(limiter).check_retry_after()
    }

    /// `threads` threads each run `iters` [`check_in_place`]s on one shared limiter; returns the
    /// wall time from the common start (a barrier, after the threads are spawned) to the last join,
    /// and the number of attempts that were refused (across all threads).
    ///
    /// Since every thread runs the whole `iters`, `elapsed / iters` is the time per op per thread.
    pub fn hammer<L: RateContender>(limiter: &L, threads: usize, iters: u64) -> (Duration, u64) {
        let barrier = Barrier::new(threads + 1);
        thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let mut refused = 0;
                        for _ in 0..iters {
                            refused += u64::from(!check_in_place(limiter));
                        }
                        refused
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let refused = workers.into_iter().map(|worker| worker.join().expect("bench thread panicked")).sum();
            (start.elapsed(), refused)
        })
    }
}
