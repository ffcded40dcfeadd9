//! Rate limiters under one trait, [`RateContender`]: one permit per attempt, never waiting
//! (`vs_governor`, `instructions`).
//!
//! The contenders:
//! * tollgate's `TokenBucketRateLimiter`, on [`TscClock`] (its default) and on [`CoarseClock`];
//!   its `FixedWindowRateLimiter` and `SlidingWindowRateLimiter` (10 segments) on the same quota;
//!   its `NoopLimiter` (admits everything: the floor of a lease); and [`BucketConcurrencyChain`],
//!   a `ChainedRateLimiter` of a token bucket and a concurrency limiter (a token *and* an
//!   in-flight slot per request);
//! * governor's direct (un-keyed, in-memory) `RateLimiter`, on its default `QuantaClock` and on
//!   its `QuantaUpkeepClock`;
//! * [`MutexTokenBucket`]: the naive token bucket — a std `Mutex` around tokens and the last
//!   refill instant, refilled from `Instant::now()` on every call.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use governor::clock::{QuantaClock, QuantaUpkeepClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use tollgate::{
    ChainedRateLimiter, Clock, CoarseClock, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter,
    FixedWindowRateLimiterOptions, NoopLimiter, RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions,
    TokenBucketRateLimiter, TokenBucketRateLimiterOptions, TscClock,
};

use super::harness;

/// Refresh interval of the coarse (upkeep-thread) clocks.
pub const COARSE_INTERVAL: Duration = Duration::from_millis(1);

/// Concurrency permits of [`BucketConcurrencyChain`]: more than the bench threads ever hold.
const CHAIN_PERMITS: u32 = 1024;

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
pub const ALLOW_TICK_1S: Quota = Quota { burst: u32::MAX, per_period: 1_000_000_000, period: Duration::from_secs(1) };

/// One permit, one more an hour: exhausted for the whole run once its permit is taken.
pub const DENY: Quota = Quota { burst: 1, per_period: 1, period: Duration::from_secs(3600) };

/// A rate limiter under test: one permit per attempt, never waiting.
pub trait RateContender: Send + Sync + Sized + 'static {
    /// The name criterion reports (`tollgate_*` for tollgate's limiters).
    const NAME: &'static str;

    /// A limiter enforcing `quota`, full.
    fn with_quota(quota: Quota) -> Self;
    /// Attempts to take one permit and drops whatever the attempt returned right there;
    /// returns whether a permit was taken.
    fn check_in_place(&self) -> bool;
    /// Attempts to take one permit; on refusal, returns the wait until a retry could succeed
    /// (`Some(ZERO)` when taken, so every contender returns the same type).
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

/// tollgate's side of [`RateContender::check_in_place`], the same for every tollgate limiter:
/// `attempt_acquire(1)`, the lease dropped where it was returned.
#[inline]
fn tollgate_check(limiter: &impl RateLimiter) -> bool {
    matches!(limiter.attempt_acquire(1), Ok(lease) if lease.is_acquired())
}

/// tollgate's side of [`RateContender::check_retry_after`]: the lease's `RETRY_AFTER` on refusal.
#[inline]
fn tollgate_retry_after(limiter: &impl RateLimiter) -> Option<Duration> {
    match limiter.attempt_acquire(1) {
        Ok(lease) if lease.is_acquired() => Some(Duration::ZERO),
        Ok(lease) => lease.retry_after(),
        Err(_) => None,
    }
}

impl<C: Clock + BenchClock> RateContender for TokenBucketRateLimiter<C> {
    const NAME: &'static str = "tollgate_token_bucket";

    fn with_quota(quota: Quota) -> Self {
        TokenBucketRateLimiter::with_clock(quota.tollgate(), C::bench_clock()).expect("valid options")
    }

    #[inline]
    fn check_in_place(&self) -> bool {
        tollgate_check(self)
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        tollgate_retry_after(self)
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
        tollgate_check(self)
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        tollgate_retry_after(self)
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
        tollgate_check(self)
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        tollgate_retry_after(self)
    }
}

/// The no-op limiter ignores the quota and admits every attempt (it has no deny workload): what a
/// granted lease and the success counter cost with no limit at all.
impl RateContender for NoopLimiter {
    const NAME: &'static str = "tollgate_noop";

    fn with_quota(_quota: Quota) -> Self {
        NoopLimiter::new()
    }

    #[inline]
    fn check_in_place(&self) -> bool {
        tollgate_check(self)
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        tollgate_retry_after(self)
    }
}

/// A `ChainedRateLimiter` of a token bucket on the quota (default clock) and a concurrency limiter
/// with [`CHAIN_PERMITS`] permits: each admitted attempt takes a token and an in-flight slot, and
/// the lease drop returns the slot. A refusal comes from the bucket (the first limiter), so the
/// concurrency limiter is not asked.
pub struct BucketConcurrencyChain(ChainedRateLimiter);

impl RateContender for BucketConcurrencyChain {
    const NAME: &'static str = "tollgate_chain_bucket_concurrency";

    fn with_quota(quota: Quota) -> Self {
        let bucket = TokenBucketRateLimiter::new(quota.tollgate()).expect("valid options");
        let in_flight =
            ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: CHAIN_PERMITS, ..Default::default() })
                .expect("valid options");
        Self(ChainedRateLimiter::new(vec![Arc::new(bucket), Arc::new(in_flight)]).expect("a non-empty chain"))
    }

    #[inline]
    fn check_in_place(&self) -> bool {
        tollgate_check(&self.0)
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        tollgate_retry_after(&self.0)
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

/// The naive token bucket: a std `Mutex` around the token count and the instant of the last
/// refill; every call locks, reads `Instant::now()`, adds the tokens of the whole periods elapsed
/// (capped at the burst), and takes one if there is one. Tick semantics as tollgate's (whole
/// periods of `per_period` tokens), so the same quota means the same limit.
pub struct MutexTokenBucket {
    quota: Quota,
    state: Mutex<BucketState>,
}

struct BucketState {
    tokens: u64,
    /// Start of the current (not yet elapsed) period.
    refilled_at: Instant,
}

impl MutexTokenBucket {
    /// Refills `state` up to `now`; returns the time until the next period ends.
    fn refill(&self, state: &mut BucketState, now: Instant) -> Duration {
        let period = self.quota.period.as_nanos();
        let elapsed = now.saturating_duration_since(state.refilled_at).as_nanos();
        let periods = elapsed / period;
        if periods > 0 {
            let added = periods.saturating_mul(u128::from(self.quota.per_period));
            let tokens = (u128::from(state.tokens) + added).min(u128::from(self.quota.burst));
            state.tokens = tokens as u64;
            state.refilled_at += Duration::from_nanos((periods * period) as u64);
        }
        Duration::from_nanos((period - elapsed % period) as u64)
    }

    /// One attempt; `Ok` if a token was taken, else the wait until the next refill.
    #[inline]
    fn take(&self) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let until_refill = self.refill(&mut state, Instant::now());
        if state.tokens > 0 {
            state.tokens -= 1;
            Ok(())
        } else {
            Err(until_refill)
        }
    }
}

impl RateContender for MutexTokenBucket {
    const NAME: &'static str = "mutex_token_bucket";

    fn with_quota(quota: Quota) -> Self {
        let state = BucketState { tokens: u64::from(quota.burst), refilled_at: Instant::now() };
        Self { quota, state: Mutex::new(state) }
    }

    #[inline]
    fn check_in_place(&self) -> bool {
        self.take().is_ok()
    }

    #[inline]
    fn check_retry_after(&self) -> Option<Duration> {
        Some(self.take().err().unwrap_or(Duration::ZERO))
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

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
/// wall time from the common start to the last join ([`harness::run_threads`]), and the number
/// of attempts that were refused (across all threads).
///
/// Since every thread runs the whole `iters`, `elapsed / iters` is the time per op per thread.
pub fn hammer<L: RateContender>(limiter: &L, threads: usize, iters: u64) -> (Duration, u64) {
    let run = harness::run_threads(threads, iters, |_| check_in_place(limiter));
    (run.elapsed, run.refused)
}
