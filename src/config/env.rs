//! The environment layer: `OTPGW_SECTION__KEY` variables as figment data.
//!
//! figment's own `Env` provider parses every value: `000123` becomes the number 123, a
//! digit-only token becomes a number a string field then refuses (and the error quoted
//! it). This layer takes the same variables but keeps a value as written unless it is
//! unambiguous:
//!
//! - `true` / `false`: a boolean;
//! - an integer that prints back exactly as written and fits 64 bits (`42`, `-3`, not
//!   `007`, `+1`, or 35 digits): a number;
//! - a float that prints back exactly (`0.5`, `1.0`, not `0.50`): a number;
//! - a value that starts with `[` or `{` and parses as a list or table
//!   (`[a, b]`, `{k = v}`): that list or table, as figment reads it;
//! - a value in double quotes (`"0042"`): the string inside, as figment reads it (so
//!   quoting, the old way around the number problem, still gives the same secret);
//! - anything else: the string, byte for byte.
//!
//! Numeric and boolean settings therefore read as before, and string settings that hold
//! numbers ([`super::Secret`], the [`super::secret::text`] fields) turn them back into the
//! exact text, because only numbers that print back unchanged are kept as numbers.

use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

/// `OTPGW_…` variables that name config keys, values kept as written.
pub struct EnvLayer(Env);

impl EnvLayer {
    /// The variables `keep` accepts (given the key lower-cased, `__` turned into `.`).
    pub fn new(keep: fn(&str) -> bool) -> Self {
        EnvLayer(
            Env::prefixed("OTPGW_")
                .split("__")
                .filter(move |k| keep(&k.as_str().to_ascii_lowercase().replace("__", "."))),
        )
    }
}

/// The figment value of one environment value (see the module doc).
pub fn value_of(raw: &str) -> Value {
    if raw.starts_with('[') || raw.starts_with('{') || raw.starts_with('"') {
        let parsed: Value = raw.parse().expect("infallible");
        let quoted = raw.starts_with('"') && matches!(parsed, Value::String(..));
        if quoted || matches!(parsed, Value::Array(..) | Value::Dict(..)) {
            return parsed;
        }
    }
    match raw {
        "true" => return Value::from(true),
        "false" => return Value::from(false),
        _ => {}
    }
    if let Ok(n) = raw.parse::<u64>() {
        if n.to_string() == raw {
            return Value::from(n);
        }
    }
    if let Ok(n) = raw.parse::<i64>() {
        if n.to_string() == raw {
            return Value::from(n);
        }
    }
    if raw.contains('.') {
        if let Ok(f) = raw.parse::<f64>() {
            if super::secret::float_text(f) == raw {
                return Value::from(f);
            }
        }
    }
    Value::from(raw.to_string())
}

/// Puts `value` at the dotted `path` of `dict`, making tables on the way.
fn insert(dict: &mut Dict, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            dict.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        let mut vars: Vec<_> = self.0.iter().collect();
        // Deterministic when two variables name one key in different case.
        vars.sort();
        for (k, raw) in vars {
            insert(&mut dict, k.as_str(), value_of(&raw));
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Value) -> Option<&str> {
        v.as_str()
    }

    #[test]
    fn values_keep_their_text_unless_they_print_back_exactly() {
        for s in [
            "000123",
            "12345678901234567890123456789012345",
            "+15551234567",
            "0.50",
            "1e5",
            "-0",
            "True",
            "[not a list",
            " 42",
        ] {
            assert_eq!(text(&value_of(s)), Some(s), "{s}");
        }
        assert_eq!(value_of("42").to_u128(), Some(42));
        assert_eq!(value_of("-3").to_i128(), Some(-3));
        assert_eq!(value_of("0.5").to_f64(), Some(0.5));
        assert_eq!(value_of("true").to_bool(), Some(true));
        assert!(matches!(value_of("[a, b]"), Value::Array(..)));
        assert_eq!(text(&value_of("\"0042\"")), Some("0042"));
        assert_eq!(text(&value_of("\"unclosed")), Some("\"unclosed"));
    }

    /// Loads the embedded default under the jail's environment.
    fn load() -> Result<crate::Config, String> {
        crate::Config::load(None).map_err(|e| e.to_string())
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn numeric_looking_secrets_from_the_environment_stay_exact_strings() {
        figment::Jail::expect_with(|jail| {
            for secret in [
                "12345678901234567890123456789012345",
                "00012345678901234567890123456789012",
                "123456789012345678",
                "0.50000000000000000000000000000000",
            ] {
                jail.set_env("OTPGW_SECRET", secret);
                let c = load()?;
                assert_eq!(c.secret.as_ref().map(|s| s.0.as_str()), Some(secret));
            }
            jail.set_env("OTPGW_PROVIDERS__HOOK__KIND", "webhook");
            jail.set_env("OTPGW_PROVIDERS__HOOK__URL", "https://sms.example.com/otp");
            jail.set_env("OTPGW_PROVIDERS__HOOK__TIMEOUT_MS", "2500");
            jail.set_env("OTPGW_PROVIDERS__HOOK__SIGNING_SECRET", "0042");
            jail.set_env("OTPGW_PROVIDERS__TW__KIND", "twilio");
            jail.set_env("OTPGW_PROVIDERS__TW__AUTH_TOKEN", "98765432109876543210");
            jail.set_env("OTPGW_PROVIDERS__TW__FROM", "12345");
            jail.set_env("OTPGW_DELIVERY__BREAKER__ERROR_RATIO", "0.25");
            jail.set_env("OTPGW_DEV__OUTBOX", "false");
            jail.set_env("OTPGW_ROUTING__DEFAULT", "[hook, console]");
            let c = load()?;
            let crate::providers::ProviderConfig::Webhook(hook) = &c.providers["hook"] else {
                panic!("hook is a webhook");
            };
            assert_eq!(hook.signing_secret.as_deref(), Some("0042"));
            assert_eq!(hook.timeout_ms, 2500);
            let crate::providers::ProviderConfig::Twilio(tw) = &c.providers["tw"] else {
                panic!("tw is twilio");
            };
            assert_eq!(tw.auth_token.as_deref(), Some("98765432109876543210"));
            assert_eq!(tw.from.as_deref(), Some("12345"));
            assert_eq!(c.delivery.breaker.error_ratio, 0.25);
            assert!(!c.dev.outbox);
            assert_eq!(c.routing.default, ["hook", "console"]);
            jail.set_env(
                "OTPGW_SERVER__TRUSTED_PROXIES",
                "[127.0.0.1, 10.0.0.0/8, ::1]",
            );
            assert_eq!(load()?.server.trusted_proxies.0.len(), 3);
            jail.set_env("OTPGW_SERVER__TRUSTED_PROXIES", "[localhost]");
            let err = load().unwrap_err();
            assert!(err.contains("`localhost` is not an IP address"), "{err}");
            assert!(err.contains("TRUSTED_PROXIES"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn config_errors_do_not_print_secret_values() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OTPGW_SECRET", "{x = 314159265358979}");
            let err = load().unwrap_err();
            assert!(err.contains("SECRET") && !err.contains("314159"), "{err}");
            jail.clear_env();
            // A TOML syntax error on the secret's line: the message gives the line, not
            // its text.
            jail.create_file("bad.toml", "mode = \"dev\"\nsecret = 0271828182845904\n")?;
            let err = crate::Config::load(Some(&jail.directory().join("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("line 2") && !err.contains("271828"), "{err}");
            // An unquoted integer in TOML is that integer's text.
            jail.create_file("num.toml", "secret = 123456789012345678\n")?;
            let c = crate::Config::load(Some(&jail.directory().join("num.toml")))
                .map_err(|e| e.to_string())?;
            assert_eq!(c.secret.map(|s| s.0).as_deref(), Some("123456789012345678"));
            Ok(())
        });
    }
}
