//! The baseline the lock-free queue has to beat: a FIFO async semaphore behind one std `Mutex`,
//! `Mutex<(available permits, VecDeque<waiter>)>` (ARCHITECTURE.md, "The waiter queue").

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A FIFO async semaphore: `Mutex<(available permits, VecDeque<waiter>)>`.
///
/// A releaser hands its permit directly to the oldest waiter (sets the waiter's flag and wakes it,
/// the permit never becomes "available"), so a newcomer cannot overtake the queue. A dropped,
/// still-waiting future removes itself; a dropped future that had been granted gives the permit on.
pub struct MutexSemaphore {
    state: Mutex<MutexState>,
}

struct MutexState {
    available: usize,
    waiters: VecDeque<QueuedWaiter>,
}

struct QueuedWaiter {
    /// Set (under the mutex) when a permit is handed to this waiter.
    granted: Arc<AtomicBool>,
    waker: Waker,
}

impl MutexSemaphore {
    /// A semaphore with `permits` available permits.
    pub fn new(permits: usize) -> Self {
        Self { state: Mutex::new(MutexState { available: permits, waiters: VecDeque::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, MutexState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a permit if one is free and nobody waits.
    pub fn try_acquire(&self) -> Option<MutexPermit<'_>> {
        let mut state = self.lock();
        if state.available > 0 && state.waiters.is_empty() {
            state.available -= 1;
            Some(MutexPermit { semaphore: self })
        } else {
            None
        }
    }

    /// Takes a permit, waiting in FIFO order.
    pub fn acquire(&self) -> MutexAcquire<'_> {
        MutexAcquire { semaphore: self, granted: None, done: false }
    }

    /// Returns one permit: to the oldest waiter if there is one, else to the pool.
    fn release(&self) {
        let mut state = self.lock();
        match state.waiters.pop_front() {
            Some(waiter) => {
                // ORDERING: Release pairs with the waiter's Acquire load, publishing the holder's
                // writes; the mutex orders it too.
                waiter.granted.store(true, Ordering::Release);
                drop(state);
                waiter.waker.wake();
            }
            None => state.available += 1,
        }
    }
}

/// A permit of [`MutexSemaphore`]; dropping it releases the permit.
pub struct MutexPermit<'a> {
    semaphore: &'a MutexSemaphore,
}

impl Drop for MutexPermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

/// The future of [`MutexSemaphore::acquire`].
pub struct MutexAcquire<'a> {
    semaphore: &'a MutexSemaphore,
    /// The flag of this request's queue entry, once queued.
    granted: Option<Arc<AtomicBool>>,
    done: bool,
}

impl<'a> Future for MutexAcquire<'a> {
    type Output = MutexPermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexPermit<'a>> {
        let this = self.get_mut();
        assert!(!this.done, "MutexAcquire polled after completion");
        let semaphore = this.semaphore;
        if let Some(granted) = &this.granted {
            // ORDERING: Acquire pairs with the releaser's Release store.
            if granted.load(Ordering::Acquire) {
                this.done = true;
                return Poll::Ready(MutexPermit { semaphore });
            }
        }
        let mut state = semaphore.lock();
        match &this.granted {
            None => {
                if state.available > 0 && state.waiters.is_empty() {
                    state.available -= 1;
                    this.done = true;
                    return Poll::Ready(MutexPermit { semaphore });
                }
                let granted = Arc::new(AtomicBool::new(false));
                state.waiters.push_back(QueuedWaiter { granted: Arc::clone(&granted), waker: cx.waker().clone() });
                this.granted = Some(granted);
                Poll::Pending
            }
            Some(granted) => {
                // ORDERING: Relaxed is enough under the mutex that the grant was made under.
                if granted.load(Ordering::Relaxed) {
                    this.done = true;
                    return Poll::Ready(MutexPermit { semaphore });
                }
                // Spurious wake-up: refresh the stored waker.
                if let Some(entry) = state.waiters.iter_mut().find(|entry| Arc::ptr_eq(&entry.granted, granted)) {
                    entry.waker.clone_from(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for MutexAcquire<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(granted) = self.granted.take() else {
            return;
        };
        let mut state = self.semaphore.lock();
        // ORDERING: Relaxed: grants are made under the mutex we hold.
        if granted.load(Ordering::Relaxed) {
            // Granted but never observed: pass the permit on.
            drop(state);
            self.semaphore.release();
        } else {
            state.waiters.retain(|entry| !Arc::ptr_eq(&entry.granted, &granted));
        }
    }
}
