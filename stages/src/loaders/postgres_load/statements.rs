//! The SQL the load runs for each dataset, as static text: `stages/sql/load/<table>.sql`, one
//! hand-written file per table, each with the same statements (see [`crate::core::sql_file`]). No
//! SQL of the load is assembled at run time: what runs is what the files say, and they can be read,
//! diffed and `EXPLAIN`ed as they are. The table and column names in them are [`olist`]'s, which
//! this module's tests check list by list.

use olist::Dataset;

use crate::core::sql_file::{Sections, StatementList};

/// The statements of one dataset's load, in the order a load runs them.
#[derive(Debug)]
pub struct LoadStatements {
    /// `CREATE TEMP TABLE` of the staging table (line number, raw line, outcome, reason, columns).
    pub create_staging: &'static str,
    /// `CREATE TEMP TABLE` of the changed-lines table.
    pub create_changed: &'static str,
    /// `CREATE TEMP TABLE` of the deleted-keys table (`deletes = "snapshot"`).
    pub create_deleted: &'static str,
    /// `COPY ... FROM STDIN` into the staging table.
    pub copy_staging: &'static str,
    /// `ANALYZE` of the staging table's joined columns.
    pub analyze_staging: &'static str,
    /// Lists the staged lines that differ from their stored row (tables that hold rows).
    pub list_changed: &'static str,
    /// `ANALYZE` of the changed-lines table.
    pub analyze_changed: &'static str,
    /// An index of the staging table's line numbers, built once the changed lines are listed.
    pub index_changed: &'static str,
    /// One rule per reference, over every staged line (a first load).
    pub reference_rules: StatementList,
    /// One rule per reference, over the changed lines only.
    pub changed_reference_rules: StatementList,
    /// One rule per reference, over the lines whose referenced row this load deletes (`deletes =
    /// "snapshot"`).
    pub deleted_reference_rules: StatementList,
    /// The key rule (duplicates and conflicts); always over every staged line.
    pub key_rule: &'static str,
    /// The key rule over the staged lines whose first key column is one of `$1` (`text[]`): the
    /// candidates of [`super::key_watch`], which hold every line of every key two lines share.
    pub key_rule_among: &'static str,
    /// Copies the rejected rows into `staging_rejects`; `$1` is the dataset's name.
    pub keep_rejects: &'static str,
    /// Lists the stored rows whose key no line of the file has (`deletes = "snapshot"`).
    pub list_deleted: &'static str,
    /// One rule per reference: the stored rows whose referenced row is deleted, unless an accepted
    /// line gives their key another reference.
    pub cascade_rules: StatementList,
    /// How many stored rows this load deletes.
    pub count_deleted: &'static str,
    /// How many rows the table holds.
    pub count_rows: &'static str,
    /// Loaded, duplicate and rejected counts, the source file, and the erased count; `$1` is the
    /// dataset's name.
    pub counts: &'static str,
    /// Whether the table holds a row.
    pub any_row: &'static str,
    /// The merge into an empty table: every accepted row.
    pub first_merge: &'static str,
    /// Rewrites the stored rows whose changed line has other content.
    pub merge_update: &'static str,
    /// Inserts the changed lines whose key is new.
    pub merge_insert: &'static str,
    /// Deletes the listed rows (after every merge, children before parents).
    pub delete_rows: &'static str,
    /// `ANALYZE` of the columns the aggregates read, after a big merge (none for tables they do
    /// not read).
    pub analyze_table: Option<&'static str>,
}

/// Each dataset's file: its path under `stages/sql/` and its text.
const FILES: [(Dataset, &str, &str); 4] = [
    (
        Dataset::Customers,
        "load/customers.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/load/customers.sql"
        )),
    ),
    (
        Dataset::Products,
        "load/products.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/load/products.sql"
        )),
    ),
    (
        Dataset::Orders,
        "load/orders.sql",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/load/orders.sql")),
    ),
    (
        Dataset::OrderItems,
        "load/order_items.sql",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/load/order_items.sql"
        )),
    ),
];

/// Each dataset's statements, cut out of its file at compile time.
static PARSED: [LoadStatements; 4] = [
    LoadStatements::read(FILES[0].2),
    LoadStatements::read(FILES[1].2),
    LoadStatements::read(FILES[2].2),
    LoadStatements::read(FILES[3].2),
];

impl LoadStatements {
    /// The statements of `dataset`.
    #[must_use]
    pub fn of(dataset: Dataset) -> &'static LoadStatements {
        let mut at = 0;
        while FILES[at].0 != dataset {
            at += 1;
        }
        &PARSED[at]
    }

    /// Cuts the named statements out of one file's text.
    const fn read(text: &'static str) -> Self {
        let file = Sections::of(text);
        Self {
            create_staging: file.one("create_staging"),
            create_changed: file.one("create_changed"),
            create_deleted: file.one("create_deleted"),
            copy_staging: file.one("copy_staging"),
            analyze_staging: file.one("analyze_staging"),
            list_changed: file.one("list_changed"),
            analyze_changed: file.one("analyze_changed"),
            index_changed: file.one("index_changed"),
            reference_rules: file.list("reference_rule"),
            changed_reference_rules: file.list("changed_reference_rule"),
            deleted_reference_rules: file.list("deleted_reference_rule"),
            key_rule: file.one("key_rule"),
            key_rule_among: file.one("key_rule_among"),
            keep_rejects: file.one("keep_rejects"),
            list_deleted: file.one("list_deleted"),
            cascade_rules: file.list("cascade_rule"),
            count_deleted: file.one("count_deleted"),
            count_rows: file.one("count_rows"),
            counts: file.one("counts"),
            any_row: file.one("any_row"),
            first_merge: file.one("first_merge"),
            merge_update: file.one("merge_update"),
            merge_insert: file.one("merge_insert"),
            delete_rows: file.one("delete_rows"),
            analyze_table: file.optional("analyze_table"),
        }
    }
}

/// Every statement name [`LoadStatements::read`] asks for.
#[cfg(test)]
const NAMES: &[&str] = &[
    "create_staging",
    "create_changed",
    "create_deleted",
    "copy_staging",
    "analyze_staging",
    "list_changed",
    "analyze_changed",
    "index_changed",
    "reference_rule",
    "changed_reference_rule",
    "deleted_reference_rule",
    "key_rule",
    "key_rule_among",
    "keep_rejects",
    "list_deleted",
    "cascade_rule",
    "count_deleted",
    "count_rows",
    "counts",
    "any_row",
    "first_merge",
    "merge_update",
    "merge_insert",
    "delete_rows",
    "analyze_table",
];

/// Registers the file at `FILES[$at]` for [`crate::core::sql_file`]'s test.
#[cfg(test)]
macro_rules! declare {
    ($($at:literal),+) => {
        $(inventory::submit! {
            crate::core::sql_file::Declared {
                krate: env!("CARGO_MANIFEST_DIR"),
                path: FILES[$at].1,
                text: FILES[$at].2,
                names: NAMES,
            }
        })+
    };
}
#[cfg(test)]
declare!(0, 1, 2, 3);

#[cfg(test)]
mod tests {
    use super::*;

    /// Which lines a reference rule looks at.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Restriction {
        None,
        Changed,
        Deleted,
    }

    #[test]
    fn every_dataset_has_its_statements() {
        for dataset in Dataset::LOAD_ORDER {
            let sql = LoadStatements::of(dataset);
            assert_eq!(sql.reference_rules.len(), dataset.references().len());
            assert_eq!(
                sql.changed_reference_rules.len(),
                dataset.references().len()
            );
            assert_eq!(
                sql.deleted_reference_rules.len(),
                dataset.references().len()
            );
            assert!(sql.copy_staging.starts_with(&format!(
                "COPY {}",
                super::super::staging::staging_table(dataset)
            )));
            assert!(!sql.copy_staging.ends_with(';'));
            assert_eq!(
                sql.analyze_table.is_some(),
                !aggregate_columns(dataset).is_empty()
            );
        }
    }

    /// The columns the aggregates join and filter on, whose statistics a big load refreshes.
    fn aggregate_columns(dataset: Dataset) -> &'static [&'static str] {
        match dataset {
            Dataset::Customers => &["customer_id", "customer_unique_id"],
            Dataset::Orders => &[
                "order_id",
                "customer_id",
                "order_status",
                "order_purchase_timestamp",
            ],
            Dataset::OrderItems => &["order_id", "product_id"],
            Dataset::Products => &[],
        }
    }

    /// The items of the parenthesised list that starts right after the first `opening` in `sql`
    /// (which ends with `(`).
    fn list_after<'a>(sql: &'a str, opening: &str) -> Vec<&'a str> {
        let at = sql
            .find(opening)
            .unwrap_or_else(|| panic!("no `{opening}` in:\n{sql}"))
            + opening.len();
        let end = sql[at..].find(')').expect("an unclosed list") + at;
        sql[at..end].split(',').map(str::trim).collect()
    }

    /// The items between `start` and the next `end` in `sql`, separated by commas.
    fn list_between<'a>(sql: &'a str, start: &str, end: &str) -> Vec<&'a str> {
        let at = sql
            .find(start)
            .unwrap_or_else(|| panic!("no `{start}` in:\n{sql}"))
            + start.len();
        let stop = sql[at..]
            .find(end)
            .unwrap_or_else(|| panic!("no `{end}` after `{start}` in:\n{sql}"))
            + at;
        sql[at..stop].split(',').map(str::trim).collect()
    }

    /// For each `(a, ...) <comparison> (b, ...)` in `sql`: the two lists.
    fn compared_lists<'a>(sql: &'a str, comparison: &str) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
        let marker = format!(") {comparison} (");
        sql.match_indices(&marker)
            .map(|(at, _)| {
                let open = sql[..at].rfind('(').expect("an unopened list");
                let left = sql[open + 1..at].split(',').map(str::trim).collect();
                let right = list_after(&sql[at..], &marker);
                (left, right)
            })
            .collect()
    }

    fn prefixed(alias: &str, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| format!("{alias}.{n}")).collect()
    }

    fn same_key(dataset: Dataset, a: &str, b: &str) -> String {
        let pairs: Vec<String> = dataset
            .key()
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect();
        pairs.join(" AND ")
    }

    /// What the files say instead of the schema is a mistake: every table name and column list of
    /// each dataset's statements is olist's, in its order (the order the load's COPY sends values
    /// in), the key's and the references' included. The staging table's types are compared with the
    /// migrated catalog by `pipeline/tests/schema.rs`.
    #[test]
    #[allow(
        clippy::too_many_lines,
        reason = "one check per statement of the file, in the file's order"
    )]
    fn column_lists_are_the_datasets() {
        for dataset in Dataset::LOAD_ORDER {
            let sql = LoadStatements::of(dataset);
            let (table, staging, changed) = (
                dataset.table(),
                super::super::staging::staging_table(dataset),
                super::super::staging::changed_table(dataset),
            );
            let columns: Vec<&str> = dataset.columns().iter().map(|c| c.table).collect();
            let key = dataset.key();
            let non_key: Vec<&str> = columns
                .iter()
                .copied()
                .filter(|c| !key.contains(c))
                .collect();
            let context = format!("stages/sql/load/{table}.sql");

            // Staging: the line, its outcome, then every column with its type.
            let create = sql.create_staging;
            assert!(
                create.starts_with(&format!("CREATE TEMP TABLE {staging} (\n")),
                "{context}"
            );
            assert!(create.ends_with("\n) ON COMMIT DROP"), "{context}");
            let declared: Vec<&str> = create
                .lines()
                .skip(1)
                .filter(|l| l.starts_with(' '))
                .collect();
            let mut expected = vec![
                "line_number bigint NOT NULL".to_owned(),
                "raw_line text NOT NULL".to_owned(),
                "outcome text".to_owned(),
                "reason text".to_owned(),
            ];
            expected.extend(
                dataset
                    .columns()
                    .iter()
                    .map(|c| format!("{} {}", c.table, c.sql_type)),
            );
            let declared: Vec<&str> = declared
                .iter()
                .map(|l| l.trim().trim_end_matches(','))
                .collect();
            assert_eq!(declared, expected, "{context}: create_staging");
            assert_eq!(
                sql.create_changed,
                format!("CREATE TEMP TABLE {changed} (line_number bigint NOT NULL) ON COMMIT DROP"),
                "{context}"
            );
            let mut copied = vec!["line_number", "raw_line"];
            copied.extend(&columns);
            assert_eq!(
                list_after(sql.copy_staging, &format!("COPY {staging} (")),
                copied,
                "{context}: copy_staging"
            );
            assert!(sql.copy_staging.ends_with(") FROM STDIN"), "{context}");
            let mut joined = vec!["line_number", "outcome"];
            joined.extend(key);
            joined.extend(
                dataset
                    .references()
                    .iter()
                    .map(|r| r.column)
                    .filter(|c| !key.contains(c)),
            );
            assert_eq!(
                list_after(sql.analyze_staging, &format!("ANALYZE {staging} (")),
                joined,
                "{context}: analyze_staging"
            );

            // Changed lines: a new key or any column differing.
            assert!(
                sql.list_changed
                    .starts_with(&format!("INSERT INTO {changed} (line_number)\n")),
                "{context}"
            );
            assert!(
                sql.list_changed.contains(&format!(
                    "FROM {staging} s LEFT JOIN {table} t ON {}\n WHERE t.{} IS NULL",
                    same_key(dataset, "t", "s"),
                    key[0]
                )),
                "{context}: list_changed"
            );
            assert_eq!(
                compared_lists(sql.list_changed, "IS DISTINCT FROM"),
                [(
                    prefixed("t", &columns).iter().map(String::as_str).collect(),
                    prefixed("s", &columns).iter().map(String::as_str).collect()
                )],
                "{context}: list_changed"
            );
            assert_eq!(
                sql.analyze_changed,
                format!("ANALYZE {changed}"),
                "{context}"
            );
            assert_eq!(
                sql.index_changed,
                format!("CREATE INDEX ON {staging} (line_number)"),
                "{context}"
            );

            // References: one rule per reference, in the dataset's order.
            // Each list restricted to its lines: every line (none), the changed lines, or the
            // lines whose referenced row goes; the rest of each rule is the same.
            for (rules, restriction) in [
                (&sql.reference_rules, Restriction::None),
                (&sql.changed_reference_rules, Restriction::Changed),
                (&sql.deleted_reference_rules, Restriction::Deleted),
            ] {
                assert_eq!(rules.len(), dataset.references().len(), "{context}");
                for (rule, reference) in rules.iter().zip(dataset.references()) {
                    let (column, target) = (reference.column, reference.target);
                    assert!(
                        rule.starts_with(&format!("UPDATE {staging} s\n")),
                        "{context}"
                    );
                    for part in [
                        format!("WHERE r.dataset = '{target}' AND r.key = s.{column}"),
                        format!("format('{column} \"%s\" is not in {target}', s.{column})"),
                        format!(
                            "NOT EXISTS (SELECT 1 FROM {} t WHERE t.{column} = s.{column} AND t.outcome IS NULL)",
                            super::super::staging::staging_table(target)
                        ),
                        // A stored row this load deletes is not there to refer to.
                        format!(
                            "NOT EXISTS (SELECT 1 FROM {} t WHERE t.{column} = s.{column} AND NOT EXISTS (SELECT 1 FROM {} d WHERE d.{column} = t.{column}))",
                            target.table(),
                            super::super::staging::deleted_table(target)
                        ),
                    ] {
                        assert!(rule.contains(&part), "{context}: {part}");
                    }
                    let over_changed =
                        format!("AND s.line_number IN (SELECT line_number FROM {changed})\n");
                    let over_deleted = format!(
                        "AND s.{column} IN (SELECT {column} FROM {})\n",
                        super::super::staging::deleted_table(target)
                    );
                    assert_eq!(
                        (rule.contains(&over_changed), rule.contains(&over_deleted)),
                        (
                            restriction == Restriction::Changed,
                            restriction == Restriction::Deleted
                        ),
                        "{context}: {rule}"
                    );
                }
            }
            // A rule's lines without its comments and its restriction.
            let statement = |text: &'static str| -> Vec<&'static str> {
                text.lines()
                    .filter(|line| !line.starts_with("--"))
                    .filter(|line| !(line.starts_with("  AND s.") && line.contains(" IN (SELECT ")))
                    .collect()
            };
            for (at, full) in sql.reference_rules.iter().enumerate() {
                for restricted in [
                    sql.changed_reference_rules[at],
                    sql.deleted_reference_rules[at],
                ] {
                    assert_eq!(statement(restricted), statement(full), "{context}");
                }
            }

            // Keys: every column compared, the key's columns grouped and matched.
            let key_list = key.join(", ");
            assert!(sql.key_rule.starts_with(&format!("UPDATE {staging} s\n")));
            let all_s = prefixed("s", &columns);
            let all_f = prefixed("f", &columns);
            let both = (
                all_s.iter().map(String::as_str).collect::<Vec<_>>(),
                all_f.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            assert_eq!(
                compared_lists(sql.key_rule, "IS NOT DISTINCT FROM"),
                [both.clone(), both],
                "{context}: key_rule"
            );
            for part in [
                format!("SELECT DISTINCT ON ({key_list}) * FROM {staging}\n"),
                format!("AND ({key_list}) IN (SELECT {key_list} FROM {staging} WHERE"),
                format!("GROUP BY {key_list} HAVING count(*) > 1)"),
                format!("ORDER BY {key_list}, line_number) f"),
                format!(
                    "WHERE s.outcome IS NULL AND {} AND s.line_number > f.line_number",
                    same_key(dataset, "s", "f")
                ),
            ] {
                assert!(sql.key_rule.contains(&part), "{context}: {part}");
            }
            // The restricted key rule is the key rule with both of its scans of the staging table
            // limited to the candidates' first key column, and nothing else changed.
            let among = format!(" AND {} = ANY($1::text[])", key[0]);
            assert_eq!(sql.key_rule_among.matches(&among).count(), 2, "{context}");
            let unrestricted: Vec<&str> = sql
                .key_rule_among
                .lines()
                .filter(|line| !line.starts_with("--"))
                .collect();
            assert_eq!(
                unrestricted.join("\n").replace(&among, ""),
                sql.key_rule,
                "{context}: key_rule_among"
            );
            let key_words: Vec<String> = key
                .iter()
                .map(|k| format!("'{k} \"' || s.{k} || '\"'"))
                .collect();
            assert!(
                sql.key_rule
                    .contains(&format!("concat_ws(', ', {})", key_words.join(", "))),
                "{context}: key_rule"
            );
            assert!(
                sql.keep_rejects.ends_with(&format!(
                    "raw_line, reason, {}\n  FROM {staging} WHERE outcome = 'rejected'",
                    key[0]
                )),
                "{context}: keep_rejects"
            );
            // Deletes: the key's columns, the file's lines (staged or rejected) keep their rows,
            // one cascade per reference.
            let deleted = super::super::staging::deleted_table(dataset);
            assert!(
                sql.create_deleted
                    .starts_with(&format!("CREATE TEMP TABLE {deleted} (")),
                "{context}"
            );
            assert!(
                sql.create_deleted
                    .ends_with(&format!("PRIMARY KEY ({key_list})) ON COMMIT DROP")),
                "{context}"
            );
            assert!(
                sql.list_deleted.contains(&format!(
                    "NOT EXISTS (SELECT 1 FROM {staging} s WHERE {})",
                    same_key(dataset, "s", "t")
                )),
                "{context}: list_deleted"
            );
            assert!(
                sql.list_deleted.contains(&format!(
                    "r.dataset = '{}' AND r.key = t.{}",
                    dataset.name(),
                    key[0]
                )),
                "{context}: list_deleted"
            );
            assert_eq!(
                sql.cascade_rules.len(),
                dataset.references().len(),
                "{context}"
            );
            for (rule, reference) in sql.cascade_rules.iter().zip(dataset.references()) {
                let column = reference.column;
                assert!(
                    rule.contains(&format!(
                        "JOIN {} d ON d.{column} = t.{column}",
                        super::super::staging::deleted_table(reference.target)
                    )),
                    "{context}: cascade_rule"
                );
                assert!(rule.starts_with(&format!("INSERT INTO {deleted} ({key_list})")));
            }
            assert_eq!(
                sql.delete_rows,
                format!(
                    "DELETE FROM {table} t USING {deleted} d WHERE {}",
                    same_key(dataset, "d", "t")
                ),
                "{context}"
            );
            assert!(
                sql.counts.ends_with(&format!("FROM {staging}")),
                "{context}"
            );
            assert_eq!(
                sql.any_row,
                format!("SELECT EXISTS (SELECT 1 FROM {table})"),
                "{context}"
            );

            // Merges: every column inserted, the key matched, the other columns updated.
            for (name, merge) in [
                ("first_merge", sql.first_merge),
                ("merge_insert", sql.merge_insert),
            ] {
                assert_eq!(
                    list_after(merge, &format!("INSERT INTO {table} (")),
                    columns,
                    "{context}: {name}"
                );
                assert_eq!(
                    list_between(merge, "\nSELECT ", &format!(" FROM {staging}")),
                    columns,
                    "{context}: {name}"
                );
            }
            assert!(
                sql.merge_insert.ends_with(&format!(
                    "NOT EXISTS (SELECT 1 FROM {table} t WHERE {})",
                    same_key(dataset, "t", "s")
                )),
                "{context}: merge_insert"
            );
            let set: Vec<String> = non_key.iter().map(|c| format!("{c} = s.{c}")).collect();
            assert_eq!(
                list_between(sql.merge_update, &format!("UPDATE {table} t SET "), "\n"),
                set,
                "{context}: merge_update"
            );
            assert!(
                sql.merge_update
                    .contains(&format!("\n  AND {} AND (", same_key(dataset, "t", "s"))),
                "{context}: merge_update"
            );
            assert_eq!(
                compared_lists(sql.merge_update, "IS DISTINCT FROM"),
                [(
                    prefixed("t", &non_key).iter().map(String::as_str).collect(),
                    prefixed("s", &non_key).iter().map(String::as_str).collect()
                )],
                "{context}: merge_update"
            );
            for merge in [sql.merge_update, sql.merge_insert] {
                assert!(
                    merge.contains(&format!(
                        "s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM {changed})"
                    )),
                    "{context}"
                );
            }
            if let Some(analyze) = sql.analyze_table {
                assert_eq!(
                    list_after(analyze, &format!("ANALYZE {table} (")),
                    aggregate_columns(dataset),
                    "{context}: analyze_table"
                );
            }
        }
    }

    #[test]
    fn references_come_before_keys_and_only_changed_lines_meet_them_when_comparing() {
        let sql = LoadStatements::of(Dataset::OrderItems);
        assert!(sql.reference_rules[0].contains("order_id \"%s\" is not in orders"));
        assert!(sql.reference_rules[1].contains("product_id \"%s\" is not in products"));
        assert!(!sql.reference_rules[0].contains("_changed"));
        for rule in &sql.changed_reference_rules {
            assert!(rule.contains(
                "s.line_number IN (SELECT line_number FROM staging_order_items_changed)"
            ));
        }
        // The key rule sees every line: a duplicate of an unchanged line is a duplicate.
        assert!(
            sql.key_rule
                .contains("DISTINCT ON (order_id, order_item_id)")
        );
        assert!(!sql.key_rule.contains("_changed"));
        assert!(sql.list_changed.contains(
            "LEFT JOIN order_items t ON t.order_id = s.order_id AND t.order_item_id = s.order_item_id"
        ));
        assert!(sql.list_changed.contains("WHERE t.order_id IS NULL"));
        assert!(
            LoadStatements::of(Dataset::Customers)
                .reference_rules
                .is_empty()
        );
    }

    #[test]
    fn merge_updates_only_changed_rows_and_inserts_new_keys() {
        let sql = LoadStatements::of(Dataset::OrderItems);
        assert!(
            sql.merge_update
                .starts_with("UPDATE order_items t SET product_id = s.product_id")
        );
        assert!(
            sql.merge_update
                .contains("t.order_id = s.order_id AND t.order_item_id = s.order_item_id")
        );
        assert!(
            sql.merge_update
                .contains("IS DISTINCT FROM (s.product_id, s.seller_id")
        );
        assert!(
            !sql.merge_update
                .contains("order_item_id = s.order_item_id,")
        );
        assert!(
            sql.merge_insert
                .contains("NOT EXISTS (SELECT 1 FROM order_items t WHERE t.order_id = s.order_id")
        );
        for statement in [sql.merge_update, sql.merge_insert] {
            assert!(statement.contains(
                "s.line_number IN (SELECT line_number FROM staging_order_items_changed)"
            ));
        }
    }
}
