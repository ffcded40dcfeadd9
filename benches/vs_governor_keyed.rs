//! Keyed limiting: `tollgate::PartitionedRateLimiter` with token-bucket partitions against
//! governor's keyed limiter on a `DashMap` (`RateLimiter::dashmap`, its default) and on a
//! `Mutex<HashMap>` (`RateLimiter::hashmap`), in wall-clock time (criterion).
//!
//! Every contender runs the identical workload from `benches/common` (`common::keyed`): `u64` keys,
//! one permit per call, a quota no caller here outpaces (burst `u32::MAX`, one more permit per
//! nanosecond; checked: no call is refused), every one of the 10,000 keys used once before timing so
//! only existing-key lookups are timed. tollgate's partitioner builds
//! `RateLimitPartition::get_token_bucket_limiter(key, ..)` on every call (as .NET's does), which
//! allocates nothing for a capture-less options closure. Ids are `<group>/<contender>/<threads>`;
//! with more than one thread, every thread runs the full iteration count on the one shared limiter
//! and the time is per call per thread (`common::harness`).
//!
//! * `keyed_hot/*/{1,2,4,8}`: every call on one key (several threads: the same key).
//! * `keyed_zipf/*/{1,2,4,8}`: keys from a fixed precomputed sequence of 65,536 draws from a Zipf
//!   distribution (exponent 1) over the 10,000 live keys (the hottest key about 10% of the calls,
//!   the ten hottest about 30%); each thread walks the sequence from its own offset.
//!
//! 4 and 8 threads are more threads than the two cores of the reference machine (preemption while
//! a thread holds a shard or map lock). The one-bucket floor (no map) is `rate_allow/
//! tollgate_token_bucket` in `vs_governor` (the same quota and options).
//!
//! Does not measure: key creation, eviction, queued waits, memory (see
//! `tests/partition_memory.rs`). Timings on the shared two-core reference machine are noisy:
//! compare contenders only as ratios within one group of one run.

mod common;

use criterion::{BenchmarkGroup, Criterion, criterion_main, measurement::WallTime};

use common::harness::{self, Expect, THREAD_COUNTS};
use common::keyed::{self, GovernorDashMap, GovernorHashMap, KeyedContender, Partitioned};

/// `<group>/<contender>/<threads>`: calls walking `keys`.
fn keyed<L: KeyedContender>(group: &mut BenchmarkGroup<'_, WallTime>, limiter: &L, keys: &[u64], threads: usize) {
    harness::bench_threads(group, L::NAME, threads, Expect::Admitted, |index| keyed::check_at(limiter, keys, index));
}

fn benches(c: &mut Criterion) {
    let partitioned = keyed::populated::<Partitioned>();
    let dashmap = keyed::populated::<GovernorDashMap>();
    let hashmap = keyed::populated::<GovernorHashMap>();
    let hot = keyed::hot_key_sequence();
    let zipf = keyed::zipf_sequence();

    for (name, keys) in [("keyed_hot", &hot), ("keyed_zipf", &zipf)] {
        let mut group = c.benchmark_group(name);
        for threads in THREAD_COUNTS {
            keyed(&mut group, &partitioned, keys, threads);
            keyed(&mut group, &dashmap, keys, threads);
            keyed(&mut group, &hashmap, keys, threads);
        }
        group.finish();
    }
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn vs_governor_keyed() {
    let mut criterion = harness::criterion();
    benches(&mut criterion);
}

criterion_main!(vs_governor_keyed);
