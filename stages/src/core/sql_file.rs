//! Static SQL kept in `.sql` files under `stages/sql/`: one named statement after each `-- name: `
//! line. The files that follow the schema are written from it by a test (`UPDATE_SQL=1 cargo test
//! -p stages`), and the same test fails while a file and the schema disagree; the binary carries
//! the files' text as it is, so what runs is what the files say.

/// The `(name, statement)` pairs of a file: each statement runs from its `-- name: ` line to the
/// next one, without the trailing `;` and blank lines. Lines before the first name are the file's
/// header. A name may repeat (a list of statements).
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
        let body = body_and_rest[..body_end]
            .trim()
            .trim_end_matches(';')
            .trim_end();
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

/// The header every written file starts with.
#[cfg(test)]
#[must_use]
pub fn header(what: &str, source: &str) -> String {
    format!(
        "-- {what}, written from {source}.\n\
         -- Do not edit: `UPDATE_SQL=1 cargo test -p stages` writes this file again, and the same\n\
         -- test fails while it and its source disagree.\n"
    )
}

/// `sql` trimmed, without blank lines, and with the lines after the first losing the indentation
/// they share (a statement written inside indented Rust code).
#[cfg(test)]
#[must_use]
pub fn tidy(sql: &str) -> String {
    let mut lines = sql.trim().lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.collect();
    let shared = rest
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = first.to_owned();
    for line in rest {
        out.push('\n');
        out.push_str(line[shared..].trim_end());
    }
    out
}

/// Appends the statement `name` ([`tidy`]) to a file being written.
#[cfg(test)]
pub fn push(out: &mut String, name: &str, sql: &str) {
    out.push_str("\n-- name: ");
    out.push_str(name);
    out.push('\n');
    out.push_str(&tidy(sql));
    out.push_str(";\n");
}

/// Compares the file at `relative` (to the crate) with `expected`; with `UPDATE_SQL` set, writes
/// it instead. Returns the path when it disagrees.
#[cfg(test)]
#[must_use]
pub fn check_or_write(relative: &str, expected: &str) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    if found == expected {
        return None;
    }
    if std::env::var_os("UPDATE_SQL").is_some() {
        std::fs::write(&path, expected).expect("cannot write the SQL file");
        return None;
    }
    Some(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_names_and_drop_the_semicolon() {
        let parsed = sections("-- header\n\n-- name: a\nSELECT 1;\n\n-- name: b\nSELECT\n  2;\n");
        assert_eq!(parsed, vec![("a", "SELECT 1"), ("b", "SELECT\n  2")]);
        assert!(sections("no statements").is_empty());
        let mut written = header("test", "here");
        push(&mut written, "x", "SELECT 'a;b'\n");
        let leaked: &'static str = Box::leak(written.into_boxed_str());
        assert_eq!(sections(leaked), vec![("x", "SELECT 'a;b'")]);
        assert_eq!(one("t.sql", &sections(leaked), "x"), "SELECT 'a;b'");
    }

    #[test]
    #[should_panic(expected = "t.sql has no statement `y`")]
    fn a_missing_statement_is_a_bug() {
        let _ = one("t.sql", &[("x", "SELECT 1")], "y");
    }
}
