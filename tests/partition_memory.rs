//! Memory of partitioned limiters, measured with a counting global allocator: bytes per live
//! partition for each built-in kind, and a stream of 1,000,000 distinct keys with eviction on
//! stays bounded.
//!
//! `TOLLGATE_MEMORY_KEYS` sets the stream's length (default 1,000,000). Run with `--nocapture` to
//! see the figures.

mod common;

use std::time::Duration;

use common::live_bytes::{LiveBytes, live, serial};

use tollgate::{
    ConcurrencyLimiterOptions, ManualClock, PartitionedRateLimiter, PartitionedRateLimiterOptions, RateLimitPartition,
    TokenBucketRateLimiterOptions,
};

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

fn bucket_options() -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit: 1,
        tokens_per_period: 1,
        replenishment_period: Duration::from_millis(100),
        ..Default::default()
    }
}

/// Bytes per live partition after `n` distinct keys have been used once.
fn bytes_per_key(n: u64, partition: fn(u64) -> RateLimitPartition<u64, ManualClock>) -> f64 {
    let clock = ManualClock::new();
    let options = PartitionedRateLimiterOptions { idle_timeout: Duration::from_secs(3600), max_partitions: None };
    let before = live();
    let limiter = PartitionedRateLimiter::with_clock(move |k: &u64| partition(*k), options, clock).unwrap();
    for key in 0..n {
        assert!(limiter.attempt_acquire(&key, 1).unwrap().is_acquired());
    }
    assert_eq!(limiter.partition_count() as u64, n);
    let bytes = (live() - before) as f64 / n as f64;
    drop(limiter);
    bytes
}

#[test]
fn bytes_per_live_partition() {
    let _serial = serial();
    let n = 100_000;
    let bucket = bytes_per_key(n, |k| RateLimitPartition::get_token_bucket_limiter(k, |_| bucket_options()));
    let concurrency = bytes_per_key(n, |k| {
        RateLimitPartition::get_concurrency_limiter(k, |_| ConcurrencyLimiterOptions {
            permit_limit: 1,
            ..Default::default()
        })
    });
    let noop = bytes_per_key(n, RateLimitPartition::get_no_limiter);
    // governor's keyed limiter (a DashMap of 8-byte states), measured the same way.
    let before = live();
    let quota = governor::Quota::per_second(std::num::NonZeroU32::new(1000).unwrap());
    let rival = governor::RateLimiter::dashmap(quota);
    for key in 0..n {
        assert!(rival.check_key(&key).is_ok());
    }
    let governor = (live() - before) as f64 / n as f64;
    drop(rival);
    eprintln!(
        "bytes per live partition ({n} u64 keys): token bucket {bucket:.0}, concurrency {concurrency:.0}, \
         no limiter {noop:.0}; governor keyed {governor:.0}"
    );
    // Sanity bounds only (the figures are reported, not asserted as targets): every partition
    // costs something, and nothing is retained beyond a few kilobytes per key.
    for b in [bucket, concurrency, noop, governor] {
        assert!(b > 0.0 && b < 4096.0, "{b}");
    }
}

#[test]
fn a_million_distinct_keys_with_eviction_stay_bounded() {
    let _serial = serial();
    let keys: u64 = std::env::var("TOLLGATE_MEMORY_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let clock = ManualClock::new();
    // Keys arrive every 10 µs (100,000 per second of the manual clock); a bucket is full again
    // 100 ms after its one use and evictable 1 s later, so about 110,000 partitions are live at
    // any time once the stream is under way.
    let options = PartitionedRateLimiterOptions { idle_timeout: Duration::from_secs(1), max_partitions: None };
    let before = live();
    let limiter = PartitionedRateLimiter::with_clock(
        |k: &u64| RateLimitPartition::get_token_bucket_limiter(*k, |_| bucket_options()),
        options,
        clock.clone(),
    )
    .unwrap();
    let mut peak_partitions = 0;
    let mut peak_bytes = 0;
    for key in 0..keys {
        assert!(limiter.attempt_acquire(&key, 1).unwrap().is_acquired());
        clock.advance(Duration::from_micros(10));
        if key % 10_000 == 0 {
            peak_partitions = peak_partitions.max(limiter.partition_count());
            peak_bytes = peak_bytes.max(live() - before);
        }
    }
    let live_partitions = limiter.partition_count();
    let bytes = live() - before;
    eprintln!(
        "{keys} keys: {live_partitions} live partitions at the end (peak {peak_partitions}), {bytes} bytes live \
         (peak {peak_bytes}), {:.0} bytes per live partition",
        bytes as f64 / live_partitions.max(1) as f64
    );
    if keys >= 300_000 {
        // Bounded by the keys of the last ~1.1 s of the clock (110,000) plus the ring's lag (each
        // new key examines two old ones, so an idle partition waits at most one lap of the ring):
        // under 2 × 110,000. Without eviction it would be `keys`.
        assert!(peak_partitions < 220_000, "peak {peak_partitions}");
        assert!(live_partitions < 220_000, "{live_partitions}");
    }
    // Everything idle long enough goes with one full pass; memory returns to (near) the baseline.
    clock.advance(Duration::from_secs(2));
    limiter.evict_idle();
    assert_eq!(limiter.partition_count(), 0);
    drop(limiter);
    let leaked = live() - before;
    assert!(leaked < 64 * 1024, "{leaked} bytes left after dropping the limiter");
}
