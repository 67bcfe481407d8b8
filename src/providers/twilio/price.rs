//! The price Twilio billed for a message (`fetch_price = true`).
//!
//! Twilio's status callback carries no price; the Message resource does, some time
//! after the message's final status. **Request:** `GET {base_url}/2010-04-01/Accounts/
//! {AccountSid}/Messages/{Sid}.json` with the same HTTP Basic credentials as sending.
//! **Answer:** `200` with the Message resource, whose `price` is "the amount billed for
//! the message in the currency specified by `price_unit`", a decimal string written as
//! a charge (`"-0.00750"`), "populated after the message has been sent/received, and may
//! not be immediately available" (`null` until then); `price_unit` is an ISO 4217 code
//! (`USD`). Errors map as the Messages resource's do (`error.rs`): 5xx, 429 and timeouts
//! are worth another read, 401/404 are not.

use super::super::http::{self, Answer};
use super::super::{ErrorKind, Price, ProviderError};
use std::time::Duration;

/// Default delays before each read (ms): Twilio prices most messages within seconds of
/// the final status, some within minutes.
pub const DEFAULT_DELAYS_MS: [u64; 3] = [5_000, 60_000, 300_000];

/// The Message resource's URL for `sid` under `messages_url` (`…/Messages.json`), or
/// `None` for an id that is not a message SID (it is never put in a path unchecked).
pub fn url(messages_url: &str, sid: &str) -> Option<String> {
    let ok = sid.len() == 34
        && (sid.starts_with("SM") || sid.starts_with("MM"))
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let base = messages_url.strip_suffix(".json")?;
    ok.then(|| format!("{base}/{sid}.json"))
}

/// The price in a `200` answer: `None` while `price` is null or empty.
pub fn parse(a: &Answer) -> Result<Option<Price>, ProviderError> {
    #[derive(serde::Deserialize)]
    struct Resource {
        price: Option<String>,
        price_unit: Option<String>,
    }
    let bad = |what: &str| ProviderError::new(ErrorKind::Unavailable, what.to_string());
    let r: Resource =
        serde_json::from_str(&a.body).map_err(|_| bad("the message resource is not JSON"))?;
    let Some(text) = r.price.filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let amount: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad("the message's price is not a number"))?;
    if !amount.is_finite() {
        return Err(bad("the message's price is not a number"));
    }
    Ok(Some(Price {
        amount: amount.abs(),
        unit: r.price_unit.filter(|u| !u.is_empty()),
    }))
}

/// One read of message `sid`'s resource under `messages_url`, with Basic `auth`.
pub async fn read(
    client: &reqwest::Client,
    messages_url: &str,
    sid: &str,
    (user, password): (&str, &str),
) -> Result<Option<Price>, ProviderError> {
    let Some(url) = url(messages_url, sid) else {
        let what = "not a message SID: no price to read";
        return Err(ProviderError::new(ErrorKind::RejectedContent, what));
    };
    let a = http::send(client.get(url).basic_auth(user, Some(password))).await?;
    if !a.is_success() {
        return Err(super::error::from_response(
            a.status,
            a.body.as_bytes(),
            a.retry_after,
        ));
    }
    parse(&a)
}

/// The configured delays.
pub fn delays(ms: &[u64]) -> Vec<Duration> {
    ms.iter().map(|m| Duration::from_millis(*m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: 200,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn the_price_is_read_as_a_positive_amount_and_null_is_not_yet() {
        let p = parse(&answer(r#"{"price":"-0.00750","price_unit":"USD"}"#)).unwrap();
        assert_eq!(
            p,
            Some(Price {
                amount: 0.0075,
                unit: Some("USD".into())
            })
        );
        assert_eq!(
            parse(&answer(r#"{"price":null,"price_unit":null}"#)).unwrap(),
            None
        );
        assert_eq!(parse(&answer(r#"{"status":"delivered"}"#)).unwrap(), None);
        assert!(parse(&answer(r#"{"price":"cheap"}"#)).is_err());
        assert!(parse(&answer(r#"{"price":"NaN"}"#)).is_err());
        assert!(parse(&answer("<html>")).is_err());
    }

    #[test]
    fn only_message_sids_go_into_the_path() {
        let base = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json";
        let sid = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(
            url(base, sid).unwrap(),
            format!("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/{sid}.json")
        );
        for bad in ["../../x", "SM1", "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ""] {
            assert_eq!(url(base, bad), None, "{bad}");
        }
    }
}
