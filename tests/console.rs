//! The ops console (`/ops`) in a real browser after a scripted scenario
//! (`console/scenario.rs`: two gateways on one Redis, two providers of which one fails,
//! three countries, a rejected send, receipts, a pumping block): the numbers the page
//! shows with scripts off match the scenario; with scripts on, each section is
//! screenshot into `docs/console/`, a lookup and a lift are submitted by their forms, and
//! the refresh shows a new start without losing a half-typed form. The forms' rules,
//! access and a store that goes away are in `console/forms.rs`, the lookup form in
//! `console/lookup.rs`.

mod support;

#[path = "console/browser.rs"]
mod browser;
#[path = "console/forms.rs"]
mod forms;
#[path = "console/lookup.rs"]
mod lookup;
#[path = "console/scenario.rs"]
mod scenario;

use browser::{cell, png_size, table, text_of, without_scripts};
use scenario::{Expected, ADMIN_KEY};
use serde_json::json;
use std::path::Path;

/// Every section of the page, in order.
const SECTIONS: [&str; 7] = [
    "charts",
    "tables",
    "spend",
    "fraud",
    "lookup",
    "providers-section",
    "queue-section",
];

fn money(milli: i64) -> String {
    format!("{:.3}", milli as f64 / 1000.0)
}

/// The page with scripts off holds every number of the scenario.
fn check_numbers(dom: &str, e: &Expected) {
    assert_eq!(text_of(dom, "total-starts"), e.starts.to_string());
    assert_eq!(text_of(dom, "total-approvals"), "3");
    let countries = table(dom, "countries");
    for (key, starts, approvals) in [("US", e.us, 2), ("GB", e.gb, 1), ("FR", e.fr, 0)] {
        assert_eq!(cell(countries, key, "starts"), starts.to_string(), "{key}");
        assert_eq!(
            cell(countries, key, "approvals"),
            approvals.to_string(),
            "{key}"
        );
    }
    assert_eq!(cell(countries, "GB", "conversion"), "50.0 %");
    assert_eq!(cell(countries, "FR", "conversion"), "0.0 %");
    let providers = table(dom, "providers-fleet");
    assert_eq!(cell(providers, "tw_ok", "accepted"), e.accepted.to_string());
    assert_eq!(cell(providers, "tw_ok", "failed"), e.failed.to_string());
    assert_eq!(
        cell(providers, "tw_ok", "delivered"),
        e.delivered.to_string()
    );
    assert_eq!(cell(providers, "tw_ok", "p50_seconds"), "2 s");
    let channels = table(dom, "channels");
    assert_eq!(cell(channels, "sms", "starts"), e.starts.to_string());
    assert_eq!(cell(channels, "sms", "approvals"), "3");
    assert_eq!(text_of(dom, "spend-total"), money(e.spend_milli));
    assert_eq!(text_of(dom, "spend-avoided"), money(e.avoided_milli));
    assert_eq!(
        cell(table(dom, "spend-country"), "GB", "spend"),
        money(2 * 50)
    );
    let blocks = table(dom, "blocks");
    assert!(
        blocks.contains("<td>shop</td>") && blocks.contains("<td>prefix</td>"),
        "{blocks}"
    );
    assert!(blocks.contains(">lift</button>"), "{blocks}");
    let p = table(dom, "providers");
    assert!(
        p.contains("<td>tw_bad</td>") && p.contains("<td>tw_ok</td>"),
        "{p}"
    );
    for id in [
        "chart-starts",
        "chart-conversion",
        "chart-delivery",
        "chart-latency",
        "chart-refusals",
        "chart-spend",
    ] {
        let at = dom
            .find(&format!("<svg id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id}"));
        assert!(
            dom[at..at + 200].contains("role=\"img\" aria-label=\""),
            "{id}"
        );
    }
    assert!(
        dom.contains("<title>refused prefix_blocked: 2</title>")
            || dom.contains("prefix_blocked refused: 2"),
        "the refusals chart"
    );
    assert!(
        !dom.contains(&e.looked_up) && !dom.contains("+447400123456"),
        "no full number on the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_scenario_and_its_sections_in_a_browser() {
    let bad = scenario::twilio(true).await;
    let ok = scenario::twilio(false).await;
    let (cfg, prefix) = scenario::config(&bad.url, &ok.url, None);
    let (a, b) = scenario::two_gateways(cfg, prefix).await;
    let e = scenario::run(&a, &b, &ok).await;
    scenario::wait_for_numbers(&b, &e).await;

    // How long a page takes to render (one read of the fleet numbers, the blocks, the
    // queue) on this Redis; printed for docs/console.md.
    let t = std::time::Instant::now();
    for _ in 0..10 {
        assert_eq!(a.get("/ops?window=48h").await.status, 200);
    }
    eprintln!("GET /ops?window=48h: {:?} per page", t.elapsed() / 10);
    let t = std::time::Instant::now();
    for _ in 0..10 {
        assert_eq!(a.get("/ops").await.status, 200);
    }
    eprintln!("GET /ops: {:?} per page", t.elapsed() / 10);

    // Scripts off: every number is in the page as served.
    let url = a.url("/ops");
    let dom = tokio::task::spawn_blocking(move || without_scripts(&url))
        .await
        .unwrap();
    assert!(dom.contains("<title>otpgw ops</title>"), "{dom}");
    check_numbers(&dom, &e);
    // The failing provider shows by its failed attempts (each send counts once, where it
    // ended: at tw_ok).
    let failed_calls = bad.seen.lock().unwrap().failed;
    assert!(failed_calls > 0, "the failing stand-in was never called");
    assert_eq!(
        cell(table(&dom, "providers-fleet"), "tw_bad", "failed_over"),
        failed_calls.to_string()
    );
    // Sorted by a header link, without scripts: fewest starts first.
    let url = a.url("/ops?sort=starts&dir=asc");
    let dom = tokio::task::spawn_blocking(move || without_scripts(&url))
        .await
        .unwrap();
    let countries = table(&dom, "countries");
    let pos = |k: &str| countries.find(&format!("data-key=\"{k}\"")).unwrap();
    assert!(
        pos("FR") < pos("GB") && pos("GB") < pos("US"),
        "{countries}"
    );
    assert!(
        countries.contains("href=\"/ops?sort=starts&amp;dir=desc#countries\""),
        "{countries}"
    );
    // The last 48 h by the window link: the same totals, a point per hour.
    let url = a.url("/ops?window=48h");
    let dom = tokio::task::spawn_blocking(move || without_scripts(&url))
        .await
        .unwrap();
    assert_eq!(text_of(&dom, "total-starts"), e.starts.to_string());
    assert!(dom.contains("per hour, last 48 h"));

    // Scripts on, driven: screenshots, the lookup and lift forms, the refresh.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    std::fs::create_dir_all(&shots).unwrap();
    let args = json!({
        "url": a.url("/ops"),
        "shots": shots,
        "sections": SECTIONS,
        "lookup": {"tenant": "demo", "to": e.looked_up},
        "lift": true,
        "start": {"api": a.url(""), "key": a.key, "to": support::app::number()},
    });
    let seen = tokio::task::spawn_blocking(move || browser::drive(&args))
        .await
        .unwrap();
    for id in SECTIONS {
        let png = std::fs::read(shots.join(format!("{id}.png"))).unwrap();
        let (w, h) = png_size(&png);
        assert!((600..=1400).contains(&w) && h >= 40, "{id}.png is {w}x{h}");
    }
    assert_eq!(seen["lookupCount"], "1", "{seen}");
    assert!(
        seen["lookupUrl"].as_str().unwrap().ends_with("/ops#lookup"),
        "{seen}"
    );
    assert!(
        seen["lift"]
            .as_str()
            .unwrap()
            .starts_with("Lifted the prefix block"),
        "{seen}"
    );
    let req = a
        .http
        .get(a.url("/v1/admin/blocks?tenant=shop"))
        .bearer_auth(ADMIN_KEY);
    assert_eq!(
        a.send(req).await.body["blocks"],
        json!([]),
        "the lift button lifted the block"
    );
    assert_eq!(seen["startStatus"], 201);
    assert_eq!(seen["before"], e.starts.to_string());
    assert_eq!(seen["after"], (e.starts + 1).to_string(), "{seen}");
    assert_eq!(
        seen["typed"], "+1415",
        "the refresh kept the half-typed lookup"
    );
    a.stop().await;
    b.stop().await;
}
