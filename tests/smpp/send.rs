//! Sends and receipts against the scripted SMSC: the `submit_sm` as the SMSC read it,
//! receipts in the text and TLV forms, mobile-originated messages and unknown ids, long
//! texts reassembled, UCS-2, throttling.

use super::smsc::Smsc;
use super::{gateway, metrics, pair, provider, series, start, wait_status};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_goes_out_as_one_submit_sm_and_a_text_receipt_delivers_it() {
    let (s, app) = pair(json!({"receipt": "text", "receipt_stat": "DELIVRD"})).await;
    let (id, to) = start(&app).await;
    let sub = s.wait_for("submit", |_| true, T).await;
    assert_eq!(sub["destination_addr"], to.trim_start_matches('+'));
    assert_eq!(
        (sub["dest_addr_ton"].as_u64(), sub["dest_addr_npi"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(sub["source_addr"], "Acme");
    assert_eq!(
        (
            sub["source_addr_ton"].as_u64(),
            sub["source_addr_npi"].as_u64()
        ),
        (Some(5), Some(0))
    );
    assert_eq!(sub["registered_delivery"].as_u64(), Some(1));
    assert_eq!(sub["data_coding"].as_u64(), Some(0));
    let code = app.code_for(&to).await;
    assert!(sub["text"].as_str().unwrap().contains(&code), "{sub}");
    let resp = s.wait_for("submit_resp", |_| true, T).await;
    let v = wait_status(&app, &id, "delivered").await;
    assert_eq!(v["delivery"]["provider"], "smsc");
    s.wait_for("deliver_sm_resp", |e| e["status"] == 0, T).await;
    assert_eq!(s.count("submit"), 1, "one part, one submit_sm");
    assert!(resp["message_id"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tlv_receipt_moves_the_status_by_receipted_message_id_and_message_state() {
    let (s, app) = pair(json!({"receipt": "tlv", "receipt_stat": "UNDELIV"})).await;
    let (id, _) = start(&app).await;
    s.wait_for("receipt_sent", |e| e["form"] == "tlv", T).await;
    wait_status(&app, &id, "undelivered").await;
    s.wait_for("deliver_sm_resp", |e| e["status"] == 0, T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_and_a_mobile_originated_message_are_acknowledged_and_counted() {
    let (mut s, app) = pair(json!({})).await;
    s.cmd(json!({"cmd": "receipt", "id": "no-such-id", "form": "text"}))
        .await;
    s.cmd(json!({"cmd": "mo"})).await;
    s.wait_count("deliver_sm_resp", 2, T).await;
    assert!(s.all("deliver_sm_resp").iter().all(|e| e["status"] == 0));
    let t = std::time::Instant::now();
    loop {
        let m = metrics(&app).await;
        let unknown = series(
            &m,
            "otpgw_delivery_receipts_total{provider=\"smsc\",status=\"unknown\"}",
        );
        let mo = series(
            &m,
            "otpgw_smpp_inbound_total{bind=\"0\",kind=\"mobile_originated\",provider=\"smsc\"}",
        );
        if unknown == 1.0 && mo == 1.0 {
            break;
        }
        assert!(t.elapsed() < T, "unknown {unknown}, mo {mo}:\n{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_text_goes_as_udh_parts_that_reassemble_on_the_smsc() {
    let s = Smsc::start(json!({})).await;
    let text = format!("{} {{code}}", "Your verification code follows. ".repeat(8));
    let app = super::support::spawn_app(super::support::Backend::Memory, |c| {
        c.providers.insert(
            "smsc".into(),
            otpgw::providers::ProviderConfig::Smpp(provider(s.port)),
        );
        c.routing.default = vec!["smsc".into()];
        for t in c.tenants.values_mut() {
            t.templates
                .insert("default".into(), [("en".to_string(), text.clone())].into());
        }
    })
    .await;
    let (id, to) = start(&app).await;
    let msg = s.wait_for("message", |_| true, T).await;
    let code = app.code_for(&to).await;
    assert_eq!(msg["how"], "udh");
    assert_eq!(msg["parts"].as_u64(), Some(2));
    assert_eq!(msg["text"], text.replace("{code}", &code));
    let subs = s.all("submit");
    assert_eq!(subs.len(), 2);
    assert!(subs
        .iter()
        .all(|e| e["esm_class"].as_u64().unwrap() & 0x40 != 0));
    wait_status(&app, &id, "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ucs2_texts_go_with_data_coding_8_and_sar_parts_reassemble() {
    let s = Smsc::start(json!({})).await;
    let text = format!("{} {{code}}", "Ваш код подтверждения: ".repeat(4));
    let mut p = provider(s.port);
    p.concatenation = otpgw::providers::smpp::config::Concatenation::Sar;
    let app = super::support::spawn_app(super::support::Backend::Memory, |c| {
        c.providers
            .insert("smsc".into(), otpgw::providers::ProviderConfig::Smpp(p));
        c.routing.default = vec!["smsc".into()];
        for t in c.tenants.values_mut() {
            t.templates
                .insert("default".into(), [("en".to_string(), text.clone())].into());
        }
    })
    .await;
    let (_, to) = start(&app).await;
    let msg = s.wait_for("message", |_| true, T).await;
    let code = app.code_for(&to).await;
    assert_eq!(msg["how"], "sar");
    assert_eq!(msg["text"], text.replace("{code}", &code));
    let subs = s.all("submit");
    assert!(subs.len() >= 2);
    assert!(subs.iter().all(|e| e["data_coding"].as_u64() == Some(8)));
    assert!(subs.iter().all(|e| e["sar"].is_array()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_payload_carries_a_long_text_in_one_submit_sm() {
    let s = Smsc::start(json!({})).await;
    let text = format!("{} {{code}}", "Your verification code follows. ".repeat(8));
    let mut p = provider(s.port);
    p.concatenation = otpgw::providers::smpp::config::Concatenation::Payload;
    let app = super::support::spawn_app(super::support::Backend::Memory, |c| {
        c.providers
            .insert("smsc".into(), otpgw::providers::ProviderConfig::Smpp(p));
        c.routing.default = vec!["smsc".into()];
        for t in c.tenants.values_mut() {
            t.templates
                .insert("default".into(), [("en".to_string(), text.clone())].into());
        }
    })
    .await;
    let (_, to) = start(&app).await;
    let msg = s.wait_for("message", |_| true, T).await;
    let code = app.code_for(&to).await;
    assert_eq!(msg["how"], "payload");
    assert_eq!(msg["text"], text.replace("{code}", &code));
    assert_eq!(s.count("submit"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_backs_off_on_the_bind_and_the_message_goes_once_accepted() {
    let (s, app) = pair(json!({"throttle_first": 2})).await;
    let (id, _) = start(&app).await;
    wait_status(&app, &id, "sent").await;
    let resps = s.all("submit_resp");
    assert_eq!(resps.len(), 3, "{resps:?}");
    assert_eq!(resps[0]["status"].as_u64(), Some(0x58));
    assert_eq!(resps[1]["status"].as_u64(), Some(0x58));
    assert_eq!(resps[2]["status"].as_u64(), Some(0));
    let m = metrics(&app).await;
    assert_eq!(
        series(
            &m,
            "otpgw_smpp_errors_total{bind=\"0\",provider=\"smsc\",status=\"ESME_RTHROTTLED\"}"
        ),
        2.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_destination_is_rejected_for_good_without_a_retry() {
    let (s, app) = pair(json!({"submit_status": 0x0B})).await;
    let (id, _) = start(&app).await;
    let v = wait_status(&app, &id, "failed").await;
    assert!(
        v["delivery"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("ESME_RINVDSTADR"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.count("submit"), 1, "a permanent status is never retried");
    let _ = gateway;
}
