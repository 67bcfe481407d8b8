//! Metrics: after a scripted scenario the expected series exist and moved by the
//! expected amounts; label sets stay bounded however many numbers are used.

mod support;

use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use support::app::{number, wrong};
use support::{spawn_app, Backend, TestApp};

/// Parses the text exposition into `series{labels}` -> value.
async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_scenario_moves_the_expected_series() {
    let app = spawn_app(Backend::Memory, |c| {
        c.tenants.get_mut("demo").unwrap().resend_cooldown_secs = 0
    })
    .await;
    let before = scrape(&app).await;
    assert_eq!(get(&before, r#"otpgw_build_info{version="0.1.0"}"#), 1.0);

    let (a, b) = (number(), number());
    assert_eq!(app.start(&a).await.status, 201);
    let code_a = app.code_for(&a).await;
    assert_eq!(app.start(&a).await.status, 200, "resend");
    assert_eq!(app.start(&b).await.status, 201);
    let code_b = app.code_for(&b).await;
    assert_eq!(app.check(&a, &wrong(&code_a)).await.body["valid"], false);
    assert_eq!(app.check(&a, &code_a).await.body["valid"], true);
    assert_eq!(app.check(&a, &code_a).await.status, 404);
    let id_b = app.fetch_pending_id(&b, &code_b).await;
    assert_eq!(app.cancel(&id_b).await.status, 200);
    app.post("/v1/verifications", json!({"to": "nope"})).await;
    // Let the three sends finish.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = scrape(&app).await;

    let moved = |k: &str| get(&after, k) - get(&before, k);
    assert_eq!(
        moved(r#"otpgw_verifications_started_total{channel="sms",country="US",tenant="demo"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"otpgw_verifications_resent_total{channel="sms",country="US",tenant="demo"}"#),
        1.0
    );
    // One wrong code for a, and the id lookup of b (a code that cannot match).
    assert_eq!(
        moved(r#"otpgw_checks_total{outcome="wrong",tenant="demo"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"otpgw_checks_total{outcome="approved",tenant="demo"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"otpgw_checks_total{outcome="not_found",tenant="demo"}"#),
        1.0
    );
    assert_eq!(
        moved(
            r#"otpgw_verifications_finished_total{channel="sms",country="US",outcome="approved",tenant="demo"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(
            r#"otpgw_verifications_finished_total{channel="sms",country="US",outcome="canceled",tenant="demo"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(r#"otpgw_sends_total{outcome="accepted",provider="console"}"#),
        3.0
    );
    assert_eq!(
        moved(r#"otpgw_send_duration_seconds_count{provider="console"}"#),
        3.0
    );
    assert_eq!(
        moved(r#"otpgw_message_segments_count{encoding="gsm7"}"#),
        3.0
    );
    assert_eq!(
        moved(r#"otpgw_http_requests_total{method="POST",route="/v1/verifications",status="201"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"otpgw_http_requests_total{method="POST",route="/v1/verifications",status="400"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"otpgw_store_operation_duration_seconds_count{op="start"}"#),
        3.0
    );
    assert_eq!(
        get(&after, r#"otpgw_breaker_state{provider="console"}"#),
        0.0
    );
    assert_eq!(get(&after, "otpgw_queue_depth"), 0.0);

    // A limit refusal is counted by scope.
    let c = number();
    app.start(&c).await;
    let t = spawn_limited(&app, &c).await;
    assert!(t >= 1.0);
}

async fn spawn_limited(app: &TestApp, to: &str) -> f64 {
    // max_sends is 5: the sixth start is refused.
    for _ in 0..5 {
        app.start(to).await;
    }
    let m = scrape(app).await;
    get(&m, r#"otpgw_rate_limited_total{scope="max_sends"}"#)
}

/// Series names with their labels, histogram buckets folded into their series.
fn label_sets(m: &BTreeMap<String, f64>) -> BTreeSet<String> {
    m.keys()
        .filter(|k| !k.contains("_bucket{"))
        .map(|k| k.replace("_sum{", "{").replace("_count{", "{"))
        .collect()
}

async fn flows(app: &std::sync::Arc<TestApp>, from: u32, count: u32) {
    let mut tasks = Vec::new();
    for w in 0..16u32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = from + w;
            while n < from + count {
                let to = format!("+1415{}{:04}", 230 + n / 10_000, n % 10_000);
                let r = app.start(&to).await;
                assert_eq!(r.status, 201, "{to}: {}", r.text);
                app.check(&to, "0000000").await;
                n += 16;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_sets_stay_bounded_after_ten_thousand_distinct_numbers() {
    let app = std::sync::Arc::new(
        spawn_app(Backend::Memory, |c| {
            c.delivery.queue_capacity = 20_000;
        })
        .await,
    );
    flows(&app, 0, 200).await;
    scrape(&app).await;
    let early = label_sets(&scrape(&app).await);
    flows(&app, 200, 9_800).await;
    let after = scrape(&app).await;
    let late = label_sets(&after);
    let grown: Vec<&String> = late.difference(&early).collect();
    assert!(
        grown.is_empty(),
        "9 800 more numbers added label sets: {grown:?}"
    );
    for k in after.keys() {
        assert!(!k.contains("+1415"), "a number became a label: {k}");
        assert!(!k.contains("vrf_"), "an id became a label: {k}");
    }
    assert_eq!(
        get(
            &after,
            r#"otpgw_verifications_started_total{channel="sms",country="US",tenant="demo"}"#
        ),
        10_000.0
    );
}

trait Pending {
    async fn fetch_pending_id(&self, to: &str, code: &str) -> String;
}

impl Pending for TestApp {
    /// The id of the verification pending for `to`, read with a check that cannot pass
    /// (a 10-digit code never matches a 6-digit one) and so costs nothing but an attempt.
    async fn fetch_pending_id(&self, to: &str, code: &str) -> String {
        let r = self
            .post(
                "/v1/verifications/check",
                json!({"to": to, "code": format!("{code}0000")}),
            )
            .await;
        r.body["id"].as_str().unwrap().to_string()
    }
}

const METRICS_TOKEN: &str = "otpgw_metrics_scraper_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_hash_set_metrics_need_the_token() {
    let app = spawn_app(Backend::Memory, |c| {
        c.metrics.bearer_token_hash = Some(otpgw::crypto::hash_api_key(METRICS_TOKEN));
    })
    .await;
    let scrape = |token: Option<&str>| {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        app.send(r)
    };
    for (token, why) in [
        (None, "no token"),
        (Some(app.key.as_str()), "a tenant's key"),
    ] {
        let r = scrape(token).await;
        assert_eq!(r.status, 401, "{why}: {}", r.text);
        assert_eq!(r.code(), "unauthorized", "{why}");
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/problem+json"));
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
        assert!(!r.text.contains("otpgw_"), "{why}: series leaked");
    }
    let r = scrape(Some(METRICS_TOKEN)).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("otpgw_build_info"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_listen_set_metrics_move_off_the_api_port() {
    let app = spawn_app(Backend::Memory, |c| {
        c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let on_api = app.send(app.http.get(app.url("/metrics"))).await;
    assert_eq!(on_api.status, 404, "{}", on_api.text);
    let metrics = app.metrics_addr.expect("a metrics listener");
    let r = app
        .send(app.http.get(format!("http://{metrics}/metrics")))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("otpgw_build_info"));
    let r = app
        .send(app.http.get(format!("http://{metrics}/healthz")))
        .await;
    assert_eq!(r.status, 404, "only /metrics is served there");
    let r = app
        .send(app.http.get(format!("http://{metrics}/v1/verifications/x")))
        .await;
    assert_eq!(r.status, 404, "the API is not served there");
}

/// Calls of the commands a refresh of the store-backed gauges makes, from
/// `INFO commandstats` of a private Redis.
fn gauge_commands(redis: &support::redis::RedisServer) -> u64 {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter(|l| {
            ["cmdstat_xlen:", "cmdstat_xrange:", "cmdstat_hgetall:"]
                .iter()
                .any(|c| l.starts_with(c))
        })
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_makes_no_store_calls() {
    let redis = support::redis::RedisServer::start();
    let url = redis.url();
    let app = spawn_app(Backend::Memory, move |c| {
        c.store.kind = otpgw::config::StoreKind::Redis;
        c.store.redis.url = otpgw::config::Secret(url);
        c.metrics.refresh_interval_ms = 3_600_000;
    })
    .await;
    // Serving, so the refresh at startup has begun; wait until it is over.
    scrape(&app).await;
    let mut last = u64::MAX;
    while gauge_commands(&redis) != last {
        last = gauge_commands(&redis);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let before = gauge_commands(&redis);
    for _ in 0..50 {
        scrape(&app).await;
    }
    let after = gauge_commands(&redis);
    assert_eq!(
        after - before,
        0,
        "50 scrapes made {} store calls",
        after - before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_backed_gauges_follow_the_queue_on_their_interval() {
    use support::sink::{Behaviour, Sink};
    let sink = Sink::start(Behaviour::Delay(std::time::Duration::from_millis(1_500))).await;
    let url = sink.url();
    let app = spawn_app(Backend::Memory, move |c| {
        let hook = otpgw::providers::webhook::Config {
            url,
            timeout_ms: 5_000,
            ..Default::default()
        };
        let hook = otpgw::providers::ProviderConfig::Webhook(hook);
        c.providers.insert("hook".into(), hook);
        c.routing.default = vec!["hook".into()];
        c.delivery.concurrency = 1;
        c.metrics.refresh_interval_ms = 100;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.start(&number()).await.status, 201);
    }
    let depth = async |want: fn(f64) -> bool| {
        let t = std::time::Instant::now();
        while !want(get(&scrape(&app).await, "otpgw_queue_depth")) {
            assert!(t.elapsed().as_secs() < 10, "otpgw_queue_depth never moved");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    depth(|d| d >= 2.0).await;
    depth(|d| d == 0.0).await;
}
