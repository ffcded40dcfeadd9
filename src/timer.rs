//! The process-wide timer thread behind [`Clock::sleep_until`](crate::Clock::sleep_until) for
//! real-time clocks.
//!
//! Only a queued request that is next in line for a time-based limiter ever sleeps, so this thread
//! serves few timers; it exists so that async waiters work under any executor (no runtime timer is
//! assumed). It is started on first use and parks with a timeout until the earliest deadline; its
//! precision is the OS's timed-park precision (tens of microseconds on Linux), finer than tokio's
//! 1 ms timer wheel.
//!
//! A sleep that is dropped before its deadline is marked cancelled and skipped; cancelled entries
//! are purged whenever they outnumber live ones, so memory stays bounded under churn.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;

struct Entry {
    fired: AtomicBool,
    cancelled: AtomicBool,
    waker: AtomicWaker,
}

struct Queued {
    deadline: Instant,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    cancelled: usize,
}

struct Timer {
    state: Mutex<State>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer { state: Mutex::default(), changed: Condvar::new() }));
        std::thread::Builder::new()
            .name("tollgate-timer".into())
            .spawn(move || timer.run())
            .expect("tollgate: cannot spawn the timer thread");
        timer
    })
}

impl Timer {
    fn run(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while state.heap.peek().is_some_and(|Reverse(q)| q.deadline <= now) {
                let Some(Reverse(q)) = state.heap.pop() else { break };
                // ORDERING: Relaxed: `cancelled` is a purge heuristic; `fired` is published with
                // Release so the polling task that sees it (Acquire) is done.
                if q.entry.cancelled.load(Ordering::Relaxed) {
                    state.cancelled = state.cancelled.saturating_sub(1);
                } else {
                    q.entry.fired.store(true, Ordering::Release);
                    q.entry.waker.wake();
                }
            }
            state = match state.heap.peek() {
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(Reverse(q)) => {
                    let timeout = q.deadline.saturating_duration_since(now);
                    self.changed.wait_timeout(state, timeout).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }

    fn add(&self, deadline: Instant) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            fired: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.seq += 1;
        let seq = state.seq;
        let earliest = state.heap.peek().is_none_or(|Reverse(q)| deadline < q.deadline);
        state.heap.push(Reverse(Queued { deadline, seq, entry: Arc::clone(&entry) }));
        if state.cancelled > 64 && state.cancelled * 2 > state.heap.len() {
            // ORDERING: Relaxed: see `run`.
            state.heap.retain(|Reverse(q)| !q.entry.cancelled.load(Ordering::Relaxed));
            state.cancelled = 0;
        }
        drop(state);
        if earliest {
            self.changed.notify_one();
        }
        entry
    }

    fn cancel(&self, entry: &Entry) {
        // ORDERING: Relaxed: see `run`.
        if !entry.fired.load(Ordering::Relaxed) && !entry.cancelled.swap(true, Ordering::Relaxed) {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).cancelled += 1;
        }
    }
}

/// A future that completes after `duration` of real time.
pub(crate) fn sleep(duration: Duration) -> TimerSleep {
    TimerSleep { deadline: Instant::now() + duration, entry: None }
}

/// Future returned by [`sleep`]; registers with the timer thread on first poll.
pub(crate) struct TimerSleep {
    deadline: Instant,
    entry: Option<Arc<Entry>>,
}

impl Future for TimerSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let entry = self.entry.get_or_insert_with(|| timer().add(deadline));
        entry.waker.register(cx.waker());
        // ORDERING: Acquire pairs with the timer thread's Release store.
        if entry.fired.load(Ordering::Acquire) { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for TimerSleep {
    fn drop(&mut self) {
        if let Some(entry) = &self.entry {
            timer().cancel(entry);
        }
    }
}
