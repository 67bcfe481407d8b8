//! What start-up checks before it builds anything: the config's problems (all listed), the
//! server secret, template and receipt warnings; and, once listening, the warnings about
//! what a non-loopback address would expose.

use crate::config::{self, Config, Mode, DEMO_API_KEY};
use crate::crypto::{hash_api_key, ServerSecret};
use crate::domain::PhoneNumber;
use crate::tenants::Tenants;
use std::net::SocketAddr;

/// Fails with every config problem listed; the server secret (a random one in dev mode
/// when none is set); template, receipt and abuse-control warnings logged.
pub fn check(cfg: &Config) -> anyhow::Result<ServerSecret> {
    let problems = config::problems(cfg);
    if !problems.is_empty() {
        anyhow::bail!(
            "the configuration has {} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    let secret = match cfg.secret_bytes()? {
        Some(s) => ServerSecret::new(s),
        None => {
            debug_assert_eq!(cfg.mode, Mode::Dev);
            tracing::warn!("no server secret set (dev mode): using a random one; codes do not survive a restart");
            ServerSecret::random()
        }
    };
    PhoneNumber::warm_up();
    for w in crate::template::lint(cfg)
        .into_iter()
        .chain(config::receipts::warnings(cfg))
    {
        tracing::warn!("{w}");
    }
    for w in config::abuse_warnings(&cfg.tenants) {
        tracing::warn!("{w}");
    }
    Ok(secret)
}

/// Warns when the demo API key or the dev outbox is reachable on a non-loopback `addr`.
pub fn warn_exposed(addr: SocketAddr, tenants: &Tenants, outbox: bool) {
    if !addr.ip().is_loopback() && tenants.accepts_hash(&hash_api_key(DEMO_API_KEY)) {
        tracing::warn!(
            "!!! THE PUBLIC DEMO API KEY IS ACCEPTED ON {addr}, A NON-LOOPBACK ADDRESS: anyone who \
             has read the README can send codes through this gateway. Remove it from api_keys. !!!"
        );
    }
    if outbox && !addr.ip().is_loopback() {
        tracing::warn!("the dev outbox is enabled on a non-loopback address; it shows codes to API-key holders");
    }
}
