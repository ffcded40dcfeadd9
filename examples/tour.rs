//! A tour of tollgate: puts each limiter under load from plain threads and async tasks and prints
//! what was admitted, queued and rejected.
//!
//! Run: `cargo run --release --example tour`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, QueueProcessingOrder, RateLimiter};

fn main() {
    println!("tollgate tour\n");
    concurrency_under_load();
}

fn concurrency_under_load() {
    println!("== ConcurrencyLimiter: 4 permits, queue of 8 permits, oldest first ==");
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: 4,
            queue_limit: 8,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
        })
        .expect("valid options"),
    );
    let peak = Arc::new(AtomicU64::new(0));
    let held = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    // 4 plain threads: half try without waiting, half block in the queue.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (limiter, held, peak) = (limiter.clone(), held.clone(), peak.clone());
            std::thread::spawn(move || {
                let (mut admitted, mut rejected) = (0u64, 0u64);
                for _ in 0..2_000 {
                    let lease = if t % 2 == 0 {
                        limiter.attempt_acquire(1).expect("1 <= limit")
                    } else {
                        limiter.blocking_acquire(1).expect("not disposed")
                    };
                    if lease.is_acquired() {
                        admitted += 1;
                        let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::hint::black_box((0..50).sum::<u64>());
                        held.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        rejected += 1;
                    }
                }
                (admitted, rejected)
            })
        })
        .collect();

    // 16 async tasks on a 2-worker runtime, waiting in the queue with `acquire().await`.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (task_admitted, task_rejected) = runtime.block_on(async {
        let joins: Vec<_> = (0..16)
            .map(|_| {
                let (limiter, held, peak) = (limiter.clone(), held.clone(), peak.clone());
                tokio::spawn(async move {
                    let (mut admitted, mut rejected) = (0u64, 0u64);
                    for _ in 0..500 {
                        let lease = limiter.acquire(1).await.expect("not disposed");
                        if lease.is_acquired() {
                            admitted += 1;
                            let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            held.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            rejected += 1; // queue full: "Queue limit reached"
                        }
                    }
                    (admitted, rejected)
                })
            })
            .collect();
        let mut totals = (0, 0);
        for j in joins {
            let (a, r) = j.await.unwrap();
            totals.0 += a;
            totals.1 += r;
        }
        totals
    });
    let (mut thread_admitted, mut thread_rejected) = (0, 0);
    for t in threads {
        let (a, r) = t.join().unwrap();
        thread_admitted += a;
        thread_rejected += r;
    }
    let stats = limiter.statistics().unwrap();
    println!("{:<22}{:>10}{:>10}", "caller", "admitted", "rejected");
    println!("{:<22}{:>10}{:>10}", "threads (4)", thread_admitted, thread_rejected);
    println!("{:<22}{:>10}{:>10}", "async tasks (16)", task_admitted, task_rejected);
    println!(
        "peak held at once: {} (limit 4); successful leases {}, failed {}, queued now {}, available now {}",
        peak.load(Ordering::SeqCst),
        stats.total_successful_leases,
        stats.total_failed_leases,
        stats.current_queued_count,
        stats.current_available_permits
    );
    println!("idle for: {:?}; took {:?}", limiter.idle_duration().unwrap_or(Duration::ZERO), started.elapsed());

    // A queue-full rejection carries its reason phrase.
    let full = ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() }).unwrap();
    let _one = full.attempt_acquire(1).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let rejected = runtime.block_on(full.acquire(1)).unwrap();
    println!("a queue-full request: acquired={}, reason={:?}\n", rejected.is_acquired(), rejected.reason_phrase());
}
