//! The console's forms and access over real HTTP: `POST /ops` lifts a block only from a
//! page of its own origin and with the console's access (an admin key, or a loopback
//! caller in dev mode); with the store stopped the page still renders and says which
//! numbers are unavailable. The lookup form is in `lookup.rs`.

use super::scenario::{self, start_as, ADMIN_KEY, SHOP_KEY};
use super::support::app::{number, spawn_app, Resp, TestApp};
use super::support::redis::RedisServer;
use super::support::Backend;
use serde_json::json;

/// A form post to `/ops` from `origin` (`None`: no `Origin` header).
pub async fn post(app: &TestApp, origin: Option<&str>, form: &[(&str, &str)]) -> Resp {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = app
        .http
        .post(app.url("/ops"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    app.send(req).await
}

pub fn own(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

async fn blocks(app: &TestApp) -> serde_json::Value {
    let req = app
        .http
        .get(app.url("/v1/admin/blocks"))
        .bearer_auth(ADMIN_KEY);
    app.send(req).await.body["blocks"].clone()
}

/// A gateway whose tenant `shop` has a prefix block; the block's id.
async fn blocked() -> (TestApp, String) {
    let bad = scenario::twilio(true).await;
    let ok = scenario::twilio(false).await;
    let (cfg, prefix) = scenario::config(&bad.url, &ok.url, None);
    let app = super::support::app::spawn_with(cfg, prefix, Backend::Redis).await;
    let p = number();
    for i in 0..60u32 {
        let to = format!("{}{:03}", &p[..p.len() - 3], i * 7 % 1000);
        if start_as(&app, SHOP_KEY, &to).await != 201 {
            break;
        }
    }
    let b = blocks(&app).await;
    let id = b[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no block: {b}"))
        .to_string();
    (app, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lift_is_refused_cross_site_and_done_from_the_console_s_own_page() {
    let (app, id) = blocked().await;
    let lift = [
        ("action", "lift"),
        ("tenant", "shop"),
        ("level", "prefix"),
        ("key", id.as_str()),
    ];
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let r = post(&app, origin, &lift).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "forbidden"),
            "{origin:?}: {}",
            r.text
        );
    }
    let r = app
        .send(
            app.http
                .post(app.url("/ops"))
                .header("origin", own(&app))
                .header("sec-fetch-site", "cross-site")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("action=lift"),
        )
        .await;
    assert_eq!(r.status, 403, "a browser saying cross-site is refused");
    assert_eq!(
        blocks(&app).await.as_array().unwrap().len(),
        1,
        "still blocked"
    );
    // A Referer of this origin stands in for a missing Origin.
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(lift)
        .finish();
    let req = app
        .http
        .post(app.url("/ops"))
        .header("referer", format!("{}/ops", own(&app)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let r = app.send(req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("Lifted the prefix block of tenant shop"),
        "{}",
        r.text
    );
    assert_eq!(blocks(&app).await, json!([]));
    let r = post(&app, Some(&own(&app)), &lift).await;
    assert!(
        r.text.contains("Nothing to lift"),
        "a second lift finds nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_key_from_a_non_loopback_caller_the_console_is_401() {
    let app = spawn_app(Backend::Memory, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.server.trusted_proxies =
            otpgw::config::TrustedProxies(vec!["127.0.0.1".parse().unwrap()]);
    })
    .await;
    let send = |method: &str, key: Option<&str>| {
        let mut req = app
            .http
            .request(method.parse().unwrap(), app.url("/ops"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("origin", own(&app))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("action=lift&tenant=demo&level=prefix&key=%2B1415");
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        app.send(req)
    };
    for m in ["GET", "POST"] {
        assert_eq!(send(m, None).await.status, 401, "{m}");
        assert_eq!(
            send(m, Some(&app.key)).await.status,
            403,
            "{m}: a tenant key"
        );
        let r = send(m, Some(ADMIN_KEY)).await;
        assert_eq!(r.status, 200, "{m}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_stopped_the_page_renders_and_says_so() {
    let redis = RedisServer::start();
    let bad = scenario::twilio(true).await;
    let ok = scenario::twilio(false).await;
    let (cfg, prefix) = scenario::config(&bad.url, &ok.url, Some(redis.url()));
    let app = super::support::app::spawn_with(cfg, prefix, Backend::Redis).await;
    let r = app.get("/ops").await;
    assert_eq!(r.status, 200);
    assert!(
        !r.text.contains("unavailable: store unreachable"),
        "{}",
        r.text
    );
    redis.stop();
    let r = app.get("/ops").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for what in ["fleet numbers", "blocks", "the send queue"] {
        assert!(
            r.text
                .contains(&format!("{what} unavailable: store unreachable")),
            "{what}: {}",
            r.text
        );
    }
    assert!(
        r.text.contains("<td>tw_ok</td>"),
        "the providers still show"
    );
    let r = post(
        &app,
        Some(&own(&app)),
        &[("action", "lookup"), ("tenant", "demo"), ("to", &number())],
    )
    .await;
    assert!(
        r.text
            .contains("the support lookup unavailable: store unreachable"),
        "{}",
        r.text
    );
}
