//! Model-based test of `ChainedRateLimiter`: chains of 2–3 inner limiters drawn from a
//! concurrency limiter (no queue or a small one, either order), a token bucket and a fixed window
//! (both auto mode, no queue, on one `ManualClock`), driven by proptest-generated operation
//! sequences and compared step by step with a small sequential reference model:
//!
//! * each inner limiter by definition (§2.1 R1–R9, §2.2; the bucket's and window's tick *k* at
//!   *k*·period, differences 3 and 4: exact lazy ticks, exact `retry_after`);
//! * the chain rule (§3.1 with difference 5): ask in order, stop at the first refusal or error, and
//!   give back what the earlier limiters granted (`refund`: concurrency permits, tokens capped at
//!   the limit, window permits only while their window is current, and every earlier limiter's
//!   successful count); the caller gets the refusing limiter's own lease or error; a combined
//!   lease releases its inner leases when dropped; `chain.refund` refunds every inner limiter;
//! * chain statistics: the minimum available count, the sums of queued and failed counts, the
//!   successful count of the inner-most limiter.
//!
//! Operations: chain attempts (kept or dropped at once), drops and refunds of combined leases, clock
//! advances, direct attempts on an inner limiter (interference; kept leases are later dropped or
//! refunded), queued acquisitions on an inner concurrency limiter (polled, cancelled), and the
//! chain's disposal near the end (the inner limiters stay usable). After every step the statistics
//! of the chain and of every inner limiter must match the model exactly.
//!
//! The runner is deterministic (fixed seed) and shrinks a failing case to a minimal operation
//! sequence, printed in the panic message.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use common::limiter::{Waiting, snapshot, stats};
use common::poll_once;
use common::shrink::{minimize, panic_message};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use tollgate::{
    AcquireError, ChainedRateLimiter, Clock, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter,
    FixedWindowRateLimiterOptions, ManualClock,
    QueueProcessingOrder::{NewestFirst, OldestFirst},
    RateLimitLease, RateLimiter, RateLimiterStatistics, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

/// Periods (ns) the bucket and window draw from: different ones make their ticks interleave.
const PERIODS: [u64; 3] = [1_000, 1_500, 2_500];

/// The state of a request queued directly on an inner concurrency limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Waiting,
    /// Granted; the future has not returned the lease yet.
    Granted,
    /// Evicted by a newer request (NewestFirst).
    Evicted,
    /// Decided at once, or consumed.
    Gone,
}

/// What an inner limiter is, by definition.
#[derive(Clone, Debug)]
enum Kind {
    /// .NET §2.2 with difference 8 (a cancellation processes the queue at once).
    Concurrency {
        queue_limit: u64,
        newest_first: bool,
        /// Pending requests, oldest first: (request id, permits).
        queue: VecDeque<(usize, u64)>,
    },
    /// Auto mode, no queue: tick k adds `per_period`, capped at the limit.
    Bucket { per_period: u64, period: u64, tick: u64 },
    /// Auto mode, no queue: window k starts full.
    Window { period: u64, window: u64 },
}

#[derive(Clone, Debug)]
struct Inner {
    kind: Kind,
    limit: u64,
    available: u64,
    failed: u64,
    successful: u64,
}

/// A grant as the model remembers it: the permits and, for a window, the window it was made in.
#[derive(Clone, Copy, Debug)]
struct Grant {
    permits: u64,
    window: u64,
}

impl Inner {
    fn queued(&self) -> u64 {
        match &self.kind {
            Kind::Concurrency { queue, .. } => queue.iter().map(|&(_, n)| n).sum(),
            _ => 0,
        }
    }

    /// Brings a bucket or window up to `now` (every tick is applied in turn).
    fn sync(&mut self, now: u64) {
        match &mut self.kind {
            Kind::Bucket { per_period, period, tick } => {
                while *tick < now / *period {
                    *tick += 1;
                    self.available = (self.available + *per_period).min(self.limit);
                }
            }
            Kind::Window { period, window } => {
                if *window < now / *period {
                    *window = now / *period;
                    self.available = self.limit;
                }
            }
            Kind::Concurrency { .. } => {}
        }
    }

    /// R1 steps 2–3: whether a request for `n` is granted at once.
    fn fits_now(&self, n: u64) -> bool {
        let queue_in_the_way = match &self.kind {
            Kind::Concurrency { queue, newest_first, .. } => !queue.is_empty() && !newest_first,
            _ => false,
        };
        if n == 0 { self.available > 0 } else { self.available >= n && !queue_in_the_way }
    }

    fn grant_now(&mut self, n: u64) -> Grant {
        self.available -= n;
        self.successful += 1;
        let window = if let Kind::Window { window, .. } = self.kind { window } else { 0 };
        Grant { permits: n, window }
    }

    /// R1: `Ok(Some(grant))` or `Ok(None)` (refused, counted).
    fn attempt(&mut self, n: u64) -> Result<Option<Grant>, AcquireError> {
        if n > self.limit {
            return Err(AcquireError::PermitLimitExceeded { requested: n as u32, limit: self.limit as u32 });
        }
        if self.fits_now(n) {
            Ok(Some(self.grant_now(n)))
        } else {
            self.failed += 1;
            Ok(None)
        }
    }

    /// The exact `retry_after` of a refusal by a bucket or window at `now` (difference 4: the
    /// wait until the first tick at which the same request would be granted); `None` for the
    /// concurrency limiter, whose refusals carry none.
    fn retry_after(&self, n: u64, now: u64) -> Option<Duration> {
        let period = match self.kind {
            Kind::Bucket { period, .. } | Kind::Window { period, .. } => period,
            Kind::Concurrency { .. } => return None,
        };
        if n > self.limit {
            return None;
        }
        let mut future = self.clone();
        let mut tick = now / period;
        loop {
            tick += 1;
            future.sync(tick * period);
            if future.fits_now(n) {
                return Some(Duration::from_nanos(tick * period - now));
            }
        }
    }

    /// R9 on an inner concurrency limiter; `zero_fits` as in `model_concurrency.rs`.
    fn process(&mut self, zero_fits: bool, fate: &mut [Fate]) {
        let Kind::Concurrency { queue, newest_first, .. } = &mut self.kind else { return };
        loop {
            let next = if *newest_first { queue.back() } else { queue.front() };
            let Some(&(id, n)) = next else { break };
            let fits = if n == 0 { zero_fits } else { self.available >= n };
            if !fits {
                break;
            }
            if *newest_first {
                queue.pop_back();
            } else {
                queue.pop_front();
            }
            self.available -= n;
            self.successful += 1;
            fate[id] = Fate::Granted;
        }
    }

    /// A lease of this limiter is dropped: only concurrency permits come back.
    fn release(&mut self, grant: Grant, fate: &mut [Fate]) {
        if matches!(self.kind, Kind::Concurrency { .. }) && grant.permits > 0 {
            self.available += grant.permits;
            self.process(true, fate);
        }
    }

    /// `RateLimiter::refund`: the success is uncounted; concurrency permits and tokens come back
    /// (tokens capped at the limit), window permits only while their window is still current.
    fn refund(&mut self, grant: Grant, fate: &mut [Fate]) {
        self.successful -= 1;
        match self.kind {
            Kind::Concurrency { .. } => self.release(grant, fate),
            Kind::Bucket { .. } => self.available = (self.available + grant.permits).min(self.limit),
            Kind::Window { window, .. } => {
                if grant.window == window {
                    self.available = (self.available + grant.permits).min(self.limit);
                }
            }
        }
    }

    /// R2 on an inner concurrency limiter: `Some(granted)` if decided at once, `None` if queued.
    fn acquire(&mut self, id: usize, n: u64, fate: &mut [Fate]) -> Option<bool> {
        if self.fits_now(n) {
            self.grant_now(n);
            return Some(true);
        }
        let queued = self.queued();
        let Kind::Concurrency { queue_limit, newest_first, queue } = &mut self.kind else {
            unreachable!("only concurrency limiters queue here")
        };
        if queue_limit.saturating_sub(queued) < n {
            if !(*newest_first && n <= *queue_limit) {
                self.failed += 1;
                return Some(false);
            }
            while *queue_limit - queue.iter().map(|&(_, q)| q).sum::<u64>() < n {
                let (evicted, _) = queue.pop_front().expect("something to evict");
                fate[evicted] = Fate::Evicted;
                self.failed += 1;
            }
        }
        queue.push_back((id, n));
        fate[id] = Fate::Waiting;
        None
    }

    /// A pending future is dropped: cancel (and process again at once), or refund an unseen grant.
    fn drop_pending(&mut self, id: usize, n: u64, fate: &mut [Fate]) {
        match fate[id] {
            Fate::Waiting => {
                if let Kind::Concurrency { queue, .. } = &mut self.kind {
                    let position = queue.iter().position(|&(i, _)| i == id).expect("queued");
                    queue.remove(position);
                }
                self.process(self.available > 0, fate);
            }
            Fate::Granted => self.refund(Grant { permits: n, window: 0 }, fate),
            Fate::Evicted => {}
            Fate::Gone => unreachable!("request {id} has no pending future"),
        }
        fate[id] = Fate::Gone;
    }

    fn statistics(&self) -> RateLimiterStatistics {
        snapshot(self.available, self.queued(), self.failed, self.successful)
    }
}

/// The chain by definition.
struct Model {
    inner: Vec<Inner>,
    fate: Vec<Fate>,
    disposed: bool,
}

/// How a chain attempt ends, by the model.
#[derive(Debug)]
enum ChainOutcome {
    Granted(Vec<Grant>),
    /// Refused by inner limiter `index`, whose refusal should carry `retry_after`.
    Refused {
        index: usize,
        retry_after: Option<Duration>,
    },
    Error(AcquireError),
}

impl Model {
    fn sync(&mut self, now: u64) {
        for inner in &mut self.inner {
            inner.sync(now);
        }
    }

    /// §3.1 with difference 5: in order, stop at the first refusal or error, refund the earlier
    /// grants.
    fn attempt(&mut self, n: u64, now: u64) -> ChainOutcome {
        if self.disposed {
            return ChainOutcome::Error(AcquireError::Disposed);
        }
        let mut grants = Vec::new();
        for index in 0..self.inner.len() {
            let retry_after = self.inner[index].retry_after(n, now);
            let outcome = match self.inner[index].attempt(n) {
                Ok(Some(grant)) => {
                    grants.push(grant);
                    continue;
                }
                Ok(None) => ChainOutcome::Refused { index, retry_after },
                Err(e) => ChainOutcome::Error(e),
            };
            self.refund(&grants);
            return outcome;
        }
        ChainOutcome::Granted(grants)
    }

    /// Refunds grants of the first `grants.len()` limiters, in reverse order.
    fn refund(&mut self, grants: &[Grant]) {
        for (index, &grant) in grants.iter().enumerate().rev() {
            self.inner[index].refund(grant, &mut self.fate);
        }
    }

    /// A combined lease is dropped: the inner leases are released in reverse order.
    fn release(&mut self, grants: &[Grant]) {
        for (index, &grant) in grants.iter().enumerate().rev() {
            self.inner[index].release(grant, &mut self.fate);
        }
    }

    /// §3.1 rule 5.
    fn statistics(&self) -> RateLimiterStatistics {
        RateLimiterStatistics {
            current_available_permits: self.inner.iter().map(|i| i.available).min().expect("non-empty"),
            current_queued_count: self.inner.iter().map(Inner::queued).sum(),
            total_failed_leases: self.inner.iter().map(|i| i.failed).sum(),
            total_successful_leases: self.inner.last().expect("non-empty").successful,
        }
    }
}

/// One step. Indices pick an inner limiter or an element of a list (modulo its length); `raw`
/// permits of a chain attempt map mostly to `0..=min limit`, sometimes to `0..=max limit` (an error
/// from a limiter with a smaller limit) and rarely to `max limit + 1` (an error from the first).
#[derive(Clone, Copy, Debug)]
enum Op {
    ChainAttempt {
        raw: u8,
        keep: bool,
    },
    /// Drop a held combined lease.
    ChainRelease(usize),
    /// `chain.refund(held combined lease)`.
    ChainRefund(usize),
    /// Advance the clock by `by` ns.
    Advance(u64),
    /// `inner.attempt_acquire` directly (interference), kept or dropped.
    Direct {
        which: usize,
        raw: u8,
        keep: bool,
    },
    /// Drop a directly held lease.
    DirectRelease(usize),
    /// `inner.refund(directly held lease)`.
    DirectRefund(usize),
    /// `inner.acquire` on an inner concurrency limiter, polled once (a direct attempt on others).
    DirectAcquire {
        which: usize,
        raw: u8,
    },
    /// Drop a pending future of a direct acquisition.
    DropPending(usize),
    /// Poll every pending future once.
    PollAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..=40, prop::bool::weighted(0.7)).prop_map(|(raw, keep)| Op::ChainAttempt { raw, keep }),
        3 => any::<usize>().prop_map(Op::ChainRelease),
        2 => any::<usize>().prop_map(Op::ChainRefund),
        3 => prop_oneof![0u64..1_000, 0u64..6_000].prop_map(Op::Advance),
        3 => (any::<usize>(), 0u8..=40, any::<bool>()).prop_map(|(which, raw, keep)| Op::Direct { which, raw, keep }),
        1 => any::<usize>().prop_map(Op::DirectRelease),
        1 => any::<usize>().prop_map(Op::DirectRefund),
        2 => (any::<usize>(), 0u8..=40).prop_map(|(which, raw)| Op::DirectAcquire { which, raw }),
        1 => any::<usize>().prop_map(Op::DropPending),
        1 => Just(Op::PollAll),
    ]
}

/// An inner limiter's parameters.
#[derive(Clone, Copy, Debug)]
enum Spec {
    Concurrency { limit: u32, queue_limit: u32, newest_first: bool },
    Bucket { limit: u32, per_period: u32, period: u64 },
    Window { limit: u32, period: u64 },
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (1u32..=4, prop_oneof![Just(0u32), 1u32..=3], any::<bool>())
            .prop_map(|(limit, queue_limit, newest_first)| Spec::Concurrency { limit, queue_limit, newest_first }),
        (1u32..=5, 1u32..=3, 0..PERIODS.len()).prop_map(|(limit, per_period, p)| Spec::Bucket {
            limit,
            per_period,
            period: PERIODS[p]
        }),
        (1u32..=5, 0..PERIODS.len()).prop_map(|(limit, p)| Spec::Window { limit, period: PERIODS[p] }),
    ]
}

#[derive(Clone, Debug)]
struct Shape {
    specs: Vec<Spec>,
    /// Dispose the chain after `ops`, then run `tail`.
    dispose: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (prop::collection::vec(spec(), 2..=3), prop::bool::weighted(0.5))
        .prop_map(|(specs, dispose)| Shape { specs, dispose })
}

fn build(spec: Spec, clock: &ManualClock) -> (Arc<dyn RateLimiter>, Inner) {
    match spec {
        Spec::Concurrency { limit, queue_limit, newest_first } => {
            let options = ConcurrencyLimiterOptions {
                permit_limit: limit,
                queue_processing_order: if newest_first { NewestFirst } else { OldestFirst },
                queue_limit,
            };
            let kind = Kind::Concurrency { queue_limit: u64::from(queue_limit), newest_first, queue: VecDeque::new() };
            (
                Arc::new(ConcurrencyLimiter::with_clock(options, clock.clone()).expect("valid options")),
                inner(kind, limit),
            )
        }
        Spec::Bucket { limit, per_period, period } => {
            let options = TokenBucketRateLimiterOptions {
                token_limit: limit,
                tokens_per_period: per_period,
                replenishment_period: Duration::from_nanos(period),
                auto_replenishment: true,
                queue_processing_order: OldestFirst,
                queue_limit: 0,
            };
            let kind = Kind::Bucket { per_period: u64::from(per_period), period, tick: 0 };
            (
                Arc::new(TokenBucketRateLimiter::with_clock(options, clock.clone()).expect("valid options")),
                inner(kind, limit),
            )
        }
        Spec::Window { limit, period } => {
            let options = FixedWindowRateLimiterOptions {
                permit_limit: limit,
                window: Duration::from_nanos(period),
                auto_replenishment: true,
                queue_processing_order: OldestFirst,
                queue_limit: 0,
            };
            let kind = Kind::Window { period, window: 0 };
            (
                Arc::new(FixedWindowRateLimiter::with_clock(options, clock.clone()).expect("valid options")),
                inner(kind, limit),
            )
        }
    }
}

fn inner(kind: Kind, limit: u32) -> Inner {
    Inner { kind, limit: u64::from(limit), available: u64::from(limit), failed: 0, successful: 0 }
}

/// Counts of what the runs exercised.
#[derive(Default, Debug)]
struct Coverage {
    steps: u64,
    chain_granted: u64,
    /// Chain refusals by the inner limiter at position 0, 1, 2.
    refused_at: [u64; 3],
    /// Refusals after an earlier limiter granted (so something was refunded).
    refunded_on_refusal: u64,
    /// ... of which an earlier window's or bucket's permits (not only concurrency permits).
    refunded_time_based: u64,
    chain_errors: u64,
    chain_refunds: u64,
    chain_releases: u64,
    direct_granted: u64,
    direct_refunds: u64,
    queued: u64,
    granted_later: u64,
    exact_retry_checked: u64,
    disposed_errors: u64,
}

struct Harness<'a> {
    chain: &'a ChainedRateLimiter,
    limiters: &'a [Arc<dyn RateLimiter>],
    clock: &'a ManualClock,
    model: Model,
    /// Combined leases held, with the model's grants per inner limiter.
    held: Vec<(RateLimitLease, Vec<Grant>)>,
    /// Leases taken directly from inner limiter `.0`.
    direct: Vec<(usize, RateLimitLease, Grant)>,
    /// Direct acquisitions waiting on inner concurrency limiter `.0`: (limiter, id, permits, future).
    pending: Vec<(usize, usize, u64, Waiting<'a>)>,
    cov: Coverage,
}

impl<'a> Harness<'a> {
    fn max_limit(&self) -> u64 {
        self.model.inner.iter().map(|i| i.limit).max().expect("non-empty")
    }

    fn min_limit(&self) -> u64 {
        self.model.inner.iter().map(|i| i.limit).min().expect("non-empty")
    }

    fn apply(&mut self, op: Op, step: usize) {
        let now = self.clock.now_nanos();
        self.model.sync(now);
        match op {
            Op::ChainAttempt { raw, keep } => {
                let n = match raw {
                    40 => self.max_limit() + 1,
                    32.. => u64::from(raw) % (self.max_limit() + 1),
                    _ => u64::from(raw) % (self.min_limit() + 1),
                };
                let before: Vec<u64> = self.model.inner.iter().map(|i| i.available).collect();
                let real = self.chain.attempt_acquire(n as u32);
                let expected = self.model.attempt(n, now);
                match (real, expected) {
                    (Ok(lease), ChainOutcome::Granted(grants)) if lease.is_acquired() => {
                        self.cov.chain_granted += 1;
                        if keep {
                            self.held.push((lease, grants));
                        } else {
                            drop(lease);
                            self.model.release(&grants);
                        }
                    }
                    (Ok(lease), ChainOutcome::Refused { index, retry_after }) if !lease.is_acquired() => {
                        self.cov.refused_at[index] += 1;
                        if index > 0 && n > 0 {
                            self.cov.refunded_on_refusal += 1;
                            let time_based =
                                self.model.inner[..index].iter().any(|i| !matches!(i.kind, Kind::Concurrency { .. }));
                            self.cov.refunded_time_based += u64::from(time_based);
                        }
                        assert_eq!(
                            lease.retry_after(),
                            retry_after,
                            "step {step}: chain attempt({n}) refused by limiter {index} at {now} ns: its own lease \
                             with its exact retry_after; availability before {before:?}"
                        );
                        self.cov.exact_retry_checked += u64::from(retry_after.is_some());
                        assert_eq!(lease.reason_phrase(), None, "step {step}: a refused attempt has no reason");
                    }
                    (Err(e), ChainOutcome::Error(expected)) => {
                        assert_eq!(e, expected, "step {step}: chain attempt({n})");
                        self.cov.chain_errors += 1;
                        self.cov.disposed_errors += u64::from(e == AcquireError::Disposed);
                    }
                    (real, expected) => panic!(
                        "step {step}: chain attempt({n}) at {now} ns gave {real:?}, model {expected:?}; \
                         availability before {before:?}"
                    ),
                }
            }
            Op::ChainRelease(k) => {
                if !self.held.is_empty() {
                    let (lease, grants) = self.held.swap_remove(k % self.held.len());
                    drop(lease);
                    self.model.release(&grants);
                    self.cov.chain_releases += 1;
                }
            }
            Op::ChainRefund(k) => {
                if !self.held.is_empty() {
                    let (lease, grants) = self.held.swap_remove(k % self.held.len());
                    self.chain.refund(lease);
                    self.model.refund(&grants);
                    self.cov.chain_refunds += 1;
                }
            }
            Op::Advance(by) => {
                self.clock.advance(Duration::from_nanos(by));
                self.model.sync(self.clock.now_nanos());
            }
            Op::Direct { which, raw, keep } => self.direct_attempt(which, raw, keep, step),
            Op::DirectRelease(k) => {
                if !self.direct.is_empty() {
                    let (index, lease, grant) = self.direct.swap_remove(k % self.direct.len());
                    drop(lease);
                    self.model.inner[index].release(grant, &mut self.model.fate);
                }
            }
            Op::DirectRefund(k) => {
                if !self.direct.is_empty() {
                    let (index, lease, grant) = self.direct.swap_remove(k % self.direct.len());
                    self.limiters[index].refund(lease);
                    self.model.inner[index].refund(grant, &mut self.model.fate);
                    self.cov.direct_refunds += 1;
                }
            }
            Op::DirectAcquire { which, raw } => {
                let index = which % self.limiters.len();
                if !matches!(self.model.inner[index].kind, Kind::Concurrency { .. }) {
                    return self.direct_attempt(which, raw, true, step);
                }
                let n = u64::from(raw) % (self.model.inner[index].limit + 1);
                let id = self.model.fate.len();
                self.model.fate.push(Fate::Gone);
                let mut wait = Box::pin(self.limiters[index].acquire(n as u32));
                let real = poll_once(&mut wait);
                let expected = self.model.inner[index].acquire(id, n, &mut self.model.fate);
                match (real, expected) {
                    (None, None) => {
                        self.cov.queued += 1;
                        self.pending.push((index, id, n, wait));
                    }
                    (Some(Ok(lease)), Some(true)) if lease.is_acquired() => {
                        self.direct.push((index, lease, Grant { permits: n, window: 0 }));
                    }
                    (Some(Ok(lease)), Some(false)) if !lease.is_acquired() => {
                        assert_eq!(lease.reason_phrase(), Some("Queue limit reached"), "step {step}");
                    }
                    (real, expected) => {
                        panic!("step {step}: limiter {index} acquire({n}) gave {real:?}, model {expected:?}")
                    }
                }
            }
            Op::DropPending(k) => {
                if !self.pending.is_empty() {
                    let (index, id, n, wait) = self.pending.remove(k % self.pending.len());
                    drop(wait);
                    self.model.inner[index].drop_pending(id, n, &mut self.model.fate);
                }
            }
            Op::PollAll => {
                let mut still = Vec::new();
                for (index, id, n, mut wait) in self.pending.drain(..) {
                    let fate = self.model.fate[id];
                    match (poll_once(&mut wait), fate) {
                        (None, Fate::Waiting) => {
                            still.push((index, id, n, wait));
                            continue;
                        }
                        (Some(Ok(lease)), Fate::Granted) if lease.is_acquired() => {
                            self.cov.granted_later += 1;
                            self.direct.push((index, lease, Grant { permits: n, window: 0 }));
                        }
                        (Some(Ok(lease)), Fate::Evicted) if !lease.is_acquired() => {}
                        (real, fate) => {
                            panic!("step {step}: request {id} on limiter {index}: {real:?}, model {fate:?}")
                        }
                    }
                    self.model.fate[id] = Fate::Gone;
                }
                self.pending = still;
            }
        }
        self.check(step, op);
    }

    fn direct_attempt(&mut self, which: usize, raw: u8, keep: bool, step: usize) {
        let index = which % self.limiters.len();
        let limit = self.model.inner[index].limit;
        let n = if raw == 40 { limit + 1 } else { u64::from(raw) % (limit + 1) };
        let real = self.limiters[index].attempt_acquire(n as u32);
        let expected = self.model.inner[index].attempt(n);
        match (real, expected) {
            (Ok(lease), Ok(Some(grant))) if lease.is_acquired() => {
                self.cov.direct_granted += 1;
                if keep {
                    self.direct.push((index, lease, grant));
                } else {
                    drop(lease);
                    self.model.inner[index].release(grant, &mut self.model.fate);
                }
            }
            (Ok(lease), Ok(None)) if !lease.is_acquired() => {}
            (Err(e), Err(expected)) => assert_eq!(e, expected, "step {step}: limiter {index} attempt({n})"),
            (real, expected) => panic!("step {step}: limiter {index} attempt({n}) gave {real:?}, model {expected:?}"),
        }
    }

    fn check(&mut self, step: usize, op: Op) {
        self.cov.steps += 1;
        let now = self.clock.now_nanos();
        self.model.sync(now);
        for (index, limiter) in self.limiters.iter().enumerate() {
            let inner = &self.model.inner[index];
            assert_eq!(
                stats(&**limiter),
                inner.statistics(),
                "step {step} ({op:?}) at {now} ns: limiter {index} {inner:?}"
            );
        }
        assert_eq!(stats(self.chain), self.model.statistics(), "step {step} ({op:?}) at {now} ns: chain statistics");
    }
}

fn run(shape: &Shape, ops: &[Op], tail: &[Op]) -> Coverage {
    let clock = ManualClock::new();
    let (limiters, inner): (Vec<_>, Vec<_>) = shape.specs.iter().map(|&spec| build(spec, &clock)).unzip();
    let chain = ChainedRateLimiter::new(limiters.clone()).expect("non-empty chain");
    let mut h = Harness {
        chain: &chain,
        limiters: &limiters,
        clock: &clock,
        model: Model { inner, fate: Vec::new(), disposed: false },
        held: Vec::new(),
        direct: Vec::new(),
        pending: Vec::new(),
        cov: Coverage::default(),
    };
    for (step, &op) in ops.iter().enumerate() {
        h.apply(op, step);
    }
    if shape.dispose {
        // The chain does not own its limiters: they stay usable, and so do its leases.
        chain.dispose();
        h.model.disposed = true;
        h.check(ops.len(), Op::PollAll);
        for (step, &op) in tail.iter().enumerate() {
            h.apply(op, ops.len() + 1 + step);
        }
    }
    let Harness { held, direct, pending, cov, .. } = h;
    drop(pending);
    drop(direct);
    drop(held);
    cov
}

fn accumulate(total: &mut Coverage, c: &Coverage) {
    total.steps += c.steps;
    total.chain_granted += c.chain_granted;
    for (t, r) in total.refused_at.iter_mut().zip(c.refused_at) {
        *t += r;
    }
    total.refunded_on_refusal += c.refunded_on_refusal;
    total.refunded_time_based += c.refunded_time_based;
    total.chain_errors += c.chain_errors;
    total.chain_refunds += c.chain_refunds;
    total.chain_releases += c.chain_releases;
    total.direct_granted += c.direct_granted;
    total.direct_refunds += c.direct_refunds;
    total.queued += c.queued;
    total.granted_later += c.granted_later;
    total.exact_retry_checked += c.exact_retry_checked;
    total.disposed_errors += c.disposed_errors;
}

// .NET: (none) — chains of 2–3 limiters (concurrency, token bucket, fixed window on one manual
// clock): 384 proptest cases of up to 300 steps (plus up to 20 after the chain's disposal), compared
// step by step with the sequential model of each limiter and of the all-or-nothing chain rule.
#[test]
fn chained_limiter_matches_a_sequential_model() {
    let config = Config {
        cases: 384,
        rng_seed: RngSeed::Fixed(0x9e37_79b9_7f4a_7c15),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (shape(), prop::collection::vec(op(), 1..300), prop::collection::vec(op(), 0..20));
    let total = RefCell::new(Coverage::default());
    let result = runner.run(&strategy, |(shape, ops, tail)| {
        let cov = run(&shape, &ops, &tail);
        accumulate(&mut total.borrow_mut(), &cov);
        Ok(())
    });
    let total = match result {
        Ok(()) => total.into_inner(),
        Err(TestError::Fail(_, (shape, ops, tail))) => {
            let (ops, tail, reason) = minimize(ops, tail, |ops, tail| {
                panic_message(|| {
                    run(&shape, ops, tail);
                })
            });
            panic!("{reason}\nminimal failing case: {shape:?}\nops: {ops:?}\nafter dispose: {tail:?}")
        }
        Err(e) => panic!("{e}"),
    };
    assert!(total.steps > 40_000, "{total:?}");
    assert!(total.chain_granted > 3_000 && total.chain_errors > 200 && total.disposed_errors > 50, "{total:?}");
    assert!(total.refused_at.iter().all(|&r| r > 200), "{total:?}");
    assert!(total.refunded_on_refusal > 1_000 && total.refunded_time_based > 500, "{total:?}");
    assert!(total.chain_refunds > 500 && total.chain_releases > 500, "{total:?}");
    assert!(total.direct_granted > 1_000 && total.direct_refunds > 200, "{total:?}");
    assert!(total.queued > 200 && total.granted_later > 50 && total.exact_retry_checked > 1_000, "{total:?}");
}
