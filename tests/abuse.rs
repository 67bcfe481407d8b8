//! Abuse control over HTTP on every backend: rate-limit answers and headers, geo
//! permissions, the pumping guard and its admin API, local shedding, and the failed-check
//! limits per (number, client) and per number (`check_lockout.rs`).

#[path = "abuse/campaign.rs"]
mod campaign;
#[path = "abuse/check_lockout.rs"]
mod check_lockout;
#[path = "abuse/guard.rs"]
mod guard;
mod support;

use campaign::*;
use check_lockout::*;
use guard::*;
use serde_json::json;
use support::app::{number, Backend};
use support::spawn_app;

fn demo(c: &mut otpgw::Config) -> &mut otpgw::config::TenantConfig {
    c.tenants.get_mut("demo").unwrap()
}

support::on_every_backend_kind!(
    number_limit_answers_429_with_reason_and_headers,
    client_ip_limit_counts_only_requests_that_name_it,
    check_limits_count_checks_not_sends,
    geo_permissions_refuse_countries_and_number_types,
    a_pumped_prefix_is_blocked_explained_listed_and_lifted,
    a_thin_spread_is_stopped_at_the_range,
    a_client_spraying_ranges_is_challenged_and_a_passed_challenge_goes_through,
    shadow_mode_only_counts,
    a_shared_address_whose_users_type_codes_back_is_never_challenged,
    a_thin_spread_over_one_area_from_rotating_addresses_is_stopped,
    one_client_cycling_through_many_areas_is_stopped,
    safe_list_is_never_blocked,
    approvals_keep_a_converting_prefix_open,
    an_attackers_wrong_codes_do_not_lock_out_the_real_user,
    many_clients_together_trip_the_numbers_ceiling,
    without_a_client_the_numbers_limit_counts_every_failure,
    a_client_counts_by_its_ipv6_64_and_by_its_session,
);

async fn number_limit_answers_429_with_reason_and_headers(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = demo(c);
        t.resend_cooldown_secs = 0;
        t.limits.number_per_minute = 2;
        t.limits.tenant_sends_per_sec = 50;
    })
    .await;
    let to = number();
    let first = app.start(&to).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(
        first.header("ratelimit-policy").unwrap(),
        "\"number_per_minute\";q=2;w=60, \"tenant_sends\";q=50;w=1"
    );
    let rl = first.header("ratelimit").unwrap();
    assert!(rl.starts_with("\"number_per_minute\";r=1;t="), "{rl}");
    assert_eq!(app.start(&to).await.status, 200);
    let r = app.start(&to).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.text);
    assert_eq!(r.body["reason"], "number_per_minute");
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&secs), "{secs}");
    assert_eq!(
        r.header("ratelimit-policy").unwrap(),
        "\"number_per_minute\";q=2;w=60"
    );
    assert_eq!(
        r.header("ratelimit").unwrap(),
        format!("\"number_per_minute\";r=0;t={secs}")
    );
    // Another number is not affected.
    assert_eq!(app.start(&number()).await.status, 201);
}

async fn client_ip_limit_counts_only_requests_that_name_it(b: Backend) {
    let app = spawn_app(b, |c| demo(c).limits.client_ip_per_hour = 2).await;
    let with_ip = |ip: &str| json!({"to": number(), "client_ip": ip});
    for _ in 0..2 {
        let r = app.post("/v1/verifications", with_ip("203.0.113.7")).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app.post("/v1/verifications", with_ip("203.0.113.7")).await;
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (429, Some("client_ip"))
    );
    let r = app.post("/v1/verifications", with_ip("203.0.113.8")).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        app.start(&number()).await.status,
        201,
        "no client_ip, no IP limit"
    );
}

async fn check_limits_count_checks_not_sends(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = demo(c);
        t.limits.tenant_checks_per_sec = 2;
        t.limits.tenant_sends_per_sec = 100;
    })
    .await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let code = app.code_for(&to).await;
    let bad = support::app::wrong(&code);
    let r = app.check(&to, &bad).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("ratelimit-policy").unwrap(),
        "\"tenant_checks\";q=2;w=1"
    );
    assert_eq!(app.check(&to, &bad).await.status, 200);
    let r = app.check(&to, &code).await;
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (429, Some("tenant_checks"))
    );
    assert_eq!(
        app.start(&number()).await.status,
        201,
        "sends have their own quota"
    );
}

async fn geo_permissions_refuse_countries_and_number_types(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = demo(c);
        t.geo.allow_countries = vec!["US".into(), "GB".into()];
        t.geo.deny_number_types = vec!["premium_rate".into(), "toll_free".into()];
    })
    .await;
    let blocked = |r: &support::app::Resp, reason: &str| {
        assert_eq!(
            (r.status, r.code(), r.body["reason"].as_str()),
            (403, "destination_blocked", Some(reason)),
            "{}",
            r.text
        );
    };
    blocked(&app.start("+33612345678").await, "country_not_allowed");
    blocked(&app.start("+19005550123").await, "number_type_not_allowed");
    blocked(&app.start("+18005550123").await, "number_type_not_allowed");
    assert_eq!(app.start("+447400123456").await.status, 201, "GB mobile");
    assert_eq!(
        app.start(&number()).await.status,
        201,
        "US, fixed_line_or_mobile"
    );
    let app = spawn_app(b, |c| demo(c).geo.deny_countries = vec!["GB".into()]).await;
    blocked(&app.start("+447400123457").await, "country_not_allowed");
    assert_eq!(app.start(&number()).await.status, 201);
}

fn pumping(c: &mut otpgw::Config, mode: otpgw::config::PumpingMode) {
    guard::guard(c, mode);
}

/// Numbers in one prefix (`+1415<exchange>0` then 3 digits), distinct per call.
fn in_prefix(prefix: &str, i: u32) -> String {
    format!("{prefix}{i:03}")
}

fn random_prefix() -> String {
    guard::fresh_block(3)
}

async fn safe_list_is_never_blocked(b: Backend) {
    let prefix = random_prefix();
    let safe = prefix.clone();
    let app = spawn_app(b, move |c| {
        pumping(c, otpgw::config::PumpingMode::Enforce);
        demo(c).pumping.safe_list = vec![safe];
    })
    .await;
    for i in 0..10 {
        assert_eq!(app.start(&in_prefix(&prefix, i)).await.status, 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_shedding_refuses_a_flood_without_a_store_call() {
    let app = spawn_app(Backend::Redis, |c| {
        let t = demo(c);
        t.limits.local_ip_per_sec = 3;
        t.limits.client_ip_per_hour = 1000;
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let r = app
            .post(
                "/v1/verifications",
                json!({"to": number(), "client_ip": "198.51.100.1"}),
            )
            .await;
        codes.push((r.status, r.body["reason"].as_str().map(str::to_string)));
    }
    let shed = codes
        .iter()
        .filter(|(s, r)| *s == 429 && r.as_deref() == Some("client_ip"))
        .count();
    assert!(shed >= 6, "{codes:?}");
    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    assert!(
        metrics.contains(&format!(
            "otpgw_local_shed_total{{scope=\"client_ip\"}} {shed}"
        )),
        "every refusal was local: {metrics}"
    );
    // The Redis script ran only for the admitted ones.
    let script_calls = metrics
        .lines()
        .filter(|l| l.starts_with("otpgw_store_operation_duration_seconds_count{op=\"start\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert_eq!(script_calls as usize, 10 - shed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_and_guard_keys_hold_no_number_prefix_ip_or_session() {
    let app = spawn_app(Backend::Redis, |c| {
        let t = demo(c);
        t.limits = otpgw::config::LimitsConfig::default();
        t.pumping.mode = otpgw::config::PumpingMode::Enforce;
    })
    .await;
    let to = number();
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "client_ip": "203.0.113.99"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = app.code_for(&to).await;
    let check = json!({"to": to, "code": support::app::wrong(&code),
        "client_ip": "2001:db8:77:1::5", "client_session": "sess-in-no-key"});
    let r = app.post("/v1/verifications/check", check).await;
    assert_eq!(r.body["valid"], false, "{}", r.text);
    let keys = support::redis::shared_redis().cli(&["KEYS", &format!("{}:*", app.prefix)]);
    assert!(
        keys.contains("{rl:demo}") && keys.contains("{pg:demo}"),
        "{keys}"
    );
    assert!(
        keys.contains(":cf:demo:") && keys.matches(":cc:demo:").count() == 2,
        "the failed check counted per number and per client: {keys}"
    );
    let digits = to.trim_start_matches('+');
    for bad in [
        digits,
        &digits[..digits.len() - 3],
        "203.0.113.99",
        "2001:db8:77:1",
        "sess-in-no-key",
    ] {
        assert!(!keys.contains(bad), "`{bad}` appears in a key: {keys}");
    }
}

/// Every number of a prefix verifies: approvals keep conversion at 100 %, so the guard
/// never blocks however many sends (without approvals counted, send 5 would be refused).
async fn approvals_keep_a_converting_prefix_open(b: Backend) {
    let app = spawn_app(b, |c| pumping(c, otpgw::config::PumpingMode::Enforce)).await;
    let prefix = random_prefix();
    for i in 0..9 {
        let to = in_prefix(&prefix, i);
        let r = app.start(&to).await;
        assert_eq!(r.status, 201, "send {i}: {}", r.text);
        let code = app.code_for(&to).await;
        let r = app.check(&to, &code).await;
        assert_eq!(r.body["status"], "approved", "{}", r.text);
    }
    let r = app.start(&in_prefix(&prefix, 9)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Scripts run by one whole flow (start, delivery, check) on a private Redis node.
async fn scripts_per_flow(limits_on: bool) -> (u64, serde_json::Value) {
    let redis = support::redis::RedisServer::start();
    let url = redis.url();
    let app = spawn_app(Backend::Redis, move |c| {
        c.store.redis.url = otpgw::config::Secret(url);
        if limits_on {
            let t = demo(c);
            t.limits = otpgw::config::LimitsConfig::default();
            t.pumping.mode = otpgw::config::PumpingMode::Enforce;
        }
    })
    .await;
    let calls = || {
        let stats = redis.cli(&["INFO", "commandstats"]);
        let line = stats.lines().find(|l| l.starts_with("cmdstat_evalsha:"));
        let calls = line.and_then(|l| l.split(['=', ',']).nth(1)?.parse::<u64>().ok());
        calls.unwrap_or(0)
    };
    let to = number();
    // A first flow loads the scripts (NOSCRIPT, then EVAL) and connects.
    let warm = number();
    let r = app.start(&warm).await;
    let code = app.code_for(&warm).await;
    app.check(&warm, &code).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    settle(&app, &id).await;

    let before = calls();
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = app.code_for(&to).await;
    settle(&app, r.body["id"].as_str().unwrap()).await;
    let mut check = json!({"to": to, "code": code});
    if limits_on {
        // the failed-check limits per (number, client) are in the same script
        check["client_ip"] = json!("2001:db8:5::1");
        check["client_session"] = json!("sess-1");
    }
    let checked = app.post("/v1/verifications/check", check).await;
    assert_eq!(checked.body["status"], "approved", "{}", checked.text);
    let headers = serde_json::json!({
        "start": r.header("ratelimit-policy"),
        "check": checked.header("ratelimit-policy"),
    });
    (calls() - before, headers)
}

/// Waits until delivery has finished writing to the record.
async fn settle(app: &support::app::TestApp, id: &str) {
    for _ in 0..200 {
        if app.fetch(id).await.body["delivery"]["status"] == "sent" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{id} was never delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_and_the_guard_add_no_round_trip_on_one_node() {
    let (off, headers_off) = scripts_per_flow(false).await;
    let (on, headers) = scripts_per_flow(true).await;
    assert_eq!(headers_off["start"], serde_json::Value::Null);
    assert!(
        headers["start"]
            .as_str()
            .unwrap()
            .contains("number_per_minute")
            && headers["check"].as_str().unwrap().contains("tenant_checks"),
        "the limits were on: {headers}"
    );
    assert_eq!(
        on, off,
        "a start and a check are one script each, limits and guard included"
    );
}
