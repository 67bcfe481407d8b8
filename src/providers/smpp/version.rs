//! The SMPP version of a bind: what it announces in `interface_version` and what it
//! speaks once the SMSC's bind response has named its own (`sc_interface_version`).
//! The rules, with the specification's sections, are in `docs/providers.md` (Versions).

use serde::Deserialize;

/// The SMPP version the bind announces (`interface_version` of the bind PDU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum InterfaceVersion {
    /// SMPP 3.4 (`0x34`), what nearly every SMSC speaks.
    #[default]
    #[serde(rename = "3.4")]
    V34,
    /// SMPP 5.0 (`0x50`), for an SMSC that offers it.
    #[serde(rename = "5.0")]
    V50,
    /// Announce 5.0 (`0x50`) and speak what the SMSC answers in the bind response's
    /// `sc_interface_version` (none: 3.4).
    #[serde(rename = "auto")]
    Auto,
}

impl InterfaceVersion {
    /// The `interface_version` octet the bind carries.
    pub fn announced(self) -> u8 {
        match self {
            InterfaceVersion::V34 => 0x34,
            InterfaceVersion::V50 | InterfaceVersion::Auto => 0x50,
        }
    }

    /// The version a bind speaks, from what it announced and the SMSC's
    /// `sc_interface_version` (`None` when the bind response carried none): the lower
    /// of the two, and 3.4 when the SMSC named none (see `docs/providers.md`).
    pub fn negotiated(self, answered: Option<u8>) -> u8 {
        self.announced().min(answered.unwrap_or(0x34))
    }
}

/// `"3.4"`, `"5.0"`, or `"3.3"` for anything older, for an `interface_version` octet.
pub fn version_name(v: u8) -> &'static str {
    match v {
        0x50.. => "5.0",
        0x34..=0x4F => "3.4",
        _ => "3.3",
    }
}
