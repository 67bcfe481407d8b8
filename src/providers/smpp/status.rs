//! SMPP command statuses mapped to an [`ErrorKind`] and retryability.
//!
//! The codes and their meanings are those of the SMPP v3.4 specification (Issue 1.2),
//! §5.1.3 "command_status", Table 5-2 "SMPP Error Codes"; the codes above `0x000000C0`
//! and `0x100`–`0x112` are SMPP v5.0's (§4.7.6, Table 4-45). The description after each
//! code below is the specification's own wording. How the router acts on a kind:
//! [`crate::delivery::router`].
//!
//! | status | spec | kind | retry |
//! |---|---|---|---|
//! | `0x58` `ESME_RTHROTTLED` | "Throttling error (ESME has exceeded allowed message limits)" | `RateLimited` | on the bind, with backoff; then failover |
//! | `0x14` `ESME_RMSGQFUL` | "Message Queue Full" | `RateLimited` | on the bind, with backoff; then failover |
//! | `0x0B` `ESME_RINVDSTADR` | "Invalid Destination Address" | `InvalidDestination` | never |
//! | `0x50` `ESME_RINVDSTTON`, `0x51` `ESME_RINVDSTNPI` | "Invalid Destination Address TON" / "NPI" | `InvalidDestination` | never |
//! | `0x33` `ESME_RINVNUMDESTS`, `0x40` `ESME_RINVDESTFLAG` | "Invalid number of destinations" / "Destination flag is invalid" | `InvalidDestination` | never |
//! | `0x01` `ESME_RINVMSGLEN` | "Message Length is invalid" | `RejectedContent` | never |
//! | `0x02` `ESME_RINVCMDLEN`, `0x03` `ESME_RINVCMDID` | "Command Length is invalid" / "Invalid Command ID" | `RejectedContent` | never |
//! | `0x06` `ESME_RINVPRTFLG`, `0x07` `ESME_RINVREGDLVFLG` | "Priority Flag is invalid" / "Invalid Registered Delivery Flag" | `RejectedContent` | never |
//! | `0x15` `ESME_RINVSERTYP`, `0x43` `ESME_RINVESMCLASS` | "Invalid Service Type" / "Invalid esm_class field data" | `RejectedContent` | never |
//! | `0x61` `ESME_RINVSCHED`, `0x62` `ESME_RINVEXPIRY`, `0x63` `ESME_RINVDFTMSGID` | "Invalid Scheduled Delivery Time" / "Invalid message validity period (Expiry time)" / "Predefined Message Invalid or Not Found" | `RejectedContent` | never |
//! | `0x66` `ESME_RX_R_APPN` | "ESME Receiver Reject Message Error Code" | `RejectedContent` | never |
//! | `0x65` `ESME_RX_P_APPN` | "ESME Receiver Permanent App Error Code" | `RejectedContent` | never |
//! | `0xC0`–`0xC4` (5.0) | "Invalid Optional Parameter Stream" … "Invalid Optional Parameter Value" | `RejectedContent` | never |
//! | `0x104` `ESME_RINVDCS` (5.0) | "Invalid Data Coding Scheme" | `RejectedContent` | never |
//! | `0x0A` `ESME_RINVSRCADR`, `0x48` `ESME_RINVSRCTON`, `0x49` `ESME_RINVSRCNPI` | "Invalid Source Address" / "… TON" / "… NPI" | `Auth` | failover: our sender, the account's setting |
//! | `0x04` `ESME_RINVBNDSTS`, `0x05` `ESME_RALYBND` | "Incorrect BIND Status for given command" / "ESME Already in Bound State" | `Auth` | failover |
//! | `0x0D` `ESME_RBINDFAIL`, `0x0E` `ESME_RINVPASWD`, `0x0F` `ESME_RINVSYSID`, `0x53` `ESME_RINVSYSTYP` | "Bind Failed" / "Invalid Password" / "Invalid System ID" / "Invalid system_type field" | `Auth` | failover, breaker |
//! | `0x100`–`0x103` (5.0), `0x101` `ESME_RPROHIBITED` | "ESME Not authorised to use specified service_type" / "ESME Prohibited from using specified operation" / … | `Auth` | failover, breaker |
//! | `0x08` `ESME_RSYSERR` | "System Error" | `Unavailable` | failover, later rounds |
//! | `0x45` `ESME_RSUBMITFAIL` | "submit_sm or submit_multi failed" | `Unavailable` | failover, later rounds |
//! | `0x64` `ESME_RX_T_APPN` | "ESME Receiver Temporary App Error Code" | `Unavailable` | failover, later rounds |
//! | `0xFE` `ESME_RDELIVERYFAILURE`, `0xFF` `ESME_RUNKNOWNERR` | "Delivery Failure" / "Unknown Error" | `Unavailable` | failover, later rounds |
//! | anything else (`0x400`–`0x4FF` "Reserved for SMSC vendor specific errors") | | `Unavailable` | failover, later rounds |
//!
//! A status that is the message's fault ends the send (another SMSC would refuse it
//! too, and it must not go twice); one that is the account's fails over and counts
//! against the provider's breaker; the rest are the SMSC's trouble of the moment.

use crate::providers::{ErrorKind, ProviderError};

/// `ESME_RTHROTTLED`.
pub const THROTTLED: u32 = 0x58;
/// `ESME_RMSGQFUL`.
pub const QUEUE_FULL: u32 = 0x14;

/// The specification's name of a status, for logs and the `status` metric label (a
/// bounded set: unknown codes are `other`).
pub fn name(status: u32) -> &'static str {
    match status {
        0x00 => "ESME_ROK",
        0x01 => "ESME_RINVMSGLEN",
        0x02 => "ESME_RINVCMDLEN",
        0x03 => "ESME_RINVCMDID",
        0x04 => "ESME_RINVBNDSTS",
        0x05 => "ESME_RALYBND",
        0x06 => "ESME_RINVPRTFLG",
        0x07 => "ESME_RINVREGDLVFLG",
        0x08 => "ESME_RSYSERR",
        0x0A => "ESME_RINVSRCADR",
        0x0B => "ESME_RINVDSTADR",
        0x0C => "ESME_RINVMSGID",
        0x0D => "ESME_RBINDFAIL",
        0x0E => "ESME_RINVPASWD",
        0x0F => "ESME_RINVSYSID",
        0x14 => "ESME_RMSGQFUL",
        0x15 => "ESME_RINVSERTYP",
        0x33 => "ESME_RINVNUMDESTS",
        0x40 => "ESME_RINVDESTFLAG",
        0x43 => "ESME_RINVESMCLASS",
        0x45 => "ESME_RSUBMITFAIL",
        0x48 => "ESME_RINVSRCTON",
        0x49 => "ESME_RINVSRCNPI",
        0x50 => "ESME_RINVDSTTON",
        0x51 => "ESME_RINVDSTNPI",
        0x53 => "ESME_RINVSYSTYP",
        0x58 => "ESME_RTHROTTLED",
        0x61 => "ESME_RINVSCHED",
        0x62 => "ESME_RINVEXPIRY",
        0x63 => "ESME_RINVDFTMSGID",
        0x64 => "ESME_RX_T_APPN",
        0x65 => "ESME_RX_P_APPN",
        0x66 => "ESME_RX_R_APPN",
        0xC0..=0xC4 => "ESME_RINVTLV",
        0xFE => "ESME_RDELIVERYFAILURE",
        0xFF => "ESME_RUNKNOWNERR",
        0x100..=0x103 => "ESME_RSERTYP",
        0x104 => "ESME_RINVDCS",
        _ => "other",
    }
}

/// What a status means for a send.
pub fn kind(status: u32) -> ErrorKind {
    match status {
        THROTTLED | QUEUE_FULL => ErrorKind::RateLimited,
        0x0B | 0x50 | 0x51 | 0x33 | 0x40 => ErrorKind::InvalidDestination,
        0x01
        | 0x02
        | 0x03
        | 0x06
        | 0x07
        | 0x15
        | 0x43
        | 0x61
        | 0x62
        | 0x63
        | 0x65
        | 0x66
        | 0xC0..=0xC4
        | 0x104 => ErrorKind::RejectedContent,
        0x04 | 0x05 | 0x0A | 0x0D | 0x0E | 0x0F | 0x48 | 0x49 | 0x53 | 0x100..=0x103 => {
            ErrorKind::Auth
        }
        _ => ErrorKind::Unavailable,
    }
}

/// Whether the SMSC asks us to slow down (retried on the bind after a backoff).
pub fn is_throttle(status: u32) -> bool {
    matches!(status, THROTTLED | QUEUE_FULL)
}

/// The send's error for a `submit_sm_resp` with `status`.
pub fn error(status: u32) -> ProviderError {
    ProviderError::new(
        kind(status),
        format!("smpp: submit_sm answered {} ({status:#010x})", name(status)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_classes_map_as_asked() {
        let e = error(THROTTLED);
        assert!(e.retryable && e.kind == ErrorKind::RateLimited);
        assert!(error(QUEUE_FULL).retryable);
        let e = error(0x0B);
        assert!(!e.retryable && e.kind == ErrorKind::InvalidDestination);
        let e = error(0x0E);
        assert!(!e.retryable && e.kind == ErrorKind::Auth);
        let e = error(0x08);
        assert!(e.retryable && e.kind == ErrorKind::Unavailable);
        assert_eq!(
            error(0x0B).detail,
            "smpp: submit_sm answered ESME_RINVDSTADR (0x0000000b)"
        );
        assert_eq!(name(0x0400), "other");
        assert_eq!(kind(0x0400), ErrorKind::Unavailable);
    }
}
