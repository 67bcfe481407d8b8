//! Real `redis-server` processes for tests: single nodes and a 3-master cluster, each on
//! free ports, never the machine's 6379 (Sentinel sets are in `sentinel.rs`). Each server
//! runs under a small shell watchdog that kills it when the test process exits, so shared
//! servers never outlive the run.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `redis-server`.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

/// Runs `redis-cli` against `port`; its output when it exits 0.
pub fn cli(port: u16, args: &[&str]) -> Option<String> {
    cli_as(port, None, args)
}

/// [`cli`] with a password (`AUTH` before the command).
pub fn cli_as(port: u16, password: Option<&str>, args: &[&str]) -> Option<String> {
    let auth = match password {
        Some(p) => vec!["-a", p, "--no-auth-warning"],
        None => vec![],
    };
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(auth)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `redis-server ARGS` under a shell watchdog that kills it when the test process
/// exits (or when it dies), and reaps the watchdog.
pub fn spawn_watched(args: &[String]) {
    let me = std::process::id();
    let script = format!(
        "redis-server \"$@\" >/dev/null 2>&1 & r=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done; \
         kill $r 2>/dev/null; wait $r"
    );
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh must be on PATH");
    // Reap the watchdog when it ends so it never lingers as a zombie.
    std::thread::spawn(move || watchdog.wait());
}

/// Waits until the server on `port` answers `PING` (10 s at most).
pub fn wait_for_pong(port: u16, password: Option<&str>) {
    let t = Instant::now();
    while cli_as(port, password, &["PING"]).as_deref() != Some("PONG") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "redis-server on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`KILL`, `TERM`) to the server on `port` (its pid from `INFO server`)
/// and waits until the port no longer answers.
pub fn signal(port: u16, password: Option<&str>, sig: &str) {
    let info = cli_as(port, password, &["INFO", "server"]).unwrap_or_default();
    let Some(pid) = info_field(&info, "process_id") else {
        return;
    };
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status();
    let t = Instant::now();
    while cli_as(port, password, &["PING"]).is_some() {
        assert!(t.elapsed() < Duration::from_secs(10), "redis did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of `field:` in an `INFO` reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

impl RedisServer {
    /// Starts a server with extra `redis-server` arguments and waits until it answers.
    pub fn start_with(extra: &[&str]) -> Self {
        let s = RedisServer {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.launch();
        s
    }

    /// Starts a plain server.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    fn launch(&self) {
        let mut args = vec![
            "--port".to_string(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            self.dir.path().display().to_string(),
        ];
        args.extend(self.extra.iter().cloned());
        spawn_watched(&args);
        wait_for_pong(self.port, None);
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (no save) and waits until the port is closed.
    pub fn stop(&self) {
        let _ = cli(self.port, &["SHUTDOWN", "NOSAVE"]);
        let t = Instant::now();
        while cli(self.port, &["PING"]).is_some() {
            assert!(t.elapsed() < Duration::from_secs(10), "redis did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to clients or replicas).
    pub fn kill(&self) {
        signal(self.port, None, "KILL");
    }

    /// Starts it again on the same port (empty: no persistence).
    pub fn restart(&self) {
        self.launch();
    }

    /// Runs a `redis-cli` command against it.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = cli(self.port, &["SHUTDOWN", "NOSAVE"]);
    }
}

/// A 3-master Redis Cluster on free ports.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli must be on PATH");
        assert!(out.success(), "redis-cli --cluster create failed");
        let t = Instant::now();
        for n in &nodes {
            while !n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "cluster did not become ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }
}

/// One Redis shared by every test of a binary (tests isolate by key prefix).
pub fn shared_redis() -> &'static RedisServer {
    static R: OnceLock<RedisServer> = OnceLock::new();
    R.get_or_init(RedisServer::start)
}

/// One cluster shared by every test of a binary.
pub fn shared_cluster() -> &'static RedisCluster {
    static C: OnceLock<RedisCluster> = OnceLock::new();
    C.get_or_init(RedisCluster::start)
}
