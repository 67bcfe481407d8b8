//! A Redis Sentinel set for tests: a primary, a replica (`--replicaof`) and three
//! sentinels on free ports, with a short `down-after-milliseconds` so that a failover
//! takes a second or two, and optionally passwords on the data nodes and on the
//! sentinels. Every process stops when the set is dropped, or with the test process (the
//! watchdog of `redis.rs`).

use super::redis::RedisServer;
use super::redis::{cli_as, free_port, info_field, signal, spawn_watched, wait_for_pong};
use std::time::{Duration, Instant};

/// The name the sentinels monitor the primary under.
pub const MASTER_NAME: &str = "otp";

/// A primary, its replica and three sentinels.
pub struct SentinelSet {
    pub primary: RedisServer,
    pub replica: RedisServer,
    /// Ports of the three sentinels.
    pub sentinels: Vec<u16>,
    master_password: Option<String>,
    sentinel_password: Option<String>,
    _dirs: Vec<tempfile::TempDir>,
}

/// Polls `ready` every 50 ms until it holds, failing with `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(t.elapsed() < limit, "{what} (waited {limit:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value after `field` in a flat field/value reply (`SENTINEL MASTER`).
fn pair(reply: &str, field: &str) -> Option<String> {
    let mut lines = reply.lines().map(str::trim);
    lines.find(|l| *l == field)?;
    lines.next().map(str::to_string)
}

fn sentinel_conf(
    port: u16,
    dir: &std::path::Path,
    primary: u16,
    master_pw: Option<&str>,
    pw: Option<&str>,
) -> String {
    let mut conf = format!(
        "port {port}\nbind 127.0.0.1\ndir {}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} 500\n\
         sentinel failover-timeout {MASTER_NAME} 2000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir.display()
    );
    if let Some(p) = master_pw {
        conf.push_str(&format!("sentinel auth-pass {MASTER_NAME} {p}\n"));
    }
    if let Some(p) = pw {
        conf.push_str(&format!("requirepass {p}\nsentinel sentinel-pass {p}\n"));
    }
    conf
}

impl SentinelSet {
    /// Starts a set without passwords.
    pub fn start() -> Self {
        Self::start_with(None, None)
    }

    /// Starts everything, with `master_pw` on the primary and the replica and
    /// `sentinel_pw` on the sentinels, and waits until the replica is in sync and every
    /// sentinel knows the replica and the two other sentinels (needed to agree on a
    /// failover).
    pub fn start_with(master_pw: Option<&str>, sentinel_pw: Option<&str>) -> Self {
        let primary = RedisServer::start();
        let mut replica_args = vec!["--replicaof", "127.0.0.1"];
        let primary_port = primary.port.to_string();
        replica_args.push(&primary_port);
        if let Some(p) = master_pw {
            replica_args.extend(["--masterauth", p]);
            // Set after the start (which waits for an unauthenticated PING): the old
            // primary needs `masterauth` too, to follow the new master after a switch.
            primary.cli(&["CONFIG", "SET", "masterauth", p]);
            primary.cli(&["CONFIG", "SET", "requirepass", p]);
        }
        let replica = RedisServer::start_with(&replica_args);
        if let Some(p) = master_pw {
            replica.cli(&["CONFIG", "SET", "requirepass", p]);
            for node in [&primary, &replica] {
                assert_ne!(node.cli(&["PING"]), "PONG", "the password is required");
            }
        }
        let mut set = SentinelSet {
            primary,
            replica,
            sentinels: Vec::new(),
            master_password: master_pw.map(str::to_string),
            sentinel_password: sentinel_pw.map(str::to_string),
            _dirs: Vec::new(),
        };
        wait_until(Duration::from_secs(10), "the replica did not sync", || {
            let info = set.node_cli(set.replica.port, &["INFO", "replication"]);
            info_field(&info, "master_link_status").as_deref() == Some("up")
        });
        for _ in 0..3 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let conf = dir.path().join("sentinel.conf");
            let text = sentinel_conf(port, dir.path(), set.primary.port, master_pw, sentinel_pw);
            std::fs::write(&conf, text).unwrap();
            spawn_watched(&[conf.display().to_string(), "--sentinel".into()]);
            wait_for_pong(port, sentinel_pw);
            set.sentinels.push(port);
            set._dirs.push(dir);
        }
        for &s in &set.sentinels {
            wait_until(Duration::from_secs(20), "sentinels did not meet", || {
                let m = set.sentinel_cli(s, &["SENTINEL", "MASTER", MASTER_NAME]);
                pair(&m, "num-other-sentinels").as_deref() == Some("2")
                    && pair(&m, "num-slaves").as_deref() == Some("1")
            });
        }
        set
    }

    /// `redis-cli` against a data node (primary or replica), with its password.
    pub fn node_cli(&self, port: u16, args: &[&str]) -> String {
        cli_as(port, self.master_password.as_deref(), args).unwrap_or_default()
    }

    /// `redis-cli` against a sentinel, with its password.
    pub fn sentinel_cli(&self, port: u16, args: &[&str]) -> String {
        cli_as(port, self.sentinel_password.as_deref(), args).unwrap_or_default()
    }

    /// The sentinels' addresses as the gateway takes them (with their password).
    pub fn urls(&self) -> Vec<String> {
        let auth = match &self.sentinel_password {
            Some(p) => format!(":{p}@"),
            None => String::new(),
        };
        self.sentinels
            .iter()
            .map(|p| format!("redis://{auth}127.0.0.1:{p}"))
            .collect()
    }

    /// `store.redis.url` for the master's password (the host is not used).
    pub fn master_url(&self) -> String {
        match &self.master_password {
            Some(p) => format!("redis://:{p}@found-by-the-sentinels/0"),
            None => "redis://found-by-the-sentinels/0".into(),
        }
    }

    /// Kills the primary with SIGKILL.
    pub fn kill_primary(&self) {
        signal(self.primary.port, self.master_password.as_deref(), "KILL");
    }

    /// The master's port as the first answering sentinel names it.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|&s| {
            let r = self.sentinel_cli(s, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
            r.lines().nth(1)?.trim().parse().ok()
        })
    }

    /// Waits until the sentinels name the node on `port` as the master.
    pub fn wait_for_master(&self, port: u16, limit: Duration) {
        wait_until(limit, "the sentinels did not switch the master", || {
            self.master_port() == Some(port)
        });
    }

    /// Waits until the replica has every write the primary has taken so far.
    pub fn wait_replicated(&self) {
        let info = self.node_cli(self.primary.port, &["INFO", "replication"]);
        let want: u64 = info_field(&info, "master_repl_offset")
            .unwrap()
            .parse()
            .unwrap();
        wait_until(
            Duration::from_secs(10),
            "the replica did not catch up",
            || {
                let info = self.node_cli(self.replica.port, &["INFO", "replication"]);
                info_field(&info, "slave_repl_offset")
                    .and_then(|o| o.parse::<u64>().ok())
                    .is_some_and(|o| o >= want)
            },
        );
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        for &s in &self.sentinels {
            signal(s, self.sentinel_password.as_deref(), "TERM");
        }
        for port in [self.primary.port, self.replica.port] {
            let _ = cli_as(
                port,
                self.master_password.as_deref(),
                &["SHUTDOWN", "NOSAVE"],
            );
        }
    }
}
