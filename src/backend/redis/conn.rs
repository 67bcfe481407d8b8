//! The Redis connection: one node, a master found through Redis Sentinel, or a cluster;
//! connected lazily, every call bounded, and connected anew when a reply shows that the
//! master moved or (Sentinel) the sentinels name another one (see `sentinel.rs`).

use super::sentinel::{lost_master, Sentinels};
use crate::config::RedisStoreConfig;
use crate::error::{StoreError, StoreResult};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, ScriptInvocation, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

enum Target {
    Single(redis::Client),
    Sentinel(Box<Sentinels>),
    Cluster(Box<ClusterClient>),
}

#[derive(Clone)]
enum Live {
    Single(ConnectionManager),
    /// The connection and the master's address.
    Sentinel(MultiplexedConnection, std::sync::Arc<str>),
    Cluster(ClusterConnection),
}

/// A lazily made, self-healing connection with a deadline on every call.
pub struct Conn {
    target: Target,
    /// The connection and its generation: a failed call drops the connection only if it
    /// is still the one the call used, never a newer one another call just made.
    live: RwLock<Option<(u64, Live)>>,
    generation: AtomicU64,
    connecting: tokio::sync::Mutex<()>,
    last_failure: Mutex<Option<Instant>>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

/// After a failed connect, calls fail fast for this long instead of each trying again.
const CONNECT_BACKOFF: Duration = Duration::from_millis(200);

impl Conn {
    /// Validates the URLs; does not connect.
    pub fn new(cfg: &RedisStoreConfig) -> anyhow::Result<Self> {
        let connect_timeout = Duration::from_millis(cfg.connect_timeout_ms.max(1));
        let command_timeout = Duration::from_millis(cfg.command_timeout_ms.max(1));
        let target = if let Some(s) = &cfg.sentinel {
            Target::Sentinel(Box::new(Sentinels::new(s, &cfg.url.0)?))
        } else if cfg.cluster_nodes.is_empty() {
            Target::Single(
                ::redis::Client::open(cfg.url.0.as_str()).map_err(|e| {
                    anyhow::anyhow!("store.redis.url is not a valid Redis URL: {e}")
                })?,
            )
        } else {
            let nodes: Vec<&str> = cfg.cluster_nodes.iter().map(|s| s.0.as_str()).collect();
            Target::Cluster(Box::new(
                ClusterClient::builder(nodes)
                    .connection_timeout(connect_timeout)
                    .response_timeout(command_timeout)
                    .build()
                    .map_err(|e| anyhow::anyhow!("store.redis.cluster_nodes are not valid: {e}"))?,
            ))
        };
        Ok(Conn {
            target,
            live: RwLock::new(None),
            generation: AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(()),
            last_failure: Mutex::new(None),
            connect_timeout,
            command_timeout,
        })
    }

    async fn connect(&self) -> ::redis::RedisResult<Live> {
        match &self.target {
            Target::Single(client) => {
                let cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.command_timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                Ok(Live::Single(
                    ConnectionManager::new_with_config(client.clone(), cfg).await?,
                ))
            }
            Target::Sentinel(s) => {
                let (conn, addr) = s
                    .connect(self.connect_timeout, self.command_timeout)
                    .await?;
                Ok(Live::Sentinel(conn, addr))
            }
            Target::Cluster(client) => Ok(Live::Cluster(client.get_async_connection().await?)),
        }
    }

    /// The current connection, unless the sentinels now name another master.
    fn current(&self) -> Option<(u64, Live)> {
        let (g, l) = self.live.read().expect("conn lock").clone()?;
        if let (Target::Sentinel(s), Live::Sentinel(_, addr)) = (&self.target, &l) {
            if s.moved_from(addr, self.connect_timeout) {
                self.forget(g, "the sentinels name another master");
                return None;
            }
        }
        Some((g, l))
    }

    async fn live(&self) -> StoreResult<(u64, Live)> {
        if let Some(l) = self.current() {
            return Ok(l);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(l) = self.live.read().expect("conn lock").clone() {
            return Ok(l);
        }
        if let Some(t) = *self.last_failure.lock().expect("conn lock") {
            if t.elapsed() < CONNECT_BACKOFF {
                return Err(StoreError("redis is not reachable".into()));
            }
        }
        match tokio::time::timeout(self.connect_timeout, self.connect()).await {
            Ok(Ok(l)) => {
                let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                *self.live.write().expect("conn lock") = Some((g, l.clone()));
                tracing::info!("connected to redis");
                Ok((g, l))
            }
            Ok(Err(e)) => {
                *self.last_failure.lock().expect("conn lock") = Some(Instant::now());
                tracing::warn!(error = %e, "cannot connect to redis");
                Err(StoreError(format!("cannot connect to redis: {e}")))
            }
            Err(_) => {
                *self.last_failure.lock().expect("conn lock") = Some(Instant::now());
                tracing::warn!("connecting to redis timed out");
                Err(StoreError("connecting to redis timed out".into()))
            }
        }
    }

    /// Drops connection `generation` if it is still the current one; the next call
    /// connects anew (with Sentinel: asks the sentinels again).
    fn forget(&self, generation: u64, why: &str) {
        let mut live = self.live.write().expect("conn lock");
        if matches!(*live, Some((g, _)) if g == generation) {
            *live = None;
            tracing::warn!(
                reason = why,
                "redis master lost; reconnecting on the next call"
            );
        }
    }

    fn is_sentinel(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    async fn bounded<F>(&self, what: &str, generation: u64, fut: F) -> StoreResult<Value>
    where
        F: std::future::Future<Output = ::redis::RedisResult<Value>>,
    {
        match tokio::time::timeout(self.command_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, op = what, "redis call failed");
                if lost_master(&e, self.is_sentinel()) {
                    self.forget(generation, &e.to_string());
                }
                Err(StoreError(format!("redis {what} failed: {e}")))
            }
            Err(_) => {
                tracing::warn!(op = what, "redis call timed out");
                if self.is_sentinel() {
                    self.forget(generation, "a call timed out");
                }
                Err(StoreError(format!("redis {what} timed out")))
            }
        }
    }

    /// True for a Redis Cluster (commands may name keys of one slot only).
    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// Runs a script (EVALSHA, loading it on NOSCRIPT).
    pub async fn invoke(&self, inv: &ScriptInvocation<'_>) -> StoreResult<Value> {
        let (g, live) = self.live().await?;
        match live {
            Live::Single(mut c) => {
                self.bounded("script", g, async move { inv.invoke_async(&mut c).await })
                    .await
            }
            Live::Sentinel(mut c, _) => {
                self.bounded("script", g, async move { inv.invoke_async(&mut c).await })
                    .await
            }
            Live::Cluster(mut c) => {
                self.bounded("script", g, async move { inv.invoke_async(&mut c).await })
                    .await
            }
        }
    }

    /// Runs one command.
    pub async fn query(&self, cmd: &Cmd) -> StoreResult<Value> {
        let (g, live) = self.live().await?;
        match live {
            Live::Single(mut c) => {
                self.bounded("command", g, async move { cmd.query_async(&mut c).await })
                    .await
            }
            Live::Sentinel(mut c, _) => {
                self.bounded("command", g, async move { cmd.query_async(&mut c).await })
                    .await
            }
            Live::Cluster(mut c) => {
                self.bounded("command", g, async move { cmd.query_async(&mut c).await })
                    .await
            }
        }
    }

    /// PING (on a cluster: routed to a random node, which proves the client can talk).
    pub async fn ping(&self) -> StoreResult<()> {
        self.query(&redis::cmd("PING")).await.map(|_| ())
    }
}
