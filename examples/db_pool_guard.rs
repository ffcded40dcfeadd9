//! A concurrency limiter guarding a small resource pool from plain threads (`blocking_acquire`):
//! 16 worker threads share a "database" that must never see more than 4 queries at once. Workers
//! park in the limiter's queue (oldest first, so nobody starves) instead of spinning, and the
//! example checks the pool never exceeds its size and prints how long the workers waited.
//!
//! Run: `cargo run --release --example db_pool_guard` (ends by itself within a second).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, QueueProcessingOrder, RateLimiter};

const POOL: u32 = 4;
const WORKERS: u64 = 16;
const QUERIES_PER_WORKER: u64 = 25;

/// A stand-in for a connection pool that breaks (here: panics) if used by more than `POOL` at once.
struct Database {
    in_use: AtomicU64,
    peak: AtomicU64,
}

impl Database {
    fn query(&self) {
        let now = self.in_use.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= u64::from(POOL), "{now} queries at once on a pool of {POOL}");
        self.peak.fetch_max(now, Ordering::SeqCst);
        thread::sleep(Duration::from_micros(400)); // the query itself
        self.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

fn main() {
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: POOL,
            queue_limit: 64, // room for every worker to wait
            queue_processing_order: QueueProcessingOrder::OldestFirst,
        })
        .expect("valid options"),
    );
    let db = Arc::new(Database { in_use: AtomicU64::new(0), peak: AtomicU64::new(0) });
    let waited_ns = Arc::new(AtomicU64::new(0));
    let longest_ns = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (limiter, db, waited_ns, longest_ns) =
                (limiter.clone(), db.clone(), waited_ns.clone(), longest_ns.clone());
            thread::spawn(move || {
                for _ in 0..QUERIES_PER_WORKER {
                    let asked = Instant::now();
                    // Parks this thread in the queue until a connection is free.
                    let lease = limiter.blocking_acquire(1).expect("not disposed");
                    assert!(lease.is_acquired(), "the queue has room for every worker");
                    let wait = asked.elapsed().as_nanos() as u64;
                    waited_ns.fetch_add(wait, Ordering::Relaxed);
                    longest_ns.fetch_max(wait, Ordering::Relaxed);
                    db.query();
                    drop(lease); // the connection goes back to the next waiter
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker panicked");
    }

    let queries = WORKERS * QUERIES_PER_WORKER;
    let stats = limiter.statistics().expect("built-in limiters report statistics");
    println!("db_pool_guard: {WORKERS} threads, {queries} queries, a pool of {POOL}");
    println!("  took {:?}; at most {} queries at once", started.elapsed(), db.peak.load(Ordering::SeqCst));
    println!(
        "  waited for a connection: {:?} on average, {:?} at most",
        Duration::from_nanos(waited_ns.load(Ordering::Relaxed) / queries),
        Duration::from_nanos(longest_ns.load(Ordering::Relaxed))
    );
    println!(
        "  limiter: {} successful, {} failed, {} available, {} queued",
        stats.total_successful_leases,
        stats.total_failed_leases,
        stats.current_available_permits,
        stats.current_queued_count
    );
    assert_eq!(stats.total_successful_leases, queries);
    assert_eq!(stats.current_available_permits, u64::from(POOL));
}
