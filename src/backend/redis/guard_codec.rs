//! Keys, arguments and replies of `guard.lua`, built apart from the call so that the
//! one-node admission scripts (`fused.rs`) join them with the limits' and
//! the store's parts into one round trip.

use super::calls::Parts;
use crate::domain::Millis;
use crate::error::{StoreError, StoreResult};
use crate::ratelimit::pumping::{Action, Block, Explain, GuardPolicy, Level, Outcome, Probe};
use crate::ratelimit::pumping::{PumpVerdict, Rule, Target, Trip, OVERFLOW, STRIKE_MEMORY_MS};
use ::redis::Value;

/// Values a send's reply holds per trip (see the head of `guard.lua`).
const PER_TRIP: usize = 12;

/// `P:{pg:<tenant>}`: the hash tag every key of a tenant's guard shares.
pub(super) fn tag(prefix: &str, tenant: &str) -> String {
    format!("{prefix}:{{pg:{tenant}}}")
}

/// The tally hash of one (tenant, channel, level) in one generation.
pub(super) fn gen_key(prefix: &str, tenant: &str, channel: &str, level: Level, gen: i64) -> String {
    format!(
        "{}:t:{channel}:{}:{gen}",
        tag(prefix, tenant),
        level.as_str()
    )
}

/// The tenant's block records.
pub(super) fn blocks_key(prefix: &str, tenant: &str) -> String {
    format!("{}:blocks", tag(prefix, tenant))
}

/// A block's field in [`blocks_key`].
pub(super) fn block_field(channel: &str, level: Level, field: &str) -> String {
    format!("{channel}:{}:{field}", level.as_str())
}

/// The generation `now` falls in: one per `baseline_ms`.
pub(super) fn gen_of(now: Millis, p: &GuardPolicy) -> i64 {
    now.div_euclid(p.baseline_ms.max(1) as i64)
}

/// A float as the script reads it: the shortest text that parses back to the same
/// number (Lua's `tonumber` parses it exactly).
fn float(x: f64) -> String {
    format!("{x}")
}

/// Keys and arguments of `guard.lua` for `op` (`send` or `approve`).
fn parts(op: &str, prefix: &str, probe: &Probe, p: &GuardPolicy, now: Millis) -> Parts {
    let gen = gen_of(now, p);
    let (tenant, channel) = (&probe.tenant, &probe.channel);
    let mut parts = Parts::default();
    for tg in &probe.targets {
        parts
            .key(gen_key(prefix, tenant, channel, tg.level, gen))
            .key(gen_key(prefix, tenant, channel, tg.level, gen - 1));
    }
    parts.key(blocks_key(prefix, tenant));
    parts
        .arg(op)
        .arg(now)
        .arg(p.recent_ms)
        .arg(p.baseline_ms)
        .arg(p.lag_ms)
        .arg(float(p.prior))
        .arg(float(p.floor))
        .arg(float(p.z))
        .arg(float(p.jump))
        .arg(p.block_ms)
        .arg(p.max_block_ms)
        .arg(p.max_tracked)
        .arg(2 * p.baseline_ms.max(1))
        .arg(STRIKE_MEMORY_MS + p.max_block_ms as i64)
        .arg(u8::from(probe.challenge_passed))
        .arg(u8::from(probe.low_score))
        .arg(channel)
        .arg(&probe.country);
    for tg in &probe.targets {
        let lp = p.levels[tg.level.index()];
        parts
            .arg(tg.level.index())
            .arg(tg.level.as_str())
            .arg(&tg.field)
            .arg(&tg.label)
            .arg(u8::from(lp.is_some()))
            .arg(lp.map_or(0, |l| l.action.index()))
            .arg(float(lp.map_or(0.0, |l| l.budget)))
            .arg(float(lp.map_or(0.0, |l| l.drop)));
    }
    parts
}

/// Keys and arguments of `guard.lua` deciding and counting a send.
pub(crate) fn send_parts(prefix: &str, probe: &Probe, p: &GuardPolicy, now: Millis) -> Parts {
    parts("send", prefix, probe, p, now)
}

/// Keys and arguments of `guard.lua` counting an approval.
pub(crate) fn approval_parts(prefix: &str, probe: &Probe, p: &GuardPolicy, now: Millis) -> Parts {
    parts("approve", prefix, probe, p, now)
}

/// A reply's text.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).to_string()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// A reply's integer (or integer text).
pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        v => text(v)?.parse().ok(),
    }
}

/// The error of a reply that is not what the script returns.
pub(super) fn bad() -> StoreError {
    StoreError("unexpected reply from the pumping guard's script".into())
}

/// Reads one trip of a send's reply.
fn trip(probe: &Probe, r: &[Value]) -> Option<Trip> {
    let tg: &Target = probe
        .targets
        .get(usize::try_from(int(&r[0])?).ok()?.checked_sub(1)?)?;
    let field = text(&r[1])?;
    let num = |i: usize| text(&r[i])?.parse::<f64>().ok();
    Some(Trip {
        level: tg.level,
        label: if field == OVERFLOW {
            "(overflow)".into()
        } else {
            tg.label.clone()
        },
        field,
        action: Action::from_index(int(&r[2])?)?,
        new: int(&r[3])? == 1,
        until_ms: int(&r[4])?,
        strikes: u32::try_from(int(&r[5])?).ok()?,
        explain: Explain {
            rule: if int(&r[6])? == 1 {
                Rule::Long
            } else {
                Rule::Recent
            },
            sends: num(7)?,
            approvals: num(8)?,
            expected: num(9)?,
            baseline_sends: num(10)?,
            tolerance: num(11)?,
        },
    })
}

/// Reads `guard.lua`'s reply to a send of `probe`.
pub(crate) fn decode_send(v: Value, probe: &Probe) -> StoreResult<PumpVerdict> {
    let Value::Array(items) = v else {
        return Err(bad());
    };
    if items.len() < 2 || (items.len() - 2) % PER_TRIP != 0 {
        return Err(bad());
    }
    let outcome = match text(&items[0]).as_deref() {
        Some("allowed") => Outcome::Allowed,
        Some("challenge") => Outcome::Challenge,
        Some("blocked") => Outcome::Blocked,
        _ => return Err(bad()),
    };
    let overflowed = int(&items[1]).and_then(|n| u32::try_from(n).ok());
    let trips = items[2..]
        .chunks(PER_TRIP)
        .map(|r| trip(probe, r))
        .collect::<Option<Vec<Trip>>>();
    Ok(PumpVerdict {
        outcome,
        trips: trips.ok_or_else(bad)?,
        overflowed: overflowed.ok_or_else(bad)?,
    })
}

/// `until|strikes|action|since|rule|sends|approvals|expected|baseline|tolerance|country|label`,
/// the numbers as text that parses back exactly (`guard.lua` writes this form).
#[cfg(test)]
pub fn encode_block(b: &Block) -> String {
    let e = &b.explain;
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        b.until_ms,
        b.strikes,
        b.action.index(),
        b.since_ms,
        u8::from(e.rule == Rule::Long),
        e.sends,
        e.approvals,
        e.expected,
        e.baseline_sends,
        e.tolerance,
        b.country,
        b.label
    )
}

/// Reads a block record (the form `guard.lua` writes) back.
pub fn decode_block(tenant: &str, key: &str, raw: &str) -> Option<Block> {
    let mut k = key.splitn(3, ':');
    let (channel, level, field) = (k.next()?, Level::parse(k.next()?)?, k.next()?);
    let p: Vec<&str> = raw.splitn(12, '|').collect();
    let num = |i: usize| p.get(i)?.parse::<f64>().ok();
    Some(Block {
        tenant: tenant.to_string(),
        channel: channel.to_string(),
        level,
        field: field.to_string(),
        until_ms: p.first()?.parse().ok()?,
        strikes: p.get(1)?.parse().ok()?,
        action: Action::from_index(p.get(2)?.parse().ok()?)?,
        since_ms: p.get(3)?.parse().ok()?,
        explain: Explain {
            rule: if *p.get(4)? == "1" {
                Rule::Long
            } else {
                Rule::Recent
            },
            sends: num(5)?,
            approvals: num(6)?,
            expected: num(7)?,
            baseline_sends: num(8)?,
            tolerance: num(9)?,
        },
        country: p.get(10)?.to_string(),
        label: p.get(11)?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_record_reads_back_exactly() {
        let b = Block {
            tenant: "t".into(),
            channel: "sms".into(),
            level: Level::Prefix,
            field: "f:with:colons".into(),
            label: "+1415555|0".into(),
            country: "US".into(),
            action: Action::Challenge,
            until_ms: 1_700_000_123_456,
            strikes: 3,
            since_ms: 1_700_000_000_000,
            explain: Explain {
                rule: Rule::Long,
                sends: 4.987,
                approvals: 0.1 + 0.2,
                expected: 1.0 / 3.0,
                baseline_sends: 1e-7,
                tolerance: 12_345.678_901_234_5,
            },
        };
        let key = block_field(&b.channel, b.level, &b.field);
        assert_eq!(decode_block("t", &key, &encode_block(&b)), Some(b));
        // guard.lua writes '%.17g'
        let lua =
            "5|1|1|7|0|4.9870000000000001|0.30000000000000004|9.9999999999999995e-08|0|2|US|x";
        let d = decode_block("t", "sms:range:f", lua).unwrap();
        assert_eq!(d.explain.sends, 4.987);
        assert_eq!(d.explain.approvals, 0.1 + 0.2);
        assert_eq!(d.explain.expected, 1e-7);
    }
}
