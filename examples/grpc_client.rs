//! A minimal gRPC client: sends a code, reads it from standard input, checks it.
//!
//! ```sh
//! cargo run --release                       # the gateway, in another terminal
//! cargo run --example grpc_client -- +14155550123
//! ```
//! Environment: `OTPGW_GRPC_ADDR` (default `http://127.0.0.1:50051`) and `OTPGW_API_KEY`
//! (default: the demo key). With the default config the code appears in the gateway's
//! console output and in `GET /dev/outbox`.

use otpgw::api::grpc::pb::check_request::Target;
use otpgw::api::grpc::pb::verifications_client::VerificationsClient;
use otpgw::api::grpc::pb::{CheckRequest, StartRequest};
use tonic::Request;
use tonic_types::StatusExt;

fn authed<T>(msg: T, key: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}").parse().expect("ASCII key"),
    );
    r
}

/// Prints a gRPC error the way a client should read it: the contract code and retry hint.
fn explain(s: &tonic::Status) -> String {
    let d = s.get_error_details();
    match d.error_info() {
        Some(info) => format!(
            "{:?}: {} (code {}, retry after {} s)",
            s.code(),
            s.message(),
            info.reason,
            info.metadata
                .get("retry_after")
                .map(String::as_str)
                .unwrap_or("-")
        ),
        None => format!("{:?}: {}", s.code(), s.message()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let to = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "+14155550123".into());
    let addr = std::env::var("OTPGW_GRPC_ADDR").unwrap_or_else(|_| "http://127.0.0.1:50051".into());
    let key = std::env::var("OTPGW_API_KEY").unwrap_or_else(|_| otpgw::config::DEMO_API_KEY.into());
    let mut client = VerificationsClient::connect(addr).await?;

    let start = StartRequest {
        to: to.clone(),
        ..Default::default()
    };
    let v = match client.start(authed(start, &key)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Err(explain(&s).into()),
    };
    println!("started {} (send #{}); type the code:", v.id, v.send_count);

    let mut code = String::new();
    std::io::stdin().read_line(&mut code)?;
    let check = CheckRequest {
        target: Some(Target::Id(v.id)),
        code: code.trim().to_string(),
        // A backend passes its end user's address here, so that wrong codes from
        // someone else do not lock this user out (here: the loopback address).
        client_ip: Some("127.0.0.1".into()),
        risk_context: None,
        client_session: None,
    };
    match client.check(authed(check, &key)).await {
        Ok(r) => {
            let v = r.into_inner();
            println!(
                "valid: {}, attempts left: {}",
                v.valid.unwrap_or(false),
                v.check_attempts_remaining
            );
        }
        Err(s) => println!("{}", explain(&s)),
    }
    Ok(())
}
