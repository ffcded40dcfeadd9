//! Waiter nodes: one queued request, shared by the waiting side and the drainer.
//!
//! | state       | meaning                                        | set by                  |
//! |-------------|------------------------------------------------|-------------------------|
//! | `WAITING`   | queued, not yet decided                        | creation                |
//! | `GRANTED`   | its permits were taken from the limiter for it | the drainer             |
//! | `CANCELLED` | the waiting side gave up (future dropped)      | the waiting side        |
//! | `EVICTED`   | pushed out by a newer request (NewestFirst)    | the drainer             |
//! | `DISPOSED`  | failed because the limiter was disposed        | the drainer             |
//!
//! Exactly one transition out of `WAITING` happens: each side moves the node with a
//! compare-and-swap from `WAITING`, and only one such CAS can succeed. The side that loses knows the
//! other side's decision by reading the state it lost to.

use std::task::Waker;

use crate::sync::{AtomicU8, Ordering, WakerSlot, thread};

pub(crate) const WAITING: u8 = 0;
pub(crate) const GRANTED: u8 = 1;
pub(crate) const CANCELLED: u8 = 2;
pub(crate) const EVICTED: u8 = 3;
pub(crate) const DISPOSED: u8 = 4;

/// How the waiting side is woken.
pub(crate) enum Wake {
    /// An async task, through its waker.
    Task(WakerSlot),
    /// A blocked thread, through `unpark`.
    Thread(thread::Thread),
}

impl Wake {
    pub(crate) fn task() -> Self {
        Wake::Task(WakerSlot::new())
    }

    pub(crate) fn this_thread() -> Self {
        Wake::Thread(thread::current())
    }
}

/// One queued request.
pub(crate) struct Waiter {
    state: AtomicU8,
    permits: u32,
    wake: Wake,
}

impl Waiter {
    pub(crate) fn new(permits: u32, wake: Wake) -> Self {
        Self { state: AtomicU8::new(WAITING), permits, wake }
    }

    #[inline]
    pub(crate) fn permits(&self) -> u32 {
        self.permits
    }

    /// The current state.
    #[inline]
    pub(crate) fn state(&self) -> u8 {
        // ORDERING: Acquire pairs with the AcqRel CAS in `complete`, so a waiter that sees its
        // final state also sees everything the deciding side did before deciding.
        self.state.load(Ordering::Acquire)
    }

    /// Moves the node from `WAITING` to `to`; false if another transition won.
    #[inline]
    pub(crate) fn complete(&self, to: u8) -> bool {
        // ORDERING: AcqRel: Release publishes the decider's prior writes to the waiter (see
        // `state`); Acquire orders the decider after an earlier transition it may have lost to.
        self.state.compare_exchange(WAITING, to, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Wakes the waiting side (after a transition out of `WAITING`).
    #[inline]
    pub(crate) fn wake(&self) {
        match &self.wake {
            Wake::Task(slot) => slot.wake(),
            Wake::Thread(thread) => thread.unpark(),
        }
    }

    /// Registers the task's waker; only meaningful for task waiters.
    #[inline]
    pub(crate) fn register(&self, waker: &Waker) {
        if let Wake::Task(slot) = &self.wake {
            slot.register(waker);
        }
    }
}
