//! Encoding of a verification record as a Redis hash, and decoding of script replies.
//!
//! Field names are two letters to keep a pending verification small in Redis.
//! `t` tenant, `pe` personal data sealed, `ch` channel, `st` status, `ca` created,
//! `ex` expires, `sc` sends, `ms` max sends, `nr` next resend, `so` the times of the
//! sends after the first (comma-separated ms after `ca`, appended by `start.lua` on a
//! resend; absent until one, and on records written before it was kept), `al` attempts left,
//! `ds`/`dp`/`du` delivery status/provider/updated, `lo` locale, `tp` template,
//! `wf`/`ws`/`wi`/`wt`/`wh` a workflow's name, steps (`channel:timeout_ms,…`), current step, when it
//! started, and the steps that are over (`domain::StepRecord`, `;`-joined; see `advance.lua`),
//! `cl` code length, `rg` the number's region (ISO 3166; not personal), `sd` code seed (16 bytes), `cm` code MAC (32 bytes), and one
//! `x:<16 hex>` field per delivery receipt applied (`store::progress::receipt_mark`; read
//! only by `delivery.lua`). Instants are integer milliseconds.
//!
//! The number and the caller's metadata are the record's personal data: they are
//! stored only in `pe`, sealed ([`crate::crypto::Sealer`]) for this verification id and
//! tenant, so a copy of Redis holds neither. `pe` opens to a length byte, the number,
//! then the metadata text (empty when none). Records written before sealing (plain
//! `to` and `md` fields) still decode until they expire. No script reads `pe`.

use crate::crypto::Sealer;
use crate::domain::{
    Channel, Delivery, DeliveryStatus, Destination, Status, StepRecord, Verification,
    VerificationId, Workflow,
};
use ::redis::Value;
use std::borrow::Cow;

fn place<'a>(id: &'a VerificationId, tenant: &'a str) -> [&'a [u8]; 2] {
    [id.as_str().as_bytes(), tenant.as_bytes()]
}

/// The sealed `pe` field of a record.
fn seal_personal(v: &Verification, sealer: &Sealer) -> Vec<u8> {
    let to = v.to.as_str().as_bytes();
    let mut plain = Vec::with_capacity(1 + to.len() + v.metadata.as_ref().map_or(0, String::len));
    plain.push(to.len().min(255) as u8);
    plain.extend_from_slice(&to[..to.len().min(255)]);
    plain.extend_from_slice(v.metadata.as_deref().unwrap_or("").as_bytes());
    sealer.seal(&place(&v.id, &v.tenant), &plain)
}

/// Number and metadata from a sealed `pe` field.
fn open_personal(
    sealer: &Sealer,
    id: &VerificationId,
    tenant: &str,
    pe: &[u8],
) -> Option<(String, Option<String>)> {
    let Some(plain) = sealer.open(&place(id, tenant), pe) else {
        tracing::warn!(
            id = id.as_str(),
            "a record's personal data does not open under this server secret"
        );
        return None;
    };
    let n = *plain.first()? as usize;
    let to = std::str::from_utf8(plain.get(1..1 + n)?).ok()?.to_string();
    let md = std::str::from_utf8(plain.get(1 + n..)?).ok()?;
    Some((to, (!md.is_empty()).then(|| md.to_string())))
}

/// Field/value pairs of a fresh record, binary-safe, personal data sealed.
pub fn encode(v: &Verification, mac: &[u8; 32], sealer: &Sealer) -> Vec<Vec<u8>> {
    let mut f: Vec<(&str, Vec<u8>)> = vec![
        ("t", v.tenant.clone().into_bytes()),
        ("pe", seal_personal(v, sealer)),
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
        ("rg", v.to.region().unwrap_or("").as_bytes().to_vec()),
        ("sd", v.seed.clone()),
        ("cm", mac.to_vec()),
    ];
    if !v.resent_at.is_empty() {
        f.push(("so", resends(v).into_bytes()));
    }
    if let Some(l) = &v.locale {
        f.push(("lo", l.clone().into_bytes()));
    }
    if let Some(t) = &v.template {
        f.push(("tp", t.clone().into_bytes()));
    }
    if let Some(w) = &v.workflow {
        f.push(("wf", w.name.clone().into_bytes()));
        f.push(("ws", w.encode_steps().into_bytes()));
        f.push(("wi", w.current.to_string().into_bytes()));
        f.push(("wt", w.step_started_at.to_string().into_bytes()));
    }
    f.into_iter()
        .flat_map(|(k, v)| [k.as_bytes().to_vec(), v])
        .collect()
}

/// The `so` field: each resend's time as ms after creation, comma-separated.
fn resends(v: &Verification) -> String {
    let offs: Vec<String> = v
        .resent_at
        .iter()
        .map(|t| (t - v.created_at).to_string())
        .collect();
    offs.join(",")
}

/// The resend times of an `so` field, at most `max - 1` (the last ones); an unreadable
/// entry ends the list there.
fn resent_at(so: Option<&str>, created: i64, max: u32) -> Vec<i64> {
    let all: Vec<i64> = so
        .unwrap_or("")
        .split(',')
        .map_while(|o| o.parse::<i64>().ok())
        .map(|o| created.saturating_add(o))
        .collect();
    let keep = (max as usize).saturating_sub(1);
    all[all.len().saturating_sub(keep)..].to_vec()
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

/// Decodes an HGETALL reply (flat pairs or a RESP3 map) into a record; `None` also
/// when its personal data does not open.
pub fn decode(id: &VerificationId, v: &Value, sealer: &Sealer) -> Option<Verification> {
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
    let tenant = s("t")?;
    let (to, metadata) = match get("pe") {
        Some(pe) => open_personal(sealer, id, tenant, pe)?,
        None => (s("to")?.to_string(), opt("md")),
    };
    let to = Destination::from_stored(to, opt("rg"));
    let (created_at, max_sends) = (n("ca")?, n("ms")? as u32);
    Some(Verification {
        id: id.clone(),
        tenant: tenant.to_string(),
        to,
        channel: Channel::parse(s("ch")?).ok()?,
        status: Status::from_name(s("st")?)?,
        created_at,
        expires_at: n("ex")?,
        send_count: n("sc")? as u32,
        max_sends,
        next_resend_at: n("nr")?,
        resent_at: resent_at(s("so"), created_at, max_sends),
        attempts_left: n("al")?.max(0) as u32,
        delivery: Delivery {
            status: DeliveryStatus::from_name(s("ds")?)?,
            provider: opt("dp"),
            updated_at: n("du")?,
            reason: opt("dr"),
        },
        metadata,
        locale: opt("lo"),
        template: opt("tp"),
        code_length: n("cl")? as u8,
        seed: get("sd")?.to_vec(),
        workflow: match (opt("wf"), s("ws").and_then(Workflow::decode_steps)) {
            (Some(name), Some(steps)) => Some(Workflow {
                name,
                steps,
                current: n("wi").unwrap_or(0).clamp(0, 255) as u8,
                step_started_at: n("wt").unwrap_or(created_at),
            }),
            _ => None,
        },
        past_steps: s("wh").map(StepRecord::decode_all).unwrap_or_default(),
    })
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
