//! Vonage SMS delivery receipts (DLRs): how a callback is authenticated (a signature or
//! a token, as the `vonage` module documents), its parameters from a GET query or a POST
//! body, the DLR `status` to ours, and the `price` a final DLR reports.

use super::signature;
use super::SignatureMethod;
use crate::domain::DeliveryStatus;
use crate::providers::callback::{
    check_token, ct_eq, form_params, is_json, json_params, non_empty, query_params, TOKEN_PARAM,
};
use crate::providers::{Price, Receipt, ReceiptError, ReceiptRequest};
use crate::secret::Secret;

/// How this instance's receipts prove they come from Vonage.
#[derive(Debug)]
pub(super) enum ReceiptAuth {
    None,
    Token(Secret),
    Signature {
        secret: Secret,
        method: SignatureMethod,
    },
}

/// The receipt's parameters: the query string of a GET, the body of a POST.
fn receipt_params(req: &ReceiptRequest<'_>) -> Result<Vec<(String, String)>, ReceiptError> {
    if req.method.eq_ignore_ascii_case("GET") {
        Ok(query_params(req.url))
    } else if req.method.eq_ignore_ascii_case("POST") {
        if is_json(req.headers) {
            json_params(req.body)
        } else {
            Ok(form_params(req.body))
        }
    } else {
        Err(ReceiptError::Malformed(format!("method {}", req.method)))
    }
}

/// Our status for a DLR `status`; `None` for the ones we ignore.
fn delivery_status(s: &str) -> Option<DeliveryStatus> {
    Some(match s {
        "delivered" => DeliveryStatus::Delivered,
        "accepted" | "buffered" => DeliveryStatus::Sent,
        "expired" | "failed" => DeliveryStatus::Undelivered,
        "rejected" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// A DLR's `price` ("The cost of the message", a decimal string: `"0.03330000"`), for
/// its `messageId`; none for a price that is not a number.
pub(super) fn prices(req: &ReceiptRequest<'_>) -> Vec<(String, Price)> {
    let Ok(params) = receipt_params(req) else {
        return Vec::new();
    };
    let id = non_empty(&params, "messageId");
    let amount = non_empty(&params, "price").and_then(|p| p.trim().parse::<f64>().ok());
    match (id, amount) {
        (Some(id), Some(a)) if a.is_finite() && a >= 0.0 => vec![(
            id.to_string(),
            Price {
                amount: a,
                unit: None,
            },
        )],
        _ => Vec::new(),
    }
}

/// Authenticates a DLR and parses it into receipts (none for statuses we ignore).
pub(super) fn parse(
    auth: &ReceiptAuth,
    req: &ReceiptRequest<'_>,
) -> Result<Vec<Receipt>, ReceiptError> {
    let params = match auth {
        ReceiptAuth::None => return Err(ReceiptError::NotSupported),
        ReceiptAuth::Token(token) => {
            check_token(req.url, token.as_bytes())?;
            let mut p = receipt_params(req)?;
            p.retain(|(k, _)| k != TOKEN_PARAM);
            p
        }
        ReceiptAuth::Signature { secret, method } => {
            let p = receipt_params(req)?;
            let sig = non_empty(&p, "sig").ok_or(ReceiptError::Unsigned)?;
            let given = hex::decode(sig.trim()).map_err(|_| ReceiptError::Forged)?;
            if !ct_eq(&signature(*method, secret.as_bytes(), &p), &given) {
                return Err(ReceiptError::Forged);
            }
            p
        }
    };
    let id = non_empty(&params, "messageId")
        .ok_or_else(|| ReceiptError::Malformed("no messageId".into()))?;
    let status =
        non_empty(&params, "status").ok_or_else(|| ReceiptError::Malformed("no status".into()))?;
    let detail = non_empty(&params, "err-code")
        .filter(|c| c.trim() != "0")
        .map(str::to_string);
    Ok(delivery_status(status)
        .map(|status| Receipt {
            message_id: id.to_string(),
            status,
            detail,
        })
        .into_iter()
        .collect())
}
