//! The tower middleware (`tollgate::tower`, feature `tower`) behind a real axum/hyper server on
//! 127.0.0.1:0, driven by hyper-util's client over TCP; and directly as a `tower::Service`.
//!
//! No test sleeps to wait for state: time is a `ManualClock`, handlers block on semaphores the
//! test releases, and conditions on the limiter's statistics are awaited by yielding (with a
//! timeout only as a failure guard).
#![cfg(feature = "tower")]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::routing::get;
use common::counting::{self, Counting};
use http::StatusCode;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tollgate::tower::{HttpResponse, Keyed, RateLimitError, RateLimitLayer};
use tollgate::{
    AcquireError, ConcurrencyLimiter, ConcurrencyLimiterOptions, ManualClock, PartitionedRateLimiter,
    PartitionedRateLimiterOptions, RateLimitPartition, RateLimiter, TokenBucketRateLimiter,
    TokenBucketRateLimiterOptions,
};
use tower::{Layer, Service, ServiceExt, service_fn};

/// The failure guard for anything awaited.
const GUARD: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Harness.

/// An axum server on 127.0.0.1:0, shut down gracefully on drop.
struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn serve(app: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let (shutdown, stop) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await
            .expect("server");
    });
    Server { addr, shutdown: Some(shutdown) }
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// What a test looks at in a response.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
}

impl Reply {
    fn ok() -> Self {
        Self { status: StatusCode::OK, retry_after: None }
    }

    fn too_many(retry_after: Option<&str>) -> Self {
        Self { status: StatusCode::TOO_MANY_REQUESTS, retry_after: retry_after.map(str::to_owned) }
    }
}

/// GET `/` on `server`, with an `x-api-key` header if `api_key` is given.
async fn get_root(client: &HttpClient, server: &Server, api_key: Option<&str>) -> Reply {
    let mut request = http::Request::get(format!("http://{}/", server.addr));
    if let Some(key) = api_key {
        request = request.header("x-api-key", key);
    }
    let request = request.body(Empty::new()).expect("request");
    let response = tokio::time::timeout(GUARD, client.request(request))
        .await
        .expect("the response came in time")
        .expect("the request went through");
    Reply {
        status: response.status(),
        retry_after: response.headers().get(http::header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned()),
    }
}

/// Waits (yielding, not sleeping) until `condition` holds; panics after `GUARD`.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let waiting = async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(GUARD, waiting).await.unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

fn queued(limiter: &dyn RateLimiter) -> u64 {
    limiter.statistics().expect("statistics").current_queued_count
}

fn available(limiter: &dyn RateLimiter) -> u64 {
    limiter.statistics().expect("statistics").current_available_permits
}

/// Polls `future` once (no waker): `Some(output)` if it completed.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    match Pin::new(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn token_bucket(
    token_limit: u32,
    period: Duration,
    queue_limit: u32,
    clock: &ManualClock,
) -> TokenBucketRateLimiter<ManualClock> {
    TokenBucketRateLimiter::with_clock(
        TokenBucketRateLimiterOptions {
            token_limit,
            tokens_per_period: 1,
            replenishment_period: period,
            queue_limit,
            ..Default::default()
        },
        clock.clone(),
    )
    .expect("valid options")
}

fn hello_app() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

// ---------------------------------------------------------------------------------------------
// (a) A token bucket without a queue: 429 with the exact Retry-After, rounded up.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_bucket_without_queue_answers_429_with_retry_after_rounded_up() {
    let clock = ManualClock::new();
    let bucket = Arc::new(token_bucket(2, Duration::from_millis(1500), 0, &clock));
    let server = serve(hello_app().layer(RateLimitLayer::new(bucket.clone()))).await;
    let client = client();

    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    // The next token comes at 1.5 s: "2" seconds (rounded up, never early).
    assert_eq!(get_root(&client, &server, None).await, Reply::too_many(Some("2")));
    clock.advance(Duration::from_millis(700));
    // 0.8 s left: "1".
    assert_eq!(get_root(&client, &server, None).await, Reply::too_many(Some("1")));
    clock.advance(Duration::from_millis(800));
    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    assert_eq!(get_root(&client, &server, None).await, Reply::too_many(Some("2")));

    let stats = bucket.statistics().expect("statistics");
    assert_eq!((stats.total_successful_leases, stats.total_failed_leases), (3, 3));
}

/// A token bucket with a queue: the request waits (no response) until its token comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_bucket_with_queue_holds_the_request_until_the_next_token() {
    let clock = ManualClock::new();
    let bucket = Arc::new(token_bucket(1, Duration::from_secs(1), 1, &clock));
    let server = serve(hello_app().layer(RateLimitLayer::new(bucket.clone()))).await;
    let client = client();

    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    let waiting = {
        let client = client.clone();
        let addr = server.addr;
        tokio::spawn(async move {
            let request = http::Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap();
            client.request(request).await.expect("response").status()
        })
    };
    wait_until("the second request is queued", || queued(&*bucket) == 1).await;
    // The queue (1 permit) is full: a third request is refused at once, its hint counting the
    // queued request first (its token comes at 1 s, the next one at 2 s).
    assert_eq!(get_root(&client, &server, None).await, Reply::too_many(Some("2")));
    assert!(!waiting.is_finished());
    clock.advance(Duration::from_secs(1));
    let status = tokio::time::timeout(GUARD, waiting).await.expect("granted in time").expect("task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queued(&*bucket), 0);
}

// ---------------------------------------------------------------------------------------------
// (b) A concurrency limiter: at most N in flight, the next one waits and completes after a release.

/// Handlers that block until the test releases them, counting those in flight.
struct Gate {
    entered: mpsc::UnboundedSender<()>,
    release: Semaphore,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Gate {
    async fn handle(&self) -> &'static str {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.entered.send(()).expect("the test listens");
        self.release.acquire().await.expect("open").forget();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        "done"
    }
}

fn gated_app(gate: &Arc<Gate>) -> Router {
    let gate = gate.clone();
    Router::new().route(
        "/",
        get(move || {
            let gate = gate.clone();
            async move { gate.handle().await }
        }),
    )
}

fn gate() -> (Arc<Gate>, mpsc::UnboundedReceiver<()>) {
    let (entered, entries) = mpsc::unbounded_channel();
    let gate = Gate { entered, release: Semaphore::new(0), in_flight: AtomicUsize::new(0), peak: AtomicUsize::new(0) };
    (Arc::new(gate), entries)
}

async fn next_entry(entries: &mut mpsc::UnboundedReceiver<()>) {
    tokio::time::timeout(GUARD, entries.recv()).await.expect("a handler entered in time").expect("open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limiter_bounds_requests_in_flight_and_queues_the_next() {
    const N: usize = 2;
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions {
            permit_limit: N as u32,
            queue_limit: 1,
            ..Default::default()
        })
        .expect("valid options"),
    );
    let (gate, mut entries) = gate();
    let server = serve(gated_app(&gate).layer(RateLimitLayer::new(limiter.clone()))).await;
    let client = client();

    let requests: Vec<_> = (0..N + 1)
        .map(|_| {
            let client = client.clone();
            let addr = server.addr;
            tokio::spawn(async move {
                let request = http::Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap();
                client.request(request).await.expect("response").status()
            })
        })
        .collect();
    for _ in 0..N {
        next_entry(&mut entries).await;
    }
    wait_until("the (N+1)th request is queued", || queued(&*limiter) == 1).await;
    assert_eq!(gate.in_flight.load(Ordering::SeqCst), N);
    assert!(entries.try_recv().is_err(), "the queued request has not reached its handler");

    // The queue is full: one more is refused at once, without Retry-After (a concurrency
    // limiter cannot tell when a permit comes back).
    assert_eq!(get_root(&client, &server, None).await, Reply::too_many(None));

    // One handler finishes: its permit goes to the queued request.
    gate.release.add_permits(1);
    next_entry(&mut entries).await;
    assert_eq!(queued(&*limiter), 0);
    gate.release.add_permits(N);
    for request in requests {
        let status = tokio::time::timeout(GUARD, request).await.expect("done in time").expect("task");
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(gate.peak.load(Ordering::SeqCst), N, "never more than N in flight");
    // Every lease was dropped with its response.
    wait_until("all permits are back", || available(&*limiter) == N as u64).await;
    let stats = limiter.statistics().expect("statistics");
    assert_eq!((stats.total_successful_leases, stats.total_failed_leases), (N as u64 + 1, 1));
}

// ---------------------------------------------------------------------------------------------
// (c) One partition per client (the `x-api-key` header).

fn api_key(request: &Request) -> String {
    request.headers().get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("anonymous").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_keyed_by_header_are_independent() {
    let clock = ManualClock::new();
    let per_key = Arc::new(
        PartitionedRateLimiter::with_clock(
            |key: &String| {
                RateLimitPartition::get_token_bucket_limiter(key.clone(), |_| TokenBucketRateLimiterOptions {
                    token_limit: 2,
                    tokens_per_period: 1,
                    replenishment_period: Duration::from_secs(3),
                    queue_limit: 0,
                    ..Default::default()
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    );
    let layer = RateLimitLayer::new(Keyed::new(per_key.clone(), api_key));
    let server = serve(hello_app().layer(layer)).await;
    let client = client();

    // The greedy client spends its bucket...
    assert_eq!(get_root(&client, &server, Some("greedy")).await, Reply::ok());
    assert_eq!(get_root(&client, &server, Some("greedy")).await, Reply::ok());
    assert_eq!(get_root(&client, &server, Some("greedy")).await, Reply::too_many(Some("3")));
    // ...the others still have theirs.
    assert_eq!(get_root(&client, &server, Some("polite")).await, Reply::ok());
    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    assert_eq!(get_root(&client, &server, Some("polite")).await, Reply::ok());
    assert_eq!(get_root(&client, &server, Some("polite")).await, Reply::too_many(Some("3")));
    assert_eq!(get_root(&client, &server, Some("greedy")).await, Reply::too_many(Some("3")));
    assert_eq!(get_root(&client, &server, None).await, Reply::ok());

    assert_eq!(per_key.partition_count(), 3);
    let greedy = per_key.statistics(&"greedy".to_owned()).expect("statistics");
    assert_eq!((greedy.total_successful_leases, greedy.total_failed_leases), (2, 2));
    let anonymous = per_key.statistics(&"anonymous".to_owned()).expect("statistics");
    assert_eq!((anonymous.total_successful_leases, anonymous.total_failed_leases), (2, 0));
}

/// A per-client rate chained with a global in-flight limit: a client within its rate still waits
/// for the global limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_partitions_apply_the_per_client_rate_and_the_global_limit() {
    let clock = ManualClock::new();
    let per_key = Arc::new(
        PartitionedRateLimiter::with_clock(
            |key: &String| {
                RateLimitPartition::get_token_bucket_limiter(key.clone(), |_| TokenBucketRateLimiterOptions {
                    token_limit: 1,
                    tokens_per_period: 1,
                    replenishment_period: Duration::from_secs(1),
                    ..Default::default()
                })
            },
            PartitionedRateLimiterOptions::default(),
            clock.clone(),
        )
        .expect("valid options"),
    );
    let global = Arc::new(PartitionedRateLimiter::new(|_: &String| {
        RateLimitPartition::get_concurrency_limiter((), |_| ConcurrencyLimiterOptions {
            permit_limit: 1,
            queue_limit: 0,
            ..Default::default()
        })
    }));
    let chain = Arc::new(PartitionedRateLimiter::chained(vec![per_key, global.clone()]).expect("a chain"));
    let (gate, mut entries) = gate();
    let server = serve(gated_app(&gate).layer(RateLimitLayer::new(Keyed::new(chain, api_key)))).await;
    let client = client();

    let first = {
        let (client, addr) = (client.clone(), server.addr);
        tokio::spawn(async move {
            let request =
                http::Request::get(format!("http://{addr}/")).header("x-api-key", "a").body(Empty::new()).unwrap();
            client.request(request).await.expect("response").status()
        })
    };
    next_entry(&mut entries).await;
    // Client b has its token, but the global slot is taken: refused, and b's token is given back
    // (all-or-nothing), so b succeeds once the slot is free.
    assert_eq!(get_root(&client, &server, Some("b")).await, Reply::too_many(None));
    gate.release.add_permits(1);
    assert_eq!(tokio::time::timeout(GUARD, first).await.expect("in time").expect("task"), StatusCode::OK);
    gate.release.add_permits(1);
    assert_eq!(get_root(&client, &server, Some("b")).await, Reply::ok());
    assert_eq!(get_root(&client, &server, Some("b")).await, Reply::too_many(Some("1")));
}

// ---------------------------------------------------------------------------------------------
// (d) A request withdrawn while queued leaves no trace.

#[tokio::test]
async fn dropping_a_queued_response_future_withdraws_the_request() {
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 4, ..Default::default() })
            .expect("valid options"),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let counting = {
        let calls = calls.clone();
        service_fn(move |_: http::Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(http::Response::new(String::new())) }
        })
    };
    let mut service = RateLimitLayer::new(limiter.clone()).layer(counting);

    let held = limiter.attempt_acquire(1).expect("acquire");
    assert!(held.is_acquired());
    let mut queued_future = Box::pin(service.ready().await.expect("ready").call(http::Request::new(())));
    assert!(poll_once(&mut queued_future).is_none(), "waits for the held permit");
    assert_eq!(queued(&*limiter), 1);
    drop(queued_future);
    let stats = limiter.statistics().expect("statistics");
    assert_eq!(stats.current_queued_count, 0);
    assert_eq!(stats.current_available_permits, 0, "the held permit is still held, nothing else");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the inner service was never called");

    // Withdrawn after its grant (the permit was handed to it, but it was not polled again): the
    // permit goes back too.
    let mut granted_future = Box::pin(service.ready().await.expect("ready").call(http::Request::new(())));
    assert!(poll_once(&mut granted_future).is_none());
    drop(held); // the permit goes to the queued request
    drop(granted_future);
    let stats = limiter.statistics().expect("statistics");
    assert_eq!((stats.current_queued_count, stats.current_available_permits), (0, 1));

    // The limiter is intact: the next request goes through.
    let response = service.oneshot(http::Request::new(())).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(available(&*limiter), 1);
}

/// The same over HTTP: a client that closes its connection while its request is queued. hyper
/// drops the request's service future when it sees the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnecting_while_queued_leaves_nothing_queued() {
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 4, ..Default::default() })
            .expect("valid options"),
    );
    let (gate, mut entries) = gate();
    let server = serve(gated_app(&gate).layer(RateLimitLayer::new(limiter.clone()))).await;
    let client = client();

    let first = {
        let (client, addr) = (client.clone(), server.addr);
        tokio::spawn(async move {
            let request = http::Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap();
            client.request(request).await.expect("response").status()
        })
    };
    next_entry(&mut entries).await;

    let impatient = TcpStream::connect(server.addr).await.expect("connect");
    let request = b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";
    impatient.writable().await.expect("writable");
    assert_eq!(impatient.try_write(request).expect("write"), request.len(), "a fresh socket takes the whole request");
    wait_until("the impatient request is queued", || queued(&*limiter) == 1).await;
    drop(impatient);
    wait_until("the impatient request is withdrawn", || queued(&*limiter) == 0).await;
    assert_eq!(available(&*limiter), 0, "the first request still holds the permit");

    gate.release.add_permits(1);
    assert_eq!(tokio::time::timeout(GUARD, first).await.expect("in time").expect("task"), StatusCode::OK);
    wait_until("the permit is back", || available(&*limiter) == 1).await;
    assert!(entries.try_recv().is_err(), "the withdrawn request never reached its handler");
    let stats = limiter.statistics().expect("statistics");
    assert_eq!((stats.total_successful_leases, stats.total_failed_leases), (1, 0));
}

// ---------------------------------------------------------------------------------------------
// (e) The typed-error path, on a non-HTTP service.

#[derive(Debug, PartialEq, Eq)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

#[tokio::test]
async fn typed_errors_for_refusals_acquire_errors_and_inner_errors() {
    let clock = ManualClock::new();
    let bucket = Arc::new(token_bucket(2, Duration::from_millis(250), 0, &clock));
    let double = service_fn(|n: u32| async move { if n == 13 { Err(Boom) } else { Ok(2 * n) } });
    let service = RateLimitLayer::new(bucket.clone())
        .permits(|n: &u32| if *n == 99 { 3 } else { 1 })
        .typed_errors()
        .layer(double);

    assert_eq!(service.clone().oneshot(4).await, Ok(8));
    assert_eq!(service.clone().oneshot(13).await, Err(RateLimitError::Inner(Boom)));
    let refused = service.clone().oneshot(5).await.expect_err("no token left");
    assert_eq!(
        refused,
        RateLimitError::Rejected { retry_after: Some(Duration::from_millis(250)), reason_phrase: None }
    );
    assert!(refused.is_rejected());
    assert_eq!(refused.retry_after(), Some(Duration::from_millis(250)));
    assert_eq!(refused.to_string(), "rate limited; retry after 250ms");

    // 3 permits from a bucket of 2: an acquisition error, whatever the tokens.
    let too_big = service.clone().oneshot(99).await.expect_err("over the limit");
    assert_eq!(too_big, RateLimitError::Acquire(AcquireError::PermitLimitExceeded { requested: 3, limit: 2 }));
    assert!(!too_big.is_rejected());

    clock.advance(Duration::from_millis(250));
    assert_eq!(service.clone().oneshot(5).await, Ok(10));

    // `std::error::Error`, usable as a boxed error.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(RateLimitError::Inner(Boom));
    assert_eq!(boxed.to_string(), "boom");
    bucket.dispose();
    let disposed = service.oneshot(1).await.expect_err("disposed");
    assert_eq!(disposed, RateLimitError::Acquire(AcquireError::Disposed));
    assert_eq!(disposed.to_string(), "rate limiter error: the rate limiter has been disposed");
}

/// A concurrency limiter's refusal carries its reason phrase in the typed error.
#[tokio::test]
async fn typed_refusal_of_a_full_queue_carries_the_reason_phrase() {
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 0, ..Default::default() })
            .expect("valid options"),
    );
    let _held = limiter.attempt_acquire(1).expect("acquire");
    let service = RateLimitLayer::new(limiter.clone() as Arc<dyn RateLimiter>)
        .typed_errors()
        .layer(service_fn(|()| async { Ok::<_, Infallible>(()) }));
    match service.oneshot(()).await {
        Err(RateLimitError::Rejected { retry_after: None, reason_phrase: Some(reason) }) => assert!(!reason.is_empty()),
        other => panic!("expected a refusal with a reason, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// More: acquisition errors over HTTP, `&'static` limiters, the lease's lifetime.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_errors_answer_503_without_retry_after() {
    let clock = ManualClock::new();
    let bucket = Arc::new(token_bucket(2, Duration::from_secs(1), 0, &clock));
    let costly = RateLimitLayer::new(bucket.clone())
        .permits(|request: &Request| if request.headers().contains_key("x-costly") { 5 } else { 1 });
    let server = serve(hello_app().layer(costly)).await;
    let client = client();

    let request = http::Request::get(format!("http://{}/", server.addr)).header("x-costly", "1").body(Empty::new());
    let response = client.request(request.unwrap()).await.expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(http::header::RETRY_AFTER).is_none());

    assert_eq!(get_root(&client, &server, None).await, Reply::ok());
    bucket.dispose();
    let after = get_root(&client, &server, None).await;
    assert_eq!(after, Reply { status: StatusCode::SERVICE_UNAVAILABLE, retry_after: None });
}

/// `HttpResponse` directly: the 503 carries the error in its extensions.
#[tokio::test]
async fn the_503_response_carries_the_acquire_error() {
    let limiter = Arc::new(ConcurrencyLimiter::new(one_at_a_time()).unwrap());
    let service = RateLimitLayer::new(limiter.clone())
        .permits(2)
        .rejection(HttpResponse)
        .layer(service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(Body::empty())) }));
    let response = service.oneshot(http::Request::new(())).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.extensions().get::<AcquireError>(),
        Some(&AcquireError::PermitLimitExceeded { requested: 2, limit: 1 })
    );
}

/// One permit, no queue.
fn one_at_a_time() -> ConcurrencyLimiterOptions {
    ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 0, ..Default::default() }
}

#[tokio::test]
async fn static_limiters_and_static_partitions_work_too() {
    let clock = ManualClock::new();
    let bucket: &'static TokenBucketRateLimiter<ManualClock> =
        Box::leak(Box::new(token_bucket(1, Duration::from_secs(1), 0, &clock)));
    let ok = || service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) });
    let service = RateLimitLayer::new(bucket).layer(ok());
    assert_eq!(service.clone().oneshot(http::Request::new(())).await.unwrap().status(), StatusCode::OK);
    let refused = service.oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[http::header::RETRY_AFTER], "1");

    let partitions: &'static PartitionedRateLimiter<u8> = Box::leak(Box::new(PartitionedRateLimiter::new(|k: &u8| {
        RateLimitPartition::get_concurrency_limiter(*k, |_| one_at_a_time())
    })));
    let keyed = RateLimitLayer::new(Keyed::new(partitions, |r: &http::Request<()>| r.uri().path().len() as u8));
    let service = keyed.layer(ok());
    assert_eq!(service.oneshot(http::Request::new(())).await.unwrap().status(), StatusCode::OK);
    let stats = partitions.statistics(&1).expect("the partition of \"/\"");
    assert_eq!((stats.total_successful_leases, stats.current_available_permits), (1, 1));
}

/// The lease is held while the inner response future runs and dropped when it completes.
#[tokio::test]
async fn the_lease_is_held_until_the_inner_response_is_ready() {
    let limiter = Arc::new(
        ConcurrencyLimiter::new(ConcurrencyLimiterOptions { permit_limit: 1, queue_limit: 1, ..Default::default() })
            .expect("valid options"),
    );
    let (release, released) = tokio::sync::watch::channel(false);
    let slow = service_fn(move |()| {
        let mut released = released.clone();
        async move {
            released.wait_for(|r| *r).await.expect("open");
            Ok::<_, Infallible>(())
        }
    });
    let mut service = RateLimitLayer::new(limiter.clone()).typed_errors().layer(slow);
    let mut first = Box::pin(service.ready().await.unwrap().call(()));
    assert!(poll_once(&mut first).is_none());
    assert_eq!(available(&*limiter), 0, "held by the running request");
    let mut second = Box::pin(service.ready().await.unwrap().call(()));
    assert!(poll_once(&mut second).is_none());
    assert_eq!(queued(&*limiter), 1);

    release.send(true).unwrap();
    assert_eq!(tokio::time::timeout(GUARD, first).await.expect("in time"), Ok(()));
    // The first lease went to the queued request.
    assert_eq!((queued(&*limiter), available(&*limiter)), (0, 0));
    assert_eq!(tokio::time::timeout(GUARD, second).await.expect("in time"), Ok(()));
    assert_eq!(available(&*limiter), 1);
}

// ---------------------------------------------------------------------------------------------
// Allocations on the path where the permits are available at once (as documented).

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by one admitted request through `service` (ready, called, polled once).
fn allocations_per_admitted_request<S>(service: &mut S) -> u64
where
    S: Service<u32, Response = u32>,
    S::Error: std::fmt::Debug,
{
    let before = counting::allocations();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut future = std::pin::pin!(service.call(7));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(14)) => {}
        other => panic!("expected Ready(Ok(14)), got {other:?}"),
    }
    counting::allocations() - before
}

#[test]
fn an_admitted_request_allocates_nothing_with_a_static_limiter_and_one_box_with_an_arc() {
    let clock = ManualClock::new();
    let double = service_fn(|n: u32| std::future::ready(Ok::<_, Infallible>(2 * n)));

    let bucket: &'static TokenBucketRateLimiter<ManualClock> =
        Box::leak(Box::new(token_bucket(100, Duration::from_secs(1), 0, &clock)));
    let mut by_ref = RateLimitLayer::new(bucket).typed_errors().layer(double);
    let in_flight: &'static ConcurrencyLimiter = Box::leak(Box::new(ConcurrencyLimiter::new(one_at_a_time()).unwrap()));
    let mut by_ref_concurrency = RateLimitLayer::new(in_flight).typed_errors().layer(double);
    let shared = Arc::new(token_bucket(100, Duration::from_secs(1), 0, &clock));
    let mut by_arc = RateLimitLayer::new(shared).typed_errors().layer(double);
    for _ in 0..3 {
        assert_eq!(allocations_per_admitted_request(&mut by_ref), 0);
        assert_eq!(allocations_per_admitted_request(&mut by_ref_concurrency), 0);
        assert_eq!(allocations_per_admitted_request(&mut by_arc), 1, "the boxed acquisition");
    }
    assert_eq!(available(in_flight), 1, "each lease was dropped with its response");
}
