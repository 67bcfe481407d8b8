//! Delivery receipts as adapters see them: the callback request a vendor made, the
//! updates parsed from it, why one is refused, and the sink through which adapters that
//! receive receipts on their own connection (SMPP) hand them to the delivery side.

/// A delivery-receipt callback as it reached `POST /v1/receipts/{provider}`.
#[derive(Debug)]
pub struct ReceiptRequest<'a> {
    /// HTTP method (`POST`, or `GET` for vendors that call back with a query string).
    pub method: &'a str,
    /// The full public URL the vendor called, query included (what signatures cover).
    pub url: &'a str,
    /// Request headers.
    pub headers: &'a ::http::HeaderMap,
    /// Raw body.
    pub body: &'a [u8],
}

/// One delivery update parsed from a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's message id (what `send` returned).
    pub message_id: String,
    /// New status: `Sent`, `Delivered`, `Undelivered` or `Failed`.
    pub status: crate::domain::DeliveryStatus,
    /// Vendor detail (error code), for logs.
    pub detail: Option<String>,
}

/// Why a receipt was refused. Nothing changes for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// This adapter has no receipts (answered 404).
    #[error("this provider sends no delivery receipts")]
    NotSupported,
    /// No signature (or token) where one is required (401).
    #[error("the receipt is not signed")]
    Unsigned,
    /// A signature that does not verify, or a stale timestamp (403).
    #[error("the receipt signature does not verify")]
    Forged,
    /// Signed but unreadable (400).
    #[error("malformed receipt: {0}")]
    Malformed(String),
}

/// A receipt that arrived on a provider's own connection (an SMPP `deliver_sm`), for
/// the delivery side to match and apply like a receipt posted to
/// `/v1/receipts/{provider}`.
#[derive(Debug, Clone)]
pub struct PushedReceipt {
    /// Provider instance name (`[providers.<name>]`).
    pub provider: String,
    /// The update.
    pub receipt: Receipt,
}

/// Where adapters that receive receipts on their own connection hand them over: a
/// bounded channel to the delivery side, or nowhere (a router built without one, as in
/// unit tests: such receipts are counted and dropped).
#[derive(Debug, Clone, Default)]
pub struct ReceiptSink(Option<tokio::sync::mpsc::Sender<PushedReceipt>>);

impl ReceiptSink {
    /// A sink into `tx`.
    pub fn new(tx: tokio::sync::mpsc::Sender<PushedReceipt>) -> Self {
        ReceiptSink(Some(tx))
    }

    /// Hands a receipt over (waits while the channel is full); whether anyone takes it.
    pub async fn push(&self, provider: &str, receipt: Receipt) -> bool {
        match &self.0 {
            Some(tx) => tx
                .send(PushedReceipt {
                    provider: provider.to_string(),
                    receipt,
                })
                .await
                .is_ok(),
            None => false,
        }
    }
}
