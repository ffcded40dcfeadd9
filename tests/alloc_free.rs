//! The fast path allocates nothing: `attempt_acquire` (success and failure), an immediately-ready
//! `acquire`, and dropping a lease, measured with a counting global allocator.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use std::time::Duration;

mod common;

use common::counting::{self, Counting};
use tollgate::{
    ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, QueueProcessingOrder, RateLimiter,
    TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    counting::allocations_during(f).1
}

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

fn limiter(order: QueueProcessingOrder) -> ConcurrencyLimiter {
    ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
        permit_limit: 2,
        queue_limit: 4,
        queue_processing_order: order,
    })
    .unwrap()
}

#[test]
fn attempt_acquire_and_lease_drop_allocate_nothing() {
    for order in [QueueProcessingOrder::OldestFirst, QueueProcessingOrder::NewestFirst] {
        let limiter = limiter(order);
        let n = allocations_during(|| {
            for _ in 0..1000 {
                let a = limiter.attempt_acquire(1).unwrap();
                let b = limiter.attempt_acquire(1).unwrap();
                let refused = limiter.attempt_acquire(1).unwrap();
                let zero = limiter.attempt_acquire(0).unwrap();
                assert!(a.is_acquired() && b.is_acquired() && !refused.is_acquired() && !zero.is_acquired());
                drop((a, b, refused, zero));
            }
            let _ = limiter.statistics();
        });
        assert_eq!(n, 0, "{order:?}: the fast path allocated");
    }
}

#[test]
fn immediately_ready_acquire_allocates_nothing() {
    let limiter = limiter(QueueProcessingOrder::OldestFirst);
    let n = allocations_during(|| {
        for _ in 0..1000 {
            let mut future = limiter.acquire(2);
            let Poll::Ready(Ok(lease)) = poll_once(&mut future) else { panic!("should be ready") };
            assert!(lease.is_acquired());
            drop(lease);
            let mut zero = limiter.acquire(0);
            assert!(matches!(poll_once(&mut zero), Poll::Ready(Ok(ref l)) if l.is_acquired()));
        }
    });
    assert_eq!(n, 0, "an immediately-ready acquire allocated");
}

#[test]
fn the_counter_does_count() {
    // Guards the test itself: a queued request allocates its waiter node.
    let limiter = limiter(QueueProcessingOrder::OldestFirst);
    let held = limiter.attempt_acquire(2).unwrap();
    let n = allocations_during(|| {
        let mut future = limiter.acquire(1);
        assert!(poll_once(&mut future).is_pending());
    });
    assert!(n > 0);
    drop(held);
}

#[test]
fn token_bucket_decisions_allocate_nothing() {
    for auto_replenishment in [true, false] {
        let clock = ManualClock::new();
        let bucket = TokenBucketRateLimiter::with_clock(
            TokenBucketRateLimiterOptions {
                token_limit: 2,
                tokens_per_period: 2,
                replenishment_period: Duration::from_millis(1),
                auto_replenishment,
                queue_limit: 4,
                ..Default::default()
            },
            clock.clone(),
        )
        .unwrap();
        let real = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
            token_limit: u32::MAX,
            tokens_per_period: 1,
            replenishment_period: Duration::from_secs(1),
            ..Default::default()
        })
        .unwrap();
        let n = allocations_during(|| {
            for _ in 0..1000 {
                let mut ready = bucket.acquire(1);
                assert!(matches!(poll_once(&mut ready), Poll::Ready(Ok(ref l)) if l.is_acquired()));
                let a = bucket.attempt_acquire(1).unwrap();
                let refused = bucket.attempt_acquire(1).unwrap();
                assert!(a.is_acquired() && !refused.is_acquired());
                assert!(refused.retry_after().is_some());
                clock.advance(Duration::from_millis(1));
                if !auto_replenishment {
                    use tollgate::ReplenishingRateLimiter;
                    assert!(bucket.try_replenish());
                }
                assert!(real.attempt_acquire(1).unwrap().is_acquired());
            }
            let _ = bucket.statistics();
            let _ = bucket.idle_duration();
        });
        assert_eq!(n, 0, "auto_replenishment {auto_replenishment}: the token bucket's fast path allocated");
    }
}

#[test]
fn window_decisions_allocate_nothing() {
    use tollgate::{
        FixedWindowRateLimiter, FixedWindowRateLimiterOptions, SlidingWindowRateLimiter,
        SlidingWindowRateLimiterOptions,
    };
    let clock = ManualClock::new();
    let fixed = FixedWindowRateLimiter::with_clock(
        FixedWindowRateLimiterOptions { permit_limit: 2, window: Duration::from_millis(1), ..Default::default() },
        clock.clone(),
    )
    .unwrap();
    let sliding = SlidingWindowRateLimiter::with_clock(
        SlidingWindowRateLimiterOptions {
            permit_limit: 2,
            window: Duration::from_millis(2),
            segments_per_window: 2,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    let n = allocations_during(|| {
        for _ in 0..1000 {
            for limiter in [&fixed as &dyn RateLimiter, &sliding] {
                let mut ready = limiter.acquire(1);
                assert!(matches!(poll_once(&mut ready), Poll::Ready(Ok(ref l)) if l.is_acquired()));
                assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
                let refused = limiter.attempt_acquire(1).unwrap();
                assert!(!refused.is_acquired() && refused.retry_after().is_some());
            }
            // Two segments: the sliding window's permits come back; the fixed window resets.
            clock.advance(Duration::from_millis(2));
            let _ = fixed.statistics();
            let _ = sliding.statistics();
        }
    });
    assert_eq!(n, 0, "a window decision allocated");
}

/// A partitioned limiter's request for an existing key (the partitioner runs and builds its
/// partition value, the map is looked up, the partition decides) allocates nothing, with a
/// `u64` key and with a `String` key looked up by a borrowed resource; so does a refusal and a
/// refund. (The first request for a key allocates its partition.)
#[test]
fn partitioned_existing_key_requests_allocate_nothing() {
    use tollgate::{PartitionedRateLimiter, PartitionedRateLimiterOptions, RateLimitPartition};
    let clock = ManualClock::new();
    let by_id = PartitionedRateLimiter::with_clock(
        |id: &u64| {
            RateLimitPartition::get_token_bucket_limiter(*id, |_| TokenBucketRateLimiterOptions {
                token_limit: 2,
                tokens_per_period: 1,
                replenishment_period: Duration::from_secs(1),
                ..Default::default()
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock.clone(),
    )
    .unwrap();
    let first = by_id.attempt_acquire(&7, 1).unwrap(); // builds the partition
    by_id.refund(&7, first);
    let n = allocations_during(|| {
        let lease = by_id.attempt_acquire(&7, 1).unwrap();
        assert!(lease.is_acquired());
        by_id.refund(&7, lease);
        let taken = by_id.attempt_acquire(&7, 2).unwrap();
        assert!(taken.is_acquired());
        assert!(!by_id.attempt_acquire(&7, 1).unwrap().is_acquired());
    });
    assert_eq!(n, 0, "u64 key");

    // A key borrowed from the resource: the partition key is a `&'static str` picked by the
    // partitioner (no per-call String).
    let by_route = PartitionedRateLimiter::with_clock(
        |route: &str| {
            let key: &'static str = if route.starts_with("/api") { "api" } else { "static" };
            RateLimitPartition::get_concurrency_limiter(key, |_| ConcurrencyLimiterOptions {
                permit_limit: 1,
                ..Default::default()
            })
        },
        PartitionedRateLimiterOptions::default(),
        clock,
    )
    .unwrap();
    drop(by_route.attempt_acquire("/api/users", 1).unwrap());
    let n = allocations_during(|| {
        let lease = by_route.attempt_acquire("/api/items", 1).unwrap();
        assert!(lease.is_acquired());
        assert!(!by_route.attempt_acquire("/api/x", 1).unwrap().is_acquired());
        drop(lease);
    });
    assert_eq!(n, 0, "str resource");
}

/// A chain refused by its first limiter allocates nothing; a chained grant allocates twice (the
/// combined lease's inner-lease list and its box), whatever the number of limiters up to four.
#[test]
fn chained_allocations() {
    use std::sync::Arc;
    use tollgate::ChainedRateLimiter;
    let first: Arc<dyn RateLimiter> = Arc::new(limiter(QueueProcessingOrder::OldestFirst));
    let second: Arc<dyn RateLimiter> = Arc::new(limiter(QueueProcessingOrder::OldestFirst));
    let chain = ChainedRateLimiter::new(vec![first.clone(), second]).unwrap();
    let held = first.attempt_acquire(2).unwrap();
    assert_eq!(allocations_during(|| assert!(!chain.attempt_acquire(1).unwrap().is_acquired())), 0);
    drop(held);
    let n = allocations_during(|| {
        let lease = chain.attempt_acquire(1).unwrap();
        assert!(lease.is_acquired());
        drop(lease);
    });
    assert_eq!(n, 2);
}
