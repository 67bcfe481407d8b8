//! The scripted SMSC: `tests/smpp/smsc.js` on the npm `smpp` package's server (0.5.1,
//! MIT), a peer nobody here wrote. The package is installed into
//! `<target>/tmp/smpp` on first use (`npm install --prefix … smpp@0.5.1`); without
//! Node.js and npm the test fails and says so. Each [`Smsc`] is one `node` process on a
//! free port: its settings come as JSON on the command line, commands go to its
//! standard input, and every PDU it received or sent comes back as a JSON line, kept
//! here for the test to wait on. The process ends with the [`Smsc`] (killed on drop) or
//! when this test process exits (its standard input closes).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The npm package the script runs on.
const SMPP_PACKAGE: &str = "smpp@0.5.1";

/// `node_modules` holding the `smpp` package, installed on first use.
fn node_modules() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        crate::support::npm::install(
            "smpp",
            SMPP_PACKAGE,
            "The SMPP tests (which run a scripted SMSC on the npm `smpp` package)",
        )
    })
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running scripted SMSC.
pub struct Smsc {
    /// Its port.
    pub port: u16,
    child: Child,
    stdin: ChildStdin,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Smsc {
    /// An SMSC on a free port with `settings` (see the script's header).
    pub async fn start(settings: Value) -> Smsc {
        Smsc::start_on(free_port(), settings).await
    }

    /// An SMSC on `port`.
    pub async fn start_on(port: u16, settings: Value) -> Smsc {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smpp/smsc.js");
        let mut child = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(settings.to_string())
            .env("NODE_PATH", node_modules())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
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
        let s = Smsc {
            port,
            child,
            stdin,
            events,
        };
        s.wait_for("listening", |_| true, Duration::from_secs(10))
            .await;
        s
    }

    /// Sends a command (`{"cmd": …}`) and waits for the script to have run it.
    pub async fn cmd(&mut self, c: Value) {
        let name = c["cmd"].as_str().unwrap().to_string();
        let before = self.count_where("done", |e| e["cmd"] == name.as_str());
        writeln!(self.stdin, "{c}").unwrap();
        self.stdin.flush().unwrap();
        let t = Instant::now();
        while self.count_where("done", |e| e["cmd"] == name.as_str()) == before {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the SMSC did not run {c}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Changes settings.
    pub async fn set(&mut self, settings: Value) {
        let mut c = settings;
        c["cmd"] = json!("set");
        self.cmd(c).await;
    }

    /// Every report so far.
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Reports of kind `event`.
    pub fn all(&self, event: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// How many reports of kind `event` match `pred`.
    pub fn count_where(&self, event: &str, pred: impl Fn(&Value) -> bool) -> usize {
        self.all(event).iter().filter(|e| pred(e)).count()
    }

    /// How many reports of kind `event`.
    pub fn count(&self, event: &str) -> usize {
        self.count_where(event, |_| true)
    }

    /// Waits for a report of kind `event` matching `pred`; the first such.
    pub async fn wait_for(
        &self,
        event: &str,
        pred: impl Fn(&Value) -> bool,
        limit: Duration,
    ) -> Value {
        let t = Instant::now();
        loop {
            if let Some(e) = self.all(event).into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                t.elapsed() < limit,
                "no `{event}` from the SMSC within {limit:?}; it reported: {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `n` reports of kind `event` have come.
    pub async fn wait_count(&self, event: &str, n: usize, limit: Duration) {
        let t = Instant::now();
        while self.count(event) < n {
            assert!(
                t.elapsed() < limit,
                "{} `{event}` from the SMSC within {limit:?}, not {n}; it reported: {:?}",
                self.count(event),
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the process (every connection drops with it).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        self.kill();
    }
}
