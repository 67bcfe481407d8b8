//! The one-shot commands: `config check`, `template preview`, `api-key hash` and
//! `healthcheck`, and loading the config file they and `serve` share.

use crate::config::{problems, Config};
use std::path::PathBuf;
use std::process::ExitCode;

pub(super) fn preview(
    path: Option<PathBuf>,
    tenant: &str,
    name: &str,
    locale: Option<&str>,
    app_hash: bool,
) -> ExitCode {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(t) = cfg.tenants.get(tenant) else {
        eprintln!("otpgw: no tenant `{tenant}` in this configuration");
        return ExitCode::from(2);
    };
    let Some(p) = crate::template::preview(t, name, locale, app_hash) else {
        eprintln!("otpgw: tenant `{tenant}` has no template `{name}`");
        return ExitCode::from(2);
    };
    println!("{}\n---", p.text);
    println!(
        "{:?}, {} characters, {} segment(s)",
        p.encoding, p.chars, p.segments
    );
    if p.segments > 1 {
        eprintln!(
            "warning: this message needs {} SMS segments; each send is billed {} times",
            p.segments, p.segments
        );
    }
    ExitCode::SUCCESS
}

/// `api-key hash`: the hash of the first line of standard input.
pub(super) fn hash_stdin() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("could not read the secret from standard input");
        return ExitCode::FAILURE;
    }
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        eprintln!("give the secret on standard input, e.g. `otpgw api-key hash < token.txt`");
        return ExitCode::FAILURE;
    }
    println!("{}", crate::crypto::hash_api_key(secret));
    ExitCode::SUCCESS
}

pub(super) fn healthcheck(url: &str) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(_) => return ExitCode::FAILURE,
    };
    rt.block_on(async {
        let client = match crate::providers::http::client(std::time::Duration::from_secs(3)) {
            Ok(c) => c,
            Err(_) => return ExitCode::FAILURE,
        };
        match client.get(url).send().await {
            Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
            Ok(r) => {
                eprintln!("otpgw: not ready ({})", r.status());
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("otpgw: no answer from {url}: {}", e.without_url());
                ExitCode::FAILURE
            }
        }
    })
}

pub(super) fn load(path: Option<PathBuf>) -> Result<Config, ExitCode> {
    Config::load(path.as_deref()).map_err(|e| {
        eprintln!("otpgw: {e}");
        ExitCode::from(2)
    })
}

pub(super) fn check(path: Option<PathBuf>) -> ExitCode {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for w in crate::template::lint(&cfg) {
        eprintln!("warning: {w}");
    }
    for w in crate::config::abuse_warnings(&cfg.tenants) {
        eprintln!("warning: {w}");
    }
    for w in crate::config::receipts::warnings(&cfg) {
        eprintln!("warning: {w}");
    }
    let p = problems(&cfg);
    if p.is_empty() {
        println!(
            "configuration OK: {} tenant(s), store {:?}, providers {:?}",
            cfg.tenants.len(),
            cfg.store.kind,
            cfg.providers.keys().collect::<Vec<_>>()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("configuration has {} problem(s):", p.len());
        for line in p {
            eprintln!("  - {line}");
        }
        ExitCode::from(2)
    }
}
