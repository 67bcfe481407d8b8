use super::*;
use std::time::Duration;

fn phone() -> Destination {
    Destination::Phone(crate::domain::PhoneNumber::parse("+447911123456").unwrap())
}

#[test]
fn type_names_are_the_configured_ones() {
    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, crate::config::EVENT_TYPES);
    for t in EventType::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
}

#[test]
fn the_body_has_type_timestamp_and_data_and_never_the_number() {
    let data = EventData::new("vrf_0001aaaa", "demo", Channel::Sms, "pending", 2, &phone())
        .with_delivery("tw", Some("SM1"), "failed")
        .with_reason("invalid number +447911123456");
    let ev = Event::new(EventType::DeliveryFailed, 1_765_000_000, data);
    assert!(ev.id.starts_with("evt_") && ev.id.len() == 28, "{}", ev.id);
    let body = String::from_utf8(ev.body()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "delivery.failed");
    assert_eq!(v["timestamp"], "2025-12-06T05:46:40Z");
    assert_eq!(v["data"]["id"], "vrf_0001aaaa");
    assert_eq!(v["data"]["tenant"], "demo");
    assert_eq!(v["data"]["channel"], "sms");
    assert_eq!(v["data"]["seq"], 2);
    assert_eq!(v["data"]["delivery"]["provider"], "tw");
    assert_eq!(v["data"]["delivery"]["status"], "failed");
    assert_eq!(v["data"]["to_masked"], phone().masked());
    assert!(
        !body.contains("7911123456") && !body.contains("123456"),
        "{body}"
    );
    let back: Event = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
    assert_eq!(back, ev);
}

#[test]
fn backoff_doubles_up_to_an_hour_with_bounded_jitter() {
    let base = Duration::from_secs(5);
    for (n, full) in [(1, 5), (2, 10), (3, 20), (10, 2560), (11, 3600), (40, 3600)] {
        let d = send::backoff(n, base);
        let full = Duration::from_secs(full);
        assert!(d <= full && d >= full.mul_f64(0.8), "attempt {n}: {d:?}");
    }
}

#[test]
fn an_event_is_dead_once_its_window_has_passed() {
    let cfg = crate::config::EventsConfig {
        retry_hours: 1,
        ..Default::default()
    };
    assert!(!send::expired(&cfg, 1000, 1000 + 3599));
    assert!(send::expired(&cfg, 1000, 1000 + 3600));
}
