//! The concurrency limiter's packed state word: pure arithmetic, no atomics, no clock.
//!
//! | bits    | field         | meaning                                                             |
//! |---------|---------------|---------------------------------------------------------------------|
//! | 0..32   | `available`   | permits free now (0 ..= `permit_limit`, which is at most `u32::MAX`) |
//! | 32..60  | `waiters`     | registered queued requests not yet removed by the drainer (28 bits) |
//! | 60      | `DRAIN_AGAIN` | someone asked for ordered work while a drainer was running           |
//! | 61      | `DRAINING`    | the drainer role is held                                             |
//! | 62      | `HANDLE_GONE` | the limiter handle was dropped; the last owner out frees the state   |
//! | 63      | `CLOSED`      | disposed                                                            |
//!
//! `waiters` counts requests, not permits (the permit sum lives in the wait queue). 2^28 − 1 live
//! queued requests would need tens of gigabytes of waiter nodes; a registration that would overflow
//! the field is refused as "queue full" instead of wrapping.

/// The layout's constants.
pub(crate) const AVAILABLE_MASK: u64 = 0xFFFF_FFFF;
pub(crate) const WAITERS_SHIFT: u32 = 32;
pub(crate) const WAITERS_BITS: u32 = 28;
pub(crate) const WAITER_ONE: u64 = 1 << WAITERS_SHIFT;
pub(crate) const MAX_WAITERS: u64 = (1 << WAITERS_BITS) - 1;
pub(crate) const WAITERS_MASK: u64 = MAX_WAITERS << WAITERS_SHIFT;
pub(crate) const DRAIN_AGAIN: u64 = 1 << 60;
pub(crate) const DRAINING: u64 = 1 << 61;
pub(crate) const HANDLE_GONE: u64 = 1 << 62;
pub(crate) const CLOSED: u64 = 1 << 63;

/// Packs a word from its fields.
#[inline]
pub(crate) const fn pack(available: u32, waiters: u64, flags: u64) -> u64 {
    available as u64 | (waiters << WAITERS_SHIFT) | flags
}

#[inline]
pub(crate) const fn available(word: u64) -> u32 {
    (word & AVAILABLE_MASK) as u32
}

#[inline]
pub(crate) const fn waiters(word: u64) -> u64 {
    (word & WAITERS_MASK) >> WAITERS_SHIFT
}

#[inline]
pub(crate) const fn is_closed(word: u64) -> bool {
    word & CLOSED != 0
}

/// Whether nothing is held or queued: .NET's idle condition.
#[inline]
pub(crate) const fn is_idle(word: u64, limit: u32) -> bool {
    available(word) == limit && waiters(word) == 0
}

/// Decision of a request that may not queue (`attempt_acquire`) or that tries before queuing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Granted; store this word (equal to the old one for zero permits).
    Take(u64),
    /// Not available now.
    Refuse,
    /// Disposed.
    Closed,
}

/// .NET rules R1/R2: zero permits succeed iff anything is available, whatever the queue holds;
/// `n > 0` succeeds iff `available >= n` and nothing is queued (or the order is NewestFirst).
#[inline]
pub(crate) const fn decide(word: u64, permits: u32, newest_first: bool) -> Decision {
    if is_closed(word) {
        return Decision::Closed;
    }
    let available = available(word);
    if permits == 0 {
        return if available > 0 { Decision::Take(word) } else { Decision::Refuse };
    }
    if available >= permits && (waiters(word) == 0 || newest_first) {
        Decision::Take(word - permits as u64)
    } else {
        Decision::Refuse
    }
}

/// Registration of a queued request: one more waiter. `None` if the field is full.
#[inline]
pub(crate) const fn register(word: u64) -> Option<u64> {
    if waiters(word) >= MAX_WAITERS { None } else { Some(word + WAITER_ONE) }
}

/// Removes `count` waiters.
#[inline]
pub(crate) const fn unregister(word: u64, count: u64) -> u64 {
    debug_assert!(waiters(word) >= count);
    word - count * WAITER_ONE
}

/// Takes `permits` for the next-in-line waiter and unregisters it; `None` if they do not fit.
/// Zero permits fit when the drain pass began with something available (`pass_had_permits`; .NET
/// runs a pass only after permits came back, and a pass grants a zero-permit request it reaches
/// even if the requests before it took everything), else iff something is available now.
#[inline]
pub(crate) const fn take_for_waiter(word: u64, permits: u32, pass_had_permits: bool) -> Option<u64> {
    let available = available(word);
    let fits = if permits == 0 { available > 0 || pass_had_permits } else { available >= permits };
    if fits { Some(unregister(word, 1) - permits as u64) } else { None }
}

/// Sets the bits that ask for ordered work: takes the role (`true`) when free, else flags
/// `DRAIN_AGAIN` for the current drainer (`false`).
#[inline]
pub(crate) const fn request_drain(word: u64) -> (u64, bool) {
    if word & DRAINING != 0 { (word | DRAIN_AGAIN, false) } else { (word | DRAINING, true) }
}

/// Returns `permits` to the word. When waiters are registered and the limiter is open, also asks
/// for ordered work (see [`request_drain`]); the flag says whether this thread took the role.
#[inline]
pub(crate) const fn release(word: u64, permits: u32) -> (u64, bool) {
    let word = word + permits as u64;
    if waiters(word) > 0 && !is_closed(word) { request_drain(word) } else { (word, false) }
}

/// Outcome of trying to give the drainer role back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// More work was requested meanwhile: keep the role and process again.
    Again,
    /// Role given back.
    Done,
    /// Role given back and this thread is the last owner of the limiter's state: free it.
    DoneLastOwner,
}

/// Gives the drainer role back unless `DRAIN_AGAIN` is set (then clears it and keeps the role).
#[inline]
pub(crate) const fn exit_drain(word: u64, limit: u32) -> (u64, Exit) {
    if word & DRAIN_AGAIN != 0 {
        return (word & !DRAIN_AGAIN, Exit::Again);
    }
    let word = word & !DRAINING;
    if is_last_owner(word, limit) { (word, Exit::DoneLastOwner) } else { (word, Exit::Done) }
}

/// Whether no one can touch the state any more: handle gone, every permit back, no drainer.
#[inline]
pub(crate) const fn is_last_owner(word: u64, limit: u32) -> bool {
    word & HANDLE_GONE != 0 && word & DRAINING == 0 && available(word) == limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_round_trips(available_: u32, waiters_ in 0..=MAX_WAITERS, flags in 0u64..16) {
            let flags = flags << 60;
            let word = pack(available_, waiters_, flags);
            prop_assert_eq!(available(word), available_);
            prop_assert_eq!(waiters(word), waiters_);
            prop_assert_eq!(word & !(AVAILABLE_MASK | WAITERS_MASK), flags);
        }

        #[test]
        fn decide_never_overdraws(available_: u32, waiters_ in 0..=MAX_WAITERS, permits: u32, newest: bool) {
            let word = pack(available_, waiters_, 0);
            match decide(word, permits, newest) {
                Decision::Take(next) => {
                    prop_assert!(permits <= available_);
                    prop_assert_eq!(available(next), available_ - permits);
                    prop_assert_eq!(waiters(next), waiters_);
                    prop_assert!(permits == 0 || waiters_ == 0 || newest);
                }
                Decision::Refuse => prop_assert!(permits > available_ || permits == 0 && available_ == 0 || (!newest && waiters_ > 0)),
                Decision::Closed => prop_assert!(false),
            }
        }

        #[test]
        fn release_then_exit_accounting(available_ in 0u32..1000, taken in 0u32..1000, waiters_ in 0..4u64) {
            let limit = available_ + taken;
            let word = pack(available_, waiters_, 0);
            let (next, took_role) = release(word, taken);
            prop_assert_eq!(available(next), limit);
            prop_assert_eq!(took_role, waiters_ > 0);
            if took_role {
                let (after, exit) = exit_drain(next, limit);
                prop_assert_eq!(exit, Exit::Done);
                prop_assert_eq!(after & DRAINING, 0);
            }
        }
    }

    #[test]
    fn zero_permits_need_something_available() {
        assert_eq!(decide(pack(0, 0, 0), 0, false), Decision::Refuse);
        assert_eq!(decide(pack(1, 5, 0), 0, false), Decision::Take(pack(1, 5, 0)));
        assert_eq!(take_for_waiter(pack(0, 1, 0), 0, false), None);
        assert_eq!(take_for_waiter(pack(0, 1, 0), 0, true), Some(pack(0, 0, 0)));
        assert_eq!(take_for_waiter(pack(1, 1, 0), 0, false), Some(pack(1, 0, 0)));
    }

    #[test]
    fn oldest_first_queue_blocks_attempts() {
        assert_eq!(decide(pack(5, 1, 0), 1, false), Decision::Refuse);
        assert_eq!(decide(pack(5, 1, 0), 1, true), Decision::Take(pack(4, 1, 0)));
        assert_eq!(decide(pack(5, 0, CLOSED), 0, true), Decision::Closed);
    }

    #[test]
    fn full_limits_do_not_overflow() {
        let word = pack(u32::MAX, MAX_WAITERS, 0);
        assert_eq!(register(word), None);
        assert_eq!(available(release(pack(0, 0, 0), u32::MAX).0), u32::MAX);
        assert_eq!(decide(pack(u32::MAX, 0, 0), u32::MAX, false), Decision::Take(0));
    }

    #[test]
    fn drain_role_passes_work() {
        let (w, took) = request_drain(0);
        assert!(took);
        let (w, took) = request_drain(w);
        assert!(!took);
        let (w, exit) = exit_drain(w, 0);
        assert_eq!(exit, Exit::Again);
        let (w, exit) = exit_drain(w, 0);
        assert_eq!(exit, Exit::Done);
        assert_eq!(w, 0);
        let (_, exit) = exit_drain(pack(3, 0, DRAINING | HANDLE_GONE | CLOSED), 3);
        assert_eq!(exit, Exit::DoneLastOwner);
    }
}
