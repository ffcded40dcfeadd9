//! The synchronisation facade.
//!
//! Every atomic, `UnsafeCell`, `Arc`, thread handle and waker slot used by tollgate's concurrent code
//! comes from here. Normally these are the `std` (and `atomic-waker`) types; under
//! `RUSTFLAGS="--cfg tollgate_loom"` they are loom's model-checked doubles, so the same protocol code
//! runs under the model checker (see `loom-tests/`).
//!
//! `UnsafeCell` is wrapped so that both worlds share loom's closure-based API (`with` / `with_mut`),
//! which lets loom check that the drainer's private queue is never touched by two threads at once.

#[cfg(not(tollgate_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::{Arc, Mutex};
    pub(crate) mod thread {
        pub(crate) use std::thread::{Thread, current, park, park_timeout};
    }

    /// `std::cell::UnsafeCell` with loom's closure API.
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a raw mutable pointer to the contents. The caller guarantees exclusivity.
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(tollgate_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Arc, Mutex};
    pub(crate) mod thread {
        pub(crate) use loom::thread::{Thread, current, park};

        /// loom has no timed park; a timed park may always return early, so a plain park is a
        /// valid (if pessimistic) model: callers re-check their condition in a loop.
        pub(crate) fn park_timeout(_timeout: std::time::Duration) {
            loom::thread::yield_now();
        }
    }
}

pub(crate) use imp::*;

/// A 128-bit atomic for the time-based limiters' state word (the word needs a 64-bit time and
/// 64 bits of counters and flags; see `token_bucket/state.rs`). `portable_atomic::AtomicU128`
/// normally: `cmpxchg16b` on x86-64 (a plain 16-byte `vmovdqa` load where AVX guarantees it is
/// atomic, so a rejected request writes nothing), `casp` on AArch64. Under loom it is a loom mutex
/// around a `u128`, which is linearizable, exactly what the real atomic is trusted to be.
#[cfg(not(tollgate_loom))]
pub(crate) use portable_atomic::AtomicU128;

#[cfg(tollgate_loom)]
pub(crate) struct AtomicU128(Mutex<u128>);

#[cfg(tollgate_loom)]
impl AtomicU128 {
    pub(crate) fn new(value: u128) -> Self {
        Self(Mutex::new(value))
    }

    pub(crate) fn load(&self, _order: Ordering) -> u128 {
        *self.0.lock().unwrap()
    }

    pub(crate) fn compare_exchange(
        &self,
        current: u128,
        new: u128,
        _success: Ordering,
        _failure: Ordering,
    ) -> Result<u128, u128> {
        let mut value = self.0.lock().unwrap();
        if *value == current {
            *value = new;
            Ok(current)
        } else {
            Err(*value)
        }
    }

    pub(crate) fn compare_exchange_weak(
        &self,
        current: u128,
        new: u128,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u128, u128> {
        self.compare_exchange(current, new, success, failure)
    }
}

/// Pads and aligns a value to the length of a cache line (crossbeam's `CachePadded`).
pub(crate) use crossbeam_utils::CachePadded;

/// A task's waker slot: `atomic_waker::AtomicWaker` normally, loom's model under `tollgate_loom`.
#[derive(Default)]
pub(crate) struct WakerSlot {
    #[cfg(not(tollgate_loom))]
    inner: atomic_waker::AtomicWaker,
    #[cfg(tollgate_loom)]
    inner: loom::future::AtomicWaker,
}

impl WakerSlot {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Stores `waker` to be woken by the next [`wake`](Self::wake) (or wakes it at once if a wake
    /// raced with this call), as `AtomicWaker::register` documents.
    #[inline]
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        #[cfg(not(tollgate_loom))]
        self.inner.register(waker);
        #[cfg(tollgate_loom)]
        self.inner.register_by_ref(waker);
    }

    #[inline]
    pub(crate) fn wake(&self) {
        self.inner.wake();
    }
}

/// The waiter inbox: `crossbeam_queue::SegQueue` normally. Under loom, SegQueue's own std atomics
/// are invisible to the model checker (it would not see the push happen-before the pop), so the
/// model uses a loom mutex around a `VecDeque`: a linearizable MPMC queue, which is exactly what
/// SegQueue is trusted to be.
pub(crate) struct Inbox<T> {
    #[cfg(not(tollgate_loom))]
    queue: crossbeam_queue::SegQueue<T>,
    #[cfg(tollgate_loom)]
    queue: Mutex<std::collections::VecDeque<T>>,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        #[cfg(not(tollgate_loom))]
        let queue = crossbeam_queue::SegQueue::new();
        #[cfg(tollgate_loom)]
        let queue = Mutex::new(std::collections::VecDeque::new());
        Self { queue }
    }

    pub(crate) fn push(&self, value: T) {
        #[cfg(not(tollgate_loom))]
        self.queue.push(value);
        #[cfg(tollgate_loom)]
        self.queue.lock().unwrap().push_back(value);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        #[cfg(not(tollgate_loom))]
        return self.queue.pop();
        #[cfg(tollgate_loom)]
        return self.queue.lock().unwrap().pop_front();
    }
}
