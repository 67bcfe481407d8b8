//! Receipts matched beyond the first part's id as the SMSC wrote it: a receipt for a
//! later part of a long message moves the verification (never backwards), and
//! `receipt_id` matches receipts whose `id:` is in the other base than the
//! `submit_sm_resp` id (hexadecimal answers with decimal receipts and the reverse).

use super::smsc::Smsc;
use super::support::{spawn_app, Backend, TestApp};
use super::{gateway, metrics, provider, series, start, wait_status};
use otpgw::providers::smpp::config::ReceiptId;
use otpgw::providers::ProviderConfig;
use serde_json::json;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const UNKNOWN: &str = "otpgw_delivery_receipts_total{provider=\"smsc\",status=\"unknown\"}";

/// Waits until `otpgw_delivery_receipts_total` has counted `n` receipts in all.
async fn receipts_counted(app: &TestApp, n: f64) -> String {
    let t = Instant::now();
    loop {
        let m = metrics(app).await;
        let total: f64 = m
            .lines()
            .filter(|l| l.starts_with("otpgw_delivery_receipts_total{provider=\"smsc\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if total >= n {
            return m;
        }
        assert!(t.elapsed() < T, "{total} receipts counted, not {n}:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_for_a_later_part_moves_the_verification_and_never_backwards() {
    let mut s = Smsc::start(json!({})).await;
    let text = format!("{} {{code}}", "Your verification code follows. ".repeat(8));
    let p = provider(s.port);
    let app = spawn_app(Backend::Memory, move |c| {
        c.providers.insert("smsc".into(), ProviderConfig::Smpp(p));
        c.routing.default = vec!["smsc".into()];
        for t in c.tenants.values_mut() {
            t.templates
                .insert("default".into(), [("en".to_string(), text.clone())].into());
        }
    })
    .await;
    let (id, _) = start(&app).await;
    s.wait_for("message", |m| m["parts"] == 2, T).await;
    wait_status(&app, &id, "sent").await;
    let resps = s.all("submit_resp");
    assert_eq!(resps.len(), 2, "{resps:?}");
    let second = resps[1]["message_id"].as_str().unwrap().to_string();
    let first = resps[0]["message_id"].as_str().unwrap().to_string();
    s.cmd(json!({"cmd": "receipt", "id": second, "form": "text", "stat": "DELIVRD"}))
        .await;
    wait_status(&app, &id, "delivered").await;
    // The first part's receipt comes late and says less: the record stays delivered.
    s.cmd(json!({"cmd": "receipt", "id": first, "form": "tlv", "stat": "ENROUTE"}))
        .await;
    let m = receipts_counted(&app, 2.0).await;
    assert_eq!(series(&m, UNKNOWN), 0.0, "{m}");
    assert_eq!(app.fetch(&id).await.body["delivery"]["status"], "delivered");
    s.wait_count("deliver_sm_resp", 2, T).await;
}

/// An SMSC with `settings` sending a text receipt for each accepted submit, and a
/// gateway matching its ids with `mode`; one start, its `delivery.status` afterwards.
async fn receipt_with(settings: serde_json::Value, mode: ReceiptId, want: &str) -> (Smsc, TestApp) {
    let s = Smsc::start(settings).await;
    let mut p = provider(s.port);
    p.receipt_id = mode;
    let app = gateway(p).await;
    s.wait_for("bound", |_| true, T).await;
    let (id, _) = start(&app).await;
    let sent = s.wait_for("receipt_sent", |_| true, T).await;
    assert_ne!(sent["id"], sent["text_id"], "the two forms differ: {sent}");
    let m = receipts_counted(&app, 1.0).await;
    let unknown = series(&m, UNKNOWN);
    if want == "delivered" {
        wait_status(&app, &id, "delivered").await;
        assert_eq!(unknown, 0.0, "{m}");
    } else {
        assert_eq!(unknown, 1.0, "{m}");
        assert_eq!(app.fetch(&id).await.body["delivery"]["status"], want);
    }
    (s, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_ids_do_not_match_a_decimal_receipt_for_a_hexadecimal_answer() {
    let settings = json!({"receipt": "text", "id_prefix": "", "id_start": 0xABCDE,
        "receipt_id_form": "dec"});
    receipt_with(settings, ReceiptId::Exact, "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_to_dec_matches_decimal_receipts_to_hexadecimal_answers_and_tlvs() {
    let settings = json!({"receipt": "text", "id_prefix": "", "id_start": 0xABCDE,
        "receipt_id_form": "dec"});
    let (mut s, app) = receipt_with(settings, ReceiptId::HexToDec, "delivered").await;
    let sent = s.all("receipt_sent")[0].clone();
    assert_eq!(sent["id"], "000abcde");
    assert_eq!(sent["text_id"], "0000703710");
    // The receipted_message_id TLV carries the id as submit_sm_resp gave it.
    s.cmd(json!({"cmd": "receipt", "id": "000abcde", "form": "tlv", "stat": "DELIVRD"}))
        .await;
    s.wait_count("deliver_sm_resp", 2, T).await;
    let m = receipts_counted(&app, 2.0).await;
    assert_eq!(series(&m, UNKNOWN), 0.0, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dec_to_hex_matches_hexadecimal_receipts_to_decimal_answers() {
    let settings = json!({"receipt": "text", "id_prefix": "", "id_form": "dec",
        "id_start": 3_735_928_559_u64, "receipt_id_form": "hex"});
    let (s, _app) = receipt_with(settings, ReceiptId::DecToHex, "delivered").await;
    let sent = s.all("receipt_sent")[0].clone();
    assert_eq!(
        (sent["id"].as_str(), sent["text_id"].as_str()),
        (Some("3735928559"), Some("DEADBEEF"))
    );
}
