//! The set rules, as SQL over the staged rows of one dataset (see [`super::staging`]); the
//! statements are in `stages/sql/load/` (see [`super::statements`]):
//!
//! 0. the erased rule ([`super::erased`]): the lines of people erased by `pipeline erase` are
//!    marked `erased` before any other rule sees them;
//! 1. into tables that hold rows, the staged lines that differ from their stored row (a new key or
//!    other content) are listed in the dataset's [`super::staging::changed_table`]; a line equal to its stored row
//!    satisfies every reference (its referenced rows are stored, and loads never delete), so only
//!    the listed lines are checked against references, and only they are merged (the staging
//!    table then gets an index of its line numbers, so that the merge finds them without a scan);
//! 2. references: a row whose referenced key is neither accepted in this load nor already in the
//!    table (and not deleted by it) is rejected, saying whether the referenced line was itself
//!    rejected;
//! 3. keys: among the rows still accepted, the first line of each key wins; a later line with the
//!    same content is a duplicate (not loaded again), with other content it is rejected. The rule
//!    looks only where the file's stream may have seen a key twice ([`super::key_watch`]);
//! 4. the rejected rows join the load's rejects, with their key, so that later datasets can say
//!    "refers to a rejected line".

use olist::Dataset;
use sqlx::PgConnection;

use super::key_watch::KeyCheck;
use super::statements::LoadStatements;

/// Applies the set rules to `dataset`'s staged rows. Datasets must be checked in
/// [`Dataset::LOAD_ORDER`], so that the datasets referred to are settled first. With `compare`
/// (the tables hold rows), the changed lines are listed first and only they are checked against
/// references, with, when the load `deletes`, the lines whose referenced row it deletes; without,
/// every line is. `keys` says where two staged lines may share a key.
pub async fn apply(
    conn: &mut PgConnection,
    dataset: Dataset,
    compare: bool,
    deletes: bool,
    keys: &KeyCheck,
) -> Result<(), sqlx::Error> {
    super::erased::apply(conn, dataset).await?;
    let sql = LoadStatements::of(dataset);
    // Temporary tables have no statistics until analysed, and these statements join them on the key
    // and reference columns and filter them on `outcome`; without statistics the planner guesses a
    // handful of rows and picks nested loops, quadratic in the file's size. Other columns need none,
    // and sampling them costs.
    sqlx::query(sql.analyze_staging).execute(&mut *conn).await?;
    let reference_rules = if compare {
        sqlx::query(sql.list_changed).execute(&mut *conn).await?;
        sqlx::query(sql.analyze_changed).execute(&mut *conn).await?;
        // The statements over the changed lines (these rules, the merge, the changed orders) find
        // them by this index instead of scanning every staged line.
        sqlx::query(sql.index_changed).execute(&mut *conn).await?;
        &sql.changed_reference_rules
    } else {
        &sql.reference_rules
    };
    for rule in reference_rules {
        sqlx::query(*rule).execute(&mut *conn).await?;
    }
    // An unchanged line loses its reference only when the load deletes the referenced row. A rule
    // that already rejected a line leaves it alone, and the reason is the same whichever rule
    // sees a line first (a line is either changed or not), so running these after every changed
    // rule rejects the lines one rule over both would, with the same reasons. Without deletes the
    // deleted-keys tables are empty and the rules would change nothing; a load that deletes
    // compares (a load into empty tables deletes nothing).
    if deletes {
        for rule in &sql.deleted_reference_rules {
            sqlx::query(*rule).execute(&mut *conn).await?;
        }
    }
    let looked_at = match keys {
        KeyCheck::Unique => "none".to_owned(),
        KeyCheck::Among(first_columns) => format!("{} keys", first_columns.len()),
        KeyCheck::Everywhere => "every line".to_owned(),
    };
    tracing::info!(dataset = %dataset, looked_at, "key rule");
    match keys {
        // No two staged lines share a key: the rule would change nothing.
        KeyCheck::Unique => {}
        KeyCheck::Among(first_columns) => {
            sqlx::query(sql.key_rule_among)
                .bind(first_columns)
                .execute(&mut *conn)
                .await?;
        }
        KeyCheck::Everywhere => {
            sqlx::query(sql.key_rule).execute(&mut *conn).await?;
        }
    }
    sqlx::query(sql.keep_rejects)
        .bind(dataset.name())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
