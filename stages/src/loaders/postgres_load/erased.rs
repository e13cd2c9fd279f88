//! The erased rule, the first set rule of a load (see [`super::set_rules`]): the staged lines of the
//! people erased by `pipeline erase` (their person, customer ids or order ids are in `erased_keys`,
//! as hashes) get the outcome `erased`. They are not merged, and not copied to the rejected lines:
//! no raw line of an erased person is kept. A line the row rules or earlier set rules rejected is
//! dropped from the load's rejects when one of its fields is an erased id, and counted as erased
//! too. The ids a marked line carries are listed, so that the person's later lines are skipped even
//! when the line that linked them (the customer of an order) is absent from that export.
//!
//! The statements are in `stages/sql/load/erased.sql`.

use olist::Dataset;
use sqlx::PgConnection;

use crate::core::sql_file;

sql_file::statements! {
    /// The erased rule's statements.
    static SQL: Statements = "load/erased.sql" {
        create_erased_rejects,
        any_erased,
        drop_erased_rejects,
        erased_customers,
        erased_orders,
        erased_order_items,
    }
}

/// The statement that marks the erased lines of `dataset`, if its lines can be a person's.
/// Products are nobody's.
fn rule(dataset: Dataset) -> Option<&'static str> {
    match dataset {
        Dataset::Customers => Some(SQL.erased_customers),
        Dataset::Orders => Some(SQL.erased_orders),
        Dataset::OrderItems => Some(SQL.erased_order_items),
        Dataset::Products => None,
    }
}

/// Marks `dataset`'s staged lines of erased people, and drops its rejected lines that carry an
/// erased id (counted in `staging_erased_rejects`). Nothing to do while nobody is erased.
pub async fn apply(conn: &mut PgConnection, dataset: Dataset) -> Result<(), sqlx::Error> {
    sqlx::query(SQL.create_erased_rejects)
        .execute(&mut *conn)
        .await?;
    let any: bool = sqlx::query_scalar(SQL.any_erased)
        .fetch_one(&mut *conn)
        .await?;
    if !any {
        return Ok(());
    }
    if let Some(rule) = rule(dataset) {
        sqlx::query(rule).execute(&mut *conn).await?;
    }
    sqlx::query(SQL.drop_erased_rejects)
        .bind(dataset.name())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dataset_of_a_person_has_its_rule() {
        for dataset in Dataset::LOAD_ORDER {
            let rule = rule(dataset);
            assert_eq!(rule.is_some(), dataset != Dataset::Products, "{dataset}");
            if let Some(sql) = rule {
                let table = super::super::staging::staging_table(dataset);
                assert!(sql.contains(&format!("UPDATE {table} s")), "{sql}");
                assert!(sql.contains("SET outcome = 'erased'"), "{sql}");
                assert!(sql.contains("outcome IS NULL"), "{sql}");
            }
        }
    }
}
