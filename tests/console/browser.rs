//! The browser the console tests drive: headless Chromium through the npm
//! `playwright-core` package (pinned, installed into `<target>/tmp/playwright` on first
//! use): the page as rendered with JavaScript off, and what needs a live page: section screenshots, a form submitted by a click, the refresh
//! script swapping content while a half-typed form stays. Without Chromium, Node.js or
//! npm the tests fail and say what to install.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const PLAYWRIGHT: &str = "playwright-core@1.65.1";

fn runs(tool: &str) -> bool {
    super::support::npm::runs(tool)
}

/// The Chromium binary.
pub fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if runs(c) {
            return c.to_string();
        }
    }
    panic!("no headless browser: install Debian's `chromium` package (apt-get install chromium)");
}

/// The DOM of `url` as Chromium renders it with JavaScript off (`--dump-dom` needs
/// scripts, so this goes through `drive.js`).
pub fn without_scripts(url: &str) -> String {
    let out = drive(&serde_json::json!({"url": url, "noScripts": true}));
    assert_eq!(out["status"], 200, "{out}");
    out["html"].as_str().unwrap_or("").to_string()
}

/// `node_modules` holding `playwright-core`, installed on first use.
fn node_modules() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        super::support::npm::install(
            "playwright",
            PLAYWRIGHT,
            "The console's browser tests (which drive Chromium with playwright-core)",
        )
    })
}

/// Runs `tests/console/drive.js` with `args` (JSON); the JSON it prints.
pub fn drive(args: &Value) -> Value {
    let modules = node_modules();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/drive.js");
    let which = Command::new("sh")
        .args(["-c", &format!("command -v {}", chromium())])
        .output()
        .unwrap();
    let exe = String::from_utf8_lossy(&which.stdout).trim().to_string();
    let out = Command::new("node")
        .arg(script)
        .arg(args.to_string())
        .env("NODE_PATH", modules)
        .env("CHROMIUM", exe)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "drive.js failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|_| panic!("drive.js printed no JSON: {text}"))
}

/// Width and height of a PNG, from its IHDR chunk.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The text of the element with `id` in `dom` (tags stripped).
pub fn text_of(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let open_end = start + dom[start..].find('>').unwrap() + 1;
    let close = open_end + dom[open_end..].find("</").unwrap();
    dom[open_end..close].to_string()
}

/// The HTML of the element with `id` up to the end of its table.
pub fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let end = dom[start..]
        .find("</table>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// The cell `col` of the row `key` in a table's HTML.
pub fn cell(table: &str, key: &str, col: &str) -> String {
    let row = table
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    let row_end = table[row..].find("</tr>").map_or(table.len(), |e| row + e);
    let row = &table[row..row_end];
    let c = row
        .find(&format!("data-col=\"{col}\""))
        .unwrap_or_else(|| panic!("no {col} in {row}"));
    let open_end = c + row[c..].find('>').unwrap() + 1;
    let close = open_end + row[open_end..].find("</td>").unwrap();
    row[open_end..close].to_string()
}
