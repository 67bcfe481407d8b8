use super::*;

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let i = Duration::from_millis(100);
    let m = Duration::from_millis(1000);
    for _ in 0..50 {
        let b1 = backoff(i, m, 1);
        assert!(b1 >= Duration::from_millis(50) && b1 <= i);
        let b3 = backoff(i, m, 3);
        assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
        assert!(backoff(i, m, 30) <= m);
    }
}

fn router(toml: &str) -> Router {
    let cfg = Config::from_toml(toml).unwrap();
    Router::from_config(&cfg, crate::metrics::Metrics::new()).unwrap()
}

const PROVIDERS: &str = r#"
    [providers.a]
    kind = "console"
    [providers.b]
    kind = "console"
    [providers.c]
    kind = "console"
"#;

fn names(p: Vec<Arc<Slot>>) -> Vec<String> {
    p.into_iter().map(|s| s.name.clone()).collect()
}

#[test]
fn routes_by_country_then_prefix_then_default() {
    let r = router(&format!(
        r#"{PROVIDERS}
        [routing]
        default = ["c"]
        [[routing.routes]]
        destinations = ["GB"]
        providers = ["b", "a"]
        [[routing.routes]]
        destinations = ["+1"]
        providers = ["a", "b"]
        "#
    ));
    assert_eq!(
        names(r.plan(Channel::Sms, &Destination::parse("+447400123456").unwrap())),
        ["b", "a"],
        "by ISO country"
    );
    assert_eq!(
        names(r.plan(Channel::Sms, &Destination::parse("+14155550123").unwrap())),
        ["a", "b"],
        "by prefix"
    );
    assert_eq!(
        names(r.plan(Channel::Sms, &Destination::parse("+4915123456789").unwrap())),
        ["c"],
        "default"
    );
}

#[test]
fn weights_split_the_first_choice() {
    let r = router(&format!(
        r#"{PROVIDERS}
        [routing]
        default = ["a", "b"]
        default_weights = [3, 1]
        "#
    ));
    let mut first_a = 0;
    for _ in 0..4000 {
        let p = names(r.plan(Channel::Sms, &Destination::parse("+14155550123").unwrap()));
        assert_eq!(p.len(), 2, "the other provider stays as failover");
        if p[0] == "a" {
            first_a += 1;
        }
    }
    assert!(
        (2700..3300).contains(&first_a),
        "{first_a} of 4000 went to a first (expect ~3000)"
    );
}
