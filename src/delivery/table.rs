//! One channel's routing table: its routes (by country or calling-code prefix) and its
//! default, each a plan of provider slots with optional weights, built from
//! `[routing]` / `[routing.channels.<channel>]` and checked against what each adapter
//! sends on.

use super::router::{Plan, Slot};
use crate::domain::Channel;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a route matches.
pub(super) enum Dest {
    /// An ISO 3166 country code.
    Country(String),
    /// A calling-code prefix (`+4420`).
    Prefix(String),
}

/// One channel's routes and default.
pub(super) struct Table {
    /// Routes, first match wins.
    pub routes: Vec<(Vec<Dest>, Plan)>,
    /// The plan for destinations no route matches.
    pub default: Plan,
}

impl Table {
    /// Whether any plan of the table names the provider instance `name`.
    pub fn names(&self, name: &str) -> bool {
        let has = |p: &Plan| p.iter().any(|(s, _)| s.name == name);
        has(&self.default) || self.routes.iter().any(|(_, p)| has(p))
    }
}

/// A channel's table from its settings; every provider named must exist and send on
/// `channel`.
pub(super) fn table(
    slots: &BTreeMap<String, Arc<Slot>>,
    channel: Channel,
    t: &crate::config::RouteTable,
) -> anyhow::Result<Table> {
    let plan = |names: &[String], weights: &[u32]| -> anyhow::Result<Plan> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let slot = slots
                    .get(n)
                    .ok_or_else(|| anyhow::anyhow!("routing names unknown provider `{n}`"))?;
                if !slot.provider.channels().contains(&channel) {
                    anyhow::bail!(
                        "routing sends {} through `{n}`, whose adapter ({}) does not send on that channel",
                        channel.as_str(),
                        slot.provider.kind()
                    );
                }
                Ok((slot.clone(), weights.get(i).copied().unwrap_or(0)))
            })
            .collect()
    };
    let default = plan(&t.default, &t.default_weights)?;
    let mut routes = Vec::new();
    for r in &t.routes {
        let dests = r
            .destinations
            .iter()
            .map(|d| {
                if d.starts_with('+') {
                    Dest::Prefix(d.clone())
                } else {
                    Dest::Country(d.clone())
                }
            })
            .collect();
        routes.push((dests, plan(&r.providers, &r.weights)?));
    }
    Ok(Table { routes, default })
}
