//! One signed attempt to deliver an event, and the backoff between attempts.
//!
//! An attempt `POST`s the event's body with `content-type: application/json` and the
//! three Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, signed by `crypto::webhook_sig::sign` at the time of the
//! attempt, so a retry a day later is not refused as stale). Only a 2xx answer delivers
//! it. Everything else is a failed attempt with a reason the dead-letter list shows:
//! no answer within `timeout_ms`, the receiver unreachable, any other status, and a
//! 3xx above all, which is never followed (the client has no redirect policy: a
//! followed redirect would hand the signed event to whatever host `Location` names).
//!
//! Every failure is retried until the tenant's retry window has passed: a receiver
//! that answers 400 today may be fixed tomorrow, and the window bounds the cost.

use super::Event;
use crate::config::EventsConfig;
use std::time::Duration;

/// The client events are sent with: rustls, no redirects followed, `timeout` per call.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    crate::providers::http::client(timeout)
}

/// A failed attempt: why, for the log, the metric and the dead-letter list. Never
/// holds the URL's path or query (they may carry a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// A bounded label: `timeout`, `unreachable`, `redirect`, `status`.
    pub kind: &'static str,
    /// A sentence.
    pub reason: String,
}

/// Makes one attempt to deliver `event` to `cfg.url`, signed with `key` at `now_secs`,
/// through `client` (made by [`client`] with `cfg.timeout()`); the answer's status
/// when it is 2xx.
pub async fn attempt(
    client: &reqwest::Client,
    cfg: &EventsConfig,
    key: &[u8],
    event: &Event,
    now_secs: i64,
) -> Result<u16, Failure> {
    let body = event.body();
    let signature = crate::crypto::webhook_sig::sign(key, &event.id, now_secs, &body);
    let sent = client
        .post(&cfg.url)
        .timeout(cfg.timeout())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", now_secs.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(a) => a,
        Err(e) if e.is_timeout() => {
            return Err(Failure {
                kind: "timeout",
                reason: format!("no answer within {} ms", cfg.timeout().as_millis()),
            })
        }
        Err(e) => {
            return Err(Failure {
                kind: "unreachable",
                reason: format!("unreachable: {}", e.without_url()),
            })
        }
    };
    let status = answer.status().as_u16();
    match status {
        200..=299 => Ok(status),
        300..=399 => Err(Failure {
            kind: "redirect",
            reason: format!("answered a redirect ({status}); redirects are not followed"),
        }),
        _ => Err(Failure {
            kind: "status",
            reason: format!("answered {status}"),
        }),
    }
}

/// The wait after failed attempt number `n` (from 1): 5 s doubled each time, at most an
/// hour, minus up to a fifth at random so that receivers coming back are not hit by
/// every gateway at once. `base` replaces the 5 s (tests shorten it).
pub fn backoff(n: u32, base: Duration) -> Duration {
    let full = base
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(Duration::from_secs(3600).max(base));
    let jitter = u64::from_le_bytes(crate::crypto::random_bytes::<8>()) % 1000;
    full - full.mul_f64(jitter as f64 / 5000.0)
}

/// Whether an event first tried at `first_secs` is past the retry window at `now_secs`
/// (then it is dead-lettered with its last failure).
pub fn expired(cfg: &EventsConfig, first_secs: i64, now_secs: i64) -> bool {
    now_secs.saturating_sub(first_secs) >= cfg.retry_secs() as i64
}
