//! Redis Sentinel: a primary, a replica and three sentinels on free ports. The primary is
//! killed (SIGKILL) while starts and checks flow, or handed over on purpose (`SENTINEL
//! FAILOVER`); the gateway must find the promoted replica by itself, answering only 2xx
//! or `503 store_unavailable` with `Retry-After` meanwhile, never hanging, and work again
//! without a restart. Replication is asynchronous: a write the primary took in its last
//! moment may be lost with it (and in a switchover, one the old master took before the
//! gateway left it), so only verifications known to be on the replica beforehand are
//! required to survive; a check that finds its start lost answers 404 and is counted as
//! `lost`, not failed.

mod support;

use otpgw::config::{Secret, SentinelConfig, StoreKind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use support::app::Resp;
use support::sentinel::{SentinelSet, MASTER_NAME};
use support::{spawn_app, Backend, TestApp};

/// The gateway's whole-request deadline; a request may not take longer than this (+1 s).
const REQUEST_TIMEOUT_MS: u64 = 3_000;
/// Stop the load once this many starts succeeded after the kill.
const RECOVERED_STARTS: usize = 40;
/// Bounds of the load: requests after the fault is marked, and time.
const MAX_REQUESTS: usize = 6_000;
const MAX_LOAD: Duration = Duration::from_secs(40);

async fn on_sentinels(set: &SentinelSet) -> TestApp {
    let addresses = set.urls().into_iter().map(Secret).collect();
    let url = Secret(set.master_url());
    spawn_app(Backend::Memory, move |cfg| {
        cfg.store.kind = StoreKind::Redis;
        cfg.store.redis.url = url;
        cfg.store.redis.sentinel = Some(SentinelConfig {
            master_name: MASTER_NAME.into(),
            addresses,
        });
        cfg.store.redis.command_timeout_ms = 300;
        cfg.store.redis.connect_timeout_ms = 500;
        cfg.server.request_timeout_ms = REQUEST_TIMEOUT_MS;
    })
    .await
}

/// Distinct valid numbers (random ones may collide and answer a resend's 429): one
/// random base per run, then a counter shared by every caller.
fn numbers() -> impl FnMut() -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        u64::from(u32::from_be_bytes(otpgw::crypto::random_bytes::<4>())) % 1_000_000
    });
    move || {
        let i = base + NEXT.fetch_add(1, Ordering::Relaxed);
        // Exchanges [2-9][3-9][0-9]: never an N11 code, 560 of them, one to one.
        let k = (i / 10_000) % 560;
        let exchange = (2 + k / 70) * 100 + 30 + k % 70;
        format!("+1415{exchange}{:04}", i % 10_000)
    }
}

/// What the load saw.
#[derive(Default, Debug)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    /// Answers that are neither 2xx nor 503 + Retry-After + store_unavailable.
    bad: Vec<String>,
    /// Checks answering 404 for a start the dead primary took just before the kill.
    lost: usize,
    slowest: Duration,
    /// Starts that succeeded although sent after the kill.
    ok_after_kill: usize,
    first_ok_after_kill: Option<Instant>,
    last_503: Option<Instant>,
}

impl Tally {
    fn see(&mut self, what: &str, r: &Resp, took: Duration, lost_ok: bool) {
        *self.statuses.entry(r.status).or_default() += 1;
        self.slowest = self.slowest.max(took);
        match r.status {
            200..=299 => {}
            503 if r.header("retry-after").is_some() && r.code() == "store_unavailable" => {
                self.last_503 = Some(Instant::now());
            }
            404 if lost_ok => self.lost += 1,
            _ => self.bad.push(format!("{what}: {} {}", r.status, r.text)),
        }
    }

    fn merge(&mut self, o: Tally) {
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.bad.extend(o.bad);
        self.lost += o.lost;
        self.slowest = self.slowest.max(o.slowest);
        self.ok_after_kill += o.ok_after_kill;
        self.first_ok_after_kill = match (self.first_ok_after_kill, o.first_ok_after_kill) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_503 = self.last_503.max(o.last_503);
    }
}

/// One request, bounded: a hang past the gateway's own deadline fails the test.
async fn timed(f: impl std::future::Future<Output = Resp>) -> (Resp, Duration) {
    let (t, limit) = (Instant::now(), REQUEST_TIMEOUT_MS + 1_000);
    let r = tokio::time::timeout(Duration::from_millis(limit), f).await;
    (r.expect("a request hung"), t.elapsed())
}

/// Starts and checks (a wrong code) from `workers` loops until `RECOVERED_STARTS` starts
/// succeeded after `killed` was set, or a bound is hit.
async fn load(app: Arc<TestApp>, workers: usize, killed: Arc<OnceLock<Instant>>) -> Tally {
    let ok_after = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let stop_at = Instant::now() + MAX_LOAD;
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (app, killed, ok_after, sent) =
            (app.clone(), killed.clone(), ok_after.clone(), sent.clone());
        handles.push(tokio::spawn(async move {
            let mut next = numbers();
            let mut t = Tally::default();
            // Requests count towards the cap only once the fault is marked: a fast
            // machine must not run out of load before the fault has happened.
            while ok_after.load(Ordering::Relaxed) < RECOVERED_STARTS
                && (killed.get().is_none() || sent.fetch_add(2, Ordering::Relaxed) < MAX_REQUESTS)
                && Instant::now() < stop_at
            {
                let to = next();
                let (r, took) = timed(app.start(&to)).await;
                t.see("start", &r, took, false);
                if r.status != 201 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let after_kill = killed.get().is_some_and(|k| k.elapsed() > took);
                if after_kill {
                    ok_after.fetch_add(1, Ordering::Relaxed);
                    t.ok_after_kill += 1;
                    t.first_ok_after_kill.get_or_insert_with(Instant::now);
                }
                let (c, took) = timed(app.check(&to, "000000")).await;
                t.see("check", &c, took, !after_kill);
            }
            t
        }));
    }
    let mut total = Tally::default();
    for h in handles {
        total.merge(h.await.unwrap());
    }
    total
}

/// Starts verifications, reads their codes and waits until the replica has them.
async fn known_before(app: &TestApp, set: &SentinelSet, n: usize) -> Vec<(String, String)> {
    let mut next = numbers();
    let mut known = Vec::new();
    for _ in 0..n {
        let to = next();
        let r = app.start(&to).await;
        assert_eq!(r.status, 201, "{}", r.text);
        known.push((to.clone(), app.code_for(&to).await));
    }
    tokio::task::block_in_place(|| set.wait_replicated());
    known
}

/// After the failover: known verifications approve with their codes, and a whole new
/// flow (start, delivery, right code) works on the new master.
async fn works_after(app: &TestApp, known: &[(String, String)]) {
    for (to, code) in known {
        let r = app.check(to, code).await;
        assert_eq!(r.status, 200, "{to}: {}", r.text);
        assert_eq!(r.body["valid"], true, "{to}: {}", r.text);
    }
    let to = numbers()();
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = app.code_for(&to).await;
    assert_eq!(app.check(&to, &code).await.body["valid"], true);
    assert_eq!(app.get("/readyz").await.status, 200);
}

fn report(name: &str, t: &Tally, kill: Instant) {
    let since = |i: Option<Instant>| i.map(|i| format!("{:.2}s", (i - kill).as_secs_f64()));
    eprintln!(
        "{name}: statuses {:?}; {} starts after the kill, the first 2xx at {:?}, last 503 \
         at {:?}; {} lost start(s); slowest answer {} ms",
        t.statuses,
        t.ok_after_kill,
        since(t.first_ok_after_kill),
        since(t.last_503),
        t.lost,
        t.slowest.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_under_load_is_replaced_without_a_restart() {
    let set = SentinelSet::start();
    let app = Arc::new(on_sentinels(&set).await);
    let known = known_before(&app, &set, 5).await;
    let killed = Arc::new(OnceLock::new());
    let load = tokio::spawn(load(app.clone(), 4, killed.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    tokio::task::block_in_place(|| set.kill_primary());
    let kill = Instant::now();
    killed.set(kill).unwrap();
    let t = load.await.unwrap();
    report("SIGKILL", &t, kill);

    assert!(
        t.bad.is_empty(),
        "only 2xx or 503 + Retry-After: {:#?}",
        t.bad
    );
    assert!(t.statuses.contains_key(&503), "the outage was seen: {t:?}");
    assert!(
        t.ok_after_kill >= RECOVERED_STARTS,
        "no recovery without a restart within {MAX_LOAD:?}: {t:?}"
    );
    assert_eq!(
        set.master_port(),
        Some(set.replica.port),
        "the replica was promoted"
    );
    works_after(&app, &known).await;
}

/// Scripts the node on `port` has run (`INFO commandstats`): only the gateway runs any.
fn script_calls(set: &SentinelSet, port: u16) -> u64 {
    let stats = set.node_cli(port, &["INFO", "commandstats"]);
    stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split_once("calls=")?
                .1
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_switchover_behind_passwords_is_followed_without_a_restart() {
    let set = SentinelSet::start_with(Some("master-pw"), Some("sentinel-pw"));
    let app = Arc::new(on_sentinels(&set).await);
    let known = known_before(&app, &set, 3).await;
    let marked = Arc::new(OnceLock::new());
    let load = tokio::spawn(load(app.clone(), 2, marked.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The old primary stays up, a writable master, until the sentinels demote it seconds
    // later and so throw away what it took meanwhile: the gateway must leave it as soon
    // as the sentinels name the new master, not wait for the demotion.
    let out = set.sentinel_cli(set.sentinels[0], &["SENTINEL", "FAILOVER", MASTER_NAME]);
    assert_eq!(out, "OK");
    let old = set.primary.port;
    let (switched, left) = tokio::task::block_in_place(|| {
        set.wait_for_master(set.replica.port, Duration::from_secs(20));
        let switched = Instant::now();
        let (mut calls, mut changed) = (script_calls(&set, old), switched);
        while changed.elapsed() < Duration::from_millis(1_500) {
            assert!(
                switched.elapsed() < Duration::from_secs(15),
                "writes stayed on the old master"
            );
            std::thread::sleep(Duration::from_millis(100));
            let now = script_calls(&set, old);
            if now != calls {
                (calls, changed) = (now, Instant::now());
            }
        }
        (switched, changed)
    });
    let on_old = script_calls(&set, old);
    marked.set(Instant::now()).unwrap();
    let t = load.await.unwrap();
    report("SENTINEL FAILOVER (times from the switch)", &t, switched);
    eprintln!(
        "the last script on the old master ran {:.2}s after the sentinels named the new one",
        (left - switched).as_secs_f64()
    );

    let late = left - switched;
    assert!(late < Duration::from_secs(4), "left the old master late");
    assert!(t.bad.is_empty(), "only 2xx or 503: {:#?}", t.bad);
    assert!(t.ok_after_kill >= RECOVERED_STARTS, "no recovery: {t:?}");
    assert_eq!(
        script_calls(&set, old),
        on_old,
        "the old master took writes"
    );
    works_after(&app, &known).await;
}
