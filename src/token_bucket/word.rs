//! The 128-bit state word's atomic operations and drainer-role protocol, shared by the
//! time-based limiters (token bucket and fixed window through `token_bucket::Shared`, and the
//! sliding window). The low half has the concurrency limiter's layout (`concurrency::state`).

use super::state::{join, split};
use crate::concurrency::state::{self as lo_state, Exit};
use crate::sync::{self, AtomicU128, Ordering, U128Mode};
use crate::wait::{QueueHost, WaitQueue};

#[inline]
pub(crate) fn load(word: &AtomicU128) -> u128 {
    // ORDERING: Relaxed: every use feeds a CAS (which re-validates) or is a statistic.
    word.load(Ordering::Relaxed)
}

#[inline]
pub(crate) fn cas(word: &AtomicU128, current: u128, new: u128, success: Ordering) -> Result<u128, u128> {
    // ORDERING: chosen by the caller; failure is Relaxed because every caller re-decides.
    word.compare_exchange_weak(current, new, success, Ordering::Relaxed)
}

/// The word's implementation, asked once by a hot path that both loads and CASes it.
#[inline(always)]
pub(crate) fn mode() -> U128Mode {
    sync::u128_mode()
}

/// [`load`] with the implementation already chosen.
#[inline]
pub(crate) fn load_in(word: &AtomicU128, mode: U128Mode) -> u128 {
    // ORDERING: Relaxed: as `load`.
    sync::load_in(word, mode, Ordering::Relaxed)
}

/// [`cas`] with the implementation already chosen.
#[inline]
pub(crate) fn cas_in(
    word: &AtomicU128,
    mode: U128Mode,
    current: u128,
    new: u128,
    success: Ordering,
) -> Result<u128, u128> {
    // ORDERING: chosen by the caller; failure is Relaxed because every caller re-decides.
    sync::cas_weak_in(word, mode, current, new, success, Ordering::Relaxed)
}

/// CAS loop over the low half's queue bookkeeping (the high half is kept).
pub(crate) fn update_lo(word: &AtomicU128, success: Ordering, mut f: impl FnMut(u64) -> u64) -> u64 {
    let mut current = load(word);
    loop {
        let (lo, hi) = split(current);
        let next = f(lo);
        match cas(word, current, join(next, hi), success) {
            Ok(_) => return next,
            Err(actual) => current = actual,
        }
    }
}

/// Asks for ordered work (`close` also marks the limiter disposed); true if this thread took the
/// drainer role and must run [`drain`].
pub(crate) fn request_drain(word: &AtomicU128, close: bool) -> bool {
    let mut took_role = false;
    // ORDERING: AcqRel: taking the role acquires the previous drainer's work (deque and any
    // role-private state) through its Release exit CAS; flagging DRAIN_AGAIN releases this
    // thread's pushes to the current drainer.
    update_lo(word, Ordering::AcqRel, |lo| {
        let lo = if close { lo | lo_state::CLOSED } else { lo };
        let (next, took) = lo_state::request_drain(lo);
        took_role = took;
        next
    });
    took_role
}

/// The drain loop, run by the role holder: passes until no more work was requested meanwhile.
pub(crate) fn drain<H: QueueHost>(word: &AtomicU128, queue: &WaitQueue, host: &H, limit: u32) {
    loop {
        queue.process(host);
        let mut exit = Exit::Done;
        // ORDERING: AcqRel: Release hands the role's state to the next drainer; Acquire sees the
        // pushes of whoever set DRAIN_AGAIN.
        update_lo(word, Ordering::AcqRel, |lo| {
            let (next, how) = lo_state::exit_drain(lo, limit);
            exit = how;
            next
        });
        if exit != Exit::Again {
            return;
        }
    }
}
