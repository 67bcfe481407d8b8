//! The one authenticated POST every vendor adapter makes: a form or JSON body, the
//! vendor's authentication, and the shared handling of the answer ([`super::send`]: no
//! answer, a redirect, a body cut short) with the vendor's own mapping of a failed one.
//! The per-attempt timeout is the client's ([`crate::providers::settings::client`]).

use super::{send, Answer};
use crate::providers::{ErrorKind, OutboundMessage, ProviderError};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use std::future::Future;

/// A request body, encoded as reqwest's `.form` and `.json` encode it.
#[derive(Debug)]
pub struct Body {
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl Body {
    /// `application/x-www-form-urlencoded`, the pairs in order.
    pub fn form(pairs: &[(&str, &str)]) -> Body {
        let text = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Body::encoded("application/x-www-form-urlencoded", text.into_bytes())
    }

    /// `application/json`.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Body, ProviderError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ProviderError::new(ErrorKind::RejectedContent, e.to_string()))?;
        Ok(Body::encoded("application/json", bytes))
    }

    /// Bytes already encoded as `content_type`.
    pub fn encoded(content_type: &'static str, bytes: Vec<u8>) -> Body {
        Body {
            content_type,
            bytes,
        }
    }
}

/// Headers computed for the exact body bytes (AWS SigV4; the webhook's HMAC and its
/// `x-request-id`).
pub type Signer<'a> = &'a (dyn Fn(&[u8]) -> Result<Vec<(String, String)>, ProviderError> + Sync);

/// How a request proves who sends it.
pub enum Auth<'a> {
    /// Nothing in the headers (the credentials are in the body).
    None,
    /// HTTP Basic `user:password`.
    Basic(&'a str, &'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `Authorization: <value>` (a scheme of the vendor's own; mark it sensitive).
    Header(&'a HeaderValue),
    /// Headers computed for the body ([`Signer`]), set after `Content-Type`, which they
    /// may sign.
    Signed(Signer<'a>),
}

/// POSTs `body` to `url` with `auth`. A 2xx answer is returned; a failed one is the
/// vendor's error (`on_error`), a transport failure or a redirect the shared one.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    auth: Auth<'_>,
    body: Body,
    on_error: impl FnOnce(&Answer) -> ProviderError,
) -> Result<Answer, ProviderError> {
    let req = client.post(url);
    let req = match auth {
        Auth::None => req,
        Auth::Basic(user, password) => req.basic_auth(user, Some(password)),
        Auth::Bearer(token) => req.bearer_auth(token),
        Auth::Header(value) => req.header(AUTHORIZATION, value.clone()),
        Auth::Signed(sign) => {
            let mut req = req.header(CONTENT_TYPE, body.content_type);
            for (name, value) in sign(&body.bytes)? {
                req = req.header(name, value);
            }
            return finish(req, body.bytes, on_error).await;
        }
    };
    finish(
        req.header(CONTENT_TYPE, body.content_type),
        body.bytes,
        on_error,
    )
    .await
}

/// Sends with `bytes` as the body; a failed answer is `on_error`'s.
async fn finish(
    req: reqwest::RequestBuilder,
    bytes: Vec<u8>,
    on_error: impl FnOnce(&Answer) -> ProviderError,
) -> Result<Answer, ProviderError> {
    let answer = send(req.body(bytes)).await?;
    if answer.is_success() {
        Ok(answer)
    } else {
        Err(on_error(&answer))
    }
}

/// The message id of the accepted answer to `post` ([`super::accepted_id`]), as
/// `read_id` reads it.
pub async fn accepted(
    vendor: &str,
    post: impl Future<Output = Result<Answer, ProviderError>>,
    read_id: impl FnOnce(&Answer) -> Option<String>,
    msg: &OutboundMessage,
) -> Result<String, ProviderError> {
    let a = post.await?;
    Ok(super::accepted_id(vendor, a.status, read_id(&a), msg))
}

/// The text at JSON `pointer` (`/data/id`) in the answer's body, if any.
pub fn json_id(a: &Answer, pointer: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&a.body).ok()?;
    v.pointer(pointer)?.as_str().map(str::to_string)
}

/// `Authorization: <scheme> <credential>` as a sensitive header value (its `Debug` is
/// redacted); an error naming `what` when the credential cannot be a header.
pub fn auth_header(scheme: &str, credential: &str, what: &str) -> anyhow::Result<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("{scheme} {}", credential.trim()))
        .map_err(|_| anyhow::anyhow!("{what} has characters a header cannot carry"))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_encoded_as_reqwest_encodes_them() {
        let pairs = [("To", "+14155550123"), ("Body", "Code: 12 & ü")];
        let form = crate::providers::settings::client(1_000)
            .unwrap()
            .post("http://x/")
            .form(&pairs)
            .build()
            .unwrap();
        let ours = Body::form(&pairs);
        assert_eq!(form.body().unwrap().as_bytes().unwrap(), &ours.bytes[..]);
        assert_eq!(form.headers()[CONTENT_TYPE], ours.content_type);
        let value = serde_json::json!({"to": ["+1"], "body": "ü"});
        let json = crate::providers::settings::client(1_000)
            .unwrap()
            .post("http://x/")
            .json(&value)
            .build()
            .unwrap();
        let ours = Body::json(&value).unwrap();
        assert_eq!(json.body().unwrap().as_bytes().unwrap(), &ours.bytes[..]);
        assert_eq!(json.headers()[CONTENT_TYPE], ours.content_type);
    }
}
