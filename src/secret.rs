//! Secrets and other text that may look like a number.
//!
//! A server secret, a provider token or a sender id is text, whatever it looks like: a
//! token of digits set in the environment, or `secret = 123` written unquoted in TOML,
//! arrives from figment as a number. [`Secret`] and the [`text`] field helpers accept any
//! scalar and keep its text; the environment layer (`env.rs`) keeps a value as a number
//! only when the number prints back exactly as written, so `000123` or a 35-digit secret
//! stays the string it was. A value that is no scalar at all (a list, a table) is refused
//! with an error that names its kind, never its content.
//!
//! A module of its own below `config` and `providers` (the server secret and each
//! adapter's credentials are `Secret`s), so an adapter's settings need nothing else of
//! the config; `config` re-exports it.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// A secret string whose `Debug` is redacted. Deserializes from any scalar. It has no
/// `Display`: the text is reached only through `Deref` (`&*secret`, `.as_bytes()`,
/// `Option::as_deref`), where it is sent or used as a key, so a settings struct holding
/// credentials can derive `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Secret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarText).map(Secret)
    }
}

/// Text of a float as the environment layer writes it back (`{:?}`: `1.0`, `0.5`).
pub(crate) fn float_text(f: f64) -> String {
    format!("{f:?}")
}

/// Takes any scalar as its text; refuses lists and tables without echoing them.
struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f32<E: de::Error>(self, v: f32) -> Result<String, E> {
        Ok(format!("{v:?}"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(float_text(v))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

/// `#[serde(deserialize_with = …)]` helpers for plain `String` fields that hold
/// credentials or identifiers (tokens, sender ids): any scalar, kept as text.
pub mod text {
    use super::ScalarText;
    use serde::{Deserialize, Deserializer};

    /// A `String` field.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(ScalarText)
    }

    /// An `Option<String>` field.
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        struct Text(String);
        impl<'de> Deserialize<'de> for Text {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ScalarText).map(Text)
            }
        }
        Option::<Text>::deserialize(d).map(|o| o.map(|t| t.0))
    }
}
