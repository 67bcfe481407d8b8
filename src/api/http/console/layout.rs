//! The page around the sections: head with inline CSS, the window switch and refresh
//! link, a navigation bar, each section (`?section=<id>` keeps one), and the inline
//! refresh script under the response's CSP nonce.

use super::{Section, View};
use crate::service::Window;
use std::fmt::Write;

const STYLE: &str = concat!(
    "body{font:14px system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px}",
    "h1{font-size:20px;margin:0 0 .3em}h2{font-size:16px;margin:1.4em 0 .5em}",
    "nav a{margin-right:.8em}table{border-collapse:collapse;margin:.4em 0}",
    "td,th{border:1px solid #ccc;padding:3px 9px;text-align:left;white-space:nowrap}td.n{text-align:right}td.why{white-space:normal}",
    "th a{color:inherit}.closed,.ok{color:#176f2c}.open,.bad{color:#b00020;font-weight:bold}",
    ".half_open{color:#a66300}.charts{display:flex;flex-wrap:wrap;gap:12px}",
    ".chart{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}",
    ".notice{padding:6px 10px;background:#fff4e5;border-left:4px solid #d9730d}",
    "section{padding-bottom:.5em}form.inline{display:inline;margin:0}"
);

/// Re-fetches the page every `data-refresh` seconds and swaps every `[data-live]`
/// section for its new copy; the lookup form is not live, so typing is never lost. A
/// click on a table's column heading sorts that table in place (numbers as numbers),
/// makes the heading's query the page's and refreshes at once, so the server's sorted
/// copy (with its headings' next links) follows; without scripts the heading is a link.
const SCRIPT: &str = r#"(function(){var b=document.body,s=+b.dataset.refresh||10,n=0,busy=false;
function note(t){var a=document.getElementById('updated');if(a)a.textContent=t;}
function swap(){if(busy)return Promise.resolve();busy=true;return fetch(b.dataset.src,{credentials:'same-origin',cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return r.text();}).then(function(t){
var d=new DOMParser().parseFromString(t,'text/html');d.querySelectorAll('section[data-live]').forEach(function(x){var o=document.getElementById(x.id);if(o)o.innerHTML=x.innerHTML;});
n++;b.dataset.refreshed=n;note('updated '+new Date().toLocaleTimeString());}).catch(function(){note('refresh failed; retrying');}).then(function(){busy=false;});}
function loop(){swap().then(function(){setTimeout(loop,s*1000);});}
setTimeout(loop,s*1000);
document.addEventListener('click',function(e){var a=e.target.closest?e.target.closest('th a'):null;if(!a||a.origin!==location.origin)return;
var th=a.parentNode,t=th.closest('table');if(!t||!t.tBodies.length)return;e.preventDefault();
var i=Array.prototype.indexOf.call(th.parentNode.children,th),desc=new URL(a.href).searchParams.get('dir')==='desc',tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows);
function v(r){var c=r.cells[i],x=c?c.textContent:'',f=parseFloat(x);return isNaN(f)?x:f;}
rows.sort(function(x,y){var p=v(x),q=v(y),c=(typeof p==='number'&&typeof q==='number')?p-q:String(p).localeCompare(String(q));return desc?-c:c;});
rows.forEach(function(r){tb.appendChild(r);});b.dataset.src=a.pathname+a.search;history.replaceState(null,'',a.pathname+a.search+a.hash);swap();});
})();"#;

pub fn layout(view: &View, sections: &[Section], nonce: &str) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let src = view.href(view.sort);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>otpgw ops</title><style>{STYLE}</style></head><body data-refresh=\"{}\" data-src=\"{src}\" data-refreshed=\"0\"><h1>otpgw operations</h1>",
        view.refresh
    );
    let (w1, w48) = match view.window {
        Window::Hour => (
            "<b>last hour</b>".to_string(),
            format!(
                "<a href=\"{}\">last 48 h</a>",
                View {
                    window: Window::TwoDays,
                    ..view.clone()
                }
                .href(view.sort)
            ),
        ),
        Window::TwoDays => (
            format!(
                "<a href=\"{}\">last hour</a>",
                View {
                    window: Window::Hour,
                    ..view.clone()
                }
                .href(view.sort)
            ),
            "<b>last 48 h</b>".to_string(),
        ),
    };
    let _ = write!(
        h,
        "<p>version {} &middot; whole fleet &middot; {w1} &middot; {w48} &middot; <a href=\"{src}\">refresh</a> <span id=\"updated\">(refreshes every {} s with JavaScript on)</span></p><nav>",
        env!("CARGO_PKG_VERSION"),
        view.refresh
    );
    for s in sections {
        let _ = write!(h, "<a href=\"#{}\">{}</a>", s.id, s.title);
    }
    h.push_str("</nav>");
    for s in sections {
        if view.only.as_deref().is_some_and(|o| o != s.id) {
            continue;
        }
        let _ = write!(
            h,
            "<section id=\"{}\"{}><h2>{}</h2>{}</section>",
            s.id,
            if s.live { " data-live" } else { "" },
            s.title,
            s.html
        );
    }
    let _ = write!(
        h,
        "<script nonce=\"{nonce}\">{SCRIPT}</script></body></html>"
    );
    h
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The notice a section shows when its store does not answer.
pub fn unavailable(what: &str) -> String {
    format!("<p class=\"notice bad\" role=\"alert\">{what} unavailable: store unreachable</p>")
}
