//! End-to-end load harness: whole flows against a real gateway, measured against the
//! store's own ceiling on the same Redis.
//!
//! A flow is what a backend and its user do: start a verification, wait until the message
//! reaches the provider (here a local webhook sink that records `to` -> code), then check
//! the number with that code. Closed-loop workers (`--concurrency`) run flows until
//! `--duration` seconds or `--count` flows, whichever comes first; `--rate` paces them
//! instead (open loop, for latency at a given load).
//!
//! ```text
//! cargo bench --bench load -- [--mode flow|start|check|ceiling|half-peak|memory|layouts]
//!     [--store memory|redis|cluster] [--transport http|grpc] [--limits on|off]
//!     [--concurrency N]
//!     [--duration S] [--count N] [--rate R] [--rounds N] [--warmup S]
//!     [--target URL [--grpc-target URL] --sink-listen ADDR]
//! ```
//!
//! - `flow` (default): start -> message at the sink -> check, per flow;
//! - `start`: starts only (delivery still runs in the background);
//! - `check`: pre-creates verifications (unmeasured, codes taken from the sink), then
//!   checks them by number;
//! - `ceiling`: alternates the Redis scripts one flow performs (`Store::admit_start` +
//!   `Store::admit_check` with the same admissions the service builds, issued straight
//!   through `otpgw::backend::build`, same Lua scripts, same client, same concurrency, same
//!   Redis) with full gateway flows, `--rounds` times, and reports gateway / ceiling;
//! - `memory`: Redis bytes per pending verification (`used_memory` before and after
//!   creating `--pending` verifications through the store, queued and then delivered),
//!   plus the same through the gateway for `--gateway-pending` flows stopped before the
//!   check;
//! - `half-peak`: full flows closed-loop (the peak), then open-loop at half that rate
//!   with four times the workers, for latency at half of peak from one run;
//! - `layouts`: the same bytes per pending verification for the v1 key layout and for
//!   candidate smaller ones, written by `benches/layouts.lua` (one Redis node).
//!
//! The harness starts its own `redis-server` (or 3-master cluster) on free loopback ports
//! (the same helper the tests use), its own gateway in-process on port 0 (unless
//! `--target`), and talks to nothing but 127.0.0.1. Each number is used by one flow only,
//! and the tenant's shared limits are raised out of reach (`--limits on`, the default:
//! every limit is still decided and charged, the pumping guard still counts) or turned
//! off (`--limits off`), so limits cost what they cost but never refuse the load.

#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod redis_support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use clap::{Parser, ValueEnum};
use otpgw::api::grpc::pb;
use otpgw::api::grpc::pb::verifications_client::VerificationsClient;
use otpgw::config::{Config, Secret, StoreKind, DEMO_API_KEY};
use otpgw::crypto::{random_bytes, Keys, ServerSecret};
use otpgw::domain::{
    now_millis, Channel, CodeLength, Delivery, DeliveryStatus, PhoneNumber, Status, Verification,
    VerificationId,
};
use otpgw::providers::{webhook, ProviderConfig};
use otpgw::queue::Queue;
use otpgw::store::{
    CheckOutcome, CheckSpec, CheckTarget, EnqueueSpec, NumberRef, StartOutcome, StartSpec, Store,
};
use redis_support::{RedisCluster, RedisServer};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The allocator of the `otpgw` binary (`src/main.rs`), so the in-process gateway runs
/// as the shipped one does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "load-harness-secret-load-harness-secret-0123456789";
const TENANT: &str = "demo";
/// How long a flow waits for its message at the sink before counting a delivery timeout.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Flow,
    Start,
    Check,
    Ceiling,
    Memory,
    Layouts,
    HalfPeak,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    Memory,
    Redis,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Limits {
    On,
    Off,
    /// Every limit on, the pumping guard off (to measure the guard's own cost).
    NoGuard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    Http,
    Grpc,
}

/// End-to-end load harness for otpgw.
#[derive(Debug, Clone, Parser)]
#[command(name = "load")]
struct Args {
    /// What to run.
    #[arg(long, value_enum, default_value = "flow")]
    mode: Mode,
    /// Store of the in-process gateway (and of the ceiling / memory runs).
    #[arg(long, value_enum, default_value = "memory")]
    store: StoreArg,
    /// API transport of the load generator.
    #[arg(long, value_enum, default_value = "http")]
    transport: Transport,
    /// Abuse control: `on` decides every limit and counts every send and approval for
    /// the pumping guard, as by default, with the shared quotas raised so the load is
    /// never refused; `off` turns all of it off; `no-guard` keeps the limits and turns
    /// only the pumping guard off.
    #[arg(long, value_enum, default_value = "on")]
    limits: Limits,
    /// Closed-loop workers (flows in flight at once).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per phase (default 5 when --count is not given either).
    #[arg(long)]
    duration: Option<f64>,
    /// Flows per phase (stops at whichever of --duration / --count comes first).
    #[arg(long)]
    count: Option<u64>,
    /// Open loop: start this many flows per second (workers are then the upper bound on
    /// flows in flight).
    #[arg(long)]
    rate: Option<f64>,
    /// Unmeasured seconds before each measured phase.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Ceiling mode: how many (ceiling, gateway) pairs to alternate.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// gRPC connections shared by the workers.
    #[arg(long, default_value_t = 2)]
    grpc_connections: usize,
    /// Shards of the Redis key layout (`store.redis.shards`).
    #[arg(long, default_value_t = 64)]
    shards: u16,
    /// Memory mode: verifications created through the store.
    #[arg(long, default_value_t = 100_000)]
    pending: u64,
    /// Memory mode: verifications created through the gateway (delivered, not checked).
    #[arg(long, default_value_t = 10_000)]
    gateway_pending: u64,
    /// Check mode: verifications to pre-create (default: --count, else 20000).
    #[arg(long)]
    precreate: Option<u64>,
    /// Gateway logs at `info`, formatted and thrown away (their CPU cost included).
    #[arg(long)]
    logs: bool,
    /// An already running gateway (`http://127.0.0.1:8080`) instead of an in-process one;
    /// its webhook provider must point at `--sink-listen`.
    #[arg(long)]
    target: Option<String>,
    /// gRPC address of `--target` (`http://127.0.0.1:50051`).
    #[arg(long)]
    grpc_target: Option<String>,
    /// Where the webhook sink listens (default: a free loopback port).
    #[arg(long)]
    sink_listen: Option<SocketAddr>,
    /// API key for `--target`.
    #[arg(long, default_value = DEMO_API_KEY)]
    key: String,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

// ---------------------------------------------------------------------------------------
// Numbers: distinct valid US numbers, one per flow.

struct Numbers {
    exchanges: Vec<u16>,
    base: u64,
    next: AtomicU64,
}

impl Numbers {
    fn new() -> Self {
        let exchanges: Vec<u16> = (230..=929u16)
            .filter(|e| e % 100 != 11)
            .filter(|e| PhoneNumber::parse(&format!("+1415{e}0123")).is_ok())
            .collect();
        assert!(!exchanges.is_empty(), "no valid test exchanges");
        let space = exchanges.len() as u64 * 10_000;
        let base = u64::from_be_bytes(random_bytes::<8>()) % space;
        Numbers {
            exchanges,
            base,
            next: AtomicU64::new(0),
        }
    }

    fn take(&self) -> String {
        let space = self.exchanges.len() as u64 * 10_000;
        let n = (self.base + self.next.fetch_add(1, Ordering::Relaxed)) % space;
        let ex = self.exchanges[(n / 10_000) as usize];
        format!("+1415{ex}{:04}", n % 10_000)
    }
}

// ---------------------------------------------------------------------------------------
// The provider sink: speaks the webhook provider's API and hands each code to the flow
// waiting for that number.

type Arrival = (String, Instant);

#[derive(Default)]
struct Sink {
    waiters: Mutex<HashMap<String, oneshot::Sender<Arrival>>>,
    received: AtomicU64,
    unexpected: AtomicU64,
}

#[derive(serde::Deserialize)]
struct SinkMessage {
    id: String,
    to: String,
    body: String,
}

/// The first run of 4..10 digits in a message body.
fn extract_code(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|s| (4..=10).contains(&s.len()))
        .map(str::to_string)
}

async fn sink_receive(State(s): State<Arc<Sink>>, raw: Bytes) -> (StatusCode, String) {
    let at = Instant::now();
    let Ok(m) = serde_json::from_slice::<SinkMessage>(&raw) else {
        return (StatusCode::BAD_REQUEST, "{}".into());
    };
    s.received.fetch_add(1, Ordering::Relaxed);
    let waiter = s.waiters.lock().unwrap().remove(&m.to);
    match (waiter, extract_code(&m.body)) {
        (Some(tx), Some(code)) => {
            let _ = tx.send((code, at));
        }
        _ => {
            s.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }
    (StatusCode::OK, format!("{{\"id\":\"{}\"}}", m.id))
}

impl Sink {
    async fn start(listen: SocketAddr) -> (Arc<Sink>, SocketAddr) {
        let sink = Arc::new(Sink::default());
        let app = axum::Router::new()
            .route("/sms", axum::routing::post(sink_receive))
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .expect("sink binds");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (sink, addr)
    }

    fn expect(&self, to: &str) -> oneshot::Receiver<Arrival> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(to.to_string(), tx);
        rx
    }

    fn forget(&self, to: &str) {
        self.waiters.lock().unwrap().remove(to);
    }
}

// ---------------------------------------------------------------------------------------
// Clients of the gateway.

#[derive(Clone)]
enum Client {
    Http {
        client: reqwest::Client,
        start_url: String,
        check_url: String,
        auth: String,
    },
    Grpc {
        conns: Vec<VerificationsClient<tonic::transport::Channel>>,
        auth: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    },
}

#[derive(serde::Deserialize)]
struct HttpAnswer {
    #[serde(default)]
    valid: Option<bool>,
    #[serde(default)]
    code: Option<String>,
}

impl Client {
    async fn new(
        transport: Transport,
        http_base: &str,
        grpc_base: Option<&str>,
        key: &str,
        concurrency: usize,
        grpc_connections: usize,
    ) -> anyhow::Result<Client> {
        Ok(match transport {
            Transport::Http => Client::Http {
                client: reqwest::Client::builder()
                    .pool_max_idle_per_host(concurrency)
                    .timeout(Duration::from_secs(30))
                    .build()?,
                start_url: format!("{http_base}/v1/verifications"),
                check_url: format!("{http_base}/v1/verifications/check"),
                auth: format!("Bearer {key}"),
            },
            Transport::Grpc => {
                let base = grpc_base
                    .ok_or_else(|| anyhow::anyhow!("gRPC needs the gateway's gRPC address"))?;
                let mut conns = Vec::new();
                for _ in 0..grpc_connections.max(1) {
                    let ch = tonic::transport::Endpoint::from_shared(base.to_string())?
                        .tcp_nodelay(true)
                        .connect()
                        .await?;
                    conns.push(VerificationsClient::new(ch));
                }
                Client::Grpc {
                    conns,
                    auth: format!("Bearer {key}").parse()?,
                }
            }
        })
    }

    async fn http_post(
        client: &reqwest::Client,
        url: &str,
        auth: &str,
        body: String,
    ) -> Result<(u16, HttpAnswer), String> {
        let r = client
            .post(url)
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "http timeout".to_string()
                } else {
                    "http transport error".to_string()
                }
            })?;
        let status = r.status().as_u16();
        let bytes = r.bytes().await.map_err(|_| "http body error".to_string())?;
        let a = serde_json::from_slice::<HttpAnswer>(&bytes).unwrap_or(HttpAnswer {
            valid: None,
            code: None,
        });
        Ok((status, a))
    }

    fn grpc_req<M>(
        m: M,
        auth: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    ) -> tonic::Request<M> {
        let mut r = tonic::Request::new(m);
        r.metadata_mut().insert("authorization", auth.clone());
        r
    }

    /// Starts a verification; `Err(kind)` unless it was created.
    async fn start(&self, worker: usize, to: &str) -> Result<(), String> {
        match self {
            Client::Http {
                client,
                start_url,
                auth,
                ..
            } => {
                let (status, a) =
                    Self::http_post(client, start_url, auth, format!("{{\"to\":\"{to}\"}}"))
                        .await?;
                match status {
                    201 => Ok(()),
                    200 => Err("http 200 (a resend, not a new verification)".into()),
                    s => Err(format!("http {s} {}", a.code.unwrap_or_default())),
                }
            }
            Client::Grpc { conns, auth } => {
                let mut c = conns[worker % conns.len()].clone();
                let m = pb::StartRequest {
                    to: to.to_string(),
                    ..Default::default()
                };
                match c.start(Self::grpc_req(m, auth)).await {
                    Ok(r) if r.get_ref().send_count == 1 => Ok(()),
                    Ok(_) => Err("grpc resend, not a new verification".into()),
                    Err(s) => Err(format!("grpc {:?}", s.code())),
                }
            }
        }
    }

    /// Checks a number with a code; `Err(kind)` unless it was approved.
    async fn check(&self, worker: usize, to: &str, code: &str) -> Result<(), String> {
        match self {
            Client::Http {
                client,
                check_url,
                auth,
                ..
            } => {
                let (status, a) = Self::http_post(
                    client,
                    check_url,
                    auth,
                    format!("{{\"to\":\"{to}\",\"code\":\"{code}\"}}"),
                )
                .await?;
                match (status, a.valid) {
                    (200, Some(true)) => Ok(()),
                    (200, _) => Err("http 200 valid=false".into()),
                    (s, _) => Err(format!("http {s} {}", a.code.unwrap_or_default())),
                }
            }
            Client::Grpc { conns, auth } => {
                let mut c = conns[worker % conns.len()].clone();
                let m = pb::CheckRequest {
                    target: Some(pb::check_request::Target::To(to.to_string())),
                    code: code.to_string(),
                    ..Default::default()
                };
                match c.check(Self::grpc_req(m, auth)).await {
                    Ok(r) if r.get_ref().valid == Some(true) => Ok(()),
                    Ok(_) => Err("grpc valid=false".into()),
                    Err(s) => Err(format!("grpc {:?}", s.code())),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measurements.

/// Latencies in microseconds per step, and errors by kind.
#[derive(Default)]
struct Tally {
    ok: u64,
    steps: BTreeMap<&'static str, Vec<u32>>,
    errors: BTreeMap<String, u64>,
    late_max: Duration,
}

impl Tally {
    fn add(&mut self, step: &'static str, d: Duration) {
        self.steps
            .entry(step)
            .or_default()
            .push(d.as_micros().min(u32::MAX as u128) as u32);
    }
    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
    fn merge(&mut self, o: Tally) {
        self.ok += o.ok;
        for (k, mut v) in o.steps {
            self.steps.entry(k).or_default().append(&mut v);
        }
        for (k, n) in o.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.late_max = self.late_max.max(o.late_max);
    }
}

fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// Percentiles of one step, in ms.
#[derive(Clone, Copy, Default)]
struct Lat {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Resource use over a phase.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// Cores used by this process (load generator, sink and in-process gateway).
    process: f64,
    /// Cores used by the redis-server processes.
    redis: f64,
    /// Cores used by everything else on the machine (other builds: noise).
    others: f64,
}

/// Redis-side counters over a phase.
#[derive(Clone, Default)]
struct RedisUse {
    calls: BTreeMap<String, u64>,
}

/// Result of one measured phase.
struct Phase {
    name: String,
    secs: f64,
    ok: u64,
    lat: BTreeMap<&'static str, Lat>,
    errors: BTreeMap<String, u64>,
    cpu: Cpu,
    redis: Option<RedisUse>,
    rss_peak_kib: Option<u64>,
    late_max: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    fn print(&self) {
        let errs: u64 = self.errors.values().sum();
        println!(
            "\n== {}: {} ok in {:.2} s = {:.0}/s, {} errors",
            self.name,
            self.ok,
            self.secs,
            self.rate(),
            errs
        );
        println!(
            "   {:<9} {:>8} {:>8} {:>8} {:>8}   (ms)",
            "step", "p50", "p90", "p99", "max"
        );
        for step in ["start", "delivery", "check", "flow"] {
            if let Some(l) = self.lat.get(step) {
                println!(
                    "   {:<9} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                    step, l.p50, l.p90, l.p99, l.max
                );
            }
        }
        for (k, n) in &self.errors {
            println!("   error  {n:>8}  {k}");
        }
        if self.late_max > Duration::ZERO {
            println!(
                "   open loop: the latest flow began {:.1} ms behind schedule",
                self.late_max.as_secs_f64() * 1000.0
            );
        }
        let us = |cores: f64| cores * self.secs * 1e6 / self.ok.max(1) as f64;
        println!(
            "   cpu cores: this process {:.2}, redis {:.2}, others on the machine {:.2}; per op: this process {:.0} µs, redis {:.0} µs",
            self.cpu.process,
            self.cpu.redis,
            self.cpu.others,
            us(self.cpu.process),
            us(self.cpu.redis)
        );
        if let Some(r) = &self.redis {
            let per = |n: u64| n as f64 / self.ok.max(1) as f64;
            let top: Vec<String> = r
                .calls
                .iter()
                .filter(|(_, n)| per(**n) >= 0.05)
                .map(|(k, n)| format!("{k} {:.2}", per(*n)))
                .collect();
            let get = |k: &str| r.calls.get(k).copied().unwrap_or(0);
            let all: u64 = r.calls.values().sum();
            println!(
                "   redis per op: {:.2} scripts (EVALSHA), {:.2} XREADGROUP, {:.2} commands in all counting those scripts run",
                per(get("evalsha") + get("eval")),
                per(get("xreadgroup")),
                per(all)
            );
            println!("     ({})", top.join(", "));
        }
        if let Some(k) = self.rss_peak_kib {
            println!("   rss peak {:.1} MiB", k as f64 / 1024.0);
        }
    }
}

fn vmrss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// (busy, total) jiffies of the whole machine.
fn machine_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn process_jiffies(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12) // utime, stime
}

fn ncpu() -> f64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0)
}

// ---------------------------------------------------------------------------------------
// Redis under test.

enum Backend {
    Memory,
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    fn start(kind: StoreArg) -> Backend {
        match kind {
            StoreArg::Memory => Backend::Memory,
            StoreArg::Redis => Backend::Redis(RedisServer::start()),
            StoreArg::Cluster => Backend::Cluster(RedisCluster::start()),
        }
    }

    fn nodes(&self) -> Vec<&RedisServer> {
        match self {
            Backend::Memory => Vec::new(),
            Backend::Redis(s) => vec![s],
            Backend::Cluster(c) => c.nodes.iter().collect(),
        }
    }

    fn pids(&self) -> Vec<String> {
        self.nodes()
            .iter()
            .filter_map(|n| info_field(&n.cli(&["INFO", "server"]), "process_id"))
            .collect()
    }

    fn jiffies(&self, pids: &[String]) -> u64 {
        pids.iter().map(|p| process_jiffies(p)).sum()
    }

    fn reset_stats(&self) {
        for n in self.nodes() {
            n.cli(&["CONFIG", "RESETSTAT"]);
        }
    }

    fn used_memory(&self) -> u64 {
        self.nodes()
            .iter()
            .filter_map(|n| info_field(&n.cli(&["INFO", "memory"]), "used_memory"))
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    fn commandstats(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for n in self.nodes() {
            for line in n.cli(&["INFO", "commandstats"]).lines() {
                let Some(rest) = line.strip_prefix("cmdstat_") else {
                    continue;
                };
                let Some((name, stats)) = rest.split_once(':') else {
                    continue;
                };
                let calls = stats
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("calls="))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                if name != "info" && name != "config|resetstat" {
                    *out.entry(name.to_string()).or_default() += calls;
                }
            }
        }
        out
    }

    fn configure(&self, cfg: &mut Config) {
        match self {
            Backend::Memory => cfg.store.kind = StoreKind::Memory,
            Backend::Redis(s) => {
                cfg.store.kind = StoreKind::Redis;
                cfg.store.redis.url = Secret(s.url());
            }
            Backend::Cluster(c) => {
                cfg.store.kind = StoreKind::Redis;
                cfg.store.redis.cluster_nodes = c.urls().into_iter().map(Secret).collect();
            }
        }
    }
}

fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

// ---------------------------------------------------------------------------------------
// The gateway under test.

fn gateway_config(args: &Args, backend: &Backend, sink: SocketAddr) -> Config {
    let mut cfg = Config::from_toml(otpgw::config::DEFAULT_TOML).expect("default config");
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.grpc.enabled = true;
    cfg.secret = Some(Secret(SECRET.into()));
    cfg.dev.outbox = false;
    // As long as the default `otpgw`, so key sizes match a default deployment.
    cfg.store.redis.key_prefix = format!("o{}", hex::encode(random_bytes::<2>()));
    cfg.store.redis.shards = args.shards;
    cfg.providers.clear();
    cfg.providers.insert(
        "sink".into(),
        ProviderConfig::Webhook(webhook::Config {
            url: format!("http://{sink}/sms"),
            timeout_ms: 5_000,
            ..Default::default()
        }),
    );
    cfg.routing.default = vec!["sink".into()];
    cfg.routing.default_weights.clear();
    cfg.routing.routes.clear();
    // the other channels through the sink too (the webhook sends on every channel)
    for table in cfg.routing.channels.values_mut() {
        table.default = vec!["sink".into()];
    }
    let t = cfg.tenants.get_mut(TENANT).expect("demo tenant");
    t.number_sends_per_hour = 1_000_000;
    t.number_failed_checks_per_hour = 1_000_000;
    raise_limits(t, args.limits);
    backend.configure(&mut cfg);
    cfg
}

/// Every flow uses its own number, so the per-number limits stay at their defaults; the
/// shared ones are raised out of reach (still decided and charged on every request), and
/// the pumping guard counts without ever reaching its minimum of sends.
fn raise_limits(t: &mut otpgw::config::TenantConfig, limits: Limits) {
    const HIGH: u32 = 1_000_000_000;
    let l = &mut t.limits;
    let shared = if limits == Limits::Off { 0 } else { HIGH };
    for q in [
        &mut l.client_ip_per_hour,
        &mut l.tenant_sends_per_sec,
        &mut l.tenant_checks_per_sec,
        &mut l.api_key_sends_per_sec,
        &mut l.api_key_checks_per_sec,
        &mut l.country_per_hour,
        &mut l.prefix_per_hour,
        &mut l.local_ip_per_sec,
        &mut l.local_tenant_per_sec,
    ] {
        *q = shared;
    }
    if limits == Limits::Off {
        (l.number_per_minute, l.number_per_hour, l.number_per_day) = (0, 0, 0);
        t.pumping.mode = otpgw::config::PumpingMode::Off;
    } else if limits == Limits::NoGuard {
        t.pumping.mode = otpgw::config::PumpingMode::Off;
    } else {
        let lv = &mut t.pumping.levels;
        for l in [
            &mut lv.country,
            &mut lv.area,
            &mut lv.range,
            &mut lv.prefix,
            &mut lv.ip,
            &mut lv.session,
            &mut lv.device,
        ] {
            l.budget = f64::from(HIGH);
        }
    }
}

struct Gateway {
    http: String,
    grpc: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    async fn start(cfg: Config) -> Gateway {
        let app = otpgw::Application::build(cfg)
            .await
            .expect("gateway builds");
        let http = format!("http://{}", app.local_addr());
        let grpc = app.grpc_addr().map(|a| format!("http://{a}"));
        let (tx, rx) = oneshot::channel();
        let done = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = rx.await;
                })
                .await;
        });
        Gateway {
            http,
            grpc,
            stop: Some(tx),
            done: Some(done),
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = d.await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running workers.

/// What decides when a phase ends, and (open loop) when each flow begins.
struct Pace {
    begin: Instant,
    deadline: Option<Instant>,
    count: Option<u64>,
    rate: Option<f64>,
    issued: AtomicU64,
}

impl Pace {
    fn new(secs: Option<f64>, count: Option<u64>, rate: Option<f64>) -> Pace {
        let begin = Instant::now();
        Pace {
            begin,
            deadline: secs.map(|s| begin + Duration::from_secs_f64(s)),
            count,
            rate,
            issued: AtomicU64::new(0),
        }
    }

    /// The next flow, and how late it begins (open loop), or `None` when the phase is over.
    async fn next(&self) -> Option<Duration> {
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            return None;
        }
        let i = self.issued.fetch_add(1, Ordering::Relaxed);
        if self.count.is_some_and(|c| i >= c) {
            return None;
        }
        let Some(rate) = self.rate else {
            return Some(Duration::ZERO);
        };
        let at = self.begin + Duration::from_secs_f64(i as f64 / rate);
        if self.deadline.is_some_and(|d| at >= d) {
            return None;
        }
        let now = Instant::now();
        if at > now {
            tokio::time::sleep_until(at.into()).await;
            Some(Duration::ZERO)
        } else {
            Some(now - at)
        }
    }
}

/// Runs `concurrency` workers of `op` until the pace ends; measures the whole phase.
async fn measure<F, Fut>(
    name: String,
    args: &Args,
    backend: &Backend,
    secs: Option<f64>,
    count: Option<u64>,
    rate: Option<f64>,
    op: F,
) -> Phase
where
    F: Fn(usize, Arc<Numbers>) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Tally> + Send,
{
    let pids = backend.pids();
    backend.reset_stats();
    let stats0 = backend.commandstats();
    let me = std::process::id().to_string();
    let (m0, p0, r0) = (
        machine_jiffies(),
        process_jiffies(&me),
        backend.jiffies(&pids),
    );
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(vmrss_kib().unwrap_or(0)));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(k) = vmrss_kib() {
                    peak.fetch_max(k, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let numbers = NUMBERS.get().expect("numbers").clone();
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let pace = Arc::new(Pace::new(secs, count, rate));
    for w in 0..args.concurrency.max(1) {
        let op = op.clone();
        let numbers = numbers.clone();
        let pace = pace.clone();
        tasks.spawn(async move {
            let mut total = Tally::default();
            while let Some(late) = pace.next().await {
                total.late_max = total.late_max.max(late);
                let one = op(w, numbers.clone()).await;
                total.merge(one);
            }
            total
        });
    }
    let mut tally = Tally::default();
    while let Some(r) = tasks.join_next().await {
        tally.merge(r.expect("worker"));
    }
    let secs = t.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let (m1, p1, r1) = (
        machine_jiffies(),
        process_jiffies(&me),
        backend.jiffies(&pids),
    );
    let stats1 = backend.commandstats();
    let cores = |d: u64| d as f64 / ((m1.1 - m0.1).max(1) as f64) * ncpu();
    let process = cores(p1 - p0);
    let redis = cores(r1.saturating_sub(r0));
    let cpu = Cpu {
        process,
        redis,
        others: (cores(m1.0 - m0.0) - process - redis).max(0.0),
    };
    let redis_use = (!pids.is_empty()).then(|| RedisUse {
        calls: stats1
            .iter()
            .map(|(k, v)| (k.clone(), v - stats0.get(k).copied().unwrap_or(0).min(*v)))
            .filter(|(_, v)| *v > 0)
            .collect(),
    });
    let mut lat = BTreeMap::new();
    for (k, v) in tally.steps.iter_mut() {
        v.sort_unstable();
        lat.insert(
            *k,
            Lat {
                p50: pct(v, 0.50),
                p90: pct(v, 0.90),
                p99: pct(v, 0.99),
                max: pct(v, 1.0),
            },
        );
    }
    Phase {
        name,
        secs,
        ok: tally.ok,
        lat,
        errors: tally.errors,
        cpu,
        redis: redis_use,
        rss_peak_kib: Some(peak.load(Ordering::Relaxed)),
        late_max: tally.late_max,
    }
}

static NUMBERS: std::sync::OnceLock<Arc<Numbers>> = std::sync::OnceLock::new();

/// One whole flow through the gateway.
async fn gateway_flow(client: &Client, sink: &Sink, w: usize, to: String) -> Tally {
    let mut t = Tally::default();
    let rx = sink.expect(&to);
    let t0 = Instant::now();
    if let Err(e) = client.start(w, &to).await {
        sink.forget(&to);
        t.error(format!("start: {e}"));
        return t;
    }
    let t1 = Instant::now();
    t.add("start", t1 - t0);
    let (code, arrived) = match tokio::time::timeout(DELIVERY_TIMEOUT, rx).await {
        Ok(Ok(a)) => a,
        _ => {
            sink.forget(&to);
            t.error("delivery: no message at the sink within 10 s".into());
            return t;
        }
    };
    t.add("delivery", arrived.saturating_duration_since(t1));
    let t2 = Instant::now();
    if let Err(e) = client.check(w, &to, &code).await {
        t.error(format!("check: {e}"));
        return t;
    }
    let t3 = Instant::now();
    t.add("check", t3 - t2);
    t.add("flow", t3 - t0);
    t.ok += 1;
    t
}

async fn gateway_start_only(client: &Client, w: usize, to: String) -> Tally {
    let mut t = Tally::default();
    let t0 = Instant::now();
    match client.start(w, &to).await {
        Ok(()) => {
            t.add("start", t0.elapsed());
            t.ok += 1;
        }
        Err(e) => t.error(format!("start: {e}")),
    }
    t
}

// ---------------------------------------------------------------------------------------
// The ceiling: the same scripts straight through the store.

struct Direct {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    keys: Keys,
    /// The tenant as the service sees it (settings, API key id), for the admissions.
    who: Arc<otpgw::service::Tenant>,
    /// Limiter and guard state over the same store (used in turn on a cluster).
    gate: otpgw::ratelimit::Backends,
    shards: u16,
}

struct Made {
    to: otpgw::domain::Destination,
    number: NumberRef,
    mac: [u8; 32],
}

impl Direct {
    async fn new(cfg: &Config) -> Direct {
        let keys = Keys::derive(&ServerSecret::new(SECRET.as_bytes().to_vec()));
        let backend =
            otpgw::backend::build(&cfg.store, 10_000_000, &keys).expect("the backend builds");
        let who = otpgw::service::Tenants::new(&cfg.tenants)
            .authenticate(DEMO_API_KEY)
            .expect("the demo key acts for the demo tenant");
        Direct {
            store: backend.store.clone(),
            queue: backend.queue.clone(),
            who,
            gate: backend.gate(),
            keys,
            shards: cfg.store.redis.shards.max(1),
        }
    }

    /// What the service does for a start, minus the HTTP part: parse, keys, code,
    /// record, admission (limits and guard when on) and the store step: one script on
    /// one Redis node.
    async fn start(&self, to: &str) -> Result<Made, String> {
        let cfg = &self.who.cfg;
        let parsed =
            otpgw::domain::Destination::Phone(PhoneNumber::parse(to).map_err(|e| e.to_string())?);
        let adm = otpgw::service::start_admission(
            &self.keys,
            &self.who,
            &parsed,
            otpgw::domain::Channel::Sms,
            Default::default(),
        );
        let (key, shard) = self.keys.number_key(TENANT, to, self.shards);
        let number = NumberRef {
            tenant: TENANT.into(),
            key,
            shard,
            channel: Channel::Sms,
        };
        let now = now_millis();
        let len = CodeLength::new(cfg.code_length as i64).map_err(|e| e.to_string())?;
        let seed = random_bytes::<16>().to_vec();
        let code = self.keys.derive_code(&seed, len);
        let mac = self.keys.code_mac(TENANT, to, &code);
        let ms = |s: u64| (s * 1000) as i64;
        let fresh = Verification {
            id: VerificationId::generate(shard).map_err(|e| e.to_string())?,
            tenant: TENANT.into(),
            to: parsed.clone(),
            channel: Channel::Sms,
            status: Status::Pending,
            created_at: now,
            expires_at: now + ms(cfg.ttl_secs),
            send_count: 1,
            max_sends: cfg.max_sends,
            next_resend_at: now + ms(cfg.resend_cooldown_secs),
            resent_at: Vec::new(),
            attempts_left: cfg.max_check_attempts,
            delivery: Delivery {
                status: DeliveryStatus::Queued,
                provider: None,
                updated_at: now,
                reason: None,
            },
            metadata: None,
            locale: None,
            template: None,
            code_length: len.get(),
            seed,
            workflow: None,
            past_steps: Vec::new(),
        };
        let spec = StartSpec {
            fresh,
            code_mac: mac,
            number: number.clone(),
            cooldown_ms: ms(cfg.resend_cooldown_secs),
            retention_ms: ms(cfg.retention_secs),
            lookup_ms: ms(cfg.lookup_retention_secs),
            number_send_limit: cfg.number_sends_per_hour,
            number_window_ms: 3_600_000,
            resend_channel: None,
            enqueue: EnqueueSpec::default(),
        };
        match self.store.admit_start(&self.gate, &adm, spec, now).await {
            Ok(a) => match a.outcome {
                Some(StartOutcome::Created(_)) => Ok(Made {
                    to: parsed,
                    number,
                    mac,
                }),
                o => Err(format!("store start: {o:?} ({:?})", a.decision)),
            },
            Err(e) => Err(format!("store start: {e}")),
        }
    }

    async fn check(&self, made: Made) -> Result<(), String> {
        let cfg = &self.who.cfg;
        let spec = CheckSpec {
            target: CheckTarget::Number(made.number),
            code_mac: made.mac,
            number_fail_limit: cfg.number_failed_checks_per_hour,
            client_keys: Vec::new(),
            client_fail_limit: cfg.client_failed_checks_per_hour,
            number_window_ms: 3_600_000,
            retention_ms: (cfg.retention_secs * 1000) as i64,
        };
        let adm = otpgw::service::check_admission(
            &self.keys,
            &self.who,
            Some(&made.to),
            Default::default(),
        );
        match self
            .store
            .admit_check(&self.gate, &adm, spec, now_millis())
            .await
        {
            Ok(a) => match a.outcome {
                Some(CheckOutcome::Approved(_)) => Ok(()),
                o => Err(format!("store check: {o:?} ({:?})", a.decision)),
            },
            Err(e) => Err(format!("store check: {e}")),
        }
    }

    async fn flow(&self, to: String) -> Tally {
        let mut t = Tally::default();
        let t0 = Instant::now();
        let made = match self.start(&to).await {
            Ok(m) => m,
            Err(e) => {
                t.error(e);
                return t;
            }
        };
        let t1 = Instant::now();
        t.add("start", t1 - t0);
        if let Err(e) = self.check(made).await {
            t.error(e);
            return t;
        }
        let t2 = Instant::now();
        t.add("check", t2 - t1);
        t.add("flow", t2 - t0);
        t.ok += 1;
        t
    }

    /// Takes and acknowledges every queued send (what delivery does, minus sending), so
    /// the memory backend's queue never fills and Redis streams hold only unfinished sends.
    async fn drain(&self, consumer: &str) -> u64 {
        let mut n = 0;
        loop {
            let leases = self.queue.receive(consumer, 512).await.unwrap_or_default();
            if leases.is_empty() {
                return n;
            }
            n += leases.len() as u64;
            let acks = leases.iter().map(|l| self.queue.ack(l));
            futures_util::future::join_all(acks).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phases.

struct Rig {
    args: Args,
    backend: Backend,
    sink: Arc<Sink>,
    sink_addr: SocketAddr,
}

impl Rig {
    fn secs(&self) -> Option<f64> {
        match (self.args.duration, self.args.count) {
            (None, None) => Some(5.0),
            (d, _) => d,
        }
    }

    fn config(&self) -> Config {
        gateway_config(&self.args, &self.backend, self.sink_addr)
    }

    async fn client(&self, gw: Option<&Gateway>) -> Client {
        let (http, grpc) = match gw {
            Some(g) => (g.http.clone(), g.grpc.clone()),
            None => (
                self.args.target.clone().expect("a target"),
                self.args.grpc_target.clone(),
            ),
        };
        Client::new(
            self.args.transport,
            &http,
            grpc.as_deref(),
            &self.args.key,
            self.args.concurrency,
            self.args.grpc_connections,
        )
        .await
        .expect("client connects")
    }

    /// Full flows (or starts) through a gateway: warmup, then one measured phase.
    async fn gateway_phase(&self, label: &str, client: &Client, start_only: bool) -> Phase {
        let run = |secs: Option<f64>, count: Option<u64>, name: String| {
            let (client, sink) = (client.clone(), self.sink.clone());
            measure(
                name,
                &self.args,
                &self.backend,
                secs,
                count,
                self.args.rate,
                move |w, numbers: Arc<Numbers>| {
                    let (client, sink) = (client.clone(), sink.clone());
                    async move {
                        let to = numbers.take();
                        if start_only {
                            gateway_start_only(&client, w, to).await
                        } else {
                            gateway_flow(&client, &sink, w, to).await
                        }
                    }
                },
            )
        };
        if self.args.warmup > 0.0 {
            run(Some(self.args.warmup), None, "warmup".into()).await;
        }
        run(self.secs(), self.args.count, label.to_string()).await
    }

    async fn ceiling_phase(&self, direct: &Arc<Direct>) -> Phase {
        let drain_stop = Arc::new(AtomicBool::new(false));
        // The memory backend queues in-process: keep it drained, as delivery would.
        let drainer = matches!(self.backend, Backend::Memory).then(|| {
            let (d, stop) = (direct.clone(), drain_stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if d.drain("ceiling").await == 0 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        });
        let run = |secs: Option<f64>, count: Option<u64>, name: String| {
            let d = direct.clone();
            measure(
                name,
                &self.args,
                &self.backend,
                secs,
                count,
                self.args.rate,
                move |_, numbers: Arc<Numbers>| {
                    let d = d.clone();
                    async move { d.flow(numbers.take()).await }
                },
            )
        };
        if self.args.warmup > 0.0 {
            run(Some(self.args.warmup), None, "warmup".into()).await;
        }
        let p = run(
            self.secs(),
            self.args.count,
            "ceiling (store.start + store.check, no gateway)".into(),
        )
        .await;
        drain_stop.store(true, Ordering::Relaxed);
        if let Some(d) = drainer {
            let _ = d.await;
        }
        p
    }
}

fn describe_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cpus ({model}); load average {}",
        ncpu(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

async fn run(args: Args, backend: Backend) -> anyhow::Result<()> {
    describe_machine();
    NUMBERS.get_or_init(|| Arc::new(Numbers::new()));
    if args.logs {
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_writer(std::io::sink)
            .init();
    }
    let rss_harness = vmrss_kib();
    let listen = args
        .sink_listen
        .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
    let (sink, sink_addr) = Sink::start(listen).await;
    let rig = Rig {
        args: args.clone(),
        backend,
        sink,
        sink_addr,
    };
    println!(
        "mode {:?}, store {:?}, transport {:?}, limits {:?}, concurrency {}, {}{}{}",
        args.mode,
        args.store,
        args.transport,
        args.limits,
        args.concurrency,
        rig.secs()
            .map(|s| format!("{s} s per phase"))
            .unwrap_or_default(),
        args.count
            .map(|c| format!(", at most {c} per phase"))
            .unwrap_or_default(),
        args.rate
            .map(|r| format!(", open loop at {r}/s"))
            .unwrap_or_default(),
    );
    if args.target.is_some() {
        println!(
            "external gateway {}; its webhook provider must POST to http://{sink_addr}/sms",
            args.target.as_deref().unwrap_or("")
        );
    }
    match args.mode {
        Mode::Flow | Mode::Start => {
            let gw = match &args.target {
                None => Some(Gateway::start(rig.config()).await),
                Some(_) => None,
            };
            let client = rig.client(gw.as_ref()).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let rss_idle = vmrss_kib();
            let label = if args.mode == Mode::Start {
                "gateway starts"
            } else {
                "gateway flows (start -> message at the sink -> check)"
            };
            let p = rig
                .gateway_phase(label, &client, args.mode == Mode::Start)
                .await;
            p.print();
            print_rss(rss_harness, rss_idle, p.rss_peak_kib);
            if let Some(g) = gw {
                g.stop().await;
            }
        }
        Mode::Check => {
            let gw = match &args.target {
                None => Some(Gateway::start(rig.config()).await),
                Some(_) => None,
            };
            let client = rig.client(gw.as_ref()).await;
            let pre = args.precreate.or(args.count).unwrap_or(20_000);
            let made = precreate(&rig, &client, pre).await;
            println!(
                "pre-created {} verifications (codes taken from the sink)",
                made.len()
            );
            let rss_idle = vmrss_kib();
            let queue = Arc::new(Mutex::new(made));
            let count = Some(args.count.unwrap_or(u64::MAX).min(pre));
            let p = {
                let (client, queue) = (client.clone(), queue.clone());
                measure(
                    "gateway checks by number".into(),
                    &args,
                    &rig.backend,
                    rig.secs(),
                    count,
                    args.rate,
                    move |w, _| {
                        let (client, queue) = (client.clone(), queue.clone());
                        async move {
                            let mut t = Tally::default();
                            let Some((to, code)) = queue.lock().unwrap().pop() else {
                                return t;
                            };
                            let t0 = Instant::now();
                            match client.check(w, &to, &code).await {
                                Ok(()) => {
                                    t.add("check", t0.elapsed());
                                    t.ok += 1;
                                }
                                Err(e) => t.error(format!("check: {e}")),
                            }
                            t
                        }
                    },
                )
                .await
            };
            p.print();
            print_rss(rss_harness, rss_idle, p.rss_peak_kib);
            if let Some(g) = gw {
                g.stop().await;
            }
        }
        Mode::Ceiling => {
            anyhow::ensure!(
                args.target.is_none(),
                "the ceiling runs against the harness's own Redis"
            );
            let mut pairs = Vec::new();
            for round in 1..=args.rounds.max(1) {
                println!("\n--- round {round}");
                // The ceiling uses its own key prefix, with no gateway running, so no
                // delivery worker polls Redis while it is measured.
                let direct = Arc::new(Direct::new(&rig.config()).await);
                let c = rig.ceiling_phase(&direct).await;
                c.print();
                direct.drain("ceiling").await;
                drop(direct);
                let gw = Gateway::start(rig.config()).await;
                let client = rig.client(Some(&gw)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let g = rig
                    .gateway_phase(
                        "gateway flows (start -> message at the sink -> check)",
                        &client,
                        false,
                    )
                    .await;
                g.print();
                gw.stop().await;
                println!(
                    "\n   round {round}: gateway {:.0} flows/s / ceiling {:.0} flows/s = {:.0} %",
                    g.rate(),
                    c.rate(),
                    100.0 * g.rate() / c.rate()
                );
                pairs.push((c, g));
            }
            summary(&args, &pairs);
        }
        Mode::HalfPeak => {
            let gw = match &args.target {
                None => Some(Gateway::start(rig.config()).await),
                Some(_) => None,
            };
            let client = rig.client(gw.as_ref()).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let rss_idle = vmrss_kib();
            let label = "gateway flows, closed loop (peak)";
            let peak = rig.gateway_phase(label, &client, false).await;
            peak.print();
            let half = peak.rate() / 2.0;
            let mut open = rig.args.clone();
            open.rate = Some(half);
            open.concurrency = args.concurrency * 4;
            open.warmup = 0.0;
            let rig2 = Rig {
                args: open,
                backend: rig.backend,
                sink: rig.sink.clone(),
                sink_addr: rig.sink_addr,
            };
            let label = format!("gateway flows, open loop at half of peak ({half:.0}/s)");
            let p = rig2.gateway_phase(&label, &client, false).await;
            p.print();
            print_rss(rss_harness, rss_idle, peak.rss_peak_kib.max(p.rss_peak_kib));
            let l = |p: &Phase, s: &str| p.lat.get(s).copied().unwrap_or_default();
            println!(
                "\n| peak flows/s | half-peak rate | start p50/p99 ms | delivery p50/p99 ms | check p50/p99 ms |\n|---|---|---|---|---|\n| {:.0} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
                peak.rate(),
                p.rate(),
                l(&p, "start").p50,
                l(&p, "start").p99,
                l(&p, "delivery").p50,
                l(&p, "delivery").p99,
                l(&p, "check").p50,
                l(&p, "check").p99
            );
            if let Some(g) = gw {
                g.stop().await;
            }
            return Ok(());
        }
        Mode::Memory => memory(&rig).await?,
        Mode::Layouts => layouts(&rig).await?,
    }
    Ok(())
}

fn print_rss(harness: Option<u64>, idle: Option<u64>, peak: Option<u64>) {
    let mib = |k: Option<u64>| {
        k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or("-".into())
    };
    println!(
        "   rss (whole process: load generator + sink + gateway): before the gateway {}, gateway idle {}, peak under load {}",
        mib(harness),
        mib(idle),
        mib(peak)
    );
}

fn summary(args: &Args, pairs: &[(Phase, Phase)]) {
    let l = |p: &Phase, s: &str| p.lat.get(s).copied().unwrap_or_default();
    println!(
        "\n=== summary: store {:?}, transport {:?}, concurrency {}",
        args.store, args.transport, args.concurrency
    );
    println!(
        "| round | gateway flows/s | start p50/p99 ms | delivery p50/p99 ms | check p50/p99 ms | ceiling flows/s | ratio | cpu gw+harness / redis / others |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (c, g)) in pairs.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} | {:.0} % | {:.2} / {:.2} / {:.2} |",
            i + 1,
            g.rate(),
            l(g, "start").p50,
            l(g, "start").p99,
            l(g, "delivery").p50,
            l(g, "delivery").p99,
            l(g, "check").p50,
            l(g, "check").p99,
            c.rate(),
            100.0 * g.rate() / c.rate(),
            g.cpu.process,
            g.cpu.redis,
            g.cpu.others
        );
    }
}

/// Pre-creates verifications through the gateway (unmeasured) and returns (to, code).
async fn precreate(rig: &Rig, client: &Client, n: u64) -> Vec<(String, String)> {
    let out = Arc::new(Mutex::new(Vec::with_capacity(n as usize)));
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let numbers = NUMBERS.get().unwrap().clone();
    for w in 0..rig.args.concurrency.max(1) {
        let (client, sink, out, next, numbers) = (
            client.clone(),
            rig.sink.clone(),
            out.clone(),
            next.clone(),
            numbers.clone(),
        );
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let to = numbers.take();
                let rx = sink.expect(&to);
                if client.start(w, &to).await.is_err() {
                    sink.forget(&to);
                    continue;
                }
                if let Ok(Ok((code, _))) = tokio::time::timeout(DELIVERY_TIMEOUT, rx).await {
                    out.lock().unwrap().push((to, code));
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(out).unwrap().into_inner().unwrap()
}

/// Redis bytes per pending verification, through the store and through the gateway.
async fn memory(rig: &Rig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !matches!(rig.backend, Backend::Memory),
        "memory mode measures Redis: use --store redis or cluster"
    );
    let args = &rig.args;
    let direct = Direct::new(&rig.config()).await;
    // Consumer group and streams first, so the baseline holds them.
    let _ = direct.queue.receive("memory", 1).await;
    let before = rig.backend.used_memory();
    let numbers = NUMBERS.get().unwrap().clone();
    let next = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let direct = Arc::new(direct);
    let t = Instant::now();
    let workers = (0..args.concurrency.max(1)).map(|_| async {
        while next.fetch_add(1, Ordering::Relaxed) < args.pending {
            if direct.start(&numbers.take()).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    futures_util::future::join_all(workers).await;
    let made = args.pending - errors.load(Ordering::Relaxed);
    let queued = rig.backend.used_memory();
    println!(
        "\ncreated {made} pending verifications through the store in {:.1} s ({} errors)",
        t.elapsed().as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    let drained = direct.drain("memory").await;
    let delivered = rig.backend.used_memory();
    let per = |after: u64| (after as f64 - before as f64) / made.max(1) as f64;
    println!(
        "redis used_memory: before {before} B, after the starts {queued} B, after their sends were acked ({drained}) {delivered} B"
    );
    println!(
        "bytes per pending verification (record, pending index, send counter; with --limits on also the number's limit keys and its share of the prefix's): {:.0} B with its send queued, {:.0} B once sent",
        per(queued),
        per(delivered)
    );
    memory_breakdown(rig);

    if args.gateway_pending > 0 {
        let gw = Gateway::start(rig.config()).await;
        let client = rig.client(Some(&gw)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rig.backend.used_memory();
        let next = AtomicU64::new(0);
        let got = AtomicU64::new(0);
        let workers = (0..args.concurrency.max(1)).map(|w| {
            let (client, sink, numbers) = (client.clone(), rig.sink.clone(), numbers.clone());
            let (next, got) = (&next, &got);
            async move {
                while next.fetch_add(1, Ordering::Relaxed) < args.gateway_pending {
                    let to = numbers.take();
                    let rx = sink.expect(&to);
                    if client.start(w, &to).await.is_err() {
                        sink.forget(&to);
                        continue;
                    }
                    if let Ok(Ok(_)) = tokio::time::timeout(DELIVERY_TIMEOUT, rx).await {
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        futures_util::future::join_all(workers).await;
        // Let the workers record `sent` and ack the last sends.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rig.backend.used_memory();
        let n = got.load(Ordering::Relaxed);
        println!(
            "through the gateway: {n} verifications started and delivered, not checked: {:.0} B each (adds the provider message id link kept for receipts)",
            (after as f64 - before as f64) / n.max(1) as f64
        );
        gw.stop().await;
    }
    Ok(())
}

/// Bytes per pending verification of candidate key layouts (see `benches/layouts.lua`).
async fn layouts(rig: &Rig) -> anyhow::Result<()> {
    let Backend::Redis(node) = &rig.backend else {
        anyhow::bail!("layouts mode writes with one script across slots: use --store redis");
    };
    let script = include_str!("layouts.lua");
    let n = rig.args.pending;
    println!("\n| layout | keys | bytes per pending verification |\n|---|---|---|");
    for layout in [
        "current",
        "merged",
        "merged_compact",
        "one_key",
        "one_key_packed",
    ] {
        node.cli(&["FLUSHALL"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rig.backend.used_memory();
        let mut first = 0;
        while first < n {
            let c = (n - first).min(1000);
            let (f, cs) = (first.to_string(), c.to_string());
            let r = node.cli(&["EVAL", script, "0", layout, &f, &cs]);
            anyhow::ensure!(r.trim() == cs, "layouts.lua failed: {r}");
            first += c;
        }
        // Let incremental rehashing of the key tables finish before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rig.backend.used_memory();
        println!(
            "| {layout} | {} | {:.0} B |",
            node.cli(&["DBSIZE"]),
            (after as f64 - before as f64) / n.max(1) as f64
        );
    }
    Ok(())
}

/// `MEMORY USAGE` of one key of each kind (a sample, not a sum).
fn memory_breakdown(rig: &Rig) {
    let node = match &rig.backend {
        Backend::Redis(s) => s,
        Backend::Cluster(c) => &c.nodes[0],
        Backend::Memory => return,
    };
    let mut cursor = "0".to_string();
    let mut found: BTreeMap<&str, String> = BTreeMap::new();
    let kinds = [
        (":v:", "record"),
        (":n:", "pending index"),
        (":ls:", "send counter"),
        (":number:", "number's limits"),
        (":prefix:", "limit prefix/h"),
        ("}:s:", "pumping sends"),
    ];
    for _ in 0..200 {
        let out = node.cli(&["SCAN", &cursor, "COUNT", "1000"]);
        let mut lines = out.lines();
        cursor = lines.next().unwrap_or("0").to_string();
        for k in lines {
            for (needle, name) in kinds {
                if k.contains(needle) && !found.contains_key(name) {
                    found.insert(name, k.to_string());
                }
            }
        }
        if found.len() == kinds.len() || cursor == "0" {
            break;
        }
    }
    for (name, key) in &found {
        let usage = node.cli(&["MEMORY", "USAGE", key, "SAMPLES", "0"]);
        let enc = node.cli(&["OBJECT", "ENCODING", key]);
        println!(
            "   {name:<14} {usage:>5} B ({enc}, key name {} B) e.g. {key}",
            key.len()
        );
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if std::env::args().len() == 1 {
        // `cargo test --all-targets` runs benches bare: a few flows prove the harness works.
        args.count = Some(20);
        args.warmup = 0.0;
        args.concurrency = 4;
    }
    otpgw::providers::webhook::install_tls_provider();
    // Redis first, outside the runtime (the helper waits with blocking sleeps).
    let backend = Backend::start(args.store);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(run(args, backend));
    rt.shutdown_timeout(Duration::from_secs(2));
    r
}
