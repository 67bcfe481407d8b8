//! The gateway end to end: a start on the `email` channel routed to an `smtp` provider
//! named `mail` reaches the server with its code, and the code checks; neither the
//! code nor the address reach the logs; start-up refuses plain text to a remote relay
//! and SMS routed to the SMTP provider.
//!
//! Logs are captured in this process, with the gateway's own subscriber
//! (`telemetry::subscriber`, the text format `serve` writes to standard error) at
//! `debug`, `otpgw` at `trace`, installed once for this test binary. In process rather
//! than from the `otpgw` binary (as `tests/security_logs.rs` does): the binary under
//! the shared target directory is rebuilt by other checkouts and may lack this adapter.

use super::provider;
use super::server::{part, Smtpd};
use super::support::app::{extract_code, spawn_app, Backend};
use otpgw::config::{Config, LogConfig, LogFormat, RouteTable, DEFAULT_TOML};
use otpgw::providers::ProviderConfig;
use serde_json::json;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// Everything logged by this test binary since the capture began.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let cfg = LogConfig {
            format: LogFormat::Text,
            filter: "debug,otpgw=trace".into(),
        };
        let sub = otpgw::telemetry::subscriber(&cfg, logs.clone(), false);
        tracing::subscriber::set_global_default(sub).expect("no other subscriber");
        logs
    })
    .clone()
}

/// A gateway whose `email` channel goes to `mail`, the relay on `port`.
async fn gateway(port: u16) -> super::support::TestApp {
    spawn_app(Backend::Memory, move |c| {
        c.providers
            .insert("mail".into(), ProviderConfig::Smtp(provider(port)));
        c.routing.channels.insert(
            "email".into(),
            RouteTable {
                default: vec!["mail".into()],
                ..Default::default()
            },
        );
    })
    .await
}

/// Waits until the verification's `delivery.status` is `want`; the verification.
async fn wait_status(app: &super::support::TestApp, id: &str, want: &str) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["delivery"]["status"] == want {
            return r.body;
        }
        assert!(
            t.elapsed() < T,
            "delivery stuck at {} (wanted {want})",
            r.body["delivery"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_on_the_email_channel_delivers_the_code_through_the_relay_and_it_checks() {
    let s = Smtpd::plain().await;
    let app = gateway(s.port).await;
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": "a@b.example", "channel": "email"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["channel"], "email");
    let id = r.body["id"].as_str().unwrap().to_string();
    let m = s.wait_for("message", 1, T).await.remove(0);
    assert_eq!(m["rcpt_tos"], json!(["a@b.example"]));
    let text = part(&m, "text/plain").unwrap();
    let code = extract_code(&text);
    assert!(part(&m, "text/html").unwrap().contains(&code));
    let v = wait_status(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "mail");
    let wrong = app
        .check("a@b.example", &super::support::app::wrong(&code))
        .await;
    assert_eq!(wrong.body["valid"], false, "{}", wrong.text);
    let ok = app.check("a@b.example", &code).await;
    assert_eq!(
        (ok.body["valid"].as_bool(), ok.body["status"].as_str()),
        (Some(true), Some("approved")),
        "{}",
        ok.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_the_code_nor_the_address_reach_the_gateway_logs() {
    let logs = logs();
    let s = Smtpd::plain().await;
    let app = gateway(s.port).await;
    let to = "log.check.person@b.example";
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "channel": "email", "code_length": 10}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let m = s.wait_for("message", 1, T).await.remove(0);
    let code = extract_code(&part(&m, "text/plain").unwrap());
    assert_eq!(code.len(), 10);
    wait_status(&app, &id, "sent").await;
    assert_eq!(app.check(to, &code).await.body["valid"], true);
    // a refused recipient: the relay's answer quotes the address
    let refused = "unknown.log.person@b.example";
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": refused, "channel": "email"}),
        )
        .await;
    let refused_id = r.body["id"].as_str().unwrap().to_string();
    wait_status(&app, &refused_id, "failed").await;
    app.stop().await;

    let text = logs.text();
    // the capture sees this gateway: the accepted send and the refusal, masked
    assert!(
        text.contains(&id) && text.contains("l***@b.example"),
        "{text}"
    );
    assert!(text.contains("550 recipient address refused"), "{text}");
    assert!(!text.contains(&code), "the code was logged");
    for addr in [to, refused, "log.check.person", "unknown.log.person"] {
        assert!(!text.contains(addr), "{addr} was logged");
    }
}

fn with_mail(extra: &str) -> Config {
    let toml = format!("{DEFAULT_TOML}\n[providers.mail]\nkind = \"smtp\"\n{extra}\n");
    Config::from_toml(&toml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_to_a_remote_relay_is_a_config_problem_and_the_gateway_does_not_start() {
    let mut cfg =
        with_mail("host = \"smtp.example.net\"\nsecurity = \"none\"\nfrom = \"otp@acme.example\"");
    cfg.secret = Some(otpgw::config::Secret(
        super::support::app::TEST_SECRET.into(),
    ));
    let problems = otpgw::config::problems(&cfg);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("providers.mail: security = \"none\"")),
        "{problems:?}"
    );
    assert!(otpgw::Application::build(cfg).await.is_err());
    let mut ok =
        with_mail("host = \"localhost\"\nsecurity = \"none\"\nfrom = \"otp@acme.example\"");
    ok.secret = Some(otpgw::config::Secret(
        super::support::app::TEST_SECRET.into(),
    ));
    assert_eq!(otpgw::config::problems(&ok), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_to_start_with_sms_routed_to_the_smtp_provider() {
    let mut cfg = with_mail(
        "host = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nfrom = \"otp@acme.example\"",
    );
    cfg.secret = Some(otpgw::config::Secret(
        super::support::app::TEST_SECRET.into(),
    ));
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.routing.default = vec!["mail".into()];
    let e = otpgw::Application::build(cfg).await.err().expect("refused");
    let e = format!("{e:#}");
    assert!(e.contains("mail") && e.contains("sms"), "{e}");
}

#[test]
fn the_commented_mail_example_in_the_default_config_parses_once_uncommented() {
    let block: Vec<&str> = DEFAULT_TOML
        .lines()
        .skip_while(|l| *l != "# [providers.mail]")
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim_start())
        .collect();
    assert!(block.len() > 10, "the example is in config/default.toml");
    let cfg = Config::from_toml(&format!("{DEFAULT_TOML}\n{}\n", block.join("\n"))).unwrap();
    let ProviderConfig::Smtp(mail) = &cfg.providers["mail"] else {
        panic!("kind = \"smtp\"")
    };
    assert_eq!(
        (mail.port(), mail.pool_size, mail.timeout_ms),
        (587, 4, 10_000)
    );
    // every key is the adapter's (unknown keys are refused); only the example's CA file
    // is missing on this machine
    let problems = cfg.providers["mail"].problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("tls_ca_file /etc/otpgw/relay-ca.pem"));
}
