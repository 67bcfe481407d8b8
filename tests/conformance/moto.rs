//! A local Amazon SNS: `moto` (PyPI `moto[server]`) in a virtualenv under the target
//! directory, installed on first use (`tests/support/pyvenv.rs`), started once per test
//! binary on a free port under a shell watchdog that stops it when the test process
//! exits.
//!
//! Set-up, once: while moto still takes unsigned requests, create an IAM user with an
//! access key and an `sns:Publish` policy, then turn request authentication on
//! (`POST /moto-api/reset-auth` with `0`). From then on moto checks every request's
//! SigV4 signature against that key, so a publish that succeeds has been signed right.
//! Published SMS are listed by `GET /moto-api/data.json` under `sns.SMS` (phone number,
//! text, message id; moto does not keep the message attributes, it only validates them).
//!
//! Needs `python3` with `venv` (Debian: `python3-venv`) and PyPI; without them every
//! test that uses moto fails with a message that says so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// moto's major version the tests are written against.
const MOTO: &str = "moto[server]>=5,<6";

/// A running moto with an IAM key allowed to publish.
#[derive(Debug, Clone)]
pub struct Moto {
    pub base_url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

static MOTO_SERVER: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The shared moto, started on first use. Panics with the reason if it cannot run.
pub fn moto() -> Moto {
    let r = MOTO_SERVER.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| Err("moto set-up panicked".into()))
    });
    match r {
        Ok(m) => m.clone(),
        Err(e) => panic!("the local SNS (moto) is not available: {e}"),
    }
}

/// The virtualenv's python, installing moto into a fresh one first if needed.
fn python() -> Result<PathBuf, String> {
    crate::support::pyvenv::python("moto-venv", MOTO)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Result<Moto, String> {
    let py = python()?;
    let port = free_port();
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto-server.log");
    let me = std::process::id();
    let script = format!(
        "\"$0\" -m moto.server -H 127.0.0.1 -p {port} >\"$1\" 2>&1 & m=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.2; done; \
         kill $m 2>/dev/null; wait $m"
    );
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&py)
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    std::thread::spawn(move || watchdog.wait());
    let base_url = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(set_up(base_url, &log))
}

async fn set_up(base_url: String, log: &Path) -> Result<Moto, String> {
    otpgw::providers::http::install_tls_provider();
    let client = reqwest::Client::new();
    let t = Instant::now();
    loop {
        match client
            .get(format!("{base_url}/moto-api/data.json"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => break,
            _ if t.elapsed() > Duration::from_secs(60) => {
                return Err(format!(
                    "moto did not answer on {base_url} within 60 s; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    // IAM calls while moto still takes unsigned requests; the credential scope tells
    // moto which service a request is for.
    let iam = |params: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{base_url}/");
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let r = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
                )
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let text = r.text().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(text)
            } else {
                Err(format!("IAM set-up answered {status}: {text}"))
            }
        }
    };
    let v = || ("Version", "2010-05-08".to_string());
    iam(vec![
        ("Action", "CreateUser".into()),
        v(),
        ("UserName", "otpgw".into()),
    ])
    .await?;
    let key = iam(vec![
        ("Action", "CreateAccessKey".into()),
        v(),
        ("UserName", "otpgw".into()),
    ])
    .await?;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}"#;
    iam(vec![
        ("Action", "PutUserPolicy".into()),
        v(),
        ("UserName", "otpgw".into()),
        ("PolicyName", "publish".into()),
        ("PolicyDocument", policy.into()),
    ])
    .await?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let s = key.find(&open).map(|i| i + open.len())?;
        let e = key[s..].find(&format!("</{name}>"))? + s;
        Some(key[s..e].to_string())
    };
    let (Some(access_key_id), Some(secret_access_key)) =
        (tag("AccessKeyId"), tag("SecretAccessKey"))
    else {
        return Err(format!("no access key in moto's answer: {key}"));
    };
    // From here on moto authenticates every request (signature and IAM policy).
    let r = client
        .post(format!("{base_url}/moto-api/reset-auth"))
        .header("content-type", "text/plain")
        .body("0")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("moto reset-auth answered {}", r.status()));
    }
    Ok(Moto {
        base_url,
        access_key_id,
        secret_access_key,
    })
}

/// The SMS moto has recorded: `(phone_number, message, message_id)`.
pub async fn published(base_url: &str) -> Vec<(String, String, String)> {
    otpgw::providers::http::install_tls_provider();
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{base_url}/moto-api/data.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.pointer("/sns/SMS")
        .and_then(|s| s.as_array())
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let s = |k: &str| {
                        i.get(k)
                            .and_then(|x| x.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    (s("phone_number"), s("message"), s("message_id"))
                })
                .collect()
        })
        .unwrap_or_default()
}
