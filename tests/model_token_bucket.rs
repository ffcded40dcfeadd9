//! Model-based tests of `TokenBucketRateLimiter` and `FixedWindowRateLimiter` in auto and manual
//! mode: sequences of clock advances, attempts, queued acquisitions, cancellations, statistics
//! reads, `try_replenish` calls and a disposal, compared step by step with a small sequential
//! reference model of .NET's tick-by-tick processing (§2.1 R1–R9, §2.3) with the crate's deliberate
//! differences 3 (lazy, exact ticks at k·period), 4 and 9 (exact `retry_after`), 7 (statistics stay
//! readable after dispose) and 8 (a cancellation re-processes the queue at once). Manual mode
//! follows .NET's `Replenish` (§2.3: tokens proportional to the time since the last replenishment
//! that found the bucket not full, the fraction kept exactly; §2.4: at most one reset per call and
//! none within a window of the last call that passed that check), with the crate's manual
//! `retry_after`: the periods needed, rounded up, times the period.
//!
//! The sequences are drawn by proptest (shape and operations), which shrinks a failure to a
//! minimal sequence and records its seed in `tests/proptest-regressions/model_token_bucket.txt`
//! (replayed first on every later run); long fixed pseudo-random sequences must, in addition,
//! exercise every kind of operation and outcome.

mod common;

use common::limiter::*;
use common::poll_once;

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tollgate::{
    AcquireError, Clock, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, ReplenishingRateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

const PERIOD: u64 = 1_000;

/// The bucket by definition: tick k (at k·PERIOD) adds `per_period` tokens, capped at `limit`, then
/// serves the queue from its head (oldest first) or tail (newest first) while the request there
/// fits, stopping at the first that does not (a zero-permit request always fits at a tick).
/// In manual mode only `try_replenish` adds tokens ([`Rule`]); a disposal fails the queue.
#[derive(Clone)]
struct Model {
    rule: Rule,
    /// Manual token bucket: the fractional token, as a numerator over `PERIOD` (the bucket holds
    /// `tokens + frac / PERIOD`); always 0 when full.
    frac: u64,
    /// Manual mode: the clock reading of the last replenishment that found the bucket not full
    /// (token bucket) or that passed the once-per-window check (fixed window); construction first.
    last: u64,
    /// Disposed.
    closed: bool,
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
    fn new(rule: Rule, limit: u32, per_period: u32, order: QueueProcessingOrder, queue_limit: u32) -> Self {
        Model {
            rule,
            frac: 0,
            last: 0,
            closed: false,
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

    /// Auto mode: applies the ticks up to `tick` (they keep adding tokens after a disposal, which
    /// only the statistics can see). Manual mode: nothing (time alone adds nothing).
    fn advance_to(&mut self, tick: u64) {
        if self.rule != Rule::Auto {
            return;
        }
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
    /// A manual bucket's fraction of a token counts as available for a zero-permit request.
    fn fits_now(&self, n: u64) -> bool {
        if n == 0 {
            self.tokens > 0 || self.frac > 0
        } else {
            self.tokens >= n && (self.queue.is_empty() || self.newest_first)
        }
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
            self.process(self.tokens > 0 || self.frac > 0);
        }
    }

    /// `try_replenish()` at clock reading `now` in manual mode (§2.3, §2.4; nothing after a
    /// disposal): whether it changed the tokens. A replenishment that is not skipped processes the
    /// queue, where a zero-permit request reached always fits.
    fn try_replenish(&mut self, now: u64) -> bool {
        if self.closed {
            return false;
        }
        match self.rule {
            Rule::Auto => return false,
            Rule::Proportional => {
                if self.tokens >= self.limit {
                    // Full: nothing happens, and the last replenishment's time is kept.
                    return false;
                }
                let elapsed = now - self.last;
                self.last = now;
                let total = self.frac + self.per_period * elapsed;
                self.tokens += total / PERIOD;
                self.frac = total % PERIOD;
                if self.tokens >= self.limit {
                    self.tokens = self.limit;
                    self.frac = 0;
                }
            }
            Rule::ResetPerWindow => {
                if now - self.last < PERIOD {
                    return false;
                }
                // The window's start moves even if it is full.
                self.last = now;
                if self.tokens >= self.limit {
                    return false;
                }
                self.tokens = self.limit;
            }
        }
        self.process(true);
        true
    }

    /// Manual mode's `retry_after` for a refused request of `n` permits: the deficit (the queued
    /// permits, for `n > 0`, plus `n`, less the whole tokens) in periods, rounded up, at least one.
    fn manual_retry(&self, n: u64) -> Duration {
        let queued = if n == 0 { 0 } else { self.queued_permits() };
        let deficit = (queued + n).saturating_sub(self.tokens);
        Duration::from_nanos(deficit.div_ceil(self.per_period).max(1) * PERIOD)
    }

    /// `dispose()`: every pending request completes not acquired (not counted as a failure).
    fn dispose(&mut self) {
        self.closed = true;
        for (id, _) in self.queue.drain(..) {
            self.outcome[id] = Some(false);
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

/// How tokens come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Auto mode: ticks at k·`PERIOD`.
    Auto,
    /// Manual token bucket (§2.3): `per_period · elapsed / PERIOD` tokens since the last
    /// replenishment that found the bucket not full, the fraction kept exactly.
    Proportional,
    /// Manual fixed window (§2.4): a full reset, at most once per window since the last call that
    /// passed that check.
    ResetPerWindow,
}

fn window(
    limit: u32,
    order: QueueProcessingOrder,
    queue_limit: u32,
    manual: bool,
    clock: &ManualClock,
) -> FixedWindowRateLimiter<ManualClock> {
    let options = FixedWindowRateLimiterOptions {
        permit_limit: limit,
        window: Duration::from_nanos(PERIOD),
        auto_replenishment: !manual,
        queue_processing_order: order,
        queue_limit,
    };
    FixedWindowRateLimiter::with_clock(options, clock.clone()).expect("valid options")
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
    /// Manual mode: `try_replenish` calls that added tokens (or reset the window).
    replenished: u32,
    /// Manual mode: `try_replenish` calls that changed nothing (full, or too early for a window).
    replenish_skipped: u32,
    /// Manual token bucket: zero-permit requests granted on a fraction of a token alone.
    granted_on_fraction: u32,
    /// Manual mode: refusals whose `retry_after` was compared with the model's.
    manual_retry_checked: u32,
    /// Pending requests released (not acquired) by a disposal.
    released_by_dispose: u32,
    /// Attempts and acquisitions after a disposal (each `Err(Disposed)`).
    after_dispose: u32,
    /// `try_replenish` calls (in either mode).
    replenish_calls: u32,
}

/// One step of a run. Permit counts lie in `0..=limit` of the run's shape.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Advance the clock by this many nanoseconds (less than a period, or several at once).
    Advance(u64),
    /// Advance the clock by this many nanoseconds, then read the statistics before any waiter is
    /// polled.
    AdvanceThenStats(u64),
    /// `attempt_acquire(permits)`; a refusal's `retry_after` is checked.
    Attempt(u32),
    /// `acquire(permits)`, polled once: decided at once, or kept pending (queued).
    Acquire(u32),
    /// Drop the pending future at this index (modulo their number, oldest first); nothing if
    /// none is pending.
    Cancel(usize),
    /// Read the statistics.
    Stats,
    /// Advance the clock by this many nanoseconds, then `try_replenish()` (false in auto mode).
    TryReplenish(u64),
    /// `dispose()`: pending requests complete not acquired, later requests are `Err(Disposed)`.
    Dispose,
}

/// The limiter's parameters (the fixed window's are `per_period = limit`).
#[derive(Clone, Copy, Debug)]
struct Shape {
    limit: u32,
    per_period: u32,
    queue_limit: u32,
    order: QueueProcessingOrder,
    /// `auto_replenishment: false`.
    manual: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    TokenBucket,
    FixedWindow,
}

/// Builds the limiter of `kind` and `shape` on a fresh clock and runs `ops` on it against the model.
fn run(kind: Kind, shape: Shape, ops: &[Op]) -> Coverage {
    let mut ops = ops.iter().copied();
    run_with(kind, shape, |_| ops.next())
}

/// Builds the limiter as [`run`] does and applies the operations from `next_op`, which is told how
/// many futures are pending (the fixed sequences draw a cancel's index only when one is).
fn run_with(kind: Kind, shape: Shape, next_op: impl FnMut(usize) -> Option<Op>) -> Coverage {
    let Shape { limit, per_period, queue_limit, order, manual } = shape;
    let clock = ManualClock::new();
    match kind {
        Kind::TokenBucket => {
            let options = TokenBucketRateLimiterOptions {
                token_limit: limit,
                tokens_per_period: per_period,
                replenishment_period: Duration::from_nanos(PERIOD),
                auto_replenishment: !manual,
                queue_processing_order: order,
                queue_limit,
            };
            let limiter = TokenBucketRateLimiter::with_clock(options, clock.clone()).unwrap();
            let rule = if manual { Rule::Proportional } else { Rule::Auto };
            let model = Model::new(rule, limit, per_period, order, queue_limit);
            apply(&limiter, &limiter, &clock, model, next_op, "token bucket")
        }
        Kind::FixedWindow => {
            assert_eq!(per_period, limit, "every boundary of a fixed window is a reset");
            let limiter = window(limit, order, queue_limit, manual, &clock);
            let rule = if manual { Rule::ResetPerWindow } else { Rule::Auto };
            let model = Model::new(rule, limit, limit, order, queue_limit);
            apply(&limiter, &limiter, &clock, model, next_op, "fixed window")
        }
    }
}

/// Applies the operations from `next_op` to `limiter` (whose clock is `clock`, reading zero at its
/// construction) and to `model`, comparing them after every step.
fn apply(
    limiter: &dyn RateLimiter,
    replenishing: &dyn ReplenishingRateLimiter,
    clock: &ManualClock,
    mut model: Model,
    mut next_op: impl FnMut(usize) -> Option<Op>,
    name: &str,
) -> Coverage {
    let order = if model.newest_first { NewestFirst } else { OldestFirst };
    let mut cov = Coverage::default();
    let mut pending: Vec<(usize, Waiting<'_>)> = Vec::new();
    let mut ids = 0;
    let mut step = 0;
    while let Some(op) = next_op(pending.len()) {
        let context = format!(
            "{name}, {:?}, {order:?}, limit {}, {} per period, queue {}, step {step} ({op:?}) at {} ns",
            model.rule,
            model.limit,
            model.per_period,
            model.queue_limit,
            clock.now_nanos()
        );
        step += 1;
        model.advance_to(clock.now_nanos() / PERIOD);
        match op {
            Op::Advance(by) => clock.advance(Duration::from_nanos(by)),
            Op::AdvanceThenStats(by) => {
                clock.advance(Duration::from_nanos(by));
                model.advance_to(clock.now_nanos() / PERIOD);
                let expected = snapshot(model.tokens, model.queued_permits(), model.failed, model.successful);
                assert_eq!(stats(limiter), expected, "{context}: statistics right after advancing");
            }
            Op::Attempt(permits) if model.closed => {
                let result = limiter.attempt_acquire(permits);
                assert_eq!(result.err(), Some(AcquireError::Disposed), "{context}: attempt({permits}) after dispose");
                cov.after_dispose += 1;
            }
            Op::Attempt(permits) => {
                let permits = u64::from(permits);
                let retry_at = expected_retry(&model, permits, clock);
                let on_fraction = permits == 0 && model.tokens == 0 && model.frac > 0;
                let lease = limiter.attempt_acquire(permits as u32).unwrap();
                assert_eq!(lease.is_acquired(), model.attempt(permits), "{context}: attempt({permits})");
                if lease.is_acquired() {
                    cov.granted_at_once += 1;
                    cov.granted_on_fraction += u32::from(on_fraction);
                } else {
                    cov.refused += 1;
                    check_retry(&lease, retry_at, clock, &model, &mut cov, &format!("{context}: attempt({permits})"));
                }
            }
            Op::Acquire(permits) if model.closed => {
                let result = poll_once(&mut Box::pin(limiter.acquire(permits)));
                assert_eq!(result.map(|r| r.err()), Some(Some(AcquireError::Disposed)), "{context}: after dispose");
                cov.after_dispose += 1;
            }
            Op::Acquire(permits) => {
                let permits = u64::from(permits);
                let id = ids;
                ids += 1;
                let retry_at = expected_retry(&model, permits, clock);
                let on_fraction = permits == 0 && model.tokens == 0 && model.frac > 0;
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
                    Some(_) => {
                        cov.granted_at_once += 1;
                        cov.granted_on_fraction += u32::from(on_fraction);
                    }
                }
            }
            Op::Cancel(index) => {
                if !pending.is_empty() {
                    let (id, wait) = pending.remove(index % pending.len());
                    drop(wait);
                    model.cancel(id);
                    cov.cancelled += 1;
                }
            }
            Op::Stats => {
                let expected = snapshot(model.tokens, model.queued_permits(), model.failed, model.successful);
                assert_eq!(stats(limiter), expected, "{context}: statistics");
            }
            Op::TryReplenish(by) => {
                clock.advance(Duration::from_nanos(by));
                model.advance_to(clock.now_nanos() / PERIOD);
                let auto = model.rule == Rule::Auto;
                cov.replenish_calls += 1;
                assert_eq!(replenishing.try_replenish(), !auto, "{context}: try_replenish");
                if !auto && !model.closed {
                    if model.try_replenish(clock.now_nanos()) {
                        cov.replenished += 1;
                    } else {
                        cov.replenish_skipped += 1;
                    }
                }
            }
            Op::Dispose => {
                cov.released_by_dispose += pending.len() as u32;
                limiter.dispose();
                model.dispose();
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
                let lease = result.unwrap();
                let granted = lease.is_acquired();
                assert_eq!(model.outcome[*id], Some(granted), "{context}: request {id}");
                if model.closed && !granted {
                    assert_eq!(lease.retry_after(), None, "{context}: request {id} released by dispose");
                }
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

/// The `retry_after` of a refusal of `permits` now, where it is documented exact: in auto mode the
/// wait until the first tick granting it (nothing queued, or oldest-first); in manual mode always.
fn expected_retry(model: &Model, permits: u64, clock: &ManualClock) -> Option<Duration> {
    if model.rule != Rule::Auto {
        return Some(model.manual_retry(permits));
    }
    let exact = model.queue.is_empty() || !model.newest_first;
    exact.then(|| Duration::from_nanos(model.first_tick_granting(permits) * PERIOD - clock.now_nanos()))
}

/// A refusal's `retry_after`: always present; equal to the model's where it is documented exact.
fn check_retry(
    lease: &RateLimitLease,
    retry_at: Option<Duration>,
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
    if let Some(wait) = retry_at {
        assert_eq!(retry, Some(wait), "{context}: exact retry_after at {} ns", clock.now_nanos());
        if model.rule == Rule::Auto {
            cov.exact_retry_checked += 1;
            cov.exact_retry_behind_queue += u32::from(!model.queue.is_empty());
        } else {
            cov.manual_retry_checked += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests: proptest draws the shape and the operations, shrinks a failure to a minimal
// sequence and records its seed in tests/proptest-regressions/model_token_bucket.txt (replayed
// first on every later run).
// ---------------------------------------------------------------------------------------------

/// Proptest cases per property test (each of up to `MAX_OPS` operations).
const CASES: u32 = 256;
const MAX_OPS: usize = 400;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Proptest's default stops shrinking after 4 × cases steps, far from a minimal sequence.
        max_shrink_iters: 50_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/model_token_bucket.txt"
        )))),
        ..ProptestConfig::default()
    }
}

/// The operation mix, as in the fixed sequences (`seeded_ops`): 3 in 13 advances (half of them
/// less than a period), 1 advance with a statistics read, 2 attempts, 3 acquires, 1 cancel, 2
/// reads, 1 `try_replenish` after an advance; in manual mode half the advances are `try_replenish`
/// calls after them (time alone adds nothing there).
fn op(limit: u32, manual: bool) -> impl Strategy<Value = Op> {
    let advance = prop_oneof![0..PERIOD, 0..=4 * PERIOD];
    let replenish = prop_oneof![0..PERIOD, 0..=2 * PERIOD];
    let (advances, replenishes) = if manual { (2, 3) } else { (3, 1) };
    prop_oneof![
        advances => advance.prop_map(Op::Advance),
        1 => (0..3 * PERIOD).prop_map(Op::AdvanceThenStats),
        2 => (0..=limit).prop_map(Op::Attempt),
        3 => (0..=limit).prop_map(Op::Acquire),
        1 => (0..64usize).prop_map(Op::Cancel),
        2 => Just(Op::Stats),
        replenishes => replenish.prop_map(Op::TryReplenish),
    ]
}

/// A shape (token_limit 1..=6, tokens_per_period 1..=4, queue_limit 0..=8, either order, manual
/// mode in 2 cases of 5; the fixed window's per-period is its limit) and up to `MAX_OPS` operations
/// for it, in half the cases with a disposal among the last 8.
fn case(kind: Kind) -> impl Strategy<Value = (Shape, Vec<Op>)> {
    let order = prop_oneof![Just(OldestFirst), Just(NewestFirst)];
    let manual = prop::bool::weighted(0.4);
    (1u32..=6, 1u32..=4, 0u32..=8, order, manual).prop_flat_map(
        move |(limit, per_period, queue_limit, order, manual)| {
            let per_period = if kind == Kind::FixedWindow { limit } else { per_period };
            let shape = Shape { limit, per_period, queue_limit, order, manual };
            let ops = prop::collection::vec(op(limit, manual), 1..=MAX_OPS);
            (Just(shape), ops, prop::option::of(0..8usize)).prop_map(|(shape, mut ops, dispose)| {
                if let Some(from_end) = dispose {
                    ops.insert(ops.len().saturating_sub(from_end), Op::Dispose);
                }
                (shape, ops)
            })
        },
    )
}

proptest! {
    #![proptest_config(config())]

    // .NET: (none) — the token bucket in auto and manual mode, either queue order, proptest-drawn
    // shapes and operation sequences (with `try_replenish` calls and a disposal near the end),
    // compared step by step with the sequential model.
    #[test]
    fn token_bucket_matches_a_sequential_model((shape, ops) in case(Kind::TokenBucket)) {
        run(Kind::TokenBucket, shape, &ops);
    }

    // .NET: (none) — the fixed window in auto mode is the same model with tokens_per_period =
    // token_limit = permit_limit (every boundary is a reset); in manual mode, .NET's reset rule.
    #[test]
    fn fixed_window_matches_a_sequential_model((shape, ops) in case(Kind::FixedWindow)) {
        run(Kind::FixedWindow, shape, &ops);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed sequences: long deterministic runs that must exercise every kind of operation and outcome
// ---------------------------------------------------------------------------------------------

/// `steps` pseudo-random operations (xorshift from `seed`) for a limiter of `limit`, in the mix
/// `op` draws (`manual`: its manual-mode mix), as a `next_op` for [`run_with`]: a cancel draws its
/// index only if a future is pending; one operation among the last 60 is a disposal (the first
/// there with a future pending, or 30 steps before the end).
fn seeded_ops(seed: u64, steps: u32, limit: u32, manual: bool) -> impl FnMut(usize) -> Option<Op> {
    let mut seed = seed | 1;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut step = 0;
    let mut disposed = false;
    move |pending| {
        (step < steps).then(|| {
            step += 1;
            if !disposed && step + 60 >= steps && (pending > 0 || step + 30 >= steps) {
                disposed = true;
                return Op::Dispose;
            }
            let replenish = |next: &mut dyn FnMut(u64) -> u64| {
                Op::TryReplenish(if next(2) == 0 { next(PERIOD) } else { next(2 * PERIOD + 1) })
            };
            match next(13) {
                0 if manual => replenish(&mut next),
                0..=2 if manual && next(3) == 0 => replenish(&mut next),
                0..=2 => Op::Advance(if next(2) == 0 { next(PERIOD) } else { next(4 * PERIOD + 1) }),
                3 => Op::AdvanceThenStats(next(3 * PERIOD)),
                12 => replenish(&mut next),
                4..=5 => Op::Attempt(next(u64::from(limit) + 1) as u32),
                6..=8 => Op::Acquire(next(u64::from(limit) + 1) as u32),
                9 => Op::Cancel(if pending > 0 { next(pending as u64) as usize } else { 0 }),
                _ => Op::Stats,
            }
        })
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
    total.replenished += cov.replenished;
    total.replenish_skipped += cov.replenish_skipped;
    total.granted_on_fraction += cov.granted_on_fraction;
    total.manual_retry_checked += cov.manual_retry_checked;
    total.released_by_dispose += cov.released_by_dispose;
    total.after_dispose += cov.after_dispose;
    total.replenish_calls += cov.replenish_calls;
}

/// The disposal near the end of every run: queued requests released, later requests refused.
fn assert_dispose_exercised(total: &Coverage) {
    assert!(total.released_by_dispose > 20 && total.after_dispose > 200, "{total:?}");
    assert!(total.replenish_calls > 1_000, "{total:?}");
}

/// Manual mode: replenishments that add and that are skipped, exact retry hints, the queue.
fn assert_manual_exercised(total: &Coverage) {
    assert!(total.granted_at_once > 1_000 && total.refused > 1_000, "{total:?}");
    assert!(total.queued > 500 && total.granted_later > 200 && total.cancelled > 100, "{total:?}");
    assert!(total.replenished > 1_000 && total.replenish_skipped > 200, "{total:?}");
    assert!(total.manual_retry_checked > 1_000 && total.evicted_or_full > 100, "{total:?}");
    assert_dispose_exercised(total);
}

fn assert_exercised(total: &Coverage) {
    assert!(total.granted_at_once > 1_000 && total.refused > 1_000, "{total:?}");
    assert!(total.queued > 1_000 && total.granted_later > 500 && total.cancelled > 200, "{total:?}");
    assert!(total.evicted_or_full > 200 && total.exact_retry_behind_queue > 200, "{total:?}");
}

// .NET: (none) — the token bucket in auto mode, either queue order, 24 fixed shapes × 3,000 fixed
// pseudo-random steps each, compared step by step with the sequential model; together they must
// exercise every kind of operation and outcome.
#[test]
fn token_bucket_fixed_sequences_match_the_model_and_exercise_every_operation() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, per_period, queue_limit)) in shapes(0x9e37_79b9_7f4a_7c15, 24).into_iter().enumerate() {
            let seed = 0x2545_f491_4f6c_dd1d ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let shape = Shape { limit, per_period, queue_limit, order, manual: false };
            let cov = run_with(Kind::TokenBucket, shape, seeded_ops(seed, 3_000, limit, false));
            accumulate(&cov, &mut total);
        }
    }
    assert_exercised(&total);
    assert_dispose_exercised(&total);
}

// .NET: (none) — the token bucket in manual mode (§2.3: proportional tokens since the last
// replenishment that found the bucket not full, the fraction kept exactly), either queue order,
// 24 fixed shapes × 3,000 fixed pseudo-random steps each (with `try_replenish` calls and a
// disposal), compared step by step with the sequential model; together they must exercise every
// kind of operation and outcome, including zero-permit requests granted on a fraction alone.
#[test]
fn manual_token_bucket_fixed_sequences_match_the_model_and_exercise_every_operation() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, per_period, queue_limit)) in shapes(0x6a09_e667_f3bc_c909, 24).into_iter().enumerate() {
            let seed = 0xbb67_ae85_84ca_a73b ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let shape = Shape { limit, per_period, queue_limit, order, manual: true };
            let cov = run_with(Kind::TokenBucket, shape, seeded_ops(seed, 3_000, limit, true));
            accumulate(&cov, &mut total);
        }
    }
    assert_manual_exercised(&total);
    assert!(total.granted_on_fraction > 20, "{total:?}");
}

// .NET: (none) — the fixed window as above: 16 fixed shapes × 3,000 fixed steps in either order.
#[test]
fn fixed_window_fixed_sequences_match_the_model_and_exercise_every_operation() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, _, queue_limit)) in shapes(0x5851_f42d_4c95_7f2d, 16).into_iter().enumerate() {
            let seed = 0xd1b5_4a32_d192_ed03 ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let shape = Shape { limit, per_period: limit, queue_limit, order, manual: false };
            let cov = run_with(Kind::FixedWindow, shape, seeded_ops(seed, 3_000, limit, false));
            accumulate(&cov, &mut total);
        }
    }
    assert_exercised(&total);
    assert_dispose_exercised(&total);
}

// .NET: (none) — the fixed window in manual mode (§2.4: at most one reset per call, none within a
// window of the last call that passed that check, which moves the window's start even when full):
// 16 fixed shapes × 3,000 fixed steps in either order, compared step by step with the model.
#[test]
fn manual_fixed_window_fixed_sequences_match_the_model_and_exercise_every_operation() {
    let mut total = Coverage::default();
    for order in [OldestFirst, NewestFirst] {
        for (case, (limit, _, queue_limit)) in shapes(0x3c6e_f372_fe94_f82b, 16).into_iter().enumerate() {
            let seed = 0xa54f_f53a_5f1d_36f1 ^ (case as u64 * 0x1_0000_0001) ^ u64::from(order == NewestFirst);
            let shape = Shape { limit, per_period: limit, queue_limit, order, manual: true };
            let cov = run_with(Kind::FixedWindow, shape, seeded_ops(seed, 3_000, limit, true));
            accumulate(&cov, &mut total);
        }
    }
    assert_manual_exercised(&total);
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
