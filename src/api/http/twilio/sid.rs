//! Twilio SIDs for our ids: a verification's `VE…` SID is its [`VerificationId`] (`vrf_`
//! and 28 hex digits: shard and randomness) followed by 4 hex digits of a checksum, so
//! the mapping is reversible, and a `VE…` of the right shape that we never issued is
//! known at once to be unknown (`20404`, as for any unknown SID). A send's `VL…` attempt
//! SID is derived from its verification's SID and its position.

use crate::crypto::sha256_hex;
use crate::domain::VerificationId;

fn checksum(hex28: &str) -> String {
    sha256_hex(format!("VE{hex28}").as_bytes())[..4].to_string()
}

/// The `VE` SID of a verification.
pub fn ve_sid(id: &VerificationId) -> String {
    let hex = &id.as_str()[4..];
    format!("VE{hex}{}", checksum(hex))
}

/// The verification a `VE` SID names; `None` for anything we did not issue.
pub fn parse_ve(sid: &str) -> Option<VerificationId> {
    if sid.len() != 34 || !sid.starts_with("VE") {
        return None;
    }
    let hex = sid[2..].to_ascii_lowercase();
    let (id, sum) = hex.split_at(28);
    if sum != checksum(id) {
        return None;
    }
    VerificationId::parse(&format!("vrf_{id}")).ok()
}

/// The `VL` SID of the `n`th send (0 for the first) of the verification `ve`.
pub fn attempt_sid(ve: &str, n: u32) -> String {
    format!("VL{}", &sha256_hex(format!("{ve}:{n}").as_bytes())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ve_sids_round_trip_and_refuse_what_we_did_not_issue() {
        let id = VerificationId::generate(0x2a).unwrap();
        let sid = ve_sid(&id);
        assert_eq!(sid.len(), 34);
        assert!(sid.starts_with("VE"));
        assert_eq!(parse_ve(&sid), Some(id.clone()));
        // Twilio's hex is case-insensitive.
        assert_eq!(parse_ve(&sid.to_ascii_uppercase()), Some(id));
        let mut forged = sid.clone();
        forged.replace_range(33.., if sid.ends_with('0') { "1" } else { "0" });
        assert_eq!(parse_ve(&forged), None);
        for bad in ["", "VE", "VEzz", "VA00000000000000000000000000000000"] {
            assert_eq!(parse_ve(bad), None, "{bad}");
        }
        let a = attempt_sid(&sid, 0);
        assert!(a.starts_with("VL") && a.len() == 34);
        assert_ne!(a, attempt_sid(&sid, 1));
    }
}
