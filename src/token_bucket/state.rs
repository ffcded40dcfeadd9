//! The token bucket's packed 128-bit state word: pure arithmetic, no atomics, no clock.
//!
//! | bits     | field         | meaning                                                            |
//! |----------|---------------|--------------------------------------------------------------------|
//! | 0..32    | `tokens`      | whole tokens (0 ..= `token_limit`, at most `u32::MAX`)             |
//! | 32..60   | `waiters`     | registered queued requests (as in the concurrency limiter's word)  |
//! | 60..64   | flags         | `DRAIN_AGAIN`, `DRAINING`, (unused), `CLOSED`                      |
//! | 64..128  | `next` / `frac` | auto mode: clock time (ns) of the next tick; manual mode: the fractional token, as a numerator over the period in nanoseconds |
//!
//! The low half has exactly the concurrency limiter's layout (`concurrency::state`), so the queue
//! bookkeeping (register, drainer role, exit) is the same pure code for both.
//!
//! # Auto mode: ticks on a grid, computed lazily
//!
//! Tick *k* happens at `origin + k·period`. The word stores the tokens as of the last tick it
//! accounts for and `next`, the time of the first tick it does not. Reading at `now >= next`
//! applies `1 + (now − next) / period` ticks at once: each adds `tokens_per_period`, capped at
//! `token_limit` — exactly what that many .NET timer ticks would have done, however long the gap
//! (the arithmetic is done in `u64`/`u128` and saturates, so years of idle time cannot wrap).
//! While `now < next` (the common case at high request rates) no division is done at all.
//!
//! **Full buckets remember when they filled.** Once a catch-up fills the bucket, `next` is stored
//! as the filling tick plus one period and left there while the bucket stays full (more ticks add
//! nothing), so `next − period` is the instant the limiter became idle (.NET sets `idleSince` on
//! the replenishment that fills the bucket). Taking tokens from a full bucket moves `next` back
//! onto the grid after `now`.
//!
//! # Manual mode: exact fractions
//!
//! `try_replenish` adds `tokens_per_period · elapsed / period` tokens (.NET's proportional rule).
//! .NET keeps a `double`; here the fraction is kept exactly as a remainder `frac < period_ns`
//! (the bucket holds `tokens + frac / period_ns`), so no rounding ever loses or invents a token.

use crate::concurrency::state::{self as lo_state, AVAILABLE_MASK, CLOSED};

/// The limiter's constant parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) limit: u32,
    pub(crate) per_period: u32,
    pub(crate) period: u64,
}

/// Splits a word into its low half (tokens, waiters, flags) and high half (`next` or `frac`).
#[inline]
pub(crate) const fn split(word: u128) -> (u64, u64) {
    (word as u64, (word >> 64) as u64)
}

#[inline]
pub(crate) const fn join(lo: u64, hi: u64) -> u128 {
    lo as u128 | (hi as u128) << 64
}

#[inline]
pub(crate) const fn tokens(lo: u64) -> u32 {
    lo_state::available(lo)
}

#[inline]
pub(crate) const fn with_tokens(lo: u64, tokens: u32) -> u64 {
    (lo & !AVAILABLE_MASK) | tokens as u64
}

#[inline]
pub(crate) const fn is_closed(lo: u64) -> bool {
    lo & CLOSED != 0
}

/// The auto-mode state brought up to a clock reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now {
    /// Tokens at `now`.
    pub(crate) tokens: u32,
    /// The first tick strictly after `now` (saturating at `u64::MAX`: no tick in range).
    pub(crate) next: u64,
    /// What to store as `next` if the tokens are not changed by the caller: `next`, or for a full
    /// bucket the filling tick + one period (see the module docs).
    pub(crate) stored_next: u64,
}

/// Applies every tick in `(.., now]` to `(tokens, next)`.
#[inline]
pub(crate) fn catch_up(tokens: u32, next: u64, now: u64, p: Params) -> Now {
    // `next == u64::MAX`: the next tick is beyond the clock's range (it saturated), so no tick is
    // ever due again; without this a clock reading `u64::MAX` would apply a phantom tick per access.
    if now < next || next == u64::MAX {
        return Now { tokens, next, stored_next: next };
    }
    catch_up_slow(tokens, next, now, p)
}

#[inline(never)]
fn catch_up_slow(tokens: u32, next: u64, now: u64, p: Params) -> Now {
    // Ticks at next, next + period, ... up to now: at least one.
    let ticks = 1 + (now - next) / p.period;
    let after_now = next.saturating_add(ticks.saturating_mul(p.period));
    if tokens >= p.limit {
        // Already full: stays full, and keeps the instant it filled.
        return Now { tokens: p.limit, next: after_now, stored_next: next };
    }
    let to_fill = ticks_to_reach(p.limit - tokens, p.per_period);
    if ticks >= to_fill {
        // The `to_fill`-th tick (at next + (to_fill − 1)·period) filled it.
        let filled_at = next.saturating_add((to_fill - 1).saturating_mul(p.period));
        Now { tokens: p.limit, next: after_now, stored_next: filled_at.saturating_add(p.period) }
    } else {
        // ticks < to_fill, so ticks·per_period < limit − tokens: no overflow, no cap.
        let tokens = tokens + (ticks * u64::from(p.per_period)) as u32;
        Now { tokens, next: after_now, stored_next: after_now }
    }
}

/// Ticks needed to add `missing` tokens at `per_period` per tick (`ceil(missing / per_period)`),
/// without a division in the common case `missing <= per_period`.
#[inline]
pub(crate) fn ticks_to_reach(missing: u32, per_period: u32) -> u64 {
    if missing <= per_period { u64::from(missing > 0) } else { u64::from(missing.div_ceil(per_period)) }
}

/// The clock time at which a bucket holding `tokens` (with its next tick at `next`) first holds
/// `need` tokens, counting only ticks (`need > tokens` or the result is `next`: the next tick is
/// the earliest a replenishment pass happens). `need` may exceed the limit only in estimates
/// (queued permits plus a request); it saturates at `u64::MAX`.
#[inline]
pub(crate) fn time_to_reach(tokens: u32, next: u64, need: u64, p: Params) -> u64 {
    let missing = need.saturating_sub(u64::from(tokens));
    let ticks = if missing <= u64::from(p.per_period) { 1 } else { missing.div_ceil(u64::from(p.per_period)) };
    let offset = u128::from(ticks - 1) * u128::from(p.period);
    u64::try_from(u128::from(next) + offset).unwrap_or(u64::MAX)
}

/// A prediction of the queue's service: the bucket after the requests served so far, each granted
/// at the first tick where it fits (head-of-line order), as the drain passes will grant them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Horizon {
    /// Tokens left after the last grant.
    pub(crate) tokens: u32,
    /// The first tick after `at`.
    pub(crate) next: u64,
    /// The instant of the last grant (or the starting point).
    pub(crate) at: u64,
    /// Whether `at` is a tick (a zero-permit request behind fits there, as in a .NET pass).
    pub(crate) at_tick: bool,
    /// The first tick so far after whose pass a token is left (a zero-permit probe, which ignores
    /// the queue, succeeds there), if one was found before the last grant.
    pub(crate) zero_at: Option<u64>,
}

/// Serves one more request of `need` permits after `h`.
#[inline]
pub(crate) fn serve(h: Horizon, need: u32, p: Params) -> Horizon {
    let fits = if need == 0 { h.at_tick || h.tokens > 0 } else { h.tokens >= need };
    if fits {
        return Horizon { tokens: h.tokens - need, ..h };
    }
    // The request waits: the pass at `h.at` (if a tick) is over; a token left after it, or any
    // tick before this request's grant tick (this request blocks them, and each adds a token),
    // would let a zero-permit probe through.
    let mut zero_at = h.zero_at;
    if zero_at.is_none() && h.at_tick && h.tokens > 0 {
        zero_at = Some(h.at);
    }
    let at = time_to_reach(h.tokens, h.next, u64::from(need.max(1)), p);
    if zero_at.is_none() && at > h.next {
        zero_at = Some(h.next);
    }
    if at == u64::MAX {
        // Beyond the clock's range: never served.
        return Horizon { tokens: 0, next: u64::MAX, at: u64::MAX, at_tick: true, zero_at };
    }
    let v = catch_up(h.tokens, h.next, at, p);
    Horizon { tokens: v.tokens - need, next: v.next, at, at_tick: true, zero_at }
}

/// When a zero-permit probe (which ignores the queue but not what the queue's grants take) first
/// succeeds, given the predicted queue `h`.
#[inline]
pub(crate) fn zero_after_horizon(h: Horizon, p: Params) -> u64 {
    h.zero_at.unwrap_or_else(|| after_horizon(h, 1, p))
}

/// When a request of `need > 0` permits, arriving after the predicted queue `h`, first succeeds.
#[inline]
pub(crate) fn after_horizon(h: Horizon, need: u32, p: Params) -> u64 {
    if h.tokens >= need { h.at } else { time_to_reach(h.tokens, h.next, u64::from(need), p) }
}

/// Manual mode: adds `per_period · elapsed / period` tokens to `(tokens, frac)`, exactly, capped at
/// the limit (a full bucket has no fraction).
#[inline]
pub(crate) fn replenish_manual(tokens: u32, frac: u64, elapsed: u64, p: Params) -> (u32, u64) {
    let total = u128::from(frac) + u128::from(p.per_period) * u128::from(elapsed);
    let whole = total / u128::from(p.period);
    let frac = (total % u128::from(p.period)) as u64;
    let tokens = u128::from(tokens) + whole;
    if tokens >= u128::from(p.limit) { (p.limit, 0) } else { (tokens as u32, frac) }
}

/// Manual mode's retry-after: periods needed for the deficit, rounded up (at least one).
#[inline]
pub(crate) fn manual_retry_periods(deficit: u64, per_period: u32) -> u64 {
    deficit.div_ceil(u64::from(per_period)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: one .NET timer tick at a time.
    fn tick_by_tick(mut tokens: u32, mut next: u64, now: u64, p: Params) -> (u32, u64) {
        while next <= now {
            tokens = (u64::from(tokens) + u64::from(p.per_period)).min(u64::from(p.limit)) as u32;
            next += p.period;
        }
        (tokens, next)
    }

    fn params() -> impl Strategy<Value = Params> {
        (1u32..50, 1u32..20, 1u64..1000).prop_map(|(limit, per_period, period)| Params { limit, per_period, period })
    }

    proptest! {
        #[test]
        fn catch_up_equals_tick_by_tick(p in params(), tokens_frac in 0.0f64..=1.0, next in 0u64..5000, gap in 0u64..20_000) {
            let tokens = (f64::from(p.limit) * tokens_frac) as u32;
            let now = next + gap;
            let got = catch_up(tokens, next, now, p);
            let (want_tokens, want_next) = tick_by_tick(tokens, next, now, p);
            prop_assert_eq!(got.tokens, want_tokens);
            prop_assert_eq!(got.next, want_next);
            prop_assert!(got.next > now);
        }

        #[test]
        fn catch_up_before_next_changes_nothing(p in params(), tokens in 0u32..50, next in 1u64..5000, back in 1u64..5000) {
            let tokens = tokens.min(p.limit);
            let now = next.saturating_sub(back);
            prop_assume!(now < next);
            prop_assert_eq!(catch_up(tokens, next, now, p), Now { tokens, next, stored_next: next });
        }

        #[test]
        fn full_bucket_remembers_filling_tick(p in params(), tokens in 0u32..50, next in 0u64..5000, gap in 0u64..20_000) {
            let tokens = tokens.min(p.limit);
            let now = next + gap;
            let got = catch_up(tokens, next, now, p);
            if got.tokens == p.limit {
                // The first tick at which the reference is full.
                let mut t = tokens;
                let mut at = next;
                if t < p.limit {
                    loop {
                        t = (t + p.per_period).min(p.limit);
                        if t == p.limit { break; }
                        at += p.period;
                    }
                    prop_assert_eq!(got.stored_next, at + p.period);
                } else {
                    prop_assert_eq!(got.stored_next, next);
                }
            } else {
                prop_assert_eq!(got.stored_next, got.next);
            }
        }

        #[test]
        fn time_to_reach_is_the_first_tick_with_enough(p in params(), tokens in 0u32..50, next in 0u64..5000, need in 1u64..120) {
            let tokens = tokens.min(p.limit);
            let at = time_to_reach(tokens, next, need, p);
            // Uncapped accumulation (the estimate's model): tokens + k·per_period >= need.
            let k = (at - next) / p.period + 1;
            prop_assert_eq!((at - next) % p.period, 0);
            prop_assert!(u64::from(tokens) + k * u64::from(p.per_period) >= need || k == 1);
            if k > 1 {
                prop_assert!(u64::from(tokens) + (k - 1) * u64::from(p.per_period) < need);
            }
        }

        #[test]
        fn manual_replenish_is_exact(p in params(), tokens in 0u32..50, elapsed in 0u64..100_000) {
            let tokens = tokens.min(p.limit);
            // Two half steps equal one whole step (fractions carried exactly).
            let (a, fa) = replenish_manual(tokens, 0, elapsed / 2, p);
            let (b, fb) = replenish_manual(a, fa, elapsed - elapsed / 2, p);
            let (c, fc) = replenish_manual(tokens, 0, elapsed, p);
            if b < p.limit && c < p.limit {
                prop_assert_eq!((b, fb), (c, fc));
            } else {
                prop_assert_eq!(b.max(c), p.limit);
            }
            let exact = (u128::from(tokens) * u128::from(p.period) + u128::from(p.per_period) * u128::from(elapsed))
                / u128::from(p.period);
            prop_assert_eq!(u128::from(c), exact.min(u128::from(p.limit)));
        }
    }

    proptest! {
        /// The horizon equals a tick-by-tick simulation of .NET's passes with head-of-line order.
        #[test]
        fn serve_matches_tick_by_tick_passes(
            p in params(),
            start in 0u32..50,
            needs in proptest::collection::vec(0u32..50, 0..6),
            probe in 1u32..50,
        ) {
            let tokens = start.min(p.limit);
            let needs: Vec<u32> = needs.into_iter().map(|n| n.min(p.limit)).collect();
            let probe = probe.min(p.limit);
            let next = p.period;
            // Reference: grant what fits now, then tick by tick.
            let mut t = tokens;
            let mut queue: std::collections::VecDeque<u32> = needs.iter().copied().collect();
            let mut now = 0u64;
            let mut at_tick = false;
            let mut last_grant = 0u64;
            let mut reference_probe_at = None;
            let mut reference_zero_at = None;
            loop {
                while let Some(&n) = queue.front() {
                    let fits = if n == 0 { at_tick || t > 0 } else { t >= n };
                    if !fits { break; }
                    t -= n;
                    queue.pop_front();
                    last_grant = now;
                }
                if queue.is_empty() && t >= probe && reference_probe_at.is_none() {
                    reference_probe_at = Some(now);
                }
                if at_tick && t >= 1 && reference_zero_at.is_none() {
                    reference_zero_at = Some(now);
                }
                if queue.is_empty() && reference_probe_at.is_some() && reference_zero_at.is_some() { break; }
                now = if now == 0 && !at_tick { next } else { now + p.period };
                t = (t + p.per_period).min(p.limit);
                at_tick = true;
            }
            let mut h = Horizon { tokens, next, at: 0, at_tick: false, zero_at: None };
            for &n in &needs {
                h = serve(h, n, p);
            }
            prop_assert_eq!(h.tokens <= p.limit, true);
            if !needs.is_empty() {
                prop_assert_eq!(h.at, last_grant);
            }
            prop_assert_eq!(Some(after_horizon(h, probe, p)), reference_probe_at);
            if tokens == 0 {
                // A refused zero-permit probe (nothing available now) succeeds after the first
                // pass that leaves a token.
                prop_assert_eq!(Some(zero_after_horizon(h, p)), reference_zero_at);
            }
        }
    }

    #[test]
    fn years_of_idle_time_saturate_without_wrapping() {
        let p = Params { limit: u32::MAX, per_period: u32::MAX, period: 1 };
        let got = catch_up(0, 1, u64::MAX - 1, p);
        assert_eq!(got.tokens, u32::MAX);
        assert_eq!(got.stored_next, 2);
        let p = Params { limit: u32::MAX, per_period: 1, period: 1 };
        let got = catch_up(0, 1, u64::MAX - 1, p);
        assert_eq!(got.tokens, u32::MAX);
        assert_eq!(got.stored_next, 1 + u64::from(u32::MAX));
        assert_eq!(time_to_reach(0, u64::MAX - 5, u64::from(u32::MAX) * 2, p), u64::MAX);
        let (t, f) = replenish_manual(0, 0, u64::MAX, Params { limit: u32::MAX, per_period: u32::MAX, period: 1 });
        assert_eq!((t, f), (u32::MAX, 0));
    }
}
