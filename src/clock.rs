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
use std::task::{Context, Poll};
use std::time::Duration;

use crate::sync::{Arc, AtomicU64, Mutex, Ordering, WakerSlot, thread};

/// The future returned by [`Clock::sleep_until`]. Boxed: only a request that must wait for time
/// to pass sleeps, and it allocates its waiter node anyway.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of monotonic time for limiters.
///
/// Implementations must be cheap to read: the time-based limiters read the clock once per decision.
/// A clock that goes backwards or jumps is tolerated by every limiter (time is only ever compared
/// with saturating arithmetic), but it is not expected: while a clock reads earlier than a time a
/// limiter has seen, that limiter's view of time stands still (no tick, no refill); a jump forward
/// applies the elapsed ticks once, which can only fill a bucket or window up to its limit. Nothing
/// panics and nothing is admitted beyond the limits (`tests/hostile_clock.rs`).
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

    /// A future that completes once `now_nanos() >= deadline` (it may complete a little later;
    /// callers re-check). The default sleeps in real time on tollgate's timer thread, which suits
    /// any clock that advances with real time; simulated clocks override it (see [`ManualClock`]).
    fn sleep_until(&self, deadline: u64) -> Sleep {
        let wait = deadline.saturating_sub(self.now_nanos());
        Box::pin(crate::timer::sleep(Duration::from_nanos(wait)))
    }
}

/// The default clock: quanta's TSC-based clock, calibrated against the OS monotonic clock.
///
/// A reading is one `rdtsc` and one multiply-shift scaling (quanta's `delta_as_nanos`), about 20
/// instructions; where the TSC is unusable quanta falls back to the OS monotonic clock.
#[derive(Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    origin: u64,
}

impl TscClock {
    /// Creates a clock whose origin is now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
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
        // Raw counter delta scaled to nanoseconds (0 if the counter reads below the origin).
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

/// The clock used when none is given.
pub type DefaultClock = TscClock;

/// A coarse clock: reads a time that a background thread refreshes every `interval`, about 2 ns
/// per reading (one relaxed load) instead of about 10 ns for [`TscClock`].
///
/// **Staleness trade-off.** A reading may be up to `interval` (plus scheduling delay) old, so a
/// time-based limiter on this clock sees ticks up to that late: it never admits more than its
/// limit, but may admit later than it could have, and a `retry_after` it reports is measured from
/// the stale time (a retry may arrive up to `interval` early and be refused). Pick an interval well
/// below the limiter's period (for example 1 ms for periods of 100 ms and more).
///
/// One refresh thread serves the whole process (tollgate's own, so it cannot be stopped or shared
/// by another library): the first `CoarseClock::new` starts it, and it refreshes at the smallest
/// interval any `CoarseClock::new` asked for. It runs until the process exits.
#[derive(Clone)]
pub struct CoarseClock {
    origin: u64,
}

/// The coarse time: nanoseconds on one process-wide `TscClock`, refreshed by the coarse thread.
static COARSE_NOW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// The refresh interval in nanoseconds (the smallest requested).
static COARSE_INTERVAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

impl CoarseClock {
    /// Starts (once per process) the thread refreshing the coarse time every `interval` (at most;
    /// a smaller interval asked for later applies to every coarse clock).
    ///
    /// # Errors
    ///
    /// The I/O error if the refresh thread cannot be spawned.
    pub fn new(interval: Duration) -> std::io::Result<Self> {
        use std::sync::atomic::Ordering::Relaxed;
        static STARTED: std::sync::OnceLock<Result<(), std::io::ErrorKind>> = std::sync::OnceLock::new();
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX).max(1_000);
        // ORDERING: Relaxed: the thread re-reads the interval every round; any value is valid.
        COARSE_INTERVAL.fetch_min(nanos, Relaxed);
        let started = STARTED.get_or_init(|| {
            let clock = TscClock::new();
            // ORDERING: Relaxed: readers need only some recent value (see the staleness note).
            COARSE_NOW.store(clock.now_nanos().max(1), Relaxed);
            std::thread::Builder::new()
                .name("tollgate-coarse-clock".into())
                .spawn(move || {
                    loop {
                        // ORDERING: Relaxed, as above.
                        COARSE_NOW.fetch_max(clock.now_nanos(), Relaxed);
                        std::thread::sleep(Duration::from_nanos(COARSE_INTERVAL.load(Relaxed)));
                    }
                })
                .map(drop)
                .map_err(|e| e.kind())
        });
        if let Err(kind) = started {
            return Err(std::io::Error::new(*kind, "cannot spawn the coarse clock thread"));
        }
        // ORDERING: Relaxed: see above.
        Ok(Self { origin: COARSE_NOW.load(Relaxed) })
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock").field("now_nanos", &self.now_nanos()).finish()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // ORDERING: Relaxed: a recent reading is all this clock promises; `fetch_max` in the
        // refresh thread keeps it monotonic.
        COARSE_NOW.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(self.origin)
    }
}

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
    sleepers: Mutex<Sleepers>,
}

/// Registered wake-ups, each with an id so that a sleeper that goes away (a dropped sleep future,
/// a thread woken by something else) can withdraw its entry: otherwise cancelled waits would pile
/// up until the clock passes their deadlines.
#[derive(Default)]
struct Sleepers {
    list: Vec<Sleeper>,
    next_id: u64,
}

struct Sleeper {
    id: u64,
    deadline: u64,
    wake: SleeperWake,
}

enum SleeperWake {
    Task(Arc<WakerSlot>),
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
            let list = &mut sleepers.list;
            let mut due = Vec::new();
            let mut i = 0;
            while i < list.len() {
                if list[i].deadline <= now {
                    due.push(list.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            due
        };
        for sleeper in due {
            match sleeper.wake {
                SleeperWake::Task(slot) => slot.wake(),
                SleeperWake::Thread(thread) => thread.unpark(),
            }
        }
    }

    /// Registers a wake-up at `deadline`; its id, or `None` (registering nothing) if it has passed.
    fn register(&self, deadline: u64, wake: SleeperWake) -> Option<u64> {
        let mut sleepers = self.inner.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        // Read the time under the lock: `advance` stores the time before taking the lock, so a
        // deadline that is not yet due here will be seen by that `advance`'s wake pass.
        if self.now_nanos() >= deadline {
            return None;
        }
        let id = sleepers.next_id;
        sleepers.next_id += 1;
        sleepers.list.push(Sleeper { id, deadline, wake });
        Some(id)
    }

    /// Withdraws a registration that is no longer needed (a no-op if it was woken already).
    fn unregister(&self, id: u64) {
        let mut sleepers = self.inner.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = sleepers.list.iter().position(|s| s.id == id) {
            sleepers.list.swap_remove(i);
        }
    }

    /// A future that completes once the clock reads at least `deadline` nanoseconds.
    pub fn sleep(&self, deadline: u64) -> ManualSleep {
        ManualSleep { clock: self.clone(), deadline, slot: None, id: None }
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
        if let Some(id) = self.register(deadline, SleeperWake::Thread(thread::current())) {
            thread::park();
            // Woken by the clock (then already removed) or by something else: withdraw.
            self.unregister(id);
        }
    }

    fn sleep_until(&self, deadline: u64) -> Sleep {
        Box::pin(self.sleep(deadline))
    }
}

/// Future returned by [`ManualClock::sleep`]: registers once with the clock, then only updates
/// its waker on later polls.
pub struct ManualSleep {
    clock: ManualClock,
    deadline: u64,
    slot: Option<Arc<WakerSlot>>,
    /// The clock registration, withdrawn on drop.
    id: Option<u64>,
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.clock.unregister(id);
        }
    }
}

impl fmt::Debug for ManualSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualSleep").field("deadline", &self.deadline).finish()
    }
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now_nanos() >= self.deadline {
            return Poll::Ready(());
        }
        if let Some(slot) = &self.slot {
            slot.register(cx.waker());
        } else {
            let slot = Arc::new(WakerSlot::new());
            slot.register(cx.waker());
            let Some(id) = self.clock.register(self.deadline, SleeperWake::Task(Arc::clone(&slot))) else {
                return Poll::Ready(());
            };
            self.slot = Some(slot);
            self.id = Some(id);
        }
        // An `advance` between the check above and the registration wakes the slot; re-check so a
        // wake that happened before our waker was stored is not lost.
        if self.clock.now_nanos() >= self.deadline { Poll::Ready(()) } else { Poll::Pending }
    }
}
