//! Every public type and future is `Send` (and `Sync` where shared), checked at compile time.

use std::sync::Arc;
use tollgate::*;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<ConcurrencyLimiter>();
    send_sync::<ConcurrencyLimiter<ManualClock>>();
    send_sync::<ConcurrencyLimiterOptions>();
    send_sync::<RateLimitLease>();
    send_sync::<RateLimiterStatistics>();
    send_sync::<AcquireError>();
    send_sync::<OptionsError>();
    send_sync::<QueueProcessingOrder>();
    send_sync::<ManualClock>();
    send_sync::<TscClock>();
    send_sync::<MetadataName<std::time::Duration>>();
    send_sync::<Arc<dyn RateLimiter>>();
    send::<Acquire<'static>>();
    send::<ManualSleep>();
    sync::<ConcurrencyLimiter>();
    send_sync::<TokenBucketRateLimiter>();
    send_sync::<TokenBucketRateLimiter<ManualClock>>();
    send_sync::<TokenBucketRateLimiter<CoarseClock>>();
    send_sync::<TokenBucketRateLimiterOptions>();
    send_sync::<FixedWindowRateLimiter>();
    send_sync::<FixedWindowRateLimiterOptions>();
    send_sync::<SlidingWindowRateLimiter>();
    send_sync::<SlidingWindowRateLimiter<ManualClock>>();
    send_sync::<SlidingWindowRateLimiterOptions>();
    send_sync::<NoopLimiter>();
    send_sync::<CoarseClock>();
    send::<Sleep>();
}

#[test]
fn acquire_future_is_send_for_spawning() {
    fn assert_send<F: std::future::Future + Send>(_: &F) {}
    let limiter: Arc<dyn RateLimiter> =
        Arc::new(ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() }).unwrap());
    {
        let future = limiter.acquire(1);
        assert_send(&future);
    }
    // An async block holding the future across an await is Send too, so it can be spawned.
    let task = async move {
        let lease = limiter.acquire(1).await.unwrap();
        lease.is_acquired()
    };
    assert_send(&task);
}
