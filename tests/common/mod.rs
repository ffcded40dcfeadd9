//! Helpers shared by the integration tests.
//!
//! Every test file that says `mod common;` compiles its own copy, and not every file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod counting;
pub mod fake;
pub mod limiter;
pub mod live_bytes;
pub mod shrink;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Polls `fut` exactly once with a no-op waker: `Some(output)` if it completed, `None` if pending.
///
/// Pass a `Pin<Box<F>>` (or any `Unpin` future) by `&mut`. Polling a future again after it returned
/// `Some` is a bug in the test.
pub fn poll_once<F: Future + Unpin + ?Sized>(fut: &mut F) -> Option<F::Output> {
    poll_with(fut, Waker::noop())
}

/// Polls `fut` exactly once with `waker`: `Some(output)` if it completed, `None` if pending.
pub fn poll_with<F: Future + Unpin + ?Sized>(fut: &mut F, waker: &Waker) -> Option<F::Output> {
    let mut cx = Context::from_waker(waker);
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// A waker that counts how often it was woken.
#[derive(Debug, Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    /// A fresh counter and a `Waker` that bumps it.
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    /// How many times the waker has been woken so far.
    pub fn count(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Spins (yielding the CPU, never sleeping) until `condition` holds; panics after a generous
/// real-time deadline so a broken wake-up fails the test instead of hanging it.
#[track_caller]
pub fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not reached within 20 s");
        std::thread::yield_now();
    }
}
