//! Who may read what at the edge: the dev outbox per tenant, "local" behind trusted
//! proxies, `/ops` in production, one owner per key hash, and secrets that look like
//! numbers (issue 17, items 1, 2, 11 and the key-hash suspicion).

mod support;

use otpgw::crypto::hash_api_key;
use otpgw::Config;
use std::process::Command;
use support::app::{number, spawn_app, Backend, Resp, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_otpgw");
const OTHER_KEY: &str = "otpgw_other_tenant_key_for_the_outbox_test";
const ADMIN_KEY: &str = "otpgw_admin_key_for_the_edge_tests";
const PROD_KEY: &str = "otpgw_tenant_key_of_the_production_tests";

/// A second tenant, `other`, with its own key.
fn with_other_tenant(c: &mut Config) {
    let mut other = c.tenants["demo"].clone();
    other.api_keys = vec![hash_api_key(OTHER_KEY)];
    c.tenants.insert("other".into(), other);
}

async fn get(app: &TestApp, path: &str, key: Option<&str>, xff: Option<&str>) -> Resp {
    let mut req = app.http.get(app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    app.send(req).await
}

fn tos(r: &Resp) -> Vec<(String, String)> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", r.text))
        .iter()
        .map(|m| {
            (
                m["tenant"].as_str().unwrap_or("").to_string(),
                m["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_shows_a_key_only_its_own_tenants_messages() {
    let app = spawn_app(Backend::Memory, with_other_tenant).await;
    let (a, b) = (number(), number());
    assert_eq!(app.start(&a).await.status, 201);
    let r = app
        .send(
            app.http
                .post(app.url("/v1/verifications"))
                .bearer_auth(OTHER_KEY)
                .json(&serde_json::json!({ "to": b })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.code_for(&a).await;
    app.code_for(&b).await;

    let demo = get(&app, "/dev/outbox", Some(&app.key), None).await;
    assert_eq!(tos(&demo), [("demo".to_string(), a.clone())]);
    let other = get(&app, "/dev/outbox", Some(OTHER_KEY), None).await;
    assert_eq!(tos(&other), [("other".to_string(), b.clone())]);
    // A local caller without a key (the developer's machine, dev mode) sees every
    // tenant's; a wrong key is refused even from loopback.
    let all = get(&app, "/dev/outbox", None, None).await;
    assert_eq!(tos(&all).len(), 2, "{}", all.text);
    let bad = get(&app, "/dev/outbox", Some("not-a-key"), None).await;
    assert_eq!((bad.status, bad.code()), (401, "unauthorized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_on_this_host_nothing_is_local() {
    let app = spawn_app(Backend::Memory, |c| {
        c.server.trusted_proxies =
            otpgw::config::TrustedProxies(vec!["127.0.0.1".parse().unwrap()]);
        c.admin.api_keys = vec![hash_api_key(ADMIN_KEY)];
    })
    .await;
    let outside = Some("203.0.113.9");
    for xff in [outside, None] {
        let r = get(&app, "/ops", None, xff).await;
        assert_eq!((r.status, r.code()), (401, "unauthorized"), "/ops {xff:?}");
        let r = get(&app, "/dev/outbox", None, xff).await;
        assert_eq!(r.status, 401, "/dev/outbox {xff:?}: {}", r.text);
    }
    // A forwarded client that claims to be loopback is still behind the proxy.
    let r = get(&app, "/ops", None, Some("127.0.0.1")).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = get(&app, "/ops", Some(ADMIN_KEY), outside).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get(&app, "/dev/outbox", Some(&app.key), outside).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // The peer (127.0.0.1) is not the listed proxy, so its X-Forwarded-For and
    // Forwarded say nothing: it is a local caller (dev mode).
    let app = spawn_app(Backend::Memory, |c| {
        c.server.trusted_proxies =
            otpgw::config::TrustedProxies(vec!["192.0.2.1".parse().unwrap()]);
    })
    .await;
    let r = get(&app, "/ops", None, Some("203.0.113.9")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send(
            app.http
                .get(app.url("/dev/outbox"))
                .header("forwarded", "for=203.0.113.9"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A production gateway: no outbox, no demo key (its tenant key is [`PROD_KEY`]), the
/// admin hash written in upper case.
async fn production_app() -> TestApp {
    let mut app = spawn_app(Backend::Memory, |c| {
        c.mode = otpgw::config::Mode::Production;
        c.dev.outbox = false;
        c.tenants.get_mut("demo").unwrap().api_keys = vec![hash_api_key(PROD_KEY)];
        let upper = hash_api_key(ADMIN_KEY)
            .to_ascii_uppercase()
            .replace("SHA256:", "sha256:");
        c.admin.api_keys = vec![upper];
    })
    .await;
    app.key = PROD_KEY.into();
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_production_ops_needs_an_admin_key_from_loopback_too() {
    let app = production_app().await;
    let r = get(&app, "/ops", None, None).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"), "{}", r.text);
    let r = get(&app, "/ops", Some(PROD_KEY), None).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    // The hash is upper case in the config; /ops and the admin API both take it.
    let r = get(&app, "/ops", Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("otpgw operations"));
    let r = get(&app, "/v1/admin/blocks", Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = get(&app, "/dev/outbox", None, None).await;
    assert_eq!(r.status, 404, "no outbox in production");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_the_outbox_and_the_demo_key_at_startup() {
    let (mut cfg, _) = support::app::base_config(Backend::Memory);
    cfg.mode = otpgw::config::Mode::Production;
    let err = match otpgw::Application::build(cfg).await {
        Ok(_) => panic!("a production gateway with the dev outbox and the demo key started"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("dev.outbox = true"), "{err}");
    assert!(err.contains("public demo key"), "{err}");
}

/// `otpgw config check --config <toml>` with `env`: (exit code, stdout + stderr).
fn config_check(toml: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("otpgw.toml");
    std::fs::write(&file, toml).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["config", "check", "--config"])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn tenant(id: &str, key: &str) -> String {
    format!("[tenants.{id}]\napi_keys = [\"{}\"]\n", hash_api_key(key))
}

#[test]
fn config_check_refuses_production_outbox_demo_key_and_shared_key_hashes() {
    let secret = [("OTPGW_SECRET", "0123456789abcdef0123456789abcdef")];
    let toml = format!(
        "mode = \"production\"\n[dev]\noutbox = true\n[admin]\napi_keys = [\"{}\", \"raw\"]\n{}{}{}",
        hash_api_key("b-key"),
        tenant("demo", otpgw::config::DEMO_API_KEY),
        tenant("a", "shared"),
        tenant("b", "shared"),
    );
    let (code, out) = config_check(&toml, &secret);
    assert_eq!(code, Some(2), "{out}");
    for want in [
        "dev.outbox = true",
        "tenants.demo: api_keys holds the public demo key",
        "listed under tenants a and b",
        "admin.api_keys must hold `sha256:<64 hex>`",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
    // The admin key is also tenant b's key.
    let toml = format!(
        "mode = \"production\"\n[admin]\napi_keys = [\"{}\"]\n{}",
        hash_api_key("b-key"),
        tenant("b", "b-key"),
    );
    let (code, out) = config_check(&toml, &secret);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("also a key of tenant b"), "{out}");
    // The same, keys apart, is fine.
    let toml = format!("mode = \"production\"\n{}", tenant("b", "b-key"));
    let (code, out) = config_check(&toml, &secret);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn config_check_takes_numeric_secrets_as_text_and_never_prints_them() {
    let toml = format!(
        "mode = \"production\"\n[providers.tw]\nkind = \"twilio\"\naccount_sid = \"AC{}\"\nfrom = \"+15551234567\"\n[routing]\ndefault = [\"tw\"]\n{}",
        "0".repeat(32),
        tenant("a", "a-key")
    );
    // Leading zeros and all: 40 digits of secret, a token of digits.
    let (code, out) = config_check(
        &toml,
        &[
            ("OTPGW_SECRET", "0000123456789012345678901234567890123456"),
            ("OTPGW_PROVIDERS__TW__AUTH_TOKEN", "12345678901234567890"),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    // A short numeric secret is refused for its length, without echoing it.
    let (code, out) = config_check(
        &toml,
        &[
            ("OTPGW_SECRET", "123456789012345678"),
            ("OTPGW_PROVIDERS__TW__AUTH_TOKEN", "12345678901234567890"),
        ],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("18 bytes"), "{out}");
    assert!(
        !out.contains("123456789012345678"),
        "the secret was printed: {out}"
    );
}
