//! A receiver of events to tenants for the tests: a Python server that checks every
//! call with the Standard Webhooks reference library (PyPI `standardwebhooks`, pinned,
//! in a virtualenv) and prints what it saw, one JSON line at a time.

use base64::Engine;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const PIN: &str = "standardwebhooks==1.3.0";

/// The receiver: `/ok` verifies and answers 204 (400 when the signature is refused),
/// `/500` answers 500, `/redirect` answers 302 to `/ok`, `/hang` never answers. Every
/// call it checks is printed as a JSON line.
pub const RECEIVER: &str = r#"
import json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from standardwebhooks.webhooks import Webhook
wh = Webhook(sys.argv[1])
out = threading.Lock()
def emit(record):
    # One write per line under a lock: the server answers on many threads, and a
    # plain print writes the text and its newline separately.
    with out:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/hang":
            time.sleep(30)
            return
        if self.path == "/redirect":
            self.send_response(302); self.send_header("Location", "/ok"); self.end_headers()
            return
        if self.path == "/500":
            self.send_response(500); self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = wh.verify(body, headers)
        except Exception as e:
            emit({"ok": False, "error": type(e).__name__})
            self.send_response(400); self.end_headers()
            return
        emit({"ok": True, "id": headers["webhook-id"], "body": body.decode(), "event": event})
        self.send_response(204); self.end_headers()
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), H)
emit({"ready": srv.server_address[1]})
srv.serve_forever()
"#;

pub fn secret(seed: u8) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([seed; 32])
    )
}

fn python() -> std::path::PathBuf {
    static VENV: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        super::pyvenv::python("standardwebhooks-1.3.0", PIN).expect("a Python venv")
    })
    .clone()
}

/// A running receiver and the calls it checked.
pub struct Receiver {
    child: Child,
    pub port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts one holding `secret` on `port` (0: any free port).
    pub fn start(secret: &str, port: u16) -> Receiver {
        let mut child = Command::new(python())
            .arg("-c")
            .arg(RECEIVER)
            .arg(secret)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let port = ready["ready"].as_u64().expect("the receiver's port") as u16;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(serde_json::from_str(&l).unwrap());
            }
        });
        Receiver { child, port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// What it saw, once that is at least `n` calls (or after 5 s): its line about a
    /// call is read from its output on another thread, so it may follow the answer.
    pub fn seen_at_least(&self, n: usize) -> Vec<Value> {
        let t = std::time::Instant::now();
        while self.seen.lock().unwrap().len() < n && t.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.seen()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
