//! Model-based tests of `TokenBucketRateLimiter` and `FixedWindowRateLimiter` in auto mode: long
//! pseudo-random sequences of clock advances, attempts, queued acquisitions, cancellations and
//! statistics reads, compared step by step with a small sequential reference model of .NET's
//! tick-by-tick processing (§2.1 R1–R9, §2.3) with the crate's deliberate differences 3 (lazy,
//! exact ticks at k·period), 4 and 9 (exact `retry_after`) and 8 (a cancellation re-processes the
//! queue at once).

mod common;

use common::limiter::*;
use common::poll_once;

use std::collections::VecDeque;
use std::time::Duration;

use tollgate::{
    Clock, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

const PERIOD: u64 = 1_000;

/// The bucket by definition: tick k (at k·PERIOD) adds `per_period` tokens, capped at `limit`, then
/// serves the queue from its head (oldest first) or tail (newest first) while the request there
/// fits, stopping at the first that does not (a zero-permit request always fits at a tick).
#[derive(Clone)]
struct Model {
    limit: u64,
    per_period: u64,
    newest_first: bool,
    queue_limit: u64,
    tokens: u64,
    tick: u64,
    /// Pending requests, oldest first: (id, permits).
    queue: VecDeque<(usize, u64)>,
    /// Per request id: None while pending, then whether it was granted.
    outcome: Vec<Option<bool>>,
    failed: u64,
    successful: u64,
}

impl Model {
    fn new(limit: u32, per_period: u32, order: QueueProcessingOrder, queue_limit: u32) -> Self {
        Model {
            limit: u64::from(limit),
            per_period: u64::from(per_period),
            newest_first: order == NewestFirst,
            queue_limit: u64::from(queue_limit),
            tokens: u64::from(limit),
            tick: 0,
            queue: VecDeque::new(),
            outcome: Vec::new(),
            failed: 0,
            successful: 0,
        }
    }

    fn queued_permits(&self) -> u64 {
        self.queue.iter().map(|&(_, n)| n).sum()
    }

    fn advance_to(&mut self, tick: u64) {
        while self.tick < tick {
            self.tick += 1;
            self.tokens = (self.tokens + self.per_period).min(self.limit);
            self.process(true);
        }
    }

    /// One processing pass; `zero_fits`: whether a zero-permit request reached fits.
    fn process(&mut self, zero_fits: bool) {
        while let Some(&(id, n)) = if self.newest_first { self.queue.back() } else { self.queue.front() } {
            let fits = if n == 0 { zero_fits } else { self.tokens >= n };
            if !fits {
                break;
            }
            if self.newest_first {
                self.queue.pop_back();
            } else {
                self.queue.pop_front();
            }
            self.tokens -= n;
            self.outcome[id] = Some(true);
            self.successful += 1;
        }
    }

    /// R1 step 2–3: whether a new request for `n` is granted at once.
    fn fits_now(&self, n: u64) -> bool {
        if n == 0 { self.tokens > 0 } else { self.tokens >= n && (self.queue.is_empty() || self.newest_first) }
    }

    fn attempt(&mut self, n: u64) -> bool {
        let granted = self.fits_now(n);
        if granted {
            self.tokens -= n;
            self.successful += 1;
        } else {
            self.failed += 1;
        }
        granted
    }

    /// R2: Some(granted) if decided at once, None if queued.
    fn acquire(&mut self, id: usize, n: u64) -> Option<bool> {
        assert_eq!(self.outcome.len(), id);
        self.outcome.push(None);
        if self.fits_now(n) {
            self.tokens -= n;
            self.successful += 1;
            self.outcome[id] = Some(true);
        } else if self.queue_limit.saturating_sub(self.queued_permits()) < n {
            if self.newest_first && n <= self.queue_limit {
                while self.queue_limit - self.queued_permits() < n {
                    let (evicted, _) = self.queue.pop_front().expect("something to evict");
                    self.outcome[evicted] = Some(false);
                    self.failed += 1;
                }
                self.queue.push_back((id, n));
            } else {
                self.failed += 1;
                self.outcome[id] = Some(false);
            }
        } else {
            self.queue.push_back((id, n));
        }
        self.outcome[id]
    }

    /// Difference 8: the request leaves at once and the queue is processed again; a zero-permit
    /// request reached fits if a token was available as the pass began (`wait::QueueHost`).
    fn cancel(&mut self, id: usize) {
        if let Some(position) = self.queue.iter().position(|&(i, _)| i == id) {
            self.queue.remove(position);
            self.process(self.tokens > 0);
        }
    }

    /// The first tick at which the same request would be granted at once if nothing else arrived
    /// (the queue served at every tick first).
    fn first_tick_granting(&self, n: u64) -> u64 {
        let mut future = self.clone();
        loop {
            future.advance_to(future.tick + 1);
            if future.fits_now(n) {
                return future.tick;
            }
        }
    }
}

fn window(limit: u32, order: QueueProcessingOrder, queue_limit: u32, clock: &ManualClock) -> Box<dyn RateLimiter> {
    let options = FixedWindowRateLimiterOptions {
        permit_limit: limit,
        window: Duration::from_nanos(PERIOD),
        auto_replenishment: true,
        queue_processing_order: order,
        queue_limit,
    };
    Box::new(FixedWindowRateLimiter::with_clock(options, clock.clone()).expect("valid options"))
}

/// Counts of what a run exercised.
#[derive(Default, Debug)]
struct Coverage {
    granted_at_once: u32,
    refused: u32,
    queued: u32,
    granted_later: u32,
    evicted_or_full: u32,
    cancelled: u32,
    exact_retry_checked: u32,
    exact_retry_behind_queue: u32,
}

/// Runs `steps` pseudo-random steps on `limiter` (whose clock is `clock`, reading zero at its
/// construction) against `model`.
fn run(
    limiter: &dyn RateLimiter,
    clock: &ManualClock,
    mut model: Model,
    seed: u64,
    steps: u32,
    name: &str,
) -> Coverage {
    let mut seed = seed | 1;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let order = if model.newest_first { NewestFirst } else { OldestFirst };
    let mut cov = Coverage::default();
    let mut pending: Vec<(usize, Waiting<'_>)> = Vec::new();
    let mut ids = 0;
    for step in 0..steps {
        let context = format!(
            "{name}, {order:?}, limit {}, {} per period, queue {}, step {step} at {} ns",
            model.limit,
            model.per_period,
            model.queue_limit,
            clock.now_nanos()
        );
        model.advance_to(clock.now_nanos() / PERIOD);
        match next(12) {
            0..=2 => {
                // Less than a period, or up to several periods at once.
                let by = if next(2) == 0 { next(PERIOD) } else { next(4 * PERIOD + 1) };
                clock.advance(Duration::from_nanos(by));
            }
            3 => {
                // A clock advance followed by a statistics read before any waiter is polled.
                clock.advance(Duration::from_nanos(next(3 * PERIOD)));
                model.advance_to(clock.now_nanos() / PERIOD);
                let expected = snapshot(model.tokens, model.queued_permits(), model.failed, model.successful);
                assert_eq!(stats(limiter), expected, "{context}: statistics right after advancing");
            }
            4..=5 => {
                let permits = next(model.limit + 1);
                let exact = model.queue.is_empty() || !model.newest_first;
                let retry_at = exact.then(|| model.first_tick_granting(permits) * PERIOD);
                let lease = limiter.attempt_acquire(permits as u32).unwrap();
                assert_eq!(lease.is_acquired(), model.attempt(permits), "{context}: attempt({permits})");
                if lease.is_acquired() {
                    cov.granted_at_once += 1;
                } else {
                    cov.refused += 1;
                    check_retry(&lease, retry_at, clock, &model, &mut cov, &format!("{context}: attempt({permits})"));
                }
            }
            6..=8 => {
                let permits = next(model.limit + 1);
                let id = ids;
                ids += 1;
                let exact = model.queue.is_empty() || !model.newest_first;
                let retry_at = exact.then(|| model.first_tick_granting(permits) * PERIOD);
                let mut wait = Box::pin(limiter.acquire(permits as u32));
                let polled = poll_once(&mut wait).map(|result| result.unwrap());
                let decided = polled.as_ref().map(RateLimitLease::is_acquired);
                let before = model.failed;
                assert_eq!(decided, model.acquire(id, permits), "{context}: acquire({permits}) as request {id}");
                cov.evicted_or_full += (model.failed - before) as u32;
                match polled {
                    None => {
                        cov.queued += 1;
                        pending.push((id, wait));
                    }
                    Some(lease) if !lease.is_acquired() => {
                        let context = format!("{context}: queue-full acquire({permits})");
                        check_retry(&lease, retry_at, clock, &model, &mut cov, &context);
                    }
                    Some(_) => cov.granted_at_once += 1,
                }
            }
            9 => {
                if !pending.is_empty() {
                    let (id, wait) = pending.remove(next(pending.len() as u64) as usize);
                    drop(wait);
                    model.cancel(id);
                    cov.cancelled += 1;
                }
            }
            _ => {
                let expected = snapshot(model.tokens, model.queued_permits(), model.failed, model.successful);
                assert_eq!(stats(limiter), expected, "{context}: statistics");
            }
        }
        model.advance_to(clock.now_nanos() / PERIOD);
        // Poll in the order of service, next-in-line first, as an executor woken by the clock would.
        if model.newest_first {
            pending.reverse();
        }
        pending.retain_mut(|(id, wait)| match poll_once(wait) {
            None => {
                assert_eq!(model.outcome[*id], None, "{context}: request {id} should be decided");
                true
            }
            Some(result) => {
                let granted = result.unwrap().is_acquired();
                assert_eq!(model.outcome[*id], Some(granted), "{context}: request {id}");
                cov.granted_later += u32::from(granted);
                false
            }
        });
        if model.newest_first {
            pending.reverse();
        }
        let expected = snapshot(model.tokens, model.queued_permits(), model.failed, model.successful);
        assert_eq!(stats(limiter), expected, "{context}: statistics after polling");
    }
    cov
}

/// A refusal's `retry_after`: always present; equal to the model's where it is documented exact.
fn check_retry(
    lease: &RateLimitLease,
    retry_at: Option<u64>,
    clock: &ManualClock,
    model: &Model,
    cov: &mut Coverage,
    context: &str,
) {
    let retry = lease.retry_after();
    assert!(
        retry.is_some_and(|r| r > Duration::ZERO),
        "{context}: a refusal carries a positive retry_after, got {retry:?}; model: {} tokens, queue {:?}, expected at {retry_at:?}",
        model.tokens,
        model.queue
    );
    if let Some(at) = retry_at {
        assert_eq!(retry, Some(Duration::from_nanos(at - clock.now_nanos())), "{context}: exact retry_after");
        cov.exact_retry_checked += 1;
        cov.exact_retry_behind_queue += u32::from(!model.queue.is_empty());
    }
}

/// Deterministic parameter draws: (token_limit 1..=6, tokens_per_period 1..=4, queue_limit 0..=8).
fn shapes(seed: u64, count: usize) -> Vec<(u32, u32, u32)> {
    let mut s = seed;
    let mut next = |bound: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % bound) as u32
    };
    let mut shapes = vec![(1, 1, 0), (6, 4, 8), (3, 2, 5), (4, 1, 8), (5, 3, 0), (2, 4, 1)];
    while shapes.len() < count {
        shapes.push((1 + next(6), 1 + next(4), next(9)));
    }
    shapes
}

fn accumulate(cov: &Coverage, total: &mut Coverage) {
    total.granted_at_once += cov.granted_at_once;
    total.refused += cov.refused;
    total.queued += cov.queued;
    total.granted_later += cov.granted_later;
    total.evicted_or_full += cov.evicted_or_full;
    total.cancelled += cov.cancelled;
    total.exact_retry_checked += cov.exact_retry_checked;
    total.exact_retry_behind_queue += cov.exact_retry_behind_queue;
}

fn assert_exercised(total: &Coverage) {
    assert!(total.granted_at_once > 1_000 && total.refused > 1_000, "{total:?}");
    assert!(total.queued > 1_000 && total.granted_later > 500 && total.cancelled > 200, "{total:?}");
    assert!(total.evicted_or_full > 200 && total.exact_retry_behind_queue > 200, "{total:?}");
}

// .NET: (none) — the token bucket in auto mode, either queue order, 24 shapes × 3,000 steps each,
// compared step by step with the sequential model.
#[test]
fn token_bucket_matches_a_sequential_model() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, per_period, queue_limit)) in shapes(0x9e37_79b9_7f4a_7c15, 24).into_iter().enumerate() {
            let clock = ManualClock::new();
            let options = TokenBucketRateLimiterOptions {
                token_limit: limit,
                tokens_per_period: per_period,
                replenishment_period: Duration::from_nanos(PERIOD),
                auto_replenishment: true,
                queue_processing_order: order,
                queue_limit,
            };
            let limiter = TokenBucketRateLimiter::with_clock(options, clock.clone()).unwrap();
            let model = Model::new(limit, per_period, order, queue_limit);
            let seed = 0x2545_f491_4f6c_dd1d ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let cov = run(&limiter, &clock, model, seed, 3_000, "token bucket");
            accumulate(&cov, &mut total);
        }
    }
    assert_exercised(&total);
}

// .NET: (none) — the fixed window in auto mode is the same model with tokens_per_period =
// token_limit = permit_limit (every boundary is a reset).
#[test]
fn fixed_window_matches_a_sequential_model() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, _, queue_limit)) in shapes(0x5851_f42d_4c95_7f2d, 16).into_iter().enumerate() {
            let clock = ManualClock::new();
            let limiter = window(limit, order, queue_limit, &clock);
            let model = Model::new(limit, limit, order, queue_limit);
            let seed = 0xd1b5_4a32_d192_ed03 ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let cov = run(&*limiter, &clock, model, seed, 3_000, "fixed window");
            accumulate(&cov, &mut total);
        }
    }
    assert_exercised(&total);
}

/// A refused `attempt_acquire(0)` behind an oldest-first queue, right after a tick granted the
/// queue's head (at `advance`): the documented hint is "the first tick after whose pass a token is
/// left (exact)", `retry` away; retrying then succeeds, a nanosecond earlier does not.
fn zero_probe_after_a_grant(
    limiter: &dyn RateLimiter,
    clock: &ManualClock,
    take: u32,
    queued: &[u32],
    advance: u64,
    retry: u64,
) {
    assert!(limiter.attempt_acquire(take).unwrap().is_acquired());
    let mut waits: Vec<Waiting<'_>> = queued.iter().map(|&n| Box::pin(limiter.acquire(n))).collect();
    assert!(waits.iter_mut().all(|wait| poll_once(wait).is_none()), "all queued");
    clock.advance(Duration::from_nanos(advance));
    let probe = limiter.attempt_acquire(0).unwrap();
    assert!(!probe.is_acquired(), "no token left after the head's grant");
    assert_eq!(probe.retry_after(), Some(Duration::from_nanos(retry)), "the queue's rest takes the next tick's tokens");
    let _ = assert_retry_after_is_tight(clock, Duration::from_nanos(retry), || limiter.attempt_acquire(0).unwrap());
}

// Regression (found by `token_bucket_matches_a_sequential_model`; the forecast's zero-permit point
// went stale once the clock passed it, and the hint came out as 0 ns): token_limit 3, 2 tokens per
// 1 µs, OldestFirst, queue_limit 5. At t = 0 take all 3 tokens, queue acquire(3) then acquire(2).
// At t = 2 µs tick 1 gave 2 tokens (the head does not fit), tick 2 filled the bucket and granted
// the head: 0 tokens, 2 permits queued. attempt_acquire(0) is refused; tick 3 grants the queued 2,
// leaving 0, and tick 4 is the first after whose pass a token is left: 2 µs.
#[test]
fn zero_probe_retry_after_behind_queue_right_after_a_grant() {
    let clock = ManualClock::new();
    let options = TokenBucketRateLimiterOptions {
        token_limit: 3,
        tokens_per_period: 2,
        replenishment_period: Duration::from_nanos(PERIOD),
        auto_replenishment: true,
        queue_processing_order: OldestFirst,
        queue_limit: 5,
    };
    let limiter = TokenBucketRateLimiter::with_clock(options, clock.clone()).unwrap();
    zero_probe_after_a_grant(&limiter, &clock, 3, &[3, 2], 2 * PERIOD, 2 * PERIOD);
}
