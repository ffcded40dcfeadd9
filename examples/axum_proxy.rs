//! A rate-limited reverse proxy with per-client partitions (`tollgate::tower`).
//!
//! Run: `cargo run --release --example axum_proxy --features tower` (ends by itself after about
//! 2 seconds).
//!
//! It starts an upstream axum server and a proxy axum server on 127.0.0.1 (ports chosen by the OS).
//! The proxy forwards every request to the upstream with hyper-util's client, behind one
//! [`RateLimitLayer`] whose limiter is a chain of two partitioned limiters:
//!
//! 1. a token bucket **per client** (the `x-api-key` header, or the client IP without one):
//!    bursts of 10, then 5 requests per second, no queue (refused at once: 429 + `Retry-After`);
//! 2. a **global** concurrency limit of 4 requests in flight upstream, with 32 waiting at most.
//!
//! A chain is all-or-nothing: a request refused by the global limit gives its client's token
//! back. Then simulated clients drive the proxy for 2 seconds — one greedy (no pause, 4 requests
//! at a time), three polite ones (4 requests per second, honouring `Retry-After`), one without an
//! API key — and the example prints what each saw and shuts everything down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::tower::{Keyed, RateLimitLayer};
use tollgate::{
    ConcurrencyLimiterOptions, PartitionedRateLimiter, QueueProcessingOrder, RateLimitPartition,
    TokenBucketRateLimiterOptions,
};

const RUN_FOR: Duration = Duration::from_secs(2);
const UPSTREAM_LATENCY: Duration = Duration::from_millis(10);

type ProxyClient = Client<HttpConnector, Body>;

/// A running server and the means to stop it.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(app: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, stop, task })
    }

    async fn shut_down(self) -> Result<(), Box<dyn std::error::Error>> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task).await???;
        Ok(())
    }
}

/// The upstream: answers after a short delay.
fn upstream() -> Router {
    Router::new().route(
        "/{*path}",
        get(|uri: Uri| async move {
            tokio::time::sleep(UPSTREAM_LATENCY).await;
            format!("upstream served {uri}")
        }),
    )
}

/// The proxy's handler: forwards the request to `upstream` as it is (path and headers).
async fn forward(State((client, upstream)): State<(ProxyClient, SocketAddr)>, mut request: Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    *request.uri_mut() = format!("http://{upstream}{path}").parse().expect("a valid URI");
    match client.request(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => (StatusCode::BAD_GATEWAY, format!("upstream failed: {error}")).into_response(),
    }
}

/// The client key: the `x-api-key` header, or the peer's IP address.
fn client_key(request: &Request) -> String {
    if let Some(key) = request.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return format!("key:{key}");
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => format!("ip:{}", peer.ip()),
        None => "unknown".to_owned(),
    }
}

/// The chain (per client, then global), and the per-client limiter alone (for its statistics).
type Limiters = (PartitionedRateLimiter<String>, Arc<PartitionedRateLimiter<String>>);

fn limiters() -> Result<Limiters, Box<dyn std::error::Error>> {
    let per_client = Arc::new(PartitionedRateLimiter::new(|key: &String| {
        RateLimitPartition::get_token_bucket_limiter(key.clone(), |_| TokenBucketRateLimiterOptions {
            token_limit: 10,
            tokens_per_period: 5,
            replenishment_period: Duration::from_secs(1),
            queue_limit: 0,
            ..Default::default()
        })
    }));
    // One partition for every key: the global limit.
    let global = Arc::new(PartitionedRateLimiter::new(|_: &String| {
        RateLimitPartition::get_concurrency_limiter((), |_| ConcurrencyLimiterOptions {
            permit_limit: 4,
            queue_limit: 32,
            queue_processing_order: QueueProcessingOrder::OldestFirst,
        })
    }));
    Ok((PartitionedRateLimiter::chained(vec![per_client.clone(), global])?, per_client))
}

/// What one simulated client saw.
#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    too_many: u64,
    other: u64,
    retry_after_total: u64,
    retry_after_count: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.too_many += other.too_many;
        self.other += other.other;
        self.retry_after_total += other.retry_after_total;
        self.retry_after_count += other.retry_after_count;
    }
}

/// How a simulated client paces itself.
#[derive(Clone, Copy)]
enum Pace {
    /// Sends again at once, ignoring `Retry-After`.
    Greedy,
    /// Sends every `interval`; after a 429 waits for `Retry-After` first.
    Polite { interval: Duration },
}

/// One client loop: requests to `proxy` until `deadline`.
async fn run_client(proxy: SocketAddr, api_key: Option<&'static str>, pace: Pace, deadline: Instant) -> Tally {
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build_http();
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let mut request = axum::http::Request::get(format!("http://{proxy}/items/{}", tally.sent));
        if let Some(key) = api_key {
            request = request.header("x-api-key", key);
        }
        tally.sent += 1;
        let mut wait = match pace {
            Pace::Greedy => Duration::ZERO,
            Pace::Polite { interval } => interval,
        };
        match client.request(request.body(Body::empty()).expect("a valid request")).await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(axum::http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                // Read the body to the end, so the connection can be reused.
                let _ = response.into_body().collect().await;
                match status {
                    StatusCode::OK => tally.ok += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        tally.too_many += 1;
                        if let Some(seconds) = retry_after {
                            tally.retry_after_total += seconds;
                            tally.retry_after_count += 1;
                            if let Pace::Polite { .. } = pace {
                                wait = wait.max(Duration::from_secs(seconds));
                            }
                        }
                    }
                    _ => tally.other += 1,
                }
            }
            Err(_) => tally.other += 1,
        }
        let until = (Instant::now() + wait).min(deadline);
        tokio::time::sleep_until(until.into()).await;
    }
    tally
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = Server::start(upstream()).await?;

    let forwarder: ProxyClient = Client::builder(TokioExecutor::new()).build_http();
    let (chain, per_client) = limiters()?;
    let proxy_app = Router::new()
        .fallback(forward)
        .with_state((forwarder, upstream.addr))
        .layer(RateLimitLayer::new(Keyed::new(Arc::new(chain), client_key)));
    let proxy = Server::start(proxy_app).await?;
    println!("axum_proxy: upstream on {}, proxy on {}", upstream.addr, proxy.addr);
    println!(
        "  limits: per client 10 burst + 5/s (no queue); global 4 in flight (queue 32); {:?} upstream latency",
        UPSTREAM_LATENCY
    );

    let started = Instant::now();
    let deadline = started + RUN_FOR;
    let clients: Vec<(&str, Option<&'static str>, Pace, usize)> = vec![
        ("greedy (x-api-key)", Some("greedy"), Pace::Greedy, 4),
        ("polite-1 (x-api-key)", Some("polite-1"), Pace::Polite { interval: Duration::from_millis(250) }, 1),
        ("polite-2 (x-api-key)", Some("polite-2"), Pace::Polite { interval: Duration::from_millis(250) }, 1),
        ("polite-3 (x-api-key)", Some("polite-3"), Pace::Polite { interval: Duration::from_millis(250) }, 1),
        ("no key (by IP)", None, Pace::Polite { interval: Duration::from_millis(100) }, 1),
    ];
    let mut runs = Vec::new();
    for (name, key, pace, workers) in clients {
        let tasks: Vec<_> = (0..workers).map(|_| tokio::spawn(run_client(proxy.addr, key, pace, deadline))).collect();
        runs.push((name, tasks));
    }

    println!();
    println!("  {:<22} {:>6} {:>6} {:>6} {:>6} {:>18}", "client", "sent", "200", "429", "other", "mean Retry-After");
    for (name, tasks) in runs {
        let mut tally = Tally::default();
        for task in tasks {
            tally.add(task.await?);
        }
        let mean = if tally.retry_after_count == 0 {
            "-".to_owned()
        } else {
            format!("{:.2} s", tally.retry_after_total as f64 / tally.retry_after_count as f64)
        };
        println!(
            "  {:<22} {:>6} {:>6} {:>6} {:>6} {:>18}",
            name, tally.sent, tally.ok, tally.too_many, tally.other, mean
        );
    }
    println!();
    println!(
        "  {} client partitions; ran {:.1} s; shutting down",
        per_client.partition_count(),
        started.elapsed().as_secs_f64()
    );

    proxy.shut_down().await?;
    upstream.shut_down().await?;
    Ok(())
}
