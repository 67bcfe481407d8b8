//! The console's query parsing and its same-origin rule for form posts.

use super::*;

fn parts(headers: &[(&str, &str)]) -> Parts {
    let mut b = axum::http::Request::builder().method("POST").uri("/ops");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn a_post_must_name_the_host_it_was_sent_to() {
    let host = ("host", "ops.example.com:8080");
    for ok in [
        vec![host, ("origin", "https://ops.example.com:8080")],
        vec![host, ("origin", "http://OPS.example.com:8080")],
        vec![
            host,
            ("referer", "https://ops.example.com:8080/ops?window=48h"),
        ],
        vec![
            host,
            ("origin", "https://ops.example.com:8080"),
            ("sec-fetch-site", "same-origin"),
        ],
    ] {
        assert!(same_origin(&parts(&ok)), "{ok:?}");
    }
    for refused in [
        vec![host],
        vec![host, ("origin", "null")],
        vec![host, ("origin", "https://evil.example")],
        vec![
            host,
            ("origin", "https://ops.example.com:8080.evil.example"),
        ],
        vec![host, ("origin", "https://ops.example.com")],
        vec![
            host,
            ("referer", "https://evil.example/ops.example.com:8080"),
        ],
        vec![host, ("origin", "ftp://ops.example.com:8080")],
        vec![
            host,
            ("origin", "https://ops.example.com:8080"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![
            host,
            ("origin", "https://ops.example.com:8080"),
            ("sec-fetch-site", "same-site"),
        ],
        vec![("origin", "https://ops.example.com:8080")],
    ] {
        assert!(!same_origin(&parts(&refused)), "{refused:?}");
    }
}

#[test]
fn the_query_falls_back_to_defaults_and_links_keep_the_view() {
    let v = View::parse(Some(
        "window=48h&sort=conversion&dir=asc&refresh=1&section=spend",
    ));
    assert_eq!(v.window, Window::TwoDays);
    assert_eq!(v.sort, Some(("conversion", false)));
    assert_eq!((v.refresh, v.only.as_deref()), (2, Some("spend")));
    assert_eq!(
        v.href(Some(("starts", true))),
        "/ops?window=48h&amp;sort=starts&amp;dir=desc&amp;refresh=2"
    );
    let v = View::parse(Some("window=7d&sort=%3Cscript%3E&refresh=abc&x=1"));
    assert_eq!((v.window, v.sort, v.refresh), (Window::Hour, None, 10));
    assert_eq!(View::parse(None).href(None), "/ops");
    assert_eq!(
        escape("<a href='x'>&\""),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
    );
}
