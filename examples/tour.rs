//! A tour of tollgate: puts each limiter under load from plain threads and async tasks and prints
//! what was admitted, queued and rejected.
//!
//! Run: `cargo run --release --example tour`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tollgate::{
    ChainedRateLimiter, ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter,
    FixedWindowRateLimiterOptions, PartitionedRateLimiter, QueueProcessingOrder, RateLimitPartition, RateLimiter,
    SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

fn main() {
    println!("tollgate tour\n");
    concurrency_under_load();
    token_bucket_under_load();
    fixed_window_under_load();
    sliding_window_under_load();
    chained_all_or_nothing();
    partitioned_per_client();
}

fn chained_all_or_nothing() {
    println!("== ChainedRateLimiter: a token bucket (100 tokens, +50 per 10 ms) then 4 in flight ==");
    let bucket = Arc::new(
        TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
            token_limit: 100,
            tokens_per_period: 50,
            replenishment_period: Duration::from_millis(10),
            ..Default::default()
        })
        .expect("valid options"),
    );
    let in_flight =
        Arc::new(ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 4, ..Default::default() }).unwrap());
    let chain =
        Arc::new(ChainedRateLimiter::new(vec![bucket.clone(), in_flight.clone()]).expect("one limiter or more"));
    let started = Instant::now();
    let run_for = Duration::from_millis(100);
    let (admitted, refused) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while started.elapsed() < run_for {
                    let lease = chain.attempt_acquire(1).expect("not disposed");
                    if lease.is_acquired() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_micros(200)); // work while holding a slot
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }
            });
        }
    });
    let admitted = admitted.into_inner();
    let bucket_stats = bucket.statistics().unwrap();
    println!(
        "admitted {admitted}, refused {}; the bucket counted {} successes: every token taken by a request that \
         the concurrency limiter then refused was given back",
        refused.into_inner(),
        bucket_stats.total_successful_leases
    );
    assert_eq!(bucket_stats.total_successful_leases, admitted, "all-or-nothing");
    println!();
}

fn partitioned_per_client() {
    println!("== PartitionedRateLimiter: a token bucket per client (5 tokens, +5 per 20 ms); \"admin\" unlimited ==");
    let limiter = PartitionedRateLimiter::new(|client: &String| {
        if client == "admin" {
            RateLimitPartition::get_no_limiter(client.clone())
        } else {
            RateLimitPartition::get_token_bucket_limiter(client.clone(), |_| TokenBucketRateLimiterOptions {
                token_limit: 5,
                tokens_per_period: 5,
                replenishment_period: Duration::from_millis(20),
                ..Default::default()
            })
        }
    });
    let clients = ["alice", "bob", "carol", "admin"].map(String::from);
    let started = Instant::now();
    let run_for = Duration::from_millis(100);
    let mut table = Vec::new();
    for client in &clients {
        let (mut admitted, mut refused, mut retry) = (0u64, 0u64, Duration::ZERO);
        while started.elapsed() < run_for * (table.len() as u32 + 1) / clients.len() as u32 {
            let lease = limiter.attempt_acquire(client, 1).expect("not disposed");
            if lease.is_acquired() {
                admitted += 1;
            } else {
                refused += 1;
                retry = lease.retry_after().unwrap_or_default();
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        table.push((client, admitted, refused, retry));
    }
    println!("{:<8} {:>9} {:>8} {:>16}", "client", "admitted", "refused", "last retry-after");
    for (client, admitted, refused, retry) in table {
        println!("{client:<8} {admitted:>9} {refused:>8} {:>16}", format!("{retry:?}"));
    }
    println!("{} partitions live", limiter.partition_count());
    println!();
}

fn sliding_window_under_load() {
    println!("== SlidingWindowRateLimiter: 40 permits per 40 ms, in 4 segments of 10 ms, queue of 10 ==");
    let window = Arc::new(
        SlidingWindowRateLimiter::new(SlidingWindowRateLimiterOptions {
            permit_limit: 40,
            window: Duration::from_millis(40),
            segments_per_window: 4,
            queue_limit: 10,
            ..Default::default()
        })
        .expect("valid options"),
    );
    let started = Instant::now();
    let run_for = Duration::from_millis(200);
    // 4 async tasks wait in the queue; each segment boundary frees what was taken a window ago.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let admitted = runtime.block_on(async {
        let joins: Vec<_> = (0..4)
            .map(|_| {
                let window = window.clone();
                tokio::spawn(async move {
                    let mut admitted = 0u64;
                    while started.elapsed() < run_for {
                        if window.acquire(2).await.expect("not disposed").is_acquired() {
                            admitted += 2;
                        } else {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                    admitted
                })
            })
            .collect();
        let mut total = 0;
        for j in joins {
            total += j.await.unwrap();
        }
        total
    });
    let elapsed = started.elapsed();
    let stats = window.statistics().unwrap();
    // Any 40 ms window holds at most 40: over the run, at most 40 per started window.
    let ceiling = 40 * (elapsed.as_millis() as u64 / 40 + 1);
    println!(
        "admitted {admitted} permits in {elapsed:?} (at most {ceiling}); successful leases {}, failed {}",
        stats.total_successful_leases, stats.total_failed_leases
    );
    assert!(admitted <= ceiling, "over-admitted");
    println!();
}

fn fixed_window_under_load() {
    println!("== FixedWindowRateLimiter: 50 permits per 20 ms window, no queue ==");
    let window = Arc::new(
        FixedWindowRateLimiter::new(FixedWindowRateLimiterOptions {
            permit_limit: 50,
            window: Duration::from_millis(20),
            ..Default::default()
        })
        .expect("valid options"),
    );
    let started = Instant::now();
    let run_for = Duration::from_millis(200);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let window = window.clone();
            std::thread::spawn(move || {
                let (mut admitted, mut rejected, mut waited) = (0u64, 0u64, Duration::ZERO);
                while started.elapsed() < run_for {
                    let lease = window.attempt_acquire(1).expect("1 <= limit");
                    if lease.is_acquired() {
                        admitted += 1;
                    } else {
                        rejected += 1;
                        // Sleep exactly until the next window starts, as the lease says.
                        let retry = lease.retry_after().unwrap_or_default();
                        waited += retry;
                        std::thread::sleep(retry);
                    }
                }
                (admitted, rejected, waited)
            })
        })
        .collect();
    let (mut admitted, mut rejected, mut waited) = (0, 0, Duration::ZERO);
    for t in threads {
        let (a, r, w) = t.join().unwrap();
        admitted += a;
        rejected += r;
        waited += w;
    }
    let elapsed = started.elapsed();
    let windows = elapsed.as_millis() as u64 / 20 + 1;
    println!(
        "admitted {admitted} in {elapsed:?} ({windows} windows started, at most {} allowed); {rejected} refusals, \
         each followed by a sleep of its retry-after ({waited:?} in total)",
        windows * 50
    );
    assert!(admitted <= windows * 50, "over-admitted");
    println!();
}

fn token_bucket_under_load() {
    println!("== TokenBucketRateLimiter: 20 tokens, +10 every 10 ms (1,000/s), queue of 20 permits ==");
    let bucket = Arc::new(
        TokenBucketRateLimiter::new(TokenBucketRateLimiterOptions {
            token_limit: 20,
            tokens_per_period: 10,
            replenishment_period: Duration::from_millis(10),
            queue_limit: 20,
            ..Default::default()
        })
        .expect("valid options"),
    );
    let started = Instant::now();
    let run_for = Duration::from_millis(300);

    // 2 threads hammer `attempt_acquire` and remember the retry-after hints they were given.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let bucket = bucket.clone();
            std::thread::spawn(move || {
                let (mut admitted, mut rejected, mut max_retry) = (0u64, 0u64, Duration::ZERO);
                while started.elapsed() < run_for {
                    let lease = bucket.attempt_acquire(1).expect("1 <= limit");
                    if lease.is_acquired() {
                        admitted += 1;
                    } else {
                        rejected += 1;
                        max_retry = max_retry.max(lease.retry_after().unwrap_or_default());
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                (admitted, rejected, max_retry)
            })
        })
        .collect();

    // 8 async tasks wait in the queue; the ticks alone serve them (no background timer task).
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (task_admitted, task_rejected) = runtime.block_on(async {
        let joins: Vec<_> = (0..8)
            .map(|_| {
                let bucket = bucket.clone();
                tokio::spawn(async move {
                    let (mut admitted, mut rejected) = (0u64, 0u64);
                    while started.elapsed() < run_for {
                        if bucket.acquire(2).await.expect("not disposed").is_acquired() {
                            admitted += 2;
                        } else {
                            rejected += 2; // queue full: the lease says when to retry
                            tokio::time::sleep(Duration::from_millis(5)).await;
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
    let (mut thread_admitted, mut thread_rejected, mut max_retry) = (0, 0, Duration::ZERO);
    for t in threads {
        let (a, r, m) = t.join().unwrap();
        thread_admitted += a;
        thread_rejected += r;
        max_retry = max_retry.max(m);
    }
    let elapsed = started.elapsed();
    let stats = bucket.statistics().unwrap();
    println!("{:<22}{:>10}{:>10}", "caller (tokens)", "admitted", "rejected");
    println!("{:<22}{:>10}{:>10}", "threads (2)", thread_admitted, thread_rejected);
    println!("{:<22}{:>10}{:>10}", "async tasks (8)", task_admitted, task_rejected);
    let admitted = thread_admitted + task_admitted;
    let ceiling = 20 + 10 * (elapsed.as_millis() as u64 / 10);
    println!(
        "admitted {admitted} tokens in {elapsed:?} (the bucket allows at most {ceiling}: 20 + 10 per elapsed 10 ms); \
         largest retry-after hint {max_retry:?}; queued now {}",
        stats.current_queued_count
    );
    assert!(admitted <= ceiling, "over-admitted");
    println!("(oldest-first order: while requests wait in the queue, attempts are refused so they cannot jump it)\n");
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
