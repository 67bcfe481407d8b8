//! `openapi.yaml` (the published HTTP contract) and the server agree: the routes, the
//! error codes, the statuses each operation documents, the request fields the server
//! accepts and the fields of the verification resource it returns.
//!
//! Self-contained: the real gateway is started in-process on port 0 with the embedded
//! default configuration (memory store, console provider, dev outbox on).

use otpgw::domain::{DeliveryStatus, Status};
use otpgw::error::Error;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

/// The demo tenant's API key, accepted by the embedded default configuration.
const DEMO_KEY: &str = "otpgw_demo_key_for_local_development_only";

/// HTTP methods an OpenAPI path item may hold operations for.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

// ---------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------

fn doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let doc: Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"));
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "openapi.yaml must be OpenAPI 3.1, found {:?}",
        doc["openapi"]
    );
    doc
}

/// Follows local `$ref`s (`#/components/...`) until a non-reference.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        let ptr = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {r}"));
        v = doc
            .pointer(ptr)
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
    }
    panic!("$ref cycle at {v}");
}

/// Property schemas of an object schema, `allOf` parts merged.
fn properties<'a>(doc: &'a Value, schema: &'a Value) -> BTreeMap<String, &'a Value> {
    let s = resolve(doc, schema);
    let mut out = BTreeMap::new();
    for part in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(properties(doc, part));
    }
    for (k, v) in s
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.insert(k.clone(), resolve(doc, v));
    }
    out
}

fn property_names(doc: &Value, schema: &Value) -> BTreeSet<String> {
    properties(doc, schema).into_keys().collect()
}

/// Required property names of an object schema, `allOf` parts merged.
fn required(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let s = resolve(doc, schema);
    let mut out = BTreeSet::new();
    for part in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(required(doc, part));
    }
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.insert(
            r.as_str()
                .expect("required entries are strings")
                .to_string(),
        );
    }
    out
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("openapi.yaml has no components.schemas.{name}"))
}

fn string_set(v: &Value, what: &str) -> BTreeSet<String> {
    let items = v
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not a list: {v}"));
    let set: BTreeSet<String> = items
        .iter()
        .map(|i| {
            i.as_str()
                .unwrap_or_else(|| panic!("{what} holds a non-string: {i}"))
                .to_string()
        })
        .collect();
    assert_eq!(set.len(), items.len(), "{what} has duplicates: {v}");
    set
}

/// One documented operation.
struct Op<'a> {
    method: String,
    path: String,
    op: &'a Value,
}

fn operations(doc: &Value) -> Vec<Op<'_>> {
    let paths = doc["paths"].as_object().expect("openapi.yaml has `paths`");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = resolve(doc, item);
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push(Op {
                    method: m.to_string(),
                    path: path.clone(),
                    op,
                });
            }
        }
    }
    out
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    doc.pointer(&format!(
        "/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    ))
    .unwrap_or_else(|| panic!("openapi.yaml documents no {method} {path}"))
}

/// The JSON schema of a response of `op` for `status`.
fn response_schema<'a>(doc: &'a Value, op: &'a Value, status: &str, media: &str) -> &'a Value {
    let resp = resolve(doc, &op["responses"][status]);
    let media_key = media.replace('~', "~0").replace('/', "~1");
    resp.pointer(&format!("/content/{media_key}/schema"))
        .unwrap_or_else(|| panic!("response {status} has no {media} schema: {resp}"))
}

/// The JSON schema of the request body of `op`.
fn request_schema<'a>(doc: &'a Value, op: &'a Value) -> &'a Value {
    let body = resolve(doc, &op["requestBody"]);
    assert_eq!(
        body["required"],
        json!(true),
        "the request body must be marked required: {body}"
    );
    resolve(
        doc,
        body.pointer("/content/application~1json/schema")
            .expect("an application/json request schema"),
    )
}

// ---------------------------------------------------------------------------------------
// The server's side
// ---------------------------------------------------------------------------------------

/// One value of every [`Error`] variant.
fn every_error() -> Vec<Error> {
    let d = Duration::from_secs(1);
    let all = vec![
        Error::InvalidRequest(String::new()),
        Error::UnsupportedMediaType(String::new()),
        Error::InvalidPhoneNumber(String::new()),
        Error::UnsupportedChannel(String::new()),
        Error::InvalidCodeFormat(String::new()),
        Error::Unauthorized(String::new()),
        Error::Forbidden(String::new()),
        Error::DestinationBlocked {
            reason: String::new(),
        },
        Error::ChallengeRequired {
            reason: String::new(),
        },
        Error::RateLimited {
            reason: "resend_cooldown",
            detail: String::new(),
            retry_after: d,
        },
        Error::MaxSendsReached { retry_after: d },
        Error::MaxAttemptsReached { retry_after: d },
        Error::NotFound(String::new()),
        Error::DeliveryNotFound(String::new()),
        Error::IdempotencyConflict(String::new()),
        Error::InvalidEmail(String::new()),
        Error::ChannelNotEnabled {
            channel: "voice",
            reason: "channel_disabled",
        },
        Error::NoNextStep(String::new()),
        Error::RouteNotFound(String::new()),
        Error::MethodNotAllowed,
        Error::PayloadTooLarge(0),
        Error::StoreUnavailable {
            detail: String::new(),
            retry_after: d,
        },
        Error::Internal(String::new()),
    ];
    // This match stops compiling when a variant is added: add it to the list above too.
    for e in &all {
        match e {
            Error::InvalidRequest(_)
            | Error::UnsupportedMediaType(_)
            | Error::InvalidPhoneNumber(_)
            | Error::UnsupportedChannel(_)
            | Error::InvalidCodeFormat(_)
            | Error::Unauthorized(_)
            | Error::Forbidden(_)
            | Error::DestinationBlocked { .. }
            | Error::ChallengeRequired { .. }
            | Error::RateLimited { .. }
            | Error::MaxSendsReached { .. }
            | Error::MaxAttemptsReached { .. }
            | Error::NotFound(_)
            | Error::DeliveryNotFound(_)
            | Error::IdempotencyConflict(_)
            | Error::InvalidEmail(_)
            | Error::ChannelNotEnabled { .. }
            | Error::NoNextStep(_)
            | Error::RouteNotFound(_)
            | Error::MethodNotAllowed
            | Error::PayloadTooLarge(_)
            | Error::StoreUnavailable { .. }
            | Error::Internal(_) => {}
        }
    }
    let distinct: std::collections::HashSet<_> = all.iter().map(std::mem::discriminant).collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "every_error() lists a variant twice"
    );
    all
}

/// Every `code` the server can emit, with the HTTP statuses it is emitted with.
fn server_codes() -> BTreeMap<&'static str, BTreeSet<u16>> {
    let mut out: BTreeMap<&'static str, BTreeSet<u16>> = BTreeMap::new();
    for e in every_error() {
        out.entry(e.code()).or_default().insert(e.http_status());
    }
    out
}

fn every_status() -> Vec<Status> {
    use Status::*;
    let all = vec![
        Pending,
        Approved,
        Canceled,
        Expired,
        MaxAttemptsReached,
        Failed,
    ];
    for s in &all {
        // Stops compiling when a status is added: add it to the list above too.
        match s {
            Pending | Approved | Canceled | Expired | MaxAttemptsReached | Failed => {}
        }
    }
    all
}

fn every_delivery_status() -> Vec<DeliveryStatus> {
    use DeliveryStatus::*;
    let all = vec![
        Queued,
        Sending,
        Sent,
        Delivered,
        Undelivered,
        Failed,
        Expired,
    ];
    for s in &all {
        // Stops compiling when a status is added: add it to the list above too.
        match s {
            Queued | Sending | Sent | Delivered | Undelivered | Failed | Expired => {}
        }
    }
    all
}

/// The real gateway on a free loopback port.
struct Gateway {
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read whole.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Resp {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
    fn keys(&self) -> BTreeSet<String> {
        keys(&self.body)
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {v}"))
        .keys()
        .cloned()
        .collect()
}

async fn gateway() -> Gateway {
    otpgw::providers::webhook::install_tls_provider();
    let mut cfg =
        otpgw::Config::from_toml(otpgw::config::DEFAULT_TOML).expect("the embedded config parses");
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.secret = Some(otpgw::config::Secret(
        "openapi-drift-test-secret-0123456789abcdef".into(),
    ));
    let app = otpgw::Application::build(cfg)
        .await
        .expect("the gateway builds");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("the gateway runs");
    });
    Gateway {
        addr,
        http: reqwest::Client::new(),
        stop: Some(tx),
    }
}

impl Gateway {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .bearer_auth(DEMO_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("the gateway answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send("post", path, Some(body)).await
    }
}

/// A valid US number, different on each call (so per-number limits never interfere).
fn number() -> String {
    let r = u32::from_be_bytes(otpgw::crypto::random_bytes::<4>());
    let mut exchange = 230 + (r % 700);
    if exchange % 100 == 11 {
        exchange += 1;
    }
    format!("+1415{exchange}{:04}", (r / 700) % 10_000)
}

/// A well-formed verification id that does not exist.
const UNKNOWN_ID: &str = "vrf_0000000000000000000000000000";

/// The field names serde lists after "expected" in an unknown-field error.
fn expected_fields(detail: &str) -> BTreeSet<String> {
    let (_, after) = detail
        .split_once("expected")
        .unwrap_or_else(|| panic!("no field list in the unknown-field error: {detail:?}"));
    after
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn documented_routes_are_exactly_the_server_routes() {
    let doc = doc();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect();
    let served: BTreeSet<(String, String)> = otpgw::api::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_ascii_lowercase(), p.to_string()))
        .collect();
    assert_eq!(
        served.len(),
        otpgw::api::http::ROUTES.len(),
        "ROUTES lists a route twice"
    );
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes served but missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        not_served.is_empty(),
        "routes in openapi.yaml that the server does not have: {not_served:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_routed_by_the_running_server() {
    let doc = doc();
    let gw = gateway().await;
    // The probe can tell an unrouted request apart.
    let r = gw.send("get", "/v1/not-a-documented-route", None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{r:?}");
    let r = gw.send("delete", "/v1/verifications", None).await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"), "{r:?}");

    for o in operations(&doc) {
        // `console` exists in the default config and sends no receipts: its receipt
        // route answers 404 `not_found` saying so, which proves it is routed.
        let path = o
            .path
            .replace("{id}", UNKNOWN_ID)
            .replace("{provider}", "console")
            .replace("{tenant}", "demo")
            .replace("{prefix}", "+14155550")
            .replace("{level}", "prefix")
            .replace("{key}", "+14155550");
        assert!(
            !path.contains('{'),
            "unexpected path parameter in {}",
            o.path
        );
        let r = gw.send(&o.method, &path, None).await;
        let receipts_answer = o.path.contains("{provider}")
            && r.body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("sends no delivery receipts");
        assert!(
            (r.code() != "not_found" || receipts_answer)
                && r.code() != "method_not_allowed"
                && r.status != 405,
            "{} {} is documented but the server does not route it: {r:?}",
            o.method,
            o.path
        );
        let documented: BTreeSet<String> = o.op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect();
        assert!(
            documented.contains(&r.status.to_string()),
            "{} {} answered {} which it does not document ({documented:?}): {r:?}",
            o.method,
            o.path,
            r.status
        );
        assert!(
            r.headers.contains_key("x-request-id"),
            "{} {}: no x-request-id",
            o.method,
            o.path
        );
    }
}

#[test]
fn problem_code_enum_is_exactly_the_codes_the_server_emits() {
    let doc = doc();
    let problem = schema(&doc, "Problem");
    let documented = string_set(&problem["properties"]["code"]["enum"], "Problem.code enum");
    let emitted: BTreeSet<String> = server_codes().into_keys().map(str::to_string).collect();
    let missing: Vec<_> = emitted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&emitted).collect();
    assert!(
        missing.is_empty(),
        "codes the server emits but Problem.code does not list: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "codes in Problem.code that no Error variant emits: {extra:?}"
    );
    let req = required(&doc, problem);
    for field in ["type", "title", "status", "code", "detail"] {
        assert!(req.contains(field), "Problem must require `{field}`");
    }
    let props = property_names(&doc, problem);
    for field in ["reason", "retry_after"] {
        assert!(props.contains(field), "Problem must declare `{field}`");
    }
}

#[test]
fn documented_statuses_are_statuses_the_server_can_produce() {
    let doc = doc();
    let codes = server_codes();
    let error_statuses: BTreeSet<u16> = codes.values().flatten().copied().collect();
    let retry_statuses: BTreeSet<u16> = every_error()
        .iter()
        .filter(|e| e.retry_after().is_some())
        .map(Error::http_status)
        .collect();
    assert!(!retry_statuses.is_empty());
    let global_security = doc.get("security").cloned().unwrap_or(Value::Null);

    for o in operations(&doc) {
        let name = format!("{} {}", o.method, o.path);
        let responses = o.op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no responses"));
        assert!(!responses.is_empty(), "{name}: no responses");
        for (status, resp) in responses {
            let s: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{name}: response `{status}` is not a status"));
            let resp = resolve(&doc, resp);
            let headers = resp.get("headers").and_then(Value::as_object);
            let has_header =
                |h: &str| headers.is_some_and(|hs| hs.keys().any(|k| k.eq_ignore_ascii_case(h)));
            assert!(
                has_header("x-request-id"),
                "{name} {status}: x-request-id header not documented"
            );
            let content = resp["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} {status}: no content"));
            if s == 200 || s == 201 {
                // Prometheus scrapes its own text format, the ops page is HTML; everything
                // else answers JSON.
                let want = match o.path.as_str() {
                    "/metrics" => "text/plain",
                    "/ops" => "text/html",
                    _ => "application/json",
                };
                assert!(content.contains_key(want), "{name} {status}: not {want}");
                continue;
            }
            // Auth servers' hooks answer in their hook contract's shape, not problem
            // documents (docs/hooks.md): the error object, `Retry-After` on 503 only.
            if o.path.starts_with("/v1/hooks/") {
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    vec!["application/json"],
                    "{name} {status}: hook answers are application/json"
                );
                let schema = &content["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/HookError",
                    "{name} {status}: a hook error is a HookError"
                );
                assert_eq!(has_header("Retry-After"), s == 503, "{name} {status}");
                continue;
            }
            assert!(
                error_statuses.contains(&s),
                "{name} documents {status}, which no Error variant produces (possible: {error_statuses:?})"
            );
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                vec!["application/problem+json"],
                "{name} {status}: errors are application/problem+json only"
            );
            let schema = response_schema(&doc, o.op, status, "application/problem+json");
            let props = properties(&doc, schema);
            assert!(
                props.contains_key("code"),
                "{name} {status}: schema is not a Problem"
            );
            assert!(
                schema["$ref"] == "#/components/schemas/Problem"
                    || schema["allOf"].as_array().is_some_and(|a| a
                        .iter()
                        .any(|p| p["$ref"] == "#/components/schemas/Problem")),
                "{name} {status}: the schema must be (or extend) components.schemas.Problem"
            );
            // A narrowed code list names only codes the server emits with this status.
            if let Some(en) = props["code"].get("enum") {
                for c in string_set(en, &format!("{name} {status} code enum")) {
                    let statuses = codes.get(c.as_str()).unwrap_or_else(|| {
                        panic!("{name} {status}: code `{c}` is not one the server emits")
                    });
                    assert!(
                        statuses.contains(&s),
                        "{name} {status}: code `{c}` comes with {statuses:?}, not {s}"
                    );
                }
            }
            if let Some(c) = props["status"].get("const") {
                assert_eq!(c, &json!(s), "{name} {status}: status const disagrees");
            }
            assert_eq!(
                has_header("Retry-After"),
                retry_statuses.contains(&s),
                "{name} {status}: Retry-After must be documented exactly on {retry_statuses:?}"
            );
        }
        let success: Vec<_> = responses.keys().filter(|k| k.starts_with('2')).collect();
        assert!(!success.is_empty(), "{name}: no success response");
        // Operations that need a key document 401.
        let security = o.op.get("security").unwrap_or(&global_security);
        let anonymous_ok = security
            .as_array()
            .is_none_or(|a| a.is_empty() || a.iter().any(|r| r == &json!({})));
        if !anonymous_ok {
            assert!(
                responses.contains_key("401"),
                "{name} requires an API key but does not document 401"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_schema_matches_real_responses() {
    let doc = doc();
    let verification = schema(&doc, "Verification");
    let declared = property_names(&doc, verification);
    let declared_required = required(&doc, verification);
    let delivery_schema = properties(&doc, verification)["delivery"];
    let delivery_declared = property_names(&doc, delivery_schema);

    // Every operation returning the resource points at this schema (check adds `valid`).
    for (method, path, status) in [
        ("post", "/v1/verifications", "200"),
        ("post", "/v1/verifications", "201"),
        ("get", "/v1/verifications/{id}", "200"),
        ("post", "/v1/verifications/{id}/cancel", "200"),
    ] {
        let s = response_schema(
            &doc,
            operation(&doc, method, path),
            status,
            "application/json",
        );
        assert_eq!(
            property_names(&doc, s),
            declared,
            "{method} {path} {status} does not return a Verification"
        );
    }
    let check_schema = response_schema(
        &doc,
        operation(&doc, "post", "/v1/verifications/check"),
        "200",
        "application/json",
    );
    let check_declared = property_names(&doc, check_schema);
    assert!(
        check_declared.contains("valid"),
        "the check response schema does not declare `valid`"
    );
    assert!(
        required(&doc, check_schema).contains("valid"),
        "the check response schema does not require `valid`"
    );
    assert_eq!(properties(&doc, check_schema)["valid"]["type"], "boolean");
    assert!(
        !declared.contains("valid"),
        "`valid` belongs to check responses only"
    );

    // Enums equal the domain's values.
    let status_enum = string_set(
        &properties(&doc, verification)["status"]["enum"],
        "Verification.status enum",
    );
    let domain: BTreeSet<String> = every_status()
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect();
    assert_eq!(
        status_enum, domain,
        "Verification.status enum differs from domain::Status"
    );
    let delivery_enum = string_set(
        &properties(&doc, delivery_schema)["status"]["enum"],
        "Verification.delivery.status enum",
    );
    let domain: BTreeSet<String> = every_delivery_status()
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect();
    assert_eq!(
        delivery_enum, domain,
        "delivery.status enum differs from domain::DeliveryStatus"
    );

    let gw = gateway().await;

    // A bare start: exactly the required fields.
    let bare = gw
        .post("/v1/verifications", json!({ "to": "+14155550123" }))
        .await;
    assert_eq!(bare.status, 201, "{bare:?}");
    assert_eq!(
        bare.keys(),
        declared_required,
        "a start response's keys differ from Verification's required fields"
    );
    assert!(bare.keys().is_subset(&declared));
    assert!(
        keys(&bare.body["delivery"]).is_subset(&delivery_declared),
        "delivery keys the schema does not declare"
    );
    assert_eq!(
        delivery_declared
            .difference(&keys(&bare.body["delivery"]))
            .collect::<Vec<_>>(),
        ["reason"],
        "only `reason` (with a failure) is optional in delivery"
    );
    assert_eq!(
        keys(&bare.body["delivery"]),
        required(&doc, delivery_schema),
        "delivery keys differ from required"
    );
    assert!(
        status_enum.contains(bare.body["status"].as_str().unwrap()),
        "{bare:?}"
    );
    assert!(
        delivery_enum.contains(bare.body["delivery"]["status"].as_str().unwrap()),
        "{bare:?}"
    );

    // A start naming every optional field shows every property.
    let full = gw
        .post(
            "/v1/verifications",
            json!({ "to": number(), "locale": "en", "metadata": {"k": "v"}, "workflow": "fallback" }),
        )
        .await;
    assert_eq!(full.status, 201, "{full:?}");
    assert_eq!(
        full.keys(),
        declared,
        "a start response's keys differ from Verification's properties"
    );
    let id = full.body["id"].as_str().unwrap().to_string();

    let got = gw
        .send("get", &format!("/v1/verifications/{id}"), None)
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        got.keys(),
        declared,
        "a GET response's keys differ from Verification's properties"
    );

    // A wrong check (10 digits cannot match a 6-digit code): the resource plus `valid`.
    let checked = gw
        .post(
            "/v1/verifications/check",
            json!({ "id": id, "code": "0000000000" }),
        )
        .await;
    assert_eq!(checked.status, 200, "{checked:?}");
    assert_eq!(checked.body["valid"], json!(false), "{checked:?}");
    assert_eq!(
        checked.keys(),
        check_declared,
        "a check response's keys differ from the check schema's properties"
    );

    let canceled = gw
        .post(&format!("/v1/verifications/{id}/cancel"), json!({}))
        .await;
    assert_eq!(canceled.status, 200, "{canceled:?}");
    assert_eq!(canceled.body["status"], "canceled");
    assert_eq!(
        canceled.keys(),
        declared,
        "a cancel response's keys differ from Verification's properties"
    );
}

/// Checks one request schema against the server: the documented properties are the
/// fields it accepts, and anything else is `400 invalid_request`.
async fn check_request_fields(
    gw: &Gateway,
    doc: &Value,
    path: &str,
    body_with: impl Fn(&str, Value) -> Value,
    accepted: impl Fn(&Resp) -> bool,
) {
    let schema = request_schema(doc, operation(doc, "post", path));
    assert_eq!(
        schema.get("additionalProperties"),
        Some(&json!(false)),
        "POST {path}: the request schema must say additionalProperties: false"
    );
    let description = schema["description"].as_str().unwrap_or("");
    assert!(
        description.contains("400 invalid_request") && description.contains("unknown"),
        "POST {path}: the request schema must say unknown fields are rejected with 400 invalid_request"
    );
    let documented = properties(doc, schema);
    assert!(!documented.is_empty());

    // An undocumented field is refused, and serde's message lists what the server takes.
    let r = gw
        .post(path, body_with("undocumented_field", json!("x")))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_request"),
        "POST {path} accepted an undocumented field: {r:?}"
    );
    assert!(r.detail().contains("unknown field"), "POST {path}: {r:?}");
    let accepted_by_server = expected_fields(r.detail());
    let names: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(
        names, accepted_by_server,
        "POST {path}: documented fields differ from the fields the server accepts"
    );

    // Each documented field, with its documented example, is accepted.
    for (name, prop) in &documented {
        let example = prop["examples"]
            .get(0)
            .unwrap_or_else(|| panic!("POST {path}: property `{name}` has no example"))
            .clone();
        let r = gw.post(path, body_with(name, example)).await;
        assert!(
            !r.detail().contains("unknown field"),
            "POST {path}: documented `{name}` is unknown to the server: {r:?}"
        );
        assert!(
            accepted(&r),
            "POST {path}: documented `{name}` with its example was not accepted: {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_fields_are_exactly_the_fields_the_server_accepts() {
    let doc = doc();
    let gw = gateway().await;

    // Start: a fresh number plus the field (the number replaced when the field is `to`).
    let start = |name: &str, value: Value| {
        let mut body = Map::new();
        body.insert("to".into(), json!(number()));
        if name != "to" {
            body.insert(name.into(), value);
        }
        Value::Object(body)
    };
    check_request_fields(&gw, &doc, "/v1/verifications", start, |r| r.status == 201).await;

    // Check: a code and a fresh number, or the field in place of the number when it is `id`.
    let check = |name: &str, value: Value| {
        let mut body = Map::new();
        body.insert("code".into(), json!("123456"));
        match name {
            "id" => {
                body.insert("id".into(), value);
            }
            "to" | "code" => {
                body.insert("to".into(), json!(number()));
                body.insert(name.into(), value);
            }
            other => {
                body.insert("to".into(), json!(number()));
                body.insert(other.into(), value);
            }
        }
        Value::Object(body)
    };
    // Nothing was started for these numbers or ids: accepted means it got as far as the store.
    let not_found = |r: &Resp| r.status == 404 && r.code() == "verification_not_found";
    check_request_fields(&gw, &doc, "/v1/verifications/check", check, not_found).await;

    // The documented header parameter is honoured and replayed as documented.
    let idem = resolve(&doc, &doc["components"]["parameters"]["IdempotencyKey"]);
    assert_eq!(idem["name"], "Idempotency-Key");
    assert_eq!(
        (
            idem["schema"]["minLength"].as_u64(),
            idem["schema"]["maxLength"].as_u64()
        ),
        (Some(1), Some(255))
    );
    let start_op = operation(&doc, "post", "/v1/verifications");
    assert!(
        start_op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| resolve(&doc, p)["name"] == "Idempotency-Key"),
        "start does not document Idempotency-Key"
    );
    let body = json!({ "to": number() });
    let send = |key: String| {
        gw.http
            .post(format!("http://{}/v1/verifications", gw.addr))
            .bearer_auth(DEMO_KEY)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let key = "k".repeat(255);
    let first = send(key.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let again = send(key).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let too_long = send("k".repeat(256)).await.unwrap();
    assert_eq!(
        too_long.status(),
        400,
        "a 256-character Idempotency-Key must be refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_schema_and_fields_match_the_server() {
    let doc = doc();
    let resource = schema(&doc, "CodeDelivery");
    let declared = property_names(&doc, resource);
    for (method, path, status) in [
        ("post", "/v1/deliveries", "201"),
        ("get", "/v1/deliveries/{id}", "200"),
        ("post", "/v1/deliveries/{id}/confirm", "200"),
    ] {
        let op = operation(&doc, method, path);
        let s = response_schema(&doc, op, status, "application/json");
        assert_eq!(
            property_names(&doc, s),
            declared,
            "{method} {path} {status} does not return a CodeDelivery"
        );
    }
    let gw = gateway().await;
    let bare = gw
        .post("/v1/deliveries", json!({"to": number(), "code": "4829"}))
        .await;
    assert_eq!(bare.status, 201, "{bare:?}");
    assert_eq!(bare.keys(), required(&doc, resource), "{bare:?}");
    let full = gw
        .post(
            "/v1/deliveries",
            json!({"to": number(), "code": "482913", "locale": "en",
                   "template": "default", "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(full.status, 201, "{full:?}");
    assert_eq!(full.keys(), declared, "{full:?}");
    let id = full.body["id"].as_str().unwrap().to_string();
    let got = gw.send("get", &format!("/v1/deliveries/{id}"), None).await;
    assert_eq!((got.status, got.keys()), (200, declared.clone()));
    let confirmed = gw
        .post(&format!("/v1/deliveries/{id}/confirm"), json!({}))
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(confirmed.keys(), declared);
    assert_eq!(confirmed.body["confirmed"], json!(true));

    let body_with = |name: &str, value: Value| {
        let mut body = Map::new();
        body.insert("to".into(), json!(number()));
        body.insert("code".into(), json!("482913"));
        body.insert(name.into(), value);
        if name == "to" {
            body.insert("to".into(), json!(number()));
        }
        Value::Object(body)
    };
    check_request_fields(&gw, &doc, "/v1/deliveries", body_with, |r| r.status == 201).await;
}
