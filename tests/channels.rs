//! Channels through the real HTTP API: each one's text (a call says the digits one by
//! one, an email has a subject and both parts), `to` parsed for its channel, channels a
//! tenant has not enabled, per-channel limits, checks by email address, and settings
//! that `config check` refuses at start-up.

mod support;

use otpgw::config::ChannelSettings;
use serde_json::{json, Value};
use std::time::Duration;
use support::app::{base_config, number};
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

const START: &str = "/v1/verifications";

/// The newest outbox entry to `to`, waited for.
async fn message(app: &TestApp, to: &str) -> Value {
    for _ in 0..200 {
        if let Some(m) = app.outbox().await.into_iter().find(|m| m["to"] == to) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no message to {to}");
}

fn problem(r: &support::app::Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_says_the_code_digit_by_digit_and_checks_like_any_other() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let to = number();
    let r = app.post(START, json!({"to": to, "channel": "voice"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["channel"], "voice");
    let m = message(&app, &to).await;
    assert_eq!(m["channel"], "voice");
    let body = m["body"].as_str().unwrap();
    let spoken = body.split(": ").nth(1).unwrap().trim_end_matches('.');
    let digits: Vec<&str> = spoken.split(", ").collect();
    assert_eq!(digits.len(), 6, "{body}");
    assert!(digits.iter().all(|d| d.len() == 1), "{body}");
    let code = digits.concat();
    assert_eq!(app.check(&to, &code).await.body["status"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_goes_by_address_and_is_checked_by_it_whatever_its_case() {
    let sink = Sink::start(Behaviour::Ok).await;
    let url = sink.url();
    let app = spawn_app(Backend::Memory, move |c| {
        let hook = otpgw::providers::webhook::Config {
            url,
            ..Default::default()
        };
        c.providers.insert(
            "mailhook".into(),
            otpgw::providers::ProviderConfig::Webhook(hook),
        );
        c.routing.channels.get_mut("email").unwrap().default = vec!["mailhook".into()];
    })
    .await;
    // no channel named: an address goes by email
    let r = app.post(START, json!({"to": "Ann.Lee@Example.COM"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["channel"], "email");
    assert_eq!(r.body["to"], "Ann.Lee@example.com");
    let got = sink.wait_for(1, 5).await.remove(0).body;
    assert_eq!(got["channel"], "email");
    assert_eq!(got["to"], "Ann.Lee@example.com");
    assert_eq!(got["subject"], "Your Demo verification code");
    let code = got["code"].as_str().unwrap().to_string();
    assert!(got["body"].as_str().unwrap().contains(&code));
    assert!(got["html"]
        .as_str()
        .unwrap()
        .contains(&format!(">{code}</strong>")));
    assert!(!got["subject"].as_str().unwrap().contains(&code));
    // a second start for the same address in another case is a resend
    let again = app.post(START, json!({"to": "ann.lee@example.com"})).await;
    assert_eq!(again.status, 429, "cooldown: the same pending verification");
    let r = app.check("ANN.LEE@example.com", &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_international_domain_is_kept_in_its_ascii_form() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let r = app.post(START, json!({"to": "info@bücher.example"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["to"], "info@xn--bcher-kva.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_of_the_wrong_kind_or_shape_is_400_and_sends_nothing() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let to = number();
    let r = app
        .post(START, json!({"to": "ann@example.com", "channel": "sms"}))
        .await;
    problem(&r, 400, "invalid_phone_number");
    assert!(r.body["detail"].as_str().unwrap().contains("email address"));
    for ch in ["voice", "whatsapp"] {
        let r = app
            .post(START, json!({"to": "ann@example.com", "channel": ch}))
            .await;
        problem(&r, 400, "invalid_phone_number");
    }
    let r = app.post(START, json!({"to": to, "channel": "email"})).await;
    problem(&r, 400, "invalid_email");
    let long = format!("{}@example.com", "a".repeat(300));
    for bad in [
        "ann@",
        "@example.com",
        "ann@localhost",
        "ann@[127.0.0.1]",
        "\"ann lee\"@example.com",
        "jöhn@example.com",
        "ann..lee@example.com",
        "ann@example.com\r\nBcc: x@y.example",
        long.as_str(),
    ] {
        let r = app.post(START, json!({"to": bad})).await;
        problem(&r, 400, "invalid_email");
        assert!(r.text.len() < 1000);
    }
    let r = app.post(START, json!({"to": to, "channel": "fax"})).await;
    problem(&r, 400, "unsupported_channel");
    let r = app
        .post(
            START,
            json!({"to": to, "channel": "sms", "workflow": "fallback"}),
        )
        .await;
    problem(&r, 400, "invalid_request");
    let r = app.post(START, json!({"to": to, "workflow": "nope"})).await;
    problem(&r, 400, "invalid_request");
    assert!(r.body["detail"].as_str().unwrap().contains("`fallback`"));
    for w in ["", "a b", &"w".repeat(65)] {
        let r = app.post(START, json!({"to": to, "workflow": w})).await;
        problem(&r, 400, "invalid_request");
    }
    let r = app.post(START, json!({"to": to, "workflow": 7})).await;
    problem(&r, 400, "invalid_request");
    assert!(app.outbox().await.is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_tenant_has_not_enabled_is_403_with_the_reason() {
    let app = spawn_app(Backend::Memory, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.channels = vec!["sms".into()];
        t.workflows.clear();
    })
    .await;
    let to = number();
    for ch in ["voice", "whatsapp"] {
        let r = app.post(START, json!({"to": to, "channel": ch})).await;
        problem(&r, 403, "channel_not_enabled");
        assert_eq!(r.body["reason"], "channel_disabled");
    }
    let r = app.post(START, json!({"to": "ann@example.com"})).await;
    problem(&r, 403, "channel_not_enabled");
    assert_eq!(app.start(&to).await.status, 201, "SMS is on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_channel_limits_refuse_with_their_own_reason() {
    let app = spawn_app(Backend::Memory, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.channel.insert(
            "voice".into(),
            ChannelSettings {
                destination_sends_per_hour: 1,
                tenant_sends_per_hour: 2,
                ..Default::default()
            },
        );
    })
    .await;
    let to = number();
    let r = app.post(START, json!({"to": to, "channel": "voice"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.cancel(r.body["id"].as_str().unwrap()).await;
    let r = app.post(START, json!({"to": to, "channel": "voice"})).await;
    problem(&r, 429, "rate_limited");
    assert_eq!(r.body["reason"], "voice_destination");
    assert!(r.header("retry-after").is_some());
    // SMS to the same number is not the voice channel's to limit
    assert_eq!(app.start(&to).await.status, 201);
    let other = number();
    assert_eq!(
        app.post(START, json!({"to": other, "channel": "voice"}))
            .await
            .status,
        201
    );
    let r = app
        .post(START, json!({"to": number(), "channel": "voice"}))
        .await;
    problem(&r, 429, "rate_limited");
    assert_eq!(r.body["reason"], "voice_tenant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_refuses_unrouted_channels_and_broken_workflows() {
    let (mut cfg, _) = base_config(Backend::Memory);
    cfg.routing.channels.remove("voice");
    let t = cfg.tenants.get_mut("demo").unwrap();
    t.workflows.insert(
        "mixed".into(),
        toml::from_str(r#"steps = [{channel = "sms", timeout_secs = 30}, {channel = "email"}]"#)
            .unwrap(),
    );
    t.workflows.insert(
        "open".into(),
        toml::from_str(r#"steps = [{channel = "sms"}, {channel = "whatsapp"}]"#).unwrap(),
    );
    let all = otpgw::config::problems(&cfg).join("\n");
    assert!(
        all.contains("`voice` is enabled but routing names no provider"),
        "{all}"
    );
    assert!(
        all.contains("workflows.mixed: mixes email with phone channels"),
        "{all}"
    );
    assert!(
        all.contains("workflows.open: step 1 needs timeout_secs"),
        "{all}"
    );
    assert!(
        all.contains("workflows.fallback: step 3 uses `voice`"),
        "{all}"
    );
    let err = otpgw::Application::build(cfg)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("routing names no provider"), "{err}");

    // a provider that does not send on a channel cannot be routed to it
    let (mut cfg, _) = base_config(Backend::Memory);
    cfg.providers.insert(
        "tw".into(),
        toml::from_str(
            "kind = \"twilio\"\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"t\"\nfrom = \"+15005550006\"",
        )
        .unwrap(),
    );
    cfg.routing.channels.get_mut("email").unwrap().default = vec!["tw".into()];
    let err = otpgw::Application::build(cfg)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not send on that channel"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_the_guard_blocked_for_sms_is_blocked_for_calls_and_whatsapp_too() {
    let app = spawn_app(Backend::Memory, |c| {
        let p = &mut c.tenants.get_mut("demo").unwrap().pumping;
        p.mode = otpgw::config::PumpingMode::Enforce;
        p.levels.prefix.budget = 1.0;
        p.block_secs = 600;
    })
    .await;
    let n = number();
    let prefix = &n[..n.len() - 3];
    let mut i = 0;
    let refused = loop {
        let r = app.start(&format!("{prefix}{i:03}")).await;
        i += 1;
        if r.status != 201 {
            break r;
        }
        assert!(i < 40, "never refused");
    };
    problem(&refused, 403, "destination_blocked");
    assert_eq!(refused.body["reason"], "prefix_blocked");
    for ch in ["voice", "whatsapp"] {
        let to = format!("{prefix}{:03}", 900 + i);
        i += 1;
        let r = app.post(START, json!({"to": to, "channel": ch})).await;
        problem(&r, 403, "destination_blocked");
        assert_eq!(r.body["reason"], "prefix_blocked", "{ch}");
    }
    // an address has no prefix and no toll: the guard does not judge it
    for k in 0..5 {
        let r = app
            .post(START, json!({"to": format!("user{k}@example.com")}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}
