//! Model-based test of `ConcurrencyLimiter`: proptest-generated operation sequences (attempts,
//! queued acquisitions polled once, cancellations, lease drops, refunds, polls of every pending
//! future, disposal near the end) applied step by step to the real limiter and to a small
//! sequential reference model of .NET's rules (§2.1 R1–R9, §2.2), with the crate's deliberate
//! differences 1 (cancelling is dropping the future), 5 (`refund`: the permits come back and the
//! success is uncounted, also for a grant whose future is dropped before it was polled), 7
//! (statistics stay readable after dispose) and 8 (a cancelled waiter makes the queue process again
//! at once). After every step the statistics (available, queued, failed, successful) and the idle
//! state must match the model exactly; every pending future must be ready exactly when the model
//! says its request was decided.
//!
//! The runner is deterministic (fixed seed) and shrinks a failing case to a minimal operation
//! sequence, printed in the panic message.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;

use common::limiter::{Waiting, snapshot, stats};
use common::poll_once;
use common::shrink::{minimize, panic_message};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use tollgate::{
    AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock,
    QueueProcessingOrder::{self, NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter,
};

const QUEUE_LIMIT_REACHED: &str = "Queue limit reached";

/// What became of a request made with `acquire`, as far as the model knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// In the queue.
    Waiting,
    /// Granted from the queue; the future has not returned the lease yet.
    Granted,
    /// Evicted by a newer request (NewestFirst): a failed lease, counted as failed.
    Evicted,
    /// Failed by disposal: a failed lease, not counted.
    Disposed,
    /// Decided at once, or its outcome has been consumed (polled or dropped).
    Gone,
}

/// The limiter by definition: one permit count, a deque of (request id, permits), oldest first.
struct Model {
    limit: u64,
    queue_limit: u64,
    newest_first: bool,
    available: u64,
    queue: VecDeque<(usize, u64)>,
    fate: Vec<Fate>,
    failed: u64,
    successful: u64,
    disposed: bool,
}

impl Model {
    fn new(limit: u32, order: QueueProcessingOrder, queue_limit: u32) -> Self {
        Model {
            limit: u64::from(limit),
            queue_limit: u64::from(queue_limit),
            newest_first: order == NewestFirst,
            available: u64::from(limit),
            queue: VecDeque::new(),
            fate: Vec::new(),
            failed: 0,
            successful: 0,
            disposed: false,
        }
    }

    fn queued(&self) -> u64 {
        self.queue.iter().map(|&(_, n)| n).sum()
    }

    /// §1.3: the limit check comes first, then the disposed check.
    fn check(&self, n: u64) -> Result<(), AcquireError> {
        if n > self.limit {
            Err(AcquireError::PermitLimitExceeded { requested: n as u32, limit: self.limit as u32 })
        } else if self.disposed {
            Err(AcquireError::Disposed)
        } else {
            Ok(())
        }
    }

    /// R1 steps 2–3 (and R2 steps 2–3): zero permits succeed iff anything is available, whatever
    /// the queue holds; n > 0 needs the permits and no queue in the way (OldestFirst).
    fn fits_now(&self, n: u64) -> bool {
        if n == 0 { self.available > 0 } else { self.available >= n && (self.queue.is_empty() || self.newest_first) }
    }

    /// R1: `Ok(granted)`.
    fn attempt(&mut self, n: u64) -> Result<bool, AcquireError> {
        self.check(n)?;
        let granted = self.fits_now(n);
        if granted {
            self.available -= n;
            self.successful += 1;
        } else {
            self.failed += 1;
        }
        Ok(granted)
    }

    /// R2 for request `id`: `Ok(Some(granted))` if decided at once (false: the queue-full lease),
    /// `Ok(None)` if queued.
    fn acquire(&mut self, id: usize, n: u64) -> Result<Option<bool>, AcquireError> {
        assert_eq!(self.fate.len(), id);
        self.fate.push(Fate::Gone);
        self.check(n)?;
        if self.fits_now(n) {
            self.available -= n;
            self.successful += 1;
            return Ok(Some(true));
        }
        // R3: a zero-permit request always queues (`queue_limit - queued < 0` is never true).
        if self.queue_limit.saturating_sub(self.queued()) < n {
            if !(self.newest_first && n <= self.queue_limit) {
                self.failed += 1;
                return Ok(Some(false));
            }
            // R2.4: evict the oldest until the new request fits.
            while self.queue_limit - self.queued() < n {
                let (evicted, _) = self.queue.pop_front().expect("something to evict");
                self.fate[evicted] = Fate::Evicted;
                self.failed += 1;
            }
        }
        self.queue.push_back((id, n));
        self.fate[id] = Fate::Waiting;
        Ok(None)
    }

    /// R9: serve the head (OldestFirst) or tail (NewestFirst) while it fits; stop at the first
    /// that does not. `zero_fits`: whether a zero-permit request reached fits (.NET's check is
    /// `available >= 0`, always true in a pass that follows a release; the crate's pass after a
    /// cancellation grants it iff something was available as the pass began).
    fn process(&mut self, zero_fits: bool) {
        loop {
            let next = if self.newest_first { self.queue.back() } else { self.queue.front() };
            let Some(&(id, n)) = next else { break };
            let fits = if n == 0 { zero_fits } else { self.available >= n };
            if !fits {
                break;
            }
            if self.newest_first {
                self.queue.pop_back();
            } else {
                self.queue.pop_front();
            }
            self.available -= n;
            self.successful += 1;
            self.fate[id] = Fate::Granted;
        }
    }

    /// §2.2: a lease holding `n` permits is dropped. After disposal nothing is processed (and
    /// whether `available` moves is not pinned; it is not compared then).
    fn release(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.available += n;
        if !self.disposed {
            self.process(true);
        }
    }

    /// `RateLimiter::refund`: the success is uncounted and the permits come back.
    fn refund(&mut self, n: u64) {
        self.successful -= 1;
        self.release(n);
    }

    /// The future of request `id` (for `n` permits) is dropped before it returned its outcome.
    fn drop_pending(&mut self, id: usize, n: u64) {
        match self.fate[id] {
            Fate::Waiting => {
                // R5 and difference 8: the request leaves, the queue is processed again at once.
                let position = self.queue.iter().position(|&(i, _)| i == id).expect("waiting requests are queued");
                self.queue.remove(position);
                self.process(self.available > 0);
            }
            // Granted but never seen by the caller: refunded (no trace).
            Fate::Granted => self.refund(n),
            Fate::Evicted | Fate::Disposed => {}
            Fate::Gone => unreachable!("request {id} has no pending future"),
        }
        self.fate[id] = Fate::Gone;
    }

    /// R7: every queued request fails (not counted); later acquisitions are errors.
    fn dispose(&mut self) {
        self.disposed = true;
        for (id, _) in self.queue.drain(..) {
            self.fate[id] = Fate::Disposed;
        }
    }

    /// .NET's idle rule for this limiter: every permit back and nothing queued.
    fn idle(&self) -> bool {
        self.available == self.limit && self.queue.is_empty()
    }
}

/// One step. Indices pick an element of the current pending or held list (modulo its length);
/// `raw` permits map to `0..=limit` (and, rarely, `limit + 1`, which must be an error).
#[derive(Clone, Copy, Debug)]
enum Op {
    Attempt {
        raw: u8,
        keep: bool,
    },
    Acquire {
        raw: u8,
        keep: bool,
    },
    /// Drop a pending future.
    DropPending(usize),
    /// Drop a held lease (release its permits).
    Release(usize),
    /// `limiter.refund(held lease)`.
    Refund(usize),
    /// Poll every pending future once (in a rotated order).
    PollAll(usize),
}

fn permits(raw: u8, limit: u64) -> u64 {
    if raw == 30 { limit + 1 } else { u64::from(raw) % (limit + 1) }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..=30, any::<bool>()).prop_map(|(raw, keep)| Op::Attempt { raw, keep }),
        5 => (0u8..=30, prop::bool::weighted(0.8)).prop_map(|(raw, keep)| Op::Acquire { raw, keep }),
        1 => any::<usize>().prop_map(Op::DropPending),
        3 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::Refund),
        2 => any::<usize>().prop_map(Op::PollAll),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Shape {
    limit: u32,
    queue_limit: u32,
    order: QueueProcessingOrder,
    /// Dispose after `ops`, then run `tail`.
    dispose: bool,
}

fn shape(order: QueueProcessingOrder) -> impl Strategy<Value = Shape> {
    (1u32..=5, 0u32..=6, prop::bool::weighted(0.7)).prop_map(move |(limit, queue_limit, dispose)| Shape {
        limit,
        queue_limit,
        order,
        dispose,
    })
}

/// Counts of what the runs exercised.
#[derive(Default, Debug)]
struct Coverage {
    steps: u64,
    granted_at_once: u64,
    refused: u64,
    errors: u64,
    queued: u64,
    zero_queued: u64,
    granted_later: u64,
    zero_granted_later: u64,
    queue_full: u64,
    evicted: u64,
    cancelled: u64,
    dropped_after_grant: u64,
    refunds: u64,
    disposed_waiters: u64,
}

struct Harness<'a> {
    limiter: &'a ConcurrencyLimiter<ManualClock>,
    model: Model,
    pending: Vec<(usize, u64, Waiting<'a>)>,
    held: Vec<(RateLimitLease, u64)>,
    cov: Coverage,
}

impl<'a> Harness<'a> {
    fn apply(&mut self, op: Op, step: usize) {
        let m = &mut self.model;
        match op {
            Op::Attempt { raw, keep } => {
                let n = permits(raw, m.limit);
                let real = self.limiter.attempt_acquire(n as u32);
                let expected = m.attempt(n);
                match (real, expected) {
                    (Ok(lease), Ok(granted)) => {
                        assert_eq!(lease.is_acquired(), granted, "step {step}: attempt({n})");
                        if granted {
                            self.cov.granted_at_once += 1;
                            self.keep_or_release(lease, n, keep);
                        } else {
                            self.cov.refused += 1;
                            assert_eq!(lease.reason_phrase(), None, "step {step}: a refused attempt has no reason");
                            assert_eq!(lease.retry_after(), None, "step {step}: a refused attempt has no retry_after");
                        }
                    }
                    (Err(e), Err(expected)) => {
                        assert_eq!(e, expected, "step {step}: attempt({n})");
                        self.cov.errors += 1;
                    }
                    (real, expected) => panic!("step {step}: attempt({n}) gave {real:?}, model {expected:?}"),
                }
            }
            Op::Acquire { raw, keep } => {
                let n = permits(raw, m.limit);
                let id = m.fate.len();
                let failed_before = m.failed;
                let mut wait = Box::pin(self.limiter.acquire(n as u32));
                let real = poll_once(&mut wait);
                let expected = m.acquire(id, n);
                match (real, expected) {
                    (None, Ok(None)) => {
                        self.cov.queued += 1;
                        self.cov.zero_queued += u64::from(n == 0);
                        self.cov.evicted += m.failed - failed_before;
                        self.pending.push((id, n, wait));
                    }
                    (Some(Ok(lease)), Ok(Some(true))) if lease.is_acquired() => {
                        self.cov.granted_at_once += 1;
                        self.keep_or_release(lease, n, keep);
                    }
                    (Some(Ok(lease)), Ok(Some(false))) if !lease.is_acquired() => {
                        self.cov.queue_full += 1;
                        assert_eq!(
                            lease.reason_phrase(),
                            Some(QUEUE_LIMIT_REACHED),
                            "step {step}: queue-full acquire({n})"
                        );
                    }
                    (Some(Err(e)), Err(expected)) => {
                        assert_eq!(e, expected, "step {step}: acquire({n})");
                        self.cov.errors += 1;
                    }
                    (real, expected) => panic!(
                        "step {step}: acquire({n}) as request {id} gave {real:?}, model {expected:?} \
                         (Some(true): granted, Some(false): queue full, None: queued)"
                    ),
                }
            }
            Op::DropPending(k) => {
                if !self.pending.is_empty() {
                    let (id, n, wait) = self.pending.remove(k % self.pending.len());
                    match m.fate[id] {
                        Fate::Waiting => self.cov.cancelled += 1,
                        Fate::Granted => self.cov.dropped_after_grant += 1,
                        _ => {}
                    }
                    drop(wait);
                    m.drop_pending(id, n);
                }
            }
            Op::Release(k) => {
                if !self.held.is_empty() {
                    let (lease, n) = self.held.swap_remove(k % self.held.len());
                    drop(lease);
                    m.release(n);
                }
            }
            Op::Refund(k) => {
                if !self.held.is_empty() {
                    let (lease, n) = self.held.swap_remove(k % self.held.len());
                    self.limiter.refund(lease);
                    m.refund(n);
                    self.cov.refunds += 1;
                }
            }
            Op::PollAll(rotate) => {
                if !self.pending.is_empty() {
                    let len = self.pending.len();
                    self.pending.rotate_left(rotate % len);
                }
                let mut still = Vec::new();
                for (id, n, mut wait) in self.pending.drain(..) {
                    let fate = m.fate[id];
                    match (poll_once(&mut wait), fate) {
                        (None, Fate::Waiting) => {
                            still.push((id, n, wait));
                            continue;
                        }
                        (Some(Ok(lease)), Fate::Granted) if lease.is_acquired() => {
                            self.cov.granted_later += 1;
                            self.cov.zero_granted_later += u64::from(n == 0);
                            self.held.push((lease, n));
                        }
                        (Some(Ok(lease)), Fate::Evicted | Fate::Disposed) if !lease.is_acquired() => {
                            self.cov.disposed_waiters += u64::from(fate == Fate::Disposed);
                            assert_eq!(
                                lease.reason_phrase(),
                                None,
                                "step {step}: an evicted or disposed waiter's lease has no reason"
                            );
                        }
                        (real, fate) => {
                            panic!("step {step}: request {id} ({n} permits) polled: {real:?}, model: {fate:?}")
                        }
                    }
                    m.fate[id] = Fate::Gone;
                }
                self.pending = still;
            }
        }
        self.check(step, op);
    }

    fn keep_or_release(&mut self, lease: RateLimitLease, n: u64, keep: bool) {
        if keep {
            self.held.push((lease, n));
        } else {
            drop(lease);
            self.model.release(n);
        }
    }

    fn check(&mut self, step: usize, op: Op) {
        self.cov.steps += 1;
        let m = &self.model;
        let real = stats(self.limiter);
        if m.disposed {
            assert_eq!(
                (real.current_queued_count, real.total_failed_leases, real.total_successful_leases),
                (0, m.failed, m.successful),
                "step {step} ({op:?}, disposed): statistics (queued, failed, successful)"
            );
            assert!(real.current_available_permits <= m.limit, "step {step}: {real:?}");
        } else {
            let expected = snapshot(m.available, m.queued(), m.failed, m.successful);
            assert_eq!(real, expected, "step {step} ({op:?}): statistics; model queue {:?}", m.queue);
            assert_eq!(
                self.limiter.idle_duration().is_some(),
                m.idle(),
                "step {step} ({op:?}): idle; model {} available, queue {:?}",
                m.available,
                m.queue
            );
        }
    }
}

fn run(shape: Shape, ops: &[Op], tail: &[Op]) -> Coverage {
    let clock = ManualClock::new();
    let options = ConcurrencyLimiterOptions {
        permit_limit: shape.limit,
        queue_processing_order: shape.order,
        queue_limit: shape.queue_limit,
    };
    let limiter = ConcurrencyLimiter::with_clock(options, clock).expect("valid options");
    let mut h = Harness {
        limiter: &limiter,
        model: Model::new(shape.limit, shape.order, shape.queue_limit),
        pending: Vec::new(),
        held: Vec::new(),
        cov: Coverage::default(),
    };
    for (step, &op) in ops.iter().enumerate() {
        h.apply(op, step);
    }
    if shape.dispose {
        limiter.dispose();
        h.model.dispose();
        h.check(ops.len(), Op::PollAll(0));
        for (step, &op) in tail.iter().enumerate() {
            h.apply(op, ops.len() + 1 + step);
        }
        // Every waiter has been decided: a final poll returns each outcome.
        h.apply(Op::PollAll(0), ops.len() + 1 + tail.len());
        assert!(h.pending.is_empty(), "disposal decided every waiter");
    }
    // Release everything (pending futures first: they borrow the limiter).
    let Harness { pending, held, cov, .. } = h;
    drop(pending);
    drop(held);
    cov
}

fn accumulate(total: &mut Coverage, c: &Coverage) {
    total.steps += c.steps;
    total.granted_at_once += c.granted_at_once;
    total.refused += c.refused;
    total.errors += c.errors;
    total.queued += c.queued;
    total.zero_queued += c.zero_queued;
    total.granted_later += c.granted_later;
    total.zero_granted_later += c.zero_granted_later;
    total.queue_full += c.queue_full;
    total.evicted += c.evicted;
    total.cancelled += c.cancelled;
    total.dropped_after_grant += c.dropped_after_grant;
    total.refunds += c.refunds;
    total.disposed_waiters += c.disposed_waiters;
}

fn check_order(order: QueueProcessingOrder, seed: u64) -> Coverage {
    let config = Config { cases: 192, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = (shape(order), prop::collection::vec(op(), 1..300), prop::collection::vec(op(), 0..20));
    let total = RefCell::new(Coverage::default());
    let result = runner.run(&strategy, |(shape, ops, tail)| {
        let cov = run(shape, &ops, &tail);
        accumulate(&mut total.borrow_mut(), &cov);
        Ok(())
    });
    match result {
        Ok(()) => total.into_inner(),
        Err(TestError::Fail(_, (shape, ops, tail))) => {
            let (ops, tail, reason) = minimize(ops, tail, |ops, tail| {
                panic_message(|| {
                    run(shape, ops, tail);
                })
            });
            panic!("{reason}\nminimal failing case: {shape:?}\nops: {ops:?}\nafter dispose: {tail:?}")
        }
        Err(e) => panic!("{e}"),
    }
}

fn assert_exercised(total: &Coverage) {
    assert!(total.steps > 20_000, "{total:?}");
    assert!(total.granted_at_once > 2_000 && total.refused > 1_000 && total.errors > 100, "{total:?}");
    assert!(total.queued > 2_000 && total.granted_later > 1_000 && total.queue_full > 200, "{total:?}");
    assert!(total.zero_queued > 100 && total.zero_granted_later > 50, "{total:?}");
    assert!(total.cancelled > 200 && total.dropped_after_grant > 50 && total.refunds > 500, "{total:?}");
    assert!(total.disposed_waiters > 100, "{total:?}");
}

// .NET: (none) — OldestFirst: 192 proptest cases of up to 300 steps (plus up to 20 after dispose),
// compared step by step with the sequential model.
#[test]
fn concurrency_oldest_first_matches_a_sequential_model() {
    let total = check_order(OldestFirst, 0x6c8e_9cf5_7093_2bd5);
    assert_exercised(&total);
}

// .NET: (none) — NewestFirst (queue bypass, LIFO grants, eviction of the oldest), as above.
#[test]
fn concurrency_newest_first_matches_a_sequential_model() {
    let total = check_order(NewestFirst, 0x2545_f491_4f6c_dd1d);
    assert_exercised(&total);
    assert!(total.evicted > 200, "{total:?}");
}
