//! Dependencies point one way: no import circle between two source files, and none between two
//! top-level folders of `src/` (docs/architecture.md draws the order). Paths are read from the
//! source text (`crate::a::b`, `super::c`), test modules excluded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of `src/` with the source text before its first `#[cfg(test)]`.
fn modules() -> BTreeMap<Module, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<Module, String>, root: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out, root);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into()).collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                if parts == ["lib"] || parts == ["main"] {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: String = code
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n");
                out.insert(parts, code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &mut out, &root);
    out
}

/// Module → the modules it names (the longest existing prefix of each path).
fn edges(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (me, code) in mods {
        let deps = out.entry(me.clone()).or_default();
        for (anchor, base) in [
            ("crate::", Vec::new()),
            ("super::", me[..me.len().saturating_sub(1)].to_vec()),
        ] {
            for (at, _) in code.match_indices(anchor) {
                let before = code[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let rest = &code[at + anchor.len()..];
                let mut target = base.clone();
                for seg in rest.split("::") {
                    let seg: String = seg
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let mut next = target.clone();
                    next.push(seg);
                    if !mods.contains_key(&next) {
                        break;
                    }
                    target = next;
                }
                // A module's own ancestors are its namespace, not a dependency.
                if !target.is_empty() && target != *me && !me.starts_with(&target) {
                    deps.insert(target);
                }
            }
        }
    }
    out
}

/// A cycle in `graph`, as the nodes on it, if there is one.
fn cycle<T: Ord + Clone>(graph: &BTreeMap<T, BTreeSet<T>>) -> Option<Vec<T>> {
    fn visit<T: Ord + Clone>(
        n: &T,
        g: &BTreeMap<T, BTreeSet<T>>,
        state: &mut BTreeMap<T, bool>,
        path: &mut Vec<T>,
    ) -> Option<Vec<T>> {
        match state.get(n) {
            Some(true) => return None,
            Some(false) => {
                let from = path.iter().position(|p| p == n).unwrap_or(0);
                let mut c = path[from..].to_vec();
                c.push(n.clone());
                return Some(c);
            }
            None => {}
        }
        state.insert(n.clone(), false);
        path.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut state, &mut Vec::new()))
}

#[test]
fn no_import_circle_between_files() {
    let mods = modules();
    assert!(mods.len() > 100, "found {} modules", mods.len());
    let g = edges(&mods);
    assert!(g[&vec!["exec".to_string(), "run".to_string()]].contains(&vec!["stages".to_string()]));
    if let Some(c) = cycle(&g) {
        let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
        panic!("import circle: {}", names.join(" → "));
    }
}

#[test]
fn folders_depend_one_way() {
    let g = edges(&modules());
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &g {
        let set = folders.entry(from[0].clone()).or_default();
        set.extend(tos.iter().map(|t| t[0].clone()).filter(|t| *t != from[0]));
    }
    if let Some(c) = cycle(&folders) {
        panic!("folders in a circle: {}", c.join(" → "));
    }
    // The executor is the only caller of the stages, and the stages never call it.
    assert!(folders["exec"].contains("stages"));
    assert!(!folders["stages"].contains("exec"));
    for domain in [
        "data",
        "model",
        "train",
        "eval",
        "plan",
        "quant",
        "nn",
        "tokenizer",
    ] {
        let up: Vec<&String> = folders[domain]
            .iter()
            .filter(|f| ["cli", "exec", "stages"].contains(&f.as_str()))
            .collect();
        assert!(up.is_empty(), "{domain} depends on {up:?}");
    }
}
