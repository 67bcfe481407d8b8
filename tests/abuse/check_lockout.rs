//! Failed checks per (number, client) and per number: an attacker who knows a number
//! uses up its own client's quota, not the real user's; many clients together meet the
//! number's ceiling; a check that names no client counts only against the number. Both
//! limits slide (GCRA), so a refusal waits `3600 / limit` s, not the rest of an hour.

use super::support::app::{extract_code, wrong, Resp, TestApp};
use super::support::{spawn_app, Backend};
use serde_json::{json, Value};

const ATTACKER: &str = "203.0.113.66";
const REAL_USER: &str = "198.51.100.23";

/// What a check answered: status and `reason`.
type Answer = (u16, Option<String>);

fn answer(r: &Resp) -> Answer {
    (r.status, r.body["reason"].as_str().map(str::to_string))
}

fn wrong_code() -> Answer {
    (200, None)
}

fn refused(reason: &str) -> Answer {
    (429, Some(reason.to_string()))
}

async fn app_with(b: Backend, number: u32, client: u32) -> TestApp {
    spawn_app(b, move |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.resend_cooldown_secs = 0;
        t.number_failed_checks_per_hour = number;
        t.client_failed_checks_per_hour = client;
    })
    .await
}

/// A number under attack: the code of its newest verification while that one still
/// has attempts left.
struct Target<'a> {
    app: &'a TestApp,
    to: String,
    code: Option<String>,
}

impl<'a> Target<'a> {
    fn new(app: &'a TestApp) -> Self {
        Target {
            app,
            to: super::support::app::number(),
            code: None,
        }
    }

    /// The current code, from a new verification when the last has no attempts left.
    async fn code(&mut self) -> String {
        if let Some(c) = &self.code {
            return c.clone();
        }
        let before = self.app.messages_to(&self.to).await.len();
        let r = self.app.start(&self.to).await;
        assert_eq!(r.status, 201, "{}", r.text);
        for _ in 0..300 {
            let m = self.app.messages_to(&self.to).await;
            if m.len() > before {
                let c = extract_code(&m[0]);
                self.code = Some(c.clone());
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no message to {}", self.to);
    }

    /// A check of `code` with `client` (`client_ip`, `client_session`) in the body.
    async fn check(&mut self, code: &str, client: &Value) -> Resp {
        let mut body = json!({"to": self.to, "code": code});
        let fields = client.as_object().unwrap().clone();
        body.as_object_mut().unwrap().extend(fields);
        let r = self.app.post("/v1/verifications/check", body).await;
        let finished = r.status == 200 && r.body["status"] != "pending";
        if finished || r.code() == "max_attempts_reached" {
            self.code = None;
        }
        r
    }

    /// `n` wrong codes from `client`, as an attacker sends them.
    async fn wrong_checks(&mut self, client: Value, n: usize) -> Vec<Answer> {
        let mut out = Vec::new();
        for _ in 0..n {
            let code = wrong(&self.code().await);
            let r = self.check(&code, &client).await;
            assert!(matches!(r.status, 200 | 429), "{}", r.text);
            if r.status == 200 {
                assert_eq!(r.body["valid"], false, "{}", r.text);
            }
            out.push(answer(&r));
        }
        out
    }

    /// The right code from `client`.
    async fn right_check(&mut self, client: Value) -> Resp {
        let code = self.code().await;
        self.check(&code, &client).await
    }
}

fn retry_after(r: &Resp) -> u64 {
    r.header("retry-after").unwrap().parse().unwrap()
}

/// The finding: 15 wrong codes used to lock the number's checks for an hour, whoever
/// sent them. Now the attacker's client is cut at its own limit (10), and the real user,
/// from another address, checks the right code.
pub async fn an_attackers_wrong_codes_do_not_lock_out_the_real_user(b: Backend) {
    let app = app_with(b, 50, 10).await;
    let mut n = Target::new(&app);
    let attacker = json!({"client_ip": ATTACKER});
    let answers = n.wrong_checks(attacker.clone(), 15).await;
    let mut expected = vec![wrong_code(); 10];
    expected.extend(vec![refused("client_check_limit"); 5]);
    assert_eq!(answers, expected);

    // The attacker is refused even with the right code: the limit caps guesses.
    let r = n.right_check(attacker).await;
    assert_eq!(answer(&r), refused("client_check_limit"), "{}", r.text);
    assert_eq!(r.code(), "rate_limited");
    let secs = retry_after(&r);
    assert!(
        (1..=360).contains(&secs),
        "sliding: one more per 360 s, got {secs}"
    );

    let r = n.right_check(json!({"client_ip": REAL_USER})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["valid"].as_bool(), r.body["status"].as_str()),
        (Some(true), Some("approved"))
    );
}

/// Four clients of 4 failures each: the number's ceiling (10) refuses the 11th failure
/// and then the real user's right code too, for `3600 / 10` s at most.
pub async fn many_clients_together_trip_the_numbers_ceiling(b: Backend) {
    let app = app_with(b, 10, 4).await;
    let mut n = Target::new(&app);
    let mut answers = Vec::new();
    for i in 1..=3 {
        let ip = json!({"client_ip": format!("203.0.113.{i}")});
        answers.extend(n.wrong_checks(ip, 4).await);
    }
    let mut expected = vec![wrong_code(); 10];
    expected.extend(vec![refused("number_check_limit"); 2]);
    assert_eq!(answers, expected);
    let r = n.right_check(json!({"client_ip": REAL_USER})).await;
    assert_eq!(answer(&r), refused("number_check_limit"), "{}", r.text);
    let secs = retry_after(&r);
    assert!(
        (300..=360).contains(&secs),
        "sliding: the next failure is admitted 360 s after the burst, not an hour: {secs}"
    );
}

/// A check without `client_ip` or `client_session` counts only against the number: the
/// 7th failure is refused whoever sends it, and so is a check that names a client.
pub async fn without_a_client_the_numbers_limit_counts_every_failure(b: Backend) {
    let app = app_with(b, 6, 3).await;
    let mut n = Target::new(&app);
    let answers = n.wrong_checks(json!({}), 7).await;
    let mut expected = vec![wrong_code(); 6];
    expected.push(refused("number_check_limit"));
    assert_eq!(answers, expected, "the client limit (3) does not apply");
    let r = n.right_check(json!({})).await;
    assert_eq!(answer(&r), refused("number_check_limit"), "{}", r.text);
    assert!(
        (540..=600).contains(&retry_after(&r)),
        "{}",
        retry_after(&r)
    );
    let r = n.right_check(json!({"client_ip": REAL_USER})).await;
    assert_eq!(answer(&r), refused("number_check_limit"), "{}", r.text);
}

/// New IPv6 addresses in one /64 are one client, and so is one session over many
/// addresses; another /64 is another client.
pub async fn a_client_counts_by_its_ipv6_64_and_by_its_session(b: Backend) {
    let app = app_with(b, 50, 3).await;
    let mut n = Target::new(&app);
    let mut answers = Vec::new();
    for i in 1..=4 {
        let ip = json!({"client_ip": format!("2001:db8:aa:1:{i}::{i}")});
        answers.extend(n.wrong_checks(ip, 1).await);
    }
    let mut expected = vec![wrong_code(); 3];
    expected.push(refused("client_check_limit"));
    assert_eq!(answers, expected, "one /64");
    let other = json!({"client_ip": "2001:db8:aa:2::1"});
    assert_eq!(n.wrong_checks(other, 1).await, [wrong_code()]);

    let mut answers = Vec::new();
    for i in 1..=4 {
        let c = json!({"client_ip": format!("192.0.2.{i}"), "client_session": "sess-attacker"});
        answers.extend(n.wrong_checks(c, 1).await);
    }
    assert_eq!(answers, expected, "one session over four addresses");

    let real_user = json!({"client_ip": "2001:db8:bb:1::9", "client_session": "sess-user"});
    let r = n.right_check(real_user).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

/// A `client_ip` or `client_session` that does not parse is `400 invalid_request` as a
/// problem document, and costs no attempt and no failed check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_client_is_a_problem_document_and_costs_nothing() {
    let app = app_with(Backend::Memory, 50, 10).await;
    let mut n = Target::new(&app);
    let code = n.code().await;
    let bad = [
        ("client_ip", json!("203.0.113.300")),
        ("client_ip", json!("2001:db8::/64")),
        ("client_ip", json!("")),
        ("client_session", json!("")),
        ("client_session", json!("two words")),
        ("client_session", json!("x".repeat(256))),
    ];
    for (field, value) in bad {
        let mut client = serde_json::Map::new();
        client.insert(field.into(), value.clone());
        let r = n.check(&wrong(&code), &Value::Object(client)).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "{field} = {value}: {}",
            r.text
        );
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/problem+json")
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(field),
            "{}",
            r.text
        );
    }
    let r = n.right_check(json!({"client_ip": ATTACKER})).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

/// gRPC's `CheckRequest` carries the client too: the same per-client refusal, the same
/// reason in the error details, and the real user's check goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_checks_count_per_client_too() {
    use otpgw::api::grpc::pb;
    use tonic_types::StatusExt;
    let app = app_with(Backend::Memory, 50, 2).await;
    let mut n = Target::new(&app);
    let code = n.code().await;
    let addr = app.grpc_addr.expect("gRPC enabled");
    let mut grpc = pb::verifications_client::VerificationsClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let req = |code: String, ip: &str| {
        let mut r = tonic::Request::new(pb::CheckRequest {
            target: Some(pb::check_request::Target::To(n.to.clone())),
            code,
            client_ip: Some(ip.into()),
            client_session: None,
            risk_context: None,
        });
        let auth = format!("Bearer {}", app.key).parse().unwrap();
        r.metadata_mut().insert("authorization", auth);
        r
    };
    for _ in 0..2 {
        let v = grpc.check(req(wrong(&code), ATTACKER)).await.unwrap();
        assert_eq!(v.into_inner().valid, Some(false));
    }
    let e = grpc.check(req(code.clone(), ATTACKER)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    let details = e.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(
        info.metadata.get("reason").map(String::as_str),
        Some("client_check_limit")
    );
    let v = grpc.check(req(code, REAL_USER)).await.unwrap().into_inner();
    assert_eq!(v.valid, Some(true));
}
