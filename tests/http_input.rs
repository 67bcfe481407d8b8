//! Input hardening of the HTTP API, on the memory store, through real HTTP.
//!
//! Malformed, mistyped and hostile bodies, headers and paths get the contract's problem
//! documents (RFC 9457) with the right status and `code`; none of them sends a message
//! or creates a verification, none answers 5xx, none hangs.

mod support;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use std::time::Duration;
use support::app::{number, wrong, Resp};
use support::{spawn_app, Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START: &str = "/v1/verifications";
const CHECK: &str = "/v1/verifications/check";
/// `server.body_limit_bytes` of the embedded default.
const LIMIT: usize = 8192;

async fn app() -> TestApp {
    spawn_app(Backend::Memory, |_| {}).await
}

// ---------------------------------------------------------------------------------------
// Helpers

/// `r` is a problem document with this status and `code`.
#[track_caller]
fn problem(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "want {status} {code}, got: {}", r.text);
    assert_eq!(r.code(), code, "want {status} {code}, got: {}", r.text);
    problem_shape(r);
}

/// `r` is an error answered as the contract says: `application/problem+json` with
/// `type`, `title`, `status` (= the HTTP status), `code` and `detail`; `Retry-After` on
/// every 429 and 503; `WWW-Authenticate: Bearer` on every 401.
#[track_caller]
fn problem_shape(r: &Resp) {
    assert!(r.status >= 400, "not an error: {} {}", r.status, r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{} {}",
        r.status,
        r.text
    );
    let b = &r.body;
    assert!(b.is_object(), "not a JSON object: {:?}", r.text);
    for f in ["type", "title", "code", "detail"] {
        assert!(
            b[f].as_str().is_some_and(|s| !s.is_empty()),
            "`{f}` missing in {}",
            r.text
        );
    }
    assert_eq!(
        b["status"].as_u64(),
        Some(u64::from(r.status)),
        "{}",
        r.text
    );
    if matches!(r.status, 429 | 503) {
        let secs: u64 = r
            .header("retry-after")
            .unwrap_or_else(|| panic!("{} without Retry-After: {}", r.status, r.text))
            .parse()
            .expect("Retry-After in whole seconds");
        assert!(secs >= 1, "{secs}");
    }
    if r.status == 401 {
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Bearer"),
            "{}",
            r.text
        );
    }
}

/// POSTs `body` as is, with the tenant's key and this Content-Type (none if `None`).
async fn post_raw(
    app: &TestApp,
    path: &str,
    ct: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Resp {
    let mut req = app
        .http
        .post(app.url(path))
        .bearer_auth(&app.key)
        .body(body);
    if let Some(ct) = ct {
        req = req.header(CONTENT_TYPE, ct);
    }
    app.send(req).await
}

/// POSTs `body` as is, declared as `application/json`.
async fn post_text(app: &TestApp, path: &str, body: &str) -> Resp {
    post_raw(app, path, Some("application/json"), body.to_string()).await
}

/// Nothing was sent by anything so far, and nothing was created for `to`: the outbox is
/// empty, a valid start now is a `201` (not a `200` resend), and once its message is
/// out it is the only one.
async fn assert_nothing_sent(app: &TestApp, to: &str) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = app.outbox().await;
    assert!(out.is_empty(), "something was sent: {out:?}");
    let r = app.start(to).await;
    assert_eq!(r.status, 201, "a later valid start must create: {}", r.text);
    app.code_for(to).await;
    let out = app.outbox().await;
    assert_eq!(out.len(), 1, "{out:?}");
}

/// A started verification: (number, id, code), its one message already out.
async fn started(app: &TestApp) -> (String, String, String) {
    let to = number();
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let code = app.code_for(&to).await;
    (to, id, code)
}

async fn attempts_left(app: &TestApp, id: &str) -> u64 {
    let r = app.fetch(id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["check_attempts_remaining"].as_u64().unwrap()
}

/// Sends raw bytes on a fresh connection and reads one response. The request may be
/// incomplete on purpose (a stalled body). Writing runs beside reading, and a write the
/// server cuts short (it answered early and closed) is fine.
async fn raw_http(app: &TestApp, request: &[u8]) -> Resp {
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr // kept open: closing it would end a stalled body early
    });
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(r) = parse_response(&buf) {
                return r;
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        parse_response(&buf)
            .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(&buf)))
    };
    let r = tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("raw request hung");
    writer.abort();
    r
}

/// POSTs `body` with an explicit Content-Length over a raw connection. For bodies the
/// server refuses before reading them (413, 401): it answers and closes, and an HTTP
/// client still writing may see the reset before the answer.
async fn post_tcp(
    app: &TestApp,
    path: &str,
    auth: Option<&str>,
    ct: Option<&str>,
    body: &[u8],
) -> Resp {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        app.addr,
        body.len()
    );
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if let Some(ct) = ct {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(body);
    raw_http(app, &req).await
}

/// [`post_tcp`] as the tenant, declared as JSON.
async fn post_big(app: &TestApp, path: &str, body: &[u8]) -> Resp {
    let auth = format!("Bearer {}", app.key);
    post_tcp(app, path, Some(&auth), Some("application/json"), body).await
}

/// One HTTP/1.1 response with a Content-Length body, if `buf` holds all of it.
fn parse_response(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for l in lines {
        let (k, v) = l.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(k.trim().as_bytes()).ok()?,
            HeaderValue::from_str(v.trim()).ok()?,
        );
    }
    let len: usize = headers.get("content-length")?.to_str().ok()?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + len)?;
    let text = String::from_utf8_lossy(body).into_owned();
    Some(Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    })
}

/// The head of a raw request to `path` with the tenant's key and a JSON body.
fn raw_head(app: &TestApp, method: &str, path: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n{extra}Connection: close\r\n\r\n",
        app.addr, app.key
    )
    .into_bytes()
}

/// A chunked (no Content-Length) body in chunks of `size`.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------------------
// Body framing: JSON syntax, Content-Type, unknown fields, size

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_invalid_request_and_sends_nothing() {
    let app = app().await;
    let to = number();
    let bodies = [
        format!(r#"{{"to":"{to}""#),
        format!(r#"{{"to":"{to}"#),
        r#"{"to":"#.to_string(),
        "{".to_string(),
        format!(r#"{{"to":"{to}"}} x"#),
        format!(r#"{{"to":"{to}"}}{{}}"#),
        format!(r#"{{"to":"{to}"}},"#),
        format!(r#"{{"to":"{to}",}}"#),
        format!(r#"{{'to':'{to}'}}"#),
        format!(r#"{{to:"{to}"}}"#),
        format!("\u{feff}{{\"to\":\"{to}\"}}"),
        format!(r#"{{"to":"{to}","to":"{to}"}}"#),
        format!(r#"["{to}"]"#),
        format!(r#"["{to}",null,null,null,null,null,null,null]"#),
        format!(r#""{to}""#),
        "42".to_string(),
        "null".to_string(),
        "true".to_string(),
        "[]".to_string(),
        String::new(),
        "   ".to_string(),
    ];
    for body in &bodies {
        let r = post_text(&app, START, body).await;
        problem(&r, 400, "invalid_request");
        let r = post_text(&app, CHECK, body).await;
        problem(&r, 400, "invalid_request");
    }
    // A check body shaped as an array must not reach the store either.
    let r = post_text(
        &app,
        CHECK,
        r#"[null,"vrf_00000000000000000000000000000000","123456"]"#,
    )
    .await;
    problem(&r, 400, "invalid_request");
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415_invalid_request() {
    let app = app().await;
    let to = number();
    let body = json!({ "to": to }).to_string();
    let types = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some("application/problem+json"),
        Some("json"),
        Some(""),
        None,
    ];
    for path in [START, CHECK] {
        for ct in types {
            let r = post_raw(&app, path, ct, body.clone()).await;
            problem(&r, 415, "invalid_request");
        }
        let r = post_raw(
            &app,
            path,
            Some("application/x-www-form-urlencoded"),
            format!("to={to}"),
        )
        .await;
        problem(&r, 415, "invalid_request");
    }
    assert_nothing_sent(&app, &to).await;
    // Parameters and case do not matter.
    let other = number();
    let r = post_raw(
        &app,
        START,
        Some("Application/JSON; charset=utf-8"),
        json!({ "to": other }).to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_400_naming_the_field() {
    let app = app().await;
    let to = number();
    for field in ["foo", "To", "phone", "code", "id", "channel_", "__proto__"] {
        let r = app.post(START, json!({ "to": to, field: "x" })).await;
        problem(&r, 400, "invalid_request");
        assert!(
            r.body["detail"].as_str().unwrap().contains(field),
            "{field}: {}",
            r.text
        );
    }
    let (cto, id, _) = started(&app).await;
    for field in ["foo", "channel", "Code", "metadata"] {
        let r = app
            .post(CHECK, json!({ "to": cto, "code": "123456", field: "x" }))
            .await;
        problem(&r, 400, "invalid_request");
        assert!(
            r.body["detail"].as_str().unwrap().contains(field),
            "{field}: {}",
            r.text
        );
    }
    assert_eq!(
        attempts_left(&app, &id).await,
        5,
        "unknown fields spend no attempt"
    );
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "nothing was created for {to}: {}", r.text);
}

/// A start body of exactly `len` bytes (valid JSON padded with trailing spaces).
fn start_body_of_len(to: &str, len: usize) -> String {
    let mut b = json!({ "to": to }).to_string();
    assert!(b.len() <= len);
    b.extend(std::iter::repeat_n(' ', len - b.len()));
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_413_payload_too_large() {
    let app = app().await;
    let to = number();
    for len in [LIMIT + 1, LIMIT * 2, 1 << 20] {
        let r = post_big(&app, START, start_body_of_len(&to, len).as_bytes()).await;
        problem(&r, 413, "payload_too_large");
        let mut check = json!({ "to": to, "code": "123456" }).to_string();
        check.extend(std::iter::repeat_n(' ', len - check.len()));
        let r = post_big(&app, CHECK, check.as_bytes()).await;
        problem(&r, 413, "payload_too_large");
    }
    // Oversized and otherwise invalid: the size wins, nothing is parsed.
    let r = post_big(&app, START, "[".repeat(LIMIT + 1).as_bytes()).await;
    problem(&r, 413, "payload_too_large");
    assert_nothing_sent(&app, &to).await;
    // Just over the limit through an ordinary client too.
    let r = post_text(&app, START, &start_body_of_len(&to, LIMIT + 1)).await;
    problem(&r, 413, "payload_too_large");
    // Exactly at the limit is fine.
    let other = number();
    let r = post_text(&app, START, &start_body_of_len(&other, LIMIT)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_holds_without_a_truthful_content_length() {
    let app = app().await;
    let to = number();
    let big = format!(
        r#"{{"to":"{to}","metadata":{{"k":"{}"}}}}"#,
        "a".repeat(LIMIT * 2)
    );

    // No Content-Length at all: a chunked stream over the limit.
    let mut req = raw_head(&app, "POST", START, "Transfer-Encoding: chunked\r\n");
    req.extend(chunked(big.as_bytes(), 1000));
    problem(&raw_http(&app, &req).await, 413, "payload_too_large");

    // A huge declared length is refused before waiting for the body.
    let mut req = raw_head(&app, "POST", START, "Content-Length: 100000000\r\n");
    req.extend_from_slice(b"{}");
    problem(&raw_http(&app, &req).await, 413, "payload_too_large");

    // A small declared length: the server reads only that much and stops there.
    let mut req = raw_head(&app, "POST", START, "Content-Length: 5\r\n");
    req.extend_from_slice(big.as_bytes());
    let r = raw_http(&app, &req).await;
    problem(&r, 400, "invalid_request");

    assert_nothing_sent(&app, &to).await;

    // A chunked body under the limit is an ordinary request.
    let other = number();
    let mut req = raw_head(&app, "POST", START, "Transfer-Encoding: chunked\r\n");
    req.extend(chunked(json!({ "to": other }).to_string().as_bytes(), 3));
    let r = raw_http(&app, &req).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

// ---------------------------------------------------------------------------------------
// Field values

const NOT_E164: &[&str] = &[
    "14155550123",
    "004414155550123",
    "+1 415 555 0123",
    "+1-415-555-0123",
    "+1(415)5550123",
    " +14155550123",
    "+14155550123 ",
    "+1415555O123",
    "+1415CALLNOW",
    "＋１４１５５５５０１２３",
    "+１４１５５５５０１２３",
    "+١٤١٥٥٥٥٠١٢٣",
    "",
    "+",
    "++14155550123",
    "tel:+14155550123",
    "+123456789012345678901234567890",
    "+99912345678",
    "+0123456789",
    "+1415555",
    "+4412345",
    "+10000000000",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_not_e164_is_400_invalid_phone_number() {
    let app = app().await;
    for bad in NOT_E164 {
        let r = app.start(bad).await;
        problem(&r, 400, "invalid_phone_number");
        let r = app.check(bad, "123456").await;
        problem(&r, 400, "invalid_phone_number");
    }
    assert_nothing_sent(&app, &number()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_of_the_wrong_type_or_missing_is_400_invalid_request() {
    let app = app().await;
    let to = number();
    let digits: u64 = to[1..].parse().unwrap();
    for bad in [
        Value::Null,
        json!(digits),
        json!(true),
        json!([to]),
        json!({ "e164": to }),
    ] {
        let r = app.post(START, json!({ "to": bad })).await;
        problem(&r, 400, "invalid_request");
        if !bad.is_null() {
            let r = app
                .post(CHECK, json!({ "to": bad, "code": "123456" }))
                .await;
            problem(&r, 400, "invalid_request");
        }
    }
    let r = app.post(START, json!({ "channel": "sms" })).await;
    problem(&r, 400, "invalid_request");
    assert!(
        r.body["detail"].as_str().unwrap().contains("to"),
        "{}",
        r.text
    );
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_channels_are_400() {
    let app = app().await;
    let to = number();
    for ch in ["fax", "", "SMS", "WhatsApp", "sms ", "e-mail", "call"] {
        let r = app.post(START, json!({ "to": to, "channel": ch })).await;
        problem(&r, 400, "unsupported_channel");
    }
    for ch in [
        json!(123),
        json!(true),
        json!(["sms"]),
        json!({ "sms": true }),
    ] {
        let r = app.post(START, json!({ "to": to, "channel": ch })).await;
        problem(&r, 400, "invalid_request");
    }
    // A huge channel name is not echoed back in full.
    let long = "v".repeat(4000);
    let r = app.post(START, json!({ "to": to, "channel": long })).await;
    problem(&r, 400, "unsupported_channel");
    assert!(r.text.len() < 1000, "{}", r.text.len());
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_codes_are_400_and_use_no_attempt() {
    let app = app().await;
    let (to, id, code) = started(&app).await;
    let bad_strings = [
        "abcdef",
        "12a456",
        "123",
        "12345678901",
        "",
        " 123456",
        "123456 ",
        "123 456",
        "１２３４５６",
        "١٢٣٤٥٦",
        "-12345",
        "+123456",
        "12.456",
        "12\u{0}456",
    ];
    for bad in bad_strings {
        problem(&app.check(&to, bad).await, 400, "invalid_code_format");
        problem(&app.check_id(&id, bad).await, 400, "invalid_code_format");
    }
    let n: u64 = code.parse().unwrap();
    for bad in [
        json!(n),
        json!(123456),
        json!(1.5),
        json!(true),
        json!([code]),
        json!({ "code": code }),
    ] {
        let r = app.post(CHECK, json!({ "to": to, "code": bad })).await;
        problem(&r, 400, "invalid_code_format");
    }
    for body in [
        json!({ "to": to }),
        json!({ "id": id }),
        json!({ "to": to, "code": null }),
    ] {
        problem(&app.post(CHECK, body).await, 400, "invalid_request");
    }
    assert_eq!(
        attempts_left(&app, &id).await,
        5,
        "malformed codes use no attempt"
    );
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["check_attempts_remaining"], 4);
    let r = app.check(&to, &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_needs_exactly_one_of_to_and_id() {
    let app = app().await;
    let (to, id, code) = started(&app).await;
    let r = app
        .post(CHECK, json!({ "to": to, "id": id, "code": code }))
        .await;
    problem(&r, 400, "invalid_request");
    let r = app.post(CHECK, json!({ "code": code })).await;
    problem(&r, 400, "invalid_request");
    let r = app
        .post(CHECK, json!({ "to": null, "id": null, "code": code }))
        .await;
    problem(&r, 400, "invalid_request");
    assert_eq!(attempts_left(&app, &id).await, 5);
    assert_eq!(
        app.fetch(&id).await.body["status"],
        "pending",
        "the right code was not consumed"
    );
    // A malformed id cannot exist.
    for bad in [
        "",
        "vrf_",
        "../../etc/passwd",
        "VRF_0000000000000000000000000000",
        "vrf_000000000000000000000000000g",
    ] {
        problem(
            &app.check_id(bad, "123456").await,
            404,
            "verification_not_found",
        );
    }
    assert_eq!(app.check_id(&id, &code).await.body["status"], "approved");
}

/// On a check, optional fields sent as `null` mean the same as leaving them out (the
/// OpenAPI document says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_optional_check_fields_mean_absent() {
    let app = app().await;
    let (to, _id, code) = started(&app).await;
    let r = app
        .post(
            CHECK,
            json!({ "to": to, "id": null, "client_ip": null, "client_session": null, "code": code }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_length_out_of_range_or_not_an_integer_is_400() {
    let app = app().await;
    let to = number();
    let values = [
        json!(3),
        json!(11),
        json!(0),
        json!(-1),
        json!(4_294_967_302_u64),
        json!(i64::MIN),
        json!(u64::MAX),
        json!("6"),
        json!(6.5),
        json!(6.0),
        json!(true),
        json!([6]),
    ];
    for v in values {
        let r = app.post(START, json!({ "to": to, "code_length": v })).await;
        problem(&r, 400, "invalid_request");
    }
    let r = post_text(
        &app,
        START,
        &format!(r#"{{"to":"{to}","code_length":1e999}}"#),
    )
    .await;
    problem(&r, 400, "invalid_request");
    let r = post_text(
        &app,
        START,
        &format!(r#"{{"to":"{to}","code_length":99999999999999999999999}}"#),
    )
    .await;
    problem(&r, 400, "invalid_request");
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_fields_are_validated() {
    let app = app().await;
    let to = number();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    for l in [
        "",
        "e",
        "english",
        "en_US",
        "en-",
        "-en",
        "e1",
        "12",
        "en--US",
        "en-US-toolongsubtag",
        "en\u{0}",
        "en US",
        "ün",
    ] {
        cases.push(("locale", json!(l)));
    }
    cases.push(("locale", json!(format!("en-{}", "abcdefgh-".repeat(4)))));
    cases.push(("locale", json!(5)));
    for h in [
        "",
        "short",
        "FA+9qCX9VSu1",
        "FA+9qCX9VS",
        "FA+9qCX9VS=",
        "FA-9qCX9VSu",
        "FA_9qCX9VSu",
        "FA+9qCX9VS\n",
        "ÄA+9qCX9VS",
        "FA+9qCX9VS ",
    ] {
        cases.push(("app_hash", json!(h)));
    }
    cases.push(("app_hash", json!(12345678901_u64)));
    for m in [
        json!([]),
        json!("x"),
        json!(1),
        json!(true),
        json!([{ "a": 1 }]),
    ] {
        cases.push(("metadata", m));
    }
    cases.push(("metadata", json!({ "k": "a".repeat(1100) })));
    for ip in [
        "not-an-ip",
        "999.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "::g",
        "",
        "127.0.0.1:80",
        "[::1]",
        "localhost",
        " 10.0.0.1",
    ] {
        cases.push(("client_ip", json!(ip)));
    }
    cases.push(("client_ip", json!(2130706433)));
    for t in [
        "nope",
        "",
        "../default",
        "default/../x",
        "a b",
        "\u{0}",
        "défaut",
    ] {
        cases.push(("template", json!(t)));
    }
    cases.push(("template", json!("t".repeat(65))));
    cases.push(("template", json!(["default"])));
    for (field, v) in cases {
        let r = app.post(START, json!({ "to": to, field: v })).await;
        problem(&r, 400, "invalid_request");
        assert!(
            r.body["detail"].as_str().unwrap().contains(field)
                || r.body["detail"].as_str().unwrap().contains("type"),
            "{field}: {}",
            r.text
        );
    }
    assert_nothing_sent(&app, &to).await;
    // The valid forms of the same fields are accepted.
    let other = number();
    let ok = json!({
        "to": other, "locale": "pt-BR", "app_hash": "FA+9qCX9VSu", "client_ip": "2001:db8::1",
        "template": "default", "metadata": { "user": 42 }, "code_length": 4, "channel": "sms"
    });
    let r = app.post(START, ok).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_limit_is_one_kibibyte_serialised() {
    let app = app().await;
    // `{"k":"…"}` serialises to 8 bytes plus the value.
    let to = number();
    let r = app
        .post(
            START,
            json!({ "to": to, "metadata": { "k": "a".repeat(1017) } }),
        )
        .await;
    problem(&r, 400, "invalid_request");
    assert!(
        r.body["detail"].as_str().unwrap().contains("metadata"),
        "{}",
        r.text
    );
    assert_nothing_sent(&app, &to).await;
    let other = number();
    let r = app
        .post(
            START,
            json!({ "to": other, "metadata": { "k": "a".repeat(1016) } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["metadata"]["k"].as_str().unwrap().len(), 1016);
}

// ---------------------------------------------------------------------------------------
// Authentication

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_401_with_www_authenticate() {
    let app = app().await;
    let to = number();
    let body = json!({ "to": to }).to_string();
    let long = format!("Bearer {}", "a".repeat(10 * 1024));
    // Trailing whitespace is not part of a header value (RFC 9110), so pad inside.
    let padded = format!("Bearer {}{}", " ".repeat(10 * 1024), app.key);
    let values: Vec<Option<HeaderValue>> = vec![
        None,
        Some(HeaderValue::from_static("Basic xxx")),
        Some(HeaderValue::from_str(&format!("Basic {}", app.key)).unwrap()),
        Some(HeaderValue::from_static("Bearer")),
        Some(HeaderValue::from_static("Bearer ")),
        Some(HeaderValue::from_static("Bearer     ")),
        Some(HeaderValue::from_static("")),
        Some(HeaderValue::from_static("Bearer wrong-key")),
        Some(HeaderValue::from_str(&format!("Bearer {}x", app.key)).unwrap()),
        Some(HeaderValue::from_str(&format!("Bearer {}", &app.key[..app.key.len() - 1])).unwrap()),
        Some(HeaderValue::from_str(&format!("Token {}", app.key)).unwrap()),
        Some(HeaderValue::from_str(&app.key).unwrap()),
        Some(HeaderValue::from_str(&long).unwrap()),
        Some(HeaderValue::from_str(&padded).unwrap()),
        Some(HeaderValue::from_bytes(b"Bearer \xff\xfe\x80").unwrap()),
        Some(
            HeaderValue::from_bytes(b"Bearer otpgw_demo_key_for_local_development_onl\xe9")
                .unwrap(),
        ),
    ];
    for v in &values {
        for (method, path) in [
            ("POST", START),
            ("POST", CHECK),
            (
                "GET",
                "/v1/verifications/vrf_00000000000000000000000000000000",
            ),
        ] {
            let mut req = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .header(CONTENT_TYPE, "application/json");
            if method == "POST" {
                req = req.body(body.clone());
            }
            if let Some(v) = v {
                req = req.header(AUTHORIZATION, v.clone());
            }
            let r = app.send(req).await;
            problem(&r, 401, "unauthorized");
        }
    }
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_checked_before_the_body() {
    let app = app().await;
    let to = number();
    let bodies: Vec<(Option<&str>, String)> = vec![
        (Some("application/json"), "{".into()),
        (Some("application/json"), String::new()),
        (Some("text/plain"), "hello".into()),
        (None, json!({ "to": to }).to_string()),
        (
            Some("application/json"),
            json!({ "to": to, "bogus": 1 }).to_string(),
        ),
        (
            Some("application/json"),
            json!({ "to": "nope" }).to_string(),
        ),
        (Some("application/json"), start_body_of_len(&to, LIMIT * 4)),
    ];
    for path in [START, CHECK] {
        for (ct, body) in &bodies {
            for auth in [None, Some("Bearer wrong")] {
                let r = post_tcp(&app, path, auth, *ct, body.as_bytes()).await;
                problem(&r, 401, "unauthorized");
            }
        }
    }
    assert_nothing_sent(&app, &to).await;
}

// ---------------------------------------------------------------------------------------
// Hostile input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_is_rejected_without_crashing() {
    let app = spawn_app(Backend::Memory, |c| c.server.body_limit_bytes = 1 << 20).await;
    let to = number();
    for depth in [200, 8_000, 100_000] {
        let open = "[".repeat(depth);
        let close = "]".repeat(depth);
        for body in [
            open.clone(),
            format!("{open}{close}"),
            format!(r#"{{"to":"{to}","metadata":{{"a":{open}{close}}}}}"#),
            format!(r#"{{"to":"{to}","metadata":{{"a":{open}"#),
            format!(r#"{{"to":{open}{close}}}"#),
            format!(r#"{{"to":"{to}","metadata":{}"#, r#"{"a":"#.repeat(depth)),
        ] {
            let r = post_text(&app, START, &body).await;
            problem(&r, 400, "invalid_request");
        }
        let r = post_text(
            &app,
            CHECK,
            &format!(r#"{{"to":"{to}","code":{open}{close}}}"#),
        )
        .await;
        assert_eq!(r.status / 100, 4, "{}", r.text);
        problem_shape(&r);
    }
    assert_nothing_sent(&app, &to).await;
    assert_eq!(app.get("/healthz").await.status, 200, "still alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_string_is_413() {
    let app = app().await;
    let to = number();
    let mb = "a".repeat(1 << 20);
    for field in [
        "to",
        "locale",
        "template",
        "app_hash",
        "client_ip",
        "channel",
    ] {
        let mut body = json!({ "to": to });
        body[field] = json!(mb);
        let r = post_big(&app, START, body.to_string().as_bytes()).await;
        problem(&r, 413, "payload_too_large");
    }
    problem(
        &post_big(
            &app,
            START,
            json!({ "to": to, "metadata": { "k": mb } })
                .to_string()
                .as_bytes(),
        )
        .await,
        413,
        "payload_too_large",
    );
    problem(
        &post_big(
            &app,
            CHECK,
            json!({ "to": to, "code": mb }).to_string().as_bytes(),
        )
        .await,
        413,
        "payload_too_large",
    );
    problem(
        &post_big(
            &app,
            CHECK,
            json!({ "id": mb, "code": "123456" }).to_string().as_bytes(),
        )
        .await,
        413,
        "payload_too_large",
    );
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_and_rtl_overrides_are_rejected() {
    let app = app().await;
    let to = number();
    let tail = &to[1..];
    let phones = [
        format!("{to}\u{0}"),
        format!("\u{0}{to}"),
        format!("+1\u{0}{}", &to[2..]),
        format!("{to}\n"),
        format!("{to}\r\nX-Injected: 1"),
        format!("\u{1b}[31m{to}"),
        format!("\u{202e}{to}"),
        format!("+\u{202e}{tail}"),
        format!("{to}\u{202c}"),
        format!("\u{200b}{to}"),
        format!("+{}\u{feff}", tail),
        "\u{0}".repeat(12),
        "\u{7f}".to_string(),
    ];
    for p in &phones {
        problem(&app.start(p).await, 400, "invalid_phone_number");
        problem(&app.check(p, "123456").await, 400, "invalid_phone_number");
    }
    let r = app
        .post(START, json!({ "to": to, "locale": "en\u{0}" }))
        .await;
    problem(&r, 400, "invalid_request");
    let r = app
        .post(START, json!({ "to": to, "template": "default\u{0}" }))
        .await;
    problem(&r, 400, "invalid_request");
    let r = app
        .post(START, json!({ "to": to, "channel": "sms\u{0}" }))
        .await;
    problem(&r, 400, "unsupported_channel");
    let r = app
        .post(START, json!({ "to": to, "app_hash": "FA+9qCX9VS\u{0}" }))
        .await;
    problem(&r, 400, "invalid_request");
    let r = app
        .post(CHECK, json!({ "to": to, "code": "1234\u{202e}56" }))
        .await;
    problem(&r, 400, "invalid_code_format");
    // Lone surrogates in escapes are not text.
    let r = post_text(
        &app,
        START,
        &format!(r#"{{"to":"{to}","locale":"\ud800"}}"#),
    )
    .await;
    problem(&r, 400, "invalid_request");
    // Raw control characters and invalid UTF-8 are not JSON.
    let r = post_raw(
        &app,
        START,
        Some("application/json"),
        format!("{{\"to\":\"{to}\u{1}\"}}"),
    )
    .await;
    problem(&r, 400, "invalid_request");
    let mut bytes = json!({ "to": to }).to_string().into_bytes();
    bytes.insert(8, 0xff);
    problem(
        &post_raw(&app, START, Some("application/json"), bytes).await,
        400,
        "invalid_request",
    );
    assert_nothing_sent(&app, &to).await;

    // Control characters inside metadata are data, escaped on the way out.
    let other = number();
    let r = app
        .post(
            START,
            json!({ "to": other, "metadata": { "a": "\u{0}\u{1b}[31m\u{202e}" } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["metadata"]["a"], "\u{0}\u{1b}[31m\u{202e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_and_junk_ids_are_404() {
    let app = app().await;
    let (_, id, _) = started(&app).await;
    let junk = [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%5c..%5cwindows",
        "vrf_..%2f..%2f..%2f..%2f..%2f..%2f..",
        "vrf_%00000000000000000000000000000",
        "%00",
        "%ff%fe",
        "vrf_%ff00000000000000000000000000",
        "%c0%ae%c0%ae",
        "vrf_0000000000000000000000000000%0d%0aX-Injected:%201",
        "VRF_0000000000000000000000000000",
        "vrf_0000000000000000000000000000",
        "vrf_00000000000000000000000000000",
        "vrf_000000000000000000000000000G",
        "%20",
        "*",
    ];
    let long = format!("vrf_{}", "0".repeat(5000));
    for j in junk.iter().copied().chain([long.as_str()]) {
        let path = format!("/v1/verifications/{j}");
        let r = raw_http(&app, &raw_head(&app, "GET", &path, "")).await;
        problem(&r, 404, "verification_not_found");
        let r = raw_http(
            &app,
            &raw_head(
                &app,
                "POST",
                &format!("{path}/cancel"),
                "Content-Length: 2\r\n",
            ),
        )
        .await;
        problem(&r, 404, "verification_not_found");
    }
    // Literal dot segments leave the route: still a 404 problem, never a file.
    for p in [
        "/v1/verifications/../../etc/passwd",
        "/v1/verifications/..",
        "/v1/verifications/./x/..",
        "/../../etc/passwd",
    ] {
        let r = raw_http(&app, &raw_head(&app, "GET", p, "")).await;
        assert_eq!(r.status, 404, "{p}: {}", r.text);
        assert!(
            matches!(r.code(), "not_found" | "verification_not_found"),
            "{p}: {}",
            r.text
        );
        problem_shape(&r);
    }
    // Through an ordinary client as well.
    let r = app.get("/v1/verifications/..%2F..%2Fetc%2Fpasswd").await;
    problem(&r, 404, "verification_not_found");
    assert_eq!(
        app.fetch(&id).await.body["status"],
        "pending",
        "the real one is untouched"
    );
}

// ---------------------------------------------------------------------------------------
// Routing, operations and development endpoints

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = app().await;
    for path in [
        "/",
        "/v1",
        "/v1/",
        "/v2/verifications",
        "/v1/verification",
        "/v1/verifications/check/x",
        "/metricz",
        "/dev/outbox/x",
        "/v1/verifications/a/b/c",
    ] {
        problem(&app.get(path).await, 404, "not_found");
        problem(&app.post(path, json!({})).await, 404, "not_found");
    }
    let id = "vrf_00000000000000000000000000000000";
    let wrong_methods = [
        ("GET", START.to_string()),
        ("PUT", START.to_string()),
        ("DELETE", START.to_string()),
        ("GET", CHECK.to_string()),
        ("PATCH", CHECK.to_string()),
        ("DELETE", format!("/v1/verifications/{id}")),
        ("POST", format!("/v1/verifications/{id}")),
        ("GET", format!("/v1/verifications/{id}/cancel")),
        ("POST", "/healthz".to_string()),
        ("DELETE", "/readyz".to_string()),
        ("POST", "/dev/outbox".to_string()),
    ];
    for (m, path) in &wrong_methods {
        let req = app
            .http
            .request(m.parse().unwrap(), app.url(path))
            .bearer_auth(&app.key);
        let r = app.send(req).await;
        problem(&r, 405, "method_not_allowed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_200() {
    let app = app().await;
    let r = app.send(app.http.get(app.url("/healthz"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.send(app.http.get(app.url("/readyz"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A malformed `x-request-id` is replaced by a fresh id, never refused (the OpenAPI
/// document says so); a well-formed one is echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_id_is_replaced_not_refused() {
    let app = app().await;
    let well_formed = |s: &str| {
        (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let long = "a".repeat(129);
    for bad in ["has spaces", "semi;colon", "quote\"", long.as_str(), ""] {
        let r = app
            .send(
                app.http
                    .post(app.url(START))
                    .bearer_auth(&app.key)
                    .header("x-request-id", bad)
                    .json(&json!({ "to": number() })),
            )
            .await;
        assert_eq!(r.status, 201, "{bad:?}: {}", r.text);
        let got = r.headers["x-request-id"].to_str().unwrap();
        assert_ne!(got, bad, "a malformed id is not echoed");
        assert!(well_formed(got), "{bad:?} -> {got:?}");
    }
    let r = app
        .send(
            app.http
                .get(app.url("/healthz"))
                .header("x-request-id", "req-1.A_b"),
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "req-1.A_b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_outbox_off_is_404() {
    let app = spawn_app(Backend::Memory, |c| c.dev.outbox = false).await;
    let r = app.send(app.http.get(app.url("/dev/outbox"))).await;
    problem(&r, 404, "not_found");
    let r = app.get("/dev/outbox").await;
    problem(&r, 404, "not_found");
    // The gateway still works.
    assert_eq!(app.start(&number()).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_outbox_lists_messages_newest_first() {
    let app = app().await;
    let r = app.send(app.http.get(app.url("/dev/outbox"))).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(r.body, json!([]));
    let (a, b) = (number(), number());
    let ca = {
        assert_eq!(app.start(&a).await.status, 201);
        app.code_for(&a).await
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cb = {
        assert_eq!(app.start(&b).await.status, 201);
        app.code_for(&b).await
    };
    let out = app.outbox().await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["to"], b);
    assert_eq!(out[1]["to"], a);
    assert!(out[0]["body"].as_str().unwrap().contains(&cb));
    assert!(out[1]["body"].as_str().unwrap().contains(&ca));
    for m in &out {
        assert!(m["created_at"].as_str().unwrap().ends_with('Z'), "{m}");
    }
}

// ---------------------------------------------------------------------------------------
// Problem documents everywhere, Retry-After on 429 and 503

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_429_has_retry_after() {
    let app = app().await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let r = app.start(&to).await;
    problem(&r, 429, "rate_limited");
    assert_eq!(r.body["reason"], "resend_cooldown");

    let (to, _, code) = started(&app).await;
    for _ in 0..5 {
        assert_eq!(app.check(&to, &wrong(&code)).await.status, 200);
    }
    let r = app.check(&to, &code).await;
    problem(&r, 429, "max_attempts_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_shed_requests_are_503_with_retry_after() {
    let app = spawn_app(Backend::Memory, |c| {
        c.server.request_timeout_ms = 500;
        c.server.max_concurrent_requests = 1;
    })
    .await;
    // A body that never arrives in full.
    let mut stalled = raw_head(&app, "POST", START, "Content-Length: 100\r\n");
    stalled.extend_from_slice(br#"{"to":"#);
    let r = raw_http(&app, &stalled).await;
    problem(&r, 503, "store_unavailable");

    // While it hangs, another start on the same endpoint is shed at once.
    let hold = {
        let stalled = stalled.clone();
        let addr = app.addr;
        tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(&stalled).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let to = number();
    let r = app.start(&to).await;
    problem(&r, 503, "store_unavailable");
    let held = hold.await.unwrap();
    assert!(held.starts_with("HTTP/1.1 503"), "{held}");
    // Afterwards the gateway serves normally and nothing was sent meanwhile.
    assert_nothing_sent(&app, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_problem_document() {
    let app = app().await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let (cto, _, code) = started(&app).await;
    for _ in 0..5 {
        app.check(&cto, &wrong(&code)).await;
    }
    let idem = number();
    let first = app
        .send(
            app.http
                .post(app.url(START))
                .bearer_auth(&app.key)
                .header("idempotency-key", "k-1")
                .json(&json!({ "to": idem })),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);

    let responses = vec![
        post_text(&app, START, "{").await,
        post_raw(&app, START, Some("text/plain"), "x").await,
        app.post(START, json!({ "to": "x" })).await,
        app.post(START, json!({ "to": number(), "channel": "fax" }))
            .await,
        app.check(&cto, "x").await,
        app.send(app.http.post(app.url(START)).json(&json!({})))
            .await,
        app.fetch("vrf_00000000000000000000000000000000").await,
        app.get("/nope").await,
        app.send(app.http.delete(app.url(START)).bearer_auth(&app.key))
            .await,
        app.send(
            app.http
                .post(app.url(START))
                .bearer_auth(&app.key)
                .header("idempotency-key", "k-1")
                .json(&json!({ "to": number() })),
        )
        .await,
        app.send(
            app.http
                .post(app.url(START))
                .bearer_auth(&app.key)
                .header("idempotency-key", "a b")
                .json(&json!({ "to": number() })),
        )
        .await,
        app.send(
            app.http
                .post(app.url(START))
                .bearer_auth(&app.key)
                .header("idempotency-key", "k".repeat(256))
                .json(&json!({ "to": number() })),
        )
        .await,
        post_big(&app, START, start_body_of_len(&to, LIMIT + 1).as_bytes()).await,
        app.start(&to).await,
        app.check(&cto, &code).await,
    ];
    let want = [
        400, 415, 400, 400, 400, 401, 404, 404, 405, 409, 400, 400, 413, 429, 429,
    ];
    for (r, status) in responses.iter().zip(want) {
        assert_eq!(r.status, status, "{}", r.text);
        problem_shape(r);
        assert_eq!(
            r.body["title"],
            reqwest::StatusCode::from_u16(status)
                .unwrap()
                .canonical_reason()
                .unwrap()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Random garbage

/// SplitMix64: deterministic, good enough to scatter bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// JSON tokens for token soup. No valid phone number is among them, so no start can
/// succeed, so no check can find anything: every answer must be a 4xx.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"to\"",
    "\"id\"",
    "\"code\"",
    "\"channel\"",
    "\"metadata\"",
    "\"code_length\"",
    "\"locale\"",
    "\"template\"",
    "\"app_hash\"",
    "\"client_ip\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "-0.0",
    "123456",
    "\"123456\"",
    "\"sms\"",
    "\"+1\"",
    "\"+\"",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\\"",
    "\"",
    "\\",
    "\"vrf_00000000000000000000000000000000\"",
    "\"en\"",
    "\"default\"",
    " ",
    "\n",
    "\u{feff}",
    "\u{202e}",
    "NaN",
    "Infinity",
    "0x10",
    "'a'",
];

/// Hostile JSON values (as JSON text); none is a valid phone number.
const HOSTILE: &[&str] = &[
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "6.5",
    "\"\"",
    "\" \"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\u202e+14155550123\"",
    "\"+1 415 555 0123\"",
    "\"+١٤١٥٥٥٥٠١٢٣\"",
    "\"+14155550123\\u0000\"",
    "\"＋１４１５５５５０１２３\"",
    "[]",
    "{}",
    "[\"+14155550123\"]",
    "{\"$ne\":null}",
    "\"../../etc/passwd\"",
    "\"%00\"",
    "\"<script>\"",
    "\"vrf_../../../../../../../../../..\"",
    "\"vrf_00000000000000000000000000000000\"",
    "\"12345678901\"",
    "\"abcdef\"",
    "\"123456\"",
    "\"١٢٣٤٥٦\"",
    "\"sms\"",
    "\"voice\"",
    "4",
    "10",
];

const KEYS: &[&str] = &[
    "to",
    "id",
    "code",
    "channel",
    "locale",
    "code_length",
    "template",
    "app_hash",
    "client_ip",
    "metadata",
    "",
    "__proto__",
    "TO",
    "to ",
    "\\u0074o",
];

/// Bytes that make any JSON text invalid wherever they are inserted: raw control
/// characters (not JSON whitespace) and bytes that are never UTF-8.
const BREAKERS: &[u8] = &[
    0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x80, 0xc0, 0xf8, 0xfe, 0xff,
];

fn garbage(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    match rng.below(6) {
        // Random bytes, made surely invalid.
        0 => {
            let mut b: Vec<u8> = (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect();
            let at = rng.below(b.len() + 1);
            b.insert(at, 0xff);
            b
        }
        // Token soup.
        1 => {
            let mut s = String::new();
            for _ in 0..1 + rng.below(40) {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
            }
            s.into_bytes()
        }
        // A proper prefix of a valid body: never a complete JSON value.
        2 => valid[..rng.below(valid.len())].to_vec(),
        // A valid body with a breaking byte inserted anywhere.
        3 => {
            let mut b = valid.to_vec();
            let at = rng.below(b.len() + 1);
            b.insert(at, *rng.pick(BREAKERS));
            b
        }
        // A valid body with trailing non-whitespace.
        4 => {
            let mut b = valid.to_vec();
            for _ in 0..1 + rng.below(8) {
                b.push(b'!' + rng.below(94) as u8);
            }
            b
        }
        // A well-formed object of hostile values.
        _ => {
            let mut fields = Vec::new();
            for _ in 0..rng.below(6) {
                let key = *rng.pick(KEYS);
                let value = match rng.below(8) {
                    0 => format!("\"{}\"", "a".repeat(rng.below(12_000))),
                    1 => {
                        let d = 1 + rng.below(3000);
                        format!("{}{}", "[".repeat(d), "]".repeat(d))
                    }
                    _ => rng.pick(HOSTILE).to_string(),
                };
                fields.push(format!("\"{key}\":{value}"));
            }
            format!("{{{}}}", fields.join(",")).into_bytes()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_garbage_bodies_get_4xx_problems_never_5xx_or_hangs() {
    let app = app().await;
    let mut rng = Rng(0x6f74_7067_7721);
    let valid_start = json!({ "to": number(), "channel": "sms", "code_length": 6, "metadata": { "a": [1, "x"] } }).to_string();
    let valid_check =
        json!({ "id": "vrf_00000000000000000000000000000000", "code": "123456" }).to_string();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..600 {
        let (path, valid) = if i % 2 == 0 {
            (START, &valid_start)
        } else {
            (CHECK, &valid_check)
        };
        let body = garbage(&mut rng, valid.as_bytes());
        let ct = if rng.below(20) == 0 {
            "text/plain"
        } else {
            "application/json"
        };
        let send = async {
            if body.len() > LIMIT {
                // Refused before it is read: see `post_tcp`.
                let auth = format!("Bearer {}", app.key);
                post_tcp(&app, path, Some(&auth), Some(ct), &body).await
            } else {
                let req = app
                    .http
                    .post(app.url(path))
                    .bearer_auth(&app.key)
                    .header(CONTENT_TYPE, ct)
                    .body(body.clone());
                app.send(req).await
            }
        };
        let r = tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .unwrap_or_else(|_| panic!("hang on {path} with {:?}", String::from_utf8_lossy(&body)));
        assert!(
            (400..500).contains(&r.status),
            "{path} answered {} to {:?}: {}",
            r.status,
            String::from_utf8_lossy(&body),
            r.text
        );
        problem_shape(&r);
        *by_status.entry(r.status).or_default() += 1;
    }
    assert!(
        by_status.len() >= 3,
        "the garbage should reach several rejections: {by_status:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(app.outbox().await.is_empty(), "garbage sent something");
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_global_not_per_route() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(Backend::Memory, |c| c.server.max_concurrent_requests = 1).await;
    // Hold the only slot with a start whose body never finishes arriving.
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/verifications HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
        app.key
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let other_route = app.get("/healthz").await;
    assert_eq!(other_route.status, 503, "{}", other_route.text);
    assert_eq!(other_route.code(), "store_unavailable");
    assert!(other_route.header("retry-after").is_some());
    drop(conn);
}
