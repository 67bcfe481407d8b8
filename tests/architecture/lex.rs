//! Rust source with everything that is not code blanked out: comments (line, doc and
//! nested block comments), string literals (plain, byte, raw with any number of `#`)
//! and char literals become spaces, newlines stay, so a path named in a doc comment or a
//! string is not taken for an import and every offset keeps its line.

/// `src` with comments and literals replaced by spaces (newlines kept).
pub fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    // Blanks c[from..to] into `out`, keeping newlines.
    let blank = |out: &mut String, from: usize, to: usize| {
        for ch in &c[from..to.min(c.len())] {
            out.push(if *ch == '\n' { '\n' } else { ' ' });
        }
    };
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        let prev_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if at(0) == '/' && at(1) == '/' {
            let end = c[i..]
                .iter()
                .position(|&x| x == '\n')
                .map_or(c.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if at(0) == '/' && at(1) == '*' {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 1;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(end) = raw_string_end(&c, i).filter(|_| !prev_ident) {
            blank(&mut out, i, end);
            i = end;
        } else if at(0) == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if at(0) == '\'' && (at(1) == '\\' || (at(1) != '\'' && at(2) == '\'')) {
            // A char literal; `'a` without a closing quote two on is a lifetime.
            let mut j = i + 1;
            while j < c.len() && c[j] != '\'' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else {
            out.push(at(0));
            i += 1;
        }
    }
    out
}

/// Where a raw string starting at `i` (`r"`, `r#"`, `br##"` …) ends, if one starts there.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&x| x == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&x| x == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

#[test]
fn comments_strings_and_chars_are_blanked_lines_are_kept() {
    let src = "use a; // crate::x\n/* crate::y /* nested */ */ let s = \"crate::z\\\"\";\nlet r = r#\"crate::\"w\"#; let c = '{'; fn f<'a>(x: &'a u8) {}\n";
    let code = code_only(src);
    assert_eq!(code.lines().count(), 3);
    assert!(!code.contains("crate::"), "{code}");
    assert!(code.contains("fn f<'a>(x: &'a u8) {}"), "{code}");
    assert!(!code.contains("'{'"), "{code}");
}
