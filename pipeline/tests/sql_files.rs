//! The binary's SQL lives in `pipeline/sql/`, one file per module, each statement named: every file
//! splits into statements, one per name, and no query of the binary is a string literal or built
//! with `format!`. (That every statement a module declares is in its file and every statement of a
//! file is declared is `stages::core::sql_file::problems`, run by the binary's unit test.) The statements it reads an aggregate's rows with are the stage's read file's
//! (`stages/sql/reads/`), which splits the same way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use stages::core::sql_file;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The `(name, statement)` pairs of a file of `pipeline/sql/`.
fn statements(path: &Path) -> Vec<(&'static str, &'static str)> {
    let text: &'static str = Box::leak(std::fs::read_to_string(path).unwrap().into_boxed_str());
    sql_file::sections(text)
}

/// The code of a Rust source, without its comments (a line's text before `//`).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Panics unless the file at `path` holds statements, each named once, none empty or two.
fn assert_named_statements(path: &Path) {
    let found = statements(path);
    assert!(!found.is_empty(), "{}: no statement", path.display());
    let mut names = BTreeSet::new();
    for (name, body) in found {
        assert!(names.insert(name), "{}: {name} twice", path.display());
        // A `;` outside a comment is a second statement, or the end of one with a comment
        // after it (which then belongs to the statement).
        let without_comments: String = body
            .lines()
            .map(|l| l.split("--").next().unwrap_or_default())
            .collect();
        assert!(
            !without_comments.trim().is_empty() && !without_comments.contains(';'),
            "{}: {name} is empty or holds a `;`: {body}",
            path.display()
        );
    }
}

#[test]
fn every_file_splits_into_named_statements() {
    let mut sql = Vec::new();
    files(&crate_dir().join("sql"), "sql", &mut sql);
    assert!(!sql.is_empty());
    for path in sql {
        assert_named_statements(&path);
    }
}

/// The read commands' statements over an aggregate's rows are the stage's, in its read file
/// (`stages/sql/reads/`): those files split the same way. That each statement the stage names is
/// there, and no other, is the stages' own unit test.
#[test]
fn the_stages_read_files_split_into_named_statements_too() {
    let mut sql = Vec::new();
    files(&crate_dir().join("../stages/sql/reads"), "sql", &mut sql);
    assert!(sql.len() >= 2, "{sql:?}");
    for path in sql {
        assert_named_statements(&path);
    }
}

#[test]
fn no_query_is_a_literal_or_built_with_format() {
    let mut sources = Vec::new();
    files(&crate_dir().join("src"), "rs", &mut sources);
    for source in sources {
        let code = code(&source);
        for call in ["query(", "query_as(", "query_scalar(", "AssertSqlSafe("] {
            for (at, _) in code.match_indices(call) {
                let argument = code[at + call.len()..].trim_start();
                assert!(
                    !["\"", "r\"", "r#", "concat!", "format!"]
                        .iter()
                        .any(|p| argument.starts_with(p)),
                    "{}: a query's text in the code: {call}{}",
                    source.display(),
                    &argument[..argument.len().min(60)]
                );
            }
        }
        // A turbofish puts the text after the type: `query_as::<_, (i64, String)>("...")`.
        for (at, _) in code.match_indices("query_as::<") {
            let rest = &code[at..];
            let mut depth = 0;
            let end = rest
                .char_indices()
                .skip("query_as::".len())
                .find_map(|(i, c)| {
                    match c {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(i)
                })
                .unwrap();
            let argument = rest[end + 1..].trim_start_matches('(').trim_start();
            assert!(
                !["\"", "r\"", "r#", "concat!", "format!"]
                    .iter()
                    .any(|p| argument.starts_with(p)),
                "{}: a query's text in the code: {}",
                source.display(),
                &rest[..rest.len().min(80)]
            );
        }
    }
}
