//! Connections to the relay: opened (TCP, TLS or `STARTTLS`, `EHLO`, `AUTH`), kept
//! between sends up to `pool_size`, checked with `NOOP` before reuse.
//!
//! Why not lettre's `AsyncSmtpTransport` pool: its Tokio transport bounds only the TCP
//! connect with its timeout, so a relay that stops answering holds a send (and the
//! pool's background tasks) forever; and a send cut short by our own deadline would
//! leave its connection in the middle of a conversation, parked and later reused out of
//! step. Here every connection belongs to the send that uses it until that send ends:
//! the whole send runs under `timeout_ms`, and a send that is cut short drops (closes)
//! its connection with it. Only a connection whose send finished cleanly goes back, and
//! one that does not answer `NOOP` quickly when taken again is closed and replaced.
//! There is no background task: nothing needs a runtime until a send, and a connection
//! idle longer than [`IDLE_MAX`] is closed rather than tested.

use super::config::{Config, Security};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::Error as SmtpError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a connection may sit idle in the pool before it is closed instead of
/// reused (relays drop idle clients after a few minutes; RFC 5321 §4.5.3.2.7 asks
/// servers to wait at least 5 minutes).
pub const IDLE_MAX: Duration = Duration::from_secs(60);

/// Longest wait for the answer to a `QUIT` (the socket is closed either way).
pub const QUIT_WAIT: Duration = Duration::from_secs(1);

/// The CA certificates of `path` (PEM), checked to hold at least one.
pub fn ca_certificate(path: &str) -> Result<Certificate, String> {
    let pem = std::fs::read(path).map_err(|e| format!("tls_ca_file {path}: {e}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("tls_ca_file {path}: no CERTIFICATE in it"));
    }
    Certificate::from_pem(&pem).map_err(|e| format!("tls_ca_file {path}: {e}"))
}

/// How to reach the relay, as the settings say.
pub struct Pool {
    host: String,
    port: u16,
    security: Security,
    /// The relay's certificate checked against the system's roots or `tls_ca_file`'s,
    /// for the name `host` (none for `security = "none"`).
    tls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    connect_timeout: Duration,
    /// Longest wait for the answer to the `NOOP` that tests an idle connection: a
    /// quarter of `timeout_ms`, at most 2 s (a connection a NAT dropped silently costs
    /// that much, then a new one is opened within the same deadline).
    noop_wait: Duration,
    size: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// The pool for checked settings (reads `tls_ca_file`).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let host = cfg.host.trim().trim_matches(['[', ']']).to_string();
        let tls = match cfg.security {
            Security::None => None,
            Security::Starttls | Security::Tls => {
                let mut b = TlsParameters::builder(host.clone());
                if let Some(f) = &cfg.tls_ca_file {
                    let ca = ca_certificate(f).map_err(anyhow::Error::msg)?;
                    b = b
                        .certificate_store(CertificateStore::None)
                        .add_root_certificate(ca);
                }
                Some(b.build_rustls()?)
            }
        };
        let hello = cfg.hello();
        let hello = match hello.trim_matches(['[', ']']).parse() {
            Ok(std::net::IpAddr::V4(a)) => ClientId::Ipv4(a),
            Ok(std::net::IpAddr::V6(a)) => ClientId::Ipv6(a),
            Err(_) => ClientId::Domain(hello),
        };
        let credentials = match (&cfg.username, &cfg.password) {
            (Some(u), Some(p)) if !u.trim().is_empty() => {
                Some(Credentials::new(u.trim().to_string(), p.to_string()))
            }
            _ => None,
        };
        Ok(Pool {
            host,
            port: cfg.port(),
            security: cfg.security,
            tls,
            hello,
            credentials,
            connect_timeout: Duration::from_millis(cfg.timeout_ms),
            noop_wait: Duration::from_millis((cfg.timeout_ms / 4).min(2_000)),
            size: cfg.pool_size as usize,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection that still answers `NOOP`, else a new one. The error names the
    /// step that failed (`connect` or `auth`).
    pub async fn take(&self) -> Result<AsyncSmtpConnection, (&'static str, SmtpError)> {
        while let Some(mut conn) = self.pop_idle() {
            let noop = tokio::time::timeout(self.noop_wait, conn.test_connected()).await;
            if noop == Ok(true) {
                return Ok(conn);
            }
            // no answer to NOOP (in time): dropping it closes the socket
        }
        self.open().await
    }

    fn pop_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // stale ones are dropped, which closes them
        idle.retain(|(_, since)| since.elapsed() < IDLE_MAX);
        idle.pop().map(|(c, _)| c)
    }

    /// A new connection: TCP (TLS from the start for `tls`), greeting, `EHLO`,
    /// `STARTTLS` and `EHLO` again for `starttls`, then `AUTH` when an account is set.
    async fn open(&self) -> Result<AsyncSmtpConnection, (&'static str, SmtpError)> {
        let wrapper = match self.security {
            Security::Tls => self.tls.clone(),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.connect_timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| ("connect", e))?;
        if let (Security::Starttls, Some(tls)) = (self.security, &self.tls) {
            // an error if the relay does not offer STARTTLS: never fall back to plain text
            conn.starttls(tls.clone(), &self.hello)
                .await
                .map_err(|e| ("starttls", e))?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(|e| ("auth", e))?;
        }
        Ok(conn)
    }

    /// Hands back a connection whose send finished: kept when it is sound and there is
    /// room, else closed (with `QUIT`, at most [`QUIT_WAIT`] for its answer).
    pub async fn give_back(&self, mut conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.size {
                idle.push((conn, Instant::now()));
                return;
            }
        }
        let _ = tokio::time::timeout(QUIT_WAIT, conn.quit()).await;
    }

    /// Closes every idle connection with `QUIT`, at most [`QUIT_WAIT`] each.
    pub async fn close(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for (mut conn, _) in idle {
            let _ = tokio::time::timeout(QUIT_WAIT, conn.quit()).await;
        }
    }

    /// Connections kept idle now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
