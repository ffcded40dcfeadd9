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
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
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
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
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
#[cfg(all(not(tollgate_loom), not(target_arch = "x86_64")))]
pub(crate) use portable_atomic::AtomicU128;

#[cfg(all(not(tollgate_loom), target_arch = "x86_64"))]
pub(crate) use self::x86_64::{AtomicU128, prime};

/// Which implementation [`AtomicU128`] uses in this process (x86-64: the inline instructions or
/// portable_atomic's fallback; elsewhere nothing to choose). A hot path that loads and then CASes
/// the word asks once ([`u128_mode`]) and passes the answer to [`load_in`] and [`cas_weak_in`],
/// instead of checking the CPU feature cache on each operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct U128Mode(#[cfg(all(not(tollgate_loom), target_arch = "x86_64"))] bool);

/// The implementation [`AtomicU128`] uses in this process.
#[inline(always)]
pub(crate) fn u128_mode() -> U128Mode {
    #[cfg(all(not(tollgate_loom), target_arch = "x86_64"))]
    return x86_64::mode();
    #[cfg(not(all(not(tollgate_loom), target_arch = "x86_64")))]
    U128Mode()
}

/// `atomic.load(order)`, with the implementation chosen by `mode`.
#[inline(always)]
pub(crate) fn load_in(atomic: &AtomicU128, mode: U128Mode, order: Ordering) -> u128 {
    #[cfg(all(not(tollgate_loom), target_arch = "x86_64"))]
    return atomic.load_in(mode, order);
    #[cfg(not(all(not(tollgate_loom), target_arch = "x86_64")))]
    {
        let U128Mode() = mode;
        atomic.load(order)
    }
}

/// `atomic.compare_exchange_weak(..)`, with the implementation chosen by `mode`.
#[inline(always)]
pub(crate) fn cas_weak_in(
    atomic: &AtomicU128,
    mode: U128Mode,
    current: u128,
    new: u128,
    success: Ordering,
    failure: Ordering,
) -> Result<u128, u128> {
    #[cfg(all(not(tollgate_loom), target_arch = "x86_64"))]
    return atomic.compare_exchange_weak_in(mode, current, new, success, failure);
    #[cfg(not(all(not(tollgate_loom), target_arch = "x86_64")))]
    {
        let U128Mode() = mode;
        atomic.compare_exchange_weak(current, new, success, failure)
    }
}

/// Runs one-time CPU feature detection now (at limiter construction) rather than on the first
/// decision.
#[cfg(not(all(not(tollgate_loom), target_arch = "x86_64")))]
pub(crate) fn prime() {}

/// x86-64: `portable_atomic::AtomicU128` reaches `cmpxchg16b` and the 16-byte load through a
/// function pointer chosen at run time (unless the crate is compiled with those target features),
/// an indirect call per operation. On the hot path tollgate issues the two instructions inline
/// instead, when the CPU has them (checked with std's cached feature detection), and falls back to
/// `portable_atomic` otherwise. Both paths operate on the same 16-byte-aligned location, and the
/// choice is fixed for the life of the process.
#[cfg(all(not(tollgate_loom), target_arch = "x86_64"))]
mod x86_64 {
    use std::arch::asm;
    use std::arch::x86_64::__m128i;
    use std::sync::atomic::Ordering;

    pub(crate) struct AtomicU128 {
        inner: portable_atomic::AtomicU128,
    }

    /// Whether this CPU has `cmpxchg16b` and AVX. AVX matters because Intel (SDM vol. 3A §9.1.1)
    /// and AMD guarantee that an aligned 16-byte SSE/AVX load is atomic on processors with AVX.
    #[inline(always)]
    fn native() -> bool {
        // 0: not yet detected, 1: no, 2: yes. One relaxed load and a predictable branch per use
        // (std's own cache costs a few more instructions per feature).
        static NATIVE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        // ORDERING: Relaxed: the value is a pure function of the CPU; racing initialisations
        // store the same value.
        // The common answer is tested first (one compare and a predicted branch).
        let cached = NATIVE.load(Ordering::Relaxed);
        if cached == 2 {
            true
        } else if cached == 1 {
            false
        } else {
            detect(&NATIVE)
        }
    }

    /// Detects the CPU features now.
    pub(crate) fn prime() {
        let _ = native();
    }

    /// The implementation in use (see [`super::u128_mode`]).
    #[inline(always)]
    pub(crate) fn mode() -> super::U128Mode {
        super::U128Mode(native())
    }

    #[cold]
    fn detect(cache: &std::sync::atomic::AtomicU8) -> bool {
        let native = std::arch::is_x86_feature_detected!("cmpxchg16b") && std::arch::is_x86_feature_detected!("avx");
        // ORDERING: Relaxed: see `native`.
        cache.store(if native { 2 } else { 1 }, Ordering::Relaxed);
        native
    }

    impl AtomicU128 {
        pub(crate) const fn new(value: u128) -> Self {
            Self { inner: portable_atomic::AtomicU128::new(value) }
        }

        #[inline]
        pub(crate) fn load(&self, order: Ordering) -> u128 {
            self.load_in(super::U128Mode(native()), order)
        }

        /// [`load`](Self::load) with the CPU check already made (see [`super::u128_mode`]).
        #[inline]
        pub(crate) fn load_in(&self, mode: super::U128Mode, order: Ordering) -> u128 {
            if mode.0 {
                let src = self.inner.as_ptr();
                let out: __m128i;
                // SAFETY: `src` is valid and 16-byte aligned (`portable_atomic::AtomicU128` is
                // `align(16)`); the CPU has AVX, so the aligned 16-byte `movdqa` load is atomic
                // (see `native`). Every write to the location is a locked `cmpxchg16b` (ours or
                // portable_atomic's), so this load is SeqCst, stronger than any `order`.
                unsafe {
                    asm!(
                        "movdqa {out}, xmmword ptr [{src}]",
                        src = in(reg) src,
                        out = out(xmm_reg) out,
                        options(nostack, preserves_flags, readonly),
                    );
                    std::mem::transmute::<__m128i, u128>(out)
                }
            } else {
                self.inner.load(order)
            }
        }

        #[inline]
        pub(crate) fn compare_exchange_weak(
            &self,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            self.compare_exchange_weak_in(super::U128Mode(native()), current, new, success, failure)
        }

        /// [`compare_exchange_weak`](Self::compare_exchange_weak) with the CPU check already made
        /// (see [`super::u128_mode`]).
        #[inline]
        pub(crate) fn compare_exchange_weak_in(
            &self,
            mode: super::U128Mode,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            if mode.0 {
                // SAFETY: `as_ptr` is valid and 16-byte aligned (as in `load`); the CPU has
                // `cmpxchg16b` (see `native`).
                unsafe { cmpxchg16b(self.inner.as_ptr(), current, new) }
            } else {
                self.inner.compare_exchange_weak(current, new, success, failure)
            }
        }
    }

    /// `lock cmpxchg16b`: a SeqCst 16-byte compare-and-swap.
    ///
    /// # Safety
    ///
    /// `dst` must be valid for reads and writes and 16-byte aligned, and the CPU must support
    /// `cmpxchg16b`.
    #[inline(always)]
    unsafe fn cmpxchg16b(dst: *mut u128, current: u128, new: u128) -> Result<u128, u128> {
        let (prev_lo, prev_hi): (u64, u64);
        let failed: u8;
        // SAFETY: the caller guarantees `dst` and the CPU feature. `rbx` is reserved by LLVM yet
        // may hold the caller's values, and a `reg` operand may even be allocated to it, so every
        // operand is pinned to an explicit register (as portable_atomic does) and `rbx` is swapped
        // with `r8` around the instruction and restored.
        unsafe {
            asm!(
                "xchg r8, rbx",
                "lock cmpxchg16b xmmword ptr [rsi]",
                "setne cl",
                "mov rbx, r8",
                in("rsi") dst,
                inout("r8") new as u64 => _,
                in("rcx") (new >> 64) as u64,
                inout("rax") current as u64 => prev_lo,
                inout("rdx") (current >> 64) as u64 => prev_hi,
                lateout("cl") failed,
                options(nostack),
            );
        }
        let prev = u128::from(prev_lo) | u128::from(prev_hi) << 64;
        if failed == 0 { Ok(prev) } else { Err(prev) }
    }

    // ORDERING (tests below): single-threaded checks or plain counting; Relaxed suffices.
    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn native_and_fallback_agree() {
            let a = AtomicU128::new(5 | 7 << 64);
            assert_eq!(a.load(Ordering::Relaxed), 5 | 7 << 64);
            assert_eq!(a.compare_exchange_weak(1, 2, Ordering::Relaxed, Ordering::Relaxed), Err(5 | 7 << 64));
            let mut current = a.load(Ordering::Relaxed);
            loop {
                match a.compare_exchange_weak(current, u128::MAX - 3, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(prev) => {
                        assert_eq!(prev, 5 | 7 << 64);
                        break;
                    }
                    Err(actual) => current = actual,
                }
            }
            assert_eq!(a.load(Ordering::Relaxed), u128::MAX - 3);
            assert_eq!(a.inner.load(Ordering::SeqCst), u128::MAX - 3);
        }

        #[test]
        fn concurrent_increments_are_atomic_across_both_halves() {
            let a = std::sync::Arc::new(AtomicU128::new(u128::from(u64::MAX) - 1000));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let a = a.clone();
                    std::thread::spawn(move || {
                        for _ in 0..10_000 {
                            let mut current = a.load(Ordering::Relaxed);
                            while let Err(actual) =
                                a.compare_exchange_weak(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
                            {
                                current = actual;
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(a.load(Ordering::Relaxed), u128::from(u64::MAX) - 1000 + 20_000);
        }
    }
}

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

/// The waiter inbox: a `crossbeam_queue::SegQueue` normally, allocated on the first push (its two
/// cache-padded ends take 256 bytes, which most limiters — every partition that never queues —
/// would otherwise carry for nothing). Under loom, SegQueue's own std atomics are invisible to the
/// model checker (it would not see the push happen-before the pop), so the model uses a loom mutex
/// around a `VecDeque`: a linearizable MPMC queue, which is exactly what SegQueue is trusted to be.
pub(crate) struct Inbox<T> {
    /// Null until the first push installs the queue (with a CAS: lock-free; never removed).
    #[cfg(not(tollgate_loom))]
    queue: std::sync::atomic::AtomicPtr<crossbeam_queue::SegQueue<T>>,
    #[cfg(tollgate_loom)]
    queue: Mutex<std::collections::VecDeque<T>>,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        #[cfg(not(tollgate_loom))]
        let queue = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
        #[cfg(tollgate_loom)]
        let queue = Mutex::new(std::collections::VecDeque::new());
        Self { queue }
    }

    /// The installed queue, if any.
    #[cfg(not(tollgate_loom))]
    #[inline]
    fn installed(&self) -> Option<&crossbeam_queue::SegQueue<T>> {
        // ORDERING: Acquire pairs with the installing CAS's Release (the queue's initialisation).
        let ptr = self.queue.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` in `push` and is freed only in
        // `drop`, which has `&mut self`.
        unsafe { ptr.as_ref() }
    }

    pub(crate) fn push(&self, value: T) {
        #[cfg(not(tollgate_loom))]
        {
            if let Some(queue) = self.installed() {
                queue.push(value);
                return;
            }
            let fresh = Box::into_raw(Box::new(crossbeam_queue::SegQueue::new()));
            // ORDERING: AcqRel: Release publishes the new queue; Acquire (also on failure) sees the
            // winner's.
            let queue = match self.queue.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
            ) {
                Ok(_) => fresh,
                Err(winner) => {
                    // SAFETY: `fresh` was never shared; the CAS lost, so it is ours to free.
                    drop(unsafe { Box::from_raw(fresh) });
                    winner
                }
            };
            // SAFETY: installed (by us or the winner), freed only in `drop`.
            unsafe { &*queue }.push(value);
        }
        #[cfg(tollgate_loom)]
        self.queue.lock().unwrap().push_back(value);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        #[cfg(not(tollgate_loom))]
        return self.installed()?.pop();
        #[cfg(tollgate_loom)]
        return self.queue.lock().unwrap().pop_front();
    }
}

#[cfg(not(tollgate_loom))]
impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let ptr = *self.queue.get_mut();
        if !ptr.is_null() {
            // SAFETY: installed by `push` from `Box::into_raw`; `&mut self` means no other user.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

// SAFETY: the inbox owns a `SegQueue<T>` (through the pointer), which is Send + Sync for T: Send.
#[cfg(not(tollgate_loom))]
unsafe impl<T: Send> Send for Inbox<T> {}
// SAFETY: as above.
#[cfg(not(tollgate_loom))]
unsafe impl<T: Send> Sync for Inbox<T> {}
