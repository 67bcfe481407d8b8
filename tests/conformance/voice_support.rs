#![allow(dead_code)]
//! What the voice suites share: a voice message, the markup the adapters send (TwiML,
//! SSML) parsed into a small tree with quick-xml (a document that is not well-formed
//! fails the test), and a running gateway whose `voice` channel goes to one provider.

use crate::support::{spawn_app, Backend, TestApp};
use otpgw::config::{Config, RouteTable};
use otpgw::domain::Channel;
use otpgw::providers::{OutboundMessage, ProviderConfig};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde_json::json;
use std::time::{Duration, Instant};

/// What a call says for code 123456 (the template's text, digits spaced).
pub const SPOKEN: &str = "Your Acme verification code is: 1, 2, 3, 4, 5, 6.";

/// A voice message as the delivery worker hands it over.
pub fn voice_message(to: &str, body: &str, locale: &str) -> OutboundMessage {
    let mut m = crate::server::message(to, body);
    m.channel = Channel::Voice;
    m.locale = locale.into();
    m
}

/// An element of a parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// An attribute's (unescaped) value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The child elements.
    pub fn elements(&self) -> Vec<&Element> {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
            .collect()
    }

    /// All the text inside, unescaped.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .map(|n| match n {
                Node::Element(e) => e.text(),
                Node::Text(t) => t.clone(),
            })
            .collect()
    }
}

fn element(e: &BytesStart<'_>) -> Element {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .expect("a well-formed attribute value");
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                value.into_owned(),
            )
        })
        .collect();
    Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs,
        children: Vec::new(),
    }
}

fn push_text(parent: &mut Element, text: &str) {
    match parent.children.last_mut() {
        Some(Node::Text(t)) => t.push_str(text),
        _ => parent.children.push(Node::Text(text.to_string())),
    }
}

/// The root element of `xml`; panics unless it is one well-formed element using only
/// XML's predefined entities.
pub fn parse_xml(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Element {
        name: "#document".into(),
        attrs: Vec::new(),
        children: Vec::new(),
    }];
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("{e}: {xml}")) {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let el = element(&e);
                stack.last_mut().unwrap().children.push(Node::Element(el));
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(Node::Element(el));
            }
            Event::Text(t) => push_text(stack.last_mut().unwrap(), &t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => match &*r.decode().unwrap() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => panic!("entity &{other}; is not XML's: {xml}"),
                    },
                };
                push_text(stack.last_mut().unwrap(), &c);
            }
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {xml}"),
        }
    }
    let doc = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements: {xml}");
    let roots = doc.elements();
    assert_eq!(roots.len(), 1, "one root element: {xml}");
    assert!(
        doc.children.iter().all(|n| matches!(n, Node::Element(_))),
        "nothing outside the root: {xml}"
    );
    roots[0].clone()
}

/// A gateway (memory store) whose `voice` channel goes to provider `name` built from
/// `provider`, with `https://otp.example.com` as its public base URL.
pub async fn voice_gateway(
    name: &str,
    provider: ProviderConfig,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let name = name.to_string();
    spawn_app(Backend::Memory, move |c| {
        c.providers.insert(name.clone(), provider);
        c.routing.channels.insert(
            "voice".into(),
            RouteTable {
                default: vec![name],
                ..RouteTable::default()
            },
        );
        c.receipts.public_base_url = Some("https://otp.example.com".into());
        tweak(c);
    })
    .await
}

/// The delivery status of verification `id`.
pub async fn delivery_status(app: &TestApp, id: &str) -> String {
    app.fetch(id).await.body["delivery"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until verification `id`'s delivery status is `want`.
pub async fn wait_status(app: &TestApp, id: &str, want: &str) {
    let t = Instant::now();
    loop {
        let now = delivery_status(app, id).await;
        if now == want {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{id} stayed {now}, never {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a voice verification to `to` and waits until the provider took the call.
pub async fn start_call(app: &TestApp, to: &str) -> String {
    let r = app
        .post("/v1/verifications", json!({"to": to, "channel": "voice"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    wait_status(app, &id, "sent").await;
    id
}

/// POSTs a receipt callback to `/v1/receipts/<provider>`; its status and body.
pub async fn post_receipt(
    app: &TestApp,
    provider: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = app
        .http
        .post(app.url(&format!("/v1/receipts/{provider}")))
        .header("content-type", content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}
