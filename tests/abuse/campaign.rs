//! Pumping campaigns against a running gateway, with the default guard settings and real
//! users beside them: real HTTP clients, real codes read from the outbox and typed back
//! with the same client and session. The shapes: a thin spread over every 1 000-block of
//! one 100 000-block from rotating addresses, and one client cycling through ranges of
//! many areas. The attack must be stopped within a few dozen sends; no real user may be
//! refused.

use super::support::app::TestApp;
use super::support::{spawn_app, Backend};
use serde_json::json;

/// A real user: a fresh number away from the attacked area, its own address and
/// session, the code typed back.
async fn real_user(app: &TestApp, i: u32) -> u16 {
    let r = u32::from_be_bytes(otpgw::crypto::random_bytes::<4>());
    let mut exchange = 230 + r % 600;
    if exchange % 100 == 11 {
        exchange += 1;
    }
    let to = format!("+1646{exchange}{:04}", (r / 600) % 10_000);
    let ip = format!("198.51.{}.{}", i / 250, i % 250 + 1);
    let rc = json!({"session_id": format!("user-{i}"), "user_agent": "Mozilla/5.0"});
    let body = json!({"to": to, "client_ip": ip, "risk_context": rc});
    let r = app.post("/v1/verifications", body).await;
    if r.status != 201 {
        return r.status;
    }
    let code = app.code_for(&to).await;
    let body = json!({"to": to, "code": code, "client_ip": ip, "risk_context": rc});
    let r = app.post("/v1/verifications/check", body).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
    201
}

struct Tally {
    attack: u32,
    through: u32,
    refused_real: u32,
    reasons: std::collections::BTreeSet<String>,
}

impl Tally {
    /// No real user refused, at most 30 of the 300 attack sends through, and the
    /// refusals start with `what` (every one of them when `all`).
    fn stopped_by(&self, what: &str, all: bool) {
        assert_eq!(self.refused_real, 0, "real users refused");
        let (through, attack) = (self.through, self.attack);
        assert!(
            through <= 30,
            "{through} of {attack} attack sends went through"
        );
        let mut named = self.reasons.iter().map(|r| r.starts_with(what));
        let ok = if all {
            named.all(|x| x)
        } else {
            named.any(|x| x)
        };
        assert!(ok, "{:?}", self.reasons);
    }
}

async fn campaign(b: Backend, attack: impl Fn(u32) -> serde_json::Value) -> Tally {
    let app = spawn_app(b, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.pumping = otpgw::config::PumpingConfig::default();
        t.limits = super::support::app::abuse_off();
    })
    .await;
    let mut t = Tally {
        attack: 0,
        through: 0,
        refused_real: 0,
        reasons: Default::default(),
    };
    // The tenant's usual traffic first, then the attack with real users among it.
    for i in 0..40 {
        if real_user(&app, i).await != 201 {
            t.refused_real += 1;
        }
    }
    for i in 0..300 {
        let r = app.post("/v1/verifications", attack(i)).await;
        t.attack += 1;
        match r.status {
            201 => t.through += 1,
            403 => {
                t.reasons.insert(format!(
                    "{} {}",
                    r.code(),
                    r.body["reason"].as_str().unwrap_or("")
                ));
            }
            s => panic!("attack send answered {s}: {}", r.text),
        }
        if i % 5 == 0 && real_user(&app, 100 + i).await != 201 {
            t.refused_real += 1;
        }
    }
    eprintln!(
        "{} of {} attack sends through, {} real users refused, {:?}",
        t.through, t.attack, t.refused_real, t.reasons
    );
    t
}

pub async fn a_thin_spread_over_one_area_from_rotating_addresses_is_stopped(b: Backend) {
    let t = campaign(b, |i| {
        // Every 1 000-block of +1 415 23x xxxx once before any twice: 100 blocks.
        let to = format!("+141523{}{}{:03}", (i / 10) % 10, i % 10, i * 37 % 1000);
        json!({"to": to, "client_ip": format!("203.0.{}.{}", i % 200, i % 250 + 1)})
    })
    .await;
    t.stopped_by("destination_blocked ", true);
}

pub async fn one_client_cycling_through_many_areas_is_stopped(b: Backend) {
    let t = campaign(b, |i| {
        let exchange = 230 + (i * 7) % 600;
        let exchange = if exchange % 100 == 11 {
            exchange + 1
        } else {
            exchange
        };
        let to = format!("+1415{exchange}{:04}", i * 31 % 10_000);
        json!({"to": to, "client_ip": "203.0.113.99", "risk_context": {"session_id": "bot"}})
    })
    .await;
    t.stopped_by("challenge_required ", false);
}
