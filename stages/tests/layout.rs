//! The framework stays apart from its plugins. Each stage type is a plugin: one module in the folder
//! of its role (`src/extractors/`, `src/validators/`, `src/loaders/`, `src/aggregates/`). A plugin
//! names `core`, `entities`, its own modules, the crate root's items (re-exports of `core` and the
//! registration macro), `olist` and external crates, never another plugin: what two plugins share
//! moves into `core`. Only a plugin names a plugin, and only itself: `core`, `entities`, the role
//! folders' own modules and the crate root name none.
//!
//! A name is a path in code (not in a comment or a string) that starts at `crate`, `super`, `self`
//! or a module the file declares (`mod a;` then `a::b`), in a `use` line (groups included) or
//! written out where it is used; the last three count from the module the path is written in,
//! inline modules such as `mod tests { ... }` included. Any other path starts at an external crate
//! or at a name one of these brought into scope.

use std::fs;
use std::path::Path;

/// The folders of `src/` that hold plugins, one per role.
const ROLE_FOLDERS: [&str; 4] = ["extractors", "validators", "loaders", "aggregates"];
/// The framework's folder.
const CORE: &str = "core";
/// Folders of `src/` that are neither framework nor plugins but may be named by both.
const SHARED: [&str; 1] = ["entities"];

/// What a module path belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    /// The crate root: `lib.rs`, or all of the crate (`crate::*`, plugins included).
    Root,
    /// An item of the crate root: a re-export of `core`, the registration macro.
    RootItem,
    /// The framework.
    Core,
    /// A shared folder (the entities).
    Shared,
    /// A role folder's own module (`crate::aggregates`), or all of it (`crate::aggregates::*`).
    RoleFolder(String),
    /// One plugin: its role folder and its module.
    Plugin(String, String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Root => f.write_str("the crate root"),
            Owner::RootItem => f.write_str("an item of the crate root"),
            Owner::Core => f.write_str("core"),
            Owner::Shared => f.write_str("a shared module"),
            Owner::RoleFolder(role) => write!(f, "the role folder {role}"),
            Owner::Plugin(role, name) => write!(f, "the plugin {role}::{name}"),
        }
    }
}

/// The owner of the module or item at `path` (segments from the crate root; `*` for a glob).
fn owner(path: &[String]) -> Owner {
    match path {
        [] => Owner::Root,
        [first, ..] if first == "*" => Owner::Root,
        [first, ..] if first == CORE => Owner::Core,
        [first, ..] if SHARED.contains(&first.as_str()) => Owner::Shared,
        [role, rest @ ..] if ROLE_FOLDERS.contains(&role.as_str()) => match rest {
            [plugin, ..] if plugin != "*" => Owner::Plugin(role.clone(), plugin.clone()),
            _ => Owner::RoleFolder(role.clone()),
        },
        _ => Owner::RootItem,
    }
}

/// Whether code owned by `from` may name what `to` owns.
fn allowed(from: &Owner, to: &Owner) -> bool {
    match to {
        Owner::Plugin(..) => from == to,
        Owner::RoleFolder(_) | Owner::Root => false,
        Owner::RootItem | Owner::Core | Owner::Shared => true,
    }
}

/// One token of Rust code: an identifier (`$crate` and lifetimes included), `::`, or one other
/// character; with its line. Comments, strings and character literals leave no token.
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The tokens of `code`, without comments, strings and character literals.
fn tokens(code: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: code.chars().collect(),
        at: 0,
        line: 1,
        out: Vec::new(),
    };
    while let Some(c) = lexer.peek(0) {
        let next = lexer.peek(1);
        if c == '/' && next == Some('/') {
            lexer.skip_while(|c| c != '\n');
        } else if c == '/' && next == Some('*') {
            lexer.block_comment();
        } else if c == '"' {
            lexer.string();
        } else if c == '\'' {
            lexer.quote();
        } else if is_ident_start(c) || (c == '$' && next.is_some_and(is_ident_start)) {
            lexer.word();
        } else if c.is_ascii_digit() {
            lexer.skip_while(|c| is_ident_char(c) || c == '.');
        } else if c == ':' && next == Some(':') {
            lexer.push(2);
        } else if c.is_whitespace() {
            lexer.skip(1);
        } else {
            lexer.push(1);
        }
    }
    lexer.out
}

/// Reads Rust code into [`Token`]s.
struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    /// Passes over `n` characters, counting the lines they end.
    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            if self.peek(0) == Some('\n') {
                self.line += 1;
            }
            self.at += 1;
        }
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.skip(1);
        }
    }

    /// Makes the next `n` characters a token.
    fn push(&mut self, n: usize) {
        let end = (self.at + n).min(self.chars.len());
        self.out.push(Token {
            text: self.chars[self.at..end].iter().collect(),
            line: self.line,
        });
        self.at = end;
    }

    /// `/* ... */`, nested ones included.
    fn block_comment(&mut self) {
        let mut depth = 0;
        while let Some(c) = self.peek(0) {
            let next = self.peek(1);
            if c == '/' && next == Some('*') {
                depth += 1;
                self.skip(2);
            } else if c == '*' && next == Some('/') {
                depth -= 1;
                self.skip(2);
                if depth == 0 {
                    return;
                }
            } else {
                self.skip(1);
            }
        }
    }

    /// `"..."`, escapes included.
    fn string(&mut self) {
        self.skip(1);
        while let Some(c) = self.peek(0) {
            if c == '"' {
                break;
            }
            self.skip(if c == '\\' { 2 } else { 1 });
        }
        self.skip(1);
    }

    /// A character literal (`'"'`, `'\''`, `'\u{1b}'`), or a lifetime or label kept as a token.
    fn quote(&mut self) {
        if self.peek(1) == Some('\\') {
            self.skip(3);
            self.skip_while(|c| c != '\'');
            self.skip(1);
        } else if self.peek(2) == Some('\'') {
            self.skip(3);
        } else {
            let length = 1 + self.chars[self.at + 1..]
                .iter()
                .take_while(|&&c| is_ident_char(c))
                .count();
            self.push(length);
        }
    }

    /// An identifier (`$crate` included), a raw identifier (`r#type`, kept without its `r#`), or
    /// the prefix of a string: `r"..."` and `r#"..."#` are passed over here, `b"..."` on the next
    /// turn.
    fn word(&mut self) {
        let length = 1 + self.chars[self.at + 1..]
            .iter()
            .take_while(|&&c| is_ident_char(c))
            .count();
        let word: String = self.chars[self.at..self.at + length].iter().collect();
        let hashes = self.chars[self.at + length..]
            .iter()
            .take_while(|&&c| c == '#')
            .count();
        if matches!(word.as_str(), "r" | "br" | "cr") && self.peek(length + hashes) == Some('"') {
            self.skip(length + hashes + 1);
            while self.peek(0).is_some_and(|c| {
                c != '"'
                    || self.chars[self.at + 1..]
                        .iter()
                        .take_while(|&&c| c == '#')
                        .count()
                        < hashes
            }) {
                self.skip(1);
            }
            self.skip(hashes + 1);
        } else if matches!(word.as_str(), "b" | "c") && self.peek(length) == Some('"') {
            self.skip(length);
        } else if word == "r" && hashes == 1 {
            self.skip(2);
            self.word();
        } else {
            self.push(length);
        }
    }
}

fn is_ident(token: &str) -> bool {
    token.starts_with(is_ident_start)
}

/// A path as written, with the line of its last segment.
type Written = (Vec<String>, usize);

/// The paths of the use tree (or plain path) starting at `tokens[i]`, each after `prefix`, and
/// the index after it. A group gives one path per member; a glob ends in `*`.
fn use_tree(tokens: &[Token], mut i: usize, prefix: Vec<String>) -> (Vec<Written>, usize) {
    let mut path = prefix;
    let mut line = tokens.get(i).map_or(0, |t| t.line);
    loop {
        match tokens.get(i).map(|t| t.text.as_str()) {
            Some("{") => {
                i += 1;
                let mut paths = Vec::new();
                while let Some(token) = tokens.get(i) {
                    match token.text.as_str() {
                        "}" => {
                            i += 1;
                            break;
                        }
                        "," => i += 1,
                        _ => {
                            let (member, after) = use_tree(tokens, i, path.clone());
                            paths.extend(member);
                            i = after.max(i + 1);
                        }
                    }
                }
                return (paths, i);
            }
            Some("*") => {
                path.push("*".to_owned());
                return (vec![(path, tokens[i].line)], i + 1);
            }
            Some(segment) if is_ident(segment) => {
                path.push(segment.to_owned());
                line = tokens[i].line;
                i += 1;
                if tokens.get(i).is_some_and(|t| t.text == "::") {
                    i += 1;
                } else {
                    return (vec![(path, line)], i);
                }
            }
            _ => return (vec![(path, line)], i),
        }
    }
}

/// `path` (as written: from `crate`, `super`, `self`, or a module `module` declares) as segments
/// from the crate root, written in the module `module`; `None` when it climbs above the root.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        _ => module.to_vec(),
    };
    for (n, segment) in path.iter().enumerate() {
        match segment.as_str() {
            "crate" if n == 0 => {}
            "self" => {}
            "super" => {
                at.pop()?;
            }
            _ => at.push(segment.clone()),
        }
    }
    Some(at)
}

/// Every name in `code`, the text of the file whose module is `module` (segments from the crate
/// root), that its owner may not name: `line: path (owner names other)`.
fn forbidden_names(module: &[String], code: &str) -> Vec<String> {
    let from = owner(module);
    let tokens = tokens(code);
    // The modules the file declares: a path may start at one of them too (`mod a; use a::b;`).
    let children: Vec<&str> = tokens
        .windows(3)
        .filter(|w| {
            w[0].text == "mod" && is_ident(&w[1].text) && matches!(w[2].text.as_str(), ";" | "{")
        })
        .map(|w| w[1].text.as_str())
        .collect();
    let mut found = Vec::new();
    // Inline modules around the current token, each with the brace depth of its body.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let text = tokens[i].text.as_str();
        let next = |n: usize| tokens.get(i + n).map_or("", |t| t.text.as_str());
        if text == "mod" && is_ident(next(1)) && next(2) == "{" {
            inline.push((next(1).to_owned(), depth + 1));
            i += 2;
        } else if text == "{" {
            depth += 1;
            i += 1;
        } else if text == "}" {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
        } else if (matches!(text, "crate" | "super" | "self") || children.contains(&text))
            && next(1) == "::"
            && (i == 0 || tokens[i - 1].text != "::")
        {
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(name, _)| name.clone()))
                .collect();
            let (paths, after) = use_tree(&tokens, i, Vec::new());
            for (path, line) in paths {
                let to = resolve(&here, &path).map_or(Owner::Root, |at| owner(&at));
                if !allowed(&from, &to) {
                    found.push(format!("{line}: {} ({from} names {to})", path.join("::")));
                }
            }
            i = after;
        } else {
            i += 1;
        }
    }
    found
}

/// The module of the file at `relative` (to `src/`): `lib.rs` is the root, `a/mod.rs` is `a`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut module: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if module.last().is_some_and(|last| last == "mod") || module == ["lib"] {
        module.pop();
    }
    module
}

/// Every `.rs` file under `dir`, as paths relative to `root`.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

#[test]
fn no_plugin_names_another_plugin_and_only_plugins_name_plugins() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        assert!(
            name == "lib.rs"
                || module == CORE
                || SHARED.contains(&module)
                || ROLE_FOLDERS.contains(&module),
            "src/{name} is neither the framework, a role folder nor shared: add it to one of this \
             test's lists"
        );
    }

    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    files.sort();
    let mut plugins = Vec::new();
    let mut forbidden = Vec::new();
    for relative in &files {
        let module = module_of(relative);
        if let Owner::Plugin(role, name) = owner(&module)
            && !plugins.contains(&(role.clone(), name.clone()))
        {
            plugins.push((role, name));
        }
        let code = fs::read_to_string(src.join(relative)).unwrap();
        for name in forbidden_names(&module, &code) {
            forbidden.push(format!("src/{}:{name}", relative.display()));
        }
    }

    // The scan sees the plugins, so that an empty list of names below means something.
    for (role, name) in [
        ("extractors", "csv_extract"),
        ("validators", "validate"),
        ("loaders", "postgres_load"),
        ("aggregates", "customer_daily_stats"),
        ("aggregates", "product_daily_stats"),
    ] {
        assert!(
            plugins.contains(&(role.to_owned(), name.to_owned())),
            "the plugin {role}::{name} was not found among {plugins:?}"
        );
    }
    assert!(
        forbidden.is_empty(),
        "a plugin names another plugin, or something other than a plugin names one; move what \
         they share into core:\n{}",
        forbidden.join("\n")
    );
}

#[test]
fn the_scan_reports_a_plugin_naming_another_and_core_naming_a_plugin() {
    let module = |path: &str| -> Vec<String> { path.split("::").map(str::to_owned).collect() };

    let plugin = r##"//! Says crate::aggregates::customer_daily_stats::count_days in a comment.
use crate::core::days::{MAX_CHUNK_DAYS, count_days};
use crate::{
    core::Role,
    aggregates::customer_daily_stats::CustomerKey,
};
use super::product_daily_stats::entity;
/* use crate::loaders::postgres_load; /* nested */ still a comment */
fn f<'a>(s: &'a str) -> u32 {
    let _ = ("crate::extractors::csv_extract::visible", '"', '\'', r#"crate::loaders::x"#);
    super::customer_daily_stats::MAX + crate::loaders::postgres_load::statements::X
}
#[cfg(test)]
mod tests {
    use super::*;
    use super::super::customer_daily_stats::write;
    use crate::aggregates::product_daily_stats::entity::Model;
}
use self::tests::*;
crate::register_stage_type!("x", X);
"##;
    assert_eq!(
        forbidden_names(&module("aggregates::product_daily_stats"), plugin),
        vec![
            "5: crate::aggregates::customer_daily_stats::CustomerKey (the plugin \
             aggregates::product_daily_stats names the plugin aggregates::customer_daily_stats)",
            "11: super::customer_daily_stats::MAX (the plugin aggregates::product_daily_stats \
             names the plugin aggregates::customer_daily_stats)",
            "11: crate::loaders::postgres_load::statements::X (the plugin \
             aggregates::product_daily_stats names the plugin loaders::postgres_load)",
            "16: super::super::customer_daily_stats::write (the plugin \
             aggregates::product_daily_stats names the plugin aggregates::customer_daily_stats)",
        ]
    );

    // A file deeper inside a plugin reaches its own siblings through `super`, not other plugins.
    let inner = "use super::statements::LoadStatements;\nuse super::super::csv::X;\n";
    assert_eq!(
        forbidden_names(&module("loaders::postgres_load::staging"), inner),
        vec![
            "2: super::super::csv::X (the plugin loaders::postgres_load names the plugin \
             loaders::csv)"
        ]
    );

    let core = "use super::super::aggregates::customer_daily_stats::count_days;\n\
                use crate::core::record::Record;\n\
                use crate::{aggregates, entities::order};\n\
                use crate::*;\n";
    assert_eq!(
        forbidden_names(&module("core::days"), core),
        vec![
            "1: super::super::aggregates::customer_daily_stats::count_days (core names the \
             plugin aggregates::customer_daily_stats)",
            "3: crate::aggregates (core names the role folder aggregates)",
            "4: crate::* (core names the crate root)",
        ]
    );

    // The root and the role folders reach plugins without `crate::`, through the modules they
    // declare.
    let root = "pub mod aggregates;\npub use crate::core::Stage;\npub use inventory;\n\
                pub use crate::aggregates::customer_daily_stats::count_days;\n\
                pub use aggregates::product_daily_stats::entity;\n";
    assert_eq!(
        forbidden_names(&[], root),
        vec![
            "4: crate::aggregates::customer_daily_stats::count_days (the crate root names the \
             plugin aggregates::customer_daily_stats)",
            "5: aggregates::product_daily_stats::entity (the crate root names the plugin \
             aggregates::product_daily_stats)",
        ]
    );
    let folder = "pub mod customer_daily_stats;\npub use customer_daily_stats::count_days;\n";
    assert_eq!(
        forbidden_names(&module("aggregates"), folder),
        vec![
            "2: customer_daily_stats::count_days (the role folder aggregates names the plugin \
             aggregates::customer_daily_stats)"
        ]
    );
}
