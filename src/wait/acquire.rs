//! The `Acquire` future and the blocking wait, over any limiter that queues.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::node::{WAITING, Waiter, Wake};
use crate::sync::{Arc, thread};
use crate::{AcquireError, RateLimitLease, clock::Sleep};

type AcquireResult = Result<RateLimitLease, AcquireError>;

/// How `begin` ended.
pub(crate) enum Begin {
    /// Decided at once (granted, refused, or an error).
    Done(AcquireResult),
    /// Queued: wait for the node to leave `WAITING`.
    Queued(Arc<Waiter>),
}

/// A limiter that can queue requests (object-safe, so one future type serves every limiter).
pub(crate) trait AcquireHost: Sync {
    /// Validates, tries to serve at once, otherwise registers, reserves, pushes and drains.
    fn begin(&self, permits: u32, wake: Wake) -> Begin;
    /// Turns a decided node (state `state`, not `WAITING`) into the caller's result.
    fn finish(&self, node: &Waiter, state: u8) -> AcquireResult;
    /// The waiting side gives up on a node it has not consumed.
    fn abandon(&self, node: &Waiter) {
        let state = node.state();
        if state == WAITING && self.cancel(node) {
            return;
        }
        // Decided already: a grant is refunded at once (the caller never saw it: no trace).
        if let Ok(lease) = self.finish(node, node.state()) {
            self.refund(lease);
        }
    }
    /// Gives an unseen or unwanted grant back (`RateLimiter::refund`); dropping by default.
    fn refund(&self, lease: RateLimitLease) {
        drop(lease);
    }
    /// Cancels a waiting node; true if the cancel won.
    fn cancel(&self, node: &Waiter) -> bool;
    /// Called on every poll of a still-waiting node, after its waker is registered. Time-based
    /// limiters arm the node's timer in `timer` here. Returns true if the node's state may have
    /// changed (the caller re-checks it), false to return `Pending`.
    fn poll_waiting(&self, _node: &Waiter, _timer: &mut Option<Timer>, _cx: &mut Context<'_>) -> bool {
        false
    }
    /// Blocks a thread waiting on `node` until it may have been decided.
    fn park(&self, _node: &Waiter) {
        thread::park();
    }
}

/// The future returned by [`RateLimiter::acquire`](crate::RateLimiter::acquire) and
/// [`PartitionedRateLimiter::acquire`](crate::PartitionedRateLimiter::acquire): resolves to the
/// lease (acquired or not) or an [`AcquireError`].
///
/// Creating it does nothing: the request reaches the limiter when the future is first polled, and
/// is decided in that poll when it can be (granted at once, refused because the queue is full, or
/// an error). Otherwise it waits in the limiter's queue and completes when granted, evicted
/// (NewestFirst) or when the limiter is disposed. One concrete type serves every limiter, so
/// `dyn RateLimiter` works. A single built-in limiter's future allocates only if it queues (a
/// chain's or a partitioned limiter's allocates once).
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future is how a request is cancelled, and nothing is lost or leaked.
///
/// - Dropped before its first poll: the limiter never saw the request.
/// - Dropped while queued: the request is withdrawn; its permits leave the queued count at once
///   and the queue is processed again, so requests behind it can be served. A withdrawal is not
///   counted as a failed lease.
/// - Dropped after the limiter granted it but before a poll observed the grant: the grant is
///   refunded at once ([`RateLimiter::refund`](crate::RateLimiter::refund): the permits or tokens
///   go back and the successful count is uncounted).
/// - Dropped after it returned `Ready`: nothing happens; the lease it returned is the caller's.
///
/// The futures of chains and partitioned limiters, and those made with
/// [`from_future`](Acquire::from_future), drop the futures they wrap, with the same guarantees (a
/// chain also refunds what its earlier limiters granted).
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics, as for any future.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Waker};
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
///
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() };
/// let limiter = ConcurrencyLimiter::new(options)?;
/// let held = limiter.attempt_acquire(1)?;
/// let mut waiting = Box::pin(limiter.acquire(1));
/// assert!(waiting.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending()); // queued
/// assert_eq!(limiter.statistics().unwrap().current_queued_count, 1);
/// drop(held); // the permit is handed to the queued request...
/// drop(waiting); // ...which is cancelled before it sees it: the permit comes back
/// let stats = limiter.statistics().unwrap();
/// assert_eq!((stats.current_available_permits, stats.current_queued_count), (1, 0));
/// assert_eq!(stats.total_successful_leases, 1); // only `held`'s
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    state: State<'a>,
}

/// A queued future's armed sleep: the deadline it was armed for, and the clock's sleep future.
pub(crate) struct Timer {
    pub(crate) deadline: u64,
    pub(crate) sleep: Sleep,
}

enum State<'a> {
    Start { host: &'a dyn AcquireHost, permits: u32 },
    Queued { host: &'a dyn AcquireHost, node: Arc<Waiter>, timer: Option<Timer> },
    Ready(AcquireResult),
    Boxed(Pin<Box<dyn Future<Output = AcquireResult> + Send + 'a>>),
    Done,
}

impl<'a> Acquire<'a> {
    /// A future that is ready with `result` (for custom limiters that decide at once): its first
    /// poll returns `result`. It does not allocate.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it is polled drops `result` (an acquired lease releases what it holds).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Acquire, RateLimitLease};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tollgate::AcquireError> {
    /// // What a custom limiter that never waits can return from `RateLimiter::acquire`:
    /// let future = Acquire::ready(Ok(RateLimitLease::success()));
    /// assert!(future.await?.is_acquired());
    /// # Ok(())
    /// # }
    /// ```
    pub fn ready(result: Result<RateLimitLease, AcquireError>) -> Self {
        Self { state: State::Ready(result) }
    }

    /// Wraps any future (for custom and composite limiters; allocates once).
    ///
    /// # Cancel safety
    ///
    /// Dropping the `Acquire` drops the wrapped future: it is exactly as cancel-safe as that future
    /// (an inner limiter's `acquire` future is: see [`Acquire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Acquire, NoopLimiter, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tollgate::AcquireError> {
    /// let inner = NoopLimiter::new();
    /// // A wrapper limiter's `acquire` that costs every request two permits of `inner`:
    /// let future = Acquire::from_future(async { inner.acquire(2).await });
    /// assert!(future.await?.is_acquired());
    /// assert_eq!(inner.statistics().unwrap().total_successful_leases, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_future(future: impl Future<Output = Result<RateLimitLease, AcquireError>> + Send + 'a) -> Self {
        Self { state: State::Boxed(Box::pin(future)) }
    }

    pub(crate) fn queued(host: &'a dyn AcquireHost, permits: u32) -> Self {
        Self { state: State::Start { host, permits } }
    }
}

impl Future for Acquire<'_> {
    type Output = AcquireResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AcquireResult> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start { host, permits } => match host.begin(*permits, Wake::task()) {
                    Begin::Done(result) => {
                        this.state = State::Done;
                        return Poll::Ready(result);
                    }
                    Begin::Queued(node) => this.state = State::Queued { host: *host, node, timer: None },
                },
                State::Queued { host, node, timer } => {
                    node.register(cx.waker());
                    // Re-check after registering: a decision made before the registration is seen
                    // here; one made after it wakes the registered waker.
                    let state = node.state();
                    if state == WAITING {
                        if host.poll_waiting(node, timer, cx) {
                            continue;
                        }
                        return Poll::Pending;
                    }
                    let result = host.finish(node, state);
                    this.state = State::Done;
                    return Poll::Ready(result);
                }
                State::Ready(_) => {
                    let State::Ready(result) = std::mem::replace(&mut this.state, State::Done) else { unreachable!() };
                    return Poll::Ready(result);
                }
                State::Boxed(future) => {
                    let result = std::task::ready!(future.as_mut().poll(cx));
                    this.state = State::Done;
                    return Poll::Ready(result);
                }
                State::Done => panic!("tollgate::Acquire polled after completion"),
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let State::Queued { host, node, .. } = &self.state {
            host.abandon(node);
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start { .. } => "not started",
            State::Queued { .. } => "queued",
            State::Ready(_) => "ready",
            State::Boxed(_) => "custom",
            State::Done => "done",
        };
        f.debug_struct("Acquire").field("state", &state).finish()
    }
}

/// `AcquireHost::poll_waiting` for time-based limiters: arms the node's timer for the deadline the
/// drainer set on it (if any); once the deadline has passed, consumes it and calls `drain` (which
/// runs or requests a drain pass). Returns true when the caller must re-check the node's state.
pub(crate) fn poll_timed<C: crate::Clock>(
    clock: &C,
    node: &Waiter,
    timer: &mut Option<Timer>,
    cx: &mut Context<'_>,
    drain: impl Fn(),
) -> bool {
    loop {
        let at = node.wake_at();
        if at == super::NO_DEADLINE {
            *timer = None;
            return false;
        }
        if clock.now_nanos() >= at {
            *timer = None;
            if node.clear_wake_at(at) {
                drain();
                return true;
            }
            continue;
        }
        if timer.as_ref().is_none_or(|t| t.deadline != at) {
            *timer = Some(Timer { deadline: at, sleep: clock.sleep_until(at) });
        }
        let Some(armed) = timer.as_mut() else { return false };
        match armed.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => continue,
            Poll::Pending => return false,
        }
    }
}

/// `AcquireHost::park` for time-based limiters: sleeps until the node's deadline (or until woken),
/// and calls `drain` once it has passed.
pub(crate) fn park_timed<C: crate::Clock>(clock: &C, node: &Waiter, drain: impl Fn()) {
    let at = node.wake_at();
    if at == super::NO_DEADLINE {
        thread::park();
    } else if clock.now_nanos() >= at {
        if node.clear_wake_at(at) {
            drain();
        }
    } else {
        clock.park_until(at);
    }
}

/// The blocking counterpart of [`Acquire`]: parks the calling thread while queued.
pub(crate) fn block_on(host: &dyn AcquireHost, permits: u32) -> AcquireResult {
    match host.begin(permits, Wake::this_thread()) {
        Begin::Done(result) => result,
        Begin::Queued(node) => loop {
            let state = node.state();
            if state != WAITING {
                return host.finish(&node, state);
            }
            host.park(&node);
        },
    }
}
