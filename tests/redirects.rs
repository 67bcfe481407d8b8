//! Outbound calls never follow redirects: a webhook endpoint that answers `307` to another
//! host gets a failed attempt (`Redirected`, with the reason on the verification), and
//! the other host never sees the code, the number, the metadata or the signature. The
//! vendor adapters meet the same case in the conformance suite's shared table.

mod support;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use otpgw::providers::{webhook, ProviderConfig};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::app::number;
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

/// An endpoint that answers every POST with `307 Location: <to>`, counting them.
async fn redirector(to: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/sms",
        post(move || {
            h.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response() }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/sms"), hits)
}

fn hook(url: String) -> ProviderConfig {
    ProviderConfig::Webhook(webhook::Config {
        url,
        timeout_ms: 1_000,
        signing_secret: Some("whsec-for-redirect-tests-0123456789".into()),
        ..Default::default()
    })
}

async fn wait_delivery(app: &TestApp, id: &str, want: &str) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["delivery"]["status"] == want {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "delivery stuck at {}",
            r.body["delivery"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(app: &TestApp) -> String {
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": number(), "metadata": {"email": "someone@example.com"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirecting_webhook_fails_the_attempt_and_the_target_gets_nothing() {
    let thief = Sink::start(Behaviour::Ok).await;
    let (url, hits) = redirector(thief.url()).await;
    let app = spawn_app(Backend::Memory, move |c| {
        c.providers.insert("hook".into(), hook(url));
        c.routing.default = vec!["hook".into()];
        for t in c.tenants.values_mut() {
            t.ttl_secs = 2;
        }
    })
    .await;
    let id = start(&app).await;
    let v = wait_delivery(&app, &id, "failed").await;
    let reason = v["delivery"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("redirect (307)") && reason.contains("redirects are not followed"),
        "{v}"
    );
    assert!(hits.load(Ordering::SeqCst) >= 1, "the endpoint was called");
    assert!(
        thief.received().is_empty(),
        "the redirect target received {:?}",
        thief.received()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_fails_over_to_the_next_provider() {
    let thief = Sink::start(Behaviour::Ok).await;
    let good = Sink::start(Behaviour::Ok).await;
    let (url, hits) = redirector(thief.url()).await;
    let good_url = good.url();
    let app = spawn_app(Backend::Memory, move |c| {
        c.providers.insert("a".into(), hook(url));
        c.providers.insert("b".into(), hook(good_url));
        c.routing.default = vec!["a".into(), "b".into()];
    })
    .await;
    let id = start(&app).await;
    let v = wait_delivery(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "b", "{v}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a was tried once");
    assert_eq!(good.received().len(), 1);
    assert!(thief.received().is_empty());
}
