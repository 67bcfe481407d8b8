//! The admin API's view of the fleet numbers: buckets read back from the store summed
//! into totals and a series per group (per minute over `1h`, per hour over `48h`),
//! conversion (approvals / starts), delivery rate (delivered / accepted), p50 and p95
//! delivery latency per provider from the 8-bucket histogram, spend and the spend the
//! pumping guard avoided (per hour, country and provider). Pure: no store, no clock.

use crate::domain::rfc3339;
use crate::metrics::stats::{parse_field, Bump, LATENCY_BOUNDS_SECS};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How far back the report looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 60 minutes, a point per minute.
    Hour,
    /// The last 48 hours, a point per hour.
    TwoDays,
}

impl Window {
    /// `1h` or `48h`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1h" => Some(Window::Hour),
            "48h" => Some(Window::TwoDays),
            _ => None,
        }
    }
    /// Minutes covered.
    pub fn minutes(self) -> i64 {
        match self {
            Window::Hour => 60,
            Window::TwoDays => 48 * 60,
        }
    }
    /// Minutes per point of a series.
    pub fn step(self) -> i64 {
        match self {
            Window::Hour => 1,
            Window::TwoDays => 60,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::TwoDays => "48h",
        }
    }
}

/// What the groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// ISO 3166 code (`unknown`, `email`).
    Country,
    /// Provider instance (`-`: counted before any provider, such as starts).
    Provider,
    /// `sms`, `whatsapp`, `voice`, `email`.
    Channel,
    /// Tenant id.
    Tenant,
}

impl By {
    /// `country`, `provider`, `channel` or `tenant`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "country" => Some(By::Country),
            "provider" => Some(By::Provider),
            "channel" => Some(By::Channel),
            "tenant" => Some(By::Tenant),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            By::Country => "country",
            By::Provider => "provider",
            By::Channel => "channel",
            By::Tenant => "tenant",
        }
    }
}

/// Counters summed over some buckets.
#[derive(Debug, Clone, Default)]
struct Counts {
    plain: BTreeMap<&'static str, i64>,
    refused: BTreeMap<String, i64>,
    lat: [i64; 8],
}

const PLAIN: [&str; 10] = [
    "starts",
    "sends",
    "accepted",
    "failed",
    "delivered",
    "undelivered",
    "approvals",
    "failed_over",
    "spend",
    "avoided",
];

impl Counts {
    fn add(&mut self, counter: &str, n: i64) {
        if let Some(k) = PLAIN.iter().find(|k| **k == counter) {
            *self.plain.entry(k).or_default() += n;
        } else if let Some(r) = counter.strip_prefix("refused:") {
            *self.refused.entry(r.to_string()).or_default() += n;
        } else if let Some(i) = counter
            .strip_prefix("lat:")
            .and_then(|i| i.parse::<usize>().ok())
        {
            if let Some(b) = self.lat.get_mut(i) {
                *b += n;
            }
        }
    }
    fn get(&self, k: &str) -> i64 {
        self.plain.get(k).copied().unwrap_or(0)
    }
    fn json(&self) -> Value {
        let mut m = Map::new();
        for k in &PLAIN[..8] {
            m.insert((*k).into(), json!(self.get(k)));
        }
        m.insert("refused".into(), json!(self.refused));
        m.insert(
            "conversion".into(),
            ratio(self.get("approvals"), self.get("starts")),
        );
        m.insert(
            "delivery_rate".into(),
            ratio(self.get("delivered"), self.get("accepted")),
        );
        m.insert("spend".into(), money(self.get("spend")));
        m.insert("spend_avoided".into(), money(self.get("avoided")));
        Value::Object(m)
    }
    /// The upper bound (seconds) of the bucket holding the `q` quantile; `null` when
    /// nothing was delivered or it lies past the last bound.
    fn quantile(&self, q: f64) -> Value {
        let total: i64 = self.lat.iter().sum();
        if total == 0 {
            return Value::Null;
        }
        let want = (q * total as f64).ceil() as i64;
        let mut seen = 0;
        for (i, n) in self.lat.iter().enumerate() {
            seen += n;
            if seen >= want {
                return LATENCY_BOUNDS_SECS.get(i).map_or(Value::Null, |b| json!(b));
            }
        }
        Value::Null
    }
}

fn ratio(a: i64, b: i64) -> Value {
    if b == 0 {
        Value::Null
    } else {
        json!(((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
    }
}

fn money(micro: i64) -> Value {
    json!(micro as f64 / 1e6)
}

/// The report, ready to render.
#[derive(Debug, Clone)]
pub struct Report(pub Value);

impl Report {
    /// Sums `bumps` (minutes `from..from + window`) into the report's shape.
    pub fn build(window: Window, by: By, from: i64, bumps: &[Bump]) -> Report {
        let points = (window.minutes() / window.step()) as usize;
        let mut total = Counts::default();
        let mut groups: BTreeMap<String, (Counts, Vec<Counts>)> = BTreeMap::new();
        let mut providers: BTreeMap<String, Counts> = BTreeMap::new();
        let mut countries: BTreeMap<String, Counts> = BTreeMap::new();
        let mut hours: BTreeMap<i64, Counts> = BTreeMap::new();
        for b in bumps {
            let Some((channel, country, provider, counter)) = parse_field(&b.field) else {
                continue;
            };
            let i = (b.minute - from) / window.step();
            if i < 0 || i as usize >= points {
                continue;
            }
            let key = match by {
                By::Country => country,
                By::Provider => provider,
                By::Channel => channel,
                By::Tenant => b.tenant.as_str(),
            };
            total.add(counter, b.n);
            let g = groups
                .entry(key.to_string())
                .or_insert_with(|| (Counts::default(), vec![Counts::default(); points]));
            g.0.add(counter, b.n);
            g.1[i as usize].add(counter, b.n);
            providers
                .entry(provider.to_string())
                .or_default()
                .add(counter, b.n);
            countries
                .entry(country.to_string())
                .or_default()
                .add(counter, b.n);
            hours
                .entry(b.minute.div_euclid(60) * 60)
                .or_default()
                .add(counter, b.n);
        }
        let at = |i: usize| rfc3339((from + i as i64 * window.step()) * 60_000);
        let groups: Vec<Value> = groups
            .iter()
            .map(|(k, (c, series))| {
                let mut v = c.json();
                v["key"] = json!(k);
                v["series"] = series
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let mut point = p.json();
                        point["at"] = json!(at(i));
                        point
                    })
                    .collect();
                v
            })
            .collect();
        let latency: Vec<Value> = providers
            .iter()
            .filter(|(p, _)| p.as_str() != "-")
            .map(|(p, c)| {
                json!({"provider": p, "delivered": c.get("delivered"),
                       "p50_seconds": c.quantile(0.5), "p95_seconds": c.quantile(0.95)})
            })
            .collect();
        let spend_of = |m: &BTreeMap<String, Counts>| -> Value {
            m.iter()
                .filter(|(_, c)| c.get("spend") != 0 || c.get("avoided") != 0)
                .map(|(k, c)| {
                    (
                        k.clone(),
                        json!({"spend": money(c.get("spend")), "avoided": money(c.get("avoided"))}),
                    )
                })
                .collect::<Map<_, _>>()
                .into()
        };
        let per_hour: Vec<Value> = hours
            .iter()
            .map(|(h, c)| json!({"at": rfc3339(h * 60_000), "spend": money(c.get("spend")), "avoided": money(c.get("avoided"))}))
            .collect();
        Report(json!({
            "window": window.as_str(),
            "by": by.as_str(),
            "from": at(0),
            "step_seconds": window.step() * 60,
            "totals": total.json(),
            "groups": groups,
            "latency": latency,
            "spend": {
                "per_hour": per_hour,
                "per_country": spend_of(&countries),
                "per_provider": spend_of(&providers),
            },
        }))
    }
}

#[cfg(test)]
#[path = "stats_report_tests.rs"]
mod tests;
