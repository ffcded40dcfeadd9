//! Time sources.
//!
//! A limiter reads time through the [`Clock`] trait, so tests inject a [`ManualClock`] and never
//! sleep in real time, while production code uses [`TscClock`] (quanta's calibrated TSC clock: about
//! 20 instructions and no system call per reading).
//!
//! Time is a `u64` count of nanoseconds since the clock's own origin: 584 years of range, so no
//! limiter arithmetic on it can wrap in practice, and subtraction is done saturating anyway.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::sync::{Arc, AtomicU64, Mutex, Ordering, thread};

/// A source of monotonic time for limiters.
///
/// Implementations must be cheap to read: the time-based limiters read the clock once per decision.
/// A clock that goes backwards or jumps is tolerated by every limiter (time is only ever compared
/// with saturating arithmetic), but it is not expected.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds elapsed since this clock's origin.
    fn now_nanos(&self) -> u64;

    /// Blocks the calling thread until `now_nanos() >= deadline` or until it is unparked, whichever
    /// comes first. It may return early: callers re-check their condition in a loop.
    fn park_until(&self, deadline: u64) {
        let now = self.now_nanos();
        if deadline > now {
            thread::park_timeout(Duration::from_nanos(deadline - now));
        }
    }
}

/// The default clock: quanta's TSC-based clock, calibrated against the OS monotonic clock.
#[derive(Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    origin: quanta::Instant,
}

impl TscClock {
    /// Creates a clock whose origin is now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.now();
        Self { clock, origin }
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TscClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TscClock").field("now_nanos", &self.now_nanos()).finish()
    }
}

impl Clock for TscClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // quanta's Instant is monotonic; the saturating subtraction guards the origin anyway.
        self.clock.now().saturating_duration_since(self.origin).as_nanos() as u64
    }
}

/// The clock used when none is given.
pub type DefaultClock = TscClock;

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share one time. [`advance`](ManualClock::advance) wakes every waiter (async or blocking)
/// that sleeps on this clock and whose deadline has passed, so tests never sleep in real time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let other = clock.clone();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(other.now_nanos(), 5_000_000);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Default)]
struct ManualInner {
    now: AtomicU64,
    sleepers: Mutex<Vec<Sleeper>>,
}

struct Sleeper {
    deadline: u64,
    wake: SleeperWake,
}

enum SleeperWake {
    Task(Waker),
    Thread(thread::Thread),
}

impl ManualClock {
    /// Creates a clock reading zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` and wakes every sleeper whose deadline has now passed.
    ///
    /// Time saturates at `u64::MAX` nanoseconds (584 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // ORDERING: SeqCst so that a sleeper that registered after reading an older time is either
        // seen in the list below or reads the new time itself (both sides use the list's mutex
        // too; SeqCst keeps the reasoning local).
        let mut now = self.inner.now.load(Ordering::SeqCst);
        loop {
            let next = now.saturating_add(by);
            // ORDERING: see above.
            match self.inner.now.compare_exchange_weak(now, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    now = next;
                    break;
                }
                Err(actual) => now = actual,
            }
        }
        self.wake_until(now);
    }

    /// Sets the time backwards or forwards to exactly `nanos` (for hostile-clock tests).
    pub fn set_nanos(&self, nanos: u64) {
        // ORDERING: SeqCst, as in `advance`.
        self.inner.now.store(nanos, Ordering::SeqCst);
        self.wake_until(nanos);
    }

    fn wake_until(&self, now: u64) {
        let due: Vec<Sleeper> = {
            let mut sleepers = self.inner.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            let mut due = Vec::new();
            let mut i = 0;
            while i < sleepers.len() {
                if sleepers[i].deadline <= now {
                    due.push(sleepers.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            due
        };
        for sleeper in due {
            match sleeper.wake {
                SleeperWake::Task(waker) => waker.wake(),
                SleeperWake::Thread(thread) => thread.unpark(),
            }
        }
    }

    /// Registers a wake-up at `deadline`; returns false (registering nothing) if it has passed.
    fn register(&self, deadline: u64, wake: SleeperWake) -> bool {
        let mut sleepers = self.inner.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        // Read the time under the lock: `advance` stores the time before taking the lock, so a
        // deadline that is not yet due here will be seen by that `advance`'s wake pass.
        if self.now_nanos() >= deadline {
            return false;
        }
        sleepers.push(Sleeper { deadline, wake });
        true
    }

    /// A future that completes once the clock reads at least `deadline` nanoseconds.
    pub fn sleep_until(&self, deadline: u64) -> ManualSleep {
        ManualSleep { clock: self.clone(), deadline }
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").field("now_nanos", &self.now_nanos()).finish()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // ORDERING: SeqCst pairs with `advance`; this clock is for tests, not the hot path.
        self.inner.now.load(Ordering::SeqCst)
    }

    fn park_until(&self, deadline: u64) {
        if self.register(deadline, SleeperWake::Thread(thread::current())) {
            thread::park();
        }
    }
}

/// Future returned by [`ManualClock::sleep_until`].
#[derive(Debug)]
pub struct ManualSleep {
    clock: ManualClock,
    deadline: u64,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.register(self.deadline, SleeperWake::Task(cx.waker().clone())) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}
