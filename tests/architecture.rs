//! The module rules of `docs/architecture.md#rules`, checked on the source: every file
//! under `src/` is read (`architecture/lex.rs` drops comments and literals,
//! `architecture/graph.rs` finds the references between top-level modules and to the
//! watched external crates), and each broken rule or import cycle is reported with the
//! file and line of an import that breaks it.
//!
//! 1. `service` imports no `axum`, no `tonic` and nothing from `api`;
//! 2. `providers` import neither `api` nor `service`;
//! 3. the trait modules (`store`, `queue`, `ratelimit`) import no backend: neither the
//!    `backend` module nor the `redis` crate;
//! 4. only start-up (`app`, `cli`, `main`) names `backend` (and so calls
//!    `backend::build`, the one place implementations are picked);
//! 5. no import cycle between top-level modules.
//!
//! The checker is tested too: it must report a rule broken on purpose and a cycle in a
//! small made-up source tree.

#[path = "architecture/graph.rs"]
mod graph;
#[path = "architecture/lex.rs"]
mod lex;

use graph::{cycles, imports, Import, Target};
use std::path::Path;

/// External crates the rules name.
const EXTERNS: &[&str] = &["axum", "tonic", "redis"];
/// The trait modules: contracts and backend-neutral logic only.
const TRAIT_MODULES: &[&str] = &["store", "queue", "ratelimit"];
/// Start-up: the only modules that pick implementations.
const STARTUP: &[&str] = &["app", "cli", "main"];

/// Why `i` breaks a rule, if it does.
fn broken(i: &Import) -> Option<&'static str> {
    let (from, to) = (i.from.as_str(), &i.to);
    let module = |m: &str| *to == Target::Module(m.into());
    let krate = |c: &str| *to == Target::Crate(c.into());
    if from == "service" && (module("api") || krate("axum") || krate("tonic")) {
        return Some("rule 1: the service is the same whatever the transport");
    }
    if from == "providers" && (module("api") || module("service")) {
        return Some("rule 2: an adapter knows its vendor and the message, not the request");
    }
    if TRAIT_MODULES.contains(&from) && (module("backend") || krate("redis")) {
        return Some("rule 3: the trait modules import no backend");
    }
    if module("backend") && !STARTUP.contains(&from) {
        return Some("rule 4: only start-up (app, cli, main) picks implementations");
    }
    None
}

/// Every broken rule and every cycle of `files` (paths under `src/`, texts), one line
/// each, naming a file and line.
fn check(files: &[(String, String)]) -> Vec<String> {
    let all = imports(files, EXTERNS);
    let name = |t: &Target| match t {
        Target::Module(m) | Target::Crate(m) => m.clone(),
    };
    let mut out: Vec<String> = all
        .iter()
        .filter_map(|i| {
            let why = broken(i)?;
            Some(format!(
                "{}: {} imports {} ({why})",
                i.at(),
                i.from,
                name(&i.to)
            ))
        })
        .collect();
    for cycle in cycles(&all) {
        let path: Vec<String> = cycle.iter().map(|i| i.from.clone()).collect();
        let at: Vec<String> = cycle
            .iter()
            .map(|i| format!("{} ({} → {})", i.at(), i.from, name(&i.to)))
            .collect();
        out.push(format!(
            "rule 5: import cycle {} → {}: {}",
            path.join(" → "),
            path[0],
            at.join(", ")
        ));
    }
    out
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            read_tree(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn the_source_keeps_the_module_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&src, &src, &mut files);
    assert!(files.len() > 100, "read {} files", files.len());
    let found = imports(&files, EXTERNS);
    // The checker sees the imports it is about: a silent checker would pass anything.
    for (from, to) in [
        ("backend", "store"),
        ("app", "backend"),
        ("service", "store"),
    ] {
        assert!(
            found
                .iter()
                .any(|i| i.from == from && i.to == Target::Module(to.into())),
            "the checker found no import {from} → {to}"
        );
    }
    let problems = check(&files);
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_checker_reports_a_rule_broken_on_purpose_and_a_cycle() {
    let files = tree(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod service;\npub mod store;\n",
        ),
        (
            "a.rs",
            "//! Mentions crate::service in a comment only.\nuse crate::b::Thing;\n",
        ),
        ("b/mod.rs", "mod inner;\npub struct Thing;\n"),
        (
            "b/inner.rs",
            "fn f() {\n    let x = super::super::a::g();\n}\n",
        ),
        (
            "service/mod.rs",
            "use crate::store::Store;\nuse axum::Router;\nconst S: &str = \"crate::api\";\n",
        ),
        (
            "store/mod.rs",
            "pub trait Store {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
    ]);
    let problems = check(&files);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/service/mod.rs:2: service imports axum (rule 1")),
        "{problems:#?}"
    );
    let cycle = problems
        .iter()
        .find(|p| p.starts_with("rule 5"))
        .expect("the cycle");
    assert!(cycle.contains("a → b → a"), "{cycle}");
    assert!(cycle.contains("src/a.rs:2 (a → b)"), "{cycle}");
    assert!(cycle.contains("src/b/inner.rs:2 (b → a)"), "{cycle}");
}

#[test]
fn the_checker_reads_groups_inline_modules_and_the_other_rules() {
    let files = tree(&[
        ("lib.rs", "pub mod backend;\npub mod providers;\npub mod queue;\npub mod store;\n"),
        ("backend/mod.rs", "pub mod redis;\nfn f() { redis::build(); }\n"),
        ("backend/redis.rs", "pub fn build() { let _ = ::redis::cmd(\"GET\"); }\n"),
        ("providers/mod.rs", "use crate::{\n    queue,\n    store::{self, Store},\n};\n"),
        ("queue/mod.rs", "fn f() {\n    let _ = crate::backend::build();\n}\n"),
        (
            "store/mod.rs",
            "pub trait Store {}\nmod tests {\n    use super::super::queue::Q;\n}\nfn g() { ::redis::cmd(\"GET\"); }\n",
        ),
    ]);
    let found = imports(&files, EXTERNS);
    let has = |from: &str, to: Target, line: usize| {
        found
            .iter()
            .any(|i| i.from == from && i.to == to && i.line == line)
    };
    assert!(
        has("providers", Target::Module("queue".into()), 2),
        "{found:#?}"
    );
    assert!(
        has("providers", Target::Module("store".into()), 3),
        "{found:#?}"
    );
    assert!(
        has("store", Target::Module("queue".into()), 3),
        "{found:#?}"
    );
    assert!(
        has("backend", Target::Crate("redis".into()), 1),
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|i| i.file == "backend/mod.rs"),
        "a local module named like a crate is not the crate: {found:#?}"
    );
    let problems = check(&files);
    let expect = [
        "src/queue/mod.rs:2: queue imports backend (rule 3",
        "src/store/mod.rs:5: store imports redis (rule 3",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "{e}: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 2, "{problems:#?}");
}
