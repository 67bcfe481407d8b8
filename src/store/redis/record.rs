//! Encoding of a verification record as a Redis hash, and decoding of script replies.
//!
//! Field names are two letters to keep a pending verification small in Redis.
//! `t` tenant, `to` number, `ch` channel, `st` status, `ca` created, `ex` expires,
//! `sc` sends, `ms` max sends, `nr` next resend, `al` attempts left, `ds`/`dp`/`du`
//! delivery status/provider/updated, `md` metadata, `lo` locale, `tp` template,
//! `cl` code length, `sd` code seed (16 bytes), `cm` code MAC (32 bytes). Instants are
//! integer milliseconds.

use crate::domain::{Channel, Delivery, DeliveryStatus, Status, Verification, VerificationId};
use ::redis::Value;
use std::borrow::Cow;

/// Field/value pairs of a fresh record, binary-safe.
pub fn encode(v: &Verification, mac: &[u8; 32]) -> Vec<Vec<u8>> {
    let mut f: Vec<(&str, Vec<u8>)> = vec![
        ("t", v.tenant.clone().into_bytes()),
        ("to", v.to.clone().into_bytes()),
        ("ch", v.channel.as_str().into()),
        ("st", v.status.as_str().into()),
        ("ca", v.created_at.to_string().into_bytes()),
        ("ex", v.expires_at.to_string().into_bytes()),
        ("sc", v.send_count.to_string().into_bytes()),
        ("ms", v.max_sends.to_string().into_bytes()),
        ("nr", v.next_resend_at.to_string().into_bytes()),
        ("al", v.attempts_left.to_string().into_bytes()),
        ("ds", v.delivery.status.as_str().into()),
        ("du", v.delivery.updated_at.to_string().into_bytes()),
        ("cl", v.code_length.to_string().into_bytes()),
        ("sd", v.seed.clone()),
        ("cm", mac.to_vec()),
    ];
    if let Some(m) = &v.metadata {
        f.push(("md", m.clone().into_bytes()));
    }
    if let Some(l) = &v.locale {
        f.push(("lo", l.clone().into_bytes()));
    }
    if let Some(t) = &v.template {
        f.push(("tp", t.clone().into_bytes()));
    }
    f.into_iter()
        .flat_map(|(k, v)| [k.as_bytes().to_vec(), v])
        .collect()
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// Text of a reply element.
pub fn text(v: &Value) -> Option<String> {
    bytes(v).and_then(|b| String::from_utf8(b).ok())
}

/// Integer of a reply element.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

/// The bytes of a reply element, borrowed when they are bytes already.
fn raw(v: &Value) -> Option<Cow<'_, [u8]>> {
    match v {
        Value::BulkString(b) => Some(Cow::Borrowed(b)),
        Value::SimpleString(s) => Some(Cow::Borrowed(s.as_bytes())),
        Value::Int(i) => Some(Cow::Owned(i.to_string().into_bytes())),
        _ => None,
    }
}

/// One field/value pair of a reply, borrowed where the reply allows.
type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Decodes an HGETALL reply (flat pairs or a RESP3 map) into a record.
pub fn decode(id: &VerificationId, v: &Value) -> Option<Verification> {
    // A record has under twenty fields: a linear search beats building a map.
    let pairs: Vec<Pair<'_>> = match v {
        Value::Array(items) => items
            .chunks_exact(2)
            .map(|p| Some((raw(&p[0])?, raw(&p[1])?)))
            .collect::<Option<_>>()?,
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, val)| Some((raw(k)?, raw(val)?)))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    if pairs.is_empty() {
        return None;
    }
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(f, _)| f.as_ref() == k.as_bytes())
            .map(|(_, v)| v.as_ref())
    };
    let s = |k: &str| get(k).and_then(|b| std::str::from_utf8(b).ok());
    let n = |k: &str| s(k).and_then(|x| x.parse::<i64>().ok());
    let opt = |k: &str| s(k).filter(|x| !x.is_empty()).map(str::to_string);
    Some(Verification {
        id: id.clone(),
        tenant: s("t")?.to_string(),
        to: s("to")?.to_string(),
        channel: Channel::parse(s("ch")?).ok()?,
        status: Status::from_name(s("st")?)?,
        created_at: n("ca")?,
        expires_at: n("ex")?,
        send_count: n("sc")? as u32,
        max_sends: n("ms")? as u32,
        next_resend_at: n("nr")?,
        attempts_left: n("al")?.max(0) as u32,
        delivery: Delivery {
            status: DeliveryStatus::from_name(s("ds")?)?,
            provider: opt("dp"),
            updated_at: n("du")?,
            reason: opt("dr"),
        },
        metadata: opt("md"),
        locale: opt("lo"),
        template: opt("tp"),
        code_length: n("cl")? as u8,
        seed: get("sd")?.to_vec(),
    })
}
