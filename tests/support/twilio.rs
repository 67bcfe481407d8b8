//! Twilio's side of a status callback: the `X-Twilio-Signature` it computes
//! (Base64(HMAC-SHA1(auth token, URL + the sorted parameters' names and values))) and
//! the signed form POST to the gateway's receipt route; a Messages stand-in, and a
//! gateway config sending every SMS through a Twilio instance `tw` at one.

use super::app::TestApp;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// What Twilio puts in `X-Twilio-Signature` for `params` posted to `url`.
pub fn signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut p = params.to_vec();
    p.sort();
    let mut data = url.to_string();
    for (k, v) in p {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts `params` to `/v1/receipts/<provider>` signed with `token` for the public URL
/// `<public>/v1/receipts/<provider>` (the gateway's `receipts.public_base_url`); the
/// answer's status.
pub async fn receipt(
    app: &TestApp,
    public: &str,
    provider: &str,
    token: &str,
    params: &[(&str, &str)],
) -> u16 {
    let path = format!("/v1/receipts/{provider}");
    let sig = signature(token, &format!("{public}{path}"), params);
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let req = app
        .http
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body);
    app.send(req).await.status
}

/// Twilio's Messages resource on a free port, answering every send with the documented
/// `201` and the fixed sid `message_sid`; its base URL.
pub async fn messages_stand_in(message_sid: &'static str) -> String {
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move || async move {
            (
                axum::http::StatusCode::CREATED,
                axum::Json(serde_json::json!({"sid": message_sid, "status": "queued"})),
            )
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

/// The public base URL the gateways of [`send_through`] are told they are reached at
/// (`receipts.public_base_url`): what receipts are signed for.
pub const PUBLIC: &str = "https://otp.example.com";

/// A Twilio instance at `base_url` with `account_sid` and `auth_token`, sending from
/// Twilio's test number; the rest default.
pub fn config(
    base_url: String,
    account_sid: &str,
    auth_token: &str,
) -> otpgw::providers::twilio::Config {
    otpgw::providers::twilio::Config {
        base_url,
        account_sid: account_sid.into(),
        auth_token: Some(auth_token.into()),
        from: Some("+15005550006".into()),
        ..Default::default()
    }
}

/// Sends every SMS of `c` through `tw` as the instance `tw`, receipts signed for
/// [`PUBLIC`].
pub fn send_through(c: &mut otpgw::Config, tw: otpgw::providers::twilio::Config) {
    c.providers
        .insert("tw".into(), otpgw::providers::ProviderConfig::Twilio(tw));
    c.routing.default = vec!["tw".into()];
    c.receipts.public_base_url = Some(PUBLIC.into());
}
