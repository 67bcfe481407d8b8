//! The console's scripted scenario: two gateways on one Redis, two Twilio providers
//! (local HTTP stand-ins; the first answers 500 to everything, so every send fails over
//! to the second), numbers in three countries, a send the second provider rejects,
//! approvals, signed delivery receipts, and a second tenant whose pumping guard blocks a
//! prefix. [`run`] returns what the console must then show.

use super::support::app::{base_config, number, spawn_with, TestApp};
use super::support::Backend;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN_KEY: &str = "otpgw_admin_key_for_console_tests_only";
/// The second tenant's API key (tenant `shop`, pumping guard enforcing).
pub const SHOP_KEY: &str = "otpgw_shop_key_for_console_tests_only";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-console-tests";
const PUBLIC: &str = "https://otp.example.com";

/// What a stand-in saw and answered.
#[derive(Default)]
pub struct Seen {
    /// Message body per `To`.
    pub bodies: HashMap<String, String>,
    /// Message sid per `To`.
    pub sids: HashMap<String, String>,
    /// Numbers answered `400` with Twilio's 21211 (invalid `To`).
    pub reject: HashSet<String>,
    /// Messages answered `500` (a failing stand-in).
    pub failed: i64,
}

/// A Twilio Messages resource on a free port.
pub struct StandIn {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
}

async fn messages(
    State((failing, seen)): State<(bool, Arc<Mutex<Seen>>)>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if failing {
        seen.lock().unwrap().failed += 1;
        let e = json!({"code": 20500, "message": "Internal Server Error", "status": 500});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(e));
    }
    let to = f.get("To").cloned().unwrap_or_default();
    let mut s = seen.lock().unwrap();
    if s.reject.contains(&to) {
        let e = json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400});
        return (StatusCode::BAD_REQUEST, Json(e));
    }
    let sid = format!("SM{}", hex::encode(otpgw::crypto::random_bytes::<16>()));
    s.bodies
        .insert(to.clone(), f.get("Body").cloned().unwrap_or_default());
    s.sids.insert(to, sid.clone());
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued"})),
    )
}

/// Starts a stand-in; `failing` answers `500` to every message.
pub async fn twilio(failing: bool) -> StandIn {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(messages),
        )
        .with_state((failing, seen.clone()));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    StandIn {
        url: format!("http://{addr}"),
        seen,
    }
}

fn provider(url: &str) -> otpgw::providers::ProviderConfig {
    let prices = [("default".to_string(), 0.05), ("US".to_string(), 0.08)];
    otpgw::providers::ProviderConfig::Twilio(otpgw::providers::twilio::Config {
        base_url: url.to_string(),
        account_sid: SID.into(),
        auth_token: Some(TOKEN.into()),
        from: Some("+15005550006".into()),
        prices: prices.into_iter().collect(),
        ..Default::default()
    })
}

/// The scenario's config on `redis_url` (the shared test Redis when `None`): providers
/// `tw_bad` then `tw_ok`, both priced 0.05 (0.08 to the US), flushing every 100 ms, an
/// admin key, and tenant `shop` whose guard blocks a prefix after about one send.
pub fn config(bad: &str, ok: &str, redis_url: Option<String>) -> (otpgw::config::Config, String) {
    let (mut c, prefix) = base_config(Backend::Redis);
    if let Some(u) = redis_url {
        c.store.redis.url = otpgw::config::Secret(u);
        c.store.redis.connect_timeout_ms = 200;
        c.store.redis.command_timeout_ms = 200;
    }
    c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
    c.stats.flush_ms = 100;
    c.providers.insert("tw_bad".into(), provider(bad));
    c.providers.insert("tw_ok".into(), provider(ok));
    c.routing.default = vec!["tw_bad".into(), "tw_ok".into()];
    c.receipts.public_base_url = Some(PUBLIC.into());
    let mut shop = c.tenants["demo"].clone();
    shop.api_keys = vec![otpgw::crypto::hash_api_key(SHOP_KEY)];
    shop.pumping.mode = otpgw::config::PumpingMode::Enforce;
    shop.pumping.levels.prefix.budget = 1.0;
    shop.pumping.block_secs = 600;
    c.tenants.insert("shop".into(), shop);
    (c, prefix)
}

/// Two gateways on one config (one Redis, one key prefix).
pub async fn two_gateways(c: otpgw::config::Config, prefix: String) -> (TestApp, TestApp) {
    otpgw::providers::webhook::install_tls_provider();
    let a = spawn_with(c.clone(), prefix.clone(), Backend::Redis).await;
    let b = spawn_with(c, prefix, Backend::Redis).await;
    (a, b)
}

/// What the console must show after [`run`].
#[derive(Debug)]
pub struct Expected {
    pub starts: i64,
    pub approvals: i64,
    /// Starts per country.
    pub us: i64,
    pub gb: i64,
    pub fr: i64,
    pub accepted: i64,
    pub failed: i64,
    pub delivered: i64,
    pub refused: i64,
    /// Thousandths.
    pub spend_milli: i64,
    pub avoided_milli: i64,
    /// A number with one verification (tenant `demo`), for the lookup.
    pub looked_up: String,
}

/// Waits for the stand-in to have a message to `to`; its code.
pub async fn code_at(ok: &StandIn, to: &str) -> String {
    let t = Instant::now();
    loop {
        if let Some(b) = ok.seen.lock().unwrap().bodies.get(to) {
            return super::support::app::extract_code(b);
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no message to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A delivered status callback for `sid`, signed as Twilio signs it.
async fn delivered(app: &TestApp, sid: &str) {
    let p = [("MessageSid", sid), ("MessageStatus", "delivered")];
    let status = super::support::twilio::receipt(app, PUBLIC, "tw_ok", TOKEN, &p).await;
    assert_eq!(status, 200);
}

/// A start of `tenant_key`'s tenant on `app`.
pub async fn start_as(app: &TestApp, key: &str, to: &str) -> u16 {
    let r = app
        .http
        .post(app.url("/v1/verifications"))
        .bearer_auth(key)
        .json(&json!({ "to": to }))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Plays the scenario on `a` and `b`; what the fleet numbers must then be.
pub async fn run(a: &TestApp, b: &TestApp, ok: &StandIn) -> Expected {
    let us: Vec<String> = (0..3).map(|_| number()).collect();
    let gb = ["+447400123456", "+447400123457"];
    let fr = "+33612345678";
    let rejected = number();
    ok.seen.lock().unwrap().reject.insert(rejected.clone());
    for n in us.iter().chain([&rejected]) {
        assert_eq!(a.start(n).await.status, 201);
    }
    for n in gb.iter().chain([&fr]) {
        assert_eq!(b.start(n).await.status, 201);
    }
    // Approvals cross instances: started on one, checked on the other.
    for (app, n) in [(b, us[0].as_str()), (b, us[1].as_str()), (a, gb[0])] {
        let code = code_at(ok, n).await;
        assert_eq!(app.check(n, &code).await.body["valid"], true);
    }
    for n in &us[..2] {
        let sid = ok.seen.lock().unwrap().sids[n].clone();
        delivered(a, &sid).await;
    }
    // Tenant `shop` pumps one prefix until its guard has refused twice.
    let p = number();
    let prefix = &p[..p.len() - 3];
    let (mut shop_starts, mut refused) = (0, 0);
    for i in 0..60u32 {
        match start_as(b, SHOP_KEY, &format!("{prefix}{:03}", i * 7 % 1000)).await {
            201 => shop_starts += 1,
            _ => refused += 1,
        }
        if refused == 2 {
            break;
        }
    }
    assert_eq!(refused, 2, "the guard never refused twice");
    let us_starts = 4 + shop_starts;
    let accepted = 3 + shop_starts + 3;
    Expected {
        starts: us_starts + 3,
        approvals: 3,
        us: us_starts,
        gb: 2,
        fr: 1,
        accepted,
        failed: 1,
        delivered: 2,
        refused,
        spend_milli: (3 + shop_starts) * 80 + 3 * 50,
        avoided_milli: refused * 80,
        looked_up: us[0].clone(),
    }
}

/// Waits until the fleet numbers (read through `app`'s JSON route) add up to `e`.
pub async fn wait_for_numbers(app: &TestApp, e: &Expected) -> Value {
    let t = Instant::now();
    loop {
        let req = app
            .http
            .get(app.url("/v1/admin/stats?window=1h&by=country"))
            .bearer_auth(ADMIN_KEY);
        let body = app.send(req).await.body;
        let tot = &body["totals"];
        let refused: i64 = tot["refused"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_i64).sum());
        let got = (
            tot["starts"].as_i64(),
            tot["approvals"].as_i64(),
            tot["accepted"].as_i64(),
            tot["failed"].as_i64(),
            tot["delivered"].as_i64(),
            refused,
        );
        let want = (
            Some(e.starts),
            Some(e.approvals),
            Some(e.accepted),
            Some(e.failed),
            Some(e.delivered),
            e.refused,
        );
        if got == want {
            return body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the fleet numbers never added up: got {got:?}, want {want:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
