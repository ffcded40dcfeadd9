//! Stress for the composed limiters, with real threads and async tasks:
//! * a chain [token bucket, sliding window, concurrency] under attempts, blocking waits and async
//!   waits (some dropped while waiting): never more held at once than the concurrency limit, never
//!   more taken from the bucket than its tokens allow, and all-or-nothing accounting — every inner
//!   limiter counts exactly the chain's successes (refunds undo every partial grant);
//! * a partitioned limiter hammered on a few hot keys and a stream of new keys, with eviction and a
//!   cap: the per-key limit holds and every caller finishes.
//!
//! Iterations: `TOLLGATE_STRESS_ITERS` (default 2000).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tollgate::{
    ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, PartitionedRateLimiter,
    PartitionedRateLimiterOptions, RateLimitPartition, RateLimiter, SlidingWindowRateLimiter,
    SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

fn iterations() -> u64 {
    std::env::var("TOLLGATE_STRESS_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

#[test]
fn chain_is_all_or_nothing_under_contention() {
    let iters = iterations();
    // A bucket that cannot refill during the test (one token per hour): every token it hands out
    // and keeps is a chain success.
    let tokens = 3 * iters;
    let bucket = Arc::new(
        TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
            token_limit: u32::try_from(tokens).unwrap(),
            tokens_per_period: 1,
            replenishment_period: Duration::from_secs(3600),
            queue_limit: 1000,
            ..Default::default()
        })
        .unwrap(),
    );
    let window = Arc::new(
        SlidingWindowRateLimiter::new(SlidingWindowRateLimiterOptions {
            permit_limit: 1_000_000,
            window: Duration::from_secs(3600),
            segments_per_window: 4,
            queue_limit: 1000,
            ..Default::default()
        })
        .unwrap(),
    );
    let limit = 2u64;
    let in_flight = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 2, queue_limit: 1000, ..Default::default() })
            .unwrap(),
    );
    let chain = Arc::new(ChainedRateLimiter::new(vec![bucket.clone(), window.clone(), in_flight.clone()]).unwrap());
    let held = Arc::new(AtomicU64::new(0));
    let granted = Arc::new(AtomicU64::new(0));

    let hold = |held: &AtomicU64| {
        let now = held.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= limit, "{now} chain leases held at once, limit {limit}");
        std::thread::yield_now();
        held.fetch_sub(1, Ordering::SeqCst);
    };

    std::thread::scope(|scope| {
        // Threads: attempts (refused often by the concurrency limiter: refunds) and blocking waits.
        for t in 0..3 {
            let (chain, held, granted) = (&chain, &held, &granted);
            scope.spawn(move || {
                for i in 0..iters {
                    let lease = if (i + t) % 2 == 0 {
                        chain.attempt_acquire(1).unwrap()
                    } else {
                        chain.blocking_acquire(1).unwrap()
                    };
                    if lease.is_acquired() {
                        granted.fetch_add(1, Ordering::SeqCst);
                        hold(held);
                    }
                }
            });
        }
        // Async tasks: waits, every third one dropped after its first poll (cancellation while
        // queued in some limiter, or right after a grant).
        let (chain, held, granted) = (chain.clone(), held.clone(), granted.clone());
        scope.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                for i in 0..iters {
                    if i % 3 == 0 {
                        let mut wait = Box::pin(chain.acquire(1));
                        let _ = futures_poll_once(wait.as_mut());
                        drop(wait);
                    } else {
                        let lease = chain.acquire(1).await.unwrap();
                        if lease.is_acquired() {
                            granted.fetch_add(1, Ordering::SeqCst);
                            hold(&held);
                        }
                    }
                }
            });
        });
    });
    // Chain successes: the leases held above, plus those a first poll returned and dropped.
    let chain_successes = granted.load(Ordering::SeqCst) + DROPPED_READY.load(Ordering::SeqCst);
    let b = bucket.statistics().unwrap();
    let w = window.statistics().unwrap();
    let c = in_flight.statistics().unwrap();
    assert_eq!(c.current_available_permits, limit, "every concurrency permit is back");
    assert_eq!(b.current_queued_count + w.current_queued_count + c.current_queued_count, 0);
    assert_eq!(c.total_successful_leases, chain_successes, "the inner-most limiter counts chain successes");
    assert_eq!(w.total_successful_leases, chain_successes, "refunds undo the window's partial grants");
    assert_eq!(b.total_successful_leases, chain_successes, "refunds undo the bucket's partial grants");
    assert_eq!(b.current_available_permits, tokens - chain_successes, "tokens taken only by chain successes");
    assert_eq!(w.current_available_permits, 1_000_000 - chain_successes, "window permits likewise");
}

/// Leases returned by a first poll that completed (and were dropped at once).
static DROPPED_READY: AtomicU64 = AtomicU64::new(0);

fn futures_poll_once<F: std::future::Future<Output = Result<tollgate::RateLimitLease, tollgate::AcquireError>>>(
    future: std::pin::Pin<&mut F>,
) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.poll(&mut cx) {
        std::task::Poll::Ready(Ok(lease)) => {
            if lease.is_acquired() {
                DROPPED_READY.fetch_add(1, Ordering::SeqCst);
            }
            true
        }
        std::task::Poll::Ready(Err(e)) => panic!("{e}"),
        std::task::Poll::Pending => false,
    }
}

#[test]
fn partitioned_limits_hold_under_contention_with_eviction() {
    let iters = iterations();
    let limit = 2u64;
    let options = PartitionedRateLimiterOptions { idle_timeout: Duration::ZERO, max_partitions: Some(64) };
    let limiter = Arc::new(
        PartitionedRateLimiter::with_options(
            |key: &u64| {
                RateLimitPartition::get_concurrency_limiter(*key, |_| ConcurrencyLimiterOptions {
                    permit_limit: 2,
                    queue_limit: 100,
                    ..Default::default()
                })
            },
            options,
        )
        .unwrap(),
    );
    // Per hot key: how many leases are held right now.
    let held: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let fresh = Arc::new(AtomicU64::new(1000));
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let (limiter, held, fresh) = (&limiter, &held, &fresh);
            scope.spawn(move || {
                for i in 0..iters {
                    let key = (i + t) % 4;
                    let lease =
                        if i % 2 == 0 { limiter.attempt_acquire(&key, 1) } else { limiter.blocking_acquire(&key, 1) };
                    let lease = lease.unwrap();
                    if lease.is_acquired() {
                        let now = held[key as usize].fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= limit, "key {key}: {now} held at once, limit {limit}");
                        std::thread::yield_now();
                        held[key as usize].fetch_sub(1, Ordering::SeqCst);
                    }
                    drop(lease);
                    // A new key now and then: inserts examine (and evict) idle partitions.
                    if i % 8 == 0 {
                        let key = fresh.fetch_add(1, Ordering::Relaxed);
                        let _ = limiter.attempt_acquire(&key, 1).unwrap();
                    }
                }
            });
        }
    });
    assert!(limiter.partition_count() <= 64, "the cap holds: {}", limiter.partition_count());
    for key in 0..4u64 {
        if let Some(stats) = limiter.statistics(&key) {
            assert_eq!(stats.current_queued_count, 0);
        }
    }
}
