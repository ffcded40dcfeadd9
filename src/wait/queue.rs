//! The waiter queue and its drain loop (the "work-passing drainer"; see the module essay in
//! `wait/mod.rs`).

use std::collections::VecDeque;

use super::node::{CANCELLED, DISPOSED, EVICTED, GRANTED, WAITING, Waiter};
use crate::QueueProcessingOrder;
use crate::sync::{Arc, AtomicU64, AtomicUsize, Inbox, Ordering, UnsafeCell};

/// What a limiter provides to the drain loop. All methods are called by the drainer only, while it
/// holds the drainer role (which the host keeps in its own state word).
pub(crate) trait QueueHost {
    /// Takes `permits` for the next-in-line waiter and removes one waiter from the host's waiter
    /// count, in one atomic step; false when the request does not fit now (head-of-line blocking
    /// stops the pass). Zero permits always fit when `pass.replenished` (this pass follows permits
    /// coming back, as .NET's passes do: it starts true when something was available as the pass
    /// began, and a time-based host sets it when it applies a tick), and otherwise fit iff
    /// something is available now.
    fn try_take_for_waiter(&self, permits: u32, pass: &mut Pass) -> bool;
    /// The pass stopped at `node`, which does not fit now (time-based limiters tell it when it
    /// will). Not called for a pass that ends with an empty queue.
    fn blocked(&self, _node: &Waiter) {}
    /// End of a pass (not after disposal): `deque` holds the queued nodes (oldest at the front,
    /// cancelled ones included), the last `appended` of them moved in from the inbox by this pass.
    fn after_pass(&self, _deque: &VecDeque<Arc<Waiter>>, _appended: usize) {}
    /// Called under the drainer role at the start of every pass, before any grant (the sliding
    /// window applies refunds handed to it here).
    fn before_pass(&self) {}
    /// Whether any permit is available now.
    fn has_available(&self) -> bool;
    /// Gives back permits taken by `try_take_for_waiter` for a waiter that was cancelled in between.
    fn give_back(&self, permits: u32);
    /// Removes `count` waiters (cancelled, evicted or disposed nodes) from the host's waiter count.
    fn unregister(&self, count: u32);
    /// Whether the limiter is disposed (every waiter must then fail).
    fn is_closed(&self) -> bool;
    /// Counts a granted waiter as a successful lease.
    fn count_success(&self);
    /// Counts an evicted waiter as a failed lease.
    fn count_failure(&self);
}

/// State carried through one drain pass.
#[derive(Debug)]
pub(crate) struct Pass {
    /// Zero-permit requests fit (see `QueueHost::try_take_for_waiter`).
    pub(crate) replenished: bool,
    /// Time-based hosts: the tick this pass has walked to (grants happen at that instant), if any.
    pub(crate) at: Option<u64>,
    /// Set by a successful `try_take_for_waiter`: the grant's stamp (see `RateLimitLease`'s
    /// refunds), handed to the node before it is marked granted.
    pub(crate) stamp: u64,
}

/// Outcome of a queue-space reservation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reserve {
    /// The permits are counted as queued.
    Reserved,
    /// The queue cannot take them.
    Full,
}

/// The lock-free waiter queue shared by every limiter.
pub(crate) struct WaitQueue {
    /// Newly queued nodes, in arrival order. Anyone may push; only the drainer pops.
    inbox: Inbox<Arc<Waiter>>,
    /// The drainer's private queue, oldest at the front. Touched only under the drainer role.
    deque: UnsafeCell<VecDeque<Arc<Waiter>>>,
    /// Sum of the permits of queued, undecided requests (.NET's `queueCount`).
    queued_permits: AtomicU64,
    /// Cancelled nodes not yet removed from the deque (may dip below zero transiently, so it is
    /// read as a signed number); drives compaction.
    cancelled: AtomicUsize,
    order: QueueProcessingOrder,
    queue_limit: u32,
}

// SAFETY: `deque` is only accessed by the thread holding the drainer role (an exclusive role, taken
// and given back with CAS on the host's word; see `wait/mod.rs`), so the `UnsafeCell` is never
// accessed concurrently. Every other field is thread-safe.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    pub(crate) fn new(order: QueueProcessingOrder, queue_limit: u32) -> Self {
        Self {
            inbox: Inbox::new(),
            deque: UnsafeCell::new(VecDeque::new()),
            queued_permits: AtomicU64::new(0),
            cancelled: AtomicUsize::new(0),
            order,
            queue_limit,
        }
    }

    pub(crate) fn order(&self) -> QueueProcessingOrder {
        self.order
    }

    /// The sum of the permits of undecided queued requests.
    #[inline]
    pub(crate) fn queued_permits(&self) -> u64 {
        // ORDERING: Relaxed: a statistic and a limit check; the count itself is exact because every
        // change is an RMW.
        self.queued_permits.load(Ordering::Relaxed)
    }

    /// Reserves queue space for `permits` (.NET's rule: OldestFirst refuses when
    /// `queue_limit - queued < permits`; NewestFirst accepts any `permits <= queue_limit` and the
    /// drainer then evicts the oldest until the queue fits). Zero permits always fit.
    pub(crate) fn reserve(&self, permits: u32) -> Reserve {
        if permits == 0 {
            return Reserve::Reserved;
        }
        let limit = u64::from(self.queue_limit);
        if u64::from(permits) > limit {
            return Reserve::Full;
        }
        match self.order {
            QueueProcessingOrder::NewestFirst => {
                // ORDERING: Relaxed: the count is exact (RMW); the drainer re-reads it after this
                // node is pushed, and the push/pop of the node orders the rest.
                self.queued_permits.fetch_add(u64::from(permits), Ordering::Relaxed);
                Reserve::Reserved
            }
            QueueProcessingOrder::OldestFirst => {
                // ORDERING: Relaxed, as above.
                let result = self.queued_permits.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                    (limit - queued.min(limit) >= u64::from(permits)).then(|| queued + u64::from(permits))
                });
                if result.is_ok() { Reserve::Reserved } else { Reserve::Full }
            }
        }
    }

    /// Undoes a reservation that was not used.
    pub(crate) fn unreserve(&self, permits: u32) {
        if permits > 0 {
            // ORDERING: Relaxed: see `reserve`.
            self.queued_permits.fetch_sub(u64::from(permits), Ordering::Relaxed);
        }
    }

    /// Publishes a registered, reserved node to the drainer. The caller must then request a drain.
    pub(crate) fn push(&self, node: Arc<Waiter>) {
        self.inbox.push(node);
    }

    /// The waiting side gives up on `node`. True if the cancel won (the node was still waiting):
    /// its queued permits are released at once and the caller must request a drain so the queue is
    /// processed again (API difference 8) and the dead node is removed.
    pub(crate) fn cancel(&self, node: &Waiter) -> bool {
        if !node.complete(CANCELLED) {
            return false;
        }
        self.unreserve(node.permits());
        // ORDERING: Relaxed: a compaction heuristic only.
        self.cancelled.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// One pass of ordered work. The caller must hold the drainer role for the whole call.
    pub(crate) fn process<H: QueueHost>(&self, host: &H) {
        self.deque.with_mut(|deque| {
            // SAFETY: the caller holds the drainer role, which makes it the only thread touching
            // the deque (see the `Sync` impl above).
            let deque = unsafe { &mut *deque };
            let mut appended = 0;
            while let Some(node) = self.inbox.pop() {
                deque.push_back(node);
                appended += 1;
            }
            host.before_pass();
            if host.is_closed() {
                self.fail_all(deque, host);
                return;
            }
            if self.order == QueueProcessingOrder::NewestFirst {
                self.evict_overflow(deque, host);
            }
            self.grant(deque, host);
            self.compact(deque, host);
            host.after_pass(deque, appended);
        });
    }

    fn next(&self, deque: &VecDeque<Arc<Waiter>>) -> Option<Arc<Waiter>> {
        match self.order {
            QueueProcessingOrder::OldestFirst => deque.front().cloned(),
            QueueProcessingOrder::NewestFirst => deque.back().cloned(),
        }
    }

    fn pop_next(&self, deque: &mut VecDeque<Arc<Waiter>>) {
        match self.order {
            QueueProcessingOrder::OldestFirst => deque.pop_front(),
            QueueProcessingOrder::NewestFirst => deque.pop_back(),
        };
    }

    fn forget_cancelled(&self, count: usize) {
        // ORDERING: Relaxed: a compaction heuristic only.
        self.cancelled.fetch_sub(count, Ordering::Relaxed);
    }

    /// Grants from the head (OldestFirst) or tail (NewestFirst) until a request does not fit.
    fn grant<H: QueueHost>(&self, deque: &mut VecDeque<Arc<Waiter>>, host: &H) {
        let mut pass = Pass { replenished: host.has_available(), at: None, stamp: 0 };
        while let Some(node) = self.next(deque) {
            if node.state() != WAITING {
                // Cancelled: drop the placeholder.
                self.pop_next(deque);
                self.forget_cancelled(1);
                host.unregister(1);
                continue;
            }
            if !host.try_take_for_waiter(node.permits(), &mut pass) {
                host.blocked(&node);
                break;
            }
            self.pop_next(deque);
            node.set_stamp(pass.stamp);
            if node.complete(GRANTED) {
                self.unreserve(node.permits());
                host.count_success();
                node.wake();
            } else {
                // Cancelled between our check and our grant: the cancel already released its
                // queued permits; give the taken permits back (exactly one side won the node).
                host.give_back(node.permits());
                self.forget_cancelled(1);
            }
        }
    }

    /// NewestFirst: evicts the oldest requests while the queue holds more than its limit.
    fn evict_overflow<H: QueueHost>(&self, deque: &mut VecDeque<Arc<Waiter>>, host: &H) {
        while self.queued_permits() > u64::from(self.queue_limit) {
            let Some(node) = deque.pop_front() else { break };
            host.unregister(1);
            if node.complete(EVICTED) {
                self.unreserve(node.permits());
                host.count_failure();
                node.wake();
            } else {
                self.forget_cancelled(1);
            }
        }
    }

    /// Disposal: every waiter fails (head-first for OldestFirst, tail-first for NewestFirst), not
    /// counted as a failed lease.
    fn fail_all<H: QueueHost>(&self, deque: &mut VecDeque<Arc<Waiter>>, host: &H) {
        while let Some(node) = self.next(deque) {
            self.pop_next(deque);
            host.unregister(1);
            if node.complete(DISPOSED) {
                self.unreserve(node.permits());
                node.wake();
            } else {
                self.forget_cancelled(1);
            }
        }
        deque.shrink_to_fit();
    }

    /// Removes cancelled nodes once they outnumber live ones, and returns memory the deque no longer
    /// needs, so endless enqueue/cancel churn keeps memory bounded.
    fn compact<H: QueueHost>(&self, deque: &mut VecDeque<Arc<Waiter>>, host: &H) {
        // ORDERING: Relaxed: a heuristic; the retain below reads each node's state properly.
        let dead = self.cancelled.load(Ordering::Relaxed) as isize;
        if dead > 0 && (dead as usize) * 2 >= deque.len() {
            let before = deque.len();
            deque.retain(|node| node.state() == WAITING);
            let removed = before - deque.len();
            if removed > 0 {
                self.forget_cancelled(removed);
                host.unregister(removed as u32);
            }
        }
        if deque.capacity() > 64 && deque.len() * 4 < deque.capacity() {
            deque.shrink_to(deque.len() * 2);
        }
    }
}
