//! Tests of the fleet numbers' buffer (`stats.rs`).

use super::*;

const D: Dims<'static> = Dims {
    tenant: "t",
    channel: "sms",
    country: "FR",
    provider: "tw",
};

#[test]
fn counts_add_up_per_minute_and_field() {
    let r = Recorder::default();
    r.add(60_000, &D, "starts", 1);
    r.add(119_999, &D, "starts", 2);
    r.add(120_000, &D, "starts", 1);
    let mut b = r.take();
    b.sort_by_key(|b| b.minute);
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].minute, b[0].n, b[0].field.as_str()),
        (1, 3, "sms|FR|tw|starts")
    );
    assert!(r.take().is_empty());
}

#[test]
fn prices_fall_back_to_default_and_spend_is_in_millionths() {
    let r = Recorder::default();
    let mut t = BTreeMap::new();
    t.insert("default".to_string(), 0.05);
    t.insert("FR".to_string(), 0.0725);
    r.set_prices([("tw".to_string(), t)].into());
    assert_eq!(r.price_micro("tw", "FR"), Some(72_500));
    assert_eq!(r.price_micro("tw", "DE"), Some(50_000));
    assert_eq!(r.price_micro("other", "FR"), None);
}

#[test]
fn a_reported_unit_is_taken_only_in_the_configured_currency() {
    let r = Recorder::default();
    assert!(r.takes_unit(Some("EUR")), "no currency set: anything goes");
    r.set_currency(Some("USD".into()));
    assert!(r.takes_unit(Some("USD")));
    assert!(r.takes_unit(Some("usd")));
    assert!(r.takes_unit(None), "a price with no unit (Vonage) is taken");
    assert!(!r.takes_unit(Some("EUR")));
    assert!(!r.takes_unit(Some("")));
}

#[test]
fn a_guard_refusal_adds_avoided_spend_and_others_do_not() {
    let r = Recorder::default();
    r.set_prices([("tw".to_string(), [("FR".to_string(), 0.1)].into())].into());
    r.refused(0, &D, "prefix_blocked", true);
    r.refused(0, &D, "number", false);
    let mut b: Vec<_> = r.take().into_iter().map(|b| (b.field, b.n)).collect();
    b.sort();
    assert_eq!(
        b,
        [
            ("sms|FR|tw|avoided".to_string(), 100_000),
            ("sms|FR|tw|refused:number".to_string(), 1),
            ("sms|FR|tw|refused:prefix_blocked".to_string(), 1),
        ]
    );
}

#[test]
fn a_reported_price_replaces_the_estimate_in_the_send_minute() {
    let r = Recorder::with_spend(crate::metrics::spend::Spend::new(&Default::default()));
    r.set_prices([("tw".to_string(), [("FR".to_string(), 0.1)].into())].into());
    r.accepted(60_000, &D);
    r.reported(60_000, &D, 7_500);
    let spend: i64 = r
        .take()
        .iter()
        .filter(|b| b.field.ends_with("|spend"))
        .map(|b| b.n)
        .sum();
    assert_eq!(spend, 7_500);
    let s = r.spend().unwrap();
    let part = |p: &str| s.total.with_label_values(&["tw", "sms", p]).get();
    assert_eq!(
        (part("estimate"), part("reported"), part("replaced")),
        (0.1, 0.0075, 0.1)
    );
}

#[test]
fn a_failed_flush_puts_its_counts_back() {
    let r = Recorder::default();
    r.add(0, &D, "starts", 2);
    let taken = r.take();
    r.add(0, &D, "starts", 1);
    r.restore(taken);
    assert_eq!(r.take()[0].n, 3);
}

#[test]
fn latency_buckets_cover_every_duration() {
    assert_eq!(latency_bucket(0), 0);
    assert_eq!(latency_bucket(2), 0);
    assert_eq!(latency_bucket(3), 1);
    assert_eq!(latency_bucket(300), 6);
    assert_eq!(latency_bucket(10_000), 7);
    assert_eq!(
        parse_field("sms|FR|-|refused:geo"),
        Some(("sms", "FR", "-", "refused:geo"))
    );
}
