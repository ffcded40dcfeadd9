//! Metadata of `RateLimitLease` built by hand (for custom limiters) and added to the built-in
//! limiters' leases: every value attached is kept and listed once, in the order the names were
//! first attached (as a .NET lease's `MetadataNames` enumerates its dictionary); attaching a value
//! under a name that already has one replaces it (a dictionary assignment). The single-value paths
//! stay allocation-free, measured with a counting global allocator.

use std::time::Duration;

mod common;

use common::counting::{Counting, allocations_during};
use tollgate::{
    ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, MetadataName, RateLimitLease, RateLimiter,
    TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

const COST: MetadataName<u32> = MetadataName::new("COST");
const TENANT: MetadataName<String> = MetadataName::new("TENANT");

fn names(lease: &RateLimitLease) -> Vec<&'static str> {
    lease.metadata_names().collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A concurrency limiter with one permit and no queue.
fn one_permit() -> ConcurrencyLimiter {
    ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() }).unwrap()
}

/// A token bucket with one token (refilled every second) on a manual clock.
fn one_token() -> TokenBucketRateLimiter<ManualClock> {
    let options = TokenBucketRateLimiterOptions {
        token_limit: 1,
        tokens_per_period: 1,
        replenishment_period: Duration::from_secs(1),
        ..Default::default()
    };
    TokenBucketRateLimiter::with_clock(options, ManualClock::new()).unwrap()
}

#[track_caller]
fn assert_both(lease: &RateLimitLease, retry_after: Duration, reason: &str) {
    assert_eq!(lease.retry_after(), Some(retry_after));
    assert_eq!(lease.get(&MetadataName::RETRY_AFTER), Some(retry_after));
    assert_eq!(lease.reason_phrase(), Some(reason));
    assert_eq!(lease.get(&MetadataName::REASON_PHRASE).as_deref(), Some(reason));
}

// The reported bug: the second inline value overwrote the first, and only the first name stayed
// listed.
#[test]
fn retry_after_then_reason_phrase_keeps_both_in_order() {
    let lease = RateLimitLease::failure().with_retry_after(ms(250)).with_reason_phrase("busy");
    assert_both(&lease, ms(250), "busy");
    assert_eq!(names(&lease), ["RETRY_AFTER", "REASON_PHRASE"]);
    let debug = format!("{lease:?}");
    assert!(debug.contains("retry_after") && debug.contains("busy"), "{debug}");
}

#[test]
fn reason_phrase_then_retry_after_keeps_both_in_order() {
    let lease = RateLimitLease::failure().with_reason_phrase("busy").with_retry_after(ms(250));
    assert_both(&lease, ms(250), "busy");
    assert_eq!(names(&lease), ["REASON_PHRASE", "RETRY_AFTER"]);
}

#[test]
fn both_values_on_a_success_are_kept_too() {
    let lease = RateLimitLease::success().with_reason_phrase("warm").with_retry_after(ms(5));
    assert!(lease.is_acquired());
    assert_both(&lease, ms(5), "warm");
    assert_eq!(names(&lease), ["REASON_PHRASE", "RETRY_AFTER"]);
}

// A later value under the same name replaces the earlier one, whichever builder set either; the
// name stays listed once, in its first position.
#[test]
fn a_later_value_replaces_an_earlier_one_under_the_same_name() {
    let lease = RateLimitLease::success().with_metadata(&COST, 1).with_metadata(&COST, 2);
    assert_eq!(lease.get(&COST), Some(2));
    assert_eq!(names(&lease), ["COST"]);

    let lease = RateLimitLease::failure()
        .with_retry_after(ms(1))
        .with_reason_phrase("first")
        .with_retry_after(ms(2))
        .with_reason_phrase("second");
    assert_both(&lease, ms(2), "second");
    assert_eq!(names(&lease), ["RETRY_AFTER", "REASON_PHRASE"]);

    let lease = RateLimitLease::failure()
        .with_reason_phrase("inline")
        .with_metadata(&MetadataName::REASON_PHRASE, "custom".into());
    assert_eq!(lease.reason_phrase(), Some("custom"));
    assert_eq!(lease.get(&MetadataName::REASON_PHRASE).as_deref(), Some("custom"));
    assert_eq!(names(&lease), ["REASON_PHRASE"]);

    let lease = RateLimitLease::failure()
        .with_metadata(&MetadataName::REASON_PHRASE, "custom".into())
        .with_reason_phrase("inline");
    assert_eq!(lease.reason_phrase(), Some("inline"));
    assert_eq!(lease.get(&MetadataName::REASON_PHRASE).as_deref(), Some("inline"));
    assert_eq!(names(&lease), ["REASON_PHRASE"]);

    let lease = RateLimitLease::failure().with_retry_after(ms(1)).with_metadata(&MetadataName::RETRY_AFTER, ms(2));
    assert_eq!(lease.retry_after(), Some(ms(2)));
    assert_eq!(names(&lease), ["RETRY_AFTER"]);

    let lease = RateLimitLease::failure().with_metadata(&MetadataName::RETRY_AFTER, ms(2)).with_retry_after(ms(3));
    assert_eq!(lease.retry_after(), Some(ms(3)));
    assert_eq!(names(&lease), ["RETRY_AFTER"]);

    // A value of another type under the same name replaces it too (the name is the key).
    let lease =
        RateLimitLease::failure().with_retry_after(ms(1)).with_metadata(&MetadataName::<u64>::new("RETRY_AFTER"), 7);
    assert_eq!(lease.retry_after(), None);
    assert_eq!(lease.get(&MetadataName::<u64>::new("RETRY_AFTER")), Some(7));
    assert_eq!(names(&lease), ["RETRY_AFTER"]);
}

// Names are listed in the order they were first attached, custom ones included.
#[test]
fn names_are_listed_in_insertion_order() {
    let lease = RateLimitLease::failure()
        .with_metadata(&COST, 3)
        .with_retry_after(ms(10))
        .with_metadata(&TENANT, "acme".into())
        .with_reason_phrase("over quota");
    assert_eq!(names(&lease), ["COST", "RETRY_AFTER", "TENANT", "REASON_PHRASE"]);
    assert_both(&lease, ms(10), "over quota");
    assert_eq!(lease.get(&COST), Some(3));
    assert_eq!(lease.get(&TENANT).as_deref(), Some("acme"));

    let lease = RateLimitLease::success().with_metadata_name("X").with_reason_phrase("r").with_metadata_name("X");
    assert_eq!(names(&lease), ["X", "REASON_PHRASE"]);
    assert_eq!(lease.reason_phrase(), Some("r"));
}

// A built-in limiter's lease keeps what it lists and carries, and gains what is added.
#[test]
fn values_added_to_built_in_leases_are_kept() {
    // A refused concurrency lease lists REASON_PHRASE (no value): a retry-after joins it.
    let limiter = one_permit();
    let held = limiter.attempt_acquire(1).unwrap();
    let refused = limiter.attempt_acquire(1).unwrap().with_retry_after(ms(30));
    assert_eq!(names(&refused), ["REASON_PHRASE", "RETRY_AFTER"]);
    assert_eq!((refused.retry_after(), refused.reason_phrase()), (Some(ms(30)), None));

    // Its queue-full lease carries a reason phrase: a retry-after does not replace it.
    let queue_full = limiter.blocking_acquire(1).unwrap().with_retry_after(ms(30));
    assert_both(&queue_full, ms(30), "Queue limit reached");
    assert_eq!(names(&queue_full), ["REASON_PHRASE", "RETRY_AFTER"]);

    // A lease holding permits keeps them, and both values.
    let held = held.with_retry_after(ms(1)).with_reason_phrase("mine");
    assert_both(&held, ms(1), "mine");
    assert_eq!(names(&held), ["REASON_PHRASE", "RETRY_AFTER"]);
    assert_eq!(limiter.statistics().unwrap().current_available_permits, 0);
    drop(held);
    assert_eq!(limiter.statistics().unwrap().current_available_permits, 1);

    // A refused token-bucket lease carries a retry-after: a reason phrase does not replace it.
    let bucket = one_token();
    let _token = bucket.attempt_acquire(1).unwrap();
    let refused = bucket.attempt_acquire(1).unwrap().with_reason_phrase("slow down");
    assert_both(&refused, Duration::from_secs(1), "slow down");
    assert_eq!(names(&refused), ["RETRY_AFTER", "REASON_PHRASE"]);
}

// The single-value builder paths stay inline: no allocation.
#[test]
fn single_values_allocate_nothing() {
    let (lease, n) = allocations_during(|| RateLimitLease::failure().with_retry_after(ms(250)));
    assert_eq!((n, names(&lease)), (0, vec!["RETRY_AFTER"]));
    assert_eq!(lease.retry_after(), Some(ms(250)));

    let (lease, n) = allocations_during(|| RateLimitLease::failure().with_reason_phrase("busy"));
    assert_eq!(n, 0);
    assert_eq!(lease.reason_phrase(), Some("busy"));

    let (lease, n) = allocations_during(|| RateLimitLease::failure().with_retry_after(ms(1)).with_retry_after(ms(2)));
    assert_eq!(n, 0);
    assert_eq!(lease.retry_after(), Some(ms(2)));

    // A refused concurrency lease (REASON_PHRASE listed, no value) given a retry-after.
    let limiter = one_permit();
    let _held = limiter.attempt_acquire(1).unwrap();
    let (refused, n) = allocations_during(|| limiter.attempt_acquire(1).unwrap().with_retry_after(ms(30)));
    assert_eq!(n, 0);
    assert_eq!(names(&refused), ["REASON_PHRASE", "RETRY_AFTER"]);
    assert_eq!(refused.retry_after(), Some(ms(30)));
    let (_, n) = allocations_during(|| drop(refused));
    assert_eq!(n, 0);
}

#[test]
fn the_lease_stays_40_bytes() {
    assert_eq!(std::mem::size_of::<RateLimitLease>(), 40);
}
