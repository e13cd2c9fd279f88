//! The set rules, as SQL over the staged rows of one dataset (see [`super::staging`]):
//!
//! 0. into tables that hold rows, the staged lines that differ from their stored row (a new key or
//!    other content) are listed in the dataset's `changed_table`; a line equal to its stored row
//!    satisfies every reference (its referenced rows are stored, and loads never delete), so only
//!    the listed lines are checked against references, and only they are merged;
//! 1. references: a row whose referenced key is neither accepted in this load nor already in the
//!    table is rejected, saying whether the referenced line was itself rejected;
//! 2. keys: among the rows still accepted, the first line of each key wins; a later line with the
//!    same content is a duplicate (not loaded again), with other content it is rejected;
//! 3. the rejected rows join the load's rejects, with their key, so that later datasets can say
//!    "refers to a rejected line".
//!
//! Identifiers come from [`Dataset`]; values are bind parameters.

use sqlx::{AssertSqlSafe, PgConnection};

use crate::dataset::Dataset;

/// Applies the set rules to `dataset`'s staged rows. Datasets must be checked in
/// [`Dataset::LOAD_ORDER`], so that the datasets referred to are settled first. With `compare`
/// (the tables hold rows), the changed lines are listed first and only they are checked against
/// references; without, every line is.
pub async fn apply(
    conn: &mut PgConnection,
    dataset: Dataset,
    compare: bool,
) -> Result<(), sqlx::Error> {
    // Temporary tables have no statistics until analysed, and these statements join them on the key
    // and reference columns and filter them on `outcome`; without statistics the planner guesses a
    // handful of rows and picks nested loops, quadratic in the file's size. Other columns need none,
    // and sampling them costs.
    let mut joined: Vec<&str> = vec!["line_number", "outcome"];
    joined.extend(dataset.key());
    joined.extend(
        dataset
            .references()
            .iter()
            .map(|r| r.column)
            .filter(|c| !dataset.key().contains(c)),
    );
    sqlx::query(AssertSqlSafe(format!(
        "ANALYZE {} ({})",
        dataset.staging_table(),
        joined.join(", ")
    )))
    .execute(&mut *conn)
    .await?;
    if compare {
        sqlx::query(AssertSqlSafe(changed_lines_sql(dataset)))
            .execute(&mut *conn)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "ANALYZE {}",
            dataset.changed_table()
        )))
        .execute(&mut *conn)
        .await?;
    }
    for sql in statements(dataset, compare) {
        let takes_name = sql.contains("$1");
        let query = sqlx::query(AssertSqlSafe(sql));
        let query = if takes_name {
            query.bind(dataset.name())
        } else {
            query
        };
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Lists in the dataset's `changed_table` the staged lines whose key is not stored, or whose stored
/// row has other content.
#[must_use]
pub fn changed_lines_sql(dataset: Dataset) -> String {
    let key = dataset.key();
    let same_key: Vec<String> = key.iter().map(|k| format!("t.{k} = s.{k}")).collect();
    let stored: Vec<String> = dataset
        .columns()
        .iter()
        .map(|c| format!("t.{}", c.table))
        .collect();
    let staged: Vec<String> = dataset
        .columns()
        .iter()
        .map(|c| format!("s.{}", c.table))
        .collect();
    format!(
        "INSERT INTO {changed} (line_number)
         SELECT s.line_number FROM {staging} s LEFT JOIN {table} t ON {same_key}
          WHERE t.{first_key} IS NULL OR ({stored}) IS DISTINCT FROM ({staged})",
        changed = dataset.changed_table(),
        staging = dataset.staging_table(),
        table = dataset.table(),
        same_key = same_key.join(" AND "),
        first_key = key[0],
        stored = stored.join(", "),
        staged = staged.join(", "),
    )
}

/// The statements of [`apply`], in order; those with a `$1` take the dataset's name. With
/// `compare`, only the changed lines are checked against references.
#[must_use]
pub fn statements(dataset: Dataset, compare: bool) -> Vec<String> {
    let staging = dataset.staging_table();
    let only_changed = if compare {
        format!(
            " AND s.line_number IN (SELECT line_number FROM {})",
            dataset.changed_table()
        )
    } else {
        String::new()
    };
    let mut sql = Vec::new();
    for reference in dataset.references() {
        let column = reference.column;
        let target = reference.target;
        sql.push(format!(
            r#"UPDATE {staging} s SET outcome = 'rejected', reason = coalesce(
                   (SELECT format('{column} "%s" refers to a rejected line of {target_name} (%s line %s)', s.{column}, r.source_file, r.line_number)
                      FROM staging_rejects r
                     WHERE r.dataset = '{target_name}' AND r.key = s.{column}
                     ORDER BY r.line_number LIMIT 1),
                   format('{column} "%s" is not in {target_name}', s.{column}))
                WHERE s.outcome IS NULL{only_changed}
                  AND NOT EXISTS (SELECT 1 FROM {target_staging} t WHERE t.{column} = s.{column} AND t.outcome IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM {target_table} t WHERE t.{column} = s.{column})"#,
            target_name = target.name(),
            target_staging = target.staging_table(),
            target_table = target.table(),
        ));
    }
    let key = dataset.key();
    let key_match: Vec<String> = key.iter().map(|k| format!("s.{k} = f.{k}")).collect();
    let key_list = key.join(", ");
    let all_s: Vec<String> = dataset
        .columns()
        .iter()
        .map(|c| format!("s.{}", c.table))
        .collect();
    let all_f: Vec<String> = dataset
        .columns()
        .iter()
        .map(|c| format!("f.{}", c.table))
        .collect();
    let key_words: Vec<String> = key
        .iter()
        .map(|k| format!("'{k} \"' || s.{k} || '\"'"))
        .collect();
    sql.push(format!(
        r"UPDATE {staging} s SET
               outcome = CASE WHEN ({all_s}) IS NOT DISTINCT FROM ({all_f}) THEN 'duplicate' ELSE 'rejected' END,
               reason = CASE WHEN ({all_s}) IS NOT DISTINCT FROM ({all_f})
                             THEN format('exact duplicate of line %s', f.line_number)
                             ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', {key_words}), f.line_number) END
            FROM (SELECT DISTINCT ON ({key_list}) * FROM {staging}
                   WHERE outcome IS NULL
                     AND ({key_list}) IN (SELECT {key_list} FROM {staging} WHERE outcome IS NULL
                                           GROUP BY {key_list} HAVING count(*) > 1)
                   ORDER BY {key_list}, line_number) f
           WHERE s.outcome IS NULL AND {key_match} AND s.line_number > f.line_number",
        all_s = all_s.join(", "),
        all_f = all_f.join(", "),
        key_words = key_words.join(", "),
        key_match = key_match.join(" AND "),
    ));
    sql.push(format!(
        r"INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)
           SELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, {first_key}
             FROM {staging} WHERE outcome = 'rejected'",
        first_key = key[0],
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_come_before_keys_and_rejects_are_kept() {
        let sql = statements(Dataset::OrderItems, false);
        assert_eq!(sql.len(), 4);
        assert!(sql[0].contains("order_id \"%s\" is not in orders"));
        assert!(sql[1].contains("product_id \"%s\" is not in products"));
        assert!(sql[2].contains("DISTINCT ON (order_id, order_item_id)"));
        assert!(sql[3].starts_with("INSERT INTO staging_rejects"));
        assert_eq!(statements(Dataset::Customers, false).len(), 2);
        assert!(!sql[0].contains("_changed"));
    }

    #[test]
    fn with_compare_only_changed_lines_meet_the_reference_rules() {
        let sql = statements(Dataset::OrderItems, true);
        assert!(
            sql[0]
                .contains("s.line_number IN (SELECT line_number FROM staging_order_items_changed)")
        );
        assert!(
            sql[1]
                .contains("s.line_number IN (SELECT line_number FROM staging_order_items_changed)")
        );
        // The key rule still sees every line: a duplicate of an unchanged line is a duplicate.
        assert!(!sql[2].contains("_changed"));
        let changed = changed_lines_sql(Dataset::OrderItems);
        assert!(changed.contains("LEFT JOIN order_items t ON t.order_id = s.order_id AND t.order_item_id = s.order_item_id"));
        assert!(changed.contains("WHERE t.order_id IS NULL OR (t.order_id, t.order_item_id,"));
    }
}
