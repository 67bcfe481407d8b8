//! Spend from prices: `[providers.<name>.prices]` estimates, and the price Twilio
//! reports on its Message resource (`fetch_price`) replacing them, through the real
//! gateway on memory and Redis (`GET /v1/admin/stats`, `/metrics`); the price read's
//! faults (500, a hang, 404) keep the estimate, stop within the configured reads and
//! never hold up the receipt's answer; a price in another currency than
//! `stats.currency` is not used; a Vonage receipt's own `price` replaces the estimate
//! with no read at all.

mod support;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{spawn_app, Backend, TestApp};

const ADMIN_KEY: &str = "otpgw_admin_key_for_spend_tests_only";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-spend-tests";
const MESSAGE: &str = "SM00000000000000000000000000000002";

/// How the stand-in answers reads of the Message resource.
#[derive(Clone, Copy, PartialEq)]
enum Reads {
    /// `price: null` first, then `"-0.00750"`.
    NullThenPriced,
    /// 500 every time.
    Error500,
    /// Never answers in time.
    Hang,
    /// Twilio's 404 (error 20404).
    NotFound,
    /// `"-0.00650"` at once, in euros.
    InEuros,
}

struct Stand {
    reads: Reads,
    /// Reads of the resource with the right path and credentials.
    gets: AtomicUsize,
    /// Requests with a wrong path or wrong credentials.
    wrong: AtomicUsize,
}

/// Twilio's Messages resource: `POST …/Messages.json` answers a fixed sid; `GET
/// …/Messages/{sid}.json` checks the exact path and Basic auth and answers as `reads`.
async fn twilio_stand_in(reads: Reads) -> (String, Arc<Stand>) {
    use axum::routing::{get, post};
    let stand = Arc::new(Stand {
        reads,
        gets: AtomicUsize::new(0),
        wrong: AtomicUsize::new(0),
    });
    let resource = |s: State<Arc<Stand>>, p: Path<(String, String)>, h: HeaderMap| async move {
        read(s, p, h).await
    };
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(|| async {
                let body = json!({"sid": MESSAGE, "status": "queued", "price": null});
                (StatusCode::CREATED, axum::Json(body))
            }),
        )
        .route("/2010-04-01/Accounts/{sid}/Messages/{file}", get(resource))
        .with_state(stand.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), stand)
}

async fn read(
    State(s): State<Arc<Stand>>,
    Path((sid, file)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    let authorised = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&basic);
    if sid != SID || file != format!("{MESSAGE}.json") || !authorised {
        s.wrong.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = s.gets.fetch_add(1, Ordering::SeqCst);
    let resource = |price: Value| {
        let unit = match (price.is_null(), s.reads) {
            (true, _) => Value::Null,
            (false, Reads::InEuros) => json!("EUR"),
            (false, _) => json!("USD"),
        };
        let body = json!({"sid": MESSAGE, "account_sid": SID, "status": "delivered",
            "price": price, "price_unit": unit, "num_segments": "1"});
        axum::Json(body).into_response()
    };
    match s.reads {
        Reads::NullThenPriced if n == 0 => resource(Value::Null),
        Reads::NullThenPriced => resource(json!("-0.00750")),
        Reads::Error500 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Reads::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            resource(json!("-0.00750"))
        }
        Reads::InEuros => resource(json!("-0.00650")),
        Reads::NotFound => {
            let body = json!({"code": 20404, "message": "The requested resource was not found", "status": 404});
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}

/// A gateway sending through the stand-in as `tw`, priced 0.05 (US dollars) by
/// default, reading prices 50, 100 and 100 ms after a final receipt.
async fn gateway(backend: Backend, reads: Reads) -> (TestApp, Arc<Stand>) {
    let (base, stand) = twilio_stand_in(reads).await;
    let app = spawn_app(backend, move |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.stats.flush_ms = 100;
        c.stats.currency = Some("USD".into());
        let tw = otpgw::providers::twilio::Config {
            timeout_ms: 300,
            prices: [("default".to_string(), 0.05)].into(),
            fetch_price: true,
            fetch_price_delays_ms: vec![50, 100, 100],
            ..support::twilio::config(base, SID, TOKEN)
        };
        support::twilio::send_through(c, tw);
    })
    .await;
    (app, stand)
}

/// A status callback signed as Twilio signs it; its answer's status and how long it took.
async fn twilio_receipt(app: &TestApp, status: &str) -> (u16, Duration) {
    let params = [("MessageSid", MESSAGE), ("MessageStatus", status)];
    let t = Instant::now();
    let status =
        support::twilio::receipt(app, "https://otp.example.com", "tw", TOKEN, &params).await;
    (status, t.elapsed())
}

/// Starts one verification through `tw` and waits until the stand-in accepted it.
async fn send_one(app: &TestApp) {
    let id = app.start(&support::app::number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    while app.fetch(&id).await.body["delivery"]["status"] != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn totals(app: &TestApp) -> Value {
    let r = app.send(
        app.http
            .get(app.url("/v1/admin/stats?by=provider"))
            .bearer_auth(ADMIN_KEY),
    );
    let r = r.await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The value of the exposed series `name{labels}`, 0 when absent.
async fn series(app: &TestApp, name_and_labels: &str) -> f64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until the spend the API answers is `want`.
async fn spend_becomes(app: &TestApp, want: f64) -> Value {
    let t = Instant::now();
    loop {
        let body = totals(app).await;
        let spend = body["totals"]["spend"].as_f64().unwrap_or(-1.0);
        if (spend - want).abs() < 1e-9 {
            return body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "spend never {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The accepted send counts the config's 0.05; after its `delivered` receipt the price
/// read finds `null`, reads again, and Twilio's 0.0075 replaces the estimate: the API
/// answers 0.0075 per provider, `/metrics` shows the parts, the receipt and its latency.
async fn a_reported_price_replaces_the_estimate(backend: Backend) {
    let (app, stand) = gateway(backend, Reads::NullThenPriced).await;
    send_one(&app).await;
    spend_becomes(&app, 0.05).await;
    let (status, took) = twilio_receipt(&app, "delivered").await;
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_millis(300),
        "the receipt waited: {took:?}"
    );
    let body = spend_becomes(&app, 0.0075).await;
    let tw = body["spend"]["per_provider"]["tw"]["spend"]
        .as_f64()
        .unwrap();
    assert!((tw - 0.0075).abs() < 1e-9, "{body}");
    assert_eq!(stand.gets.load(Ordering::SeqCst), 2, "one null, one price");
    assert_eq!(stand.wrong.load(Ordering::SeqCst), 0, "exact path and auth");
    let part = |p: &str| format!(r#"otpgw_spend_total{{channel="sms",part="{p}",provider="tw"}}"#);
    assert_eq!(series(&app, &part("estimate")).await, 0.05);
    assert_eq!(series(&app, &part("reported")).await, 0.0075);
    assert_eq!(series(&app, &part("replaced")).await, 0.05);
    let priced = r#"otpgw_price_fetches_total{outcome="priced",provider="tw"}"#;
    assert_eq!(series(&app, priced).await, 1.0);
    let delivered = r#"otpgw_delivery_receipts_total{provider="tw",status="delivered"}"#;
    assert_eq!(
        series(&app, delivered).await,
        1.0,
        "HTTP receipts are counted"
    );
    let latency = r#"otpgw_delivery_latency_seconds_count{provider="tw"}"#;
    assert_eq!(series(&app, latency).await, 1.0);
    app.stop().await;
}

/// A read that fails (`reads`) keeps the estimate: `reads_made` reads, no more, the
/// outcome `failed`, the receipt answered at once (under 300 ms: waiting for even the
/// first read would take its 50 ms delay plus, for the hang, its 300 ms timeout).
async fn a_failing_read_keeps_the_estimate(backend: Backend, reads: Reads, reads_made: usize) {
    let (app, stand) = gateway(backend, reads).await;
    send_one(&app).await;
    let (status, took) = twilio_receipt(&app, "undelivered").await;
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_millis(300),
        "the receipt waited: {took:?}"
    );
    let failed = r#"otpgw_price_fetches_total{outcome="failed",provider="tw"}"#;
    let t = Instant::now();
    while series(&app, failed).await != 1.0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the reads never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(stand.gets.load(Ordering::SeqCst), reads_made);
    assert_eq!(stand.wrong.load(Ordering::SeqCst), 0);
    spend_becomes(&app, 0.05).await;
    app.stop().await;
}

async fn a_500_is_read_again_and_then_the_estimate_stays(backend: Backend) {
    a_failing_read_keeps_the_estimate(backend, Reads::Error500, 3).await;
}

async fn a_hanging_read_times_out_and_the_estimate_stays(backend: Backend) {
    a_failing_read_keeps_the_estimate(backend, Reads::Hang, 3).await;
}

async fn a_404_is_not_read_again(backend: Backend) {
    a_failing_read_keeps_the_estimate(backend, Reads::NotFound, 1).await;
}

/// A price Twilio reports in euros, with `stats.currency = "USD"`: read once, not
/// recorded (the estimate stays), counted as `other_currency`.
async fn a_price_in_another_currency_keeps_the_estimate(backend: Backend) {
    let (app, stand) = gateway(backend, Reads::InEuros).await;
    send_one(&app).await;
    let (status, _) = twilio_receipt(&app, "delivered").await;
    assert_eq!(status, 200);
    let other = r#"otpgw_price_fetches_total{outcome="other_currency",provider="tw"}"#;
    let t = Instant::now();
    while series(&app, other).await != 1.0 {
        assert!(t.elapsed() < Duration::from_secs(5), "never read");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        stand.gets.load(Ordering::SeqCst),
        1,
        "a price came: no more reads"
    );
    let priced = r#"otpgw_price_fetches_total{outcome="priced",provider="tw"}"#;
    assert_eq!(series(&app, priced).await, 0.0);
    spend_becomes(&app, 0.05).await;
    app.stop().await;
}

const VG_MESSAGE: &str = "0C000000217B7F02";
const VG_TOKEN: &str = "rcpt-0123456789abcdef";

/// Vonage's SMS API answering the documented accepted message with a fixed id.
async fn vonage_stand_in() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/sms/json",
        post(|| async {
            axum::Json(
                json!({"message-count": "1", "messages": [{"to": "447700900000",
                "message-id": VG_MESSAGE, "status": "0", "message-price": "0.03330000"}]}),
            )
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

/// A send through Vonage priced 0.05; its `delivered` DLR (GET, token) carries Vonage's
/// documented `price` of 0.0333, which becomes the spend.
async fn a_vonage_receipt_price_replaces_the_estimate(backend: Backend) {
    let base = vonage_stand_in().await;
    let app = spawn_app(backend, move |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.stats.flush_ms = 100;
        let vg = otpgw::providers::vonage::Config {
            base_url: base,
            api_key: "abcd1234".into(),
            api_secret: "abcdef0123456789".into(),
            from: "AcmeInc".into(),
            callback_url: Some("https://otp.example.com/v1/receipts/vg".into()),
            receipt_token: Some(VG_TOKEN.into()),
            prices: [("default".to_string(), 0.05)].into(),
            ..Default::default()
        };
        c.providers
            .insert("vg".into(), otpgw::providers::ProviderConfig::Vonage(vg));
        c.routing.default = vec!["vg".into()];
        c.receipts.public_base_url = Some("https://otp.example.com".into());
    })
    .await;
    send_one(&app).await;
    spend_becomes(&app, 0.05).await;
    let dlr = format!(
        "/v1/receipts/vg?token={VG_TOKEN}&messageId={VG_MESSAGE}&status=delivered&err-code=0&price=0.03330000&msisdn=447700900000"
    );
    let r = app.send(app.http.get(app.url(&dlr))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    spend_becomes(&app, 0.0333).await;
    let in_receipt = r#"otpgw_price_fetches_total{outcome="in_receipt",provider="vg"}"#;
    assert_eq!(series(&app, in_receipt).await, 1.0);
    app.stop().await;
}

mod memory {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reported_price_replaces_the_estimate() {
        super::a_reported_price_replaces_the_estimate(Backend::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_500_is_read_again_and_then_the_estimate_stays() {
        super::a_500_is_read_again_and_then_the_estimate_stays(Backend::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_read_times_out_and_the_estimate_stays() {
        super::a_hanging_read_times_out_and_the_estimate_stays(Backend::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_404_is_not_read_again() {
        super::a_404_is_not_read_again(Backend::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vonage_receipt_price_replaces_the_estimate() {
        super::a_vonage_receipt_price_replaces_the_estimate(Backend::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_price_in_another_currency_keeps_the_estimate() {
        super::a_price_in_another_currency_keeps_the_estimate(Backend::Memory).await
    }
}

mod redis {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reported_price_replaces_the_estimate() {
        super::a_reported_price_replaces_the_estimate(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_500_is_read_again_and_then_the_estimate_stays() {
        super::a_500_is_read_again_and_then_the_estimate_stays(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vonage_receipt_price_replaces_the_estimate() {
        super::a_vonage_receipt_price_replaces_the_estimate(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_price_in_another_currency_keeps_the_estimate() {
        super::a_price_in_another_currency_keeps_the_estimate(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_read_times_out_and_the_estimate_stays() {
        super::a_hanging_read_times_out_and_the_estimate_stays(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_404_is_not_read_again() {
        super::a_404_is_not_read_again(Backend::Redis).await
    }
}
