//! The floor under a rate limiter's allow path, in wall-clock time (criterion), x86-64 only: the
//! machine operations a decision cannot avoid, without any limiter around them.
//!
//! * `floor/rdtsc`: one TSC read (what `TscClock` and governor's quanta clock cost at least).
//! * `floor/rdtsc_load16_cas16`: a TSC read, a 16-byte load (`movdqa`), a compare with the read
//!   and a `lock cmpxchg16b` of the loaded value minus one: tollgate's token-bucket grant, bare.
//! * `floor/rdtsc_load16_cas16_xadd`: the same plus the relaxed `fetch_add` that counts successes.
//! * `floor/rdtsc_load8_cas8`: a TSC read, an 8-byte load and a `lock cmpxchg`: governor's GCRA
//!   grant, bare.
//! * `floor/load16_cas16`, `floor/load8_cas8`: the compare-and-swaps alone, back to back.
//!
//! What it shows (perf-reports/2026-11-29-fast-path.md): on an out-of-order core the atomics of one
//! decision overlap the clock read of the next, so the floor is the clock read for both designs;
//! what a limiter adds above it is its own work. Does not measure: contention, other
//! architectures (the file is empty there).

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::arch::x86_64::{__m128i, _rdtsc};
    use std::hint::black_box;
    use std::sync::atomic::{AtomicU64, Ordering};

    use criterion::Criterion;

    /// A 16-byte-aligned word, as tollgate's state word.
    #[repr(C, align(16))]
    struct Word([u64; 2]);

    /// # Safety
    ///
    /// `word` must be valid and 16-byte aligned; the CPU must have AVX (atomic 16-byte loads).
    #[inline(always)]
    unsafe fn load16(word: *const Word) -> (u64, u64) {
        let out: __m128i;
        // SAFETY: the caller guarantees a valid, aligned `word`.
        unsafe {
            asm!("movdqa {out}, xmmword ptr [{word}]", word = in(reg) word, out = out(xmm_reg) out,
                options(nostack, preserves_flags, readonly));
            std::mem::transmute::<__m128i, (u64, u64)>(out)
        }
    }

    /// # Safety
    ///
    /// `word` must be valid and 16-byte aligned; the CPU must have `cmpxchg16b`.
    #[inline(always)]
    unsafe fn cas16(word: *mut Word, current: (u64, u64), new: (u64, u64)) -> bool {
        let failed: u8;
        // SAFETY: the caller guarantees `word` and the feature; `rbx` is swapped with `r8` around
        // the instruction and restored (LLVM reserves it), every operand pinned to a register.
        unsafe {
            asm!(
                "xchg r8, rbx",
                "lock cmpxchg16b xmmword ptr [rsi]",
                "setne cl",
                "mov rbx, r8",
                in("rsi") word,
                inout("r8") new.0 => _,
                in("rcx") new.1,
                inout("rax") current.0 => _,
                inout("rdx") current.1 => _,
                lateout("cl") failed,
                options(nostack),
            );
        }
        failed == 0
    }

    pub fn floor(c: &mut Criterion) {
        if !(std::arch::is_x86_feature_detected!("cmpxchg16b") && std::arch::is_x86_feature_detected!("avx")) {
            eprintln!("floor: this CPU lacks cmpxchg16b or AVX; skipped");
            return;
        }
        let mut group = c.benchmark_group("floor");
        let mut word = Box::new(Word([u64::MAX >> 1, u64::MAX]));
        let word: *mut Word = &mut *word;
        let narrow = AtomicU64::new(u64::MAX >> 1);
        let successes = AtomicU64::new(0);
        // In every closure below: `rdtsc` exists on every x86-64 processor; `word` is a live,
        // 16-byte-aligned box and the CPU features were checked above.
        // SAFETY: `rdtsc` exists on every x86-64 processor.
        group.bench_function("rdtsc", |b| b.iter(|| unsafe { _rdtsc() }));
        group.bench_function("rdtsc_load16_cas16", |b| {
            // SAFETY: see above (`rdtsc`; a live aligned `word`; features checked).
            b.iter(|| unsafe {
                let now = _rdtsc();
                let (lo, hi) = load16(word);
                now < hi && cas16(word, (lo, hi), (lo - 1, hi))
            })
        });
        group.bench_function("rdtsc_load16_cas16_xadd", |b| {
            // SAFETY: see above (`rdtsc`; a live aligned `word`; features checked).
            b.iter(|| unsafe {
                let now = _rdtsc();
                let (lo, hi) = load16(word);
                let granted = now < hi && cas16(word, (lo, hi), (lo - 1, hi));
                // ORDERING: Relaxed: a counter, as tollgate's success statistic.
                successes.fetch_add(u64::from(granted), Ordering::Relaxed);
                granted
            })
        });
        group.bench_function("rdtsc_load8_cas8", |b| {
            b.iter(|| {
                // SAFETY: `rdtsc` exists on every x86-64 processor.
                let now = unsafe { _rdtsc() };
                // ORDERING: Relaxed: only atomicity is measured.
                let current = narrow.load(Ordering::Relaxed);
                now < u64::MAX
                    && narrow.compare_exchange_weak(current, current - 1, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            })
        });
        group.bench_function("load16_cas16", |b| {
            // SAFETY: see above (a live aligned `word`; features checked).
            b.iter(|| unsafe {
                let (lo, hi) = load16(word);
                cas16(word, (lo, hi), (lo - 1, hi))
            })
        });
        group.bench_function("load8_cas8", |b| {
            b.iter(|| {
                // ORDERING: Relaxed: only atomicity is measured.
                let current = narrow.load(Ordering::Relaxed);
                narrow.compare_exchange_weak(current, current - 1, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            })
        });
        group.finish();
        black_box(successes.load(Ordering::Relaxed));
    }
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn floor() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut criterion = criterion::Criterion::default()
            .warm_up_time(std::time::Duration::from_millis(500))
            .measurement_time(std::time::Duration::from_secs(2))
            .sample_size(30)
            .configure_from_args();
        x86::floor(&mut criterion);
    }
}

criterion::criterion_main!(floor);
