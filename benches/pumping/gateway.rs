//! The gateway's side of a send and of a check, as the service runs them for a tenant
//! with the guard on and an empty safe list: the probe comes from
//! `otpgw::service::probe` (a real `Tenant` and `Keys`), the sources as the start and
//! check admissions name them (`client_ip`, and `risk_context` for session and device),
//! then the memory backend's `send_now` / `approve_now`, which run the model's `decide`
//! and `approve`.

use otpgw::backend::memory::MemoryPumps;
use otpgw::config::{PumpingConfig, TenantConfig};
use otpgw::crypto::{Keys, ServerSecret};
use otpgw::domain::{PhoneNumber, RiskContext};
use otpgw::ratelimit::pumping::{GuardPolicy, PumpVerdict};
use otpgw::service::{probe, Sources, Tenant};
use std::net::IpAddr;

pub struct Gateway {
    keys: Keys,
    tenant: Tenant,
    policy: GuardPolicy,
    pumps: MemoryPumps,
}

impl Gateway {
    pub fn new(cfg: &PumpingConfig) -> Self {
        let tenant = Tenant {
            id: "acme".into(),
            cfg: TenantConfig {
                pumping: cfg.clone(),
                ..TenantConfig::default()
            },
            key_id: String::new(),
        };
        Gateway {
            keys: Keys::derive(&ServerSecret::new(b"pumping simulator".to_vec())),
            policy: otpgw::service::guard_policy(&tenant.cfg.pumping),
            tenant,
            pumps: MemoryPumps::default(),
        }
    }

    /// A start: `risk.challenge_passed` says whether the end user just passed one.
    pub fn send(&self, to: &PhoneNumber, ip: IpAddr, risk: &RiskContext, now: i64) -> PumpVerdict {
        let src = Sources {
            ip: Some(ip),
            session: None,
            risk: Some(risk),
        };
        let p = probe(&self.keys, &self.tenant, to, src, &self.policy);
        self.pumps.send_now(&p, &self.policy, now)
    }

    /// A correct check from the same client.
    pub fn approve(&self, to: &PhoneNumber, ip: IpAddr, risk: &RiskContext, now: i64) {
        let src = Sources {
            ip: Some(ip),
            session: None,
            risk: Some(risk),
        };
        let p = probe(&self.keys, &self.tenant, to, src, &self.policy);
        self.pumps.approve_now(&p, &self.policy, now);
    }
}
