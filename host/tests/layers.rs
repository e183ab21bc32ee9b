//! The host's layers (`docs/architecture.md`): every `crate::` path in `host/src` must point to
//! the module's own layer or one below it, and no two modules may import each other, directly or
//! round a circle. Fails with the offending paths and the files they are written in.
//!
//! A module is a file; a folder's `mod.rs` and the files under it count as one unit for the circle
//! check (a child module may use its parent's items, as `jobs/pipeline/stock.rs` does).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the top: a unit may import its own layer and every layer after it in this list.
const LAYERS: &[(&str, &[&str])] = &[
    ("cli", &["cli"]),
    ("http", &["http"]),
    ("jobs", &["jobs"]),
    ("clients and store", &["clients", "store"]),
    ("config", &["config"]),
    (
        "base",
        &["component", "wire", "x3values", "dates", "html", "log"],
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module file as its path in the crate (`jobs::pipeline::stock`), with its text.
fn modules() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("host/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src()).expect("under src");
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        if parts == ["main"] {
            continue;
        }
        if parts == ["lib"] {
            parts.clear();
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        out.insert(parts, (file, text));
    }
    out
}

/// The production text: without `//` comments (docs name modules they do not import) and
/// without the unit tests at the end of the file (from `#[cfg(test)]` before `mod tests`).
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let tests = (0..lines.len()).find(|&i| {
        lines[i].trim() == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .find(|l| !l.trim_start().starts_with("#["))
                .is_some_and(|l| l.trim_start().starts_with("mod "))
    });
    lines[..tests.unwrap_or(lines.len())]
        .iter()
        .map(|l| l.find("//").map_or(*l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a module names: `crate::a::b::Item` and `super::Item`, each as segments from the
/// crate root.
fn references(module: &[String], text: &str) -> Result<Vec<Vec<String>>, String> {
    let code = code(text);
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for (start, anchor) in [("crate::", None), ("super::", Some(()))] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let rest = &code[from..];
            let mut segs = Vec::new();
            if rest.starts_with('{') {
                if anchor.is_none() {
                    return Err(format!(
                        "`crate::{{…}}` in {}: write one `use` per module so the check can read it",
                        module.join("::")
                    ));
                }
            } else {
                for s in rest.split("::") {
                    let name: String = s
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        break;
                    }
                    let whole = name.len() == s.len();
                    segs.push(name);
                    if !whole {
                        break;
                    }
                }
            }
            let mut path = match anchor {
                None => Vec::new(),
                // `super::` from a file `a/b.rs` (module a::b) is `a`.
                Some(()) => module[..module.len().saturating_sub(1)].to_vec(),
            };
            path.extend(segs);
            out.push(path);
        }
    }
    Ok(out)
}

/// The module a path lands in: its longest prefix that is a module file.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, (PathBuf, String)>) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains_key(p))
        .unwrap_or_default()
}

/// The unit a module belongs to: the first segment for a base module, the first two otherwise
/// (`jobs::pipeline` for `jobs::pipeline::stock`); a layer folder's own `mod.rs` is its layer.
fn unit(module: &[String]) -> Vec<String> {
    let base = LAYERS.last().map(|l| l.1).unwrap_or_default();
    match module.first() {
        None => Vec::new(),
        Some(first) if base.contains(&first.as_str()) => vec![first.clone()],
        Some(_) => module[..module.len().min(2)].to_vec(),
    }
}

fn layer(unit: &[String]) -> Option<usize> {
    let first = unit.first()?;
    LAYERS
        .iter()
        .position(|(_, tops)| tops.contains(&first.as_str()))
}

#[test]
fn host_src_has_layers_and_no_import_circle() {
    let modules = modules();
    assert!(
        modules.len() > 20,
        "read {} modules from {}",
        modules.len(),
        src().display()
    );
    // unit → unit → the paths that make the edge (for the message).
    let mut edges: BTreeMap<Vec<String>, BTreeMap<Vec<String>, BTreeSet<String>>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (module, (file, text)) in &modules {
        let from = unit(module);
        if from.is_empty() {
            continue; // lib.rs declares the layers
        }
        if layer(&from).is_none() {
            problems.push(format!(
                "{}: module `{}` is in no layer (add it to LAYERS and docs/architecture.md)",
                file.display(),
                module.join("::")
            ));
        }
        let refs = match references(module, text) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for path in refs {
            let target = unit(&resolve(&path, &modules));
            if target.is_empty() || target == from {
                continue;
            }
            edges
                .entry(from.clone())
                .or_default()
                .entry(target)
                .or_default()
                .insert(format!("crate::{}", path.join("::")));
        }
    }
    // Pointing up.
    for (from, tos) in &edges {
        for (to, paths) in tos {
            if let (Some(a), Some(b)) = (layer(from), layer(to))
                && b < a
            {
                problems.push(format!(
                    "`{}` ({}) imports `{}` ({}), a layer above it: {}",
                    from.join("::"),
                    LAYERS[a].0,
                    to.join("::"),
                    LAYERS[b].0,
                    paths.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    // Circles: a depth-first search over the units.
    fn visit(
        at: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeMap<Vec<String>, BTreeSet<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        if let Some(i) = stack.iter().position(|u| u == at) {
            let mut c: Vec<String> = stack[i..].iter().map(|u| u.join("::")).collect();
            c.push(at.join("::"));
            circles.push(c.join(" → "));
            return;
        }
        if !done.insert(at.clone()) {
            return;
        }
        stack.push(at.clone());
        for to in edges.get(at).map(|t| t.keys()).into_iter().flatten() {
            visit(to, edges, stack, done, circles);
        }
        stack.pop();
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for from in edges.keys() {
        visit(from, &edges, &mut Vec::new(), &mut done, &mut circles);
    }
    for c in circles {
        problems.push(format!("import circle: {c}"));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_check_sees_paths_and_resolves_them_to_modules() {
    let modules = modules();
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let refs = references(
        &m("jobs::pipeline::stock"),
        "use super::{Finish};\nuse crate::store::Store; // crate::cli::not_this\nlet x = crate::clients::x3::X3Client::new();\n#[cfg(test)]\n#[allow(x)]\nmod tests {\n    use crate::cli::serve;\n}",
    )
    .unwrap();
    assert_eq!(
        refs,
        vec![
            m("store::Store"),
            m("clients::x3::X3Client::new"),
            m("jobs::pipeline"),
        ]
    );
    assert_eq!(
        resolve(&m("clients::x3::X3Client::new"), &modules),
        m("clients::x3")
    );
    assert_eq!(unit(&m("jobs::pipeline::stock")), m("jobs::pipeline"));
    assert_eq!(unit(&m("html")), m("html"));
    assert!(layer(&m("cli::serve")) < layer(&m("http::status")));
    assert!(references(&m("cli"), "use crate::{a, b};").is_err());
}

/// The host calls the core only through `component.rs`'s typed wrapper (`core.decisions().decide(…)`),
/// never through the generated bindings (`ml_connector_orders().call_plan`) elsewhere.
#[test]
fn only_the_component_module_touches_the_generated_bindings() {
    let outside: Vec<String> = modules()
        .into_iter()
        .filter(|(m, _)| m.as_slice() != ["component"])
        .filter(|(_, (_, text))| {
            code(text).contains(".ml_connector_") || code(text).contains(".call_")
        })
        .map(|(_, (file, _))| file.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "generated bindings called from {outside:?}"
    );
}
