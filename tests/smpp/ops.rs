//! What operators see of the binds: the ops page's table, and what `otpgw config
//! check` reports on a `[providers.<name>]` section of kind `smpp` (its two steps,
//! `Config::load` and `config::problems`, called in process: the binary in a target
//! directory shared between branches may be another branch's build).

use super::{pair, start, wait_status};
use serde_json::json;

/// What `otpgw config check --config <path>` prints as problems (or the load error).
fn check(path: &std::path::Path) -> Result<Vec<String>, String> {
    let cfg = otpgw::config::Config::load(Some(path)).map_err(|e| e.to_string())?;
    Ok(otpgw::config::problems(&cfg))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_page_shows_each_bind_with_its_state_and_counts() {
    let (_s, app) = pair(json!({})).await;
    let (id, _) = start(&app).await;
    wait_status(&app, &id, "sent").await;
    let page = app.get("/ops").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let table = page
        .text
        .split("<table id=\"binds\">")
        .nth(1)
        .expect("a binds table");
    let row = table.split("</tr>").nth(1).unwrap();
    for cell in [
        "<td>smsc</td>",
        "<td>0</td>",
        ">bound<",
        "<td>0 / 10</td>",
        "<td>1</td>",
    ] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
}

#[test]
fn config_check_names_every_problem_of_an_smpp_section() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[providers.smsc]\nkind = \"smpp\"\nhost = \"\"\nsystem_id = \"a-system-id-too-long\"\n\
         password = \"longer-than-8\"\nsource = \"+12\"\nwindow = 0\n\
         [routing]\ndefault = [\"smsc\"]\n",
    )
    .unwrap();
    let err = check(&bad).unwrap().join("\n");
    for needle in [
        "providers.smsc: host",
        "providers.smsc: system_id",
        "providers.smsc: password",
        "providers.smsc: window",
        "providers.smsc: source",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    assert!(
        !err.contains("longer-than-8"),
        "the password is never shown: {err}"
    );
    let good = dir.path().join("good.toml");
    let tenant = format!(
        "mode = \"dev\"\n[tenants.a]\napi_keys = [\"{}\"]\n",
        otpgw::crypto::hash_api_key("otpgw_test_key_for_config_check")
    );
    std::fs::write(
        &good,
        tenant
            + "[providers.smsc]\nkind = \"smpp\"\nhost = \"smsc.example\"\nsystem_id = \"acme\"\n\
         password = \"pw\"\nsource = \"Acme\"\nsessions = 2\n\
         [routing]\ndefault = [\"smsc\"]\n",
    )
    .unwrap();
    assert_eq!(check(&good), Ok(Vec::new()));
}
