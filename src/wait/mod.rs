//! The slow path: a lock-free waiter queue shared by every limiter.
//!
//! # The algorithm: a work-passing drainer
//!
//! Only requests that cannot be served at once reach this module. Such a request
//!
//! 1. **registers** in the limiter's packed state word (a waiter count, changed by the same CAS that
//!    decided "cannot be served now", so a release can never slip between the decision and the
//!    registration unseen),
//! 2. **reserves** queue space ([`WaitQueue::reserve`]: .NET's queue limit, counted in permits),
//! 3. **pushes** an `Arc`ed [`Waiter`] node into a lock-free inbox (`crossbeam_queue::SegQueue`),
//! 4. and **requests a drain**.
//!
//! Ordered work (grants in queue order with head-of-line blocking, NewestFirst eviction of the
//! oldest, failing everyone on disposal, dropping cancelled nodes) is done by whichever thread holds
//! the *drainer role*. The role is two bits of the limiter's own state word, `DRAINING` and
//! `DRAIN_AGAIN`: a thread that wants ordered work done CASes `DRAINING` on; if it is already on, it
//! sets `DRAIN_AGAIN` instead and leaves. The drainer moves the inbox into its private `VecDeque`,
//! processes it ([`WaitQueue::process`]), then tries to give the role back with a CAS that fails while
//! `DRAIN_AGAIN` is set — in which case it clears the flag and processes again. So every request for
//! ordered work is served by a pass that starts after it, and **nobody ever waits for anybody**: the
//! queue is lock-free (a stalled drainer delays queued waiters, never a caller of `attempt_acquire`,
//! a release, or another enqueue).
//!
//! # Races considered
//!
//! * **Release vs. enqueue (lost wake-up).** A release adds permits with a CAS that also reads the
//!   waiter count. If the enqueuer's registration CAS came first, the release sees the count and
//!   requests a drain. If the release came first, the registration CAS sees the new permits and
//!   serves the request at once instead of queuing. Either way the permits meet the request. A drain
//!   that runs before the node is pushed finds nothing, but the enqueuer requests its own drain after
//!   pushing. (loom: `release_races_enqueue`.)
//! * **Grant vs. cancel.** The drainer first takes the permits (one CAS on the word), then moves the
//!   node `WAITING → GRANTED`; the waiting side cancels with `WAITING → CANCELLED`. Exactly one CAS
//!   wins. If the cancel won, the drainer gives the permits back; if the grant won, the dropped future
//!   turns the grant into a lease and refunds it (`RateLimiter::refund`: the permits or tokens go
//!   back and the success is uncounted). Neither lost nor duplicated.
//!   (loom: `cancel_races_grant`.)
//! * **Cancel frees queue space at once.** A winning cancel subtracts its permits from the queued
//!   count immediately (so a new request can use the space) and requests a drain, which removes the
//!   dead node and grants whoever now fits (API difference 8).
//! * **Dispose vs. waiters.** Disposal sets `CLOSED` in the word (registrations then fail with
//!   `Disposed`) and requests a drain; the drainer fails every node. A node registered before `CLOSED`
//!   but pushed after that pass is failed by the pass its own drain request causes.
//!   (loom: `dispose_races_waiters`.)
//! * **Memory.** Cancelled nodes are removed when they reach the head, and the deque is compacted
//!   when dead nodes outnumber live ones, and shrunk when mostly empty: bounded under any churn.
//!
//! # Fairness
//!
//! Grants follow the queue order exactly (FIFO for OldestFirst, LIFO for NewestFirst) with .NET's
//! head-of-line blocking. The order between two requests that enqueue concurrently is the order in
//! which their pushes reach the inbox.

mod acquire;
mod node;
mod queue;

pub use acquire::Acquire;
pub(crate) use acquire::{AcquireHost, Begin, Timer, block_on, park_timed, poll_timed};
pub(crate) use node::{GRANTED, NO_DEADLINE, WAITING, Waiter, Wake};
pub(crate) use queue::{Pass, QueueHost, Reserve, WaitQueue};
