//! `openapi.yaml` against the running gateway, by requests generated from the document
//! itself: PyPI `schemathesis` (pinned) reads the document, generates requests for every
//! operation it lists (the documented examples, boundary values of every constraint,
//! then random ones; valid and invalid) and checks each answer:
//!
//! - `not_a_server_error`: no 5xx;
//! - `status_code_conformance`, `content_type_conformance`,
//!   `response_headers_conformance`, `response_schema_conformance`: the status is one the
//!   operation documents, with the documented media type, headers and body schema;
//! - `positive_data_acceptance`: a request the document calls valid is not refused as
//!   invalid (400, 413, 415, 422).
//!
//! The exception is what no schema can express, and the document says in words: a `to`
//! that is E.164-shaped but not a valid number for its country (libphonenumber,
//! `400 invalid_phone_number`). Likewise a `template` the tenant does not have, a
//! `metadata` over 1 KiB serialized, and a `code_length` written as `6.0` (an integer to
//! JSON Schema, not to the gateway). `tests/schema/hooks.py` maps generated `to` and
//! `template` values of valid requests onto ones the test tenant accepts, and lets the
//! refusals for the number, the `metadata` size and the `code_length` literal pass; any
//! other refusal of a valid request fails.
//!
//! Phases: the documented examples, boundary values of every constraint (coverage),
//! random requests (fuzzing), and chains of calls along the links inferred from the
//! document (stateful: start, then read, check or cancel what it returned). Bounded: a
//! fixed seed, a fixed number of examples per operation and phase, one worker, and a
//! wall-clock limit after which the run is stopped and the test fails (about 30 s).
//!
//! The gateway is the real one, in-process on port 0 (memory store, dev outbox on, the
//! demo tenant's limits off so that 429s do not hide the other answers). Operations and
//! the key each one is called with are in `tests/schema/schemathesis.toml`.
//!
//! Needs `python3` with `venv` and PyPI on the first run (see `tests/support/pyvenv.rs`).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{spawn_app, Backend};

/// The pinned package, and the virtualenv it is installed into.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const VENV: &str = "schemathesis-4.32.5";

/// An admin key (`admin.api_keys`) for the admin API and `/ops`.
const ADMIN_KEY: &str = "otpgw_admin_key_for_tests_only";

/// Fixed seed: the same requests every run.
const SEED: &str = "20261206";
/// Generated requests per operation and phase.
const MAX_EXAMPLES: &str = "100";
/// The whole run, schemathesis start-up included, must finish within this.
const WALL_CLOCK: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_as_openapi_yaml_says() {
    let py = tokio::task::spawn_blocking(|| support::pyvenv::python(VENV, SCHEMATHESIS))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("schemathesis is not available: {e}"));

    let app = spawn_app(Backend::Memory, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        let demo = c.tenants.get_mut("demo").expect("the demo tenant");
        // Every start of a valid number is answered 201 or 200, not 429: the run sends
        // many starts to few numbers within a second.
        demo.resend_cooldown_secs = 0;
        demo.max_sends = 1_000_000;
        demo.number_sends_per_hour = 1_000_000;
        demo.number_failed_checks_per_hour = 1_000_000;
        demo.client_failed_checks_per_hour = 0;
        // A second template, for `template` in starts (`tests/schema/hooks.py`).
        demo.templates.insert(
            "short".into(),
            [("en".to_string(), "{code} is your {brand} code".to_string())].into(),
        );
    })
    .await;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests").join("schema");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema-run");
    std::fs::create_dir_all(&work).unwrap();
    let log = work.join("schemathesis.log");
    let script = py.parent().unwrap().join("schemathesis");
    let url = format!("http://{}", app.addr);

    let mut cmd = Command::new(&py);
    cmd.arg(&script)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        .arg(root.join("openapi.yaml"))
        .args(["--url", &url])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,\
             positive_data_acceptance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--seed", SEED])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--generation-database", "none"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "5"])
        .arg("--no-color")
        .env("SCHEMATHESIS_HOOKS", dir.join("hooks.py"))
        .env("OTPGW_TEST_KEY", &app.key)
        .env("OTPGW_TEST_ADMIN_KEY", ADMIN_KEY)
        // No `.hypothesis/` or report directories in the source tree.
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(
            std::fs::File::create(work.join("stderr.log")).unwrap(),
        ));

    let (status, took) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let mut child = cmd.spawn().expect("python runs");
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return (Some(s), t.elapsed());
            }
            if t.elapsed() > WALL_CLOCK {
                let _ = child.kill();
                let _ = child.wait();
                return (None, t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();

    let report = format!(
        "{}{}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        std::fs::read_to_string(work.join("stderr.log")).unwrap_or_default()
    );
    eprintln!("schemathesis ran {took:.1?}");
    match status {
        None => panic!(
            "schemathesis did not finish within {WALL_CLOCK:?} and was stopped; its output:\n{report}"
        ),
        Some(s) if !s.success() => {
            panic!("schemathesis found disagreements with openapi.yaml ({s}):\n{report}")
        }
        Some(_) => {}
    }
    app.stop().await;
}
