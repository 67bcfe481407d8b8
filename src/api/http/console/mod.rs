//! The ops console at `/ops`: the whole fleet on one HTML page, drawn by the server.
//!
//! - `GET /ops` renders every section: charts of the last hour or 48 h (`?window=48h`),
//!   tables by country and provider (sortable: `?sort=<column>&dir=asc|desc`), spend,
//!   the pumping guard's blocks with lift buttons, the support lookup form, providers
//!   with their breakers, the send queue, and the events to tenants (waiting, dead
//!   letters with their reason). `?section=<id>` renders one section alone
//!   (a link to it, a screenshot of it); `?refresh=<2..300>` sets the seconds between
//!   refreshes (10 by default).
//! - `POST /ops` (an HTML form, `application/x-www-form-urlencoded`) with
//!   `action=lift` (`tenant`, `level`, `key`) lifts a block, with `action=lookup`
//!   (`tenant`, `to`) runs the support lookup; both answer the page with the outcome in
//!   it. The number travels in the body only, never in a URL, and the page shows it
//!   masked.
//!
//! Every number comes from the same service calls as the JSON under `/v1/admin/…`
//! (`Service::stats_by`, one read shaped as `Service::stats` shapes it, `Service::lookup`, the guard's blocks and lift). A section whose
//! store does not answer says so ("fleet numbers unavailable: store unreachable") and
//! the rest of the page still renders.
//!
//! Access is `/ops`'s: an admin key, or a local caller in dev mode (`access.rs`).
//! Cross-site posts: a `POST /ops` must come from a page of this origin: its `Origin`
//! (or, when a browser sends none, its `Referer`) must name the host the request was
//! sent to, and a `Sec-Fetch-Site` other than `same-origin` is refused (`403`). No
//! token is needed, so the page stays cacheable-free and stateless.
//!
//! No external asset and no framework: inline CSS, inline SVG, and one small inline
//! script (allowed by a per-response CSP nonce) that re-fetches the page every few
//! seconds and swaps the live sections in place, leaving the lookup form alone. Without
//! JavaScript every feature is a plain link or form.

mod charts;
mod events;
mod fraud;
mod layout;
mod lookup;
mod status;
mod svg;
mod tables;

pub use layout::{escape, unavailable};

use super::AppState;
use crate::error::Error;
use crate::service::{By, Report, Window};
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderValue};
use axum::response::{IntoResponse, Response};

/// What the page was asked to show (the query string, parsed; unknown values fall back
/// to the defaults).
#[derive(Debug, Clone)]
pub struct View {
    /// `1h` or `48h`.
    pub window: Window,
    /// A table column to sort by (`tables::COLUMNS`), and whether descending.
    pub sort: Option<(&'static str, bool)>,
    /// Render only this section.
    pub only: Option<String>,
    /// Seconds between refreshes with JavaScript on.
    pub refresh: u64,
}

impl View {
    fn parse(query: Option<&str>) -> View {
        let mut v = View {
            window: Window::Hour,
            sort: None,
            only: None,
            refresh: 10,
        };
        let mut dir_desc = true;
        let mut sort = None;
        for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()).take(16) {
            match &*k {
                "window" => v.window = Window::parse(&val).unwrap_or(Window::Hour),
                "sort" => sort = tables::column(&val),
                "dir" => dir_desc = val != "asc",
                "section" if val.len() <= 32 => v.only = Some(val.into_owned()),
                "refresh" => v.refresh = val.parse::<u64>().unwrap_or(10).clamp(2, 300),
                _ => {}
            }
        }
        v.sort = sort.map(|c| (c, dir_desc));
        v
    }

    /// The query string that shows this view with `sort` changed (for links).
    pub fn href(&self, sort: Option<(&str, bool)>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if self.window == Window::TwoDays {
            q.append_pair("window", "48h");
        }
        if let Some((c, desc)) = sort {
            q.append_pair("sort", c);
            q.append_pair("dir", if desc { "desc" } else { "asc" });
        }
        if self.refresh != 10 {
            q.append_pair("refresh", &self.refresh.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            "/ops".into()
        } else {
            format!("/ops?{}", escape(&q))
        }
    }
}

/// The fleet numbers of the window by country, provider and channel (one read of the
/// store).
pub struct Fleet {
    /// Grouped by country.
    pub by_country: Report,
    /// Grouped by provider.
    pub by_provider: Report,
    /// Grouped by channel.
    pub by_channel: Report,
}

/// One part of the page.
pub struct Section {
    /// Its element id (and `?section=` name).
    pub id: &'static str,
    /// Its heading.
    pub title: &'static str,
    /// Its content.
    pub html: String,
    /// Swapped in place by the refresh script (false for forms being typed in).
    pub live: bool,
}

/// What a `POST /ops` did, shown at the top of its section.
pub enum Outcome {
    /// Nothing posted.
    None,
    /// A lift: the message to show.
    Lift(String),
    /// A lookup: its result table or error.
    Lookup(String),
}

/// `GET /ops`.
pub async fn page(State(state): State<AppState>, req: Request) -> Result<Response, Error> {
    let (parts, _) = req.into_parts();
    allow(&state, &parts)?;
    let view = View::parse(parts.uri.query());
    Ok(render(&state, &view, Outcome::None).await)
}

/// `POST /ops`: a lift or a lookup from the page's forms.
pub async fn post(State(state): State<AppState>, req: Request) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    allow(&state, &parts)?;
    if !same_origin(&parts) {
        return Err(Error::Forbidden(
            "the console takes form posts from its own pages only (Origin or Referer of this host)"
                .into(),
        ));
    }
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(Error::UnsupportedMediaType(
            "the console's forms post application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = super::extract::read_limited(&parts.headers, body, state.body_limit).await?;
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .take(8)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let view = View::parse(parts.uri.query());
    let outcome = match field("action") {
        "lift" => {
            Outcome::Lift(fraud::lift(&state, field("tenant"), field("level"), field("key")).await?)
        }
        "lookup" => Outcome::Lookup(lookup::run(&state, field("tenant"), field("to")).await),
        _ => {
            return Err(Error::InvalidRequest(
                "action must be `lift` or `lookup`".into(),
            ))
        }
    };
    Ok(render(&state, &view, outcome).await)
}

fn allow(state: &AppState, parts: &Parts) -> Result<(), Error> {
    if state.access.ops_open(parts) {
        return Ok(());
    }
    state
        .access
        .require_admin(&parts.headers, "the ops console")
}

/// Whether a post comes from a page of the host it was sent to.
fn same_origin(parts: &Parts) -> bool {
    let h = &parts.headers;
    let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    if text(header::HeaderName::from_static("sec-fetch-site")).is_some_and(|s| s != "same-origin") {
        return false;
    }
    let Some(host) = text(header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()))
    else {
        return false;
    };
    let Some(source) = text(header::ORIGIN).or_else(|| text(header::REFERER)) else {
        return false;
    };
    let Some(rest) = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.eq_ignore_ascii_case(host)
}

async fn render(state: &AppState, view: &View, outcome: Outcome) -> Response {
    let s = &state.service;
    let fleet = s
        .stats_by(view.window, &[By::Country, By::Provider, By::Channel])
        .await
        .map(|mut r| Fleet {
            by_channel: r.pop().expect("three reports"),
            by_provider: r.pop().expect("three reports"),
            by_country: r.pop().expect("three reports"),
        });
    let (lift_msg, lookup_html) = match outcome {
        Outcome::None => (None, None),
        Outcome::Lift(m) => (Some(m), None),
        Outcome::Lookup(h) => (None, Some(h)),
    };
    let sections = vec![
        charts::section(&fleet, view),
        tables::section(&fleet, view),
        tables::spend(&fleet, view),
        fraud::section(state, lift_msg).await,
        lookup::section(state, lookup_html),
        status::providers(state),
        status::queue(state).await,
        events::section(state).await,
    ];
    let nonce = hex::encode(crate::crypto::random_bytes::<16>());
    let html = layout::layout(view, &sections, &nonce);
    let mut r = html.into_response();
    let hs = r.headers_mut();
    hs.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    hs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    hs.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        hs.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

#[cfg(test)]
mod tests;
