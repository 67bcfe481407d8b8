//! The Sinch provider: the SMS REST API ("XMS"), one batch per message.
//!
//! **Request.** `POST {base_url}/xms/v1/{service_plan_id}/batches` with
//! `Authorization: Bearer <api_token>` ("The token is sent in the Authorization header
//! preceded by Bearer. It's required for all requests made to the REST API") and a JSON
//! body:
//!
//! | field | value |
//! |---|---|
//! | `to` | `["<destination in E.164>"]` (one recipient) |
//! | `body` | the text, code included (Sinch picks the encoding) |
//! | `from` | the configured sender, when set (else the plan's default originator) |
//! | `delivery_report` | `"per_recipient"` when receipts are configured (`receipt_token` set): "a delivery report callback per recipient" |
//! | `callback_url` | `callback_url` with `token=<receipt_token>` appended, when set |
//!
//! The production root is regional: `https://{us|eu|au|br|ca}.sms.api.sinch.com`.
//!
//! **Answer.** `201 Created` with the batch as JSON; its `id` is the message id. Errors:
//! see [`error`].
//!
//! **Receipts.** Sinch POSTs JSON delivery reports to the callback URL; with
//! `per_recipient`: `{"type": "recipient_delivery_report_sms", "batch_id", "recipient",
//! "status", "code", "at", …}` (a batch report, `"type": "delivery_report_sms"` with
//! `statuses: [{"status", "code", "count"}]`, is read too). Sinch documents no signature
//! for SMS REST callbacks: its options are Basic auth, OAuth 2.0, mutual TLS or AWS SNS,
//! each "configured for your account upon request to your account manager". We
//! therefore require `?token=<receipt_token>` on the callback URL, compared in constant
//! time: missing is `Unsigned`, wrong is `Forged`; with no token configured, receipts are
//! refused (`NotSupported`). Statuses:
//!
//! | `status` | receipt |
//! |---|---|
//! | `Delivered` | `Delivered` |
//! | `Dispatched` ("accepted for delivery by the SMSC") | `Sent` |
//! | `Failed`, `Expired` | `Undelivered` |
//! | `Rejected`, `Aborted`, `Cancelled`, `Deleted` (refused before or by the SMSC) | `Failed` |
//! | `Queued`, `Unknown`, others | ignored (no update) |

mod config;
pub(crate) mod error;

pub use config::{Config, MIN_TOKEN_LEN, REGIONS};

use super::callback::{check_token, with_token};
use super::http::{self, Auth, Body};
use super::{OutboundMessage, ProviderError, Receipt, ReceiptError, ReceiptRequest, SmsProvider};
use crate::domain::DeliveryStatus;
use crate::secret::Secret;
use async_trait::async_trait;
use serde_json::Value;

/// Sends through Sinch's batches endpoint.
#[derive(Debug)]
pub struct SinchProvider {
    client: reqwest::Client,
    url: String,
    api_token: Secret,
    from: Option<String>,
    /// Carries the receipt token.
    callback_url: Option<Secret>,
    receipt_token: Option<Secret>,
}

impl SinchProvider {
    /// Checks the settings and builds the pooled client.
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(problems.is_empty(), "sinch: {}", problems.join("; "));
        let token = cfg.receipt_token.clone().filter(|s| !s.is_empty());
        Ok(SinchProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!(
                "{}/xms/v1/{}/batches",
                cfg.effective_base_url(),
                cfg.service_plan_id
            ),
            api_token: cfg.api_token.clone(),
            from: cfg.from.clone().filter(|s| !s.trim().is_empty()),
            callback_url: match (&cfg.callback_url, &token) {
                (Some(url), Some(t)) => Some(Secret(with_token(url, t))),
                _ => None,
            },
            receipt_token: token,
        })
    }
}

/// Our status for a Sinch delivery status; `None` for the ones we ignore.
fn delivery_status(s: &str) -> Option<DeliveryStatus> {
    Some(match s.to_ascii_lowercase().as_str() {
        "delivered" => DeliveryStatus::Delivered,
        "dispatched" => DeliveryStatus::Sent,
        "failed" | "expired" => DeliveryStatus::Undelivered,
        "rejected" | "aborted" | "cancelled" | "deleted" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// One status entry (`status`, `code`) of a report for `batch_id`.
fn receipt(batch_id: &str, entry: &Value) -> Result<Option<Receipt>, ReceiptError> {
    let status = entry
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ReceiptError::Malformed("no status".into()))?;
    let detail = entry
        .get("code")
        .and_then(|c| {
            c.as_i64()
                .map(|n| n.to_string())
                .or(c.as_str().map(str::to_string))
        })
        .filter(|c| c != "0");
    Ok(delivery_status(status).map(|status| Receipt {
        message_id: batch_id.to_string(),
        status,
        detail,
    }))
}

#[async_trait]
impl SmsProvider for SinchProvider {
    fn kind(&self) -> &'static str {
        "sinch"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let mut batch = serde_json::json!({ "to": [msg.to.as_str()], "body": msg.body });
        if let Some(from) = &self.from {
            batch["from"] = from.as_str().into();
        }
        if self.receipt_token.is_some() {
            batch["delivery_report"] = "per_recipient".into();
        }
        if let Some(cb) = &self.callback_url {
            batch["callback_url"] = (**cb).into();
        }
        let auth = Auth::Bearer(&self.api_token);
        let post = http::post(&self.client, &self.url, auth, Body::json(&batch)?, |a| {
            error::from_response(a.status, a.body.as_bytes(), a.retry_after)
        });
        http::accepted("sinch", post, |a| http::json_id(a, "/id"), msg).await
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let token = self
            .receipt_token
            .as_deref()
            .ok_or(ReceiptError::NotSupported)?;
        check_token(req.url, token.as_bytes())?;
        let report: Value = serde_json::from_slice(req.body)
            .map_err(|_| ReceiptError::Malformed("body is not JSON".into()))?;
        let batch_id = report
            .get("batch_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ReceiptError::Malformed("no batch_id".into()))?;
        match report.get("type").and_then(Value::as_str) {
            Some("recipient_delivery_report_sms") => {
                Ok(receipt(batch_id, &report)?.into_iter().collect())
            }
            Some("delivery_report_sms") => {
                let statuses = report
                    .get("statuses")
                    .and_then(Value::as_array)
                    .ok_or_else(|| ReceiptError::Malformed("no statuses".into()))?;
                let mut out = Vec::new();
                for entry in statuses {
                    out.extend(receipt(batch_id, entry)?);
                }
                Ok(out)
            }
            _ => Err(ReceiptError::Malformed("not an SMS delivery report".into())),
        }
    }
}
