//! The pumping guard over HTTP and gRPC: blocks at their own level with their
//! explanation, the admin API and the ops page, challenges and `risk_context`, shadow
//! mode, and the metrics by level and action.

use super::support::app::{number, Resp, TestApp};
use super::support::{spawn_app, Backend};
use serde_json::{json, Value};

pub const ADMIN_KEY: &str = "otpgw_admin_key_for_tests_only";

fn demo(c: &mut otpgw::Config) -> &mut otpgw::config::TenantConfig {
    c.tenants.get_mut("demo").unwrap()
}

/// The guard on, with small budgets at the levels a test names.
pub fn guard(c: &mut otpgw::Config, mode: otpgw::config::PumpingMode) {
    c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
    let p = &mut demo(c).pumping;
    p.mode = mode;
    p.levels.prefix.budget = 1.0;
    p.block_secs = 600;
}

/// Numbers of one block: `block` then `digits` digits counting from `i`.
fn in_block(block: &str, digits: usize, i: u32) -> String {
    format!("{block}{i:0digits$}")
}

/// A block of `cut` digits that no other test of this run uses.
pub fn fresh_block(cut: usize) -> String {
    let n = number();
    n[..n.len() - cut].to_string()
}

async fn admin(app: &TestApp, req: reqwest::RequestBuilder) -> Resp {
    app.send(req.bearer_auth(ADMIN_KEY)).await
}

fn refused(r: &Resp, status: u16, code: &str, reason: &str) -> bool {
    r.status == status && r.code() == code && r.body["reason"] == reason
}

/// Starts to numbers of `block` until one is refused; the refusal and how many went
/// through before it.
async fn until_refused(app: &TestApp, block: &str, digits: usize, body: Value) -> (Resp, u32) {
    for i in 0..60 {
        let mut b = body.clone();
        b["to"] = json!(in_block(block, digits, i * 7 % 10u32.pow(digits as u32)));
        let r = app.post("/v1/verifications", b).await;
        if r.status != 201 {
            return (r, i);
        }
    }
    panic!("60 sends into {block} and no refusal");
}

pub async fn a_pumped_prefix_is_blocked_explained_listed_and_lifted(b: Backend) {
    let app = spawn_app(b, |c| guard(c, otpgw::config::PumpingMode::Enforce)).await;
    let prefix = fresh_block(3);
    let (r, through) = until_refused(&app, &prefix, 3, json!({})).await;
    assert!(
        refused(&r, 403, "destination_blocked", "prefix_blocked"),
        "{}",
        r.text
    );
    assert!(
        (2..=12).contains(&through),
        "{through} sends before the block"
    );
    let again = app.start(&in_block(&prefix, 3, 999)).await;
    assert!(refused(
        &again,
        403,
        "destination_blocked",
        "prefix_blocked"
    ));

    let r = app.send(app.http.get(app.url("/v1/admin/blocks"))).await;
    assert_eq!(r.status, 401);
    let r = app.get("/v1/admin/blocks").await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "a tenant key is no admin key"
    );
    let r = admin(
        &app,
        app.http
            .get(app.url("/v1/admin/blocks?tenant=demo&level=prefix")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let blocks = r.body["blocks"].as_array().unwrap();
    let mine: Vec<_> = blocks.iter().filter(|b| b["block"] == prefix).collect();
    assert_eq!(mine.len(), 1, "{}", r.text);
    let bl = mine[0];
    assert_eq!(
        (&bl["level"], &bl["prefix"], &bl["country"]),
        (&json!("prefix"), &json!(prefix), &json!("US"))
    );
    assert_eq!(
        (&bl["action"], &bl["reason"], &bl["strikes"]),
        (&json!("enforce"), &json!("prefix_blocked"), &json!(1))
    );
    assert!(bl["rule"] == "recent" || bl["rule"] == "long", "{bl}");
    assert_eq!(bl["approvals"], 0.0);
    assert!(bl["sends"].as_f64().unwrap() >= 2.0, "{bl}");
    assert!(bl["expected_conversion"].as_f64().unwrap() > 0.1, "{bl}");
    assert!(bl["tolerance"].as_f64().unwrap() > 0.0, "{bl}");
    let r = admin(
        &app,
        app.http.get(app.url("/v1/admin/blocks?level=nonsense")),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "{}", r.text);

    let page = admin(&app, app.http.get(app.url("/ops"))).await;
    assert!(
        page.text.contains(&prefix) && page.text.contains("prefix_blocked")
            || page.text.contains(">prefix<"),
        "the ops page lists the block"
    );

    // The first version's route still lifts a prefix; a second lift finds nothing.
    let path = format!("/v1/admin/blocks/demo/{}", prefix.trim_start_matches('+'));
    let r = admin(&app, app.http.delete(app.url(&path))).await;
    assert_eq!(
        (r.status, r.body["lifted"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );
    let r = admin(&app, app.http.delete(app.url(&path))).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(app.start(&in_block(&prefix, 3, 998)).await.status, 201);

    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    for want in [
        r#"otpgw_pumping_decisions_total{action="enforce",decision="tripped",level="prefix",tenant="demo"} 1"#,
        r#"otpgw_pumping_decisions_total{action="enforce",decision="refused",level="prefix",tenant="demo"} 1"#,
        r#"otpgw_destination_blocked_total{reason="prefix_blocked",tenant="demo"} 2"#,
    ] {
        assert!(metrics.contains(want), "{want}\n{metrics}");
    }
}

/// One or two sends into each of many 1 000-blocks of one 10 000-block: no prefix looks
/// pumped, the range does.
pub async fn a_thin_spread_is_stopped_at_the_range(b: Backend) {
    let app = spawn_app(b, |c| {
        guard(c, otpgw::config::PumpingMode::Enforce);
        let lv = &mut demo(c).pumping.levels;
        lv.prefix.budget = 50.0;
        lv.range.budget = 2.0;
        lv.area.budget = 50.0;
    })
    .await;
    let range = fresh_block(4);
    let (r, through) = until_refused(&app, &range, 4, json!({})).await;
    assert!(
        refused(&r, 403, "destination_blocked", "range_blocked"),
        "{}",
        r.text
    );
    assert!((3..=12).contains(&through), "{through}");
    let r = admin(&app, app.http.get(app.url("/v1/admin/blocks?level=range"))).await;
    let ours = r.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block"] == range)
        .cloned();
    let ours = ours.unwrap_or_else(|| panic!("{}", r.text));
    assert_eq!(ours["reason"], "range_blocked");
    // Lifted by the block itself at its level.
    let path = format!("/v1/admin/blocks/demo/range/{range}");
    let r = admin(&app, app.http.delete(app.url(&path))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Many ranges from one client IP: the IP level challenges; a retry that says the end
/// user passed the challenge goes through and is counted as such.
pub async fn a_client_spraying_ranges_is_challenged_and_a_passed_challenge_goes_through(
    b: Backend,
) {
    let app = spawn_app(b, |c| {
        guard(c, otpgw::config::PumpingMode::Enforce);
        demo(c).pumping.levels.ip.budget = 1.0;
        demo(c).limits.client_ip_per_hour = 0;
    })
    .await;
    let ip = "203.0.113.77";
    let mut challenged = None;
    for i in 0..40 {
        let body = json!({"to": number(), "client_ip": ip, "risk_context": {"session_id": format!("s{i}")}});
        let r = app.post("/v1/verifications", body.clone()).await;
        if r.status != 201 {
            challenged = Some((r, body));
            break;
        }
    }
    let (r, mut body) = challenged.expect("challenged within 40 sends");
    assert!(
        refused(&r, 403, "challenge_required", "client_ip_blocked"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("challenge"),
        "the problem says what to do: {}",
        r.text
    );
    body["risk_context"]["challenge_passed"] = json!(true);
    let r = app.post("/v1/verifications", body).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = admin(&app, app.http.get(app.url("/v1/admin/blocks?level=ip"))).await;
    let bl = &r.body["blocks"][0];
    assert_eq!(
        (&bl["action"], &bl["reason"]),
        (&json!("challenge"), &json!("client_ip_blocked")),
        "{}",
        r.text
    );
    assert!(
        bl["block"].as_str().unwrap().starts_with("203.0.113.x "),
        "no whole address at rest: {bl}"
    );
    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    assert!(
        metrics.contains(r#"otpgw_pumping_decisions_total{action="challenge",decision="challenge_passed",level="ip",tenant="demo"} 1"#),
        "{metrics}"
    );
    let path = format!("/v1/admin/blocks/demo/ip/{}", bl["id"].as_str().unwrap());
    let r = admin(&app, app.http.delete(app.url(&path))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

pub async fn shadow_mode_only_counts(b: Backend) {
    let app = spawn_app(b, |c| guard(c, otpgw::config::PumpingMode::Shadow)).await;
    let prefix = fresh_block(3);
    for i in 0..12 {
        let r = app.start(&in_block(&prefix, 3, i)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let metrics = app.send(app.http.get(app.url("/metrics"))).await.text;
    assert!(
        metrics.contains(r#"otpgw_pumping_decisions_total{action="shadow",decision="would_block",level="prefix",tenant="demo"}"#),
        "{metrics}"
    );
    let r = admin(&app, app.http.get(app.url("/v1/admin/blocks"))).await;
    assert_eq!(r.body["blocks"], json!([]), "shadow mode blocks nothing");
}

/// `risk_context` is bounded and typed on start and check; a malformed one is a `400`
/// naming the field, never ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_risk_context_is_refused_with_the_field_named() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let long = "a".repeat(513);
    let cases = [
        (json!("just text"), "risk_context"),
        (json!([1, 2]), "risk_context"),
        (json!({"user_agent": long}), "user_agent"),
        (json!({"user_agent": "a\u{0007}b"}), "user_agent"),
        (json!({"user_agent": ""}), "user_agent"),
        (json!({"session_id": "has space"}), "session_id"),
        (json!({"device_id": "x".repeat(256)}), "device_id"),
        (json!({"captcha_score": 1.5}), "captcha_score"),
        (json!({"captcha_score": -0.1}), "captcha_score"),
        (json!({"captcha_score": "0.9"}), "captcha_score"),
        (json!({"challenge_passed": "yes"}), "challenge_passed"),
        (json!({"fingerprint": "x"}), "fingerprint"),
    ];
    for (rc, field) in cases {
        let r = app
            .post(
                "/v1/verifications",
                json!({"to": number(), "risk_context": rc}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "{rc}: {}",
            r.text
        );
        assert!(r.text.contains(field), "{rc}: {}", r.text);
        let r = app
            .post(
                "/v1/verifications/check",
                json!({"to": number(), "code": "123456", "risk_context": rc}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "check {rc}: {}",
            r.text
        );
    }
    let full = json!({"user_agent": "Mozilla/5.0 (X11)", "session_id": "sess-1", "device_id": "dev-1", "captcha_score": 0.9, "challenge_passed": false});
    let to = number();
    let r = app
        .post("/v1/verifications", json!({"to": to, "risk_context": full}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = app.code_for(&to).await;
    let r = app
        .post(
            "/v1/verifications/check",
            json!({"to": to, "code": code, "risk_context": full}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("approved")),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": number(), "risk_context": null}),
        )
        .await;
    assert_eq!(r.status, 201, "null means absent: {}", r.text);
}

/// gRPC carries `risk_context` and answers a challenge as `PERMISSION_DENIED` with
/// reason `challenge_required`; a malformed context is `INVALID_ARGUMENT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_carries_the_risk_context_and_the_challenge() {
    use otpgw::api::grpc::pb;
    use tonic_types::StatusExt;
    let app = spawn_app(Backend::Memory, |c| {
        guard(c, otpgw::config::PumpingMode::Enforce);
        demo(c).pumping.levels.session.budget = 1.0;
    })
    .await;
    let addr = app.grpc_addr.expect("gRPC enabled");
    let mut grpc = pb::verifications_client::VerificationsClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let req = |rc: pb::RiskContext| {
        let mut r = tonic::Request::new(pb::StartRequest {
            to: number(),
            risk_context: Some(rc),
            ..Default::default()
        });
        let auth = format!("Bearer {}", app.key).parse().unwrap();
        r.metadata_mut().insert("authorization", auth);
        r
    };
    let bad = pb::RiskContext {
        captcha_score: Some(7.0),
        ..Default::default()
    };
    let e = grpc.start(req(bad)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let rc = pb::RiskContext {
        session_id: Some("one-session".into()),
        ..Default::default()
    };
    let mut denied = None;
    for _ in 0..40 {
        if let Err(e) = grpc.start(req(rc.clone())).await {
            denied = Some(e);
            break;
        }
    }
    let e = denied.expect("the session is challenged");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    let info = e.get_error_details().error_info().unwrap().clone();
    assert_eq!(info.reason, "challenge_required");
    assert_eq!(
        info.metadata.get("reason").map(String::as_str),
        Some("session_blocked")
    );
    let passed = pb::RiskContext {
        challenge_passed: Some(true),
        ..rc
    };
    grpc.start(req(passed))
        .await
        .expect("a passed challenge goes through");
}

/// Many real users behind one address (an office, a carrier NAT) who type their codes
/// back with the same `client_ip`: the approvals count for the address, which is never
/// challenged.
pub async fn a_shared_address_whose_users_type_codes_back_is_never_challenged(b: Backend) {
    let app = spawn_app(b, |c| {
        guard(c, otpgw::config::PumpingMode::Enforce);
        demo(c).pumping.levels.ip.budget = 1.0;
        demo(c).limits.client_ip_per_hour = 0;
    })
    .await;
    let ip = "192.0.2.200";
    for i in 0..30 {
        let to = number();
        let r = app
            .post("/v1/verifications", json!({"to": to, "client_ip": ip}))
            .await;
        assert_eq!(r.status, 201, "user {i}: {}", r.text);
        let code = app.code_for(&to).await;
        let body = json!({"to": to, "code": code, "client_ip": ip});
        let r = app.post("/v1/verifications/check", body).await;
        assert_eq!(r.body["status"], "approved", "{}", r.text);
    }
}
