//! `pipeline erase`: a person's right to be forgotten (the LGPD's, like the GDPR's). In one
//! transaction, under the exclusive load lock (no load interleaves) and the locks of the person's
//! days: the person's customers, orders and items go; each aggregate forgets them
//! ([`stages::Aggregate::forget`]: the customer aggregate deletes their rows, an aggregate that sums
//! over people has the days of their orders recomputed by its own `compute`); the rejected lines
//! and the changes that hold one of their ids go; an audit row (`erasures`) and the hashes of the
//! ids (`erased_keys`, which later loads skip) are written, and the ledger row closes. A dry run
//! does the same, minus the recomputation and the audit, and rolls back.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, NaiveDate};
use sqlx::{PgConnection, Row};
use stages::AggregateRun;
use stages::core::erasure::Person;
use stages::core::freshness::consecutive_runs;
use stages::core::locks;
use stages::entities::pipeline_run::RunKind;

use crate::db::Db;
use crate::ledger::{self, RunCounts, RunSubject};
use crate::plan::{BuiltAggregate, Plan};

stages::statements! {
    /// This module's statements, in `pipeline/sql/erase.sql`.
    static SQL: Statements = "erase.sql" {
        find_person,
        already_erased,
        create_erase_ids,
        collect_ids,
        customer_ids,
        person_days,
        delete_order_items,
        delete_orders,
        delete_customers,
        delete_rejected_rows,
        delete_changes,
        hash_changes,
        record_erasure,
        list_erased_keys,
        last_erasure,
    }
}

/// Which id names the person to erase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErasureKey {
    /// The person: a `customer_unique_id`.
    Person(String),
    /// One of the person's customer ids: the whole person is erased.
    CustomerId(String),
}

impl ErasureKey {
    /// The kind, as `erasures.key_kind` and `erased_keys.kind` store it.
    pub fn kind(&self) -> &'static str {
        match self {
            ErasureKey::Person(_) => "person",
            ErasureKey::CustomerId(_) => "customer_id",
        }
    }

    /// The id given.
    pub fn id(&self) -> &str {
        match self {
            ErasureKey::Person(id) | ErasureKey::CustomerId(id) => id,
        }
    }

    /// How messages name it (the command line's flag).
    fn flag(&self) -> &'static str {
        match self {
            ErasureKey::Person(_) => "--person",
            ErasureKey::CustomerId(_) => "--customer-id",
        }
    }
}

/// What `pipeline erase` is asked.
#[derive(Clone, Debug)]
pub struct EraseOptions {
    /// Who.
    pub key: ErasureKey,
    /// Why, kept in the audit row (it should hold no personal data).
    pub reason: Option<String>,
    /// Say what would go, and write nothing.
    pub dry_run: bool,
}

/// How an erase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EraseStatus {
    /// The person is erased (committed).
    Erased,
    /// A dry run: what would go, nothing written.
    DryRun,
    /// The key is in the erasure list already: nothing to do.
    AlreadyErased,
}

/// What an erase removed (or, in a dry run, would remove) and recomputed.
#[derive(Clone, Debug)]
pub struct EraseReport {
    /// How it ended.
    pub status: EraseStatus,
    /// The audit row's id (`erasures.id`), when committed.
    pub erasure_id: Option<i64>,
    /// The ledger row's id, when committed.
    pub run_id: Option<i64>,
    /// Rows removed per table, in the order they went.
    pub rows_removed: Vec<(String, u64)>,
    /// The days recomputed (or to recompute) per aggregate stage.
    pub days_recomputed: BTreeMap<String, Vec<NaiveDate>>,
}

impl EraseReport {
    fn nothing(status: EraseStatus) -> Self {
        Self {
            status,
            erasure_id: None,
            run_id: None,
            rows_removed: Vec::new(),
            days_recomputed: BTreeMap::new(),
        }
    }

    /// Rows removed in all.
    pub fn rows_total(&self) -> u64 {
        self.rows_removed.iter().map(|(_, n)| n).sum()
    }

    /// The rows removed per table, as the audit row and JSON hold them.
    pub fn rows_json(&self) -> serde_json::Value {
        self.rows_removed
            .iter()
            .map(|(table, n)| (table.clone(), serde_json::Value::from(*n)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// The days recomputed per stage, as the audit row and JSON hold them (ranges of days).
    pub fn days_json(&self) -> serde_json::Value {
        serde_json::to_value(
            self.days_recomputed
                .iter()
                .map(|(stage, days)| (stage.clone(), crate::day_ranges::ranges_json(days)))
                .collect::<BTreeMap<_, _>>(),
        )
        .unwrap_or_default()
    }
}

/// Erases the person `options.key` names (see the module doc). An unknown key fails, unless it
/// is in the erasure list already ([`EraseStatus::AlreadyErased`]); either way nothing is written.
pub async fn erase(db: &Db, plan: &Plan, options: &EraseOptions) -> Result<EraseReport> {
    let aggregates = plan.aggregates()?;
    let mut tx = db
        .pool
        .begin()
        .await
        .context("cannot begin the erase transaction")?;
    // From here on no load commits until this transaction ends, and none is half done.
    locks::exclusive_load_lock(&mut tx)
        .await
        .context("cannot take the load lock")?;
    let person: Option<String> = sqlx::query_scalar(SQL.find_person)
        .bind(options.key.kind())
        .bind(options.key.id())
        .fetch_optional(&mut *tx)
        .await
        .context("cannot look the person up")?;
    let Some(person) = person else {
        let erased: bool = sqlx::query_scalar(SQL.already_erased)
            .bind(options.key.kind())
            .bind(options.key.id())
            .fetch_one(&mut *tx)
            .await
            .context("cannot read the erasure list")?;
        tx.rollback().await.ok();
        if erased {
            return Ok(EraseReport::nothing(EraseStatus::AlreadyErased));
        }
        bail!(
            "{} {}: no such {} in customers, and not erased before; nothing was written",
            options.key.flag(),
            options.key.id(),
            if options.key.kind() == "person" {
                "customer_unique_id"
            } else {
                "customer_id"
            }
        );
    };
    let run = if options.dry_run {
        None
    } else {
        Some(
            ledger::open(
                db,
                &RunSubject {
                    kind: RunKind::Erase,
                    name: "erase",
                    type_name: "erase",
                    fingerprint: "",
                    parent: None,
                    days: None,
                },
            )
            .await?,
        )
    };
    let run_id = run.as_ref().map(|r| r.id);
    let outcome = remove(&mut tx, &aggregates, &person, run_id).await;
    let mut report = match outcome {
        Ok(report) => report,
        Err(e) => {
            tx.rollback().await.ok();
            if let Some(run) = run {
                run.fail(&format!("{e:#}; nothing was erased"), &RunCounts::default())
                    .await;
            }
            return Err(e);
        }
    };
    let Some(run) = run else {
        tx.rollback()
            .await
            .context("cannot roll the dry run back")?;
        report.status = EraseStatus::DryRun;
        return Ok(report);
    };
    let committed = record(&mut tx, &mut report, options, run.id).await;
    let committed = match committed {
        Ok(()) => tx.commit().await.context("cannot commit the erase"),
        Err(e) => Err(e),
    };
    match committed {
        Ok(()) => {
            run.release_committed().await;
            Ok(report)
        }
        Err(e) => {
            run.fail(&format!("{e:#}; nothing was erased"), &RunCounts::default())
                .await;
            Err(e)
        }
    }
}

/// Removes `person`'s rows from every table, and (with `run_id`, not in a dry run) recomputes the
/// aggregates' days their orders were on.
async fn remove(
    tx: &mut PgConnection,
    aggregates: &[BuiltAggregate<'_>],
    person: &str,
    run_id: Option<i64>,
) -> Result<EraseReport> {
    sqlx::query(SQL.create_erase_ids).execute(&mut *tx).await?;
    sqlx::query(SQL.collect_ids)
        .bind(person)
        .execute(&mut *tx)
        .await?;
    let person = Person {
        person: person.to_owned(),
        customer_ids: sqlx::query_scalar(SQL.customer_ids)
            .fetch_all(&mut *tx)
            .await?,
        days: sqlx::query_scalar(SQL.person_days)
            .fetch_all(&mut *tx)
            .await?,
    };
    // The aggregates write days under these locks: none is computing one of them meanwhile.
    locks::day_set_locks(tx, &person.days)
        .await
        .context("cannot lock the person's days")?;
    let mut report = EraseReport::nothing(EraseStatus::Erased);
    let mut recompute = Vec::new();
    for built in aggregates {
        let forgotten = built
            .aggregate
            .forget(tx, &built.stage.name, &person)
            .await
            .with_context(|| format!("cannot erase the person from {}", built.stage.name))?;
        let table = built.stage.config.writes().unwrap_or(&built.stage.name);
        report.rows_removed.push((table.to_owned(), forgotten.rows));
        if !forgotten.recompute.is_empty() {
            report
                .days_recomputed
                .insert(built.stage.name.clone(), forgotten.recompute.clone());
            recompute.push((built, forgotten.recompute));
        }
    }
    for (table, statement) in [
        ("order_items", SQL.delete_order_items),
        ("orders", SQL.delete_orders),
        ("customers", SQL.delete_customers),
        ("rejected_rows", SQL.delete_rejected_rows),
    ] {
        let removed = sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot erase the person's rows of {table}"))?
            .rows_affected();
        report.rows_removed.push((table.to_owned(), removed));
    }
    let changes = sqlx::query(SQL.delete_changes)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        + sqlx::query(SQL.hash_changes)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    report
        .rows_removed
        .push(("order_changes".to_owned(), changes));
    if let Some(run_id) = run_id {
        for (built, days) in recompute {
            let run = AggregateRun {
                run_id,
                stage_name: &built.stage.name,
                fingerprint: &built.stage.fingerprint,
                row_key: built.aggregate.row_key(),
            };
            for range in consecutive_runs(&days) {
                built
                    .aggregate
                    .compute(tx, range, &run)
                    .await
                    .with_context(|| format!("cannot recompute {} of {}", range, run.stage_name))?;
            }
        }
    }
    Ok(report)
}

/// Writes the audit row, the erased keys and the ledger row's close, in the erase's transaction.
async fn record(
    tx: &mut PgConnection,
    report: &mut EraseReport,
    options: &EraseOptions,
    run_id: i64,
) -> Result<()> {
    let erasure_id: i64 = sqlx::query_scalar(SQL.record_erasure)
        .bind(run_id)
        .bind(options.key.kind())
        .bind(options.key.id())
        .bind(options.reason.as_deref())
        .bind(report.rows_json())
        .bind(report.days_json())
        .fetch_one(&mut *tx)
        .await
        .context("cannot write the audit row")?;
    sqlx::query(SQL.list_erased_keys)
        .bind(erasure_id)
        .execute(&mut *tx)
        .await
        .context("cannot list the erased keys")?;
    report.erasure_id = Some(erasure_id);
    report.run_id = Some(run_id);
    let counts = RunCounts {
        loaded: i64::try_from(report.rows_total()).unwrap_or(i64::MAX),
        details: Some(serde_json::json!({
            "erasure_id": erasure_id,
            "rows_removed": report.rows_json(),
            "days_recomputed": report.days_json(),
        })),
        ..RunCounts::default()
    };
    ledger::succeed_in(tx, run_id, &counts)
        .await
        .context("cannot close the erase's ledger row")?;
    Ok(())
}

/// The latest erasure and how many people are erased so far: what `status` shows.
#[derive(Clone, Debug)]
pub struct ErasureSummary {
    /// The audit row's id.
    pub erasure_id: i64,
    /// Its ledger row.
    pub run_id: i64,
    /// When.
    pub erased_at: DateTime<FixedOffset>,
    /// Why, as given.
    pub reason: Option<String>,
    /// Rows removed per table.
    pub rows_removed: serde_json::Value,
    /// People erased so far.
    pub people_erased: i64,
}

impl ErasureSummary {
    /// Rows removed in all.
    pub fn rows_total(&self) -> u64 {
        self.rows_removed.as_object().map_or(0, |rows| {
            rows.values().filter_map(serde_json::Value::as_u64).sum()
        })
    }
}

/// The latest erasure, if any.
pub async fn last(db: &Db) -> Result<Option<ErasureSummary>> {
    let row = sqlx::query(SQL.last_erasure)
        .fetch_optional(&db.pool)
        .await
        .context("cannot read the erasures")?;
    Ok(row.map(|row| ErasureSummary {
        erasure_id: row.get(0),
        run_id: row.get(1),
        erased_at: row.get(2),
        reason: row.get(3),
        rows_removed: row.get(4),
        people_erased: row.get(5),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_names_its_kind_and_flag() {
        let person = ErasureKey::Person("p1".into());
        let customer = ErasureKey::CustomerId("c1".into());
        assert_eq!(
            (person.kind(), person.flag(), person.id()),
            ("person", "--person", "p1")
        );
        assert_eq!(
            (customer.kind(), customer.flag(), customer.id()),
            ("customer_id", "--customer-id", "c1")
        );
    }

    #[test]
    fn the_report_keeps_the_tables_in_order_and_days_as_ranges() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let report = EraseReport {
            rows_removed: vec![("orders".into(), 2), ("customers".into(), 1)],
            days_recomputed: [(
                "products".to_owned(),
                vec![day("2017-01-01"), day("2017-01-02"), day("2017-03-01")],
            )]
            .into(),
            ..EraseReport::nothing(EraseStatus::Erased)
        };
        assert_eq!(report.rows_total(), 3);
        assert_eq!(
            report.rows_json().to_string(),
            r#"{"orders":2,"customers":1}"#
        );
        assert_eq!(
            report.days_json().to_string(),
            r#"{"products":["2017-01-01..2017-01-02","2017-03-01"]}"#
        );
    }
}
