//! Keyed limiting: `tollgate::PartitionedRateLimiter` with token-bucket partitions against
//! governor's keyed limiter (`RateLimiter::dashmap`, `check_key`), in wall-clock time (criterion).
//!
//! Both sides: `u64` keys, one permit per operation, a quota no caller here outpaces (burst
//! `u32::MAX`, one more permit per nanosecond; tollgate adds 10⁹ tokens once a second, governor one
//! cell per nanosecond), every key used once before timing so only existing-key lookups are timed.
//! tollgate's partitioner builds `RateLimitPartition::get_token_bucket_limiter(key, ..)` on every
//! call (as .NET's does), which allocates nothing for a capture-less options closure.
//!
//! * `keyed_hot/1_thread`, `keyed_hot/2_threads`: every call on one key (two threads: the same key,
//!   time per operation per thread).
//! * `keyed_many/1_thread`, `keyed_many/2_threads`: keys drawn from 10,000 live keys, skewed
//!   (a quarter of the calls on 10 keys, the rest spread uniformly), a fixed precomputed sequence.
//!
//! `tollgate_one_bucket_no_map` is one token bucket serving every key (no map): the floor the
//! partition layer adds to.
//!
//! Does not measure: key creation, eviction, queued waits, memory (see `tests/partition_memory.rs`).
//! Compare only as ratios within one group of one run.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_main};
use governor::DefaultKeyedRateLimiter;
use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};

fn options() -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit: u32::MAX,
        tokens_per_period: 1_000_000_000,
        replenishment_period: Duration::from_secs(1),
        ..Default::default()
    }
}

trait Keyed: Sync {
    const NAME: &'static str;
    fn build() -> Self;
    /// One decision for `key`; true if admitted.
    fn check(&self, key: &u64) -> bool;
}

struct Tollgate(PartitionedRateLimiter<u64>);

impl Keyed for Tollgate {
    const NAME: &'static str = "tollgate";
    fn build() -> Self {
        Tollgate(PartitionedRateLimiter::new(|key: &u64| {
            RateLimitPartition::get_token_bucket_limiter(*key, |_| options())
        }))
    }
    #[inline]
    fn check(&self, key: &u64) -> bool {
        self.0.attempt_acquire(key, 1).map(|lease| lease.is_acquired()).unwrap_or(false)
    }
}

/// The floor: one token bucket for every key (no map), to show what the partition layer costs.
struct Unkeyed(tollgate::TokenBucketRateLimiter);

impl Keyed for Unkeyed {
    const NAME: &'static str = "tollgate_one_bucket_no_map";
    fn build() -> Self {
        Unkeyed(tollgate::TokenBucketRateLimiter::new(options()).expect("valid options"))
    }
    #[inline]
    fn check(&self, _key: &u64) -> bool {
        use tollgate::RateLimiter;
        self.0.attempt_acquire(1).map(|lease| lease.is_acquired()).unwrap_or(false)
    }
}

struct Governor(DefaultKeyedRateLimiter<u64>);

impl Keyed for Governor {
    const NAME: &'static str = "governor";
    fn build() -> Self {
        let quota = governor::Quota::with_period(Duration::from_nanos(1))
            .expect("non-zero")
            .allow_burst(NonZeroU32::new(u32::MAX).expect("non-zero"));
        Governor(governor::RateLimiter::dashmap(quota))
    }
    #[inline]
    fn check(&self, key: &u64) -> bool {
        self.0.check_key(key).is_ok()
    }
}

const MANY: u64 = 10_000;

/// A fixed skewed key sequence: a quarter of the calls on keys 0..10, the rest uniform.
fn sequence() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(4) { x % 10 } else { x % MANY }
        })
        .collect()
}

fn run<L: Keyed>(limiter: &L, keys: &[u64], threads: usize, iters: u64) -> Duration {
    let barrier = Barrier::new(threads + 1);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut refused = 0u64;
                    for (i, _) in (t * 977..).zip(0..iters) {
                        refused += u64::from(!limiter.check(black_box(&keys[i % keys.len()])));
                    }
                    assert_eq!(refused, 0, "{} ran dry", L::NAME);
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            worker.join().expect("bench thread panicked");
        }
        start.elapsed()
    })
}

fn contender<L: Keyed>(c: &mut Criterion) {
    let limiter = L::build();
    let many = sequence();
    for key in 0..MANY {
        assert!(limiter.check(&key));
    }
    let hot = [42u64];
    for (group, keys) in [("keyed_hot", &hot[..]), ("keyed_many", &many[..])] {
        let mut g = c.benchmark_group(group);
        g.bench_function(BenchmarkId::new(L::NAME, "1_thread"), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                limiter.check(black_box(&keys[i % keys.len()]))
            })
        });
        g.bench_function(BenchmarkId::new(L::NAME, "2_threads"), |b| {
            b.iter_custom(|iters| run(&limiter, keys, 2, iters))
        });
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    contender::<Tollgate>(c);
    contender::<Governor>(c);
    contender::<Unkeyed>(c);
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn keyed() {
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();
    benches(&mut criterion);
}

criterion_main!(keyed);
