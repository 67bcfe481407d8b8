//! The Redis connection: single node or cluster, connected lazily, every call bounded.

use super::{StoreError, StoreResult};
use crate::config::RedisStoreConfig;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, ScriptInvocation, Value};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

enum Target {
    Single(redis::Client),
    Cluster(Box<ClusterClient>),
}

#[derive(Clone)]
enum Live {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A lazily made, self-healing connection with a deadline on every call.
pub struct Conn {
    target: Target,
    live: RwLock<Option<Live>>,
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
        let target = if cfg.cluster_nodes.is_empty() {
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
            Target::Cluster(client) => Ok(Live::Cluster(client.get_async_connection().await?)),
        }
    }

    async fn live(&self) -> StoreResult<Live> {
        if let Some(l) = self.live.read().expect("conn lock").clone() {
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
                *self.live.write().expect("conn lock") = Some(l.clone());
                tracing::info!("connected to redis");
                Ok(l)
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

    async fn bounded<F>(&self, what: &str, fut: F) -> StoreResult<Value>
    where
        F: std::future::Future<Output = ::redis::RedisResult<Value>>,
    {
        match tokio::time::timeout(self.command_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, op = what, "redis call failed");
                Err(StoreError(format!("redis {what} failed: {e}")))
            }
            Err(_) => {
                tracing::warn!(op = what, "redis call timed out");
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
        match self.live().await? {
            Live::Single(mut c) => {
                self.bounded("script", async move { inv.invoke_async(&mut c).await })
                    .await
            }
            Live::Cluster(mut c) => {
                self.bounded("script", async move { inv.invoke_async(&mut c).await })
                    .await
            }
        }
    }

    /// Runs one command.
    pub async fn query(&self, cmd: &Cmd) -> StoreResult<Value> {
        match self.live().await? {
            Live::Single(mut c) => {
                self.bounded("command", async move { cmd.query_async(&mut c).await })
                    .await
            }
            Live::Cluster(mut c) => {
                self.bounded("command", async move { cmd.query_async(&mut c).await })
                    .await
            }
        }
    }

    /// PING (on a cluster: routed to a random node, which proves the client can talk).
    pub async fn ping(&self) -> StoreResult<()> {
        self.query(&redis::cmd("PING")).await.map(|_| ())
    }
}
