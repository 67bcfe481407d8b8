//! The Twilio Verify v2 facade (`/v2/Services/{ServiceSid}/…`) through real HTTP on a
//! real gateway: every endpoint, the bad input Twilio's callers can send, and every
//! answer checked against Twilio's own OpenAPI document of Verify v2
//! (`twilio_verify/schema.rs`). `twilio_verify/sdk.rs` runs Twilio's official SDKs (PyPI
//! and npm) through the quick-start flow.

#[path = "twilio_verify/schema.rs"]
mod schema;
#[path = "twilio_verify/sdk.rs"]
mod sdk;
#[path = "twilio_verify/store.rs"]
mod store_level;
mod support;

use base64::Engine;
use otpgw::config::{Config, TwilioApiKey, TwilioConfig};
use support::app::{number, wrong, Resp};
use support::{spawn_app, Backend, TestApp};

pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const SERVICE: &str = "VA0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "tw-test-auth-token-0123456789";
const API_KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
const API_KEY_SECRET: &str = "tw-test-api-key-secret";
/// The second tenant's Account, Service and token.
const OTHER_ACCOUNT: &str = "ACfedcba9876543210fedcba9876543210";
const OTHER_SERVICE: &str = "VAfedcba9876543210fedcba9876543210";
const OTHER_TOKEN: &str = "tw-other-auth-token";

/// The test tenants: `demo` with the Service above, `other` with its own.
pub fn twilio_tenants(cfg: &mut Config) {
    let hash = otpgw::crypto::hash_api_key;
    let demo = cfg.tenants.get_mut("demo").unwrap();
    demo.twilio = Some(TwilioConfig {
        account_sid: ACCOUNT.into(),
        service_sids: vec![SERVICE.into()],
        auth_token_hashes: vec![hash(TOKEN)],
        api_keys: vec![TwilioApiKey {
            sid: API_KEY_SID.into(),
            secret_hash: hash(API_KEY_SECRET),
        }],
    });
    let mut other = demo.clone();
    other.api_keys = vec![hash("other-tenant-key")];
    other.twilio = Some(TwilioConfig {
        account_sid: OTHER_ACCOUNT.into(),
        service_sids: vec![OTHER_SERVICE.into()],
        auth_token_hashes: vec![hash(OTHER_TOKEN)],
        api_keys: vec![],
    });
    cfg.tenants.insert("other".into(), other);
    assert!(
        otpgw::config::problems(cfg).is_empty(),
        "{:?}",
        otpgw::config::problems(cfg)
    );
}

async fn app_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app(backend, |cfg| {
        twilio_tenants(cfg);
        tweak(cfg);
    })
    .await
}

async fn app() -> TestApp {
    app_on(Backend::Memory, |_| {}).await
}

fn basic(user: &str, pass: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b}")
}

/// One call to the facade: `form` as a form body (POST) or nothing (GET), with
/// `auth` (`None`: no header). Every answer is checked against Twilio's document.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
    auth: Option<(&str, &str)>,
) -> Resp {
    let mut req = match method {
        "GET" => app.http.get(app.url(path)),
        _ => app.http.post(app.url(path)).form(form),
    };
    if let Some((u, p)) = auth {
        req = req.header("authorization", basic(u, p));
    }
    let r = app.send(req).await;
    conforms(method, path, &r);
    r
}

/// `r` is what Twilio's document allows for `method path`.
#[track_caller]
fn conforms(method: &str, path: &str, r: &Resp) {
    let p = schema::problems(method, path, r.status, &r.body);
    assert!(p.is_empty(), "{method} {path} -> {}: {p:#?}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json"),
        "{}",
        r.text
    );
}

const ME: Option<(&str, &str)> = Some((ACCOUNT, TOKEN));

fn verifications() -> String {
    format!("/v2/Services/{SERVICE}/Verifications")
}

fn check_path() -> String {
    format!("/v2/Services/{SERVICE}/VerificationCheck")
}

async fn create(app: &TestApp, to: &str) -> Resp {
    create_on(app, to, "sms").await
}

/// A create on Twilio's `channel`.
async fn create_on(app: &TestApp, to: &str, channel: &str) -> Resp {
    call(
        app,
        "POST",
        &verifications(),
        &[("To", to), ("Channel", channel)],
        ME,
    )
    .await
}

/// `r` is Twilio's error with this HTTP status and code.
#[track_caller]
fn twilio_error(r: &Resp, status: u16, code: u64) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["code"], code, "{}", r.text);
    assert_eq!(r.body["status"], status, "{}", r.text);
    assert_eq!(
        r.body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}"),
        "{}",
        r.text
    );
}

#[track_caller]
fn invalid_parameter(r: &Resp, name: &str) {
    twilio_error(r, 400, 60200);
    assert_eq!(r.body["message"], format!("Invalid parameter: {name}"));
}

// ---------------------------------------------------------------------------------------
// The flow, on the memory store and on Redis

async fn create_fetch_check_flow(backend: Backend) {
    let app = app_on(backend, |_| {}).await;
    let to = number();
    let v = create(&app, &to).await;
    assert_eq!(v.status, 201, "{}", v.text);
    let sid = v.body["sid"].as_str().unwrap().to_string();
    assert_eq!(v.body["status"], "pending");
    assert_eq!(v.body["valid"], false);
    assert_eq!(v.body["to"], to.as_str());
    assert_eq!(v.body["service_sid"], SERVICE);
    assert_eq!(v.body["account_sid"], ACCOUNT);
    assert_eq!(v.body["send_code_attempts"].as_array().unwrap().len(), 1);
    assert!(v.body["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Verifications/{sid}")));

    let by_sid = call(&app, "GET", &format!("{}/{sid}", verifications()), &[], ME).await;
    assert_eq!(by_sid.status, 200);
    assert_eq!(by_sid.body["sid"], sid.as_str());
    let by_to = call(
        &app,
        "GET",
        &format!("{}/{}", verifications(), to.replace('+', "%2B")),
        &[],
        ME,
    )
    .await;
    assert_eq!(by_to.status, 200, "{}", by_to.text);
    assert_eq!(by_to.body["sid"], sid.as_str());

    let code = app.code_for(&to).await;
    let bad = call(
        &app,
        "POST",
        &check_path(),
        &[("To", &to), ("Code", &wrong(&code))],
        ME,
    )
    .await;
    assert_eq!(bad.status, 200);
    assert_eq!(
        (bad.body["status"].as_str(), bad.body["valid"].as_bool()),
        (Some("pending"), Some(false))
    );
    let ok = call(
        &app,
        "POST",
        &check_path(),
        &[("To", &to), ("Code", &code)],
        ME,
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        (ok.body["status"].as_str(), ok.body["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    assert_eq!(ok.body["sid"], sid.as_str());

    // Twilio soft-deletes an approved verification: 20404 from then on.
    let gone = call(&app, "GET", &format!("{}/{sid}", verifications()), &[], ME).await;
    twilio_error(&gone, 404, 20404);
    let again = call(
        &app,
        "POST",
        &check_path(),
        &[("To", &to), ("Code", &code)],
        ME,
    )
    .await;
    twilio_error(&again, 404, 20404);
}

async fn cancel_and_approve_move_the_record(backend: Backend) {
    let app = app_on(backend, |_| {}).await;
    let to = number();
    let sid = create(&app, &to).await.body["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{}/{sid}", verifications());
    let c = call(&app, "POST", &path, &[("Status", "canceled")], ME).await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(
        (c.body["status"].as_str(), c.body["valid"].as_bool()),
        (Some("canceled"), Some(false))
    );
    twilio_error(&call(&app, "GET", &path, &[], ME).await, 404, 20404);
    twilio_error(
        &call(&app, "POST", &path, &[("Status", "canceled")], ME).await,
        404,
        20404,
    );

    // A cancel frees the number: the next create is a new verification.
    let next = create(&app, &to).await;
    let sid2 = next.body["sid"].as_str().unwrap().to_string();
    assert_ne!(sid2, sid);
    // Approved by `To`, without a code.
    let by_to = format!("{}/{}", verifications(), to.replace('+', "%2B"));
    let a = call(&app, "POST", &by_to, &[("Status", "approved")], ME).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["sid"], sid2.as_str());
    assert_eq!(
        (a.body["status"].as_str(), a.body["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    // The store moved it: the /v1 view sees it approved, and nothing is pending.
    assert_eq!(app.fetch(&v1_id(&sid2)).await.body["status"], "approved");
    let code = app.code_for(&to).await;
    let late = call(
        &app,
        "POST",
        &check_path(),
        &[("To", &to), ("Code", &code)],
        ME,
    )
    .await;
    twilio_error(&late, 404, 20404);
    let bogus = call(
        &app,
        "POST",
        &format!("{}/{sid2}", verifications()),
        &[("Status", "pending")],
        ME,
    )
    .await;
    invalid_parameter(&bogus, "Status");
}

/// Our id of a `VE` SID, for the `/v1` view.
fn v1_id(sid: &str) -> String {
    otpgw::api::http::twilio::parse_ve(sid)
        .unwrap()
        .as_str()
        .to_string()
}

support::on_every_backend_kind!(
    create_fetch_check_flow,
    cancel_and_approve_move_the_record,
    each_send_shows_its_own_time,
    a_pumped_prefix_answers_60410,
    approvals_keep_a_prefix_from_tripping
);

// ---------------------------------------------------------------------------------------
// Resends, checks by SID, the attempt limits

#[tokio::test]
async fn a_resend_keeps_the_sid_and_lists_each_send() {
    let app = app_on(Backend::Memory, |cfg| {
        cfg.tenants.get_mut("demo").unwrap().resend_cooldown_secs = 0;
    })
    .await;
    let to = number();
    let first = create(&app, &to).await;
    let second = create(&app, &to).await;
    assert_eq!(
        second.status, 201,
        "Twilio answers a resend 201 too: {}",
        second.text
    );
    assert_eq!(second.body["sid"], first.body["sid"]);
    let sends = second.body["send_code_attempts"].as_array().unwrap();
    assert_eq!(sends.len(), 2);
    assert_ne!(sends[0]["attempt_sid"], sends[1]["attempt_sid"]);
    assert!(sends.iter().all(|s| s["channel"] == "SMS"));
    assert_eq!(app.messages_to(&to).await.len(), 2, "both sends went out");
}

/// Each entry of `send_code_attempts` shows when that send went out, the ones between
/// the first and the last included.
async fn each_send_shows_its_own_time(backend: Backend) {
    let app = app_on(backend, |cfg| {
        cfg.tenants.get_mut("demo").unwrap().resend_cooldown_secs = 0;
    })
    .await;
    let to = number();
    let mut last = create(&app, &to).await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        last = create(&app, &to).await;
        assert_eq!(last.status, 201, "{}", last.text);
    }
    let path = format!("{}/{}", verifications(), last.body["sid"].as_str().unwrap());
    let read = call(&app, "GET", &path, &[], ME).await;
    for v in [&last, &read] {
        let times: Vec<&str> = v.body["send_code_attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["time"].as_str().unwrap())
            .collect();
        assert_eq!(times.len(), 4, "{}", v.text);
        // RFC 3339 in UTC to the second: text order is time order, a second apart.
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert_eq!(times[0], v.body["date_created"].as_str().unwrap());
    }
}

// ---------------------------------------------------------------------------------------
// The pumping guard through the facade

/// The guard on with a small prefix budget (as `tests/pumping.rs` and
/// `tests/deliveries.rs` set it).
fn guarded(cfg: &mut Config) {
    let p = &mut cfg.tenants.get_mut("demo").unwrap().pumping;
    p.mode = otpgw::config::PumpingMode::Enforce;
    p.levels.prefix.budget = 1.0;
    p.block_secs = 600;
}

/// Creates to up to `n` numbers of one fresh 1000-block, each approved with
/// `Status=approved` when `approve`, until one is refused: how many went through and the
/// refusal (`None`: all `n` went through).
async fn into_one_prefix(app: &TestApp, n: u32, approve: bool) -> Option<(u32, Resp)> {
    let prefix = {
        let x = number();
        x[..x.len() - 3].to_string()
    };
    for i in 0..n {
        let r = create(app, &format!("{prefix}{:03}", i * 7 % 1000)).await;
        if r.status != 201 {
            return Some((i, r));
        }
        if approve {
            let path = format!("{}/{}", verifications(), r.body["sid"].as_str().unwrap());
            let a = call(app, "POST", &path, &[("Status", "approved")], ME).await;
            assert_eq!(a.body["status"], "approved", "{}", a.text);
            // Approved once: a second approval finds nothing pending, counts nothing.
            let again = call(app, "POST", &path, &[("Status", "approved")], ME).await;
            twilio_error(&again, 404, 20404);
        }
    }
    None
}

async fn a_pumped_prefix_answers_60410(backend: Backend) {
    let app = app_on(backend, guarded).await;
    let (through, r) = into_one_prefix(&app, 60, false)
        .await
        .expect("60 unapproved sends into one prefix and no block");
    assert!(
        (2..=12).contains(&through),
        "{through} sends before the block"
    );
    twilio_error(&r, 403, 60410);
    assert_eq!(r.body["message"], "Verification delivery attempt blocked");
}

async fn approvals_keep_a_prefix_from_tripping(backend: Backend) {
    let app = app_on(backend, guarded).await;
    let approved = into_one_prefix(&app, 20, true).await;
    assert!(
        approved.is_none(),
        "approved sends were blocked after {:?}",
        approved.map(|(n, r)| (n, r.text))
    );
    // The same sends unapproved trip the guard.
    let unapproved = into_one_prefix(&app, 20, false).await;
    assert!(unapproved.is_some_and(|(n, r)| n <= 12 && r.body["code"] == 60410));
}

#[tokio::test]
async fn a_check_by_verification_sid_approves() {
    let app = app().await;
    let to = number();
    let sid = create(&app, &to).await.body["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code_for(&to).await;
    let r = call(
        &app,
        "POST",
        &check_path(),
        &[("VerificationSid", &sid), ("Code", &code)],
        ME,
    )
    .await;
    assert_eq!(
        (r.status, r.body["valid"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn max_check_attempts_answers_60202() {
    let app = app().await;
    let to = number();
    create(&app, &to).await;
    let code = app.code_for(&to).await;
    for _ in 0..5 {
        let r = call(
            &app,
            "POST",
            &check_path(),
            &[("To", &to), ("Code", &wrong(&code))],
            ME,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = call(
        &app,
        "POST",
        &check_path(),
        &[("To", &to), ("Code", &code)],
        ME,
    )
    .await;
    twilio_error(&r, 429, 60202);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn max_send_attempts_answers_60203() {
    let app = app_on(Backend::Memory, |cfg| {
        let t = cfg.tenants.get_mut("demo").unwrap();
        t.resend_cooldown_secs = 0;
        t.max_sends = 2;
    })
    .await;
    let to = number();
    create(&app, &to).await;
    create(&app, &to).await;
    twilio_error(&create(&app, &to).await, 429, 60203);
}

#[tokio::test]
async fn a_resend_inside_the_cooldown_answers_60212() {
    let app = app().await;
    let to = number();
    create(&app, &to).await;
    twilio_error(&create(&app, &to).await, 429, 60212);
}

#[tokio::test]
async fn a_country_outside_the_geo_permissions_answers_60605() {
    let app = app_on(Backend::Memory, |cfg| {
        cfg.tenants.get_mut("demo").unwrap().geo.allow_countries = vec!["GB".into()];
    })
    .await;
    twilio_error(&create(&app, &number()).await, 403, 60605);
}

#[tokio::test]
async fn the_service_resource_shows_the_tenant() {
    let app = app().await;
    let r = call(&app, "GET", &format!("/v2/Services/{SERVICE}"), &[], ME).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sid"], SERVICE);
    assert_eq!(r.body["account_sid"], ACCOUNT);
    assert_eq!(r.body["code_length"], 6);
}

// ---------------------------------------------------------------------------------------
// Credentials and tenancy

#[tokio::test]
async fn missing_or_wrong_credentials_answer_20003() {
    let app = app().await;
    let to = number();
    let form = [("To", to.as_str()), ("Channel", "sms")];
    let none = call(&app, "POST", &verifications(), &form, None).await;
    twilio_error(&none, 401, 20003);
    assert!(none
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    for (u, p) in [
        (ACCOUNT, "wrong"),
        (ACCOUNT, API_KEY_SECRET),
        (API_KEY_SID, TOKEN),
        (OTHER_ACCOUNT, TOKEN),
        ("", ""),
    ] {
        twilio_error(
            &call(&app, "POST", &verifications(), &form, Some((u, p))).await,
            401,
            20003,
        );
    }
    let bearer = app
        .send(
            app.http
                .post(app.url(&verifications()))
                .bearer_auth(&app.key)
                .form(&form),
        )
        .await;
    twilio_error(&bearer, 401, 20003);
    assert!(app.messages_to(&to).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_api_key_and_its_secret_authenticate() {
    let app = app().await;
    let to = number();
    let r = call(
        &app,
        "POST",
        &verifications(),
        &[("To", &to), ("Channel", "sms")],
        Some((API_KEY_SID, API_KEY_SECRET)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["account_sid"], ACCOUNT);
}

#[tokio::test]
async fn a_service_sid_the_credentials_do_not_own_answers_20404() {
    let app = app().await;
    let to = number();
    let mine = create(&app, &to).await.body["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let form = [("To", to.as_str()), ("Channel", "sms")];
    let other = Some((OTHER_ACCOUNT, OTHER_TOKEN));
    // The other tenant's credentials on this tenant's Service, and a Service no one has.
    for svc in [SERVICE, "VA00000000000000000000000000000000", "VAnot-a-sid"] {
        let r = call(
            &app,
            "POST",
            &format!("/v2/Services/{svc}/Verifications"),
            &form,
            other,
        )
        .await;
        twilio_error(&r, 404, 20404);
        let r = call(
            &app,
            "GET",
            &format!("/v2/Services/{svc}/Verifications/{mine}"),
            &[],
            other,
        )
        .await;
        twilio_error(&r, 404, 20404);
        assert!(
            !r.text.contains(&to[2..]),
            "nothing of the other tenant shows"
        );
    }
    // Its own Service, this tenant's verification: not found, nothing shown.
    let theirs = format!("/v2/Services/{OTHER_SERVICE}/Verifications");
    let r = call(&app, "GET", &format!("{theirs}/{mine}"), &[], other).await;
    twilio_error(&r, 404, 20404);
    let by_to = format!("{theirs}/{}", to.replace('+', "%2B"));
    twilio_error(&call(&app, "GET", &by_to, &[], other).await, 404, 20404);
    let code = app.code_for(&to).await;
    let chk = format!("/v2/Services/{OTHER_SERVICE}/VerificationCheck");
    let r = call(
        &app,
        "POST",
        &chk,
        &[("VerificationSid", &mine), ("Code", &code)],
        other,
    )
    .await;
    twilio_error(&r, 404, 20404);
    // …and the verification is still pending for its owner.
    let r = call(&app, "GET", &format!("{}/{mine}", verifications()), &[], ME).await;
    assert_eq!(r.body["status"], "pending");
}

// ---------------------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn unknown_repeated_and_oversized_fields_answer_60200() {
    let app = app().await;
    let to = number();
    let big = "x".repeat(2000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("To", &to), ("Channel", "sms"), ("Foo", "bar")], "Foo"),
        (vec![("To", &to), ("Channel", "sms"), ("to", "x")], "to"),
        (vec![("To", &to), ("To", &to), ("Channel", "sms")], "To"),
        (
            vec![("To", &to), ("Channel", "sms"), ("Locale", &big)],
            "Locale",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("CustomMessage", "hi")],
            "CustomMessage",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("CustomCode", "123456")],
            "CustomCode",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("Locale", "en_US")],
            "Locale",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("AppHash", "short")],
            "AppHash",
        ),
        (
            vec![
                ("To", &to),
                ("Channel", "sms"),
                ("CustomFriendlyName", "Acme"),
            ],
            "CustomFriendlyName",
        ),
        (
            vec![
                ("To", &to),
                ("Channel", "sms"),
                ("RateLimits", "{\"key\":\"v\"}"),
            ],
            "RateLimits",
        ),
        (
            vec![
                ("To", &to),
                ("Channel", "sms"),
                ("ChannelConfiguration", "[]"),
            ],
            "ChannelConfiguration",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("DeviceIp", "not-an-ip")],
            "DeviceIp",
        ),
        (
            vec![("To", &to), ("Channel", "sms"), ("RiskCheck", "disable")],
            "RiskCheck",
        ),
        (vec![("To", &to)], "Channel"),
        (vec![("Channel", "sms")], "To"),
    ];
    for (form, name) in cases {
        let r = call(&app, "POST", &verifications(), &form, ME).await;
        invalid_parameter(&r, name);
    }
    for channel in ["sna", "auto", "rcs", "SMS", "voice", "Call"] {
        let r = call(
            &app,
            "POST",
            &verifications(),
            &[("To", &to), ("Channel", channel)],
            ME,
        )
        .await;
        invalid_parameter(&r, "Channel");
    }
    let chk = check_path();
    invalid_parameter(&call(&app, "POST", &chk, &[("To", &to)], ME).await, "Code");
    invalid_parameter(
        &call(&app, "POST", &chk, &[("Code", "123456")], ME).await,
        "To",
    );
    invalid_parameter(
        &call(&app, "POST", &chk, &[("To", &to), ("Code", "12ab")], ME).await,
        "Code",
    );
    invalid_parameter(
        &call(
            &app,
            "POST",
            &chk,
            &[("To", &to), ("Code", "1234"), ("Amount", "1")],
            ME,
        )
        .await,
        "Amount",
    );
    assert!(app.messages_to(&to).await.is_empty(), "nothing was sent");
    // What maps is taken: an empty RateLimits, a DeviceIp, a Locale, an AppHash.
    let ok = call(
        &app,
        "POST",
        &verifications(),
        &[
            ("To", &to),
            ("Channel", "sms"),
            ("RateLimits", "{}"),
            ("DeviceIp", "203.0.113.7"),
            ("Locale", "pt-BR"),
            ("AppHash", "FA+9qCX9VSu"),
            ("RiskCheck", "enable"),
        ],
        ME,
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[tokio::test]
async fn a_body_over_the_limit_answers_20413() {
    let app = app().await;
    let body = format!(
        "To=%2B14155550123&Channel=sms&Locale={}",
        "x".repeat(20_000)
    );
    let r = app
        .send(
            app.http
                .post(app.url(&verifications()))
                .header("authorization", basic(ACCOUNT, TOKEN))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    conforms("POST", &verifications(), &r);
    twilio_error(&r, 413, 20413);
}

#[tokio::test]
async fn json_where_twilio_reads_a_form_answers_60200() {
    let app = app().await;
    let to = number();
    let r = app
        .send(
            app.http
                .post(app.url(&verifications()))
                .header("authorization", basic(ACCOUNT, TOKEN))
                .json(&serde_json::json!({"To": to, "Channel": "sms"})),
        )
        .await;
    conforms("POST", &verifications(), &r);
    invalid_parameter(&r, "To");
    assert!(app.messages_to(&to).await.is_empty());
}

#[tokio::test]
async fn to_in_every_format_twilio_refuses_answers_60200() {
    let app = app().await;
    let n = number();
    let digits = &n[1..];
    let refused = [
        digits.to_string(),
        format!("+{} {} {}", &digits[..1], &digits[1..4], &digits[4..]),
        format!("+{}-{}-{}", &digits[..1], &digits[1..4], &digits[4..]),
        format!("({}) {}-{}", &digits[1..4], &digits[4..7], &digits[7..]),
        format!("00{digits}"),
        format!(" {n}"),
        format!("{n} "),
        "+".into(),
        "+1415".into(),
        "+1999555012".into(),
        "+99912345678".into(),
        "+14155550123456789".into(),
        "user@example.com".into(),
        "+1415555O123".into(),
    ];
    for to in &refused {
        let r = call(
            &app,
            "POST",
            &verifications(),
            &[("To", to), ("Channel", "sms")],
            ME,
        )
        .await;
        invalid_parameter(&r, "To");
    }
    // E.164 is taken, in any country with a valid number.
    for to in [n.as_str(), "+447911123456", "+5511987654321"] {
        let r = call(
            &app,
            "POST",
            &verifications(),
            &[("To", to), ("Channel", "sms")],
            ME,
        )
        .await;
        assert_eq!(r.status, 201, "{to}: {}", r.text);
        assert_eq!(r.body["to"], to);
    }
}

#[tokio::test]
async fn unknown_sids_routes_and_methods_answer_twilios_errors() {
    let app = app().await;
    let to = number();
    let sid = create(&app, &to).await.body["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let mut forged = sid.clone();
    forged.replace_range(33.., if sid.ends_with('0') { "1" } else { "0" });
    for s in [
        "VE".to_string(),
        "VE0123".into(),
        "VEzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".into(),
        forged,
        "VE00000000000000000000000000000000".into(),
        "%2B19995550123".into(),
        "not-a-sid".into(),
    ] {
        let path = format!("{}/{s}", verifications());
        let r = call(&app, "GET", &path, &[], ME).await;
        twilio_error(&r, 404, 20404);
        let r = call(&app, "POST", &path, &[("Status", "canceled")], ME).await;
        twilio_error(&r, 404, 20404);
        assert!(r.body["message"]
            .as_str()
            .unwrap()
            .contains("/Verifications/"));
    }
    let raw = app
        .send(
            app.http
                .get(app.url(&format!("/v2/Services/{SERVICE}/Nope")))
                .header("authorization", basic(ACCOUNT, TOKEN)),
        )
        .await;
    twilio_error(&raw, 404, 20404);
    let del = app
        .send(
            app.http
                .delete(app.url(&verifications()))
                .header("authorization", basic(ACCOUNT, TOKEN)),
        )
        .await;
    twilio_error(&del, 405, 20004);
    // The verification is untouched.
    let r = call(&app, "GET", &format!("{}/{sid}", verifications()), &[], ME).await;
    assert_eq!(r.body["status"], "pending");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_create_and_refuses_another_form() {
    let app = app().await;
    let to = number();
    let send = |key: &str, form: Vec<(&str, String)>| {
        app.http
            .post(app.url(&verifications()))
            .header("authorization", basic(ACCOUNT, TOKEN))
            .header("idempotency-key", key.to_string())
            .form(&form)
    };
    let form = vec![("To", to.clone()), ("Channel", "sms".to_string())];
    let first = app.send(send("k-1", form.clone())).await;
    conforms("POST", &verifications(), &first);
    assert_eq!(first.status, 201, "{}", first.text);
    let reordered = vec![("Channel", "sms".to_string()), ("To", to.clone())];
    let again = app.send(send("k-1", reordered)).await;
    conforms("POST", &verifications(), &again);
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["sid"], first.body["sid"]);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(
        app.messages_to(&to).await.len(),
        1,
        "a replay sends nothing"
    );
    let other = vec![("To", number()), ("Channel", "sms".to_string())];
    let conflict = app.send(send("k-1", other)).await;
    conforms("POST", &verifications(), &conflict);
    twilio_error(&conflict, 409, 20409);
}

#[tokio::test]
async fn a_denied_number_type_answers_60205_and_a_rate_limit_20429() {
    let app = app_on(Backend::Memory, |cfg| {
        let t = cfg.tenants.get_mut("demo").unwrap();
        t.geo.deny_number_types = vec!["fixed_line".into()];
        t.resend_cooldown_secs = 0;
        t.limits.number_per_hour = 1;
    })
    .await;
    // A London landline.
    let r = create(&app, "+442071234567").await;
    twilio_error(&r, 403, 60205);
    let to = number();
    assert_eq!(create(&app, &to).await.status, 201);
    let r = create(&app, &to).await;
    twilio_error(&r, 429, 20429);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn a_channel_the_tenant_has_not_enabled_is_an_invalid_channel() {
    let app = app_on(Backend::Memory, |cfg| {
        let t = cfg.tenants.get_mut("demo").unwrap();
        t.channels = vec!["sms".into()];
        t.workflows.clear();
    })
    .await;
    let to = number();
    for (to, channel) in [(to.as_str(), "call"), (to.as_str(), "whatsapp")]
        .into_iter()
        .chain([("ann.off@example.com", "email")])
    {
        let r = create_on(&app, to, channel).await;
        invalid_parameter(&r, "Channel");
        assert!(
            app.messages_to(to).await.is_empty(),
            "{channel}: nothing sent"
        );
    }
    assert_eq!(create(&app, &to).await.status, 201, "SMS is on");
}

#[tokio::test]
async fn call_whatsapp_and_email_are_our_voice_whatsapp_and_email() {
    let app = app().await;
    let cases = [
        ("call", "voice", number()),
        ("whatsapp", "whatsapp", number()),
        ("email", "email", "ann.tw@example.com".to_string()),
    ];
    for (theirs, ours, to) in &cases {
        let r = create_on(&app, to, theirs).await;
        conforms("POST", &verifications(), &r);
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["channel"], *theirs);
        let attempt = &r.body["send_code_attempts"][0]["channel"];
        assert_eq!(*attempt, theirs.to_ascii_uppercase());
        let sent = app
            .outbox()
            .await
            .into_iter()
            .find(|m| m["to"] == to.as_str())
            .expect("a message was sent");
        assert_eq!(sent["channel"], *ours);
    }
    // the wrong kind of To for the channel is an invalid To, and sends nothing
    let to = number();
    for (to, channel) in [("ann.x@example.com", "call"), (to.as_str(), "email")] {
        let r = create_on(&app, to, channel).await;
        invalid_parameter(&r, "To");
        assert!(app.messages_to(to).await.is_empty());
    }
}
