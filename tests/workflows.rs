//! Workflows (channels in turn under one code) through the real HTTP API, on the memory
//! store, a single Redis and a Redis Cluster: a failing step moves on at once, a step
//! without a `delivered` receipt moves on at its timeout, an approval stops the rest,
//! the caller can move on, one code and one attempt budget across steps, and a step
//! timer set by an instance that died is run by another.

mod support;

use otpgw::config::{StepConfig, TenantConfig, WorkflowConfig};
use otpgw::providers::webhook;
use otpgw::providers::ProviderConfig;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::app::{base_config, number, spawn_with, wrong};
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

support::on_every_backend_kind!(
    sms_failing_then_whatsapp_delivers,
    sms_sent_but_never_receipted_moves_to_voice_after_its_timeout,
    an_approval_in_step_one_stops_step_two,
    the_caller_moves_on_and_the_last_step_is_409,
    one_code_and_one_attempt_budget_across_steps,
    a_resend_may_switch_channel_and_keeps_the_code,
);

mod shared {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        a_step_due_on_a_stopped_instance_runs_on_another(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster() {
        a_step_due_on_a_stopped_instance_runs_on_another(Backend::Cluster).await
    }
}

fn demo(c: &mut otpgw::Config) -> &mut TenantConfig {
    c.tenants.get_mut("demo").unwrap()
}

/// A workflow `flow` of `steps` (channel, timeout in seconds) on the demo tenant, every
/// channel on and routed to the console, SMS to `sms` when given.
fn with_flow(c: &mut otpgw::Config, steps: &[(&str, Option<u64>)], sms: Option<&Sink>) {
    let t = demo(c);
    t.channels = ["sms", "whatsapp", "voice", "email"]
        .map(String::from)
        .to_vec();
    t.resend_cooldown_secs = 0;
    t.workflows.insert(
        "flow".into(),
        WorkflowConfig {
            steps: steps
                .iter()
                .map(|(ch, t)| StepConfig {
                    channel: ch.to_string(),
                    timeout_secs: *t,
                })
                .collect(),
        },
    );
    if let Some(sink) = sms {
        let hook = webhook::Config {
            url: sink.url(),
            timeout_ms: 500,
            ..Default::default()
        };
        c.providers
            .insert("hook".into(), ProviderConfig::Webhook(hook));
        c.routing.default = vec!["hook".into()];
    }
}

async fn start_flow(app: &TestApp, to: &str) -> Value {
    let r = app
        .post("/v1/verifications", json!({"to": to, "workflow": "flow"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["workflow"]["name"], "flow");
    assert_eq!(r.body["workflow"]["current_step"], 0);
    r.body
}

/// The code in a message body: a call's digits are spaced (`1, 2, 3`).
fn code_in(body: &str) -> String {
    if body.contains(", ") {
        body.chars().filter(char::is_ascii_digit).collect()
    } else {
        support::app::extract_code(body)
    }
}

/// Waits until the outbox holds a `channel` message to `to`; its code.
async fn wait_message(app: &TestApp, to: &str, channel: &str, secs: u64) -> String {
    let t = Instant::now();
    loop {
        let found = app
            .outbox()
            .await
            .into_iter()
            .find(|m| m["to"] == to && m["channel"] == channel);
        if let Some(m) = found {
            return code_in(m["body"].as_str().unwrap());
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "no {channel} message within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the verification is on step `step`; its resource.
async fn wait_step(app: &TestApp, id: &str, step: u64, secs: u64) -> Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["workflow"]["current_step"] == step {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "still on step {} after {secs} s: {}",
            r.body["workflow"]["current_step"],
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sms_failing_then_whatsapp_delivers(b: Backend) {
    let sink = Sink::start(Behaviour::Status(400)).await;
    let app = spawn_app(b, |c| {
        with_flow(c, &[("sms", Some(60)), ("whatsapp", None)], Some(&sink))
    })
    .await;
    let to = number();
    let id = start_flow(&app, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The SMS is refused for good: WhatsApp goes at once, not after 60 s.
    let v = wait_step(&app, &id, 1, 5).await;
    assert_eq!(v["channel"], "whatsapp");
    let steps = v["workflow"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["channel"], "sms");
    assert_eq!(steps[0]["status"], "failed");
    assert_eq!(steps[0]["provider"], "hook");
    assert_eq!(steps[0]["next_because"], "failed");
    let code = wait_message(&app, &to, "whatsapp", 5).await;
    let r = app.check(&to, &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
    assert_eq!(sink.received().len(), 1, "the refused SMS is not retried");
}

async fn sms_sent_but_never_receipted_moves_to_voice_after_its_timeout(b: Backend) {
    let app = spawn_app(b, |c| {
        with_flow(c, &[("sms", Some(1)), ("voice", None)], None)
    })
    .await;
    let to = number();
    let id = start_flow(&app, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sms = wait_message(&app, &to, "sms", 5).await;
    // Sent, no receipt (the console sends none): the timeout alone moves it on.
    let started = Instant::now();
    let v = wait_step(&app, &id, 1, 6).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the timeout"
    );
    let past = &v["workflow"]["steps"][0];
    assert_eq!(past["status"], "sent");
    assert_eq!(past["next_because"], "timeout");
    assert_eq!(v["send_count"], 2);
    let voice = wait_message(&app, &to, "voice", 5).await;
    assert_eq!(voice, sms, "one code across the steps");
}

async fn an_approval_in_step_one_stops_step_two(b: Backend) {
    let app = spawn_app(b, |c| {
        with_flow(c, &[("sms", Some(1)), ("voice", None)], None)
    })
    .await;
    let to = number();
    let id = start_flow(&app, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = wait_message(&app, &to, "sms", 5).await;
    assert_eq!(app.check(&to, &code).await.body["status"], "approved");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let v = app.fetch(&id).await.body;
    assert_eq!(v["status"], "approved");
    assert_eq!(v["workflow"]["current_step"], 0, "{v}");
    assert_eq!(v["send_count"], 1);
    let calls = app.outbox().await;
    assert!(!calls
        .iter()
        .any(|m| m["to"] == to.as_str() && m["channel"] == "voice"));
    let r = app
        .post(&format!("/v1/verifications/{id}/next"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "no_next_step"), "{}", r.text);
}

async fn the_caller_moves_on_and_the_last_step_is_409(b: Backend) {
    let steps = [("sms", Some(600)), ("whatsapp", Some(600)), ("voice", None)];
    let app = spawn_app(b, |c| with_flow(c, &steps, None)).await;
    let to = number();
    let id = start_flow(&app, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = format!("/v1/verifications/{id}/next");
    let r = app.post(&next, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["channel"], "whatsapp");
    assert_eq!(r.body["workflow"]["steps"][0]["next_because"], "requested");
    let r = app.post(&next, json!({})).await;
    assert_eq!(r.body["channel"], "voice");
    assert_eq!(r.body["workflow"]["current_step"], 2);
    assert_eq!(r.body["send_count"], 3);
    let r = app.post(&next, json!({})).await;
    assert_eq!((r.status, r.code()), (409, "no_next_step"));
    assert!(r.body["detail"].as_str().unwrap().contains("last step"));
    // the last step's call goes out (a step moved past before a worker took its send
    // is superseded and not sent), and any message that went out has the same code
    let code = wait_message(&app, &to, "voice", 5).await;
    for m in app.outbox().await.iter().filter(|m| m["to"] == to.as_str()) {
        assert_eq!(code_in(m["body"].as_str().unwrap()), code);
    }
    // a verification without a workflow has no next step; another tenant's is 404
    let plain = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(&format!("/v1/verifications/{plain}/next"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "no_next_step"));
    let r = app
        .post(
            "/v1/verifications/vrf_00aa0123456789abcdef01234567/next",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn one_code_and_one_attempt_budget_across_steps(b: Backend) {
    let steps = [("sms", Some(600)), ("voice", None)];
    let app = spawn_app(b, |c| with_flow(c, &steps, None)).await;
    let to = number();
    let id = start_flow(&app, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = wait_message(&app, &to, "sms", 5).await;
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(r.body["check_attempts_remaining"], 4);
    app.post(&format!("/v1/verifications/{id}/next"), json!({}))
        .await;
    assert_eq!(wait_message(&app, &to, "voice", 5).await, code);
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(
        r.body["check_attempts_remaining"], 3,
        "the budget is shared"
    );
    let r = app.check_id(&id, &code).await;
    assert_eq!(r.body["status"], "approved");
}

async fn a_resend_may_switch_channel_and_keeps_the_code(b: Backend) {
    let app = spawn_app(b, |c| with_flow(c, &[("sms", None)], None)).await;
    let to = number();
    let r = app.start(&to).await;
    let id = r.body["id"].clone();
    let code = wait_message(&app, &to, "sms", 5).await;
    let r = app
        .post("/v1/verifications", json!({"to": to, "channel": "voice"}))
        .await;
    assert_eq!((r.status, &r.body["id"]), (200, &id), "{}", r.text);
    assert_eq!(r.body["channel"], "voice");
    assert_eq!(wait_message(&app, &to, "voice", 5).await, code);
    // a resend naming no channel keeps the last one
    let r = app.post("/v1/verifications", json!({"to": to})).await;
    assert_eq!(r.body["channel"], "voice");
    assert_eq!(r.body["send_count"], 3);
}

async fn a_step_due_on_a_stopped_instance_runs_on_another(b: Backend) {
    let (mut cfg, prefix) = base_config(b);
    with_flow(&mut cfg, &[("sms", Some(2)), ("voice", None)], None);
    let first = spawn_with(cfg.clone(), prefix.clone(), b).await;
    let to = number();
    let id = start_flow(&first, &to).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = wait_message(&first, &to, "sms", 5).await;
    // The instance that started it stops before the step's timeout.
    first.stop().await;
    let second = spawn_with(cfg, prefix, b).await;
    let v = wait_step(&second, &id, 1, 8).await;
    assert_eq!(v["workflow"]["steps"][0]["next_because"], "timeout");
    assert_eq!(wait_message(&second, &to, "voice", 5).await, code);
    assert_eq!(second.check(&to, &code).await.body["status"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_relay_that_is_down_is_retried_for_the_step_then_the_next_step_runs() {
    // nothing listens on this port: every attempt is refused (a retryable failure)
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app(Backend::Memory, move |c| {
        let mail: otpgw::providers::smtp::Config = toml::from_str(&format!(
            "host = \"127.0.0.1\"\nport = {closed}\nsecurity = \"none\"\nfrom = \"otp@example.com\"\ntimeout_ms = 300"
        ))
        .unwrap();
        c.providers.insert("mail".into(), ProviderConfig::Smtp(mail));
        c.routing.channels.get_mut("email").unwrap().default = vec!["mail".into()];
        let t = demo(c);
        t.workflows.insert(
            "flow".into(),
            toml::from_str(
                r#"steps = [{channel = "email", timeout_secs = 1}, {channel = "email", timeout_secs = 1}, {channel = "email"}]"#,
            )
            .unwrap(),
        );
    })
    .await;
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": "ann@example.com", "workflow": "flow"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let v = wait_step(&app, &id, 1, 6).await;
    let past = &v["workflow"]["steps"][0];
    // the send gave up at the step's deadline, or the timer fired first: either way on
    let why = past["next_because"].as_str().unwrap();
    assert!(why == "failed" || why == "timeout", "{v}");
    assert_eq!(past["provider"], "mail", "{v}");
    assert_eq!(past["channel"], "email");
    assert_eq!(v["status"], "pending", "the verification lives on");
}
