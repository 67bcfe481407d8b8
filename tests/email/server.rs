//! The SMTP server the email tests send to: `tests/email/smtpd.py` on PyPI `aiosmtpd`
//! (pinned below), a peer nobody here wrote, installed into a virtualenv under the
//! target directory on first use ([`super::support::pyvenv`]). Each [`Smtpd`] is one
//! `python` process on a free port (the script binds port 0 and says which it got); its
//! settings go as JSON on the command line, and every connection, `AUTH` and message
//! comes back as a JSON line, kept here for the test to wait on. Messages are also
//! written, raw, to a temporary directory. The process ends with the [`Smtpd`] (killed
//! on drop) or when this test process exits (its standard input closes).
//!
//! Also here: a listener that accepts connections and never says a word
//! ([`silent_listener`]), and a server secured with the certificates of
//! [`super::certs`] ([`secured`]).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The PyPI requirement the server runs on.
pub const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// The test account the servers with `AUTH` accept.
pub const USER: &str = "otp-relay@acme.example";
/// Its password.
pub const PASSWORD: &str = "relay-pass-0c2f";

fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        super::support::pyvenv::python("aiosmtpd-1.4.6", AIOSMTPD)
            .unwrap_or_else(|e| panic!("the email tests need {AIOSMTPD}: {e}"))
    })
}

/// A running SMTP server.
pub struct Smtpd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    _stdin: ChildStdin,
    events: Arc<Mutex<Vec<Value>>>,
    /// Where it writes each message, raw (removed with the server).
    _dir: tempfile::TempDir,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtpd {
    /// A server with `settings` (see the script's header; `out` is filled in).
    pub async fn start(mut settings: Value) -> Smtpd {
        let dir = tempfile::tempdir().unwrap();
        settings["out"] = json!(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/email/smtpd.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(settings.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let mut s = Smtpd {
            port: 0,
            child,
            _stdin: stdin,
            events,
            _dir: dir,
        };
        let listening = s.wait_for("listening", 1, Duration::from_secs(60)).await;
        s.port = listening[0]["port"].as_u64().unwrap() as u16;
        s
    }

    /// A plain-text server on loopback, without `AUTH`.
    pub async fn plain() -> Smtpd {
        Smtpd::start(json!({"security": "none"})).await
    }

    /// Every event named `name` so far.
    pub fn all(&self, name: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == name)
            .cloned()
            .collect()
    }

    /// Waits until there are `n` events named `name`; all of them.
    pub async fn wait_for(&self, name: &str, n: usize, within: Duration) -> Vec<Value> {
        let t = Instant::now();
        loop {
            let seen = self.all(name);
            if seen.len() >= n {
                return seen;
            }
            if t.elapsed() > within {
                panic!("waited {within:?} for {n} {name} event(s); saw {seen:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.all("message")
    }
}

/// The value of header `name` in a received message (the first one), decoded.
pub fn header(m: &Value, name: &str) -> Option<String> {
    m["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|h| h[1].as_str().unwrap().to_string())
}

/// The content of the part of MIME type `ty` in a received message.
pub fn part(m: &Value, ty: &str) -> Option<String> {
    m["parts"]
        .as_array()?
        .iter()
        .find(|p| p["type"] == ty)
        .map(|p| p["content"].as_str().unwrap().to_string())
}

/// A listener on 127.0.0.1 that accepts connections, keeps them open and never writes:
/// an SMTP server that hangs before its greeting. Its port; it lives as long as the
/// test process.
pub fn silent_listener() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server secured as `security` (`"starttls"` or `"tls"`) with the certificate of
/// `c`, requiring `AUTH` with [`USER`] and [`PASSWORD`]; `extra` settings merged in.
pub async fn secured(security: &str, c: &super::support::certs::Certs, extra: Value) -> Smtpd {
    let mut s = json!({
        "security": security,
        "cert": c.cert,
        "key": c.key,
        "user": USER,
        "password": PASSWORD,
    });
    if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    Smtpd::start(s).await
}
