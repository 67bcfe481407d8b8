//! The SMPP version of each bind with `interface_version = "auto"`: the bind announces
//! 5.0 (`0x50`) and the session speaks what the SMSC's bind response names in
//! `sc_interface_version`, 3.4 when the response carries no such TLV; the version agreed
//! shows per bind in the metrics and on the ops page.

use super::smsc::Smsc;
use super::{gateway, metrics, provider, series, start, wait_status};
use otpgw::providers::smpp::config::InterfaceVersion;
use serde_json::json;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// Binds with `auto` to an SMSC answering `answer` (none: no TLV); asserts the bind
/// announced 5.0 and that the metrics and ops page show `want`, then sends through it.
async fn negotiates(answer: Option<u8>, want: &str) {
    let settings = match answer {
        Some(v) => json!({ "sc_interface_version": v }),
        None => json!({}),
    };
    let s = Smsc::start(settings).await;
    let mut p = provider(s.port);
    p.interface_version = InterfaceVersion::Auto;
    let app = gateway(p).await;
    let bind = s.wait_for("bind", |_| true, T).await;
    assert_eq!(bind["interface_version"].as_u64(), Some(0x50), "{bind}");
    let bound = s.wait_for("bound", |_| true, T).await;
    assert_eq!(
        bound["sc_interface_version"].as_u64(),
        answer.map(u64::from),
        "{bound}"
    );
    let t = Instant::now();
    loop {
        let m = metrics(&app).await;
        let line =
            format!("otpgw_smpp_bind_version{{bind=\"0\",provider=\"smsc\",version=\"{want}\"}}");
        if series(&m, &line) == 1.0 {
            let others = ["3.3", "3.4", "5.0"].iter().filter(|v| **v != want);
            for v in others {
                let line = format!(
                    "otpgw_smpp_bind_version{{bind=\"0\",provider=\"smsc\",version=\"{v}\"}}"
                );
                assert_eq!(series(&m, &line), 0.0, "{m}");
            }
            break;
        }
        assert!(t.elapsed() < T, "no version {want} in:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = app.get("/ops").await.text;
    assert!(
        page.contains(&format!("<td class=\"closed\">bound</td><td>{want}</td>")),
        "{page}"
    );
    let (id, _) = start(&app).await;
    wait_status(&app, &id, "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_speaks_5_0_with_an_smsc_that_answers_5_0() {
    negotiates(Some(0x50), "5.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_speaks_3_4_with_an_smsc_that_answers_3_4() {
    negotiates(Some(0x34), "3.4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_speaks_3_4_with_an_smsc_that_names_no_version() {
    negotiates(None, "3.4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3_4_bind_stays_3_4_even_when_the_smsc_answers_5_0() {
    let s = Smsc::start(json!({ "sc_interface_version": 0x50 })).await;
    let app = gateway(provider(s.port)).await;
    let bind = s.wait_for("bind", |_| true, T).await;
    assert_eq!(bind["interface_version"].as_u64(), Some(0x34), "{bind}");
    s.wait_for("bound", |_| true, T).await;
    let t = Instant::now();
    while series(
        &metrics(&app).await,
        "otpgw_smpp_bind_version{bind=\"0\",provider=\"smsc\",version=\"3.4\"}",
    ) != 1.0
    {
        assert!(t.elapsed() < T, "no 3.4 bind version");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
