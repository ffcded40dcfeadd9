//! Clocks: `ManualClock` shares time between clones and wakes sleepers when advanced past their
//! deadline (async and blocking); the TSC clock is monotonic.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tollgate::{Clock, ManualClock, TscClock};

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn clones_share_time_and_saturate() {
    let clock = ManualClock::new();
    let other = clock.clone();
    clock.advance(Duration::from_secs(3));
    assert_eq!(other.now_nanos(), 3_000_000_000);
    other.advance(Duration::MAX);
    assert_eq!(clock.now_nanos(), u64::MAX);
}

#[test]
fn advance_wakes_async_sleepers_whose_deadline_passed() {
    let clock = ManualClock::new();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut sleep = clock.sleep_until(1_000);
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
    clock.advance(Duration::from_nanos(999));
    assert!(!flag.0.load(Ordering::SeqCst), "woken before its deadline");
    clock.advance(Duration::from_nanos(1));
    assert!(flag.0.load(Ordering::SeqCst), "not woken at its deadline");
    assert_eq!(Pin::new(&mut sleep).poll(&mut cx), Poll::Ready(()));
}

#[test]
fn advance_unparks_blocked_threads() {
    let clock = ManualClock::new();
    let sleeper = clock.clone();
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let handle = std::thread::spawn(move || {
        while sleeper.now_nanos() < 5_000 {
            sleeper.park_until(5_000);
        }
        done2.store(true, Ordering::SeqCst);
    });
    // Advance in steps; the thread finishes only once the deadline has passed.
    for _ in 0..5 {
        clock.advance(Duration::from_nanos(1_000));
    }
    handle.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn tsc_clock_is_monotonic() {
    let clock = TscClock::new();
    let mut last = clock.now_nanos();
    for _ in 0..10_000 {
        let now = clock.now_nanos();
        assert!(now >= last);
        last = now;
    }
}

/// The TSC clock reads nanoseconds: over 30 ms of real time it agrees with `std::time::Instant`
/// to within 2% plus 1 ms (the inline `rdtsc` path uses quanta's calibration; a wrong scale or a
/// raw tick count would be off by the TSC frequency, a factor of 1 to 5).
#[test]
fn tsc_clock_measures_nanoseconds() {
    let clock = TscClock::new();
    let (start, instant) = (clock.now_nanos(), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_millis(30));
    let (ours, real) = (clock.now_nanos() - start, instant.elapsed().as_nanos() as u64);
    let (lo, hi) = (real.min(ours), real.max(ours));
    assert!(hi - lo <= hi / 50 + 1_000_000, "TscClock measured {ours} ns where Instant measured {real} ns");
}

#[test]
fn coarse_clock_advances_and_is_monotonic() {
    use std::time::Duration;
    use tollgate::{Clock, CoarseClock};
    let clock = CoarseClock::new(Duration::from_millis(1)).unwrap();
    let other = CoarseClock::new(Duration::from_millis(5)).unwrap();
    let start = clock.now_nanos();
    let mut last = start;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while clock.now_nanos() < start + 3_000_000 {
        let now = clock.now_nanos();
        assert!(now >= last, "went backwards");
        last = now;
        assert!(std::time::Instant::now() < deadline, "the coarse time does not advance");
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(other.now_nanos() > 0);
}
