//! No production function in `host/src` is longer than [`LIMIT`] lines (issue 13): a longer one
//! is split by its steps into named functions. Fails naming each one, with its file and line.
//!
//! A function's length is counted from the line of its `fn` to the line of its closing brace,
//! signature included, doc comments and attributes not. Unit tests are not production: a
//! `#[cfg(test)]` item (the `mod tests` at the end of a file) and a `#[test]` function are skipped.
//! Like `layers.rs`, the check reads the sources itself: comments, strings and character literals
//! are blanked first, so a brace inside them does not count.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The longest a production function may be, in lines.
const LIMIT: usize = 120;

/// Functions allowed to be longer for now, as (file under `host/src`, function name).
const ALLOWED: &[(&str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("host/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A function with a body: its name, the line of its `fn` (from 1) and its length in lines.
#[derive(Debug, PartialEq, Eq)]
struct Function {
    name: String,
    line: usize,
    lines: usize,
}

/// The source with every comment, string literal and character literal replaced by spaces
/// (newlines kept, so lines and columns stay where they were).
fn blank(text: &str) -> Vec<char> {
    let s: Vec<char> = text.chars().collect();
    let mut out = s.clone();
    let blank_range = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < s.len() {
        let next = s.get(i + 1).copied();
        if s[i] == '/' && next == Some('/') {
            let end = (i..s.len()).find(|&j| s[j] == '\n').unwrap_or(s.len());
            blank_range(&mut out, i, end);
            i = end;
        } else if s[i] == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let (mut depth, mut j) = (0, i);
            while j < s.len() {
                if s[j] == '/' && s.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if s[j] == '*' && s.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank_range(&mut out, i, j);
            i = j;
        } else if (s[i] == 'r' || (s[i] == 'b' && next == Some('r')))
            && (i == 0 || !ident(s[i - 1]))
            && {
                let h = if s[i] == 'b' { i + 2 } else { i + 1 };
                let hashes = (h..s.len()).take_while(|&j| s[j] == '#').count();
                s.get(h + hashes) == Some(&'"')
            }
        {
            // A raw string: r"…", r#"…"#, br"…".
            let h = if s[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = (h..s.len()).take_while(|&j| s[j] == '#').count();
            let body = h + hashes + 1;
            let close = |j: usize| s[j] == '"' && (1..=hashes).all(|k| s.get(j + k) == Some(&'#'));
            let end = (body..s.len())
                .find(|&j| close(j))
                .map_or(s.len(), |j| j + 1 + hashes);
            blank_range(&mut out, i, end);
            i = end;
        } else if s[i] == '"' {
            // A string (a `b` before it is an identifier character, left as it is).
            let mut j = i + 1;
            while j < s.len() && s[j] != '"' {
                j += if s[j] == '\\' { 2 } else { 1 };
            }
            blank_range(&mut out, i, j + 1);
            i = j + 1;
        } else if s[i] == '\'' {
            // A character literal ('{', '\'', '\u{7d}'), or a lifetime or label ('a), left alone.
            let end = if next == Some('\\') {
                (i + 2..s.len()).find(|&j| s[j] == '\'' && j > i + 2)
            } else if s.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    blank_range(&mut out, i, e + 1);
                    i = e + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The functions with a body in `text`, outside `#[cfg(test)]` items and `#[test]` functions,
/// a function inside another counted on its own too.
fn functions(text: &str) -> Vec<Function> {
    let s = blank(text);
    let line_of = |at: usize| s[..at].iter().filter(|&&c| c == '\n').count() + 1;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let word_at = |at: usize, w: &str| {
        let w: Vec<char> = w.chars().collect();
        s.get(at..at + w.len()) == Some(&w[..])
            && (at == 0 || !ident(s[at - 1]))
            && s.get(at + w.len()).is_none_or(|&c| !ident(c))
    };
    // The closing brace matching the one at `open`, or the end.
    let close_of = |open: usize| {
        let mut depth = 0usize;
        for (j, &c) in s.iter().enumerate().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return j;
                    }
                }
                _ => {}
            }
        }
        s.len() - 1
    };
    // Where the item starting at `at` ends: its closing brace, or the `;` of a bodiless one;
    // with the brace's position when it has a body.
    let item_end = |at: usize| -> (usize, Option<usize>) {
        let mut nesting = 0i32;
        for (j, &c) in s.iter().enumerate().skip(at) {
            match c {
                '(' | '[' => nesting += 1,
                ')' | ']' => nesting -= 1,
                '{' if nesting == 0 => return (close_of(j), Some(j)),
                ';' if nesting == 0 => return (j, None),
                _ => {}
            }
        }
        (s.len(), None)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == '#' && s.get(i + 1) == Some(&'[') {
            let end = (i..s.len()).find(|&j| s[j] == ']').unwrap_or(s.len());
            let attr: String = s[i + 2..end]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            if attr == "test" || attr == "cfg(test)" {
                // Skip the item the attribute is on (and any attributes after it).
                let mut at = end + 1;
                loop {
                    while at < s.len() && s[at].is_whitespace() {
                        at += 1;
                    }
                    if s.get(at) == Some(&'#') {
                        at = (at..s.len()).find(|&j| s[j] == ']').unwrap_or(s.len()) + 1;
                    } else {
                        break;
                    }
                }
                i = item_end(at).0 + 1;
                continue;
            }
            i = end + 1;
            continue;
        }
        if word_at(i, "fn") {
            let name: String = s[i + 2..]
                .iter()
                .skip_while(|c| c.is_whitespace())
                .take_while(|&&c| ident(c))
                .collect();
            // `fn(u8) -> u8`, a pointer type, has no name and no body of its own.
            if !name.is_empty()
                && let (end, Some(_)) = item_end(i)
            {
                let line = line_of(i);
                out.push(Function {
                    name,
                    line,
                    lines: line_of(end) - line + 1,
                });
            }
            // Go on inside the body: a function in a function is counted too.
            i += 2;
            continue;
        }
        i += 1;
    }
    out
}

#[test]
fn production_functions_are_at_most_the_limit() {
    let files = rust_files(&src());
    assert!(
        files.len() > 20,
        "read {} files from {}",
        files.len(),
        src().display()
    );
    let mut long = Vec::new();
    let mut allowed_seen = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for f in functions(&text) {
            if f.lines <= LIMIT {
                continue;
            }
            if ALLOWED.contains(&(rel.as_str(), f.name.as_str())) {
                allowed_seen.push((rel.clone(), f.name.clone()));
                continue;
            }
            long.push(format!(
                "host/src/{rel}:{}: fn {} is {} lines (at most {LIMIT}: split it by its steps)",
                f.line, f.name, f.lines
            ));
        }
    }
    // An entry no longer needed goes, so the list only shrinks.
    for (file, name) in ALLOWED {
        if !allowed_seen.iter().any(|(f, n)| f == file && n == name) {
            long.push(format!(
                "host/src/{file}: fn {name} is in ALLOWED but no longer over {LIMIT} lines: \
                 remove it from the list"
            ));
        }
    }
    assert!(long.is_empty(), "\n{}\n", long.join("\n"));
}

#[test]
fn the_parser_measures_functions_and_skips_tests_comments_and_strings() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let text = format!(
        r##"//! fn in_a_doc() {{
/// A short one.
pub(crate) fn short(a: &str) -> Option<&'static str> {{
    let brace = '{{';
    let quote = '\'';
    let s = "}} fn in_a_string() {{ \" }}";
    let r = r#"}} "fn" {{"#;
    /* a comment }} /* nested {{ */ still a comment }} */
    'outer: loop {{ break 'outer; }}
    None
}}

trait T {{
    fn declared(&self) -> u8;
}}

fn long<T: Into<[u8; 2]>>(t: T) {{
{}}}

fn outer() {{
    fn inner() {{}}
    let f = |x: u8| {{ x }};
}}

#[test]
fn a_test() {{
{}}}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {{
    fn helper() {{
{}    }}
}}

fn after_the_tests() {{}}
"##,
        body(125),
        body(200),
        body(200)
    );
    let got: Vec<(String, usize, usize)> = functions(&text)
        .into_iter()
        .map(|f| (f.name, f.line, f.lines))
        .collect();
    let want: Vec<(String, usize, usize)> = [
        ("short", 3, 9),
        ("long", 17, 127),
        ("outer", 145, 4),
        ("inner", 146, 1),
        ("after_the_tests", 561, 1),
    ]
    .into_iter()
    .map(|(n, l, c)| (n.to_string(), l, c))
    .collect();
    assert_eq!(got, want);
}
