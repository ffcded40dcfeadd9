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

use crate::sync::{AtomicU8, AtomicU64, Ordering, WakerSlot, thread};

/// `wake_at` value meaning "no deadline set".
pub(crate) const NO_DEADLINE: u64 = u64::MAX;

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
    /// Time-based limiters: the clock reading (nanoseconds) at which this request, next in line,
    /// fits; the waiting side sleeps until then and asks for a drain. `NO_DEADLINE` otherwise.
    wake_at: AtomicU64,
    /// The grant's stamp (time-based limiters: the window or segment it was granted in), written
    /// by the drainer before the `GRANTED` transition that publishes it.
    stamp: AtomicU64,
    wake: Wake,
}

impl Waiter {
    pub(crate) fn new(permits: u32, wake: Wake) -> Self {
        Self {
            state: AtomicU8::new(WAITING),
            permits,
            wake_at: AtomicU64::new(NO_DEADLINE),
            stamp: AtomicU64::new(0),
            wake,
        }
    }

    /// The deadline set by the drainer, or `NO_DEADLINE`.
    #[inline]
    pub(crate) fn wake_at(&self) -> u64 {
        // ORDERING: Acquire pairs with `set_wake_at`'s Release (the deadline was computed from the
        // state the drainer saw; nothing else hangs on it, but it keeps the reasoning simple).
        self.wake_at.load(Ordering::Acquire)
    }

    /// The drainer tells the next-in-line node when it fits; the caller then wakes the node so it
    /// arms its timer.
    #[inline]
    pub(crate) fn set_wake_at(&self, deadline: u64) -> bool {
        // ORDERING: Release: see `wake_at`.
        self.wake_at.swap(deadline, Ordering::AcqRel) != deadline
    }

    /// The waiting side consumes a due deadline (so it asks for one drain per deadline).
    #[inline]
    pub(crate) fn clear_wake_at(&self, seen: u64) -> bool {
        // ORDERING: AcqRel: a plain claim of the value; the drain it triggers is ordered by the
        // limiter's word.
        self.wake_at.compare_exchange(seen, NO_DEADLINE, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The drainer records the grant's stamp (before `complete(GRANTED)`).
    #[inline]
    pub(crate) fn set_stamp(&self, stamp: u64) {
        // ORDERING: Relaxed: published by the AcqRel `complete` CAS that follows.
        self.stamp.store(stamp, Ordering::Relaxed);
    }

    /// The grant's stamp; meaningful once the node was seen `GRANTED`.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        // ORDERING: Relaxed: the caller saw `GRANTED` with Acquire (`state`), which orders the
        // drainer's `set_stamp` before this load.
        self.stamp.load(Ordering::Relaxed)
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
