//! Unit tests of the fleet-numbers report.
use super::*;

fn b(minute: i64, field: &str, n: i64) -> Bump {
    Bump {
        minute,
        tenant: "t".into(),
        field: field.into(),
        n,
    }
}

#[test]
fn totals_rates_quantiles_and_spend_add_up() {
    let bumps = [
        b(100, "sms|FR|-|starts", 4),
        b(100, "sms|FR|-|approvals", 3),
        b(101, "sms|FR|tw|accepted", 4),
        b(101, "sms|FR|tw|spend", 200_000),
        b(102, "sms|FR|tw|delivered", 2),
        b(102, "sms|FR|tw|lat:0", 1),
        b(102, "sms|FR|tw|lat:3", 1),
        b(103, "sms|GB|tw|refused:prefix_blocked", 5),
        b(103, "sms|GB|tw|avoided", 250_000),
        b(999, "sms|FR|-|starts", 7),
    ];
    let r = Report::build(Window::Hour, By::Country, 100, &bumps).0;
    assert_eq!(r["totals"]["starts"], 4);
    assert_eq!(r["totals"]["conversion"], 0.75);
    assert_eq!(r["totals"]["delivery_rate"], 0.5);
    assert_eq!(r["totals"]["refused"]["prefix_blocked"], 5);
    assert_eq!(r["totals"]["spend"], 0.2);
    assert_eq!(r["totals"]["spend_avoided"], 0.25);
    assert_eq!(r["groups"][0]["key"], "FR");
    assert_eq!(r["groups"][0]["series"].as_array().unwrap().len(), 60);
    assert_eq!(r["groups"][0]["series"][0]["starts"], 4);
    assert_eq!(r["latency"][0]["p50_seconds"], 2);
    assert_eq!(r["latency"][0]["p95_seconds"], 20);
    assert_eq!(r["spend"]["per_provider"]["tw"]["avoided"], 0.25);
}
