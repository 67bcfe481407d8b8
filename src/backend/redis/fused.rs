//! One Redis node: a start or a check and its admission (limits, pumping guard) as one
//! script, so one round trip per request with every limit on.
//!
//! The scripts are joined at startup from the same Lua the separate calls run
//! (`gcra.lua`, the pumping guard's `guard.lua`, `start.lua`, `check.lua`), each body
//! wrapped as a function of its own `KEYS` and `ARGV`, plus a short driver
//! (`admit_start.lua`, `admit_check.lua`) that calls them in the order of
//! [`crate::store::admit`]: a start runs the guard's send decision and stops when it
//! refuses; a check that approves counts the approval with the guard. The keys are the
//! ones the separate calls use, so both ways share state. On Redis Cluster the keys sit
//! in different slots and the steps run in turn instead.

use super::calls::{check_outcome, Parts};
use super::guard_codec::{approval_parts, decode_send, send_parts};
use super::limiter::{decode, gcra_parts, GCRA};
use super::pumps::GUARD;
use super::store::{RedisStore, CHECK, START};
use crate::domain::Millis;
use crate::ratelimit::Decision;
use crate::store::{Admission, Admitted, CheckOutcome, CheckSpec, StartOutcome, StartSpec};
use crate::store::{StoreError, StoreResult};
use ::redis::Value;

const SLICE: &str = "local function slice(t, from, n)\n  local r = {}\n  for i = 1, n do r[i] = t[from + i - 1] end\n  return r\nend\n";

/// `driver` with each part's body before it as a function of its own `KEYS` and `ARGV`
/// (also how the store's `delivered` script joins its parts).
pub(super) fn join(parts: &[(&str, &str)], driver: &str) -> String {
    let mut s = String::from(SLICE);
    for (name, body) in parts {
        s.push_str(&format!("local function {name}(KEYS, ARGV)\n{body}\nend\n"));
    }
    s.push_str(driver);
    s
}

/// The start driver joined with its parts.
pub(super) fn start_script() -> String {
    join(
        &[("limits", GCRA), ("pump", GUARD), ("start", START)],
        include_str!("lua/admit_start.lua"),
    )
}

/// The check driver joined with its parts.
pub(super) fn check_script() -> String {
    join(
        &[("limits", GCRA), ("pump", GUARD), ("check", CHECK)],
        include_str!("lua/admit_check.lua"),
    )
}

/// Counts, then the parts' arguments in order, and every part's keys.
fn driver(head: [usize; 4], parts: &[&Parts]) -> Parts {
    let mut p = Parts::default();
    for n in head {
        p.arg(n);
    }
    for part in parts {
        p.keys.extend(part.keys.iter().cloned());
        p.args.extend(part.args.iter().cloned());
    }
    p
}

fn three(v: Value) -> StoreResult<[Value; 3]> {
    match v {
        Value::Array(items) => <[Value; 3]>::try_from(items)
            .map_err(|_| StoreError("unexpected reply from the admission script".into())),
        _ => Err(StoreError(
            "unexpected reply from the admission script".into(),
        )),
    }
}

/// The guard's `{'error', message}` when it could not count a check's approval.
fn approval_error(v: &Value) -> Option<String> {
    match v {
        Value::Array(r) => match &r[..] {
            [Value::BulkString(head), Value::BulkString(why)] if head == b"error" => {
                Some(String::from_utf8_lossy(why).into_owned())
            }
            _ => None,
        },
        _ => None,
    }
}

fn decision(adm: &Admission, v: Value) -> StoreResult<Decision> {
    match v {
        Value::Nil => Ok(Decision::Allowed(Vec::new())),
        v => decode(&adm.limits, v),
    }
}

impl RedisStore {
    /// [`crate::store::Verifications::admit_start`] on one node: one script.
    pub(super) async fn fused_start(
        &self,
        adm: &Admission,
        spec: StartSpec,
        now: Millis,
    ) -> StoreResult<Admitted<StartOutcome>> {
        let limits = if adm.limits.is_empty() {
            Parts::default()
        } else {
            gcra_parts(&self.layout.prefix, &adm.tenant, &adm.limits, now)
        };
        let pump = match &adm.pump {
            Some((probe, p)) => send_parts(&self.layout.prefix, probe, p, now),
            None => Parts::default(),
        };
        let start = self.start_parts(&spec, now);
        let head = [
            limits.keys.len(),
            limits.args.len(),
            pump.keys.len(),
            pump.args.len(),
        ];
        let mut inv = self.scripts.admit_start.prepare_invoke();
        driver(head, &[&limits, &pump, &start]).apply(&mut inv);
        let [lim, pmp, out] = three(self.conn.invoke(&inv).await?)?;
        let pump = match (pmp, &adm.pump) {
            (Value::Nil, _) | (_, None) => None,
            (v, Some((probe, _))) => Some(decode_send(v, probe)?),
        };
        Ok(Admitted {
            decision: decision(adm, lim)?,
            pump,
            guard_down: false,
            outcome: match out {
                Value::Nil => None,
                v => Some(self.start_outcome(spec, v)?),
            },
        })
    }

    /// [`crate::store::Verifications::admit_check`] on one node: one script.
    pub(super) async fn fused_check(
        &self,
        adm: &Admission,
        spec: CheckSpec,
        now: Millis,
    ) -> StoreResult<Admitted<CheckOutcome>> {
        let limits = if adm.limits.is_empty() {
            Parts::default()
        } else {
            gcra_parts(&self.layout.prefix, &adm.tenant, &adm.limits, now)
        };
        let approval = match &adm.approval {
            Some((probe, p)) => approval_parts(&self.layout.prefix, probe, p, now),
            None => Parts::default(),
        };
        let check = self.check_parts(&spec, now);
        let head = [
            limits.keys.len(),
            limits.args.len(),
            approval.keys.len(),
            approval.args.len(),
        ];
        let mut inv = self.scripts.admit_check.prepare_invoke();
        driver(head, &[&limits, &approval, &check]).apply(&mut inv);
        let [lim, counted, out] = three(self.conn.invoke(&inv).await?)?;
        if let Some(e) = approval_error(&counted) {
            tracing::warn!(error = %e, "could not count an approval for the pumping guard");
        }
        Ok(Admitted {
            decision: decision(adm, lim)?,
            pump: None,
            guard_down: false,
            outcome: match out {
                Value::Nil => None,
                v => Some(check_outcome(v, &self.sealer)?),
            },
        })
    }
}
