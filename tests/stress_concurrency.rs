//! Stress: real threads (blocking callers) and async tasks share one small limiter. Never more than
//! `permit_limit` permits are held at once, every caller finishes (no lost wake-up), and at the end
//! every permit is back and nothing is queued. Iterations: `TOLLGATE_STRESS_ITERS` (default 2000).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tollgate::{ConcurrencyLimiter, ConcurrencyLimiterOptions, QueueProcessingOrder, RateLimiter};

fn iterations() -> u64 {
    std::env::var("TOLLGATE_STRESS_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

struct Holding {
    held: AtomicU64,
    peak: AtomicU64,
}

impl Holding {
    fn enter(&self, permits: u64, limit: u64) {
        let now = self.held.fetch_add(permits, Ordering::SeqCst) + permits;
        assert!(now <= limit, "{now} permits held at once, limit {limit}");
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn exit(&self, permits: u64) {
        self.held.fetch_sub(permits, Ordering::SeqCst);
    }
}

fn run(order: QueueProcessingOrder, threads: u64, tasks: u64) {
    let limit = 3u32;
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: limit,
            queue_limit: 1_000,
            queue_processing_order: order,
        })
        .unwrap(),
    );
    let holding = Arc::new(Holding { held: AtomicU64::new(0), peak: AtomicU64::new(0) });
    let iters = iterations();
    let granted = Arc::new(AtomicU64::new(0));

    let mut handles = Vec::new();
    for t in 0..threads {
        let (limiter, holding, granted) = (limiter.clone(), holding.clone(), granted.clone());
        handles.push(std::thread::spawn(move || {
            for i in 0..iters {
                let permits = 1 + ((t + i) % 2) as u32;
                let lease = if i % 3 == 0 {
                    limiter.attempt_acquire(permits).unwrap()
                } else {
                    limiter.blocking_acquire(permits).unwrap()
                };
                if lease.is_acquired() {
                    holding.enter(u64::from(permits), u64::from(limit));
                    granted.fetch_add(1, Ordering::Relaxed);
                    std::hint::spin_loop();
                    holding.exit(u64::from(permits));
                }
            }
        }));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut joins = Vec::new();
        for t in 0..tasks {
            let (limiter, holding, granted) = (limiter.clone(), holding.clone(), granted.clone());
            joins.push(tokio::spawn(async move {
                for i in 0..iters {
                    let permits = 1 + ((t + i) % 3) as u32;
                    if i % 5 == 4 {
                        // Start a request and abandon it after one poll: cancellation churn.
                        let mut future = Box::pin(limiter.acquire(permits));
                        let _ = futures_poll(&mut future);
                        continue;
                    }
                    let lease = limiter.acquire(permits).await.unwrap();
                    if lease.is_acquired() {
                        holding.enter(u64::from(permits), u64::from(limit));
                        granted.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        holding.exit(u64::from(permits));
                    }
                }
            }));
        }
        for j in joins {
            j.await.unwrap();
        }
    });
    for h in handles {
        h.join().unwrap();
    }

    let stats = limiter.statistics().unwrap();
    assert_eq!(stats.current_available_permits, u64::from(limit), "permit leak");
    assert_eq!(stats.current_queued_count, 0, "queued count leak");
    assert!(holding.peak.load(Ordering::SeqCst) <= u64::from(limit));
    assert!(granted.load(Ordering::Relaxed) > 0);
    assert!(stats.total_successful_leases >= granted.load(Ordering::Relaxed));
}

fn futures_poll<F: std::future::Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

#[test]
fn oldest_first_threads_and_tasks_never_over_admit() {
    run(QueueProcessingOrder::OldestFirst, 4, 4);
}

#[test]
fn newest_first_threads_and_tasks_never_over_admit() {
    run(QueueProcessingOrder::NewestFirst, 2, 6);
}

#[test]
fn enqueue_cancel_churn_keeps_memory_bounded() {
    // 1,000,000 enqueue/cancel cycles at the default setting's scale factor; the queue must not grow:
    // statistics return to zero and a final acquire is served at once.
    let limiter =
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 10, ..Default::default() })
            .unwrap();
    let held = limiter.attempt_acquire(1).unwrap();
    let cycles = iterations() * 500;
    for _ in 0..cycles {
        let mut future = Box::pin(limiter.acquire(1));
        assert!(futures_poll(&mut future).is_pending());
    }
    assert_eq!(limiter.statistics().unwrap().current_queued_count, 0);
    drop(held);
    assert!(limiter.attempt_acquire(1).unwrap().is_acquired());
}
