//! Prism, the OpenAPI mock server, for checking adapters against a vendor's published API
//! document (`specs/`).
//!
//! Prism comes from the npm registry: on first use it is installed into
//! `<target>/tmp/prism` (`npm install --prefix … @stoplight/prism-cli@5`), so a machine
//! with Node.js and npm needs nothing else; without npm the test fails and says to
//! install them. One Prism per document per test binary (a `OnceLock`), on a free port,
//! under a shell watchdog that ends it when the test process exits.
//!
//! Adapters do not talk to Prism directly: each test starts a [`PrismProxy`] that mounts
//! the document at its server URL's path (Prism itself matches paths without that base
//! path: Vonage's server is `…/sms`, its path `/{format}`), forwards every request and
//! records Prism's answer, so a failing test shows the rule Prism says was broken.
//! Where a document has a known flaw (`specs/SOURCES.md`: Meta's button `index`
//! pattern), a request Prism refuses is sent again rewritten around that flaw alone,
//! and that answer decides; the exchange says so (`around_flaw`).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The Prism release line the suite is written against.
const PRISM_PACKAGE: &str = "@stoplight/prism-cli@5";

/// A vendor's API document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Twilio,
    Vonage,
    Sinch,
    /// Meta's WhatsApp Business (Cloud) API v23.0, whole.
    Whatsapp,
    /// Twilio's Call resource (the voice channel).
    TwilioCalls,
}

impl Spec {
    fn file(self) -> PathBuf {
        let rel = match self {
            Spec::Twilio => "twilio/twilio_api_v2010.messages-only.json",
            Spec::Vonage => "vonage/sms.yml",
            Spec::Sinch => "sinch/sinch.sms.openapi.yaml",
            Spec::Whatsapp => "whatsapp/business-messaging-api_v23.0.yaml",
            Spec::TwilioCalls => "twilio/twilio_api_v2010.calls-only.json",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance/specs")
            .join(rel)
    }

    /// The path of the document's server URL, which Prism leaves out when matching.
    fn base_path(self) -> &'static str {
        match self {
            Spec::Vonage => "/sms",
            Spec::Twilio | Spec::Sinch | Spec::Whatsapp | Spec::TwilioCalls => "",
        }
    }

    /// The request rewritten around the document's one known flaw, when `body` meets it
    /// (`specs/SOURCES.md`): Meta's document gives a template button's `index` the
    /// pattern `^[2-6, 11-14]$`, which refuses `"0"`, the index Meta's own
    /// authentication-template examples give the copy-code button. The rewrite changes
    /// only that: each button's `"0"` becomes `"2"`.
    fn around_flaw(self, body: &[u8]) -> Option<Vec<u8>> {
        if self != Spec::Whatsapp {
            return None;
        }
        let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let components = v.pointer_mut("/template/components")?.as_array_mut()?;
        let mut changed = false;
        for c in components {
            if c["type"] == "button" && c["index"] == "0" {
                c["index"] = "2".into();
                changed = true;
            }
        }
        changed.then(|| serde_json::to_vec(&v).unwrap())
    }

    fn index(self) -> usize {
        self as usize
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `prism` executable, installed into the target directory on first use.
fn prism_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        crate::support::npm::install(
            "prism",
            PRISM_PACKAGE,
            "The provider conformance tests (which run Prism)",
        )
        .join(".bin/prism")
    })
}

/// The port of the Prism serving `spec`, started (once) and answering.
fn prism_port(spec: Spec) -> u16 {
    static PORTS: [OnceLock<u16>; 5] = [const { OnceLock::new() }; 5];
    *PORTS[spec.index()].get_or_init(|| start_prism(spec))
}

fn start_prism(spec: Spec) -> u16 {
    let bin = prism_bin();
    let port = free_port();
    let me = std::process::id();
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prism-{spec:?}.log"));
    // The watchdog ends Prism once this test process is gone.
    let script = format!(
        "\"$@\" >\"{}\" 2>&1 & r=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done; \
         kill $r 2>/dev/null; wait $r",
        log.display()
    );
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(bin)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec.file())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh must be on PATH");
    let t = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = watchdog.try_wait() {
            panic!("Prism for {spec:?} exited ({status}):\n{}", log_text());
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "Prism for {spec:?} did not listen on {port} within 90 s:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Reap the watchdog when it ends so it never lingers as a zombie.
    std::thread::spawn(move || watchdog.wait());
    port
}

/// One request forwarded to Prism and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub answer: String,
    /// Prism refused the request only for the document's known flaw: its answer is
    /// that of the request rewritten around it ([`Spec::around_flaw`]).
    pub around_flaw: bool,
}

#[derive(Clone)]
struct Forward {
    spec: Spec,
    prism: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Exchange>>>,
}

async fn forward(State(f): State<Forward>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let record = |status: u16, answer: String, around_flaw: bool| {
        f.seen.lock().unwrap().push(Exchange {
            method: parts.method.to_string(),
            path: path.clone(),
            status,
            answer,
            around_flaw,
        })
    };
    let Some(rest) = path.strip_prefix(f.spec.base_path()) else {
        record(
            404,
            format!("outside the API's base path {}", f.spec.base_path()),
            false,
        );
        return StatusCode::NOT_FOUND.into_response();
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let request = |body: Vec<u8>| {
        let mut out = f
            .client
            .request(parts.method.clone(), format!("{}{rest}{query}", f.prism))
            .body(body);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                out = out.header(name, value);
            }
        }
        out
    };
    let mut around_flaw = false;
    let mut sent = request(body.to_vec()).send().await;
    // Refused with the known flaw among the reasons: the same request rewritten around
    // it alone decides (accepted only when nothing else is wrong).
    if let (Ok(resp), Some(patched)) = (&sent, f.spec.around_flaw(&body)) {
        if resp.status() == StatusCode::UNPROCESSABLE_ENTITY {
            around_flaw = true;
            sent = request(patched).send().await;
        }
    }
    match sent {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let content_type = resp.headers().get("content-type").cloned();
            let answer = resp.bytes().await.unwrap_or_default();
            let answer_text = String::from_utf8_lossy(&answer).into_owned();
            record(status, answer_text, around_flaw);
            let mut back = (StatusCode::from_u16(status).unwrap(), answer).into_response();
            if let Some(ct) = content_type {
                back.headers_mut().insert("content-type", ct);
            }
            back
        }
        Err(e) => {
            record(502, format!("Prism unreachable: {e}"), around_flaw);
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// A per-test recording proxy in front of the shared Prism for one document.
pub struct PrismProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Exchange>>>,
}

impl PrismProxy {
    /// Starts Prism for `spec` if needed (installing it on first use) and a proxy to it.
    pub async fn start(spec: Spec) -> Self {
        otpgw::providers::http::install_tls_provider();
        let port = tokio::task::spawn_blocking(move || prism_port(spec))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Forward {
            spec,
            prism: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            seen: seen.clone(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PrismProxy { addr, seen }
    }

    /// The adapter's `base_url` (the adapter adds the document's base path itself).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What went through so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.seen.lock().unwrap().clone()
    }

    /// Panics unless at least one request went through and Prism accepted every one
    /// (2xx). A 422 (request breaks the document), 415 (content type), 401 (auth scheme)
    /// or any other answer fails, with Prism's explanation.
    pub fn assert_all_accepted(&self) {
        assert!(!self.exchanges().is_empty(), "no request reached Prism");
        if let Some(x) = self.refused().first() {
            panic!(
                "Prism refused {} {} with {}: {}",
                x.method, x.path, x.status, x.answer
            );
        }
    }

    /// The exchanges Prism did not answer with a 2xx.
    pub fn refused(&self) -> Vec<Exchange> {
        self.exchanges()
            .into_iter()
            .filter(|x| !(200..300).contains(&x.status))
            .collect()
    }
}
