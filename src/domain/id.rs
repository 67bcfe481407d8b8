//! Record ids: `vrf_` for a verification, `dlv_` for a delivery-only send, one record
//! type in the store and the queue, told apart by prefix and parsed at the edge only as
//! the kind the endpoint serves.

use crate::error::Error;

/// `vrf_` (a verification) or `dlv_` (a delivery-only send, see [`DeliveryId`]) + 4 hex
/// digits naming the store shard + 24 hex digits of randomness (96 bits).
///
/// The shard lets a lookup by id find the same store slot as the number's other keys.
/// Both kinds are one record type in the store and the queue; the prefix tells them
/// apart, and the public parsers take only their own kind.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct VerificationId(String);

/// What a record is: a verification (the gateway made the code and checks it) or a
/// delivery-only send (a code made elsewhere, only delivered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `vrf_`: a verification.
    Verification,
    /// `dlv_`: a delivery-only send.
    Delivery,
}

impl RecordKind {
    fn prefix(self) -> &'static str {
        match self {
            RecordKind::Verification => "vrf_",
            RecordKind::Delivery => "dlv_",
        }
    }

    /// The bounded metric label of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Verification => "verification",
            RecordKind::Delivery => "delivery",
        }
    }
}

fn well_formed(s: &str, kind: RecordKind) -> bool {
    s.len() == 32
        && s.starts_with(kind.prefix())
        && s[4..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl VerificationId {
    /// A fresh verification id in `shard` from the OS CSPRNG.
    pub fn generate(shard: u16) -> Result<Self, Error> {
        Self::generate_kind(shard, RecordKind::Verification)
    }

    /// A fresh id of `kind` in `shard`.
    pub fn generate_kind(shard: u16, kind: RecordKind) -> Result<Self, Error> {
        let mut rnd = [0u8; 12];
        getrandom::fill(&mut rnd).map_err(|e| Error::Internal(format!("os rng: {e}")))?;
        Ok(VerificationId(format!(
            "{}{shard:04x}{}",
            kind.prefix(),
            hex::encode(rnd)
        )))
    }

    /// Parses a verification id from a path or body; anything else (a delivery's id
    /// included) cannot be a verification, so it is "not found".
    pub fn parse(s: &str) -> Result<Self, Error> {
        if well_formed(s, RecordKind::Verification) {
            Ok(VerificationId(s.to_string()))
        } else {
            Err(Error::NotFound("no verification with this id".into()))
        }
    }

    /// Parses a record id of either kind as the store and the queue keep it.
    pub fn parse_stored(s: &str) -> Option<Self> {
        (well_formed(s, RecordKind::Verification) || well_formed(s, RecordKind::Delivery))
            .then(|| VerificationId(s.to_string()))
    }

    /// The kind of record the id names.
    pub fn kind(&self) -> RecordKind {
        if self.0.starts_with("dlv_") {
            RecordKind::Delivery
        } else {
            RecordKind::Verification
        }
    }

    /// The store shard encoded in the id.
    pub fn shard(&self) -> u16 {
        u16::from_str_radix(&self.0[4..8], 16).unwrap_or(0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a delivery-only send (`dlv_…`): a record id of the delivery kind, so the
/// delivery endpoints never reach a verification and the verification endpoints never
/// reach a delivery.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DeliveryId(VerificationId);

impl DeliveryId {
    /// A fresh delivery id in `shard`.
    pub fn generate(shard: u16) -> Result<Self, Error> {
        VerificationId::generate_kind(shard, RecordKind::Delivery).map(DeliveryId)
    }

    /// Parses a delivery id from a path; anything else is "not found".
    pub fn parse(s: &str) -> Result<Self, Error> {
        if well_formed(s, RecordKind::Delivery) {
            Ok(DeliveryId(VerificationId(s.to_string())))
        } else {
            Err(Error::DeliveryNotFound("no delivery with this id".into()))
        }
    }

    /// The record id the store keeps it under.
    pub fn record(&self) -> &VerificationId {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_and_carries_its_shard() {
        let id = VerificationId::generate(0x2a).unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(id.shard(), 0x2a);
        assert_eq!(VerificationId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "vrf_",
            "vrf_XYZ",
            "abc_0000000000000000000000000000",
            "vrf_../../etc/passwd/.......",
        ] {
            assert!(VerificationId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delivery_ids_are_their_own_kind() {
        let d = DeliveryId::generate(7).unwrap();
        assert!(d.as_str().starts_with("dlv_"));
        assert_eq!(d.record().shard(), 7);
        assert_eq!(d.record().kind(), RecordKind::Delivery);
        assert!(VerificationId::parse(d.as_str()).is_err());
        let v = VerificationId::generate(7).unwrap();
        assert!(DeliveryId::parse(v.as_str()).is_err());
        assert_eq!(
            VerificationId::parse_stored(d.as_str()).unwrap().kind(),
            RecordKind::Delivery
        );
        assert_eq!(VerificationId::parse_stored(v.as_str()).unwrap(), v);
    }
}
