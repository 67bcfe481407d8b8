//! The ops page in a real browser: headless Chromium loads `/ops` and the test reads
//! what it rendered.

mod support;

use std::process::Command;
use support::app::number;
use support::{spawn_app, Backend};

fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!("no headless browser: install Debian's `chromium` package (apt-get install chromium)");
}

/// The DOM after the browser loaded and rendered `url`.
fn render(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_page_shows_providers_queue_and_last_hour_by_country_and_channel() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let call = number();
    let r = app
        .post(
            "/v1/verifications",
            serde_json::json!({"to": call, "channel": "voice"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for _ in 0..3 {
        let to = number();
        assert_eq!(app.start(&to).await.status, 201);
        let code = app.code_for(&to).await;
        app.check(&to, &code).await;
    }
    let uk = "+447400123456";
    assert_eq!(app.start(uk).await.status, 201);
    app.code_for(uk).await;
    let url = app.url("/ops");
    let dom = tokio::task::spawn_blocking(move || render(&url))
        .await
        .unwrap();

    assert!(dom.contains("<title>otpgw ops</title>"), "{dom}");
    let providers = section(&dom, "providers");
    assert!(
        providers.contains("<td>console</td>") && providers.contains(">closed<"),
        "{providers}"
    );
    assert!(
        providers.contains("<td>sms, whatsapp, voice, email</td>"),
        "the channels routed through each provider: {providers}"
    );
    let queue = section(&dom, "queue");
    assert!(queue.contains("dead letters"), "{queue}");
    let countries = section(&dom, "countries");
    assert!(
        countries.contains("<tr><td>US</td><td>4</td><td>3</td><td>75 %</td></tr>"),
        "{countries}"
    );
    let channels = section(&dom, "channels");
    assert!(
        channels.contains("<tr><td>sms</td><td>4</td><td>3</td><td>75 %</td></tr>"),
        "{channels}"
    );
    assert!(
        channels.contains("<tr><td>voice</td><td>1</td><td>0</td><td>0 %</td></tr>"),
        "{channels}"
    );
    assert!(
        countries.contains("<tr><td>GB</td><td>1</td><td>0</td><td>0 %</td></tr>"),
        "{countries}"
    );
    assert!(!dom.contains("4155"), "no numbers on the page");
}

fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let end = dom[start..]
        .find("</table>")
        .map(|e| start + e)
        .unwrap_or(dom.len());
    &dom[start..end]
}
