//! The SQL the load runs for each dataset, as static text: `stages/sql/load/<table>.sql` (see
//! [`crate::core::sql_file`]), written from the schema in [`olist`] by this module's test. No SQL
//! of the load is assembled at run time: what runs is what the files say, and they can be read,
//! diffed and `EXPLAIN`ed as they are.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use olist::Dataset;

use crate::core::sql_file::{self, sections};

/// The statements of one dataset's load, in the order a load runs them.
#[derive(Debug)]
pub struct LoadStatements {
    /// `CREATE TEMP TABLE` of the staging table (line number, raw line, outcome, reason, columns).
    pub create_staging: &'static str,
    /// `CREATE TEMP TABLE` of the changed-lines table.
    pub create_changed: &'static str,
    /// `COPY ... FROM STDIN` into the staging table.
    pub copy_staging: &'static str,
    /// `ANALYZE` of the staging table's joined columns.
    pub analyze_staging: &'static str,
    /// Lists the staged lines that differ from their stored row (tables that hold rows).
    pub list_changed: &'static str,
    /// `ANALYZE` of the changed-lines table.
    pub analyze_changed: &'static str,
    /// One rule per reference, over every staged line (a first load).
    pub reference_rules: Vec<&'static str>,
    /// One rule per reference, over the changed lines only.
    pub changed_reference_rules: Vec<&'static str>,
    /// The key rule (duplicates and conflicts); always over every staged line.
    pub key_rule: &'static str,
    /// Copies the rejected rows into `staging_rejects`; `$1` is the dataset's name.
    pub keep_rejects: &'static str,
    /// Loaded, duplicate and rejected counts and the source file; `$1` is the dataset's name.
    pub counts: &'static str,
    /// Whether the table holds a row.
    pub any_row: &'static str,
    /// The merge into an empty table: every accepted row.
    pub first_merge: &'static str,
    /// Rewrites the stored rows whose changed line has other content.
    pub merge_update: &'static str,
    /// Inserts the changed lines whose key is new.
    pub merge_insert: &'static str,
    /// `ANALYZE` of the columns the aggregates read, after a big merge (none for tables they do
    /// not read).
    pub analyze_table: Option<&'static str>,
}

static FILES: [(Dataset, &str); 4] = [
    (
        Dataset::Customers,
        include_str!("../../../sql/load/customers.sql"),
    ),
    (
        Dataset::Products,
        include_str!("../../../sql/load/products.sql"),
    ),
    (
        Dataset::Orders,
        include_str!("../../../sql/load/orders.sql"),
    ),
    (
        Dataset::OrderItems,
        include_str!("../../../sql/load/order_items.sql"),
    ),
];

static PARSED: LazyLock<BTreeMap<Dataset, LoadStatements>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(dataset, text)| {
            let file = format!("sql/load/{}.sql", dataset.table());
            (*dataset, LoadStatements::parse(&file, text))
        })
        .collect()
});

impl LoadStatements {
    /// The statements of `dataset`.
    #[must_use]
    pub fn of(dataset: Dataset) -> &'static LoadStatements {
        &PARSED[&dataset]
    }

    /// Reads the named statements of one file.
    fn parse(file: &str, text: &'static str) -> Self {
        let named = sections(text);
        let all = |name: &str| -> Vec<&'static str> {
            named
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, sql)| *sql)
                .collect()
        };
        let one = |name: &str| sql_file::one(file, &named, name);
        Self {
            create_staging: one("create_staging"),
            create_changed: one("create_changed"),
            copy_staging: one("copy_staging"),
            analyze_staging: one("analyze_staging"),
            list_changed: one("list_changed"),
            analyze_changed: one("analyze_changed"),
            reference_rules: all("reference_rule"),
            changed_reference_rules: all("changed_reference_rule"),
            key_rule: one("key_rule"),
            keep_rejects: one("keep_rejects"),
            counts: one("counts"),
            any_row: one("any_row"),
            first_merge: one("first_merge"),
            merge_update: one("merge_update"),
            merge_insert: one("merge_insert"),
            analyze_table: named
                .iter()
                .any(|(n, _)| *n == "analyze_table")
                .then(|| one("analyze_table")),
        }
    }
}

/// Writes the statement files from the schema. Only the test runs this: the binary carries the
/// files' text.
#[cfg(test)]
mod write {
    use olist::Dataset;

    /// The columns the aggregates join and filter on, whose statistics a big load refreshes.
    pub fn aggregate_columns(dataset: Dataset) -> &'static [&'static str] {
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

    fn list(items: impl IntoIterator<Item = String>, separator: &str) -> String {
        items.into_iter().collect::<Vec<_>>().join(separator)
    }

    fn prefixed(prefix: &str, names: &[&str]) -> String {
        list(names.iter().map(|c| format!("{prefix}.{c}")), ", ")
    }

    /// The whole file of `dataset`.
    pub fn file(dataset: Dataset) -> String {
        let table = dataset.table();
        let staging = dataset.staging_table();
        let changed = dataset.changed_table();
        let columns: Vec<&str> = dataset.columns().iter().map(|c| c.table).collect();
        let column_list = columns.join(", ");
        let key = dataset.key();
        let key_list = key.join(", ");
        let same_key =
            |a: &str, b: &str| list(key.iter().map(|k| format!("{a}.{k} = {b}.{k}")), " AND ");
        let non_key: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| !key.contains(c))
            .collect();
        let mut out = crate::core::sql_file::header(
            &format!("The load's statements for `{table}`"),
            "the schema in olist/src/lib.rs",
        );
        let mut add = |name: &str, sql: String| crate::core::sql_file::push(&mut out, name, &sql);

        add(
            "create_staging",
            format!(
                "CREATE TEMP TABLE {staging} (\n    line_number bigint NOT NULL,\n    raw_line text NOT NULL,\n    outcome text,\n    reason text,\n{}\n) ON COMMIT DROP",
                list(
                    dataset
                        .columns()
                        .iter()
                        .map(|c| format!("    {} {}", c.table, c.sql_type)),
                    ",\n"
                )
            ),
        );
        add(
            "create_changed",
            format!("CREATE TEMP TABLE {changed} (line_number bigint NOT NULL) ON COMMIT DROP"),
        );
        add(
            "copy_staging",
            format!("COPY {staging} (line_number, raw_line, {column_list}) FROM STDIN"),
        );

        // Temporary tables have no statistics until analysed, and the rules join them on the key
        // and reference columns and filter them on `outcome`.
        let mut joined: Vec<&str> = vec!["line_number", "outcome"];
        joined.extend(key);
        joined.extend(
            dataset
                .references()
                .iter()
                .map(|r| r.column)
                .filter(|c| !key.contains(c)),
        );
        add(
            "analyze_staging",
            format!("ANALYZE {staging} ({})", joined.join(", ")),
        );
        add(
            "list_changed",
            format!(
                "INSERT INTO {changed} (line_number)\nSELECT s.line_number\n  FROM {staging} s LEFT JOIN {table} t ON {}\n WHERE t.{} IS NULL\n    OR ({}) IS DISTINCT FROM ({})",
                same_key("t", "s"),
                key[0],
                prefixed("t", &columns),
                prefixed("s", &columns),
            ),
        );
        add("analyze_changed", format!("ANALYZE {changed}"));

        for (name, only_changed) in [
            ("reference_rule", String::new()),
            (
                "changed_reference_rule",
                format!("\n   AND s.line_number IN (SELECT line_number FROM {changed})"),
            ),
        ] {
            for reference in dataset.references() {
                let column = reference.column;
                let target = reference.target.name();
                add(
                    name,
                    format!(
                        r#"UPDATE {staging} s
   SET outcome = 'rejected',
       reason = coalesce(
           (SELECT format('{column} "%s" refers to a rejected line of {target} (%s line %s)', s.{column}, r.source_file, r.line_number)
              FROM staging_rejects r
             WHERE r.dataset = '{target}' AND r.key = s.{column}
             ORDER BY r.line_number LIMIT 1),
           format('{column} "%s" is not in {target}', s.{column}))
 WHERE s.outcome IS NULL{only_changed}
   AND NOT EXISTS (SELECT 1 FROM {target_staging} t WHERE t.{column} = s.{column} AND t.outcome IS NULL)
   AND NOT EXISTS (SELECT 1 FROM {target_table} t WHERE t.{column} = s.{column})"#,
                        target_staging = reference.target.staging_table(),
                        target_table = reference.target.table(),
                    ),
                );
            }
        }

        let all_s = prefixed("s", &columns);
        let all_f = prefixed("f", &columns);
        let key_words = list(
            key.iter().map(|k| format!("'{k} \"' || s.{k} || '\"'")),
            ", ",
        );
        add(
            "key_rule",
            format!(
                r"UPDATE {staging} s
   SET outcome = CASE WHEN ({all_s}) IS NOT DISTINCT FROM ({all_f}) THEN 'duplicate' ELSE 'rejected' END,
       reason = CASE WHEN ({all_s}) IS NOT DISTINCT FROM ({all_f})
                     THEN format('exact duplicate of line %s', f.line_number)
                     ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', {key_words}), f.line_number) END
  FROM (SELECT DISTINCT ON ({key_list}) * FROM {staging}
         WHERE outcome IS NULL
           AND ({key_list}) IN (SELECT {key_list} FROM {staging} WHERE outcome IS NULL
                                 GROUP BY {key_list} HAVING count(*) > 1)
         ORDER BY {key_list}, line_number) f
 WHERE s.outcome IS NULL AND {key_match} AND s.line_number > f.line_number",
                key_match = same_key("s", "f"),
            ),
        );
        add(
            "keep_rejects",
            format!(
                "INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)\nSELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, {}\n  FROM {staging} WHERE outcome = 'rejected'",
                key[0]
            ),
        );
        add(
            "counts",
            format!(
                "SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),\n       (SELECT count(*) FROM staging_rejects WHERE dataset = $1),\n       (SELECT source_file FROM staging_files WHERE dataset = $1)\n  FROM {staging}"
            ),
        );
        add("any_row", format!("SELECT EXISTS (SELECT 1 FROM {table})"));
        add(
            "first_merge",
            format!(
                "INSERT INTO {table} ({column_list})\nSELECT {column_list} FROM {staging} WHERE outcome IS NULL"
            ),
        );
        add(
            "merge_update",
            format!(
                "UPDATE {table} t SET {}\n  FROM {staging} s\n WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM {changed})\n   AND {} AND ({}) IS DISTINCT FROM ({})",
                list(non_key.iter().map(|c| format!("{c} = s.{c}")), ", "),
                same_key("t", "s"),
                prefixed("t", &non_key),
                prefixed("s", &non_key),
            ),
        );
        add(
            "merge_insert",
            format!(
                "INSERT INTO {table} ({column_list})\nSELECT {column_list} FROM {staging} s\n WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM {changed})\n   AND NOT EXISTS (SELECT 1 FROM {table} t WHERE {})",
                same_key("t", "s"),
            ),
        );
        let read = aggregate_columns(dataset);
        if !read.is_empty() {
            add(
                "analyze_table",
                format!("ANALYZE {table} ({})", read.join(", ")),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files are what the schema gives; `UPDATE_SQL=1` writes them.
    #[test]
    fn statement_files_match_the_schema() {
        let stale: Vec<String> = Dataset::LOAD_ORDER
            .into_iter()
            .filter_map(|dataset| {
                sql_file::check_or_write(
                    &format!("sql/load/{}.sql", dataset.table()),
                    &write::file(dataset),
                )
            })
            .collect();
        assert!(
            stale.is_empty(),
            "these files disagree with the schema in olist/src/lib.rs: {stale:?}; \
             run `UPDATE_SQL=1 cargo test -p stages` and review the diff"
        );
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
            assert!(
                sql.copy_staging
                    .starts_with(&format!("COPY {}", dataset.staging_table()))
            );
            assert!(!sql.copy_staging.ends_with(';'));
            assert_eq!(
                sql.analyze_table.is_some(),
                !write::aggregate_columns(dataset).is_empty()
            );
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
