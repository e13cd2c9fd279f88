//! Static SQL kept in hand-written `.sql` files under `stages/sql/`, the source a reviewer reads,
//! diffs and pastes into `EXPLAIN`: one named statement after each `-- name: ` line. The binary
//! carries the files' text as it is (`include_str!`), so what runs is what the files say.
//!
//! One way to read them: a module declares the statements it runs with [`statements!`] (the file
//! and the names, once), and reads each as a field (`SQL.changes_high_water`), so a name the code
//! uses is checked by the compiler, and a statement the file lacks or names twice, or one nobody
//! reads, fails this module's test. The load's per-table files, one shape for four tables, are read
//! through [`SqlFile`] by `loaders::postgres_load::statements` and registered for the same test.

use std::collections::BTreeSet;
use std::path::Path;

/// The `(name, statement)` pairs of a file: each statement runs from its `-- name: ` line to the
/// next one, without the `--` lines that open it (its description), the trailing `;` and blank
/// lines. Lines before the first name are the file's header. A name may repeat (a list of
/// statements).
#[must_use]
pub fn sections(text: &'static str) -> Vec<(&'static str, &'static str)> {
    const MARK: &str = "-- name: ";
    const NEXT: &str = "\n-- name: ";
    let mut out = Vec::new();
    let Some(first) = text.find(MARK) else {
        return out;
    };
    let mut rest = &text[first..];
    while let Some(after_mark) = rest.strip_prefix(MARK) {
        let name_end = after_mark.find('\n').unwrap_or(after_mark.len());
        let name = after_mark[..name_end].trim();
        let body_and_rest = &after_mark[name_end..];
        let body_end = body_and_rest
            .find(NEXT)
            .map_or(body_and_rest.len(), |at| at + 1);
        let mut body = body_and_rest[..body_end].trim_start_matches('\n');
        while body.starts_with("--") {
            body = body.split_once('\n').map_or("", |(_, after)| after);
        }
        let body = body.trim().trim_end_matches(';').trim_end();
        out.push((name, body));
        rest = &body_and_rest[body_end..];
    }
    out
}

/// The one statement named `name` in `file`'s sections. The files are part of the binary and
/// checked by the tests, so a missing statement is a bug, not an input error.
#[must_use]
pub fn one(file: &str, named: &[(&'static str, &'static str)], name: &str) -> &'static str {
    let mut found = named
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, sql)| *sql);
    let sql = found
        .next()
        .unwrap_or_else(|| panic!("{file} has no statement `{name}`"));
    assert!(found.next().is_none(), "{file}: `{name}` is named twice");
    sql
}

/// One file's named statements ([`sections`]).
#[derive(Debug)]
pub struct SqlFile {
    /// The file's path, for messages: `stages/sql/...`.
    path: String,
    named: Vec<(&'static str, &'static str)>,
}

impl SqlFile {
    /// The statements of `text`, the file at `path` under the `sql/` folder of the crate `krate`.
    #[must_use]
    pub fn new(krate: &str, path: &str, text: &'static str) -> Self {
        Self {
            path: format!("{krate}/sql/{path}"),
            named: sections(text),
        }
    }

    /// The statement named `name`, which must be there exactly once ([`one`]).
    #[must_use]
    pub fn one(&self, name: &str) -> &'static str {
        one(&self.path, &self.named, name)
    }

    /// Every statement named `name`, in the file's order (a list; possibly none).
    #[must_use]
    pub fn all(&self, name: &str) -> Vec<&'static str> {
        self.named
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, sql)| *sql)
            .collect()
    }

    /// The statement named `name` when the file has one (at most once, as [`one`]).
    #[must_use]
    pub fn optional(&self, name: &str) -> Option<&'static str> {
        self.named
            .iter()
            .any(|(n, _)| *n == name)
            .then(|| self.one(name))
    }
}

/// Declares `static $static`, the statements named `$name...` of the file `sql/$path` of the
/// calling crate (`stages/sql/`, `pipeline/sql/`), read once on first use, each a `&'static str`
/// field of the struct `$ty`:
///
/// ```text
/// stages::statements! {
///     static SQL: Statements = "core/locks.sql" { exclusive_load_lock, shared_load_lock }
/// }
/// sqlx::query(SQL.exclusive_load_lock)
/// ```
///
/// A name the file lacks or names twice panics on first use; under `cfg(test)` the file is
/// registered for [`problems`], which the crate's test runs: it reads every declared file and also
/// fails on a statement no field reads and on a file no code declares.
#[macro_export]
macro_rules! statements {
    (
        $(#[$meta:meta])*
        static $static:ident: $ty:ident = $path:literal { $($name:ident),+ $(,)? }
    ) => {
        $(#[$meta])*
        struct $ty {
            $($name: &'static str,)+
        }

        impl $ty {
            const TEXT: &'static str =
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $path));
        }

        static $static: ::std::sync::LazyLock<$ty> = ::std::sync::LazyLock::new(|| {
            let file = $crate::core::sql_file::SqlFile::new(env!("CARGO_PKG_NAME"), $path, $ty::TEXT);
            $ty {
                $($name: file.one(stringify!($name)),)+
            }
        });

        #[cfg(test)]
        $crate::inventory::submit! {
            $crate::core::sql_file::Declared {
                krate: env!("CARGO_MANIFEST_DIR"),
                path: $path,
                text: $ty::TEXT,
                names: &[$(stringify!($name)),+],
                read: || {
                    ::std::sync::LazyLock::force(&$static);
                },
            }
        }
    };
}
pub use crate::statements;

/// A file under a crate's `sql/` that code reads, registered beside its reader (by [`statements!`]
/// in test builds) for [`problems`].
pub struct Declared {
    /// The declaring crate's directory (`CARGO_MANIFEST_DIR`).
    pub krate: &'static str,
    /// The path under the crate's `sql/`.
    pub path: &'static str,
    /// The file's text, as the binary carries it.
    pub text: &'static str,
    /// Every statement name the reader asks for.
    pub names: &'static [&'static str],
    /// Reads the file as the code does: panics when a statement asked for is missing or named
    /// twice.
    pub read: fn(),
}

inventory::collect!(Declared);

/// The `.sql` files under `dir`, as paths relative to `root`.
fn sql_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sql_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// What is wrong with the SQL files of the crate at `crate_dir`, as its test build registered them:
/// a statement a file holds but no code reads, a file declared twice, a file under `sql/` no code
/// reads. Reading each declared file panics on a statement the code asks for that the file lacks
/// or names twice. Run by each crate's test.
#[must_use]
pub fn problems(crate_dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut declared = BTreeSet::new();
    for file in inventory::iter::<Declared>
        .into_iter()
        .filter(|f| f.krate == crate_dir)
    {
        (file.read)();
        let asked: BTreeSet<&str> = file.names.iter().copied().collect();
        let unread: Vec<&str> = sections(file.text)
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !asked.contains(name))
            .collect();
        if !unread.is_empty() {
            out.push(format!("sql/{}: no code reads {unread:?}", file.path));
        }
        if !declared.insert(file.path.to_owned()) {
            out.push(format!("sql/{} is declared twice", file.path));
        }
    }
    let root = Path::new(crate_dir).join("sql");
    let mut present = BTreeSet::new();
    sql_files(&root, &root, &mut present);
    for path in present.difference(&declared) {
        out.push(format!("sql/{path}: no code reads it"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_names_and_drop_the_semicolon() {
        let parsed = sections("-- header\n\n-- name: a\nSELECT 1;\n\n-- name: b\nSELECT\n  2;\n");
        assert_eq!(parsed, vec![("a", "SELECT 1"), ("b", "SELECT\n  2")]);
        assert!(sections("no statements").is_empty());
        let written = "-- test, written from here.\n\n-- name: x\nSELECT 'a;b';\n";
        assert_eq!(sections(written), vec![("x", "SELECT 'a;b'")]);
        assert_eq!(one("t.sql", &sections(written), "x"), "SELECT 'a;b'");
    }

    #[test]
    fn a_statement_s_description_is_not_its_text() {
        let parsed = sections(
            "-- name: a\n-- What a does,\n-- in two lines.\nSELECT 1\n  -- kept: inside the statement\n  , 2;\n\n-- name: b\n--\nSELECT 3;\n",
        );
        assert_eq!(
            parsed,
            vec![
                ("a", "SELECT 1\n  -- kept: inside the statement\n  , 2"),
                ("b", "SELECT 3")
            ]
        );
        let file = SqlFile::new(
            "stages",
            "t.sql",
            "-- name: a\nSELECT 1;\n-- name: l\nA;\n-- name: l\nB;\n",
        );
        assert_eq!(file.all("l"), ["A", "B"]);
        assert!(file.all("m").is_empty());
        assert_eq!(file.optional("a"), Some("SELECT 1"));
        assert_eq!(file.optional("m"), None);
    }

    #[test]
    #[should_panic(expected = "t.sql has no statement `y`")]
    fn a_missing_statement_is_a_bug() {
        let _ = one("t.sql", &[("x", "SELECT 1")], "y");
    }

    #[test]
    #[should_panic(expected = "stages/sql/t.sql: `x` is named twice")]
    fn a_statement_named_twice_is_a_bug() {
        let _ = SqlFile::new(
            "stages",
            "t.sql",
            "-- name: x\nSELECT 1;\n-- name: x\nSELECT 2;\n",
        )
        .one("x");
    }

    /// Every file the code reads has every statement it asks for, once (lists aside), and nothing
    /// else; every file under `stages/sql/` is read by some code.
    #[test]
    fn every_file_holds_exactly_the_statements_its_code_reads() {
        assert_eq!(problems(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new());
    }
}
