//! The module graph of `src/`: every reference from one top-level module to another
//! (`use crate::…`, `crate::x::` paths in code, `super::` chains that climb to the crate
//! root, `otpgw::x` in the binary) and to a watched external crate (`axum::…`,
//! `::redis::…`), each with its file and line; and the cycles between top-level modules.

use super::lex::code_only;
use std::collections::{BTreeMap, BTreeSet};

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A top-level module of the crate.
    Module(String),
    /// An external crate.
    Crate(String),
}

/// One reference, where it is written.
#[derive(Debug, Clone)]
pub struct Import {
    /// Path under `src/`.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The top-level module the file belongs to (`main` for the binary).
    pub from: String,
    /// What it names.
    pub to: Target,
}

impl Import {
    /// `src/<file>:<line>`.
    pub fn at(&self) -> String {
        format!("src/{}:{}", self.file, self.line)
    }
}

/// The module path of a file under `src/` (`store/admit.rs` → `[store, admit]`).
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
}

fn ident_at(code: &[u8], mut i: usize) -> Option<(String, usize)> {
    while i < code.len() && code[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
        i += 1;
    }
    (i > start).then(|| (String::from_utf8_lossy(&code[start..i]).into_owned(), i))
}

/// The names a path continues with at `i`: one identifier, or each first identifier of
/// a `{a, b::c, …}` group (which may span lines), with their offsets.
fn heads(code: &[u8], i: usize) -> Vec<(String, usize)> {
    let mut j = i;
    while j < code.len() && code[j].is_ascii_whitespace() {
        j += 1;
    }
    if code.get(j) != Some(&b'{') {
        return ident_at(code, j).map(|(n, _)| (n, j)).into_iter().collect();
    }
    let (mut out, mut depth, mut expect) = (Vec::new(), 0, true);
    while j < code.len() {
        match code[j] {
            b'{' => {
                depth += 1;
                expect = depth == 1;
            }
            b'}' if depth == 1 => break,
            b'}' => depth -= 1,
            b',' if depth == 1 => expect = true,
            b if expect && (b.is_ascii_alphabetic() || b == b'_') => {
                let (n, end) = ident_at(code, j).expect("an identifier starts here");
                out.push((n, j));
                expect = false;
                j = end;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    out
}

fn line_of(code: &[u8], at: usize) -> usize {
    code[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

fn preceded_by_ident_or_path(code: &[u8], at: usize) -> bool {
    at > 0 && (code[at - 1].is_ascii_alphanumeric() || matches!(code[at - 1], b'_' | b'$' | b'.'))
        || at >= 2 && &code[at - 2..at] == b"::"
}

/// Every reference of `files` (path under `src/`, text) to another top-level module or to
/// one of `externs`.
pub fn imports(files: &[(String, String)], externs: &[&str]) -> Vec<Import> {
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|(f, _)| module_path(f).first().cloned())
        .filter(|t| t != "main")
        .collect();
    let mut out = Vec::new();
    for (file, text) in files {
        let path = module_path(file);
        let Some(from) = path.first().cloned() else {
            continue; // lib.rs only declares the modules
        };
        let code = code_only(text);
        let code = code.as_bytes();
        let inline = inline_modules(code);
        let mut push = |at: usize, to: Target| {
            if to != Target::Module(from.clone()) {
                let line = line_of(code, at);
                out.push(Import {
                    file: file.clone(),
                    line,
                    from: from.clone(),
                    to,
                });
            }
        };
        let module = |name: &str| tops.contains(name).then(|| Target::Module(name.into()));
        for root in ["crate::", "otpgw::"] {
            if root == "otpgw::" && from != "main" {
                continue;
            }
            for (at, _) in String::from_utf8_lossy(code).match_indices(root) {
                if preceded_by_ident_or_path(code, at) {
                    continue;
                }
                for (name, pos) in heads(code, at + root.len()) {
                    if let Some(t) = module(&name) {
                        push(pos, t);
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(code).into_owned();
        for (at, _) in text.match_indices("super::") {
            if preceded_by_ident_or_path(code, at) {
                continue;
            }
            let mut n = 0;
            while text[at + n * 7..].starts_with("super::") {
                n += 1;
            }
            let depth = path.len() + inline.iter().filter(|(a, b)| *a < at && at < *b).count();
            if n == depth {
                for (name, pos) in heads(code, at + n * 7) {
                    if let Some(t) = module(&name) {
                        push(pos, t);
                    }
                }
            }
        }
        for name in externs {
            let local =
                text.contains(&format!("mod {name};")) || text.contains(&format!("mod {name} {{"));
            for (at, _) in text.match_indices(&format!("{name}::")) {
                let absolute = at >= 2
                    && &code[at - 2..at] == b"::"
                    && (at < 3 || !code[at - 3].is_ascii_alphanumeric() && code[at - 3] != b'_');
                let bare = !preceded_by_ident_or_path(code, at) && !local;
                if absolute || bare {
                    push(at, Target::Crate(name.to_string()));
                }
            }
        }
    }
    out
}

/// The (open, close) offsets of every inline `mod name { … }` block.
fn inline_modules(code: &[u8]) -> Vec<(usize, usize)> {
    let text = String::from_utf8_lossy(code);
    let mut out = Vec::new();
    for (at, _) in text.match_indices("mod ") {
        if preceded_by_ident_or_path(code, at) {
            continue;
        }
        let Some((_, end)) = ident_at(code, at + 4) else {
            continue;
        };
        let rest = text[end..].trim_start();
        if !rest.starts_with('{') {
            continue;
        }
        let open = end + (text[end..].len() - rest.len());
        let mut depth = 0;
        for (k, b) in code[open..].iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push((open, open + k));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Each cycle between top-level modules (one per strongly connected group of more than
/// one module), as the imports that close it, one per edge.
pub fn cycles(imports: &[Import]) -> Vec<Vec<Import>> {
    let mut edges: BTreeMap<&str, BTreeMap<&str, &Import>> = BTreeMap::new();
    for i in imports {
        if let Target::Module(to) = &i.to {
            edges.entry(&i.from).or_default().entry(to).or_insert(i);
        }
    }
    let reach = |from: &str| {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in edges.get(m.as_str()).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next.to_string()) {
                    todo.push(next.to_string());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for &start in edges.keys() {
        if done.contains(start) {
            continue;
        }
        // The shortest way back to `start`, breadth first: a cycle if there is one.
        let mut back: BTreeMap<&str, &str> = BTreeMap::new();
        let mut layer = vec![start];
        let mut closed = None;
        while closed.is_none() && !layer.is_empty() {
            let mut next_layer = Vec::new();
            for m in layer {
                for &n in edges.get(m).into_iter().flat_map(|e| e.keys()) {
                    if n == start {
                        closed = closed.or(Some(m));
                    } else if !back.contains_key(n) {
                        back.insert(n, m);
                        next_layer.push(n);
                    }
                }
            }
            layer = next_layer;
        }
        let Some(last) = closed else { continue };
        let mut chain = vec![start, last];
        while let Some(&p) = back.get(chain[chain.len() - 1]) {
            chain.push(p);
        }
        chain.reverse(); // start … last start
        let cycle: Vec<Import> = chain
            .windows(2)
            .map(|w| edges[w[0]][w[1]].clone())
            .collect();
        for m in reach(start)
            .into_iter()
            .filter(|m| reach(m).contains(start))
        {
            done.insert(m);
        }
        out.push(cycle);
    }
    out
}
