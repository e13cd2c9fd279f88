//! The modules of the binary import one another in one direction (the list in ARCHITECTURE.md):
//! no cycle, only `main` imports `cli`, only `cli` imports `commands`, and no command imports
//! another. An import is a `crate::module` path outside a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top module a file of `src` belongs to: `report/data.rs` → `report`,
/// `runner/ingest/files.rs` → `runner`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifier at the start of `text`.
fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Module → the modules it imports.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    let declared: BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod "))
        .map(|rest| identifier(rest).to_owned())
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            let mut found = Vec::new();
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                match rest.strip_prefix('{') {
                    Some(group) => found.extend(
                        group
                            .split('}')
                            .next()
                            .unwrap_or_default()
                            .split(',')
                            .map(|item| identifier(item.trim())),
                    ),
                    None => found.push(identifier(rest)),
                }
            }
            // The crate root names its modules without `crate::`.
            if module == "main" && !code.trim_start().starts_with("mod ") {
                for name in &declared {
                    let mut rest = code;
                    while let Some(at) = rest.find(&format!("{name}::")) {
                        let before = rest[..at].chars().next_back();
                        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                            found.push(name);
                        }
                        rest = &rest[at + name.len() + 2..];
                    }
                }
            }
            for target in found {
                if declared.contains(target) && target != module {
                    edges
                        .entry(module.clone())
                        .or_default()
                        .insert(target.to_owned());
                }
            }
        }
    }
    edges
}

/// A cycle of `edges`, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_import_one_another_in_one_direction() {
    let edges = imports();
    let listing: Vec<String> = edges
        .iter()
        .map(|(from, to)| {
            format!(
                "{from} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let listing = listing.join("\n");
    assert!(edges["main"].contains("cli"), "{listing}");
    if let Some(cycle) = cycle(&edges) {
        panic!("import cycle: {}\n{listing}", cycle.join(" -> "));
    }
    let into_cli: Vec<&String> = edges
        .iter()
        .filter(|(from, to)| from.as_str() != "main" && to.contains("cli"))
        .map(|(from, _)| from)
        .collect();
    assert!(into_cli.is_empty(), "{into_cli:?} import cli\n{listing}");
    let into_commands: Vec<&String> = edges
        .iter()
        .filter(|(from, to)| from.as_str() != "cli" && to.contains("commands"))
        .map(|(from, _)| from)
        .collect();
    assert!(
        into_commands.is_empty(),
        "{into_commands:?} import commands\n{listing}"
    );
}

/// Command → the other commands it names (`super::x`, `commands::x`): what two commands share
/// belongs in `commands/mod.rs` or below, never in one of them.
fn imports_between_commands() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let name = |file: &Path| file.file_stem().unwrap().to_str().unwrap().to_owned();
    let commands: BTreeSet<String> = files
        .iter()
        .map(|f| name(f))
        .filter(|n| n != "mod")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = name(file);
        if from == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            for prefix in ["super::", "commands::"] {
                for (at, _) in code.match_indices(prefix) {
                    let target = identifier(&code[at + prefix.len()..]);
                    if commands.contains(target) && target != from {
                        edges
                            .entry(from.clone())
                            .or_default()
                            .insert(target.to_owned());
                    }
                }
            }
        }
    }
    edges
}

#[test]
fn no_command_imports_another() {
    let edges = imports_between_commands();
    assert!(edges.is_empty(), "commands importing commands: {edges:?}");
}

#[test]
fn a_cycle_is_found() {
    let edge = |from: &str, to: &str| (from.to_owned(), BTreeSet::from([to.to_owned()]));
    let edges: BTreeMap<String, BTreeSet<String>> =
        [edge("a", "b"), edge("b", "c"), edge("c", "a")].into();
    assert_eq!(cycle(&edges).unwrap(), ["a", "b", "c", "a"]);
    let edges: BTreeMap<String, BTreeSet<String>> = [edge("a", "b"), edge("b", "c")].into();
    assert!(cycle(&edges).is_none());
}
