//! Arguments and replies of the start and check scripts, built apart from the call
//! ([`Parts`]) so that the one-node admission scripts (`fused.rs`) can join them with
//! the limiter's and the pumping guard's parts; the idempotency script's reply.

use super::record::{self, decode, int, text};
use super::store::RedisStore;
use crate::domain::{Millis, Verification, VerificationId};
use crate::store::{
    CheckOutcome, CheckSpec, CheckTarget, IdempotencyBegin, StartOutcome, StartSpec,
};
use crate::store::{StoreError, StoreResult};
use ::redis::{ScriptInvocation, ToRedisArgs, Value};

/// A script's keys and arguments, built apart from the call so that several scripts'
/// parts can be joined into one call (see `fused.rs`).
#[derive(Default)]
pub struct Parts {
    /// Key names, in order.
    pub keys: Vec<String>,
    /// Arguments, in order.
    pub args: Vec<Vec<u8>>,
}

impl Parts {
    /// Adds a key.
    pub fn key(&mut self, k: impl Into<String>) -> &mut Self {
        self.keys.push(k.into());
        self
    }
    /// Adds an argument.
    pub fn arg(&mut self, a: impl ToRedisArgs) -> &mut Self {
        self.args.extend(a.to_redis_args());
        self
    }
    /// Hands the keys and arguments to an invocation.
    pub fn apply(&self, inv: &mut ScriptInvocation<'_>) {
        for k in &self.keys {
            inv.key(k);
        }
        for a in &self.args {
            inv.arg(&a[..]);
        }
    }
}

/// Whether a start's record becomes the number's pending verification: a verification
/// does; a delivery-only send never (it neither resends the pending one nor is found by
/// a check by number).
fn takes_index(spec: &StartSpec) -> bool {
    spec.fresh.id.kind() == crate::domain::RecordKind::Verification
}

impl RedisStore {
    /// Keys and arguments of `start.lua`.
    pub(super) fn start_parts(&self, spec: &StartSpec, now: Millis) -> Parts {
        let v = &spec.fresh;
        let mut p = Parts::default();
        p.key(self.layout.index_key(&spec.number))
            .key(self.layout.counter_key("ls", &spec.number))
            .key(self.layout.record_key(&v.id))
            .key(format!("{}:q", self.layout.tag(spec.number.shard)))
            .key(self.layout.timers(spec.number.shard))
            .key(self.layout.lookup_key(&spec.number))
            .arg(now)
            .arg(self.layout.record_prefix(spec.number.shard))
            .arg(v.id.as_str())
            .arg(spec.cooldown_ms)
            .arg(spec.retention_ms)
            .arg(spec.number_send_limit)
            .arg(spec.number_window_ms)
            .arg(v.expires_at)
            .arg(&v.tenant)
            .arg(spec.enqueue.app_hash.as_deref().unwrap_or(""))
            .arg(spec.enqueue.request_id.as_deref().unwrap_or(""))
            .arg(if takes_index(spec) { "1" } else { "0" })
            .arg(spec.resend_channel.map_or("", |c| c.as_str()))
            .arg(
                v.workflow
                    .as_ref()
                    .and_then(|w| w.step().timeout_ms)
                    .map_or(String::new(), |t| (now + t).to_string()),
            )
            .arg(spec.lookup_ms.max(0))
            .arg(crate::store::LOOKUP_MAX);
        for f in record::encode(v, &spec.code_mac, &self.sealer) {
            p.arg(f);
        }
        p
    }

    /// Reads `start.lua`'s reply; wakes delivery when a message was queued.
    pub(super) fn start_outcome(&self, spec: StartSpec, v: Value) -> StoreResult<StartOutcome> {
        let (head, rest) = reply(v);
        if head == "created" || head == "resent" {
            self.doorbell.ring(spec.number.shard);
        }
        let num = |i: usize| rest.get(i).and_then(int).ok_or_else(|| bad_reply("start"));
        Ok(match head.as_str() {
            "created" => StartOutcome::Created(spec.fresh),
            "resent" => StartOutcome::Resent(
                id_and_record(&rest, &self.sealer).ok_or_else(|| bad_reply("start"))?,
            ),
            "cooldown" => StartOutcome::Cooldown(num(0)?),
            "max_sends" => StartOutcome::MaxSends(num(0)?),
            "number_limited" => StartOutcome::NumberLimited(num(0)?),
            _ => return Err(bad_reply("start")),
        })
    }

    /// Keys and arguments of `check.lua`.
    pub(super) fn check_parts(&self, spec: &CheckSpec, now: Millis) -> Parts {
        let (number, id) = match &spec.target {
            CheckTarget::Number(n) => (n, String::new()),
            CheckTarget::Id(id, n) => (n, id.as_str().to_string()),
        };
        let mut p = Parts::default();
        p.key(self.layout.index_key(number))
            .key(self.layout.counter_key("cf", number));
        if spec.client_fail_limit > 0 {
            for c in &spec.client_keys {
                p.key(format!("{}:{c}", self.layout.counter_key("cc", number)));
            }
        }
        p.arg(now)
            .arg(self.layout.record_prefix(number.shard))
            .arg(&id)
            .arg(&number.tenant)
            .arg(&spec.code_mac[..])
            .arg(spec.number_fail_limit.max(1))
            .arg(spec.number_window_ms.max(1))
            .arg(spec.retention_ms)
            .arg(spec.client_fail_limit.max(1));
        p
    }
}

/// Reads `check.lua`'s reply.
pub(super) fn check_outcome(v: Value, sealer: &crate::crypto::Sealer) -> StoreResult<CheckOutcome> {
    let (head, rest) = reply(v);
    let record = || id_and_record(&rest, sealer);
    Ok(match head.as_str() {
        "approved" => CheckOutcome::Approved(record().ok_or_else(|| bad_reply("check"))?),
        "wrong" => CheckOutcome::Wrong(record().ok_or_else(|| bad_reply("check"))?),
        "not_found" => CheckOutcome::NotFound,
        "max_attempts" => CheckOutcome::MaxAttempts(rest.first().and_then(int).unwrap_or(0)),
        "number_limited" => CheckOutcome::NumberLimited(rest.first().and_then(int).unwrap_or(0)),
        "client_limited" => CheckOutcome::ClientLimited(rest.first().and_then(int).unwrap_or(0)),
        _ => return Err(bad_reply("check")),
    })
}

/// A script's reply as its head word and the values after it.
pub(super) fn reply(v: Value) -> (String, Vec<Value>) {
    match v {
        Value::Array(mut items) if !items.is_empty() => {
            let head = text(&items.remove(0)).unwrap_or_default();
            (head, items)
        }
        _ => (String::new(), Vec::new()),
    }
}

/// What `idempotency.lua` answered a reservation for fingerprint `fp`: reserved, or the
/// entry there (`p|fp`: in progress, `d|fp|status|body`: done, another fp: a mismatch).
pub(super) fn idempotency_begun(v: Value, fp: &str) -> StoreResult<IdempotencyBegin> {
    let (head, rest) = reply(v);
    if head == "reserved" {
        return Ok(IdempotencyBegin::Reserved);
    }
    let cur = rest
        .first()
        .and_then(text)
        .ok_or_else(|| bad_reply("idempotency"))?;
    let mut parts = cur.splitn(4, '|');
    Ok(
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("p"), Some(f), _, _) if f == fp => IdempotencyBegin::InProgress,
            (Some("d"), Some(f), Some(status), Some(body)) if f == fp => {
                IdempotencyBegin::Replay(status.parse().unwrap_or(200), body.to_string())
            }
            _ => IdempotencyBegin::Mismatch,
        },
    )
}

/// The error of a reply a script never gives.
pub(super) fn bad_reply(what: &str) -> StoreError {
    StoreError(format!("unexpected reply from the {what} script"))
}

/// Decodes the `id, fields` tail of a script reply.
fn id_and_record(rest: &[Value], sealer: &crate::crypto::Sealer) -> Option<Verification> {
    let id = VerificationId::parse_stored(&text(rest.first()?)?)?;
    decode(&id, rest.get(1)?, sealer)
}

/// Reads a `ZREVRANGEBYSCORE … WITHSCORES` reply of the lookup index (flat
/// member/score pairs, or RESP3 pairs) into entries; ids that do not parse are skipped.
pub(super) fn lookup_entries(v: Value) -> Vec<crate::store::LookupEntry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let score = |s: &Value| match s {
        Value::Double(d) => Some(*d as i64),
        other => text(other)?.parse::<f64>().ok().map(|d| d as i64),
    };
    let pairs: Vec<(Value, Value)> = if items.iter().all(|i| matches!(i, Value::Array(_))) {
        items
            .into_iter()
            .filter_map(|i| match i {
                Value::Array(mut p) if p.len() == 2 => {
                    let s = p.pop()?;
                    Some((p.pop()?, s))
                }
                _ => None,
            })
            .collect()
    } else {
        let mut it = items.into_iter();
        std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
    };
    pairs
        .into_iter()
        .filter_map(|(m, s)| {
            Some(crate::store::LookupEntry {
                id: VerificationId::parse_stored(&text(&m)?)?,
                created_at: score(&s)?,
            })
        })
        .collect()
}
