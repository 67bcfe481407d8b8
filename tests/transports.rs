//! One list of behavioural scenarios run over both transports, HTTP and gRPC, against the
//! same gateway: the two must be the same service (same answers, same contract `code`s,
//! same retry hints), not two services. Delivery-only sends (`/v1/deliveries` and
//! `Deliver`, `GetDelivery`, `ConfirmDelivery`) included.

mod support;

use otpgw::api::grpc::pb;
use otpgw::api::grpc::pb::verifications_client::VerificationsClient;
use serde_json::{json, Value};
use support::app::{number, wrong};
use support::{spawn_app, Backend, TestApp};
use tonic::Code;
use tonic_types::StatusExt;

/// Which transport a scenario speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum T {
    Http,
    Grpc,
}

/// What a call returned, in transport-neutral terms.
#[derive(Debug)]
struct Out {
    /// The verification, as the JSON view, on success.
    ok: Option<Value>,
    /// The contract `code` on failure.
    code: String,
    /// HTTP status, or the gRPC code as a number.
    status: i32,
    reason: Option<String>,
    retry_after: Option<u64>,
}

impl Out {
    fn v(&self) -> &Value {
        self.ok
            .as_ref()
            .unwrap_or_else(|| panic!("expected success, got {self:?}"))
    }
    /// Asserts a failure with the contract `code` and HTTP status, and the gRPC code the
    /// one mapping gives that status.
    fn err(&self, t: T, code: &str, http: u16) -> &Self {
        assert!(self.ok.is_none(), "expected {code}, got {self:?}");
        assert_eq!(self.code, code, "{self:?}");
        let want = match t {
            T::Http => http as i32,
            T::Grpc => grpc_for(http) as i32,
        };
        assert_eq!(self.status, want, "{t:?} status for {code}");
        self
    }
}

fn grpc_for(http: u16) -> Code {
    match http {
        400 | 405 | 413 | 415 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}

struct Client<'a> {
    app: &'a TestApp,
    t: T,
    key: String,
}

fn enum_name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_ascii_lowercase()
}

fn ts(t: Option<prost_types::Timestamp>) -> Value {
    let t = t.expect("timestamp set");
    json!(otpgw::domain::rfc3339(t.seconds * 1000))
}

fn pb_to_json(v: pb::Verification) -> Value {
    let status = pb::VerificationStatus::try_from(v.status)
        .unwrap()
        .as_str_name();
    let d = v.delivery.expect("delivery set");
    let dstatus = pb::DeliveryStatus::try_from(d.status)
        .unwrap()
        .as_str_name();
    let mut out = json!({
        "id": v.id, "to": v.to, "channel": v.channel,
        "status": enum_name(status, "VERIFICATION_STATUS_"),
        "created_at": ts(v.created_at), "expires_at": ts(v.expires_at),
        "send_count": v.send_count, "sends_remaining": v.sends_remaining,
        "next_resend_at": ts(v.next_resend_at),
        "check_attempts_remaining": v.check_attempts_remaining,
        "delivery": {"status": enum_name(dstatus, "DELIVERY_STATUS_"), "provider": d.provider, "updated_at": ts(d.updated_at)},
        "metadata": otpgw::api::grpc::struct_to_json(v.metadata.unwrap_or_default()),
    });
    if let Some(l) = v.locale {
        out["locale"] = json!(l);
    }
    if let Some(valid) = v.valid {
        out["valid"] = json!(valid);
    }
    if let Some(w) = v.workflow {
        let steps: Vec<Value> = w
            .steps
            .into_iter()
            .map(|s| {
                let st = pb::DeliveryStatus::try_from(s.status)
                    .unwrap()
                    .as_str_name();
                json!({"channel": s.channel, "status": enum_name(st, "DELIVERY_STATUS_"),
                       "provider": s.provider, "next_because": s.next_because})
            })
            .collect();
        out["workflow"] = json!({"name": w.name, "current_step": w.current_step, "steps": steps});
    }
    out
}

impl<'a> Client<'a> {
    fn new(app: &'a TestApp, t: T) -> Self {
        Client {
            app,
            t,
            key: app.key.clone(),
        }
    }

    fn with_key(&self, key: &str) -> Self {
        Client {
            app: self.app,
            t: self.t,
            key: key.to_string(),
        }
    }

    async fn grpc(&self) -> VerificationsClient<tonic::transport::Channel> {
        let addr = self.app.grpc_addr.expect("gRPC enabled");
        VerificationsClient::connect(format!("http://{addr}"))
            .await
            .unwrap()
    }

    fn req<M>(&self, m: M, idem: Option<&str>) -> tonic::Request<M> {
        let mut r = tonic::Request::new(m);
        if !self.key.is_empty() {
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {}", self.key).parse().unwrap(),
            );
        }
        if let Some(k) = idem {
            r.metadata_mut()
                .insert("idempotency-key", k.parse().unwrap());
        }
        r
    }

    fn from_grpc(r: Result<tonic::Response<pb::Verification>, tonic::Status>) -> Out {
        Self::from_grpc_as(r, pb_to_json)
    }

    fn from_grpc_as<M>(
        r: Result<tonic::Response<M>, tonic::Status>,
        to_json: impl FnOnce(M) -> Value,
    ) -> Out {
        match r {
            Ok(v) => Out {
                ok: Some(to_json(v.into_inner())),
                code: String::new(),
                status: 0,
                reason: None,
                retry_after: None,
            },
            Err(s) => {
                let details = s.get_error_details();
                let info = details.error_info().expect("ErrorInfo in every error");
                assert_eq!(info.domain, "otpgw");
                let retry_after = info.metadata.get("retry_after").map(|v| v.parse().unwrap());
                if let Some(secs) = retry_after {
                    let ri = details.retry_info().expect("RetryInfo with retry_after");
                    assert_eq!(ri.retry_delay, Some(std::time::Duration::from_secs(secs)));
                    assert_eq!(
                        s.metadata().get("retry-after").unwrap().to_str().unwrap(),
                        secs.to_string()
                    );
                }
                Out {
                    ok: None,
                    code: info.reason.clone(),
                    status: s.code() as i32,
                    reason: info.metadata.get("reason").cloned(),
                    retry_after,
                }
            }
        }
    }

    async fn from_http(req: reqwest::RequestBuilder) -> Out {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16() as i32;
        let header = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let body: Value = r.json().await.unwrap();
        if status < 300 {
            return Out {
                ok: Some(body),
                code: String::new(),
                status,
                reason: None,
                retry_after: None,
            };
        }
        assert_eq!(
            body["retry_after"].as_u64(),
            header,
            "header and body agree"
        );
        Out {
            ok: None,
            code: body["code"].as_str().unwrap().to_string(),
            status,
            reason: body["reason"].as_str().map(str::to_string),
            retry_after: header,
        }
    }

    fn http(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = reqwest::Client::new().request(method, self.app.url(path));
        if self.key.is_empty() {
            r
        } else {
            r.bearer_auth(&self.key)
        }
    }

    async fn start_with(&self, body: Value, idem: Option<&str>) -> Out {
        match self.t {
            T::Http => {
                let mut r = self
                    .http(reqwest::Method::POST, "/v1/verifications")
                    .json(&body);
                if let Some(k) = idem {
                    r = r.header("idempotency-key", k);
                }
                Self::from_http(r).await
            }
            T::Grpc => {
                let m = pb::StartRequest {
                    to: body["to"].as_str().unwrap_or_default().to_string(),
                    channel: body["channel"].as_str().map(str::to_string),
                    workflow: body["workflow"].as_str().map(str::to_string),
                    locale: body["locale"].as_str().map(str::to_string),
                    code_length: body["code_length"].as_u64().map(|n| n as u32),
                    metadata: body.get("metadata").map(otpgw::api::grpc::json_to_struct),
                    ..Default::default()
                };
                Self::from_grpc(self.grpc().await.start(self.req(m, idem)).await)
            }
        }
    }

    async fn start(&self, to: &str) -> Out {
        self.start_with(json!({ "to": to }), None).await
    }

    async fn check(&self, target: (&str, &str), code: &str) -> Out {
        match self.t {
            T::Http => {
                let body = json!({ target.0: target.1, "code": code });
                Self::from_http(
                    self.http(reqwest::Method::POST, "/v1/verifications/check")
                        .json(&body),
                )
                .await
            }
            T::Grpc => {
                use pb::check_request::Target;
                let t = if target.0 == "to" {
                    Target::To(target.1.into())
                } else {
                    Target::Id(target.1.into())
                };
                let m = pb::CheckRequest {
                    target: Some(t),
                    code: code.into(),
                    ..Default::default()
                };
                Self::from_grpc(self.grpc().await.check(self.req(m, None)).await)
            }
        }
    }

    async fn get(&self, id: &str) -> Out {
        match self.t {
            T::Http => {
                Self::from_http(self.http(reqwest::Method::GET, &format!("/v1/verifications/{id}")))
                    .await
            }
            T::Grpc => {
                let m = pb::GetRequest { id: id.into() };
                Self::from_grpc(self.grpc().await.get(self.req(m, None)).await)
            }
        }
    }

    async fn cancel(&self, id: &str) -> Out {
        match self.t {
            T::Http => {
                Self::from_http(self.http(
                    reqwest::Method::POST,
                    &format!("/v1/verifications/{id}/cancel"),
                ))
                .await
            }
            T::Grpc => {
                let m = pb::CancelRequest { id: id.into() };
                Self::from_grpc(self.grpc().await.cancel(self.req(m, None)).await)
            }
        }
    }

    async fn next_step(&self, id: &str) -> Out {
        match self.t {
            T::Http => {
                Self::from_http(self.http(
                    reqwest::Method::POST,
                    &format!("/v1/verifications/{id}/next"),
                ))
                .await
            }
            T::Grpc => {
                let m = pb::NextStepRequest { id: id.into() };
                Self::from_grpc(self.grpc().await.next_step(self.req(m, None)).await)
            }
        }
    }
}

/// A `CodeDelivery` as the JSON body of `/v1/deliveries`.
fn delivery_to_json(v: pb::CodeDelivery) -> Value {
    let d = v.delivery.expect("delivery set");
    let dstatus = pb::DeliveryStatus::try_from(d.status)
        .unwrap()
        .as_str_name();
    let mut out = json!({
        "id": v.id, "to": v.to, "channel": v.channel,
        "created_at": ts(v.created_at), "expires_at": ts(v.expires_at),
        "confirmed": v.confirmed,
        "delivery": {"status": enum_name(dstatus, "DELIVERY_STATUS_"), "provider": d.provider, "updated_at": ts(d.updated_at)},
        "metadata": otpgw::api::grpc::struct_to_json(v.metadata.unwrap_or_default()),
    });
    if let Some(l) = v.locale {
        out["locale"] = json!(l);
    }
    if let Some(t) = v.template {
        out["template"] = json!(t);
    }
    out
}

impl Client<'_> {
    async fn deliver(&self, body: Value, idem: Option<&str>) -> Out {
        match self.t {
            T::Http => {
                let mut r = self
                    .http(reqwest::Method::POST, "/v1/deliveries")
                    .json(&body);
                if let Some(k) = idem {
                    r = r.header("idempotency-key", k);
                }
                Self::from_http(r).await
            }
            T::Grpc => {
                let m = pb::DeliverRequest {
                    to: body["to"].as_str().unwrap_or_default().to_string(),
                    code: body["code"].as_str().unwrap_or_default().to_string(),
                    locale: body["locale"].as_str().map(str::to_string),
                    template: body["template"].as_str().map(str::to_string),
                    metadata: body.get("metadata").map(otpgw::api::grpc::json_to_struct),
                    ..Default::default()
                };
                let r = self.grpc().await.deliver(self.req(m, idem)).await;
                Self::from_grpc_as(r, delivery_to_json)
            }
        }
    }

    async fn get_delivery(&self, id: &str) -> Out {
        match self.t {
            T::Http => {
                Self::from_http(self.http(reqwest::Method::GET, &format!("/v1/deliveries/{id}")))
                    .await
            }
            T::Grpc => {
                let m = pb::GetDeliveryRequest { id: id.into() };
                let r = self.grpc().await.get_delivery(self.req(m, None)).await;
                Self::from_grpc_as(r, delivery_to_json)
            }
        }
    }

    async fn confirm_delivery(&self, id: &str, session: Option<&str>) -> Out {
        match self.t {
            T::Http => {
                let body = match session {
                    Some(s) => json!({"risk_context": {"session_id": s}}),
                    None => json!({}),
                };
                Self::from_http(
                    self.http(
                        reqwest::Method::POST,
                        &format!("/v1/deliveries/{id}/confirm"),
                    )
                    .json(&body),
                )
                .await
            }
            T::Grpc => {
                let m = pb::ConfirmDeliveryRequest {
                    id: id.into(),
                    risk_context: session.map(|s| pb::RiskContext {
                        session_id: Some(s.into()),
                        ..Default::default()
                    }),
                };
                let r = self.grpc().await.confirm_delivery(self.req(m, None)).await;
                Self::from_grpc_as(r, delivery_to_json)
            }
        }
    }
}

macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        mod http {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::T::Http).await } )*
        }
        mod grpc {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::T::Grpc).await } )*
        }
    };
}

on_both_transports!(
    start_wrong_then_right_code,
    resend_keeps_id_and_code,
    resend_inside_cooldown_is_rate_limited,
    attempts_run_out,
    cancel_then_check_is_not_found,
    get_reads_what_start_returned,
    bad_input_is_rejected_with_the_contract_codes,
    missing_and_wrong_keys_are_unauthenticated,
    store_down_is_unavailable_with_retry_hint,
    idempotency_replays_and_conflicts,
    a_delivery_is_sent_read_and_confirmed,
    delivery_errors_carry_the_contract_codes,
    a_delivery_replays_under_its_idempotency_key,
    a_workflow_and_a_channel_work_the_same_over_either_transport,
);

async fn a_workflow_and_a_channel_work_the_same_over_either_transport(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let s = c
        .start_with(json!({"to": to, "workflow": "fallback"}), None)
        .await;
    let v = s.v();
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["workflow"]["name"], "fallback");
    assert_eq!(v["workflow"]["steps"].as_array().unwrap().len(), 3);
    let id = v["id"].as_str().unwrap().to_string();
    let n = c.next_step(&id).await;
    assert_eq!(n.v()["channel"], "whatsapp");
    assert_eq!(n.v()["workflow"]["current_step"], 1);
    c.next_step(&id).await;
    c.next_step(&id).await.err(t, "no_next_step", 409);
    c.next_step("vrf_0000000000000000000000000000")
        .await
        .err(t, "verification_not_found", 404);
    let mail = c
        .start_with(json!({"to": "ann@example.com", "channel": "email"}), None)
        .await;
    assert_eq!(mail.v()["channel"], "email");
    c.start_with(json!({"to": "ann@example.com", "channel": "sms"}), None)
        .await
        .err(t, "invalid_phone_number", 400);
    c.start_with(json!({"to": number(), "channel": "email"}), None)
        .await
        .err(t, "invalid_email", 400);
}

async fn app(tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    spawn_app(Backend::Memory, tweak).await
}

async fn start_wrong_then_right_code(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let s = c.start(&to).await;
    assert_eq!(s.v()["status"], "pending");
    assert_eq!(s.v()["send_count"], 1);
    let code = app.code_for(&to).await;
    let w = c.check(("to", &to), &wrong(&code)).await;
    assert_eq!(w.v()["valid"], false);
    assert_eq!(w.v()["check_attempts_remaining"], 4);
    let r = c.check(("id", s.v()["id"].as_str().unwrap()), &code).await;
    assert_eq!(r.v()["valid"], true);
    assert_eq!(r.v()["status"], "approved");
    c.check(("to", &to), &code)
        .await
        .err(t, "verification_not_found", 404);
}

async fn resend_keeps_id_and_code(t: T) {
    let app = app(|c| c.tenants.get_mut("demo").unwrap().resend_cooldown_secs = 0).await;
    let c = Client::new(&app, t);
    let to = number();
    let first = c.start(&to).await;
    let code = app.code_for(&to).await;
    let second = c.start(&to).await;
    assert_eq!(second.v()["id"], first.v()["id"]);
    assert_eq!(second.v()["send_count"], 2);
    assert_eq!(c.check(("to", &to), &code).await.v()["valid"], true);
}

async fn resend_inside_cooldown_is_rate_limited(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    c.start(&to).await.v();
    let r = c.start(&to).await;
    r.err(t, "rate_limited", 429);
    assert_eq!(r.reason.as_deref(), Some("resend_cooldown"));
    assert!(matches!(r.retry_after, Some(29..=30)), "{r:?}");
}

async fn attempts_run_out(t: T) {
    let app = app(|c| c.tenants.get_mut("demo").unwrap().max_check_attempts = 2).await;
    let c = Client::new(&app, t);
    let to = number();
    c.start(&to).await.v();
    let code = app.code_for(&to).await;
    c.check(("to", &to), &wrong(&code)).await.v();
    let last = c.check(("to", &to), &wrong(&code)).await;
    assert_eq!(last.v()["status"], "max_attempts_reached");
    let after = c.check(("to", &to), &code).await;
    after.err(t, "max_attempts_reached", 429);
    assert!(after.retry_after.is_some());
}

async fn cancel_then_check_is_not_found(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let id = c.start(&to).await.v()["id"].as_str().unwrap().to_string();
    let code = app.code_for(&to).await;
    assert_eq!(c.cancel(&id).await.v()["status"], "canceled");
    c.check(("id", &id), &code)
        .await
        .err(t, "verification_not_found", 404);
    c.cancel("vrf_0000000000000000000000000000")
        .await
        .err(t, "verification_not_found", 404);
}

async fn get_reads_what_start_returned(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let body = json!({"to": to, "locale": "de", "metadata": {"user": 7, "tags": ["a", "b"]}});
    let s = c.start_with(body, None).await;
    let id = s.v()["id"].as_str().unwrap();
    let g = c.get(id).await;
    let mut a = s.v().clone();
    let mut b = g.v().clone();
    a.as_object_mut().unwrap().remove("delivery");
    b.as_object_mut().unwrap().remove("delivery");
    assert_eq!(a, b, "get returns the same resource");
    assert_eq!(g.v()["metadata"], json!({"user": 7, "tags": ["a", "b"]}));
    assert_eq!(g.v()["locale"], "de");
    c.get("vrf_ffff0000000000000000000000ff")
        .await
        .err(t, "verification_not_found", 404);
    c.get("vrf_%2e%2e")
        .await
        .err(t, "verification_not_found", 404);
}

async fn bad_input_is_rejected_with_the_contract_codes(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    c.start("14155550123")
        .await
        .err(t, "invalid_phone_number", 400);
    c.start("+1415555012a")
        .await
        .err(t, "invalid_phone_number", 400);
    c.start("").await.err(t, "invalid_phone_number", 400);
    c.start_with(json!({"to": number(), "channel": "fax"}), None)
        .await
        .err(t, "unsupported_channel", 400);
    c.start_with(json!({"to": number(), "code_length": 3}), None)
        .await
        .err(t, "invalid_request", 400);
    c.start_with(json!({"to": number(), "locale": "not a locale"}), None)
        .await
        .err(t, "invalid_request", 400);
    let to = number();
    c.start(&to).await.v();
    c.check(("to", &to), "12ab56")
        .await
        .err(t, "invalid_code_format", 400);
    c.check(("to", &to), "123")
        .await
        .err(t, "invalid_code_format", 400);
    c.check(("to", "+1"), "123456")
        .await
        .err(t, "invalid_phone_number", 400);
    app.code_for(&to).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        app.outbox().await.len() == 1,
        "only the valid start sent anything"
    );
}

async fn missing_and_wrong_keys_are_unauthenticated(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    c.with_key("")
        .start(&number())
        .await
        .err(t, "unauthorized", 401);
    c.with_key("otpgw_wrong")
        .start(&number())
        .await
        .err(t, "unauthorized", 401);
    c.with_key("otpgw_wrong")
        .get("vrf_0000000000000000000000000000")
        .await
        .err(t, "unauthorized", 401);
    assert!(app.outbox().await.is_empty());
}

async fn store_down_is_unavailable_with_retry_hint(t: T) {
    let server = support::redis::RedisServer::start();
    server.stop();
    let url = server.url();
    let app = app(move |c| {
        c.store.kind = otpgw::config::StoreKind::Redis;
        c.store.redis.url = otpgw::config::Secret(url);
        c.store.redis.connect_timeout_ms = 200;
    })
    .await;
    let c = Client::new(&app, t);
    let r = c.start(&number()).await;
    r.err(t, "store_unavailable", 503);
    assert!(r.retry_after.is_some());
    c.check(("to", &number()), "123456")
        .await
        .err(t, "store_unavailable", 503);
}

async fn idempotency_replays_and_conflicts(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let first = c.start_with(json!({"to": to}), Some("idem-1")).await;
    let again = c.start_with(json!({"to": to}), Some("idem-1")).await;
    assert_eq!(again.v(), first.v(), "replayed");
    c.start_with(json!({"to": to, "locale": "fr"}), Some("idem-1"))
        .await
        .err(t, "idempotency_conflict", 409);
    app.code_for(&to).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.messages_to(&to).await.len(),
        1,
        "the replay sent nothing"
    );
}

async fn a_delivery_is_sent_read_and_confirmed(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let body = json!({"to": to, "code": "482913", "locale": "en", "metadata": {"u": 7}});
    let d = c.deliver(body, None).await;
    let id = d.v()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("dlv_"), "{id}");
    assert_eq!(
        (&d.v()["to"], &d.v()["confirmed"], &d.v()["locale"]),
        (&json!(to), &json!(false), &json!("en"))
    );
    assert_eq!(d.v()["metadata"], json!({"u": 7}));
    assert_eq!(app.code_for(&to).await, "482913", "the code as supplied");
    let read = c.get_delivery(&id).await;
    assert_eq!((&read.v()["id"], &read.v()["to"]), (&json!(id), &json!(to)));
    for session in [Some("s-1"), None] {
        let done = c.confirm_delivery(&id, session).await;
        assert_eq!(done.v()["confirmed"], true, "{done:?}");
    }
    assert_eq!(c.get_delivery(&id).await.v()["confirmed"], true);
}

async fn delivery_errors_carry_the_contract_codes(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let vrf = c.start(&number()).await.v()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for id in ["dlv_00000000000000000000000000000000", "junk", &vrf] {
        c.get_delivery(id).await.err(t, "delivery_not_found", 404);
        c.confirm_delivery(id, None)
            .await
            .err(t, "delivery_not_found", 404);
    }
    let bad = |code: &str| json!({"to": number(), "code": code});
    for code in ["12ab34", "123", "12345678901"] {
        c.deliver(bad(code), None)
            .await
            .err(t, "invalid_code_format", 400);
    }
    c.deliver(json!({"to": "+1", "code": "123456"}), None)
        .await
        .err(t, "invalid_phone_number", 400);
    c.with_key("")
        .deliver(bad("123456"), None)
        .await
        .err(t, "unauthorized", 401);
    let d = c.deliver(bad("123456"), None).await;
    let id = d.v()["id"].as_str().unwrap();
    let bad_risk = match t {
        T::Http => {
            Client::from_http(
                c.http(
                    reqwest::Method::POST,
                    &format!("/v1/deliveries/{id}/confirm"),
                )
                .json(&json!({"risk_context": {"session_id": ""}})),
            )
            .await
        }
        T::Grpc => c.confirm_delivery(id, Some("")).await,
    };
    bad_risk.err(t, "invalid_request", 400);
}

async fn a_delivery_replays_under_its_idempotency_key(t: T) {
    let app = app(|_| {}).await;
    let c = Client::new(&app, t);
    let to = number();
    let body = json!({"to": to, "code": "975310"});
    let first = c.deliver(body.clone(), Some("dk-1")).await;
    let again = c.deliver(body, Some("dk-1")).await;
    assert_eq!(again.v()["id"], first.v()["id"]);
    assert_eq!(again.v()["to"], json!(to), "filled in from the live record");
    c.deliver(json!({"to": number(), "code": "975310"}), Some("dk-1"))
        .await
        .err(t, "idempotency_conflict", 409);
    app.code_for(&to).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.messages_to(&to).await.len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_made_over_http_is_confirmed_over_grpc() {
    let app = app(|_| {}).await;
    let to = number();
    let d = Client::new(&app, T::Http)
        .deliver(json!({"to": to, "code": "246802"}), None)
        .await;
    let id = d.v()["id"].as_str().unwrap();
    let g = Client::new(&app, T::Grpc);
    assert_eq!(g.get_delivery(id).await.v()["to"], json!(to));
    assert_eq!(g.confirm_delivery(id, None).await.v()["confirmed"], true);
    let h = Client::new(&app, T::Http).get_delivery(id).await;
    assert_eq!(h.v()["confirmed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_started_over_http_is_checked_over_grpc() {
    let app = app(|_| {}).await;
    let to = number();
    let s = Client::new(&app, T::Http).start(&to).await;
    let code = app.code_for(&to).await;
    let r = Client::new(&app, T::Grpc).check(("to", &to), &code).await;
    assert_eq!(r.v()["id"], s.v()["id"]);
    assert_eq!(r.v()["valid"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_is_shared_across_transports() {
    let app = app(|_| {}).await;
    let to = number();
    let h = Client::new(&app, T::Http)
        .start_with(json!({"to": to}), Some("cross-1"))
        .await;
    let g = Client::new(&app, T::Grpc)
        .start_with(json!({"to": to}), Some("cross-1"))
        .await;
    assert_eq!(
        g.v(),
        h.v(),
        "the same request over gRPC replays the HTTP answer"
    );
}

async fn channel(app: &TestApp) -> tonic::transport::Channel {
    let uri = format!("http://{}", app.grpc_addr.unwrap());
    tonic::transport::Endpoint::from_shared(uri)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_follows_store_readiness() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let server = support::redis::RedisServer::start();
    let url = server.url();
    let app = app(move |c| {
        c.store.kind = otpgw::config::StoreKind::Redis;
        c.store.redis.url = otpgw::config::Secret(url);
    })
    .await;
    let mut h = HealthClient::new(channel(&app).await);
    let status = |svc: &str| HealthCheckRequest {
        service: svc.into(),
    };
    let t = std::time::Instant::now();
    loop {
        let s = h
            .check(status("otpgw.v1.Verifications"))
            .await
            .unwrap()
            .into_inner()
            .status;
        if s == ServingStatus::Serving as i32 {
            break;
        }
        assert!(t.elapsed().as_secs() < 5, "never SERVING");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop();
    let t = std::time::Instant::now();
    loop {
        let s = h.check(status("")).await.unwrap().into_inner().status;
        if s == ServingStatus::NotServing as i32 {
            break;
        }
        assert!(
            t.elapsed().as_secs() < 5,
            "still SERVING with the store down"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A reflection test for one version of the protocol: the service list names ours.
macro_rules! reflection_lists_the_service {
    ($name:ident, $version:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            use tonic_reflection::pb::$version::ServerReflectionRequest;
            let app = app(|_| {}).await;
            let mut r = ServerReflectionClient::new(channel(&app).await);
            let req = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut stream = r
                .server_reflection_info(tokio_stream::iter(vec![req]))
                .await
                .expect("reflection is served in this version")
                .into_inner();
            let resp = stream.message().await.unwrap().unwrap();
            let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
                panic!("{resp:?}")
            };
            let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            assert!(
                names.contains(&"otpgw.v1.Verifications".to_string()),
                "{names:?}"
            );
        }
    };
}

reflection_lists_the_service!(grpc_reflection_lists_the_service, v1);
// Clients that still speak `grpc.reflection.v1alpha` (Python's grpcio reflection, older
// command-line tools) get the same answer as v1 clients.
reflection_lists_the_service!(grpc_reflection_v1alpha_lists_the_service_too, v1alpha);

fn proto_fields(message: &str) -> Vec<String> {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let file = fds.file.iter().find(|f| f.package() == "otpgw.v1").unwrap();
    let m = file
        .message_type
        .iter()
        .find(|m| m.name() == message)
        .unwrap();
    let mut names: Vec<String> = m.field.iter().map(|f| f.name().to_string()).collect();
    names.sort();
    names
}

fn json_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto_messages_mirror_the_json_contract_field_for_field() {
    let app = app(|_| {}).await;
    let c = Client::new(&app, T::Http);
    let to = number();
    let s = c
        .start_with(
            json!({"to": to, "locale": "en", "metadata": {"a": 1}, "workflow": "fallback"}),
            None,
        )
        .await;
    // a step that is over shows every field a step has
    let id = s.v()["id"].as_str().unwrap().to_string();
    let next = app
        .post(&format!("/v1/verifications/{id}/next"), json!({}))
        .await;
    assert_eq!(next.status, 200, "{}", next.text);
    let code = app.code_for(&to).await;
    let checked = c.check(("to", &to), &code).await;
    let view = checked.v();
    assert_eq!(
        proto_fields("Verification"),
        json_keys(view),
        "Verification vs the JSON body"
    );
    assert_eq!(proto_fields("WorkflowState"), json_keys(&view["workflow"]));
    assert_eq!(
        proto_fields("WorkflowStep"),
        json_keys(&view["workflow"]["steps"][0]),
        "a step that is over"
    );
    // `reason` comes only with a failed or undelivered message.
    let mut delivery = json_keys(&view["delivery"]);
    delivery.push("reason".into());
    delivery.sort();
    assert_eq!(proto_fields("Delivery"), delivery);
    let start_fields =
        json_keys(&serde_json::to_value(otpgw::api::common::RawStart::default()).unwrap());
    assert_eq!(
        proto_fields("StartRequest"),
        start_fields,
        "StartRequest vs the start body"
    );
    assert_eq!(
        proto_fields("CheckRequest"),
        [
            "client_ip",
            "client_session",
            "code",
            "id",
            "risk_context",
            "to"
        ]
    );
    let risk = json_keys(&serde_json::to_value(otpgw::api::common::RawRisk::default()).unwrap());
    assert_eq!(
        proto_fields("RiskContext"),
        risk,
        "RiskContext vs the JSON object"
    );
    assert_eq!(proto_fields("GetRequest"), ["id"]);
    assert!(s.ok.is_some());
    // Delivery-only sends: the same fields as the JSON contract.
    let d = c
        .deliver(
            json!({"to": number(), "code": "123456", "locale": "en", "template": "default"}),
            None,
        )
        .await;
    let mut with_template = json_keys(d.v());
    with_template.sort();
    assert_eq!(proto_fields("CodeDelivery"), with_template);
    let raw =
        json_keys(&serde_json::to_value(otpgw::api::deliveries::RawDelivery::default()).unwrap());
    assert_eq!(proto_fields("DeliverRequest"), raw);
    assert_eq!(proto_fields("GetDeliveryRequest"), ["id"]);
    assert_eq!(
        proto_fields("ConfirmDeliveryRequest"),
        ["id", "risk_context"]
    );
}
