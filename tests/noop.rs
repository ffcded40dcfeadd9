//! `NoopLimiter` (.NET's `RateLimitPartition.GetNoLimiter`, spec §2.6).

mod common;

use std::sync::Arc;

use common::poll_once;
use tollgate::{NoopLimiter, RateLimiter, RateLimiterStatistics};

const UNLIMITED: u64 = i64::MAX as u64;

// .NET: NoopLimiter semantics (§2.6) — attempts and acquisitions always succeed, for any count.
#[test]
fn every_request_succeeds_for_any_count() {
    let noop = NoopLimiter::new();
    for permits in [0, 1, 7, u32::MAX] {
        let lease = noop.attempt_acquire(permits).unwrap();
        assert!(lease.is_acquired());
        // No metadata, and nothing listed.
        assert_eq!(lease.metadata_names().count(), 0);
        assert_eq!(lease.retry_after(), None);
        assert_eq!(lease.reason_phrase(), None);
        let mut acquire = noop.acquire(permits);
        let lease = poll_once(&mut acquire).expect("ready at once").unwrap();
        assert!(lease.is_acquired());
        assert!(noop.blocking_acquire(permits).unwrap().is_acquired());
    }
}

// .NET: §2.6 — no disposed state: it works after Dispose.
#[test]
fn works_after_dispose() {
    let noop = NoopLimiter::new();
    noop.dispose();
    noop.dispose();
    assert!(noop.attempt_acquire(3).unwrap().is_acquired());
    assert!(noop.blocking_acquire(u32::MAX).unwrap().is_acquired());
    assert!(noop.statistics().is_some());
}

// .NET: §2.6 — IdleDuration is always null.
#[test]
fn idle_duration_is_always_none() {
    let noop = NoopLimiter::new();
    assert_eq!(noop.idle_duration(), None);
    let lease = noop.attempt_acquire(1).unwrap();
    assert_eq!(noop.idle_duration(), None);
    drop(lease);
    assert_eq!(noop.idle_duration(), None);
}

// .NET: §2.6 — statistics: available long.MaxValue, nothing queued or failed, every acquisition
// (both methods, any count) counted as successful; a snapshot does not change afterwards.
#[test]
fn statistics_count_every_acquisition() {
    let noop = NoopLimiter::new();
    let before = noop.statistics().unwrap();
    assert_eq!(
        before,
        RateLimiterStatistics {
            current_available_permits: UNLIMITED,
            current_queued_count: 0,
            total_failed_leases: 0,
            total_successful_leases: 0,
        }
    );
    let _a = noop.attempt_acquire(0).unwrap();
    let _b = noop.attempt_acquire(u32::MAX).unwrap();
    let _c = poll_once(&mut noop.acquire(5)).unwrap().unwrap();
    let _d = noop.blocking_acquire(1).unwrap();
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 4);
    assert_eq!(before.total_successful_leases, 0, "a snapshot is a copy");
    // Dropping leases gives nothing back and changes nothing.
    drop((_a, _b, _c, _d));
    assert_eq!(noop.statistics().unwrap().current_available_permits, UNLIMITED);
}

// .NET: §2.6 — one counter per instance (older .NET versions shared a singleton).
#[test]
fn counters_are_per_instance() {
    let (a, b) = (NoopLimiter::new(), NoopLimiter::new());
    let _lease = a.attempt_acquire(1).unwrap();
    assert_eq!(a.statistics().unwrap().total_successful_leases, 1);
    assert_eq!(b.statistics().unwrap().total_successful_leases, 0);
}

// Usable as a trait object and from many threads; the count stays exact.
#[test]
fn shared_between_threads_counts_exactly() {
    let noop: Arc<dyn RateLimiter> = Arc::new(NoopLimiter::new());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let noop = Arc::clone(&noop);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    assert!(noop.attempt_acquire(1).unwrap().is_acquired());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 4000);
}

// Cancel safety, as for every limiter: the request reaches the limiter when the `acquire` future is
// first polled, so a future dropped unpolled leaves no trace (no success counted).
#[test]
fn an_acquire_dropped_unpolled_leaves_no_trace() {
    let noop = NoopLimiter::new();
    drop(noop.acquire(1));
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 0, "dropped unpolled: not counted");

    let mut future = noop.acquire(u32::MAX);
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 0, "not counted before its first poll");
    let lease = poll_once(&mut future).expect("ready at its first poll").unwrap();
    assert!(lease.is_acquired());
    assert_eq!(lease.metadata_names().count(), 0);
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 1, "counted when it completes");
    drop((future, lease));
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 1);

    // The lease it returns can be refunded like any other of its leases.
    let lease = poll_once(&mut noop.acquire(1)).unwrap().unwrap();
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 2);
    noop.refund(lease);
    assert_eq!(noop.statistics().unwrap().total_successful_leases, 1);
}
