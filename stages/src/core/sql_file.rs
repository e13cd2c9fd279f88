//! Static SQL kept in hand-written `.sql` files under `stages/sql/`, the source a reviewer reads,
//! diffs and pastes into `EXPLAIN`: one named statement after each `-- name: ` line. The binary
//! carries the files' text as it is (`include_str!`), so what runs is what the files say.
//!
//! One way to read them: a module declares the statements it runs with [`statements!`] (the file
//! and the names, once), and reads each as a field (`SQL.changes_high_water`). The statements are
//! cut out of the files at compile time ([`Sections`], `const fn`s): a name the file lacks or
//! names twice fails the build, and nothing is parsed when the program runs. A statement nobody
//! reads fails this module's test. The load's per-table files, one shape for four tables, are cut
//! the same way by `loaders::postgres_load::statements` and registered for the same test.

use std::collections::BTreeSet;
use std::path::Path;

/// The `(name, statement)` pairs of a file, in its order, as [`Sections`] cuts them: each statement
/// runs from its `-- name: ` line to the next one, without the `--` lines that open it (its
/// description), the trailing `;` and blank lines. Lines before the first name are the file's
/// header. A name may repeat (a list of statements).
#[must_use]
pub fn sections(text: &'static str) -> Vec<(&'static str, &'static str)> {
    let file = Sections::of(text);
    file.spans[..file.count]
        .iter()
        .map(|&((ns, ne), (bs, be))| (slice(text, ns, ne), slice(text, bs, be)))
        .collect()
}

/// A file's statements, found in a constant (at compile time): one pass over the text, then
/// look-ups by name. At most [`Self::MAX`] statements a file.
#[derive(Debug, Clone, Copy)]
pub struct Sections {
    text: &'static str,
    /// Each statement's name and text, as byte ranges of `text`.
    spans: [((usize, usize), (usize, usize)); Sections::MAX],
    count: usize,
}

impl Sections {
    /// The most statements a file holds.
    pub const MAX: usize = 64;

    /// Finds the statements of `text`: each runs from its `-- name: ` line to the next one.
    ///
    /// # Panics
    /// When `text` holds more than [`Self::MAX`] statements.
    #[must_use]
    pub const fn of(text: &'static str) -> Self {
        let bytes = text.as_bytes();
        let mark = b"-- name: ";
        let mut spans = [((0, 0), (0, 0)); Self::MAX];
        let mut count = 0;
        let mut at = 0;
        while at < bytes.len() {
            let end = line_end(bytes, at);
            if starts_with_at(bytes, at, mark) {
                assert!(count < Self::MAX, "an SQL file holds too many statements");
                if count > 0 {
                    // The previous statement ends where this name line starts.
                    let previous = spans[count - 1];
                    spans[count - 1] = (previous.0, body(bytes, (previous.1).0, at));
                }
                spans[count] = (trimmed(bytes, at + mark.len(), end), (end, end));
                count += 1;
            }
            at = end + 1;
        }
        if count > 0 {
            let last = spans[count - 1];
            spans[count - 1] = (last.0, body(bytes, (last.1).0, bytes.len()));
        }
        Self { text, spans, count }
    }

    /// The `n`th (from 0) statement named `name`, if the file has that many.
    #[must_use]
    pub const fn nth(&self, name: &str, n: usize) -> Option<&'static str> {
        let bytes = self.text.as_bytes();
        let mut seen = 0;
        let mut i = 0;
        while i < self.count {
            let ((ns, ne), (bs, be)) = self.spans[i];
            if same(bytes, ns, ne, name.as_bytes()) {
                if seen == n {
                    return Some(slice(self.text, bs, be));
                }
                seen += 1;
            }
            i += 1;
        }
        None
    }

    /// The statement named `name`, which the file must hold exactly once.
    ///
    /// # Panics
    /// When the file has no statement `name`, or more than one.
    #[must_use]
    pub const fn one(&self, name: &str) -> &'static str {
        match self.optional(name) {
            Some(found) => found,
            None => panic!("an SQL file lacks a statement its reader names"),
        }
    }

    /// The statement named `name` when the file has one, at most once.
    ///
    /// # Panics
    /// When the file names it more than once.
    #[must_use]
    pub const fn optional(&self, name: &str) -> Option<&'static str> {
        assert!(
            self.nth(name, 1).is_none(),
            "an SQL file names a statement twice"
        );
        self.nth(name, 0)
    }

    /// Every statement named `name`, in the file's order (a list; possibly none).
    ///
    /// # Panics
    /// When the file holds more than [`StatementList::MAX`] of them.
    #[must_use]
    pub const fn list(&self, name: &str) -> StatementList {
        let mut items = [None; StatementList::MAX];
        let mut i = 0;
        while i < StatementList::MAX {
            items[i] = self.nth(name, i);
            i += 1;
        }
        assert!(
            self.nth(name, StatementList::MAX).is_none(),
            "an SQL file holds more statements of one name than a list takes"
        );
        StatementList { items }
    }
}

/// Every statement of one name in a file, in the file's order (a list; possibly none), cut at
/// compile time ([`Sections::list`]): at most [`StatementList::MAX`].
#[derive(Debug, Clone, Copy)]
pub struct StatementList {
    items: [Option<&'static str>; StatementList::MAX],
}

impl StatementList {
    /// The most statements a list holds.
    pub const MAX: usize = 4;

    /// The statements, in the file's order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.into_iter().copied()
    }

    /// How many there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }
}

impl std::ops::Index<usize> for StatementList {
    type Output = &'static str;

    fn index(&self, at: usize) -> &Self::Output {
        self.items[at]
            .as_ref()
            .unwrap_or_else(|| panic!("a list of {} statements has no #{at}", self.len()))
    }
}

impl<'a> IntoIterator for &'a StatementList {
    type Item = &'a &'static str;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<&'static str>>>;

    fn into_iter(self) -> Self::IntoIter {
        // The statements come first, then only `None`.
        self.items.iter().flatten()
    }
}

/// The index of the `\n` that ends the line starting at `at` (or the text's length).
const fn line_end(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

const fn starts_with_at(bytes: &[u8], at: usize, prefix: &[u8]) -> bool {
    if at + prefix.len() > bytes.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if bytes[at + i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn same(bytes: &[u8], start: usize, end: usize, other: &[u8]) -> bool {
    end - start == other.len() && starts_with_at(bytes, start, other)
}

/// `start..end` without the whitespace at both ends.
const fn trimmed(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let (mut s, mut e) = (start, end);
    while s < e && bytes[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && bytes[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

/// A statement's text in `start..end` (from its name line's end to the next name line): without
/// the `--` lines that open it (its description), the whitespace around it and the trailing `;`.
const fn body(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut s = start;
    while s < end && bytes[s] == b'\n' {
        s += 1;
    }
    while s + 1 < end && bytes[s] == b'-' && bytes[s + 1] == b'-' {
        let line = line_end(bytes, s);
        s = if line < end { line + 1 } else { end };
    }
    let (s, mut e) = trimmed(bytes, s, end);
    while e > s && bytes[e - 1] == b';' {
        e -= 1;
    }
    trimmed(bytes, s, e)
}

/// `text[start..end]`, in a constant; the ends are at ASCII bytes, so on character boundaries.
const fn slice(text: &'static str, start: usize, end: usize) -> &'static str {
    let (_, rest) = text.as_bytes().split_at(start);
    let (cut, _) = rest.split_at(end - start);
    match std::str::from_utf8(cut) {
        Ok(cut) => cut,
        Err(_) => panic!("an SQL file is cut inside a character"),
    }
}

/// Declares `static $static`, the statements named `$name...` of the file `sql/$path` of the
/// calling crate (`stages/sql/`, `pipeline/sql/`), each a `&'static str` field of the struct `$ty`,
/// cut out of the file at compile time ([`Sections`]):
///
/// ```text
/// stages::statements! {
///     static SQL: Statements = "core/locks.sql" { exclusive_load_lock, shared_load_lock }
/// }
/// sqlx::query(SQL.exclusive_load_lock)
/// ```
///
/// A name the file lacks or names twice fails the build:
///
/// ```compile_fail
/// stages::statements! {
///     static SQL: Statements = "core/locks.sql" { no_such_statement }
/// }
/// ```
///
/// where the names it has build:
///
/// ```
/// stages::statements! {
///     static SQL: Statements = "core/locks.sql" { exclusive_load_lock }
/// }
/// assert!(SQL.exclusive_load_lock.starts_with("SELECT"));
/// ```
///
/// Under `cfg(test)` the file is registered
/// for [`problems`], which the crate's test runs: it fails on a statement no field reads and on a
/// file no code declares.
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

        static $static: $ty = {
            const SECTIONS: $crate::core::sql_file::Sections =
                $crate::core::sql_file::Sections::of($ty::TEXT);
            $ty {
                $($name: SECTIONS.one(stringify!($name)),)+
            }
        };

        #[cfg(test)]
        $crate::inventory::submit! {
            $crate::core::sql_file::Declared {
                krate: env!("CARGO_MANIFEST_DIR"),
                path: $path,
                text: $ty::TEXT,
                names: &[$(stringify!($name)),+],
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
/// reads (a statement the code asks for that the file lacks or names twice fails the build). Run
/// by each crate's test.
#[must_use]
pub fn problems(crate_dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut declared = BTreeSet::new();
    for file in inventory::iter::<Declared>
        .into_iter()
        .filter(|f| f.krate == crate_dir)
    {
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
        assert_eq!(Sections::of(written).one("x"), "SELECT 'a;b'");
    }

    #[test]
    fn a_statement_s_description_is_not_its_text() {
        let text = "-- name: a\n-- What a does,\n-- in two lines.\nSELECT 1\n  -- kept: inside the statement\n  , 2;\n\n-- name: b\n--\nSELECT 3;\n";
        let inside = "SELECT 1\n  -- kept: inside the statement\n  , 2";
        assert_eq!(sections(text), vec![("a", inside), ("b", "SELECT 3")]);
        assert_eq!(Sections::of(text).one("a"), inside);
        assert_eq!(Sections::of(text).one("b"), "SELECT 3");
    }

    #[test]
    fn lists_and_optional_statements_are_cut_in_the_file_s_order() {
        const TEXT: &str = "-- name: a\nSELECT 1;\n-- name: l\nA;\n-- name: l\nB;\n";
        // In a constant, as the code uses them.
        const FILE: Sections = Sections::of(TEXT);
        const LIST: StatementList = FILE.list("l");
        assert_eq!(LIST.iter().collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(LIST.len(), 2);
        assert!(FILE.list("m").is_empty());
        assert_eq!(FILE.optional("a"), Some("SELECT 1"));
        assert_eq!(FILE.optional("m"), None);
        assert_eq!(FILE.nth("l", 1), Some("B"));
        assert_eq!(FILE.nth("l", 2), None);
    }

    #[test]
    #[should_panic(expected = "an SQL file lacks a statement its reader names")]
    fn a_missing_statement_is_a_bug() {
        let _ = Sections::of("-- name: x\nSELECT 1;\n").one("y");
    }

    #[test]
    #[should_panic(expected = "an SQL file names a statement twice")]
    fn a_statement_named_twice_is_a_bug() {
        let _ = Sections::of("-- name: x\nSELECT 1;\n-- name: x\nSELECT 2;\n").one("x");
    }

    #[test]
    #[should_panic(expected = "more statements of one name than a list takes")]
    fn a_list_longer_than_its_room_is_a_bug() {
        let _ = Sections::of("-- name: l\nA;\n".repeat(5).leak()).list("l");
    }

    /// Every file the code reads has every statement it asks for, once (lists aside), and nothing
    /// else; every file under `stages/sql/` is read by some code.
    #[test]
    fn every_file_holds_exactly_the_statements_its_code_reads() {
        assert_eq!(problems(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new());
    }
}
