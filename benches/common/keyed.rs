//! Keyed limiters under one trait, [`KeyedContender`], and the key sequences of the keyed
//! workloads (`vs_governor_keyed`).
//!
//! The contenders, all with `u64` keys and one permit per call on a quota no caller here outpaces
//! (burst `u32::MAX`, one more permit per nanosecond: tollgate adds 10⁹ tokens once a second,
//! governor one cell per nanosecond):
//! * tollgate's `PartitionedRateLimiter` with token-bucket partitions; its partitioner builds
//!   `RateLimitPartition::get_token_bucket_limiter(key, ..)` on every call (as .NET's does);
//! * governor's keyed limiter on a `DashMap` (`RateLimiter::dashmap`, its default keyed store);
//! * governor's keyed limiter on a `Mutex<HashMap>` (`RateLimiter::hashmap`): the one-lock baseline.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::keyed::HashMapStateStore;
use tollgate::{PartitionedRateLimiter, RateLimitPartition, TokenBucketRateLimiterOptions};

/// The number of distinct keys of the many-keys workload.
pub const MANY_KEYS: u64 = 10_000;

/// Length of the precomputed many-keys sequence (a power of two: an index is masked, not divided).
pub const SEQUENCE_LEN: usize = 1 << 16;

/// The Zipf exponent of the many-keys workload: key of rank `k` drawn with weight `1 / k`.
pub const ZIPF_EXPONENT: f64 = 1.0;

/// The fixed seed of the many-keys sequence.
pub const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A keyed limiter under test.
pub trait KeyedContender: Send + Sync + Sized + 'static {
    /// The name criterion reports (`tollgate_*` for tollgate's limiter).
    const NAME: &'static str;

    /// An empty limiter on the roomy quota.
    fn build() -> Self;
    /// One decision for `key`, whatever it returned dropped right there; true if admitted.
    fn check(&self, key: &u64) -> bool;
}

/// tollgate's token-bucket partition options on the roomy quota.
fn roomy_bucket() -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit: u32::MAX,
        tokens_per_period: 1_000_000_000,
        replenishment_period: Duration::from_secs(1),
        ..Default::default()
    }
}

/// governor's quota equal to [`roomy_bucket`]'s rate: burst `u32::MAX`, one cell per nanosecond.
fn roomy_governor_quota() -> governor::Quota {
    governor::Quota::with_period(Duration::from_nanos(1))
        .expect("non-zero")
        .allow_burst(NonZeroU32::new(u32::MAX).expect("non-zero"))
}

/// tollgate's partitioned limiter, one token bucket per key.
pub struct Partitioned(PartitionedRateLimiter<u64>);

impl KeyedContender for Partitioned {
    const NAME: &'static str = "tollgate_partitioned";

    fn build() -> Self {
        Self(PartitionedRateLimiter::new(|key: &u64| {
            RateLimitPartition::get_token_bucket_limiter(*key, |_| roomy_bucket())
        }))
    }

    #[inline]
    fn check(&self, key: &u64) -> bool {
        matches!(self.0.attempt_acquire(key, 1), Ok(lease) if lease.is_acquired())
    }
}

/// governor's keyed limiter on its default store, a `DashMap`.
pub struct GovernorDashMap(governor::DefaultKeyedRateLimiter<u64>);

impl KeyedContender for GovernorDashMap {
    const NAME: &'static str = "governor_keyed_dashmap";

    fn build() -> Self {
        Self(governor::RateLimiter::dashmap(roomy_governor_quota()))
    }

    #[inline]
    fn check(&self, key: &u64) -> bool {
        self.0.check_key(key).is_ok()
    }
}

/// governor's keyed limiter on a `Mutex<HashMap>`.
pub struct GovernorHashMap(governor::RateLimiter<u64, HashMapStateStore<u64>, DefaultClock>);

impl KeyedContender for GovernorHashMap {
    const NAME: &'static str = "governor_keyed_hashmap";

    fn build() -> Self {
        Self(governor::RateLimiter::hashmap(roomy_governor_quota()))
    }

    #[inline]
    fn check(&self, key: &u64) -> bool {
        self.0.check_key(key).is_ok()
    }
}

/// A limiter in which every key of `0..MANY_KEYS` already has its state, so only lookups of
/// existing keys are timed (key creation and eviction are not measured).
pub fn populated<L: KeyedContender>() -> L {
    let limiter = L::build();
    for key in 0..MANY_KEYS {
        assert!(limiter.check(&key), "{}: a fresh key is admitted", L::NAME);
    }
    limiter
}

/// The hot-key sequence: every call on the same key.
pub fn hot_key_sequence() -> Vec<u64> {
    vec![42]
}

/// The many-keys sequence: [`SEQUENCE_LEN`] keys drawn from `0..MANY_KEYS` with Zipf weights
/// (rank `k`, from 1, has weight `1 / k^ZIPF_EXPONENT`; key = rank − 1), from a fixed seed. With
/// exponent 1 over 10,000 keys the hottest key gets about 10% of the calls and the ten hottest
/// about 30%, while the tail keeps touching cold keys.
pub fn zipf_sequence() -> Vec<u64> {
    let zipf = Zipf::new(MANY_KEYS, ZIPF_EXPONENT);
    let mut random = SplitMix64(SEED);
    (0..SEQUENCE_LEN).map(|_| zipf.sample(random.next_unit())).collect()
}

/// One call of a keyed workload: the key at `index` of `keys` (wrapping; `keys.len()` is 1 or a
/// power of two).
#[inline]
pub fn check_at<L: KeyedContender>(limiter: &L, keys: &[u64], index: usize) -> bool {
    debug_assert!(keys.len().is_power_of_two());
    limiter.check(std::hint::black_box(&keys[index & (keys.len() - 1)]))
}

/// A Zipf distribution over ranks `1..=n`, sampled by inverting its cumulative distribution
/// (a binary search over the precomputed, normalized cumulative weights).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, exponent: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (1..=n)
            .map(|rank| {
                total += (rank as f64).powf(-exponent);
                total
            })
            .collect();
        cumulative.iter_mut().for_each(|weight| *weight /= total);
        Self { cumulative }
    }

    /// The key (rank − 1) whose cumulative weight first reaches `unit`, a number in `[0, 1)`.
    fn sample(&self, unit: f64) -> u64 {
        let index = self.cumulative.partition_point(|&weight| weight <= unit);
        index.min(self.cumulative.len() - 1) as u64
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator for a fixed sequence.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` from the top 53 bits.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
