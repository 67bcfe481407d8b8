//! Twilio WhatsApp: the Messages resource with `whatsapp:` addresses, a Content Template
//! and the code as its variable (no `Body`), Prism on Twilio's OpenAPI document, the
//! channel listed (and routable in the gateway) only when configured, and status
//! callbacks with `whatsapp:` addresses.

use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{message, Canned, MockProvider};
use crate::support::app::{base_config, number};
use crate::support::{spawn_app, Backend};
use crate::twilio::{config, provider, twilio_sign, ACCOUNT, CALLBACK, CREATED, SID, TO, TOKEN};
use otpgw::config::RouteTable;
use otpgw::domain::{Channel, DeliveryStatus};
use otpgw::providers::twilio::whatsapp::WhatsappConfig;
use otpgw::providers::twilio::Config;
use otpgw::providers::{OutboundMessage, ProviderConfig, Receipt, SmsProvider};

const WA_FROM: &str = "+15005550009";
const CONTENT_SID: &str = "HXb5b62575e6e4ff6129ad7c8efe1f983e";
const CODE: &str = "092817";

fn wa_config(base_url: &str) -> Config {
    Config {
        whatsapp: Some(WhatsappConfig {
            from: WA_FROM.into(),
            content_sid: CONTENT_SID.into(),
            code_variable: "1".into(),
        }),
        ..config(base_url)
    }
}

fn whatsapp() -> OutboundMessage {
    let mut m = message(TO, "Your Acme code is 092817.");
    m.channel = Channel::Whatsapp;
    m.code = CODE.into();
    m
}

#[tokio::test]
async fn twilio_whatsapp_sends_the_content_template_with_whatsapp_addresses() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let p = provider(&wa_config(&server.base_url()));
    assert_eq!(p.send(&whatsapp()).await.expect("sent"), SID);

    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(
        basic_credentials(&r),
        (ACCOUNT.to_string(), TOKEN.to_string())
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let mut fields = r.form();
    fields.sort();
    let to = format!("whatsapp:{TO}");
    let from = format!("whatsapp:{WA_FROM}");
    assert_eq!(
        fields,
        pairs(&[
            ("ContentSid", CONTENT_SID),
            ("ContentVariables", r#"{"1":"092817"}"#),
            ("From", &from),
            ("StatusCallback", CALLBACK),
            ("To", &to),
        ]),
        "exactly these fields, no Body"
    );
    // The '+' and ':' percent-encoded on the wire.
    assert!(
        r.text().contains("To=whatsapp%3A%2B14155550123"),
        "{}",
        r.text()
    );

    // An SMS through the same instance is unchanged.
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let p = provider(&wa_config(&server.base_url()));
    p.send(&message(TO, "Code 1234")).await.expect("sent");
    let sms = server.single();
    assert_eq!(sms.field("To").as_deref(), Some(TO));
    assert_eq!(sms.field("Body").as_deref(), Some("Code 1234"));
    assert_eq!(sms.field("ContentSid"), None);
}

#[tokio::test]
async fn twilio_whatsapp_puts_the_code_under_the_configured_variable() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let mut cfg = wa_config(&server.base_url());
    cfg.whatsapp.as_mut().unwrap().code_variable = "otp".into();
    cfg.whatsapp.as_mut().unwrap().from = format!("whatsapp:{WA_FROM}");
    provider(&cfg).send(&whatsapp()).await.expect("sent");
    let r = server.single();
    let vars: serde_json::Value =
        serde_json::from_str(&r.field("ContentVariables").unwrap()).unwrap();
    assert_eq!(vars, serde_json::json!({"otp": CODE}));
    assert_eq!(r.field("From"), Some(format!("whatsapp:{WA_FROM}")));
}

#[test]
fn twilio_lists_whatsapp_only_when_configured() {
    let sms_only = provider(&config("http://127.0.0.1:1"));
    assert_eq!(sms_only.channels(), [Channel::Sms]);
    let both = provider(&wa_config("http://127.0.0.1:1"));
    assert_eq!(both.channels(), [Channel::Sms, Channel::Whatsapp]);
    let mut bad = wa_config("http://127.0.0.1:1");
    bad.whatsapp.as_mut().unwrap().content_sid = "HX123".into();
    assert_eq!(bad.problems().len(), 1, "{:?}", bad.problems());
}

#[tokio::test]
async fn twilio_whatsapp_requests_conform_to_twilios_openapi_document() {
    let prism = PrismProxy::start(Spec::Twilio).await;
    let p = provider(&wa_config(&prism.base_url()));
    assert_eq!(p.send(&whatsapp()).await.expect("Prism accepts it"), SID);
    prism.assert_all_accepted();
    assert_eq!(prism.exchanges().len(), 1);
}

#[test]
fn twilio_whatsapp_status_callbacks_become_receipts() {
    let p = provider(&wa_config("http://127.0.0.1:1"));
    let url = "https://gw.example.com/v1/receipts/tw";
    let callback = |status: &str, error: Option<&str>| {
        let mut params = pairs(&[
            ("AccountSid", ACCOUNT),
            ("ApiVersion", "2010-04-01"),
            ("ChannelPrefix", "whatsapp"),
            ("From", &format!("whatsapp:{WA_FROM}")),
            ("MessageSid", SID),
            ("MessageStatus", status),
            ("To", &format!("whatsapp:{TO}")),
        ]);
        if let Some(e) = error {
            params.push(("ErrorCode".into(), e.into()));
        }
        Callback::post_form(url, &params)
            .header("x-twilio-signature", &twilio_sign(TOKEN, url, &params))
    };
    let receipt = |status, detail: Option<&str>| {
        Ok(vec![Receipt {
            message_id: SID.into(),
            status,
            detail: detail.map(str::to_string),
        }])
    };
    assert_eq!(
        callback("read", None).parse(&p),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        callback("delivered", None).parse(&p),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        callback("failed", Some("63016")).parse(&p),
        receipt(DeliveryStatus::Failed, Some("63016"))
    );
}

/// The gateway with `tw` routed for WhatsApp, as `tweak` leaves its settings.
fn routed(c: &mut otpgw::Config, tw: Config) {
    c.providers.insert("tw".into(), ProviderConfig::Twilio(tw));
    let table = RouteTable {
        default: vec!["tw".into()],
        ..RouteTable::default()
    };
    c.routing.channels.insert("whatsapp".into(), table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_whatsapp_goes_through_the_gateway_only_when_configured() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    // Without the [whatsapp] table the instance does not send WhatsApp: no start-up.
    let (mut cfg, _) = base_config(Backend::Memory);
    routed(&mut cfg, config(&server.base_url()));
    let Err(e) = otpgw::Application::build(cfg).await else {
        panic!("a gateway routing whatsapp through an SMS-only twilio started");
    };
    assert!(
        format!("{e:#}").contains("does not send on that channel"),
        "{e:#}"
    );

    // With it, a WhatsApp verification reaches Twilio as the template with its code.
    let base = server.base_url();
    let app = spawn_app(Backend::Memory, |c| routed(c, wa_config(&base))).await;
    let to = number();
    let r = app
        .post(
            "/v1/verifications",
            serde_json::json!({"to": to, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = app.code_for(&to).await;
    let t = std::time::Instant::now();
    while server.requests().is_empty() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "never sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sent = server.single();
    assert_eq!(sent.field("To"), Some(format!("whatsapp:{to}")));
    assert_eq!(
        sent.field("ContentVariables"),
        Some(format!(r#"{{"1":"{code}"}}"#))
    );
    assert_eq!(sent.field("Body"), None);
}
