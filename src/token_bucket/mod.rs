//! The token bucket: `token_limit` tokens, `tokens_per_period` more at every tick.
//!
//! # Implementation
//!
//! One cache-padded 128-bit word holds everything a decision needs (layout and arithmetic in
//! `state.rs`): whole tokens, the registered-waiter count and drainer flags (the concurrency
//! limiter's 64-bit layout), and the time of the next tick (auto mode) or the exact fractional token
//! (manual mode). A time does not fit beside 32-bit counts in 64 bits without wrapping after some
//! idle time, and .NET's semantics allow limits up to `u32::MAX` and any idle time, hence 128 bits:
//! one `cmpxchg16b`, and a plain 16-byte load for reads.
//!
//! **Auto mode** has no timer. `attempt_acquire` reads the clock, loads the word, brings it up to
//! date (`state::catch_up`: N elapsed ticks add exactly N·`tokens_per_period`, capped) and decides;
//! a grant is one CAS that stores the updated tokens and tick; a refusal writes nothing to the word
//! (it increments the failure counter on the same cache line).
//!
//! **Queued requests.** Requests that wait go to the shared lock-free waiter queue (`crate::wait`).
//! When a drain pass stops at a request that does not fit, it computes the tick at which it will
//! (`state::time_to_reach`) and tells that node; the node's owner (an async task through the
//! clock's sleep future, or a parked thread through `Clock::park_until`) sleeps until then and asks
//! for a drain, which applies the elapsed ticks **one grant point at a time**: a pass walks forward
//! from tick to tick, granting each request at the first tick where it fits, so the result is the
//! same as .NET's tick-by-tick processing even when the pass runs late (with several ticks
//! elapsed, the bucket's cap would otherwise swallow tokens that earlier ticks gave to waiters).
//! Any other caller that finds waiters registered and a tick elapsed runs (or requests) that pass
//! before deciding, so the queue is always served before a newcomer looks at the tokens.
//!
//! **Retry-after forecast.** For an oldest-first queue, every pass of the drainer also publishes
//! (through a sequence lock) the predicted state after the whole queue has been served, extending
//! it in O(1) per newly queued request and recomputing it only after a cancel; a refused request
//! reads it to compute an exact `retry_after` in O(1).
//!
//! **Manual mode** keeps .NET's `TryReplenish` rule: tokens proportional to the time since the last
//! replenishment that found the bucket not full, with the fraction kept exactly.
//!
//! **Memory ordering.** Token counts need only atomicity (the word's modification order makes every
//! grant see every earlier take), so plain grants use `Relaxed`; the drainer role and registrations
//! use acquire/release as in the concurrency limiter.

mod options;
pub(crate) mod state;
pub(crate) mod word;

pub(crate) use self::state::Params;

pub use options::TokenBucketRateLimiterOptions;

use std::fmt;
use std::task::Context;
use std::time::Duration;

use self::state::{Horizon, Now};
use crate::concurrency::state::{self as lo_state, Decision};
use crate::lease::Names;
use std::collections::VecDeque;

use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicU128, CachePadded, Ordering, UnsafeCell, fence};
use crate::wait::{
    self, Acquire, AcquireHost, Begin, GRANTED, Pass, QueueHost, Reserve, Timer, WAITING, WaitQueue, Waiter, Wake,
};
use crate::{
    AcquireError, Clock, DefaultClock, OptionsError, QueueProcessingOrder, RateLimitLease, RateLimiter,
    RateLimiterStatistics, ReplenishingRateLimiter,
};

/// A token bucket with .NET's semantics: `token_limit` tokens, `tokens_per_period` more every
/// `replenishment_period`, requests waiting in a queue of at most `queue_limit` permits.
///
/// In automatic mode (the default) no timer runs: tick *k* happens at construction +
/// *k*·`replenishment_period`, and every access brings the bucket up to date from the clock, so N
/// elapsed ticks add exactly N·`tokens_per_period` (capped). Queued requests are granted at the
/// tick where they fit without any other caller being needed. In manual mode
/// (`auto_replenishment: false`) only [`try_replenish`](ReplenishingRateLimiter::try_replenish) adds
/// tokens, proportionally to the time since the last replenishment, as in .NET.
///
/// Every failed lease of a failed attempt or a full queue carries
/// [`retry_after`](RateLimitLease::retry_after): in automatic mode the wait until the tick at which
/// the same request would succeed, with the permits already queued served first; in manual mode
/// the number of periods needed, rounded up, times the period.
///
/// **Exactness of `retry_after` in automatic mode.** Retrying at `now + retry_after` succeeds and
/// a nanosecond earlier fails (if no other request arrives): with nothing queued, and with
/// requests queued oldest-first, for which the drainer keeps an O(1)-readable forecast of when the
/// queue will have been served (each queued request granted at the first tick where it fits,
/// including the tokens the bucket's cap discards on the way). With requests queued newest-first
/// the hint is an estimate from the queued permit total. A refused zero-permit probe ignores the
/// queue, as the probe itself does, but not the tokens the queue's grants take: behind an
/// oldest-first queue its hint is the first tick after whose pass a token is left (exact, from the
/// same forecast); behind a newest-first queue, the first tick that adds a token. The clock's
/// range ends at `u64::MAX` nanoseconds (584 years); a tick due at or beyond that never comes.
///
/// Dropping a lease returns nothing (tokens are spent). Dropping the limiter disposes it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{ManualClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucketRateLimiter::with_clock(
///     TokenBucketRateLimiterOptions {
///         token_limit: 2,
///         tokens_per_period: 1,
///         replenishment_period: Duration::from_secs(1),
///         ..Default::default()
///     },
///     clock.clone(),
/// )?;
/// assert!(bucket.attempt_acquire(2)?.is_acquired());
/// let refused = bucket.attempt_acquire(1)?;
/// assert!(!refused.is_acquired());
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
/// clock.advance(Duration::from_secs(1));
/// assert!(bucket.attempt_acquire(1)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TokenBucketRateLimiter<C: Clock = DefaultClock> {
    shared: Shared<C>,
}

/// The word and the counters written next to it: one cache line.
struct Hot {
    word: AtomicU128,
    successes: AtomicU64,
    failures: AtomicU64,
}

/// Manual-mode bookkeeping (written only by `try_replenish`).
struct Manual {
    /// Clock reading of the last replenishment that found the bucket not full.
    last: AtomicU64,
    /// Clock reading when a replenishment last filled the bucket (or construction).
    idle_since: AtomicU64,
    /// A replenishment happened since the last drain pass began (zero-permit waiters fit).
    replenished: AtomicBool,
}

/// The published prediction of the queue's service (OldestFirst, auto mode): written by the
/// drainer only, read by refused requests through a sequence lock so `retry_after` stays O(1).
struct Forecast {
    /// Even: stable; odd: being written.
    seq: AtomicU64,
    /// `Horizon::tokens`, or `NO_FORECAST` when there is none (queue empty, or not computed).
    tokens: AtomicU64,
    next: AtomicU64,
    at: AtomicU64,
    /// `Horizon::zero_at`, or `NO_FORECAST`.
    zero_at: AtomicU64,
    /// Something other than the predicted grants changed the bucket or the queue (a cancel, a
    /// give-back): the next pass recomputes the forecast from scratch instead of extending it.
    stale: AtomicBool,
    /// The drainer's last forecast, for extending it with newly queued requests (drainer only).
    last: UnsafeCell<Option<Horizon>>,
}

// SAFETY: `last` is only accessed by the thread holding the limiter's drainer role (an exclusive
// role taken and given back with CAS on the word; see `wait/mod.rs`); every other field is atomic.
unsafe impl Sync for Forecast {}

const NO_FORECAST: u64 = u64::MAX;

/// The tick-based limiter engine shared by the token bucket and the fixed window.
pub(crate) struct Shared<C> {
    hot: CachePadded<Hot>,
    queue: WaitQueue,
    forecast: Forecast,
    params: Params,
    auto: bool,
    newest_first: bool,
    queue_limit: u32,
    manual_rule: ManualRule,
    manual: Manual,
    /// This limiter's identity in the leases it grants (`lease::limiter_id`), for refunds.
    id: u64,
    clock: C,
}

impl TokenBucketRateLimiter<DefaultClock> {
    /// Creates a token bucket on the default (TSC) clock, full.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`TokenBucketRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// // Bursts of up to 10 requests, 5 per second on average.
    /// let bucket = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
    ///     token_limit: 10,
    ///     tokens_per_period: 1,
    ///     replenishment_period: Duration::from_millis(200),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(bucket.statistics().unwrap().current_available_permits, 10); // starts full
    /// # Ok::<(), tollgate::OptionsError>(())
    /// ```
    pub fn new(options: TokenBucketRateLimiterOptions) -> Result<Self, OptionsError> {
        Self::with_clock(options, DefaultClock::new())
    }
}

impl<C: Clock> TokenBucketRateLimiter<C> {
    /// Creates a token bucket that reads time from `clock`, full. Ticks are counted from now.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`TokenBucketRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// clock.advance(Duration::from_millis(300));
    /// let options = TokenBucketRateLimiterOptions {
    ///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(1), ..Default::default()
    /// };
    /// let bucket = TokenBucketRateLimiter::with_clock(options, clock.clone())?;
    /// assert!(bucket.attempt_acquire(1)?.is_acquired());
    /// clock.advance(Duration::from_millis(999));
    /// assert_eq!(bucket.attempt_acquire(1)?.retry_after(), Some(Duration::from_millis(1)));
    /// clock.advance(Duration::from_millis(1)); // the first tick: 1 s after construction
    /// assert!(bucket.attempt_acquire(1)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(options: TokenBucketRateLimiterOptions, clock: C) -> Result<Self, OptionsError> {
        options.validate()?;
        let params = Params {
            limit: options.token_limit,
            per_period: options.tokens_per_period,
            period: options.period_nanos(),
        };
        let shape = Shape {
            params,
            auto: options.auto_replenishment,
            order: options.queue_processing_order,
            queue_limit: options.queue_limit,
            manual_rule: ManualRule::Proportional,
        };
        Ok(Self { shared: Shared::new(shape, clock) })
    }
}

/// How `try_replenish` behaves in manual mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ManualRule {
    /// Token bucket: tokens proportional to the time since the last non-full replenishment.
    Proportional,
    /// Fixed window: a full reset, at most once per window (measured from the last call that
    /// passed that check, which moves the window's start even when nothing was taken).
    ResetPerWindow,
}

/// What distinguishes one tick-based limiter from another.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) params: Params,
    pub(crate) auto: bool,
    pub(crate) order: QueueProcessingOrder,
    pub(crate) queue_limit: u32,
    pub(crate) manual_rule: ManualRule,
}

impl<C: Clock> Shared<C> {
    /// A full limiter whose ticks are counted from now.
    pub(crate) fn new(shape: Shape, clock: C) -> Self {
        crate::sync::prime();
        let now = clock.now_nanos();
        let hi = if shape.auto { now.saturating_add(shape.params.period) } else { 0 };
        let word = state::join(lo_state::pack(shape.params.limit, 0, 0), hi);
        Shared {
            hot: CachePadded::new(Hot {
                word: AtomicU128::new(word),
                successes: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
            queue: WaitQueue::new(shape.order, shape.queue_limit),
            forecast: Forecast {
                seq: AtomicU64::new(0),
                tokens: AtomicU64::new(NO_FORECAST),
                next: AtomicU64::new(0),
                at: AtomicU64::new(0),
                zero_at: AtomicU64::new(NO_FORECAST),
                stale: AtomicBool::new(false),
                last: UnsafeCell::new(None),
            },
            params: shape.params,
            auto: shape.auto,
            newest_first: shape.order == QueueProcessingOrder::NewestFirst,
            queue_limit: shape.queue_limit,
            manual_rule: shape.manual_rule,
            manual: Manual {
                last: AtomicU64::new(now),
                idle_since: AtomicU64::new(now),
                replenished: AtomicBool::new(false),
            },
            id: crate::lease::limiter_id(),
            clock,
        }
    }
}

/// Low-half bits that send a request off the fast path: registered waiters and disposal.
const FAST_PATH_BLOCKERS: u64 = lo_state::WAITERS_MASK | lo_state::CLOSED;

/// A decision on the 128-bit word.
enum Verdict {
    /// Granted; store this word (equal to the loaded one when nothing changes).
    Take(u128),
    /// Not available now.
    Refuse,
    /// Disposed.
    Closed,
}

/// Retry-after as a `Duration` from a nanosecond count that may exceed `u64`.
fn nanos(n: u128) -> Duration {
    Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
}

impl<C: Clock> Shared<C> {
    #[inline]
    fn load(&self) -> u128 {
        word::load(&self.hot.word)
    }

    #[inline]
    fn cas(&self, current: u128, new: u128, success: Ordering) -> Result<u128, u128> {
        word::cas(&self.hot.word, current, new, success)
    }

    /// CAS loop over the low half's queue bookkeeping (the high half is kept).
    fn update_lo(&self, success: Ordering, f: impl FnMut(u64) -> u64) -> u64 {
        word::update_lo(&self.hot.word, success, f)
    }

    #[inline]
    fn count_success_(&self) {
        // ORDERING: Relaxed: a statistic; exact because it is an RMW.
        self.hot.successes.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    fn count_failure_(&self) {
        // ORDERING: Relaxed: a statistic; exact because it is an RMW.
        self.hot.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A granted lease; `stamp` is the word's high half after the grant (auto: the end of the
    /// tick period the grant belongs to; manual fixed window: the window's reset count).
    #[inline]
    fn success_lease(&self, stamp: u64, permits: u32) -> RateLimitLease {
        RateLimitLease::granted(Names::RetryAfter, self.id, stamp, permits)
    }

    #[inline]
    fn failed_lease() -> RateLimitLease {
        RateLimitLease::new(false, Names::RetryAfter)
    }

    #[inline]
    fn exceeded(&self, permits: u32) -> AcquireError {
        AcquireError::PermitLimitExceeded { requested: permits, limit: self.params.limit }
    }

    /// Manual token bucket: whether the high half (the fractional token) is non-zero. (A manual
    /// fixed window keeps its reset count there instead.)
    #[inline]
    fn has_fraction(&self, hi: u64) -> bool {
        !self.auto && self.manual_rule == ManualRule::Proportional && hi > 0
    }

    /// The clock reading used by auto mode (manual mode never needs one on the fast path).
    #[inline]
    fn now(&self) -> u64 {
        if self.auto { self.clock.now_nanos() } else { 0 }
    }

    /// The state as of `now`: tokens (with the fraction's "something available" bit for manual
    /// mode) and the word to store if tokens are taken.
    #[inline]
    fn view(&self, lo: u64, hi: u64, now: u64) -> Now {
        if self.auto {
            state::catch_up(state::tokens(lo), hi, now, self.params)
        } else {
            Now { tokens: state::tokens(lo), next: hi, stored_next: hi }
        }
    }

    /// Whether ticks have elapsed that the queue has not been processed for: waiters are registered
    /// and the word's next tick is due. The caller must let a drain pass run before deciding.
    #[inline]
    fn queue_behind(&self, lo: u64, hi: u64, now: u64) -> bool {
        self.auto && lo_state::waiters(lo) > 0 && hi <= now && !state::is_closed(lo)
    }

    /// Runs (or requests) a drain pass so the queue is served for the elapsed ticks.
    #[cold]
    #[inline(never)]
    fn catch_up_queue(&self) {
        self.run_drain_if(self.request_drain());
    }

    /// A non-waiting acquisition.
    ///
    /// With nothing queued the whole decision is here: the clock read, the load and one CAS (a
    /// refusal computes its retry hint instead of the CAS). The permit-limit check needs no
    /// instruction on a grant (`tokens >= permits` implies `permits <= limit`, tokens never
    /// exceeding it), only before a refusal. Queued requests, zero permits, manual mode without
    /// a fraction and lost CASes go to [`attempt_slow`](Self::attempt_slow).
    #[inline]
    pub(crate) fn attempt(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        let now = self.now();
        let mode = word::mode();
        let word = word::load_in(&self.hot.word, mode);
        let (lo, hi) = state::split(word);
        // Fast paths: nothing queued, open, one or more permits.
        if lo & FAST_PATH_BLOCKERS == 0 && permits > 0 {
            if now < hi {
                // No tick due (auto mode; in manual mode `now` is 0 and `hi` the fraction, so this
                // needs a fraction): the word is current.
                let tokens = state::tokens(lo);
                if tokens >= permits {
                    // Take them and keep `next`.
                    // ORDERING: Relaxed: token accounting needs only atomicity (module docs).
                    if word::cas_in(&self.hot.word, mode, word, word - u128::from(permits), Ordering::Relaxed).is_ok() {
                        self.count_success_();
                        return Ok(self.success_lease(hi, permits));
                    }
                } else if self.auto && permits <= self.params.limit {
                    // Refused with nothing queued: it fits at the first tick that brings enough.
                    return Ok(self.refuse_unqueued(tokens, hi, permits, now));
                }
            } else if self.auto {
                // Ticks elapsed and nobody waits for them: apply them at once (exact: no grant
                // could have happened in between), then decide.
                let view = state::catch_up(state::tokens(lo), hi, now, self.params);
                if view.tokens >= permits {
                    let next = state::join(state::with_tokens(lo, view.tokens - permits), view.next);
                    // ORDERING: Relaxed: token accounting needs only atomicity (module docs).
                    if word::cas_in(&self.hot.word, mode, word, next, Ordering::Relaxed).is_ok() {
                        self.count_success_();
                        return Ok(self.success_lease(view.next, permits));
                    }
                } else if permits <= self.params.limit {
                    return Ok(self.refuse_unqueued(view.tokens, view.next, permits, now));
                }
            }
        }
        if permits > self.params.limit {
            return Err(self.exceeded(permits));
        }
        self.attempt_slow(permits, now)
    }

    /// A refusal with nothing queued: it fits at the first tick that brings enough.
    #[inline]
    fn refuse_unqueued(&self, tokens: u32, next: u64, permits: u32, now: u64) -> RateLimitLease {
        self.count_failure_();
        let at = state::time_to_reach(tokens, next, u64::from(permits), self.params);
        RateLimitLease::failed_retry_after_nanos(at - now)
    }

    #[inline(never)]
    fn attempt_slow(&self, permits: u32, now: u64) -> Result<RateLimitLease, AcquireError> {
        let mut helped = false;
        let mut word = self.load();
        let stamp = loop {
            let (lo, hi) = state::split(word);
            if !helped && self.queue_behind(lo, hi, now) {
                self.catch_up_queue();
                helped = true;
                word = self.load();
                continue;
            }
            let view = self.view(lo, hi, now);
            // Still behind after helping: the drainer role is busy and the queue not yet served
            // for the elapsed ticks. Taking now could use tokens those ticks owe the queue, so a
            // request for permits is refused (conservative: never over-admits).
            let behind = permits > 0 && self.queue_behind(lo, hi, now);
            let verdict = if behind { Verdict::Refuse } else { self.decide(lo, hi, view, permits) };
            match verdict {
                Verdict::Take(next) => {
                    if next == word {
                        break hi; // zero permits: nothing to write
                    }
                    // ORDERING: Relaxed: token accounting needs only atomicity (module docs).
                    match self.cas(word, next, Ordering::Relaxed) {
                        Ok(_) => break state::split(next).1,
                        Err(actual) => word = actual,
                    }
                }
                Verdict::Refuse => return Ok(self.refuse(view, permits, now)),
                Verdict::Closed => return Err(AcquireError::Disposed),
            }
        };
        self.count_success_();
        Ok(self.success_lease(stamp, permits))
    }

    /// .NET rules R1/R2 on the up-to-date state; `Take` carries the whole word to store (equal to
    /// the loaded word when nothing changes).
    #[inline]
    fn decide(&self, lo: u64, hi: u64, view: Now, permits: u32) -> Verdict {
        if permits == 0 && self.has_fraction(hi) && !state::is_closed(lo) {
            // Manual mode: a fraction of a token counts as "available" for a zero-permit probe.
            return Verdict::Take(state::join(lo, hi));
        }
        match lo_state::decide(state::with_tokens(lo, view.tokens), permits, self.newest_first) {
            Decision::Take(_) if permits == 0 => Verdict::Take(state::join(lo, hi)),
            Decision::Take(next_lo) => {
                // Store the tokens and tick as of now (this also moves a full bucket's `next`,
                // which records when it filled, back onto the grid after now).
                let next_hi = if self.auto { view.next } else { hi };
                Verdict::Take(state::join(next_lo, next_hi))
            }
            Decision::Refuse => Verdict::Refuse,
            Decision::Closed => Verdict::Closed,
        }
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self, view: Now, permits: u32, now: u64) -> RateLimitLease {
        self.count_failure_();
        Self::failed_lease().with_retry_after(self.retry_after(view, permits, now))
    }

    /// API rule 4: the wait until the same request would succeed, the queued permits served first.
    fn retry_after(&self, view: Now, permits: u32, now: u64) -> Duration {
        let queued = self.queue.queued_permits();
        if self.auto
            && queued > 0
            && !self.newest_first
            && let Some(h) = self.read_forecast()
        {
            // A zero-permit probe ignores the queue (.NET R1) but not the tokens its grants take.
            let at = if permits == 0 {
                state::zero_after_horizon(h, self.params)
            } else {
                state::after_horizon(h, permits, self.params)
            };
            return Duration::from_nanos(at.saturating_sub(now));
        }
        // Without a forecast (newest-first, or none published): a zero-permit probe counts no queue.
        let queued = if permits == 0 { 0 } else { queued };
        if self.auto {
            let need = queued + u64::from(permits.max(1));
            let at = state::time_to_reach(view.tokens, view.next, need, self.params);
            Duration::from_nanos(at.saturating_sub(now))
        } else {
            let deficit = (queued + u64::from(permits)).saturating_sub(u64::from(view.tokens));
            let periods = state::manual_retry_periods(deficit, self.params.per_period);
            nanos(u128::from(periods) * u128::from(self.params.period))
        }
    }

    /// The drainer's forecast of the queue's service, if a consistent one is published.
    fn read_forecast(&self) -> Option<Horizon> {
        let f = &self.forecast;
        for _ in 0..4 {
            // ORDERING: Acquire pairs with the writer's final Release increment, so the fields
            // read below are at least as new as that publication.
            let before = f.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                continue;
            }
            // ORDERING: Relaxed loads bracketed by the sequence checks (the classic seqlock).
            let tokens = f.tokens.load(Ordering::Relaxed);
            let next = f.next.load(Ordering::Relaxed);
            let at = f.at.load(Ordering::Relaxed);
            let zero_at = f.zero_at.load(Ordering::Relaxed);
            // ORDERING: the Acquire fence orders the field loads before the re-check of `seq`.
            fence(Ordering::Acquire);
            if f.seq.load(Ordering::Relaxed) == before {
                if tokens == NO_FORECAST {
                    return None;
                }
                let zero_at = (zero_at != NO_FORECAST).then_some(zero_at);
                return Some(Horizon { tokens: tokens as u32, next, at, at_tick: true, zero_at });
            }
        }
        None
    }

    /// Drainer only: publishes a forecast (or its absence).
    fn publish_forecast(&self, h: Option<Horizon>) {
        let f = &self.forecast;
        // ORDERING: Relaxed increment to odd, then a Release fence so the field stores below are
        // not seen before it; the final Release increment publishes them (single writer: the
        // drainer role holder).
        f.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        let (tokens, next, at) = h.map_or((NO_FORECAST, 0, 0), |h| (u64::from(h.tokens), h.next, h.at));
        let zero_at = h.and_then(|h| h.zero_at).unwrap_or(NO_FORECAST);
        // ORDERING: Relaxed: published by the sequence number.
        f.tokens.store(tokens, Ordering::Relaxed);
        f.next.store(next, Ordering::Relaxed);
        f.at.store(at, Ordering::Relaxed);
        f.zero_at.store(zero_at, Ordering::Relaxed);
        // ORDERING: Release publishes the fields to readers that Acquire-load the even number.
        f.seq.fetch_add(1, Ordering::Release);
        f.last.with_mut(|last| {
            // SAFETY: only the drainer-role holder calls this (see `after_pass`).
            unsafe { *last = h };
        });
    }

    /// Asks for ordered work; true if this thread took the drainer role and must run `drain`.
    fn request_drain(&self) -> bool {
        word::request_drain(&self.hot.word, false)
    }

    fn drain(&self) {
        word::drain(&self.hot.word, &self.queue, self, self.params.limit);
    }

    fn run_drain_if(&self, took_role: bool) {
        if took_role {
            self.drain();
        }
    }

    pub(crate) fn dispose(&self) {
        self.run_drain_if(word::request_drain(&self.hot.word, true));
    }

    /// Brings the queue up to date (if ticks elapsed with waiters) and returns the state at `now`.
    fn current(&self, now: u64) -> (u64, Now) {
        let (lo, hi) = state::split(self.load());
        if self.queue_behind(lo, hi, now) {
            self.catch_up_queue();
            let (lo, hi) = state::split(self.load());
            return (lo, self.view(lo, hi, now));
        }
        (lo, self.view(lo, hi, now))
    }

    pub(crate) fn statistics(&self) -> RateLimiterStatistics {
        let (_, view) = self.current(self.now());
        RateLimiterStatistics {
            current_available_permits: u64::from(view.tokens),
            current_queued_count: self.queue.queued_permits(),
            // ORDERING: Relaxed: statistics.
            total_failed_leases: self.hot.failures.load(Ordering::Relaxed),
            // ORDERING: Relaxed: statistics.
            total_successful_leases: self.hot.successes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn idle_duration(&self) -> Option<Duration> {
        let now = self.clock.now_nanos();
        let (lo, view) = self.current(if self.auto { now } else { 0 });
        if view.tokens < self.params.limit || lo_state::waiters(lo) > 0 {
            return None;
        }
        let since = if self.auto {
            view.stored_next.saturating_sub(self.params.period)
        } else {
            // ORDERING: Relaxed: written by `try_replenish` before the pass that could make the
            // bucket observed full; an approximate stamp is all idle time needs.
            self.manual.idle_since.load(Ordering::Relaxed)
        };
        Some(Duration::from_nanos(now.saturating_sub(since)))
    }

    pub(crate) fn try_replenish(&self) -> bool {
        if self.auto {
            return false;
        }
        if self.manual_rule == ManualRule::ResetPerWindow {
            return self.reset_window();
        }
        let now = self.clock.now_nanos();
        let (lo, _) = state::split(self.load());
        if state::is_closed(lo) || state::tokens(lo) >= self.params.limit {
            // .NET: true, and nothing happens (the full bucket keeps its last replenishment time).
            return true;
        }
        // Claim the interval since the last replenishment.
        // ORDERING: Relaxed: the claim only needs atomicity; the tokens are published by the CAS below.
        let last = self.manual.last.fetch_max(now, Ordering::Relaxed);
        let elapsed = now.saturating_sub(last);
        let mut word = self.load();
        let filled;
        loop {
            let (lo, frac) = state::split(word);
            let (tokens, frac) = state::replenish_manual(state::tokens(lo), frac, elapsed, self.params);
            let next = state::join(state::with_tokens(lo, tokens), frac);
            // ORDERING: Relaxed: token accounting (module docs).
            match self.cas(word, next, Ordering::Relaxed) {
                Ok(_) => {
                    filled = tokens == self.params.limit;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
        if filled {
            // ORDERING: Relaxed: see `idle_duration`.
            self.manual.idle_since.store(now, Ordering::Relaxed);
        }
        // ORDERING: Relaxed: read by the pass this thread requests (ordered by the word's RMWs).
        self.manual.replenished.store(true, Ordering::Relaxed);
        self.run_drain_if(self.request_drain());
        true
    }

    /// Fixed window, manual mode (.NET's `Replenish`): nothing if less than a window has passed
    /// since the last call that passed this check; otherwise that call's time becomes the window
    /// start (even if the window is full) and the window resets to `permit_limit`.
    fn reset_window(&self) -> bool {
        let now = self.clock.now_nanos();
        let (lo, _) = state::split(self.load());
        if state::is_closed(lo) {
            return true;
        }
        // ORDERING: Relaxed: the claim of this window start only needs atomicity.
        let last = self.manual.last.load(Ordering::Relaxed);
        if now.saturating_sub(last) < self.params.period
            || self.manual.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            // Too early, or a concurrent call claimed this window start.
            return true;
        }
        let mut word = self.load();
        loop {
            let (lo, hi) = state::split(word);
            if state::tokens(lo) >= self.params.limit {
                return true;
            }
            // A new window: bump the reset count in the high half, so refunds of grants made in
            // the old window are recognised as expired.
            let next = state::join(state::with_tokens(lo, self.params.limit), hi.wrapping_add(1).max(1));
            // ORDERING: Relaxed: token accounting (module docs).
            match self.cas(word, next, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => word = actual,
            }
        }
        // ORDERING: Relaxed: see `idle_duration`.
        self.manual.idle_since.store(now, Ordering::Relaxed);
        // ORDERING: Relaxed: read by the pass this thread requests (ordered by the word's RMWs).
        self.manual.replenished.store(true, Ordering::Relaxed);
        self.run_drain_if(self.request_drain());
        true
    }

    /// `RateLimiter::refund`: the success is uncounted and the tokens go back (capped at the
    /// limit, which gives exactly the state as if they had never been taken: capping commutes with
    /// adding ticks). A fixed window takes them back only while the grant's window is current.
    /// Queued requests are then served from them.
    pub(crate) fn refund(&self, lease: RateLimitLease) {
        let Some((stamp, permits)) = lease.grant_of(self.id) else { return };
        // ORDERING: Relaxed: a statistic; this lease's success was counted before it was returned.
        self.hot.successes.fetch_sub(1, Ordering::Relaxed);
        if permits == 0 {
            return;
        }
        let window = self.manual_rule == ManualRule::ResetPerWindow;
        let now = self.now();
        let mut word = self.load();
        let waiters = loop {
            let (lo, hi) = state::split(word);
            // A window's grant is refundable only while its window is the current one: the word
            // still ends that window (auto: and the clock has not reached its end; manual: no reset
            // since).
            if window && (hi != stamp || (self.auto && now >= hi)) {
                return;
            }
            let tokens = (u64::from(state::tokens(lo)) + u64::from(permits)).min(u64::from(self.params.limit)) as u32;
            // ORDERING: Relaxed: token accounting (module docs).
            match self.cas(word, state::join(state::with_tokens(lo, tokens), hi), Ordering::Relaxed) {
                Ok(_) => break lo_state::waiters(lo),
                Err(actual) => word = actual,
            }
        };
        if waiters > 0 {
            // ORDERING: Relaxed: the drain request's AcqRel CAS orders it before the pass.
            self.forecast.stale.store(true, Ordering::Relaxed);
            self.run_drain_if(self.request_drain());
        }
    }

    /// `RateLimiter::dispose_if_idle`: one CAS from the idle word (full as of now, nothing queued,
    /// no drainer) to the same word closed, so no request can be granted by an evicted limiter.
    pub(crate) fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        let now = self.clock.now_nanos();
        let word = self.load();
        let (lo, hi) = state::split(word);
        if state::is_closed(lo) {
            return true;
        }
        if lo & !lo_state::AVAILABLE_MASK != 0 {
            return false; // queued requests or a drain pass in progress
        }
        let view = self.view(lo, hi, if self.auto { now } else { 0 });
        if view.tokens < self.params.limit {
            return false;
        }
        let since = if self.auto {
            view.stored_next.saturating_sub(self.params.period)
        } else {
            // ORDERING: Relaxed: see `idle_duration`.
            self.manual.idle_since.load(Ordering::Relaxed)
        };
        if u128::from(now.saturating_sub(since)) < min_idle.as_nanos() {
            return false;
        }
        // ORDERING: AcqRel: stronger than needed (nothing is queued to order), as for disposal.
        self.cas(word, state::join(lo | lo_state::CLOSED, hi), Ordering::AcqRel).is_ok()
    }

    fn queue_full(&self, view: Now, permits: u32, now: u64) -> Begin {
        self.count_failure_();
        Begin::Done(Ok(Self::failed_lease().with_retry_after(self.retry_after(view, permits, now))))
    }
}

impl<C: Clock> QueueHost for Shared<C> {
    fn try_take_for_waiter(&self, permits: u32, pass: &mut Pass) -> bool {
        let now = self.now();
        let mut word = self.load();
        loop {
            let (lo, hi) = state::split(word);
            let tokens = state::tokens(lo);
            let fits =
                if permits == 0 { pass.replenished || tokens > 0 || self.has_fraction(hi) } else { tokens >= permits };
            let next = if fits {
                let next_lo = lo_state::unregister(lo, 1) - u64::from(permits);
                // Granted at the word's own point in time; later ticks stay lazily pending. A full
                // bucket's `next` records when it filled, so taking from it puts `next` back on the
                // grid after the grant's instant: the tick this pass walked to, or now.
                let full = tokens >= self.params.limit;
                let next_hi = if self.auto && permits > 0 && full {
                    state::catch_up(tokens, hi, pass.at.unwrap_or(now), self.params).next
                } else {
                    hi
                };
                state::join(next_lo, next_hi)
            } else if self.auto {
                // Walk to the first tick where it fits, if that tick has passed: the grant happens
                // at that tick, as .NET's timer would have made it.
                let at = state::time_to_reach(tokens, hi, u64::from(permits.max(1)), self.params);
                if at > now {
                    return false;
                }
                let at_tick = state::catch_up(tokens, hi, at, self.params);
                pass.replenished = true;
                pass.at = Some(at);
                let next = state::join(state::with_tokens(lo, at_tick.tokens), at_tick.stored_next);
                // ORDERING: Relaxed: token accounting (module docs); the drainer role is ordered
                // by the role CASes.
                match self.cas(word, next, Ordering::Relaxed) {
                    Ok(_) => word = next,
                    Err(actual) => word = actual,
                }
                continue;
            } else {
                return false;
            };
            // ORDERING: Release orders this grant before the node's GRANTED store that the waiter
            // reads (the node CAS is AcqRel too; this keeps the chain explicit).
            match self.cas(word, next, Ordering::Release) {
                Ok(_) => {
                    pass.stamp = state::split(next).1;
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
    }

    fn blocked(&self, node: &Waiter) {
        if !self.auto {
            return;
        }
        // The clock may have moved since `try_take_for_waiter` refused: read it once here.
        let now = self.now();
        let need = node.permits().max(1);
        let mut word = self.load();
        let view = loop {
            let (lo, hi) = state::split(word);
            let view = self.view(lo, hi, now);
            if view.tokens >= need {
                // It fits at this later reading: process again, walking tick by tick (merging the
                // elapsed ticks here could lose tokens to the cap that earlier grants would have
                // used). This thread holds the drainer role, so the request only sets DRAIN_AGAIN
                // and the drain loop runs another pass.
                let took = self.request_drain();
                debug_assert!(!took, "blocked() runs under the drainer role");
                return;
            }
            if hi > now {
                break view;
            }
            // Still does not fit: no grant can happen before `now`, and the tokens stay below the
            // request (so below the cap), so applying the elapsed ticks at once is exact. Storing
            // them keeps callers from seeing "ticks elapsed with waiters" forever.
            let next = state::join(state::with_tokens(lo, view.tokens), view.next);
            // ORDERING: Relaxed: token accounting (module docs).
            match self.cas(word, next, Ordering::Relaxed) {
                Ok(_) => break view,
                Err(actual) => word = actual,
            }
        };
        let at = state::time_to_reach(view.tokens, view.next, u64::from(need), self.params);
        if node.set_wake_at(at) {
            node.wake();
        }
    }

    fn after_pass(&self, deque: &VecDeque<Arc<Waiter>>, appended: usize) {
        if !self.auto || self.newest_first {
            return;
        }
        let live = deque.iter().filter(|n| n.state() == WAITING).count();
        if live == 0 {
            self.publish_forecast(None);
            return;
        }
        // ORDERING: Relaxed: a hint; the cancel that set it also requested this pass (AcqRel).
        let stale = self.forecast.stale.swap(false, Ordering::Relaxed);
        // SAFETY: `after_pass` runs under the drainer role, the only accessor of `last`.
        let last = self.forecast.last.with_mut(|last| unsafe { *last });
        // The zero-permit point is an intermediate event: once the clock has reached it, the
        // forecast must be rebuilt from now to find the next one.
        let now = self.now();
        let stale = stale || last.is_some_and(|h| h.zero_at.is_some_and(|z| z <= now));
        let mut h = match last {
            // Extend: the earlier requests are still predicted exactly (no cancel, and none of the
            // new ones was granted, which would have consumed tokens outside the forecast).
            Some(mut h) if !stale && live > appended && appended > 0 => {
                let skip = live - appended;
                for need in deque.iter().filter(|n| n.state() == WAITING).skip(skip).map(|n| n.permits()) {
                    h = state::serve(h, need, self.params);
                }
                self.publish_forecast(Some(h));
                return;
            }
            // Only predicted grants (or nothing) happened: the forecast stands.
            Some(_) if !stale && appended == 0 => return,
            _ => {
                let (lo, hi) = state::split(self.load());
                let v = self.view(lo, hi, now);
                Horizon { tokens: v.tokens, next: v.next, at: now, at_tick: false, zero_at: None }
            }
        };
        for need in deque.iter().filter(|n| n.state() == WAITING).map(|n| n.permits()) {
            h = state::serve(h, need, self.params);
        }
        self.publish_forecast(Some(h));
    }

    fn has_available(&self) -> bool {
        // ORDERING: Relaxed: see `try_replenish`.
        let replenished = !self.auto && self.manual.replenished.swap(false, Ordering::Relaxed);
        let (lo, hi) = state::split(self.load());
        replenished || state::tokens(lo) > 0 || self.has_fraction(hi)
    }

    fn give_back(&self, permits: u32) {
        // ORDERING: Relaxed: read by this same drainer's `after_pass`.
        self.forecast.stale.store(true, Ordering::Relaxed);
        let mut word = self.load();
        loop {
            let (lo, hi) = state::split(word);
            let tokens = (state::tokens(lo) as u64 + u64::from(permits)).min(u64::from(self.params.limit)) as u32;
            // ORDERING: Relaxed: token accounting (module docs).
            match self.cas(word, state::join(state::with_tokens(lo, tokens), hi), Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    fn unregister(&self, count: u32) {
        // ORDERING: Relaxed: only the count changes; it is read by CASes that re-validate.
        self.update_lo(Ordering::Relaxed, |lo| lo_state::unregister(lo, u64::from(count)));
    }

    fn is_closed(&self) -> bool {
        state::is_closed(state::split(self.load()).0)
    }

    fn count_success(&self) {
        self.count_success_();
    }

    fn count_failure(&self) {
        self.count_failure_();
    }
}

impl<C: Clock> AcquireHost for Shared<C> {
    fn begin(&self, permits: u32, wake: Wake) -> Begin {
        if permits > self.params.limit {
            return Begin::Done(Err(self.exceeded(permits)));
        }
        let now = self.now();
        let mut helped = false;
        let mut word = self.load();
        loop {
            let (lo, hi) = state::split(word);
            if !helped && self.queue_behind(lo, hi, now) {
                self.catch_up_queue();
                helped = true;
                word = self.load();
                continue;
            }
            let view = self.view(lo, hi, now);
            // Still behind after helping (drainer busy): queue behind the waiters, and do not
            // merge the elapsed ticks into the word (the drainer walks them tick by tick).
            let behind = permits > 0 && self.queue_behind(lo, hi, now);
            let verdict = if behind { Verdict::Refuse } else { self.decide(lo, hi, view, permits) };
            let next = match verdict {
                Verdict::Closed => return Begin::Done(Err(AcquireError::Disposed)),
                Verdict::Take(next) if next == word => {
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(hi, permits)));
                }
                Verdict::Take(next) => next,
                Verdict::Refuse => {
                    if permits > self.queue_limit {
                        // Could never fit the queue: fail at once, evicting nothing (.NET R2.4).
                        return self.queue_full(view, permits, now);
                    }
                    let (tokens, next_hi) =
                        if self.auto && !behind { (view.tokens, view.next) } else { (state::tokens(lo), hi) };
                    match lo_state::register(state::with_tokens(lo, tokens)) {
                        Some(next_lo) => state::join(next_lo, next_hi),
                        None => return self.queue_full(view, permits, now),
                    }
                }
            };
            // ORDERING: AcqRel: for a registration, Release/Acquire keep the release-vs-enqueue
            // argument of `wait/mod.rs` simple; for a take it is stronger than needed.
            match self.cas(word, next, Ordering::AcqRel) {
                Ok(_) if lo_state::waiters(state::split(next).0) == lo_state::waiters(lo) => {
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(state::split(next).1, permits)));
                }
                Ok(_) => {
                    word = next;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
        // Registered as a waiter: reserve queue space, then publish the node.
        if self.queue.reserve(permits) == Reserve::Full {
            self.unregister(1);
            let (lo, hi) = state::split(word);
            return self.queue_full(self.view(lo, hi, now), permits, now);
        }
        let node = Arc::new(Waiter::new(permits, wake));
        self.queue.push(Arc::clone(&node));
        self.run_drain_if(self.request_drain());
        Begin::Queued(node)
    }

    fn finish(&self, node: &Waiter, state: u8) -> Result<RateLimitLease, AcquireError> {
        Ok(if state == GRANTED { self.success_lease(node.stamp(), node.permits()) } else { Self::failed_lease() })
    }

    fn refund(&self, lease: RateLimitLease) {
        self.refund(lease);
    }

    fn cancel(&self, node: &Waiter) -> bool {
        if self.queue.cancel(node) {
            // ORDERING: Relaxed: the drain request below (AcqRel on the word) orders it before
            // the pass that reads it.
            self.forecast.stale.store(true, Ordering::Relaxed);
            self.run_drain_if(self.request_drain());
            true
        } else {
            false
        }
    }

    fn poll_waiting(&self, node: &Waiter, timer: &mut Option<Timer>, cx: &mut Context<'_>) -> bool {
        wait::poll_timed(&self.clock, node, timer, cx, || self.run_drain_if(self.request_drain()))
    }

    fn park(&self, node: &Waiter) {
        wait::park_timed(&self.clock, node, || self.run_drain_if(self.request_drain()));
    }
}

impl<C: Clock> Shared<C> {
    pub(crate) fn acquire(&self, permits: u32) -> Acquire<'_> {
        Acquire::queued(self, permits)
    }

    pub(crate) fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        wait::block_on(self, permits)
    }

    pub(crate) fn is_auto(&self) -> bool {
        self.auto
    }

    pub(crate) fn period(&self) -> Duration {
        Duration::from_nanos(self.params.period)
    }

    pub(crate) fn limit(&self) -> u32 {
        self.params.limit
    }

    pub(crate) fn queue_limit(&self) -> u32 {
        self.queue_limit
    }

    pub(crate) fn order(&self) -> QueueProcessingOrder {
        self.queue.order()
    }
}

impl<C: Clock> RateLimiter for TokenBucketRateLimiter<C> {
    #[inline]
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.shared.attempt(permits)
    }

    fn acquire(&self, permits: u32) -> Acquire<'_> {
        Acquire::queued(&self.shared, permits)
    }

    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        wait::block_on(&self.shared, permits)
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        Some(self.shared.statistics())
    }

    fn idle_duration(&self) -> Option<Duration> {
        self.shared.idle_duration()
    }

    fn dispose(&self) {
        self.shared.dispose();
    }

    fn refund(&self, lease: RateLimitLease) {
        self.shared.refund(lease);
    }

    fn as_replenishing(&self) -> Option<&dyn ReplenishingRateLimiter> {
        Some(self)
    }

    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        self.shared.dispose_if_idle(min_idle)
    }
}

impl<C: Clock> ReplenishingRateLimiter for TokenBucketRateLimiter<C> {
    fn try_replenish(&self) -> bool {
        self.shared.try_replenish()
    }

    fn is_auto_replenishing(&self) -> bool {
        self.shared.auto
    }

    fn replenishment_period(&self) -> Duration {
        Duration::from_nanos(self.shared.params.period)
    }
}

impl<C: Clock> Drop for TokenBucketRateLimiter<C> {
    fn drop(&mut self) {
        self.shared.dispose();
    }
}

impl<C: Clock> fmt::Debug for TokenBucketRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("TokenBucketRateLimiter")
            .field("token_limit", &shared.params.limit)
            .field("tokens_per_period", &shared.params.per_period)
            .field("replenishment_period", &Duration::from_nanos(shared.params.period))
            .field("auto_replenishment", &shared.auto)
            .field("queue_limit", &shared.queue_limit)
            .field("order", &shared.queue.order())
            .field("statistics", &shared.statistics())
            .finish()
    }
}
