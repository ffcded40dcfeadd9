//! The concurrency limiter: at most `permit_limit` permits held at once.
//!
//! # Implementation
//!
//! Everything an uncontended decision needs is one 64-bit word (layout in `state.rs`): available
//! permits, the count of registered waiters, and four flag bits. `attempt_acquire` is a load, the
//! pure decision of `state::decide`, and one `compare_exchange`; a refusal is a load and a relaxed
//! counter increment. Dropping a lease is one CAS that adds the permits back (and, only if waiters are
//! registered, takes the drainer role in the same CAS). Statistics counters and the idle stamp share
//! the word's cache line, so a decision touches exactly one shared line.
//!
//! **Progress.** `attempt_acquire` and lease drops are lock-free (a CAS loop that fails only when
//! another thread's CAS succeeded). Queued requests use the lock-free waiter queue of `crate::wait`.
//!
//! **Lifetime without reference counts.** A lease holds a raw pointer to the shared state, not an
//! `Arc`: cloning an `Arc` per lease would be a second contended read-modify-write on every
//! acquisition. Instead the permits themselves keep the state alive: it is freed by whichever thread's
//! CAS first makes the word read "handle dropped, every permit back, no drainer running"
//! (`state::is_last_owner`). Only three transitions can produce that word (the handle's drop, the last
//! lease's release, the drainer's exit), all CASes on the same word, so exactly one thread frees, and
//! after that word no one holds a way to reach the state. A releasing thread never touches the state
//! after its CAS unless that CAS kept it alive (it took the drainer role).
//!
//! **Memory ordering.** A release of permits happens-before the acquisition that obtains them
//! (acquire/release CAS on the word, and through the waiter node's state for queued requests), so the
//! limiter can guard data like a semaphore.
//!
//! **Idle time.** `idle_duration` is `Some` exactly when the word shows every permit back and no
//! waiter. The stamp is written just before the releasing CAS that makes the limiter idle, while
//! the releaser still holds permits and so may still touch the state (a plain store: no one else
//! can stamp until that CAS, see `stamp_idle_releasing`), and by a drainer that sees the limiter
//! idle after a pass (with `fetch_max`, so a delayed drainer cannot move it backwards). A release
//! that ends a busy period reads the clock for this stamp (as .NET's does); a release that leaves
//! permits out does not.

mod options;
pub(crate) mod state;

pub use options::ConcurrencyLimiterOptions;

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

use self::state::{Decision, Exit};
use crate::lease::{Names, PermitRelease, QUEUE_LIMIT_REACHED};
use crate::sync::{Arc, AtomicU64, CachePadded, Ordering};
use crate::wait::{self, Acquire, AcquireHost, Begin, GRANTED, Pass, QueueHost, Reserve, WaitQueue, Waiter, Wake};
use crate::{
    AcquireError, Clock, DefaultClock, OptionsError, QueueProcessingOrder, RateLimitLease, RateLimiter,
    RateLimiterStatistics,
};

/// Limits how many permits are held at once (a semaphore with .NET's queueing rules).
///
/// Permits come back when the lease holding them is dropped. Requests that cannot be served wait in
/// a queue of at most `queue_limit` permits, served oldest-first or newest-first; waiting works from
/// async tasks ([`acquire`](RateLimiter::acquire)) and plain threads
/// ([`blocking_acquire`](RateLimiter::blocking_acquire)).
///
/// Dropping the limiter disposes it; leases still held stay valid and return their permits into the
/// void.
///
/// # Memory ordering
///
/// Releasing permits (dropping a lease) happens-before any acquisition that obtains those permits.
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
///
/// # tokio_test_runtime();
/// # fn tokio_test_runtime() {
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
///     permit_limit: 2,
///     queue_limit: 10,
///     ..Default::default()
/// })?;
/// let lease = limiter.acquire(2).await?;
/// assert!(lease.is_acquired());
/// assert_eq!(limiter.statistics().unwrap().current_available_permits, 0);
/// drop(lease);
/// assert_eq!(limiter.statistics().unwrap().current_available_permits, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// # }
/// ```
pub struct ConcurrencyLimiter<C: Clock = DefaultClock> {
    shared: NonNull<Shared<C>>,
    _owns: PhantomData<Shared<C>>,
}

// SAFETY: the handle only gives `&Shared<C>` access to state that is `Send + Sync` (atomics, the
// wait queue, which is `Sync`, and a `Clock: Send + Sync`).
unsafe impl<C: Clock> Send for ConcurrencyLimiter<C> {}
// SAFETY: as above.
unsafe impl<C: Clock> Sync for ConcurrencyLimiter<C> {}

/// The word and everything written next to it on the fast path: one cache line.
struct Hot {
    word: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    /// Clock reading when the limiter last became idle (see the module docs).
    idle_since: AtomicU64,
}

struct Shared<C> {
    hot: CachePadded<Hot>,
    queue: WaitQueue,
    permit_limit: u32,
    queue_limit: u32,
    newest_first: bool,
    /// This limiter's identity in zero-permit leases (`lease::limiter_id`), for refunds.
    id: u64,
    clock: C,
}

impl ConcurrencyLimiter<DefaultClock> {
    /// Creates a limiter with all `permit_limit` permits available, on the default clock (used
    /// only to measure [`idle_duration`](RateLimiter::idle_duration)).
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the field when `permit_limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 8, ..Default::default() })?;
    /// assert_eq!(limiter.statistics().unwrap().current_available_permits, 8);
    /// assert!(ConcurrencyLimiter::new(ConcurrencyLimiterOptions::default()).is_err()); // `permit_limit` 0
    /// # Ok::<(), tollgate::OptionsError>(())
    /// ```
    pub fn new(options: ConcurrencyLimiterOptions) -> Result<Self, OptionsError> {
        Self::with_clock(options, DefaultClock::new())
    }
}

impl<C: Clock> ConcurrencyLimiter<C> {
    /// Creates a limiter that measures idle time with `clock` (permits do not depend on time).
    ///
    /// # Errors
    ///
    /// [`OptionsError`] naming the field when `permit_limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let options = ConcurrencyLimiterOptions { permit_limit: 2, ..Default::default() };
    /// let limiter = ConcurrencyLimiter::with_clock(options, clock.clone())?;
    /// clock.advance(Duration::from_secs(3));
    /// assert_eq!(limiter.idle_duration(), Some(Duration::from_secs(3))); // idle since construction
    /// # Ok::<(), tollgate::OptionsError>(())
    /// ```
    pub fn with_clock(options: ConcurrencyLimiterOptions, clock: C) -> Result<Self, OptionsError> {
        options.validate()?;
        let shared = Shared {
            hot: CachePadded::new(Hot {
                word: AtomicU64::new(state::pack(options.permit_limit, 0, 0)),
                successes: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                idle_since: AtomicU64::new(clock.now_nanos()),
            }),
            queue: WaitQueue::new(options.queue_processing_order, options.queue_limit),
            permit_limit: options.permit_limit,
            queue_limit: options.queue_limit,
            newest_first: options.queue_processing_order == QueueProcessingOrder::NewestFirst,
            id: crate::lease::limiter_id(),
            clock,
        };
        Ok(Self { shared: NonNull::from(Box::leak(Box::new(shared))), _owns: PhantomData })
    }

    #[inline]
    fn shared(&self) -> &Shared<C> {
        // SAFETY: the state is freed only after `HANDLE_GONE` is set, which happens in `drop` of
        // this (non-Clone) handle; while `&self` exists it is alive.
        unsafe { self.shared.as_ref() }
    }
}

impl<C: Clock> Shared<C> {
    #[inline]
    fn load(&self) -> u64 {
        // ORDERING: Relaxed: every use feeds a CAS (which re-validates) or is a statistic.
        self.hot.word.load(Ordering::Relaxed)
    }

    /// CAS loop applying `f`; returns the new word, or `Err` with the word `f` rejected.
    #[inline]
    fn update(&self, success: Ordering, mut f: impl FnMut(u64) -> Option<u64>) -> Result<u64, u64> {
        let mut word = self.load();
        loop {
            let Some(next) = f(word) else { return Err(word) };
            // ORDERING: chosen by the caller (Acquire to take permits, Release to return them,
            // AcqRel for the drainer role); failure is Relaxed because the loop re-decides.
            match self.hot.word.compare_exchange_weak(word, next, success, Ordering::Relaxed) {
                Ok(_) => return Ok(next),
                Err(actual) => word = actual,
            }
        }
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

    #[inline]
    fn success_lease(&self, permits: u32) -> RateLimitLease {
        if permits == 0 {
            return RateLimitLease::granted(Names::ReasonPhrase, self.id, 0, 0);
        }
        RateLimitLease::new(true, Names::ReasonPhrase).with_permit_release(PermitRelease {
            release: release_permits::<C>,
            target: NonNull::from(self).cast(),
            permits,
        })
    }

    #[inline]
    fn failed_lease() -> RateLimitLease {
        RateLimitLease::new(false, Names::ReasonPhrase)
    }

    #[inline]
    fn attempt(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        if permits > self.permit_limit {
            return Err(AcquireError::PermitLimitExceeded { requested: permits, limit: self.permit_limit });
        }
        let mut word = self.load();
        loop {
            match state::decide(word, permits, self.newest_first) {
                Decision::Take(next) => {
                    if next == word {
                        break; // zero permits: nothing to write
                    }
                    // ORDERING: Acquire: pairs with the Release of the CAS that returned these
                    // permits (see "Memory ordering").
                    match self.hot.word.compare_exchange_weak(word, next, Ordering::Acquire, Ordering::Relaxed) {
                        Ok(_) => break,
                        Err(actual) => word = actual,
                    }
                }
                Decision::Refuse => return Ok(self.refuse()),
                Decision::Closed => return Err(AcquireError::Disposed),
            }
        }
        self.count_success_();
        Ok(self.success_lease(permits))
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self) -> RateLimitLease {
        self.count_failure_();
        Self::failed_lease()
    }

    /// Returns permits; true if the caller must free the state (it was the last owner).
    fn release(&self, permits: u32) -> bool {
        let limit = self.permit_limit;
        let word = self.load();
        if state::is_idle(word + u64::from(permits), self.permit_limit) {
            self.stamp_idle_releasing();
        }
        // ORDERING: Release: publishes the lease holder's writes to the next acquirer. When the
        // CAS also takes the drainer role, the drainer's later Acquire CASes order its work.
        let mut took_role = false;
        let next = self
            .update(Ordering::AcqRel, |word| {
                let (next, took) = state::release(word, permits);
                took_role = took;
                Some(next)
            })
            .unwrap_or_else(|w| w);
        if took_role {
            return self.drain();
        }
        // Once our CAS has returned the permits, another thread may free the state (if the handle
        // is gone): decide from the word and the limit read before the CAS, touching nothing.
        state::is_last_owner(next, limit)
    }

    /// The stamp written by a release that (by the word it read) returns the last permits out.
    /// A plain store suffices where the drainer needs `fetch_max`: the releaser still holds those
    /// permits, so until its CAS no other release can make the limiter idle and no drainer can see
    /// it idle; a drainer that saw it idle earlier read the clock before this releaser acquired,
    /// so its `fetch_max` cannot raise the stamp past this one. (A prediction made stale by a
    /// racing acquisition stamps a limiter that is not idle: harmless, the next idle transition
    /// stamps again, later.) Saves a locked CAS loop on every release that ends a busy period.
    fn stamp_idle_releasing(&self) {
        // ORDERING: Relaxed: the stamp is only read after the word shows idleness (see above).
        self.hot.idle_since.store(self.clock.now_nanos(), Ordering::Relaxed);
    }

    fn stamp_idle(&self) {
        // ORDERING: Relaxed: the stamp is only read after the word shows idleness; fetch_max keeps
        // a delayed writer from moving it backwards.
        self.hot.idle_since.fetch_max(self.clock.now_nanos(), Ordering::Relaxed);
    }

    /// Asks for ordered work; true if this thread took the drainer role and must run `drain`.
    fn request_drain(&self) -> bool {
        let mut took_role = false;
        // ORDERING: AcqRel: taking the role acquires the previous drainer's work on the deque
        // (its Release exit CAS); flagging DRAIN_AGAIN releases this thread's pushes to it.
        let _ = self.update(Ordering::AcqRel, |word| {
            let (next, took) = state::request_drain(word);
            took_role = took;
            Some(next)
        });
        took_role
    }

    /// Runs the drain loop while holding the role; true if the caller must free the state.
    fn drain(&self) -> bool {
        loop {
            self.queue.process(self);
            if state::is_idle(self.load(), self.permit_limit) {
                self.stamp_idle();
            }
            let mut exit = Exit::Done;
            // ORDERING: AcqRel: Release hands the deque to the next drainer; Acquire sees the
            // pushes of whoever set DRAIN_AGAIN.
            let _ = self.update(Ordering::AcqRel, |word| {
                let (next, how) = state::exit_drain(word, self.permit_limit);
                exit = how;
                Some(next)
            });
            match exit {
                Exit::Again => continue,
                Exit::Done => return false,
                Exit::DoneLastOwner => return true,
            }
        }
    }

    fn run_drain_if(&self, took_role: bool) {
        if took_role {
            let must_free = self.drain();
            // A thread that reaches here borrows the handle, so it cannot be the last owner.
            debug_assert!(!must_free);
        }
    }

    fn dispose(&self) {
        let mut took_role = false;
        // ORDERING: AcqRel, as for `request_drain`.
        let _ = self.update(Ordering::AcqRel, |word| {
            let (next, took) = state::request_drain(word | state::CLOSED);
            took_role = took;
            Some(next)
        });
        self.run_drain_if(took_role);
    }

    fn statistics(&self) -> RateLimiterStatistics {
        RateLimiterStatistics {
            current_available_permits: u64::from(state::available(self.load())),
            current_queued_count: self.queue.queued_permits(),
            // ORDERING: Relaxed: statistics.
            total_failed_leases: self.hot.failures.load(Ordering::Relaxed),
            // ORDERING: Relaxed: statistics.
            total_successful_leases: self.hot.successes.load(Ordering::Relaxed),
        }
    }

    fn idle_duration(&self) -> Option<Duration> {
        if !state::is_idle(self.load(), self.permit_limit) {
            return None;
        }
        // ORDERING: Relaxed: see `stamp_idle`.
        let since = self.hot.idle_since.load(Ordering::Relaxed);
        Some(Duration::from_nanos(self.clock.now_nanos().saturating_sub(since)))
    }

    /// `RateLimiter::dispose_if_idle`: one CAS from the idle word (everything available, nothing
    /// queued, no drainer) to the same word closed.
    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        let word = self.load();
        if state::is_closed(word) {
            return true;
        }
        if word & !(state::AVAILABLE_MASK | state::HANDLE_GONE) != 0 || !state::is_idle(word, self.permit_limit) {
            return false;
        }
        // ORDERING: Relaxed: see `stamp_idle`.
        let since = self.hot.idle_since.load(Ordering::Relaxed);
        if self.clock.now_nanos().saturating_sub(since) < min_idle.as_nanos().min(u128::from(u64::MAX)) as u64 {
            return false;
        }
        // ORDERING: AcqRel, as for `dispose`'s close (nothing is queued, so nothing else to order).
        self.hot.word.compare_exchange(word, word | state::CLOSED, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    fn queue_full(&self) -> Begin {
        self.count_failure_();
        Begin::Done(Ok(Self::failed_lease().with_reason_phrase(QUEUE_LIMIT_REACHED)))
    }

    /// # Safety
    ///
    /// `ptr` must come from `ConcurrencyLimiter::with_clock`, and the caller must be the last owner
    /// (`state::is_last_owner` became true through its own CAS).
    unsafe fn free(ptr: NonNull<Self>) {
        // SAFETY: allocated by `Box::new` in `with_clock`; the caller is the unique last owner.
        drop(unsafe { Box::from_raw(ptr.as_ptr()) });
    }
}

/// The lease's release hook.
///
/// # Safety
///
/// `target` must point to a live `Shared<C>` from which `permits` were taken and not yet returned.
unsafe fn release_permits<C: Clock>(target: NonNull<()>, permits: u32) {
    let ptr = target.cast::<Shared<C>>();
    // SAFETY: the lease's permits are not back yet, so `is_last_owner` cannot hold: the state is alive.
    let must_free = unsafe { ptr.as_ref() }.release(permits);
    if must_free {
        // SAFETY: our CAS made the word read "last owner"; nobody else can reach the state now.
        unsafe { Shared::free(ptr) };
    }
}

impl<C: Clock> QueueHost for Shared<C> {
    fn try_take_for_waiter(&self, permits: u32, pass: &mut Pass) -> bool {
        let pass_had_permits = pass.replenished;
        // ORDERING: AcqRel: Acquire takes the permits' history (as in `attempt`); Release orders
        // this grant before the node's GRANTED store that the waiter reads.
        self.update(Ordering::AcqRel, |word| state::take_for_waiter(word, permits, pass_had_permits)).is_ok()
    }

    fn has_available(&self) -> bool {
        state::available(self.load()) > 0
    }

    fn give_back(&self, permits: u32) {
        // ORDERING: Release: returns permits like a lease drop. The drainer role is held, so no
        // drain request is needed: the current pass continues.
        self.hot.word.fetch_add(u64::from(permits), Ordering::Release);
    }

    fn unregister(&self, count: u32) {
        // ORDERING: Relaxed: only the count changes; it is read by CASes that re-validate.
        self.hot.word.fetch_sub(u64::from(count) * state::WAITER_ONE, Ordering::Relaxed);
    }

    fn is_closed(&self) -> bool {
        state::is_closed(self.load())
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
        if permits > self.permit_limit {
            return Begin::Done(Err(AcquireError::PermitLimitExceeded {
                requested: permits,
                limit: self.permit_limit,
            }));
        }
        let mut word = self.load();
        loop {
            let next = match state::decide(word, permits, self.newest_first) {
                Decision::Closed => return Begin::Done(Err(AcquireError::Disposed)),
                Decision::Take(next) if next == word => {
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(0)));
                }
                Decision::Take(next) => next,
                Decision::Refuse => {
                    if permits > self.queue_limit {
                        // Could never fit the queue: fail at once, evicting nothing (.NET R2.4).
                        return self.queue_full();
                    }
                    match state::register(word) {
                        Some(next) => next,
                        None => return self.queue_full(),
                    }
                }
            };
            // ORDERING: AcqRel: Acquire when taking permits (see `attempt`); for a registration,
            // Release/Acquire keep the release-vs-enqueue argument of `wait/mod.rs` simple.
            match self.hot.word.compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) if state::waiters(next) == state::waiters(word) => {
                    self.count_success_();
                    return Begin::Done(Ok(self.success_lease(permits)));
                }
                Ok(_) => break,
                Err(actual) => word = actual,
            }
        }
        // Registered as a waiter: reserve queue space, then publish the node.
        if self.queue.reserve(permits) == Reserve::Full {
            self.unregister(1);
            return self.queue_full();
        }
        let node = Arc::new(Waiter::new(permits, wake));
        self.queue.push(Arc::clone(&node));
        self.run_drain_if(self.request_drain());
        Begin::Queued(node)
    }

    fn finish(&self, node: &Waiter, state: u8) -> Result<RateLimitLease, AcquireError> {
        if state == GRANTED { Ok(self.success_lease(node.permits())) } else { Ok(Self::failed_lease()) }
    }

    fn cancel(&self, node: &Waiter) -> bool {
        if self.queue.cancel(node) {
            self.run_drain_if(self.request_drain());
            true
        } else {
            false
        }
    }

    fn refund(&self, lease: RateLimitLease) {
        self.refund(lease);
    }
}

impl<C: Clock> Shared<C> {
    /// `RateLimiter::refund`: uncounts the success; dropping the lease returns its permits.
    fn refund(&self, lease: RateLimitLease) {
        if lease.holds_permits_of(NonNull::from(self).cast()) || lease.grant_of(self.id).is_some() {
            // ORDERING: Relaxed: a statistic; the success was counted before the lease existed.
            self.hot.successes.fetch_sub(1, Ordering::Relaxed);
        }
        drop(lease);
    }
}

impl<C: Clock> RateLimiter for ConcurrencyLimiter<C> {
    #[inline]
    fn attempt_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        self.shared().attempt(permits)
    }

    fn acquire(&self, permits: u32) -> Acquire<'_> {
        Acquire::queued(self.shared(), permits)
    }

    fn blocking_acquire(&self, permits: u32) -> Result<RateLimitLease, AcquireError> {
        wait::block_on(self.shared(), permits)
    }

    fn statistics(&self) -> Option<RateLimiterStatistics> {
        Some(self.shared().statistics())
    }

    fn idle_duration(&self) -> Option<Duration> {
        self.shared().idle_duration()
    }

    fn dispose(&self) {
        self.shared().dispose();
    }

    fn refund(&self, lease: RateLimitLease) {
        self.shared().refund(lease);
    }

    fn dispose_if_idle(&self, min_idle: Duration) -> bool {
        self.shared().dispose_if_idle(min_idle)
    }
}

impl<C: Clock> Drop for ConcurrencyLimiter<C> {
    fn drop(&mut self) {
        let shared = self.shared();
        shared.dispose();
        let limit = shared.permit_limit;
        // ORDERING: AcqRel: Acquire makes every releaser's and drainer's prior accesses happen
        // before a free by this thread; Release covers the reverse case.
        let next = shared.update(Ordering::AcqRel, |word| Some(word | state::HANDLE_GONE)).unwrap_or_else(|w| w);
        if state::is_last_owner(next, limit) {
            // SAFETY: our CAS made the word read "last owner".
            unsafe { Shared::free(self.shared) };
        }
    }
}

impl<C: Clock> fmt::Debug for ConcurrencyLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared();
        f.debug_struct("ConcurrencyLimiter")
            .field("permit_limit", &shared.permit_limit)
            .field("queue_limit", &shared.queue_limit)
            .field("order", &shared.queue.order())
            .field("statistics", &shared.statistics())
            .finish()
    }
}
