//! Twilio's official SDKs against the gateway: `twilio==9.13.0` from PyPI (in a venv under
//! the target directory, `support::pyvenv`) and `twilio@6.3.1` from the npm registry
//! (installed under the target directory on first use, as the Prism harness does), each
//! running `quickstart.py` / `quickstart.js`: create, the code from `/dev/outbox`, a
//! wrong and the right code, cancel, and Twilio's errors as each SDK's exception with its
//! `code` and `status`.

use crate::support::{pyvenv, Backend};
use crate::{app_on, ACCOUNT, SERVICE, TOKEN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pinned SDK releases.
const PYPI_SDK: &str = "twilio==9.13.0";
const NPM_SDK: &str = "twilio@6.3.1";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/twilio_verify")
        .join(name)
}

/// `node_modules` holding the npm SDK, installed on first use.
fn node_modules() -> PathBuf {
    crate::support::npm::install("twilio-node", NPM_SDK, "The Twilio Node SDK test")
}

/// Runs the quick-start with `cmd` against a fresh gateway; what the script saw.
async fn quickstart(mut cmd: Command) -> Value {
    let app = app_on(Backend::Memory, |_| {}).await;
    let base = format!("http://{}", app.addr);
    let (to, to2) = (crate::number(), crate::number());
    let out = tokio::task::spawn_blocking(move || {
        cmd.env("OTPGW_BASE", base)
            .env("TW_ACCOUNT_SID", ACCOUNT)
            .env("TW_AUTH_TOKEN", TOKEN)
            .env("TW_SERVICE_SID", SERVICE)
            .env("TW_TO", to)
            .env("TW_TO_2", to2)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the quick-start failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints one JSON object")
}

/// What both SDKs must have seen.
#[track_caller]
fn saw_the_flow(seen: &Value) {
    assert_eq!(seen["created"]["status"], "pending", "{seen}");
    assert_eq!(seen["wrong"]["valid"], false, "{seen}");
    assert_eq!(seen["right"]["status"], "approved", "{seen}");
    assert_eq!(seen["right"]["sid"], seen["created"]["sid"], "{seen}");
    assert_eq!(seen["canceled"]["status"], "canceled", "{seen}");
    let err = |k: &str| (seen[k]["status"].as_u64(), seen[k]["code"].as_u64());
    assert_eq!(err("after_approval"), (Some(404), Some(20404)), "{seen}");
    assert_eq!(err("bad_to"), (Some(400), Some(60200)), "{seen}");
    assert_eq!(err("bad_channel"), (Some(400), Some(60200)), "{seen}");
    assert_eq!(err("unknown_sid"), (Some(404), Some(20404)), "{seen}");
    assert_eq!(err("other_service"), (Some(404), Some(20404)), "{seen}");
    assert_eq!(err("bad_token"), (Some(401), Some(20003)), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_runs_the_quickstart() {
    let py = pyvenv::python("twilio-sdk", PYPI_SDK).unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(script("quickstart.py"));
    saw_the_flow(&quickstart(cmd).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_sdk_runs_the_quickstart() {
    let modules = tokio::task::spawn_blocking(node_modules).await.unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(script("quickstart.js")).env("NODE_PATH", modules);
    saw_the_flow(&quickstart(cmd).await);
}
