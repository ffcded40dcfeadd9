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
///
/// # Cancel safety
///
/// Dropping it cancels the sleep (a [`ManualClock`] sleep withdraws its wake-up registration).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{Clock, ManualClock, Sleep};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let clock = ManualClock::new();
/// let sleep: Sleep = clock.sleep_until(1_000);
/// let ((), ()) = tokio::join!(sleep, async { clock.advance(Duration::from_nanos(1_000)) });
/// assert_eq!(clock.now_nanos(), 1_000);
/// # }
/// ```
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of monotonic time for limiters.
///
/// Implementations must be cheap to read: the time-based limiters read the clock once per decision.
/// A clock that goes backwards or jumps is tolerated by every limiter (time is only ever compared
/// with saturating arithmetic), but it is not expected: while a clock reads earlier than a time a
/// limiter has seen, that limiter's view of time stands still (no tick, no refill); a jump forward
/// applies the elapsed ticks once, which can only fill a bucket or window up to its limit. Nothing
/// panics and nothing is admitted beyond the limits (`tests/hostile_clock.rs`).
///
/// Built-in clocks: [`TscClock`] (the default), [`CoarseClock`] and [`ManualClock`]. A custom
/// clock needs only [`now_nanos`](Clock::now_nanos); override
/// [`sleep_until`](Clock::sleep_until) and [`park_until`](Clock::park_until) if it does not
/// advance with real time.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use tollgate::{Clock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
///
/// #[derive(Clone)]
/// struct StdClock(Instant);
///
/// impl Clock for StdClock {
///     fn now_nanos(&self) -> u64 {
///         self.0.elapsed().as_nanos() as u64
///     }
/// }
///
/// let options = TokenBucketRateLimiterOptions {
///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(60), ..Default::default()
/// };
/// let bucket = TokenBucketRateLimiter::with_clock(options, StdClock(Instant::now()))?;
/// assert!(bucket.attempt_acquire(1)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds elapsed since this clock's origin.
    ///
    /// Each clock has its own origin (its creation, for [`TscClock`] and [`CoarseClock`]; zero
    /// for [`ManualClock`]), so readings of different clocks are not comparable.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Clock, TscClock};
    ///
    /// let clock = TscClock::new();
    /// let earlier = clock.now_nanos();
    /// assert!(clock.now_nanos() >= earlier); // monotonic
    /// ```
    fn now_nanos(&self) -> u64;

    /// Blocks the calling thread until `now_nanos() >= deadline` or until it is unparked, whichever
    /// comes first. It may return early: callers re-check their condition in a loop.
    ///
    /// The default parks the thread for the remaining time in real time
    /// ([`std::thread::park_timeout`]); [`ManualClock`] parks until an `advance` reaches the
    /// deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| clock.advance(Duration::from_nanos(500)));
    ///     while clock.now_nanos() < 500 {
    ///         clock.park_until(500);
    ///     }
    /// });
    /// ```
    fn park_until(&self, deadline: u64) {
        let now = self.now_nanos();
        if deadline > now {
            thread::park_timeout(Duration::from_nanos(deadline - now));
        }
    }

    /// A future that completes once `now_nanos() >= deadline` (it may complete a little later;
    /// callers re-check). The default sleeps in real time on tollgate's timer thread, which suits
    /// any clock that advances with real time; simulated clocks override it (see [`ManualClock`]).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned [`Sleep`] cancels the sleep; nothing else is affected.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Clock, TscClock};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let clock = TscClock::new();
    /// let deadline = clock.now_nanos() + 1_000_000; // 1 ms from now
    /// while clock.now_nanos() < deadline {
    ///     clock.sleep_until(deadline).await; // may wake a little early or late: re-check
    /// }
    /// # }
    /// ```
    fn sleep_until(&self, deadline: u64) -> Sleep {
        let wait = deadline.saturating_sub(self.now_nanos());
        Box::pin(crate::timer::sleep(Duration::from_nanos(wait)))
    }
}

/// The default clock: quanta's TSC-based clock, calibrated against the OS monotonic clock.
///
/// A reading is one `rdtsc` and one multiply-shift scaling (quanta's `delta_as_nanos`), about 20
/// instructions; where the TSC is unusable quanta falls back to the OS monotonic clock.
///
/// Clones share the origin. Sleeps ([`Clock::sleep_until`]) run on tollgate's timer thread, so
/// async waiters work under any executor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, RateLimiter, TscClock};
///
/// let window = Duration::from_secs(1);
/// let options = FixedWindowRateLimiterOptions { permit_limit: 5, window, ..Default::default() };
/// // The same as `FixedWindowRateLimiter::new(options)`:
/// let limiter = FixedWindowRateLimiter::with_clock(options, TscClock::new())?;
/// assert!(limiter.attempt_acquire(5)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    origin: u64,
    /// x86-64 with quanta on the TSC: nanoseconds per 2³² TSC ticks (quanta's calibration), so a
    /// reading is an inline `rdtsc`, a subtraction and a multiply-shift. 0: ask quanta.
    scale: u64,
}

impl TscClock {
    /// Creates a clock whose origin is now (the first call calibrates quanta's clock).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Clock, TscClock};
    ///
    /// let clock = TscClock::new();
    /// assert!(clock.now_nanos() < 60_000_000_000); // counted from its creation
    /// ```
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        let scale = tsc_scale(&clock);
        Self { clock, origin, scale }
    }
}

/// quanta's calibration as nanoseconds per 2³² ticks, if quanta reads the TSC on this machine
/// (checked: its raw reading lies between two `rdtsc` readings taken around it), else 0.
///
/// Reading the TSC inline saves quanta's out-of-line call and its two dispatches on the clock
/// kind (about a fifth of a token bucket's hot path, and the registers that call needs). The
/// scale is quanta's own, rounded down to whole nanoseconds per 2³² ticks (under 1 ns per second
/// at 3 GHz), and a reading is a monotone function of the tick count, as quanta's is.
#[cfg(target_arch = "x86_64")]
fn tsc_scale(clock: &quanta::Clock) -> u64 {
    use std::arch::x86_64::_rdtsc;
    // SAFETY: `rdtsc` is available on every x86-64 processor (it is not a target feature).
    let before = unsafe { _rdtsc() };
    let raw = clock.raw();
    // SAFETY: as above.
    let after = unsafe { _rdtsc() };
    if !(before <= raw && raw <= after) {
        return 0; // quanta reads the OS clock here (no invariant TSC): keep asking quanta.
    }
    clock.delta_as_nanos(0, 1 << 32)
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_scale(_clock: &quanta::Clock) -> u64 {
    0
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
        #[cfg(target_arch = "x86_64")]
        if self.scale != 0 {
            // SAFETY: `rdtsc` is available on every x86-64 processor (it is not a target feature).
            let ticks = unsafe { std::arch::x86_64::_rdtsc() }.saturating_sub(self.origin);
            // Below 2⁶⁴ ticks times a scale below 2⁶⁴: fits in u128. Truncating to u64 wraps only
            // after 584 years of uptime.
            return ((u128::from(ticks) * u128::from(self.scale)) >> 32) as u64;
        }
        // Raw counter delta scaled to nanoseconds (0 if the counter reads below the origin).
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

/// The clock used when none is given: the default type parameter of every time-based limiter,
/// and the clock of the `new` constructors.
///
/// # Examples
///
/// ```
/// use tollgate::{DefaultClock, ConcurrencyLimiter, ConcurrencyLimiterOptions, TscClock};
///
/// let clock: DefaultClock = TscClock::new();
/// let options = ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() };
/// // `ConcurrencyLimiter` means `ConcurrencyLimiter<DefaultClock>`:
/// let _limiter: ConcurrencyLimiter = ConcurrencyLimiter::with_clock(options, clock)?;
/// # Ok::<(), tollgate::OptionsError>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::{CoarseClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
///
/// let clock = CoarseClock::new(Duration::from_millis(1))?; // well below the 100 ms period
/// let options = TokenBucketRateLimiterOptions {
///     token_limit: 10, tokens_per_period: 1, replenishment_period: Duration::from_millis(100), ..Default::default()
/// };
/// let bucket = TokenBucketRateLimiter::with_clock(options, clock)?;
/// assert!(bucket.attempt_acquire(10)?.is_acquired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    /// a smaller interval asked for later applies to every coarse clock). Intervals below 1 µs
    /// are raised to 1 µs. The new clock's origin is the current coarse time.
    ///
    /// # Errors
    ///
    /// The I/O error if the refresh thread cannot be spawned (then, and on every later call: the
    /// failure is remembered).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{Clock, CoarseClock};
    ///
    /// let clock = CoarseClock::new(Duration::from_millis(1))?;
    /// let earlier = clock.now_nanos();
    /// assert!(clock.clone().now_nanos() >= earlier); // clones read the same coarse time
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    /// Creates a clock reading zero (the same as `ManualClock::default()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Clock, ManualClock};
    ///
    /// assert_eq!(ManualClock::new().now_nanos(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` and wakes every sleeper whose deadline has now passed.
    ///
    /// Time saturates at `u64::MAX` nanoseconds (584 years). Queued requests of limiters on this
    /// clock whose time has come are woken, and granted as soon as their task or thread runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let clock = ManualClock::new();
    /// let options = TokenBucketRateLimiterOptions {
    ///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(3600), ..Default::default()
    /// };
    /// let bucket = TokenBucketRateLimiter::with_clock(options, clock.clone())?;
    /// assert!(bucket.attempt_acquire(1)?.is_acquired());
    /// clock.advance(Duration::from_secs(3600)); // an hour, instantly
    /// assert!(bucket.attempt_acquire(1)?.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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

    /// Sets the time backwards or forwards to exactly `nanos` (for hostile-clock tests), and wakes
    /// every sleeper whose deadline is then passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// clock.set_nanos(5_000);
    /// clock.set_nanos(1_000); // backwards: limiters on this clock see time stand still
    /// assert_eq!(clock.now_nanos(), 1_000);
    /// ```
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

    /// A future that completes once the clock reads at least `deadline` nanoseconds (at once if
    /// it already does). It is woken by the [`advance`](ManualClock::advance) or
    /// [`set_nanos`](ManualClock::set_nanos) call that reaches the deadline.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future withdraws its wake-up registration; nothing else is affected.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{Clock, ManualClock};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let clock = ManualClock::new();
    /// let ((), ()) = tokio::join!(clock.sleep(2_000), async {
    ///     clock.advance(Duration::from_nanos(1_000));
    ///     tokio::task::yield_now().await; // still sleeping
    ///     clock.advance(Duration::from_nanos(1_000)); // wakes it
    /// });
    /// assert_eq!(clock.now_nanos(), 2_000);
    /// # }
    /// ```
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
///
/// # Cancel safety
///
/// Dropping it withdraws its registration from the clock, so cancelled sleeps do not pile up.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Waker};
/// use std::time::Duration;
/// use tollgate::{ManualClock, ManualSleep};
///
/// let clock = ManualClock::new();
/// let mut sleep: std::pin::Pin<Box<ManualSleep>> = Box::pin(clock.sleep(10));
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// clock.advance(Duration::from_nanos(10));
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// ```
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
