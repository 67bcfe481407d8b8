//! Configuration: typed sections, layered loading and validation.
//!
//! Layers, later wins: the embedded `config/default.toml` (or, with `--config FILE`, that
//! file alone, so a production file never inherits the demo tenant), then environment
//! variables `OTPGW_SECTION__KEY` (`__` separates nesting, e.g. `OTPGW_STORE__KIND=redis`,
//! `OTPGW_TENANTS__DEMO__TTL_SECS=300`). The server secret may also come from the file
//! named by `OTPGW_SECRET_FILE` (or `secret_file`). Every field is documented here and in
//! `config/default.toml`; unknown keys are errors so typos do not pass silently.
//! Environment values are kept as written (`env.rs`: a secret of digits stays that text,
//! leading zeros included), and a config error never prints a secret, nor the TOML line
//! it sits on.

mod abuse;
mod channels;
mod delivery;
mod env;
mod events;
mod hooks;
mod keys;
mod listeners;
mod proxies;
mod pumping;
pub mod receipts;
mod redis;
mod sections;
mod stats;
mod tenant;
mod twilio;
mod validate;

pub use crate::secret::{self, Secret};
pub use abuse::{warnings as abuse_warnings, GeoConfig, LimitsConfig};
pub use channels::{
    builtin as channel_builtin, template_warnings as channel_template_warnings, ChannelSettings,
    StepConfig, WorkflowConfig, MAX_STEPS,
};
pub use delivery::{BreakerConfig, RouteConfig, RouteTable, RoutingConfig};
pub use events::{EventsConfig, EVENT_TYPES};
pub use hooks::{HooksConfig, SupabaseHookConfig};
pub use listeners::MetricsConfig;
pub use proxies::{IpBlock, TrustedProxies};
pub use pumping::{LevelConfig, LevelMode, LevelsConfig, PumpingConfig, PumpingMode};
pub use redis::{RedisStoreConfig, SentinelConfig};
pub use sections::*;
pub use stats::{price_tables, StatsConfig};
pub use tenant::{TemplateSet, TenantConfig};
pub use twilio::{is_sid, TwilioApiKey, TwilioConfig};
pub use validate::problems;

use figment::providers::{Format, Toml};
use figment::{Figment, Provider};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The embedded default configuration (development: memory store, console provider).
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `dev` relaxes the secret requirement (a random one is made); `production` does not.
    #[serde(default)]
    pub mode: Mode,
    /// Server secret for code MACs and number keys (at least 32 bytes). Prefer
    /// `secret_file` or `OTPGW_SECRET` over writing it here.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// File holding the server secret (trailing newline ignored).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// HTTP listener and request limits (they apply to gRPC calls too).
    #[serde(default)]
    pub server: ServerConfig,
    /// gRPC listener.
    #[serde(default)]
    pub grpc: GrpcConfig,
    /// Verification store backend.
    #[serde(default)]
    pub store: StoreConfig,
    /// Delivery queue and workers.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// SMS provider instances by name (`[providers.<name>]` with `kind = "…"`).
    #[serde(default = "default_providers")]
    pub providers: BTreeMap<String, crate::providers::ProviderConfig>,
    /// Which providers serve which destinations.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// Delivery receipts.
    #[serde(default)]
    pub receipts: ReceiptsConfig,
    /// Operator access.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Who may read `/metrics`, and where.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The fleet numbers and spend (`GET /v1/admin/stats`).
    #[serde(default)]
    pub stats: StatsConfig,
    /// Development aids.
    #[serde(default)]
    pub dev: DevConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Tenants by id (`[tenants.<id>]`); each owns API keys and settings.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// Top-level keys that may be set without a `__` section separator.
const TOP_LEVEL_ENV: &[&str] = &["mode", "secret", "secret_file"];

/// Whether an `OTPGW_…` variable (prefix stripped, lower-cased, `__` turned into `.`)
/// names a config key. Others — `OTPGW_CONFIG` for the command line, or the
/// `OTPGW_PORT`-style variables an orchestrator derives from a service named `otpgw` —
/// are left alone instead of failing the unknown-key check.
fn env_key_is_config(key: &str) -> bool {
    key.contains('.') || TOP_LEVEL_ENV.contains(&key)
}

/// `OTPGW_…` variables the config loader ignores (not a config key), for a startup
/// warning; `OTPGW_CONFIG` is the command line's and is not listed.
pub fn ignored_env_vars() -> Vec<String> {
    std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("OTPGW_") && k != "OTPGW_CONFIG")
        .filter(|k| {
            !env_key_is_config(&k["OTPGW_".len()..].to_ascii_lowercase().replace("__", "."))
        })
        .collect()
}

/// A config error without the source excerpt TOML parse errors carry (`2 | secret = …`):
/// the line may hold a secret, and the line and column are already in the message.
fn without_source_lines(e: &figment::Error) -> String {
    e.to_string()
        .lines()
        .filter(|l| {
            let rest = l
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !rest.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn default_providers() -> BTreeMap<String, crate::providers::ProviderConfig> {
    let console = crate::providers::ProviderConfig::Console(Default::default());
    BTreeMap::from([("console".to_string(), console)])
}

impl Config {
    /// Loads the embedded default, or `path` alone, then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with_env(path, env::EnvLayer::new(env_key_is_config))
    }

    /// Loads from a TOML string (tests), then the environment.
    pub fn from_toml(toml: &str) -> anyhow::Result<Self> {
        Self::extract(Figment::from(Toml::string(toml)))
    }

    fn load_with_env(path: Option<&Path>, env: impl Provider) -> anyhow::Result<Self> {
        let base = match path {
            Some(p) => {
                if !p.exists() {
                    anyhow::bail!("config file {} does not exist", p.display());
                }
                Figment::from(Toml::file_exact(p))
            }
            None => Figment::from(Toml::string(DEFAULT_TOML)),
        };
        Self::extract(base.merge(env))
    }

    fn extract(f: Figment) -> anyhow::Result<Self> {
        f.extract::<Config>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", without_source_lines(&e)))
    }

    /// The server secret bytes from `secret`, or the file `secret_file` names.
    pub fn secret_bytes(&self) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(s) = &self.secret {
            return Ok(Some(s.0.as_bytes().to_vec()));
        }
        if let Some(p) = &self.secret_file {
            let raw = std::fs::read_to_string(p).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read secret_file {}: {e}; {}",
                    p.display(),
                    validate::SECRET_HINT
                )
            })?;
            return Ok(Some(raw.trim_end_matches(['\n', '\r']).as_bytes().to_vec()));
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_is_valid() {
        let c = Config::from_toml(DEFAULT_TOML).unwrap();
        assert_eq!(c.mode, Mode::Dev);
        assert_eq!(c.store.kind, StoreKind::Memory);
        assert!(c.dev.outbox);
        assert!(c.tenants.contains_key("demo"));
        assert_eq!(problems(&c), Vec::<String>::new());
    }

    #[test]
    fn production_example_parses_without_demo_key_or_outbox() {
        let text = include_str!("../../config/production.example.toml");
        let c = Config::from_toml(text).unwrap();
        assert_eq!(c.mode, Mode::Production);
        assert_eq!(c.store.kind, StoreKind::Redis);
        assert!(!c.dev.outbox);
        let demo = crate::crypto::hash_api_key(DEMO_API_KEY);
        assert!(c.tenants.values().all(|t| !t.api_keys.contains(&demo)));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("[server]\nlisen = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn env_overrides_nested_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OTPGW_STORE__KIND", "redis");
            jail.set_env("OTPGW_TENANTS__DEMO__TTL_SECS", "42");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.store.kind, StoreKind::Redis);
            assert_eq!(c.tenants["demo"].ttl_secs, 42);
            Ok(())
        });
    }

    #[test]
    fn secret_can_come_from_a_file_named_in_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("secret.txt", "0123456789abcdef0123456789abcdef\n")?;
            jail.set_env("OTPGW_SECRET_FILE", "secret.txt");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let bytes = c.secret_bytes().map_err(|e| e.to_string())?.unwrap();
            assert_eq!(bytes, b"0123456789abcdef0123456789abcdef");
            jail.set_env("OTPGW_SECRET", "from-env-wins-over-the-file-0123456789");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(c.secret_bytes().unwrap().unwrap().starts_with(b"from-env"));
            Ok(())
        });
    }

    #[test]
    fn orchestrator_and_cli_variables_are_not_config_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OTPGW_PORT", "tcp://10.0.0.1:8080");
            jail.set_env("OTPGW_SERVICE_HOST", "10.0.0.1");
            jail.set_env("OTPGW_CONFIG", "/etc/otpgw/otpgw.toml");
            jail.set_env("OTPGW_MODE", "production");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.mode, Mode::Production);
            let mut ignored = ignored_env_vars();
            ignored.sort();
            assert_eq!(ignored, ["OTPGW_PORT", "OTPGW_SERVICE_HOST"]);
            Ok(())
        });
    }

    #[test]
    fn secret_debug_is_redacted() {
        let c = Config::from_toml("secret = \"abcdefabcdefabcdefabcdefabcdefabcdef\"").unwrap();
        assert!(!format!("{c:?}").contains("abcdef"));
    }
}
