//! The sliding window: at most `permit_limit` permits in any window of `segments_per_window`
//! consecutive segments; permits taken in a segment come back one window later.
//!
//! # Implementation
//!
//! **One hot word for decisions.** The same 128-bit layout as the token bucket (`token_bucket/state.rs`):
//! available permits, registered waiters, drainer flags, plus bit 62 as the *parity* of the current
//! segment's index; the high half is the time of the next segment boundary (auto mode) or
//! `u64::MAX` (manual mode: boundaries happen only through `try_replenish`). A grant is one CAS
//! taking permits from the word while it is current (`now < next`), then a relaxed `fetch_add` of
//! the permits to the current segment's counter, `acc[parity]`, which sits on the same cache line.
//!
//! **Segments advance under the drainer role** (the CAS-elected thread of `crate::wait`). Per
//! boundary, from segment k to k+1, the role holder: moves `acc[parity(k)]` into the ring slot of
//! segment k (`swap(0)`), takes the ring slot of segment k+1−S (the one that expires), and CASes the
//! word: available += freed, next += segment, parity flipped. Nobody else writes the ring, so no
//! permit is freed twice. A grant whose CAS happened in segment k but whose `fetch_add` lands after
//! the harvest is counted with the next harvest of the same parity (segment k+2): its permits come
//! back one or two segments late — never early, so the window never admits more than its limit.
//! A request that finds the word stale (a boundary has passed) runs or requests a drain pass, which
//! advances the word, before it decides; if the role is busy it waits a short, bounded spin and then
//! refuses (conservative: never over-admits).
//!
//! **Lazy and exact.** A pass walks boundaries one at a time while the queue's head does not fit,
//! granting it at the first boundary that frees enough (as .NET's timer ticks would), and only then
//! jumps the rest: after S+1 boundaries with no grant everything has expired, so any longer idle gap
//! is skipped in O(1). The head of the queue sleeps until the boundary that frees enough for it.
//!
//! **Retry-after** walks the ring: the first boundary at which the permits available plus those
//! expiring cover the request, the queued permits served first (as one block, granted at the first
//! boundary where they fit and expiring a window later). .NET (stable) gives sliding-window leases no
//! `RETRY_AFTER`; API rule 4 asks for it. Exact with nothing queued or one queued request (and
//! whenever the queued permits and the request fit in one window); with several queued requests
//! that need more than a window, an estimate. O(segments) per refusal.

mod options;

pub use options::SlidingWindowRateLimiterOptions;

use std::fmt;
use std::task::Context;
use std::time::Duration;

use crate::concurrency::state::{self as lo_state, Decision};
use crate::lease::Names;
use crate::sync::{Arc, AtomicU64, AtomicU128, CachePadded, Ordering, UnsafeCell};
use crate::token_bucket::state::{join, split, tokens, with_tokens};
use crate::token_bucket::word;
use crate::wait::{
    self, Acquire, AcquireHost, Begin, GRANTED, Pass, QueueHost, Reserve, Timer, WaitQueue, Waiter, Wake,
};
use crate::{
    AcquireError, Clock, DefaultClock, OptionsError, QueueProcessingOrder, RateLimitLease, RateLimiter,
    RateLimiterStatistics, ReplenishingRateLimiter,
};

/// Bit 62 of the low half: the parity of the current segment's index.
const PARITY: u64 = 1 << 62;
/// Low-half bits that send a request off the fast path: registered waiters and disposal.
const FAST_PATH_BLOCKERS: u64 = lo_state::WAITERS_MASK | lo_state::CLOSED;

#[inline]
const fn parity(lo: u64) -> usize {
    (lo & PARITY != 0) as usize
}

/// A sliding window limiter with .NET's semantics: at most `permit_limit` permits in any
/// `window`, counted per segment (`window / segments_per_window`); permits taken in a segment come
/// back when that segment leaves the window. Requests wait in a queue of at most `queue_limit`
/// permits.
///
/// In automatic mode (the default) no timer runs: segment *k* starts at construction +
/// *k*·segment and the window slides lazily from the clock; queued requests are granted at the
/// boundary that frees enough for them, with no other caller needed. In manual mode
/// (`auto_replenishment: false`) only [`try_replenish`](ReplenishingRateLimiter::try_replenish)
/// slides the window, one segment per call, and only if a segment's length has passed since the last
/// slide (.NET's rule).
///
/// Failed leases of failed attempts and full queues carry [`retry_after`](RateLimitLease::retry_after)
/// (API rule 4; .NET's stable version has none): in automatic mode the wait until the boundary at
/// which the request succeeds, queued permits served first; in manual mode the number of slides
/// needed times the segment length. It is exact with nothing queued, with one queued request, or
/// when the queued permits and the request fit in one window; behind several queued requests that
/// need more than a window it is an estimate (they are walked as one block). Computing it walks the
/// segments: O(`segments_per_window`) per refusal.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{ManualClock, RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
///
/// let clock = ManualClock::new();
/// let window = SlidingWindowRateLimiter::with_clock(
///     SlidingWindowRateLimiterOptions {
///         permit_limit: 4,
///         window: Duration::from_secs(4),
///         segments_per_window: 4,
///         ..Default::default()
///     },
///     clock.clone(),
/// )?;
/// assert!(window.attempt_acquire(3)?.is_acquired()); // segment 0
/// clock.advance(Duration::from_secs(1));
/// assert!(window.attempt_acquire(1)?.is_acquired()); // segment 1
/// let refused = window.attempt_acquire(1)?;
/// // Segment 0's 3 permits come back when it leaves the window, at 4 s.
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(3)));
/// clock.advance(Duration::from_secs(3));
/// assert!(window.attempt_acquire(3)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SlidingWindowRateLimiter<C: Clock = DefaultClock> {
    shared: Shared<C>,
}

/// The word and everything written next to it: one cache line.
struct Hot {
    word: AtomicU128,
    /// Permits granted in the current segment, by parity of the segment's index.
    acc: [AtomicU64; 2],
    successes: AtomicU64,
    failures: AtomicU64,
}

struct Shared<C> {
    hot: CachePadded<Hot>,
    /// Harvested per-segment counts, slot `k % S` for segment k. Written by the drainer only.
    ring: Box<[AtomicU64]>,
    /// The absolute index of the word's current segment. Drainer only.
    segment: UnsafeCell<u64>,
    /// A copy of `segment` for readers computing retry hints.
    published: AtomicU64,
    /// Manual mode: slides asked for by `try_replenish` and not yet applied by a drainer.
    pending: AtomicU64,
    /// Manual mode: clock reading of the last `try_replenish` that passed the time check.
    last: AtomicU64,
    /// When the window last became whole again (or construction).
    idle_since: AtomicU64,
    /// Refunds handed to the drainer: permits (low half) granted in the segment whose word high
    /// half was the stamp (high half); 0 permits when empty. See `refund`.
    refunds: AtomicU128,
    queue: WaitQueue,
    limit: u32,
    segments: u64,
    segment_nanos: u64,
    window: Duration,
    auto: bool,
    newest_first: bool,
    queue_limit: u32,
    /// This limiter's identity in its leases (`lease::limiter_id`), for refunds.
    id: u64,
    clock: C,
}

// SAFETY: `segment` is only accessed by the thread holding the drainer role (exclusive, taken and
// given back with CAS on the word; see `wait/mod.rs`); every other field is `Sync`.
unsafe impl<C: Clock> Sync for Shared<C> {}

impl SlidingWindowRateLimiter<DefaultClock> {
    /// Creates a sliding window limiter on the default (TSC) clock; segment 0 starts now.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`SlidingWindowRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
    ///
    /// // At most 100 requests in any minute, counted per 10-second segment.
    /// let limiter = SlidingWindowRateLimiter::new(SlidingWindowRateLimiterOptions {
    ///     permit_limit: 100,
    ///     window: Duration::from_secs(60),
    ///     segments_per_window: 6,
    ///     ..Default::default()
    /// })?;
    /// assert!(limiter.attempt_acquire(100)?.is_acquired());
    /// assert!(!limiter.attempt_acquire(1)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(options: SlidingWindowRateLimiterOptions) -> Result<Self, OptionsError> {
        Self::with_clock(options, DefaultClock::new())
    }
}

impl<C: Clock> SlidingWindowRateLimiter<C> {
    /// Creates a sliding window limiter that reads time from `clock`; segment 0 starts now.
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the first invalid field (see
    /// [`SlidingWindowRateLimiterOptions::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, RateLimiter, SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// let options = SlidingWindowRateLimiterOptions {
    ///     permit_limit: 2,
    ///     window: Duration::from_secs(2),
    ///     segments_per_window: 2,
    ///     queue_limit: 1,
    ///     ..Default::default()
    /// };
    /// let limiter = SlidingWindowRateLimiter::with_clock(options, clock.clone())?;
    /// let _burst = limiter.attempt_acquire(2)?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| clock.advance(Duration::from_secs(2))); // the burst's segment leaves the window
    ///     assert!(limiter.blocking_acquire(1).unwrap().is_acquired()); // parks until then
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(options: SlidingWindowRateLimiterOptions, clock: C) -> Result<Self, OptionsError> {
        options.validate()?;
        crate::sync::prime();
        let now = clock.now_nanos();
        let segment_nanos = options.segment_nanos();
        let hi = if options.auto_replenishment { now.saturating_add(segment_nanos) } else { u64::MAX };
        let segments = u64::from(options.segments_per_window);
        Ok(Self {
            shared: Shared {
                hot: CachePadded::new(Hot {
                    word: AtomicU128::new(join(lo_state::pack(options.permit_limit, 0, 0), hi)),
                    acc: [AtomicU64::new(0), AtomicU64::new(0)],
                    successes: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                }),
                ring: (0..segments).map(|_| AtomicU64::new(0)).collect(),
                segment: UnsafeCell::new(0),
                published: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                last: AtomicU64::new(now),
                idle_since: AtomicU64::new(now),
                refunds: AtomicU128::new(0),
                queue: WaitQueue::new(options.queue_processing_order, options.queue_limit),
                limit: options.permit_limit,
                segments,
                segment_nanos,
                window: options.window,
                auto: options.auto_replenishment,
                newest_first: options.queue_processing_order == QueueProcessingOrder::NewestFirst,
                queue_limit: options.queue_limit,
                id: crate::lease::limiter_id(),
                clock,
            },
        })
    }
}

/// How long a request spins for a busy drainer to bring a stale word up to date before it is
/// refused (the drainer's work per boundary is a few atomic operations).
const STALE_SPINS: u32 = 256;

impl<C: Clock> Shared<C> {
    #[inline]
    fn load(&self) -> u128 {
        word::load(&self.hot.word)
    }

    #[inline]
    fn cas(&self, current: u128, new: u128, success: Ordering) -> Result<u128, u128> {
        word::cas(&self.hot.word, current, new, success)
    }

    fn update_lo(&self, success: Ordering, f: impl FnMut(u64) -> u64) -> u64 {
        word::update_lo(&self.hot.word, success, f)
    }

    #[inline]
    fn now(&self) -> u64 {
        if self.auto { self.clock.now_nanos() } else { 0 }
    }

    /// Records a grant of `permits` made in the segment of parity `p`.
    #[inline]
    fn record(&self, p: usize, permits: u32) {
        // ORDERING: Relaxed: only the count matters; a late add is harvested with a later segment
        // (module docs: permits then come back late, never early).
        self.hot.acc[p].fetch_add(u64::from(permits), Ordering::Relaxed);
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

    /// A granted lease; `stamp` is the word's high half when granted, which names the segment
    /// (auto: its end; manual: a count that every slide decrements).
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
        AcquireError::PermitLimitExceeded { requested: permits, limit: self.limit }
    }

    /// Whether a boundary has passed that the word does not reflect yet.
    #[inline]
    fn stale(&self, lo: u64, hi: u64, now: u64) -> bool {
        // ORDERING: Relaxed (`pending`): a hint that sends the caller to the drain path, where
        // the role's AcqRel CASes order everything.
        (self.auto && now >= hi && hi != u64::MAX || !self.auto && self.pending.load(Ordering::Relaxed) > 0)
            && !lo_state::is_closed(lo)
    }

    /// Brings a stale word up to date (runs or requests a drain pass, then waits a bounded spin for
    /// a busy drainer). Returns the word, current unless the drainer stayed busy.
    #[cold]
    #[inline(never)]
    fn freshen(&self, now: u64) -> u128 {
        self.run_drain_if(self.request_drain());
        for _ in 0..STALE_SPINS {
            let word = self.load();
            let (lo, hi) = split(word);
            if !self.stale(lo, hi, now) {
                return word;
            }
            std::hint::spin_loop();
        }
        self.load()
    }

    #[inline]
    fn attempt(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        if permits > self.limit {
            return Err(self.exceeded(permits));
        }
        let now = self.now();
        let mode = word::mode();
        let word = word::load_in(&self.hot.word, mode);
        let (lo, hi) = split(word);
        if now < hi && lo & FAST_PATH_BLOCKERS == 0 && permits > 0 {
            if tokens(lo) >= permits {
                // ORDERING: Relaxed: permit accounting needs only atomicity (see the token bucket).
                if word::cas_in(&self.hot.word, mode, word, word - u128::from(permits), Ordering::Relaxed).is_ok() {
                    self.record(parity(lo), permits);
                    self.count_success_();
                    return Ok(self.success_lease(hi, permits));
                }
            } else {
                // Refused with nothing queued: the first boundary that frees enough.
                self.count_failure_();
                let j = self.boundaries_until(lo, u64::from(permits));
                return Ok(RateLimitLease::failed_retry_after_nanos(self.wait_nanos(j, hi, now)));
            }
        }
        self.attempt_slow(permits, now)
    }

    #[inline(never)]
    fn attempt_slow(&self, permits: u32, now: u64) -> Result<RateLimitLease, AcquireError> {
        let mut word = self.load();
        let mut helped = false;
        let stamp = loop {
            let (lo, hi) = split(word);
            if self.stale(lo, hi, now) {
                if !helped {
                    helped = true;
                    word = self.freshen(now);
                    continue;
                }
                // The drainer stayed busy: refuse rather than record a grant in the wrong segment.
                if lo_state::is_closed(lo) {
                    return Err(AcquireError::Disposed);
                }
                return Ok(self.refuse(lo, hi, permits, now));
            }
            match lo_state::decide(lo, permits, self.newest_first) {
                Decision::Take(next_lo) => {
                    if permits == 0 {
                        break hi;
                    }
                    // ORDERING: Relaxed: permit accounting (see `attempt`).
                    match self.cas(word, join(next_lo, hi), Ordering::Relaxed) {
                        Ok(_) => {
                            self.record(parity(lo), permits);
                            break hi;
                        }
                        Err(actual) => word = actual,
                    }
                }
                Decision::Refuse => return Ok(self.refuse(lo, hi, permits, now)),
                Decision::Closed => return Err(AcquireError::Disposed),
            }
        };
        self.count_success_();
        Ok(self.success_lease(stamp, permits))
    }

    #[cold]
    fn refuse(&self, lo: u64, hi: u64, permits: u32, now: u64) -> RateLimitLease {
        self.count_failure_();
        Self::failed_lease().with_retry_after(self.retry_after(lo, hi, permits, now))
    }

    /// The boundaries (1 = the next one) until `need` permits are available, walking the ring.
    fn boundaries_until(&self, lo: u64, need: u64) -> u64 {
        let mut have = u64::from(tokens(lo));
        if have >= need {
            return 1;
        }
        let s = self.segments;
        // ORDERING: Relaxed: see `boundaries_behind_queue`.
        let k = self.published.load(Ordering::Relaxed);
        let slots = self.ring.len();
        let mut slot = ((k + 1) % s) as usize;
        for j in 1..s {
            // ORDERING: Relaxed: written by the drainer; an estimate under concurrency.
            have += self.ring[slot].load(Ordering::Relaxed);
            if have >= need {
                return j;
            }
            slot += 1;
            if slot == slots {
                slot = 0;
            }
        }
        // The current segment's grants expire last; with nothing queued they always suffice
        // (`need` is at most the limit).
        s
    }

    /// The boundaries (1 = the next one) until a request for `need` permits succeeds when
    /// `queued` permits wait ahead of it: walking the expiries in the ring, the queued permits are
    /// served (as one block) at the first boundary where they fit and come back one window later;
    /// `after_queue` requests (oldest-first, one or more permits) need the queue served first,
    /// others (newest-first, zero permits) only need `need` left after each boundary's grants.
    /// Exact with nothing queued or a single queued request; with several it treats them as one.
    fn boundaries_behind_queue(&self, lo: u64, queued: u64, need: u64, after_queue: bool) -> u64 {
        let mut have = u64::from(tokens(lo));
        if queued == 0 && have >= need {
            return 1;
        }
        let s = self.segments;
        // ORDERING: Relaxed: published by the drainer after each slide; exact when nothing runs
        // concurrently, an estimate otherwise (a hint, never a decision).
        let k = self.published.load(Ordering::Relaxed);
        // Slots in expiry order, starting with segment k+1−S's (one modulo, then wrapping).
        let slots = self.ring.len();
        let mut slot = ((k + 1) % s) as usize;
        let mut served_at = if queued == 0 { Some(0) } else { None };
        let horizon = 2 * s + 1;
        for j in 1..=horizon {
            let expiring = if j < s {
                // ORDERING: Relaxed: written by the drainer; an estimate under concurrency.
                self.ring[slot].load(Ordering::Relaxed)
            } else if j == s {
                // ORDERING: Relaxed, as above: the current segment's grants.
                self.hot.acc[parity(lo)].load(Ordering::Relaxed)
            } else if served_at == Some(j - s) {
                // The queued block's own permits come back a window after it was served.
                queued
            } else {
                0
            };
            have += expiring;
            if served_at.is_none() && have >= queued {
                served_at = Some(j);
                have -= queued;
            }
            if (served_at.is_some() || !after_queue) && have >= need {
                return j;
            }
            if j < s {
                slot += 1;
                if slot == slots {
                    slot = 0;
                }
            }
        }
        // Not within two windows (only when more than the limit is queued): whole windows more.
        horizon + (queued + need).div_ceil(u64::from(self.limit)) * s
    }

    /// API rule 4: until the boundary at which the same request succeeds (queued permits first).
    fn retry_after(&self, lo: u64, hi: u64, permits: u32, now: u64) -> Duration {
        let queued = self.queue.queued_permits();
        let after_queue = permits > 0 && !self.newest_first;
        let j = self.boundaries_behind_queue(lo, queued, u64::from(permits.max(1)), after_queue);
        self.wait_for(j, hi, now)
    }

    /// The wait until boundary `j` (1 = the next one): in auto mode from the clock; in manual mode
    /// `j` slides of one segment each.
    #[inline]
    fn wait_for(&self, j: u64, hi: u64, now: u64) -> Duration {
        Duration::from_nanos(self.wait_nanos(j, hi, now))
    }

    #[inline]
    fn wait_nanos(&self, j: u64, hi: u64, now: u64) -> u64 {
        if self.auto {
            let at = u128::from(hi) + u128::from(j - 1) * u128::from(self.segment_nanos);
            u64::try_from(at.saturating_sub(u128::from(now))).unwrap_or(u64::MAX)
        } else {
            j.saturating_mul(self.segment_nanos)
        }
    }
}

impl<C: Clock> Shared<C> {
    /// Asks for ordered work; true if this thread took the drainer role and must run `drain`.
    /// (The role also guards `ring` and `segment`; see `token_bucket::word::request_drain`.)
    fn request_drain(&self) -> bool {
        word::request_drain(&self.hot.word, false)
    }

    fn drain(&self) {
        word::drain(&self.hot.word, &self.queue, self, self.limit);
    }

    fn run_drain_if(&self, took_role: bool) {
        if took_role {
            self.drain();
        }
    }

    fn dispose(&self) {
        self.run_drain_if(word::request_drain(&self.hot.word, true));
    }

    /// Whether a slide is due now: a boundary has passed (auto) or `try_replenish` asked for one
    /// (manual; consumed here). Drainer only.
    fn slide_due(&self, hi: u64, now: u64) -> bool {
        if self.auto {
            hi != u64::MAX && now >= hi
        } else {
            // ORDERING: Relaxed: a count of requests; the drain request that accompanies each one
            // orders it before this pass.
            self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
        }
    }

    /// Slides the window by one segment: harvests the current segment's grants into its ring slot,
    /// frees the expiring segment's permits, moves `next` and flips the parity. Returns the freed
    /// permits. Drainer only.
    fn slide(&self) -> u64 {
        self.segment.with_mut(|segment| {
            // SAFETY: the caller holds the drainer role, the only accessor of `segment`.
            let k = unsafe { *segment };
            let s = self.segments;
            // A refund of this segment's grants must be applied before they are harvested.
            self.apply_refunds();
            let (lo, _) = split(self.load());
            // ORDERING: Relaxed: the harvest only needs atomicity (late adds: module docs).
            let current = self.hot.acc[parity(lo)].swap(0, Ordering::Relaxed);
            // ORDERING: Relaxed: the ring is written by the drainer only; readers take hints.
            self.ring[(k % s) as usize].store(current, Ordering::Relaxed);
            let freed = self.ring[((k + 1) % s) as usize].swap(0, Ordering::Relaxed);
            let mut word = self.load();
            let (became_whole, boundary) = loop {
                let (lo, hi) = split(word);
                let available = u64::from(tokens(lo)) + freed;
                // Exact accounting never exceeds the limit (available + outstanding = limit, with
                // in-flight counter updates only lowering the outstanding side).
                debug_assert!(available <= u64::from(self.limit), "a segment was freed twice");
                let available = available.min(u64::from(self.limit)) as u32;
                // Manual mode counts slides down from `u64::MAX` (a segment's identity for
                // refunds; it stays above 0, the manual-mode `now`, for the fast path).
                let next_hi = if self.auto { hi.saturating_add(self.segment_nanos) } else { (hi - 1).max(1) };
                let next = join(with_tokens(lo, available) ^ PARITY, next_hi);
                // ORDERING: Relaxed: permit accounting; the role's own CASes order the rest.
                match self.cas(word, next, Ordering::Relaxed) {
                    Ok(_) => {
                        break (
                            tokens(lo) < self.limit && available == self.limit,
                            if self.auto { hi } else { self.clock.now_nanos() },
                        );
                    }
                    Err(actual) => word = actual,
                }
            };
            if became_whole {
                // The window became whole at this boundary (.NET sets `idleSince` there).
                // ORDERING: Relaxed: read only when the word shows the window whole.
                self.idle_since.store(boundary, Ordering::Relaxed);
            }
            // SAFETY: as above.
            unsafe { *segment = k + 1 };
            // ORDERING: Relaxed: see `published`.
            self.published.store(k + 1, Ordering::Relaxed);
            freed
        })
    }

    /// Slides until the word is current (auto) or no slide is pending (manual), skipping whole
    /// idle stretches in O(1) once every segment has expired. Drainer only. Returns the permits
    /// freed.
    fn slide_to(&self, now: u64) -> u64 {
        let mut freed = 0;
        let mut quiet = 0u64;
        loop {
            let (_, hi) = split(self.load());
            if !self.slide_due(hi, now) {
                return freed;
            }
            let f = self.slide();
            freed += f;
            quiet = if f == 0 { quiet + 1 } else { 0 };
            if self.auto && quiet > self.segments {
                self.skip_idle(now);
            }
        }
    }

    /// Auto mode: every segment is empty; jump `next` to the last boundary at or before `now`
    /// plus one segment, keeping the parity consistent. Drainer only.
    fn skip_idle(&self, now: u64) {
        // Only when nothing at all is recorded (a stale-clock grant may still add to a counter;
        // then slide one boundary at a time).
        // ORDERING: Relaxed: the ring is the drainer's own; `acc` is re-checked by later slides.
        if self.ring.iter().any(|c| c.load(Ordering::Relaxed) != 0)
            || self.hot.acc.iter().any(|c| c.load(Ordering::Relaxed) != 0)
        {
            return;
        }
        self.segment.with_mut(|segment| {
            let mut word = self.load();
            loop {
                let (lo, hi) = split(word);
                if now < hi || hi == u64::MAX {
                    return;
                }
                let boundaries = (now - hi) / self.segment_nanos; // leave the last one to `slide`
                if boundaries == 0 {
                    return;
                }
                let next_hi = hi.saturating_add(boundaries.saturating_mul(self.segment_nanos));
                let next_lo = if boundaries % 2 == 1 { lo ^ PARITY } else { lo };
                // ORDERING: Relaxed, as in `slide`.
                match self.cas(word, join(next_lo, next_hi), Ordering::Relaxed) {
                    Ok(_) => {
                        // SAFETY: the caller holds the drainer role, the only accessor of `segment`.
                        let k = unsafe {
                            *segment += boundaries;
                            *segment
                        };
                        // ORDERING: Relaxed: see `published`.
                        self.published.store(k, Ordering::Relaxed);
                        return;
                    }
                    Err(actual) => word = actual,
                }
            }
        });
    }

    fn statistics(&self) -> RateLimiterStatistics {
        let now = self.now();
        let (lo, hi) = split(self.load());
        let lo = if self.stale(lo, hi, now) { split(self.freshen(now)).0 } else { lo };
        RateLimiterStatistics {
            current_available_permits: u64::from(tokens(lo)),
            current_queued_count: self.queue.queued_permits(),
            // ORDERING: Relaxed: statistics.
            total_failed_leases: self.hot.failures.load(Ordering::Relaxed),
            // ORDERING: Relaxed: statistics.
            total_successful_leases: self.hot.successes.load(Ordering::Relaxed),
        }
    }

    fn idle_duration(&self) -> Option<Duration> {
        let now = self.clock.now_nanos();
        let (lo, hi) = split(self.load());
        let lo = if self.stale(lo, hi, self.now()) { split(self.freshen(self.now())).0 } else { lo };
        if tokens(lo) < self.limit || lo_state::waiters(lo) > 0 {
            return None;
        }
        // ORDERING: Relaxed: see `slide`.
        let since = self.idle_since.load(Ordering::Relaxed);
        Some(Duration::from_nanos(now.saturating_sub(since)))
    }

    fn try_replenish(&self) -> bool {
        if self.auto {
            return false;
        }
        let now = self.clock.now_nanos();
        let (lo, _) = split(self.load());
        if lo_state::is_closed(lo) {
            return true;
        }
        // ORDERING: Relaxed: the claim of this slide only needs atomicity.
        let last = self.last.load(Ordering::Relaxed);
        if now.saturating_sub(last) < self.segment_nanos
            || self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return true;
        }
        // ORDERING: Relaxed: ordered before the pass by the drain request's AcqRel CAS.
        self.pending.fetch_add(1, Ordering::Relaxed);
        self.run_drain_if(self.request_drain());
        true
    }

    /// `RateLimiter::refund`: the success is uncounted, and the permits go back if the segment
    /// they were granted in is still the current one (not yet harvested).
    ///
    /// Only the drainer role moves segments, and un-recording a grant must not race a harvest
    /// (which could count the grant in its ring slot after the permits were returned: freed twice).
    /// So the refund is handed to the drainer through the `refunds` mailbox and a drain is
    /// requested; the role holder applies it at the start of its next pass, or before harvesting
    /// the segment, if the stamp still names the current segment (else the permits have been
    /// harvested and come back when their segment expires).
    fn refund(&self, lease: RateLimitLease) {
        let Some((stamp, permits)) = lease.grant_of(self.id) else { return };
        // ORDERING: Relaxed: a statistic; this lease's success was counted before it was returned.
        self.hot.successes.fetch_sub(1, Ordering::Relaxed);
        if permits == 0 {
            return;
        }
        let mut mail = self.refunds.load(Ordering::Acquire);
        loop {
            let (_, hi) = split(self.load());
            if hi != stamp {
                return; // the grant's segment has passed (harvested or being harvested)
            }
            let (held, held_stamp) = split(mail);
            let next = if held > 0 && held_stamp == stamp {
                join(held + u64::from(permits), stamp)
            } else if held > 0 && self.newer(held_stamp, stamp) {
                return; // unreachable in practice: `hi == stamp` was just read
            } else {
                // Empty, or an expired refund the drainer would discard anyway.
                join(u64::from(permits), stamp)
            };
            // ORDERING: AcqRel: Release publishes this thread's view (the grant's `record` happened
            // before the lease was returned) to the drainer's Acquire swap; Acquire on success
            // orders us after the refunds we merge with.
            match self.refunds.compare_exchange_weak(mail, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => mail = actual,
            }
        }
        self.run_drain_if(self.request_drain());
    }

    /// Whether segment stamp `a` is later than `b` (auto: boundaries grow; manual: the count
    /// shrinks).
    fn newer(&self, a: u64, b: u64) -> bool {
        if self.auto { a > b } else { a < b }
    }

    /// Drainer only: applies the mailed refund if its segment is still the current one.
    fn apply_refunds(&self) {
        // ORDERING: AcqRel: Acquire pairs with the refunders' Release CAS (their grants' records
        // are then ordered before the un-recording below).
        let mut mail = self.refunds.load(Ordering::Acquire);
        let (permits, stamp) = loop {
            let (permits, stamp) = split(mail);
            if permits == 0 {
                return;
            }
            match self.refunds.compare_exchange_weak(mail, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break (permits, stamp),
                Err(actual) => mail = actual,
            }
        };
        let (lo, hi) = split(self.load());
        if hi != stamp {
            return; // harvested: the permits come back when their segment expires
        }
        // The role is held, so this segment is not harvested before the un-recording.
        // ORDERING: Relaxed: see `record`.
        self.hot.acc[parity(lo)].fetch_sub(permits, Ordering::Relaxed);
        // ORDERING: Relaxed: permit accounting.
        self.update_lo(Ordering::Relaxed, |lo| {
            let available = (u64::from(tokens(lo)) + permits).min(u64::from(self.limit)) as u32;
            with_tokens(lo, available)
        });
    }

    /// `RateLimiter::dispose_if_idle`: one CAS from the idle word (whole, nothing queued, no
    /// drainer) to the same word closed, so no request can be granted by an evicted limiter.
    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        let now = self.clock.now_nanos();
        let word = self.load();
        let (lo, hi) = split(word);
        if lo_state::is_closed(lo) {
            return true;
        }
        if lo & !(lo_state::AVAILABLE_MASK | PARITY) != 0 || tokens(lo) < self.limit {
            return false;
        }
        // ORDERING: Relaxed: see `slide`.
        let since = self.idle_since.load(Ordering::Relaxed);
        if u128::from(now.saturating_sub(since)) < min_idle.as_nanos() {
            return false;
        }
        // ORDERING: AcqRel: stronger than needed (nothing is queued to order), as for disposal.
        self.cas(word, join(lo | lo_state::CLOSED, hi), Ordering::AcqRel).is_ok()
    }

    fn queue_full(&self, lo: u64, hi: u64, permits: u32, now: u64) -> Begin {
        self.count_failure_();
        Begin::Done(Ok(Self::failed_lease().with_retry_after(self.retry_after(lo, hi, permits, now))))
    }
}

impl<C: Clock> QueueHost for Shared<C> {
    fn try_take_for_waiter(&self, permits: u32, pass: &mut Pass) -> bool {
        let now = self.now();
        let mut word = self.load();
        loop {
            let (lo, hi) = split(word);
            let available = tokens(lo);
            let fits = if permits == 0 { pass.replenished || available > 0 } else { available >= permits };
            if fits {
                let next = join(lo_state::unregister(lo, 1) - u64::from(permits), hi);
                // ORDERING: Release orders this grant before the node's GRANTED store.
                match self.cas(word, next, Ordering::Release) {
                    Ok(_) => {
                        self.record(parity(lo), permits);
                        pass.stamp = hi;
                        return true;
                    }
                    Err(actual) => {
                        word = actual;
                        continue;
                    }
                }
            }
            // Walk one boundary (each is its own .NET pass: it processes the queue only if it
            // freed something).
            if !self.slide_due(hi, now) {
                return false;
            }
            pass.replenished = self.slide() > 0;
            word = self.load();
        }
    }

    fn blocked(&self, node: &Waiter) {
        if !self.auto {
            return;
        }
        let now = self.now();
        let (lo, hi) = split(self.load());
        if self.stale(lo, hi, now) {
            // The clock moved during the pass: process again (this thread holds the role, so
            // this only sets DRAIN_AGAIN).
            let took = self.request_drain();
            debug_assert!(!took, "blocked() runs under the drainer role");
            return;
        }
        let j = self.boundaries_until(lo, u64::from(node.permits().max(1)));
        let at = u64::try_from(u128::from(hi) + u128::from(j - 1) * u128::from(self.segment_nanos)).unwrap_or(u64::MAX);
        if node.set_wake_at(at) {
            node.wake();
        }
    }

    fn after_pass(&self, deque: &std::collections::VecDeque<Arc<Waiter>>, _appended: usize) {
        // Bring the word up to date for callers that did not wait (the queue may be empty).
        let freed = self.slide_to(self.now());
        if freed > 0 && deque.iter().any(|n| n.state() == wait::WAITING) {
            // Permits came back after the grant loop stopped: process again.
            let took = self.request_drain();
            debug_assert!(!took, "after_pass() runs under the drainer role");
        }
    }

    fn has_available(&self) -> bool {
        tokens(split(self.load()).0) > 0
    }

    fn before_pass(&self) {
        self.apply_refunds();
    }

    fn give_back(&self, permits: u32) {
        let mut word = self.load();
        loop {
            let (lo, hi) = split(word);
            let available = (u64::from(tokens(lo)) + u64::from(permits)).min(u64::from(self.limit)) as u32;
            // ORDERING: Relaxed: permit accounting.
            match self.cas(word, join(with_tokens(lo, available), hi), Ordering::Relaxed) {
                Ok(_) => {
                    // Un-record the grant (no slide happened in between: the role is held).
                    // ORDERING: Relaxed: see `record`.
                    self.hot.acc[parity(lo)].fetch_sub(u64::from(permits), Ordering::Relaxed);
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    fn unregister(&self, count: u32) {
        // ORDERING: Relaxed: only the count changes; it is read by CASes that re-validate.
        self.update_lo(Ordering::Relaxed, |lo| lo_state::unregister(lo, u64::from(count)));
    }

    fn is_closed(&self) -> bool {
        lo_state::is_closed(split(self.load()).0)
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
        if permits > self.limit {
            return Begin::Done(Err(self.exceeded(permits)));
        }
        let now = self.now();
        let mut helped = false;
        let mut word = self.load();
        loop {
            let (lo, hi) = split(word);
            let stale = self.stale(lo, hi, now);
            if stale && !helped {
                helped = true;
                word = self.freshen(now);
                continue;
            }
            // Still stale (drainer busy): queue behind, never take from a stale word.
            let decision = if stale && permits > 0 {
                if lo_state::is_closed(lo) { Decision::Closed } else { Decision::Refuse }
            } else {
                lo_state::decide(lo, permits, self.newest_first)
            };
            let next = match decision {
                Decision::Closed => return Begin::Done(Err(AcquireError::Disposed)),
                Decision::Take(_) if permits == 0 => {
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(hi, 0)));
                }
                Decision::Take(next_lo) => join(next_lo, hi),
                Decision::Refuse => {
                    if permits > self.queue_limit {
                        return self.queue_full(lo, hi, permits, now);
                    }
                    match lo_state::register(lo) {
                        Some(next_lo) => join(next_lo, hi),
                        None => return self.queue_full(lo, hi, permits, now),
                    }
                }
            };
            // ORDERING: AcqRel: for a registration, as in the concurrency limiter; stronger than
            // needed for a take.
            match self.cas(word, next, Ordering::AcqRel) {
                Ok(_) if lo_state::waiters(split(next).0) == lo_state::waiters(lo) => {
                    self.record(parity(lo), permits);
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(split(word).1, permits)));
                }
                Ok(_) => {
                    word = next;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
        if self.queue.reserve(permits) == Reserve::Full {
            self.unregister(1);
            let (lo, hi) = split(word);
            return self.queue_full(lo, hi, permits, now);
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

impl<C: Clock> RateLimiter for SlidingWindowRateLimiter<C> {
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

impl<C: Clock> ReplenishingRateLimiter for SlidingWindowRateLimiter<C> {
    fn try_replenish(&self) -> bool {
        self.shared.try_replenish()
    }

    fn is_auto_replenishing(&self) -> bool {
        self.shared.auto
    }

    /// The segment length (`window / segments_per_window`), as in .NET.
    fn replenishment_period(&self) -> Duration {
        Duration::from_nanos(self.shared.segment_nanos)
    }
}

impl<C: Clock> Drop for SlidingWindowRateLimiter<C> {
    fn drop(&mut self) {
        self.shared.dispose();
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("SlidingWindowRateLimiter")
            .field("permit_limit", &shared.limit)
            .field("window", &shared.window)
            .field("segments_per_window", &shared.segments)
            .field("auto_replenishment", &shared.auto)
            .field("queue_limit", &shared.queue_limit)
            .field("order", &shared.queue.order())
            .field("statistics", &shared.statistics())
            .finish()
    }
}
