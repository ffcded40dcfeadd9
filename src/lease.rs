//! Leases and their metadata.
//!
//! One concrete [`RateLimitLease`] type serves every limiter. The common cases (a success, a failure
//! with a retry-after or a reason phrase, a concurrency lease holding permits) are stored inline, so
//! building, moving and dropping them never allocates; rare cases (custom metadata, a second
//! well-known value, combined leases of a chain, user-supplied release hooks) live behind one boxed
//! extension.
//!
//! **Metadata is a small dictionary.** Whatever is stored where, a lease behaves as a map from
//! name to value plus a list of names: each name is listed once, in the order names were first
//! attached (as a .NET lease's `MetadataNames` enumerates its dictionary), and attaching a value
//! under a name that has one replaces it. Invariant: a name's value lives in at most one place
//! (the inline slot or the extension's `values`), so lookups need no precedence rule; the fixed
//! `Names` are listed before the extension's `names`, so a name goes to the fixed set only while
//! the extension lists none.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

/// The name of a metadata value a lease may carry, typed by the value it names.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tollgate::MetadataName;
///
/// assert_eq!(MetadataName::RETRY_AFTER.name(), "RETRY_AFTER");
/// const COST: MetadataName<u32> = MetadataName::new("COST");
/// assert_eq!(COST.to_string(), "COST");
/// ```
pub struct MetadataName<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl MetadataName<Duration> {
    /// How long to wait before retrying; carried by failed leases of time-based limiters (token
    /// bucket, fixed and sliding windows). [`RateLimitLease::retry_after`] reads it directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{ManualClock, MetadataName, RateLimiter, TokenBucketRateLimiter, TokenBucketRateLimiterOptions};
    ///
    /// let bucket = TokenBucketRateLimiter::with_clock(
    ///     TokenBucketRateLimiterOptions {
    ///         token_limit: 1,
    ///         tokens_per_period: 1,
    ///         replenishment_period: Duration::from_secs(2),
    ///         ..Default::default()
    ///     },
    ///     ManualClock::new(),
    /// )?;
    /// let _token = bucket.attempt_acquire(1)?;
    /// let refused = bucket.attempt_acquire(1)?;
    /// assert_eq!(refused.get(&MetadataName::RETRY_AFTER), Some(Duration::from_secs(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const RETRY_AFTER: MetadataName<Duration> = MetadataName::new(RETRY_AFTER);
}

impl MetadataName<String> {
    /// Why a request failed; carried by the concurrency limiter's queue-full lease
    /// (`"Queue limit reached"`) and by a partitioned limiter's refusal when its partition cap is
    /// reached ([`PARTITION_LIMIT_REACHED`](crate::PARTITION_LIMIT_REACHED)).
    /// [`RateLimitLease::reason_phrase`] reads it without allocating.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, MetadataName, RateLimiter};
    ///
    /// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() })?;
    /// let _held = limiter.attempt_acquire(1)?;
    /// let refused = limiter.blocking_acquire(1)?; // `queue_limit` is 0: the queue is full at once
    /// assert_eq!(refused.get(&MetadataName::REASON_PHRASE).as_deref(), Some("Queue limit reached"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const REASON_PHRASE: MetadataName<String> = MetadataName::new(REASON_PHRASE);
}

impl<T> MetadataName<T> {
    /// Creates a metadata name for values of type `T` (usable in a `const`).
    ///
    /// Two names are equal when their strings are; a lookup with [`RateLimitLease::get`] finds a
    /// value only if it was stored with the same type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{MetadataName, RateLimitLease};
    ///
    /// const COST: MetadataName<u32> = MetadataName::new("COST");
    /// let lease = RateLimitLease::success().with_metadata(&COST, 3);
    /// assert_eq!(lease.get(&COST), Some(3));
    /// assert_eq!(lease.get(&MetadataName::<u64>::new("COST")), None); // another type
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self { name, _value: PhantomData }
    }

    /// The name as a string (also what `Display` prints).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::MetadataName;
    ///
    /// assert_eq!(MetadataName::REASON_PHRASE.name(), "REASON_PHRASE");
    /// assert_eq!(MetadataName::<u32>::new("COST").name(), "COST");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for MetadataName<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for MetadataName<T> {}
impl<T> PartialEq for MetadataName<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl<T> Eq for MetadataName<T> {}
impl<T> std::hash::Hash for MetadataName<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}
impl<T> fmt::Debug for MetadataName<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetadataName({:?})", self.name)
    }
}
impl<T> fmt::Display for MetadataName<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

pub(crate) const RETRY_AFTER: &str = "RETRY_AFTER";
pub(crate) const REASON_PHRASE: &str = "REASON_PHRASE";
/// The reason phrase of the concurrency limiter's queue-full lease (.NET's text).
pub(crate) const QUEUE_LIMIT_REACHED: &str = "Queue limit reached";

/// Which fixed list of well-known metadata names a lease lists, in order (the limiters' lists are
/// the same on success and failure). Listed before the extension's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Names {
    None,
    RetryAfter,
    ReasonPhrase,
    /// Built by hand: `RETRY_AFTER` attached first, then `REASON_PHRASE`.
    RetryAfterReasonPhrase,
    /// Built by hand, or a concurrency lease given a retry-after: the other order.
    ReasonPhraseRetryAfter,
}

impl Names {
    fn as_slice(self) -> &'static [&'static str] {
        match self {
            Names::None => &[],
            Names::RetryAfter => &[RETRY_AFTER],
            Names::ReasonPhrase => &[REASON_PHRASE],
            Names::RetryAfterReasonPhrase => &[RETRY_AFTER, REASON_PHRASE],
            Names::ReasonPhraseRetryAfter => &[REASON_PHRASE, RETRY_AFTER],
        }
    }

    /// This list with `name` appended, if a fixed list has that shape (`name` not listed yet).
    fn then(self, name: &str) -> Option<Names> {
        match (self, name) {
            (Names::None, RETRY_AFTER) => Some(Names::RetryAfter),
            (Names::None, REASON_PHRASE) => Some(Names::ReasonPhrase),
            (Names::RetryAfter, REASON_PHRASE) => Some(Names::RetryAfterReasonPhrase),
            (Names::ReasonPhrase, RETRY_AFTER) => Some(Names::ReasonPhraseRetryAfter),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Value {
    None,
    RetryAfter(Duration),
    /// A retry-after of up to `u64::MAX` nanoseconds, kept unconverted (the hot refusal path
    /// stores a clock difference; the `Duration` is built only if someone reads it).
    RetryAfterNanos(u64),
    Reason(&'static str),
    /// Permits to give back on drop (see [`PermitRelease`]). Shares the slot with the metadata
    /// values because a lease holding permits is a success, which carries no metadata value; a
    /// value attached to it anyway goes to the extension. Keeping one slot makes the lease 40
    /// bytes instead of 64, which every `attempt_acquire` returns by value.
    Permits {
        release: unsafe fn(NonNull<()>, u32),
        target: NonNull<()>,
        permits: u32,
    },
    /// A grant that gives nothing back on drop but can be refunded (`RateLimiter::refund`):
    /// the granting limiter's identity (`limiter_id`), its position in time when granted (a
    /// window's or segment's identity), and the permits.
    Granted {
        owner: u64,
        stamp: u64,
        permits: u32,
    },
}

/// A process-wide unique identity for a limiter, so a refund can check that a lease is its own
/// (addresses can be reused after a limiter is dropped; these never are).
pub(crate) fn limiter_id() -> u64 {
    // Outside the sync facade on purpose: an identity counter, not part of any protocol.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    // ORDERING: Relaxed: only uniqueness matters, which the RMW gives.
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Gives permits back to the limiter that granted them.
///
/// `release(target, permits)` is called exactly once, when the lease is dropped.
pub(crate) struct PermitRelease {
    pub(crate) release: unsafe fn(NonNull<()>, u32),
    pub(crate) target: NonNull<()>,
    pub(crate) permits: u32,
}

struct Extra {
    /// The chain that combined `inner` (its `limiter_id`), or 0.
    owner: u64,
    names: Vec<&'static str>,
    values: Vec<(&'static str, Box<dyn Any + Send + Sync>)>,
    inner: Vec<RateLimitLease>,
    on_release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

/// The outcome of an acquisition: acquired or not, with metadata, holding whatever it was granted.
///
/// Dropping an acquired concurrency lease returns its permits, exactly once. Dropping any other lease
/// returns nothing (tokens and window permits are spent when taken, as in .NET).
///
/// # Examples
///
/// ```
/// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
///
/// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
///     permit_limit: 1,
///     ..Default::default()
/// })
/// .unwrap();
/// let lease = limiter.attempt_acquire(1).unwrap();
/// assert!(lease.is_acquired());
/// assert!(!limiter.attempt_acquire(1).unwrap().is_acquired());
/// drop(lease); // the permit goes back
/// assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
/// ```
#[must_use = "dropping a lease releases what it holds at once"]
pub struct RateLimitLease {
    value: Value,
    /// Dropped by hand in `Drop` (so a lease without extras has no out-of-line drop glue).
    extra: std::mem::ManuallyDrop<Option<Box<Extra>>>,
    acquired: bool,
    names: Names,
}

// SAFETY: the only non-Send/Sync field is `PermitRelease::target`, a pointer to a limiter's shared
// state, which is itself `Send + Sync` and is kept alive by the permits this lease holds (each
// limiter documents that protocol). The pointer is only used once, by `drop`, which needs `&mut self`.
unsafe impl Send for RateLimitLease {}
// SAFETY: `&RateLimitLease` only reads plain data; the release pointer is not reachable through `&`.
unsafe impl Sync for RateLimitLease {}

impl RateLimitLease {
    #[inline]
    pub(crate) const fn new(acquired: bool, names: Names) -> Self {
        Self { value: Value::None, names, acquired, extra: std::mem::ManuallyDrop::new(None) }
    }

    #[inline]
    pub(crate) fn with_permit_release(mut self, release: PermitRelease) -> Self {
        debug_assert!(matches!(self.value, Value::None));
        self.value = Value::Permits { release: release.release, target: release.target, permits: release.permits };
        self
    }

    /// A successful lease that can be refunded to the limiter `owner` (see `Value::Granted`).
    #[inline]
    pub(crate) const fn granted(names: Names, owner: u64, stamp: u64, permits: u32) -> Self {
        let mut lease = Self::new(true, names);
        lease.value = Value::Granted { owner, stamp, permits };
        lease
    }

    /// The `(stamp, permits)` of a grant made by the limiter `owner`, if this lease is one.
    #[inline]
    pub(crate) fn grant_of(&self, owner: u64) -> Option<(u64, u32)> {
        match self.value {
            Value::Granted { owner: o, stamp, permits } if o == owner && self.acquired => Some((stamp, permits)),
            _ => None,
        }
    }

    /// Whether this lease holds permits that `release(target, ..)` returns on drop.
    #[inline]
    pub(crate) fn holds_permits_of(&self, target: NonNull<()>) -> bool {
        matches!(self.value, Value::Permits { target: t, .. } if t == target)
    }

    /// A chain's combined lease: acquired, holding `inner` (released in reverse order on drop),
    /// listing the union of their metadata names; values are looked up in chain order.
    pub(crate) fn combined(owner: u64, inner: Vec<RateLimitLease>) -> Self {
        // The names are collected when asked for (`metadata_names`), not on every chained grant.
        let mut lease = Self::new(true, Names::None);
        *lease.extra = Some(Box::new(Extra { owner, names: Vec::new(), values: Vec::new(), inner, on_release: None }));
        lease
    }

    /// The inner leases of a combined lease made by the chain `owner`, taken out (the combined
    /// lease then holds nothing); `Err(self)` if it is not one.
    pub(crate) fn into_inner(mut self, owner: u64) -> Result<Vec<RateLimitLease>, Self> {
        match self.extra.as_mut() {
            Some(extra) if extra.owner == owner && owner != 0 => Ok(std::mem::take(&mut extra.inner)),
            _ => Err(self),
        }
    }

    /// This lease's own metadata names (not its inner leases'), without duplicates.
    fn own_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let fixed = self.names.as_slice().iter().copied();
        let extra = self.extra.iter().flat_map(|e| e.names.iter().copied());
        fixed.chain(extra.filter(move |n| !self.names.as_slice().contains(n)))
    }

    /// The union of this lease's names and its inner leases' (recursively), in order.
    fn collect_names(&self, out: &mut Vec<&'static str>) {
        for name in self.own_names() {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        if let Some(extra) = self.extra.as_ref() {
            for inner in &extra.inner {
                inner.collect_names(out);
            }
        }
    }

    /// A successful lease with no metadata and nothing to release (for custom limiters).
    ///
    /// Dropping it does nothing unless [`on_release`](Self::on_release) attaches a hook. Built-in
    /// limiters' [`refund`](crate::RateLimiter::refund) does not recognise it (it is simply dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::RateLimitLease;
    ///
    /// let lease = RateLimitLease::success();
    /// assert!(lease.is_acquired());
    /// assert_eq!(lease.metadata_names().count(), 0);
    /// ```
    pub fn success() -> Self {
        Self::new(true, Names::None)
    }

    /// A failed lease with no metadata (for custom limiters); add hints with
    /// [`with_retry_after`](Self::with_retry_after) and [`with_reason_phrase`](Self::with_reason_phrase).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::RateLimitLease;
    ///
    /// let lease = RateLimitLease::failure();
    /// assert!(!lease.is_acquired());
    /// assert_eq!(lease.retry_after(), None);
    /// assert_eq!(lease.reason_phrase(), None);
    /// ```
    pub fn failure() -> Self {
        Self::new(false, Names::None)
    }

    /// Attaches a [`RETRY_AFTER`](MetadataName::RETRY_AFTER) value and lists the name (for custom
    /// limiters), replacing any retry-after attached before.
    ///
    /// The name is listed once, after the names listed so far. The value is stored inline (no
    /// allocation) unless the inline slot is taken, by a reason phrase or by permits the lease
    /// holds: then it goes to the lease's boxed extension. Either way every value attached is kept:
    /// a lease can carry both a retry-after and a reason phrase
    /// ([`with_reason_phrase`](Self::with_reason_phrase)), attached in either order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{MetadataName, RateLimitLease};
    ///
    /// let lease = RateLimitLease::failure().with_retry_after(Duration::from_millis(250));
    /// assert_eq!(lease.retry_after(), Some(Duration::from_millis(250)));
    /// assert_eq!(lease.get(&MetadataName::RETRY_AFTER), Some(Duration::from_millis(250)));
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["RETRY_AFTER"]);
    ///
    /// let both = RateLimitLease::failure().with_reason_phrase("busy").with_retry_after(Duration::from_secs(1));
    /// assert_eq!((both.reason_phrase(), both.retry_after()), (Some("busy"), Some(Duration::from_secs(1))));
    /// assert_eq!(both.metadata_names().collect::<Vec<_>>(), ["REASON_PHRASE", "RETRY_AFTER"]);
    /// ```
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        match self.value {
            Value::None | Value::RetryAfter(_) | Value::RetryAfterNanos(_) => {
                self.value = Value::RetryAfter(retry_after);
                self.remove_extra_value(RETRY_AFTER);
            }
            _ => self.set_extra_value(RETRY_AFTER, Box::new(retry_after)),
        }
        self.list_name(RETRY_AFTER);
        self
    }

    /// Attaches a [`REASON_PHRASE`](MetadataName::REASON_PHRASE) value and lists the name (for
    /// custom limiters), replacing any reason phrase attached before.
    ///
    /// The name is listed once, after the names listed so far. The value is stored inline (no
    /// allocation) unless the inline slot is taken, by a retry-after or by permits the lease
    /// holds: then it goes to the lease's boxed extension. Either way every value attached is kept:
    /// a lease can carry both a reason phrase and a retry-after
    /// ([`with_retry_after`](Self::with_retry_after)), attached in either order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{MetadataName, RateLimitLease};
    ///
    /// let lease = RateLimitLease::failure().with_reason_phrase("tenant suspended");
    /// assert_eq!(lease.reason_phrase(), Some("tenant suspended"));
    /// assert_eq!(lease.get(&MetadataName::REASON_PHRASE).as_deref(), Some("tenant suspended"));
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["REASON_PHRASE"]);
    ///
    /// let both = RateLimitLease::failure().with_retry_after(Duration::from_secs(1)).with_reason_phrase("busy");
    /// assert_eq!((both.retry_after(), both.reason_phrase()), (Some(Duration::from_secs(1)), Some("busy")));
    /// assert_eq!(both.metadata_names().collect::<Vec<_>>(), ["RETRY_AFTER", "REASON_PHRASE"]);
    /// ```
    pub fn with_reason_phrase(mut self, reason: &'static str) -> Self {
        match self.value {
            Value::None | Value::Reason(_) => {
                self.value = Value::Reason(reason);
                self.remove_extra_value(REASON_PHRASE);
            }
            _ => self.set_extra_value(REASON_PHRASE, Box::new(reason.to_string())),
        }
        self.list_name(REASON_PHRASE);
        self
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(|| {
            Box::new(Extra { owner: 0, names: Vec::new(), values: Vec::new(), inner: Vec::new(), on_release: None })
        })
    }

    /// The well-known name whose value the inline slot holds, if it holds one.
    fn inline_name(&self) -> Option<&'static str> {
        match self.value {
            Value::RetryAfter(_) | Value::RetryAfterNanos(_) => Some(RETRY_AFTER),
            Value::Reason(_) => Some(REASON_PHRASE),
            _ => None,
        }
    }

    /// Stores `value` under `name` in the extension, replacing the value stored there under it.
    fn set_extra_value(&mut self, name: &'static str, value: Box<dyn Any + Send + Sync>) {
        let values = &mut self.extra_mut().values;
        match values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => values.push((name, value)),
        }
    }

    /// Removes the extension's value under `name`, if any (never allocates).
    fn remove_extra_value(&mut self, name: &'static str) {
        if let Some(extra) = self.extra.as_mut() {
            extra.values.retain(|(n, _)| *n != name);
        }
    }

    /// Lists `name` after the names listed so far, unless it is listed already. Kept in the fixed
    /// `names` (no allocation) while the extension lists nothing, since those come first.
    fn list_name(&mut self, name: &'static str) {
        if self.own_names().any(|n| n == name) {
            return;
        }
        if self.extra.as_ref().is_none_or(|e| e.names.is_empty())
            && let Some(names) = self.names.then(name)
        {
            self.names = names;
            return;
        }
        self.extra_mut().names.push(name);
    }

    /// Attaches a custom metadata value (for custom limiters) and lists its name.
    ///
    /// The value is boxed in the lease's extension (the first one also allocates the extension),
    /// except a [`Duration`] under [`RETRY_AFTER`](MetadataName::RETRY_AFTER), which is stored as
    /// [`with_retry_after`](Self::with_retry_after) stores it. It is read back with
    /// [`get`](Self::get) using a name of the same type.
    ///
    /// As in a dictionary, attaching a value under a name that already has one replaces it
    /// (whatever its type, and also a value attached by `with_retry_after` or
    /// [`with_reason_phrase`](Self::with_reason_phrase)); the name stays listed once, where it was
    /// first listed. New names are listed after those listed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{MetadataName, RateLimitLease};
    ///
    /// const QUOTA_LEFT: MetadataName<u64> = MetadataName::new("QUOTA_LEFT");
    /// let lease = RateLimitLease::success().with_metadata(&QUOTA_LEFT, 41);
    /// assert_eq!(lease.get(&QUOTA_LEFT), Some(41));
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["QUOTA_LEFT"]);
    ///
    /// let lease = lease.with_metadata(&QUOTA_LEFT, 40).with_reason_phrase("almost out");
    /// assert_eq!(lease.get(&QUOTA_LEFT), Some(40)); // the later value
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["QUOTA_LEFT", "REASON_PHRASE"]);
    /// ```
    pub fn with_metadata<T: Clone + Send + Sync + 'static>(mut self, name: &MetadataName<T>, value: T) -> Self {
        if name.name == RETRY_AFTER
            && let Some(&retry_after) = (&value as &dyn Any).downcast_ref::<Duration>()
        {
            return self.with_retry_after(retry_after);
        }
        if self.inline_name() == Some(name.name) {
            // Replaced by the value stored below: keep one value per name.
            self.value = Value::None;
        }
        self.set_extra_value(name.name, Box::new(value));
        self.list_name(name.name);
        self
    }

    /// Lists a metadata name without a value (as .NET leases list their names even on success):
    /// after the names listed so far, or nowhere new if it is listed already.
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::RateLimitLease;
    ///
    /// let lease = RateLimitLease::success().with_metadata_name("RETRY_AFTER");
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["RETRY_AFTER"]);
    /// assert_eq!(lease.retry_after(), None); // listed, but no value
    /// ```
    pub fn with_metadata_name(mut self, name: &'static str) -> Self {
        self.list_name(name);
        self
    }

    /// Runs `f` once when the lease is dropped (for custom limiters that hand out resources).
    ///
    /// Attaching a second hook replaces the first. The hook runs after the lease has released
    /// whatever else it holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use tollgate::RateLimitLease;
    ///
    /// let in_use = Arc::new(AtomicU32::new(1));
    /// let counter = Arc::clone(&in_use);
    /// let lease = RateLimitLease::success().on_release(move || {
    ///     counter.fetch_sub(1, Ordering::Relaxed);
    /// });
    /// drop(lease);
    /// assert_eq!(in_use.load(Ordering::Relaxed), 0);
    /// ```
    pub fn on_release(mut self, f: impl FnOnce() + Send + Sync + 'static) -> Self {
        self.extra_mut().on_release = Some(Box::new(f));
        self
    }

    /// Whether the permits were acquired.
    ///
    /// A refusal is not an error: `attempt_acquire` and `acquire` return `Ok` with a lease whose
    /// `is_acquired` is false (check [`retry_after`](Self::retry_after) and
    /// [`reason_phrase`](Self::reason_phrase) for why and when to retry).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() })?;
    /// let first = limiter.attempt_acquire(1)?;
    /// let second = limiter.attempt_acquire(1)?;
    /// assert!(first.is_acquired());
    /// assert!(!second.is_acquired());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn is_acquired(&self) -> bool {
        self.acquired
    }

    /// How long to wait before retrying, when the limiter could tell: the
    /// [`RETRY_AFTER`](MetadataName::RETRY_AFTER) value, if any.
    ///
    /// Failed leases of the token bucket and the fixed and sliding windows carry it (see each
    /// limiter for how exact it is); the concurrency limiter cannot know when permits come back and
    /// gives none. Successful leases carry none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{FixedWindowRateLimiter, FixedWindowRateLimiterOptions, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let window = Duration::from_secs(1);
    /// let options = FixedWindowRateLimiterOptions { permit_limit: 1, window, ..Default::default() };
    /// let limiter = FixedWindowRateLimiter::with_clock(options, clock.clone())?;
    /// assert_eq!(limiter.attempt_acquire(1)?.retry_after(), None); // acquired
    /// clock.advance(Duration::from_millis(400));
    /// assert_eq!(limiter.attempt_acquire(1)?.retry_after(), Some(Duration::from_millis(600)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn retry_after(&self) -> Option<Duration> {
        match self.value {
            Value::RetryAfterNanos(n) => Some(Duration::from_nanos(n)),
            Value::RetryAfter(d) => Some(d),
            _ if self.extra.is_none() => None,
            _ => self.get(&MetadataName::RETRY_AFTER),
        }
    }

    /// Why the request failed, when the limiter said: the
    /// [`REASON_PHRASE`](MetadataName::REASON_PHRASE) value, if any (of a chain's combined lease:
    /// the first inner lease's that has one).
    ///
    /// # Examples
    ///
    /// ```
    /// use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter};
    ///
    /// let limiter = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() })?;
    /// let held = limiter.attempt_acquire(1)?;
    /// assert_eq!(held.reason_phrase(), None);
    /// // No queue (`queue_limit` 0): a request that would wait fails at once, saying why.
    /// let refused = limiter.blocking_acquire(1)?;
    /// assert_eq!(refused.reason_phrase(), Some("Queue limit reached"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reason_phrase(&self) -> Option<&str> {
        match self.value {
            Value::Reason(r) => Some(r),
            _ => self.extra.as_ref().and_then(|e| {
                e.values
                    .iter()
                    .find(|(n, _)| *n == REASON_PHRASE)
                    .and_then(|(_, v)| v.downcast_ref::<String>().map(String::as_str))
                    .or_else(|| e.inner.iter().find_map(|l| l.reason_phrase()))
            }),
        }
    }

    /// The names of the metadata this lease may carry (listed even when no value is present).
    ///
    /// A chain's combined lease lists the union of its inner leases' names (deduplicated, in chain
    /// order), collected by this call.
    ///
    /// The built-in limiters list the same names on success and failure, as .NET does: the
    /// concurrency limiter `REASON_PHRASE`, the time-based limiters `RETRY_AFTER`, the no-op
    /// limiter none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tollgate::{
    ///     ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, RateLimiter,
    ///     TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
    /// };
    ///
    /// let in_flight = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() })?;
    /// let rate = TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
    ///     token_limit: 1, tokens_per_period: 1, replenishment_period: Duration::from_secs(1), ..Default::default()
    /// })?;
    /// let chain = ChainedRateLimiter::new(vec![Arc::new(in_flight), Arc::new(rate)])?;
    /// let lease = chain.attempt_acquire(1)?;
    /// assert_eq!(lease.metadata_names().collect::<Vec<_>>(), ["REASON_PHRASE", "RETRY_AFTER"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metadata_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let combined = self.extra.as_ref().filter(|e| !e.inner.is_empty()).map(|_| {
            let mut names = Vec::new();
            self.collect_names(&mut names);
            names
        });
        let simple = combined.is_none().then(|| self.own_names()).into_iter().flatten();
        simple.chain(combined.into_iter().flatten())
    }

    /// A failed lease of a time-based limiter, with its retry-after in nanoseconds.
    #[inline]
    pub(crate) const fn failed_retry_after_nanos(nanos: u64) -> Self {
        let mut lease = Self::new(false, Names::RetryAfter);
        lease.value = Value::RetryAfterNanos(nanos);
        lease
    }

    /// The value stored under `name`, if any (cloned).
    ///
    /// `None` when no value of type `T` is stored under that name (a listed name may have no
    /// value). Of a chain's combined lease: the value of the first inner lease, in chain order,
    /// that has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{MetadataName, RateLimitLease};
    ///
    /// let lease = RateLimitLease::failure().with_retry_after(Duration::from_secs(3));
    /// assert_eq!(lease.get(&MetadataName::RETRY_AFTER), Some(Duration::from_secs(3)));
    /// assert_eq!(lease.get(&MetadataName::REASON_PHRASE), None);
    /// ```
    pub fn get<T: Clone + 'static>(&self, name: &MetadataName<T>) -> Option<T> {
        let value = match self.value {
            Value::RetryAfterNanos(n) => Value::RetryAfter(Duration::from_nanos(n)),
            other => other,
        };
        match (value, name.name) {
            (Value::RetryAfter(d), RETRY_AFTER) => {
                if let Some(found) = (&d as &dyn Any).downcast_ref::<T>() {
                    return Some(found.clone());
                }
            }
            (Value::Reason(r), REASON_PHRASE) => {
                if let Some(found) = (&r as &dyn Any).downcast_ref::<T>() {
                    return Some(found.clone());
                }
                if let Some(found) = (&r.to_string() as &dyn Any).downcast_ref::<T>() {
                    return Some(found.clone());
                }
            }
            _ => {}
        }
        let extra = self.extra.as_ref()?;
        extra
            .values
            .iter()
            .find(|(n, _)| *n == name.name)
            .and_then(|(_, v)| v.downcast_ref::<T>().cloned())
            .or_else(|| extra.inner.iter().find_map(|l| l.get(name)))
    }
}

impl RateLimitLease {
    #[cold]
    #[inline(never)]
    fn drop_extra(&mut self) {
        // SAFETY: called once, from `drop`; the field is not used afterwards.
        let Some(mut extra) = (unsafe { std::mem::ManuallyDrop::take(&mut self.extra) }) else { return };
        // Inner leases (a chain's) are released in reverse order, as in .NET.
        while let Some(inner) = extra.inner.pop() {
            drop(inner);
        }
        if let Some(f) = extra.on_release.take() {
            f();
        }
    }
}

impl Drop for RateLimitLease {
    #[inline]
    fn drop(&mut self) {
        if let Value::Permits { release, target, permits } = std::mem::replace(&mut self.value, Value::None) {
            // SAFETY: `PermitRelease` values are built only by limiters, which promise that
            // `target` stays valid until `release` has been called once for these permits.
            unsafe { release(target, permits) };
        }
        if self.extra.is_some() {
            self.drop_extra();
        }
    }
}

impl fmt::Debug for RateLimitLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RateLimitLease");
        d.field("acquired", &self.acquired);
        if let Some(r) = self.retry_after() {
            d.field("retry_after", &r);
        }
        if let Some(r) = self.reason_phrase() {
            d.field("reason_phrase", &r);
        }
        if let Value::Permits { permits, .. } = self.value {
            d.field("permits", &permits);
        }
        d.finish()
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn a_lease_is_40_bytes() {
        // The lease is returned by value from every decision: keep it small.
        assert_eq!(std::mem::size_of::<RateLimitLease>(), 40);
        assert!(std::mem::size_of::<Result<RateLimitLease, crate::AcquireError>>() <= 48);
    }
}
