//! `RateLimiter::refund`: a refunded grant is as if it never happened (API difference 5), for every
//! limiter kind; window permits only while their window (or segment) is current; foreign and failed
//! leases change nothing; queued requests are served from what comes back; a future dropped after
//! its grant leaves no trace.

mod common;

use std::time::Duration;

use common::limiter::*;
use tollgate::{
    ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock,
    NoopLimiter, QueueProcessingOrder, RateLimiter, ReplenishingRateLimiter, SlidingWindowRateLimiter,
    SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

fn bucket(
    clock: &ManualClock,
    limit: u32,
    per_period: u32,
    auto: bool,
    queue: u32,
) -> TokenBucketRateLimiter<ManualClock> {
    TokenBucketRateLimiter::with_clock(
        TokenBucketRateLimiterOptions {
            token_limit: limit,
            tokens_per_period: per_period,
            replenishment_period: secs(1),
            auto_replenishment: auto,
            queue_limit: queue,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap()
}

fn fixed(clock: &ManualClock, limit: u32, auto: bool, queue: u32) -> FixedWindowRateLimiter<ManualClock> {
    FixedWindowRateLimiter::with_clock(
        FixedWindowRateLimiterOptions {
            permit_limit: limit,
            window: secs(1),
            auto_replenishment: auto,
            queue_limit: queue,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap()
}

fn sliding(
    clock: &ManualClock,
    limit: u32,
    segments: u32,
    auto: bool,
    queue: u32,
) -> SlidingWindowRateLimiter<ManualClock> {
    SlidingWindowRateLimiter::with_clock(
        SlidingWindowRateLimiterOptions {
            permit_limit: limit,
            window: secs(u64::from(segments)),
            segments_per_window: segments,
            auto_replenishment: auto,
            queue_limit: queue,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap()
}

/// Takes `permits`, refunds them, and checks the statistics are exactly as before.
#[track_caller]
fn assert_refund_restores(limiter: &dyn RateLimiter, permits: u32) {
    let before = stats(limiter);
    let lease = take(limiter, permits);
    assert_ne!(stats(limiter), before, "the grant changed the statistics");
    limiter.refund(lease);
    assert_eq!(stats(limiter), before);
}

#[test]
fn every_limiter_kind_is_restored_exactly() {
    let clock = ManualClock::new();
    let concurrency =
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 5, ..Default::default() }).unwrap();
    let limiters: Vec<Box<dyn RateLimiter>> = vec![
        Box::new(concurrency),
        Box::new(bucket(&clock, 5, 1, true, 0)),
        Box::new(bucket(&clock, 5, 1, false, 0)),
        Box::new(fixed(&clock, 5, true, 0)),
        Box::new(fixed(&clock, 5, false, 0)),
        Box::new(sliding(&clock, 5, 4, true, 0)),
        Box::new(sliding(&clock, 5, 4, false, 0)),
    ];
    for limiter in &limiters {
        let held = take(&**limiter, 2); // something already taken
        assert_refund_restores(&**limiter, 3);
        assert_refund_restores(&**limiter, 1);
        drop(held);
    }
}

#[test]
fn noop_uncounts_the_success() {
    let noop = NoopLimiter::new();
    let lease = take(&noop, 7);
    assert_eq!(stats(&noop).total_successful_leases, 1);
    noop.refund(lease);
    assert_eq!(stats(&noop).total_successful_leases, 0);
}

#[test]
fn zero_permit_grants_uncount_only_the_success() {
    let clock = ManualClock::new();
    let tb = bucket(&clock, 3, 1, true, 0);
    assert_refund_restores(&tb, 0);
    let c = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() }).unwrap();
    let before = stats(&c);
    let lease = take(&c, 0);
    c.refund(lease);
    assert_eq!(stats(&c), before);
}

#[test]
fn a_foreign_or_failed_lease_changes_nothing() {
    let clock = ManualClock::new();
    let a = bucket(&clock, 2, 1, true, 0);
    let b = bucket(&clock, 2, 1, true, 0);
    let from_a = take(&a, 2);
    let before = stats(&b);
    b.refund(from_a);
    assert_eq!(stats(&b), before);
    assert_eq!(available(&a), 0, "a's tokens are not given back through b");
    let failed = refuse(&a, 1);
    let before = stats(&a);
    a.refund(failed);
    assert_eq!(stats(&a), before);
}

#[test]
fn token_bucket_refund_after_ticks_is_capped_as_if_never_taken() {
    let clock = ManualClock::new();
    let tb = bucket(&clock, 5, 2, true, 0);
    let _held = take(&tb, 2); // 3 left
    let lease = take(&tb, 3); // 0 left
    clock.advance(secs(1)); // +2 → 2
    tb.refund(lease); // as if never taken: 3 + 2 = 5
    assert_eq!(available(&tb), 5);
    clock.advance(secs(1)); // capped
    assert_eq!(available(&tb), 5);
}

#[test]
fn fixed_window_refund_only_within_the_grant_window() {
    let clock = ManualClock::new();
    let fw = fixed(&clock, 4, true, 0);
    let early = take(&fw, 3);
    let late = take(&fw, 1);
    fw.refund(late);
    assert_eq!(available(&fw), 1, "same window: back");
    clock.advance(secs(1)); // new window: 4
    let now = take(&fw, 2);
    fw.refund(early); // its window has passed: nothing comes back
    assert_eq!(available(&fw), 2);
    assert_eq!(stats(&fw).total_successful_leases, 1, "the success is uncounted anyway");
    drop(now);
}

#[test]
fn fixed_window_refund_at_the_window_end_gives_nothing() {
    let clock = ManualClock::new();
    let fw = fixed(&clock, 2, true, 0);
    let lease = take(&fw, 2);
    clock.advance(secs(1)); // the word is not brought up to date by anyone before the refund
    fw.refund(lease);
    assert_eq!(available(&fw), 2, "the new window's 2, not 4 capped");
    assert!(take(&fw, 2).is_acquired());
    let _ = refuse(&fw, 1);
}

#[test]
fn manual_fixed_window_refund_only_before_the_next_reset() {
    let clock = ManualClock::new();
    let fw = fixed(&clock, 3, false, 0);
    let a = take(&fw, 1);
    let b = take(&fw, 2);
    fw.refund(a);
    assert_eq!(available(&fw), 1);
    clock.advance(secs(1));
    assert!(fw.try_replenish()); // reset to 3
    let c = take(&fw, 3);
    fw.refund(b); // granted before the reset: expired
    assert_eq!(available(&fw), 0);
    fw.refund(c);
    assert_eq!(available(&fw), 3);
}

#[test]
fn sliding_window_refund_only_within_the_grant_segment() {
    let clock = ManualClock::new();
    let sw = sliding(&clock, 4, 2, true, 0); // segments of 1 s, window 2 s
    let old = take(&sw, 2); // segment 0
    clock.advance(secs(1)); // segment 1
    let new = take(&sw, 1);
    sw.refund(old); // segment 0 was harvested: nothing comes back now
    assert_eq!(available(&sw), 1);
    sw.refund(new);
    assert_eq!(available(&sw), 2);
    clock.advance(secs(1)); // segment 0's 2 permits expire; nothing else is recorded
    assert_eq!(available(&sw), 4, "no permit freed twice");
    assert!(take(&sw, 4).is_acquired());
}

#[test]
fn sliding_window_refund_when_the_boundary_passed_unobserved() {
    let clock = ManualClock::new();
    let sw = sliding(&clock, 3, 3, true, 0);
    let lease = take(&sw, 3);
    clock.advance(secs(1)); // nobody looked: the segment is not harvested yet
    sw.refund(lease); // exact: as if never taken
    assert_eq!(available(&sw), 3);
    clock.advance(secs(5));
    assert_eq!(available(&sw), 3, "the refunded permits are not freed again");
}

#[test]
fn manual_sliding_window_refund_only_before_the_next_slide() {
    let clock = ManualClock::new();
    let sw = sliding(&clock, 2, 2, false, 0);
    let a = take(&sw, 1);
    clock.advance(secs(1));
    assert!(sw.try_replenish()); // slide: segment 1
    let b = take(&sw, 1);
    sw.refund(a);
    assert_eq!(available(&sw), 0, "a's segment was harvested");
    sw.refund(b);
    assert_eq!(available(&sw), 1);
    clock.advance(secs(1));
    assert!(sw.try_replenish()); // segment 0 (a's) expires: its permit comes back once
    assert_eq!(available(&sw), 2);
}

#[test]
fn refunded_tokens_serve_the_queue() {
    let clock = ManualClock::new();
    let tb = bucket(&clock, 2, 1, true, 2);
    let lease = take(&tb, 2);
    let mut waiting = enqueue(&tb, 2);
    tb.refund(lease);
    let granted = ready_acquired(&mut waiting);
    assert_eq!(snapshot(0, 0, 0, 1), stats(&tb));
    drop(granted);

    let sw = sliding(&clock, 2, 2, true, 1);
    let lease = take(&sw, 1);
    let _other = take(&sw, 1);
    let mut waiting = enqueue(&sw, 1);
    sw.refund(lease);
    let _granted = ready_acquired(&mut waiting);
    assert_eq!(snapshot(0, 0, 0, 2), stats(&sw));
}

#[test]
fn a_future_dropped_after_its_grant_leaves_no_trace() {
    let clock = ManualClock::new();
    let tb = bucket(&clock, 1, 1, true, 1);
    let lease = take(&tb, 1);
    let waiting = enqueue(&tb, 1);
    let before_grant = stats(&tb);
    drop(lease);
    clock.advance(secs(1));
    // Reading the statistics runs the pass for the tick: the queued request is granted, but its
    // future is never polled again (the caller never saw the grant).
    assert_eq!(stats(&tb), snapshot(0, 0, 0, 2));
    drop(waiting);
    assert_eq!(stats(&tb), snapshot(1, 0, 0, before_grant.total_successful_leases));

    let fw = fixed(&clock, 1, true, 1);
    let lease = take(&fw, 1);
    let waiting = enqueue(&fw, 1);
    drop(lease);
    clock.advance(secs(1));
    assert_eq!(stats(&fw), snapshot(0, 0, 0, 2), "granted at the window reset");
    drop(waiting);
    assert_eq!(stats(&fw), snapshot(1, 0, 0, 1));

    let c = ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
        permit_limit: 1,
        queue_limit: 1,
        queue_processing_order: QueueProcessingOrder::OldestFirst,
    })
    .unwrap();
    let lease = take(&c, 1);
    let waiting = enqueue(&c, 1);
    drop(lease); // grants the queued request
    assert_eq!(stats(&c), snapshot(0, 0, 0, 2));
    drop(waiting);
    assert_eq!(stats(&c), snapshot(1, 0, 0, 1));
}

#[test]
fn refund_works_through_arc_and_dyn() {
    let clock = ManualClock::new();
    let tb: std::sync::Arc<dyn RateLimiter> = std::sync::Arc::new(bucket(&clock, 1, 1, true, 0));
    let lease = take(&*tb, 1);
    tb.refund(lease);
    assert_eq!(available(&*tb), 1);
    assert!(tb.as_replenishing().is_some());
    let c: std::sync::Arc<dyn RateLimiter> = std::sync::Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() }).unwrap(),
    );
    assert!(c.as_replenishing().is_none());
    let _ = Duration::ZERO;
}
