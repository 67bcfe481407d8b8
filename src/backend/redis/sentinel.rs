//! Redis Sentinel: which node is the master is asked of the sentinels, not configured.
//! [`Sentinels::connect`] asks them and connects to the node they name (the crate checks
//! with `ROLE` that it really is a master). The connection asks again when
//! [`lost_master`] says a reply showed the master gone (refused, reset, silent) or
//! demoted (`READONLY`), and when [`Sentinels::moved_from`] says the sentinels now name
//! another node: after a planned switchover (`SENTINEL FAILOVER`) the old master stays up
//! and takes writes, which its demotion seconds later throws away; asking the sentinels
//! (`SENTINEL GET-MASTER-ADDR-BY-NAME`, over one kept connection, nothing sent to the
//! master) once a second in the background keeps that window to about a second.

use crate::config::SentinelConfig;
use ::redis::aio::MultiplexedConnection;
use ::redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use ::redis::{
    AsyncConnectionConfig, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisError, RedisResult,
    ServerErrorKind, TlsMode,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often, while calls flow, the sentinels are asked whether the master moved.
const RECHECK: Duration = Duration::from_secs(1);

/// The sentinels of one master.
pub(super) struct Sentinels {
    /// Master lookups (with the `ROLE` check) for connecting; `&mut`, so one at a time.
    client: tokio::sync::Mutex<SentinelClient>,
    watch: Arc<Watch>,
    last_check: Mutex<Option<Instant>>,
}

/// The background recheck: which master the sentinels name now.
struct Watch {
    name: String,
    sentinels: Vec<::redis::Client>,
    /// A connection to the sentinel that answered last.
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// The master's address as the sentinels (or the last connect) named it.
    named: Mutex<Option<String>>,
}

impl Sentinels {
    /// Validates the addresses; `master_url` gives the master's user, password, database
    /// and TLS (its host and port are not used). Does not connect.
    pub(super) fn new(cfg: &SentinelConfig, master_url: &str) -> anyhow::Result<Self> {
        let master = master_url
            .into_connection_info()
            .map_err(|e| anyhow::anyhow!("store.redis.url is not a valid Redis URL: {e}"))?;
        let mut node = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(master.redis_settings().clone());
        if let ConnectionAddr::TcpTls { insecure, .. } = master.addr() {
            node = node.set_tls_mode(if *insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            });
        }
        let invalid = |e| anyhow::anyhow!("store.redis.sentinel.addresses are not valid: {e}");
        let addresses: Vec<&str> = cfg.addresses.iter().map(|a| a.0.as_str()).collect();
        let sentinels = addresses
            .iter()
            .map(|a| ::redis::Client::open(*a))
            .collect::<RedisResult<Vec<_>>>()
            .map_err(invalid)?;
        let name = cfg.master_name.clone();
        let client = SentinelClient::build(
            addresses,
            name.clone(),
            Some(node),
            SentinelServerType::Master,
        )
        .map_err(invalid)?;
        Ok(Sentinels {
            client: tokio::sync::Mutex::new(client),
            watch: Arc::new(Watch {
                name,
                sentinels,
                conn: tokio::sync::Mutex::new(None),
                named: Mutex::new(None),
            }),
            last_check: Mutex::new(None),
        })
    }

    /// Asks the sentinels for the master and connects to it; returns the connection and
    /// the master's address.
    pub(super) async fn connect(
        &self,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> RedisResult<(MultiplexedConnection, Arc<str>)> {
        let master = self.client.lock().await.async_get_client().await?;
        let addr = master.get_connection_info().addr().to_string();
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(command_timeout));
        let conn = master
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        let name = &self.watch.name;
        tracing::info!(master_name = %name, master = %addr, "redis sentinels named the master");
        *self.watch.named.lock().expect("sentinel lock") = Some(addr.clone());
        Ok((conn, addr.into()))
    }

    /// Whether the sentinels last named a master other than `addr`. At most once per
    /// [`RECHECK`] this starts a background question (bounded by `timeout`) whose answer
    /// a later call sees; a question that fails changes nothing, so sentinels that are
    /// down never cost a working master.
    pub(super) fn moved_from(&self, addr: &str, timeout: Duration) -> bool {
        let due = {
            let mut last = self.last_check.lock().expect("sentinel lock");
            let due = last.is_none_or(|t| t.elapsed() >= RECHECK);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            let watch = self.watch.clone();
            tokio::spawn(async move {
                if let Ok(Some(now)) = tokio::time::timeout(timeout, watch.ask(timeout)).await {
                    *watch.named.lock().expect("sentinel lock") = Some(now);
                }
            });
        }
        let named = self.watch.named.lock().expect("sentinel lock");
        named.as_deref().is_some_and(|n| n != addr)
    }
}

impl Watch {
    /// The master's `host:port` as the first sentinel that knows it says, over the kept
    /// connection, else over a new one to each sentinel in turn.
    async fn ask(&self, timeout: Duration) -> Option<String> {
        let mut kept = self.conn.lock().await;
        if let Some(c) = kept.as_mut() {
            if let Some(addr) = self.query(c).await {
                return Some(addr);
            }
            *kept = None;
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        for s in &self.sentinels {
            let Ok(mut c) = s.get_multiplexed_async_connection_with_config(&cfg).await else {
                continue;
            };
            if let Some(addr) = self.query(&mut c).await {
                *kept = Some(c);
                return Some(addr);
            }
        }
        None
    }

    async fn query(&self, c: &mut MultiplexedConnection) -> Option<String> {
        let mut cmd = ::redis::cmd("SENTINEL");
        cmd.arg("GET-MASTER-ADDR-BY-NAME").arg(&self.name);
        let found: Option<(String, u16)> = cmd.query_async(c).await.ok()?;
        found.map(|(host, port)| format!("{host}:{port}"))
    }
}

/// Whether `e` shows that the connection no longer reaches a writable master, so the next
/// call must connect anew. A `READONLY` reply says so in every mode (a managed Redis
/// whose failover endpoint now names another node is found again by reconnecting); with
/// Sentinel a broken or refused connection does too, since the crate's reconnect would
/// only dial the old address.
pub(super) fn lost_master(e: &RedisError, sentinel: bool) -> bool {
    let read_only = e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
        || e.code() == Some("READONLY")
        || e.to_string().contains("READONLY");
    read_only
        || (sentinel
            && (e.is_io_error()
                || e.is_connection_dropped()
                || e.is_connection_refusal()
                || e.is_timeout()
                || e.is_unrecoverable_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(wire: &[u8]) -> RedisError {
        match ::redis::parse_redis_value(wire).unwrap() {
            ::redis::Value::ServerError(e) => e.into(),
            v => panic!("not an error reply: {v:?}"),
        }
    }

    #[test]
    fn a_demoted_master_is_left_in_every_mode_a_dead_one_with_sentinel() {
        let read_only = server_error(b"-READONLY You can't write against a read only replica.\r\n");
        assert!(lost_master(&read_only, false) && lost_master(&read_only, true));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(lost_master(&refused, true));
        assert!(
            !lost_master(&refused, false),
            "the connection manager redials by itself"
        );
        let script = server_error(
            b"-ERR user_script:1: Script attempted to access nonexistent global variable\r\n",
        );
        assert!(
            !lost_master(&script, true),
            "an answer from a master is no reason to leave it"
        );
        assert!(!lost_master(
            &server_error(b"-NOSCRIPT No matching script.\r\n"),
            true
        ));
    }
}
