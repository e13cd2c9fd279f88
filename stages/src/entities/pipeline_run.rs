//! A row of `pipeline_runs`, the run ledger: one per `pipeline run` invocation (`kind = 'run'`) and one
//! per stage run of it (`kind = 'stage'`, `parent_run_id` the invocation). Rows of `kind = 'day'` are
//! the per-day records of earlier versions, kept as history; the days an aggregate computed are in
//! `aggregate_days` now. Only the binary's `ledger` module writes this table.

use sea_orm::entity::prelude::*;

/// One stage run, or one computed day of an aggregate run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pipeline_runs")]
pub struct Model {
    /// The run id, referenced by `rejected_rows.run_id` and `customer_daily_stats.run_id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// For a stage run, the invocation it belongs to.
    pub parent_run_id: Option<i64>,
    /// `run`, `stage`, `erase` or `day` (see the module doc).
    pub kind: RunKind,
    /// The stage's name in `pipeline.toml`.
    #[sea_orm(column_type = "Text")]
    pub stage_name: String,
    /// The stage's type.
    #[sea_orm(column_type = "Text")]
    pub stage_type: String,
    /// SHA-256 of the stage's options, to tell results of other options apart.
    #[sea_orm(column_type = "Text")]
    pub config_fingerprint: String,
    /// The day, for a one-day run or a computed day.
    pub run_date: Option<Date>,
    /// First day of a range run.
    pub range_start: Option<Date>,
    /// Last day of a range run.
    pub range_end: Option<Date>,
    /// `running`, `succeeded` or `failed`.
    pub status: RunStatus,
    /// Start.
    pub started_at: DateTimeWithTimeZone,
    /// End.
    pub finished_at: Option<DateTimeWithTimeZone>,
    /// Data lines read.
    pub rows_read: i64,
    /// Lines loaded, or rows written by an aggregate.
    pub rows_loaded: i64,
    /// Exact duplicates skipped.
    pub rows_duplicate: i64,
    /// Lines rejected.
    pub rows_rejected: i64,
    /// Per-dataset accounting of a load.
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Option<Json>,
    /// Why the run failed.
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
}

/// The table's reference, as the migrations declare it (the schema test compares the two); no
/// code navigates it through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A stage run's invocation: `parent_run_id` refers to `pipeline_runs.id`.
    #[sea_orm(belongs_to = "Entity", from = "Column::ParentRunId", to = "Column::Id")]
    Parent,
}

impl ActiveModelBehavior for ActiveModel {}

/// The status of a ledger row. The database holds it as text, checked by a constraint; the enum is
/// bound as that text, in `SeaORM`'s filters as in the ledger's statements. The default is `Failed`:
/// what a run reports until it is known to have succeeded.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Opened and not closed: in progress, or its process died (closed as failed on the next start).
    Running,
    /// Finished; everything it wrote committed.
    Succeeded,
    /// Finished with an error; see `error` for what it kept.
    #[default]
    Failed,
}

/// The kind of a ledger row, held and bound as text like [`RunStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// One invocation of `pipeline run` (or of a scheduled day).
    Run,
    /// One stage of an invocation.
    Stage,
    /// One `pipeline erase` (a person erased; its audit row is in `erasures`).
    Erase,
    /// A computed day, as earlier versions recorded it (history; nothing writes it now).
    Day,
}

/// Binds a status or a kind in a statement of `sqlx` as its text, the one `SeaORM` stores
/// (`ActiveEnum::to_value`).
macro_rules! bind_as_text {
    ($($t:ty),*) => {$(
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<sqlx::Postgres>>::encode(
                    sea_orm::ActiveEnum::to_value(self),
                    buf,
                )
            }
        }
    )*};
}

bind_as_text!(RunStatus, RunKind);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    /// Each value's text is one the table's constraint accepts, and reads back as the value.
    #[test]
    fn statuses_and_kinds_are_the_texts_of_the_constraints() {
        let statuses: Vec<String> = RunStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(statuses, ["running", "succeeded", "failed"]);
        let kinds: Vec<String> = RunKind::iter().map(|k| k.to_value()).collect();
        assert_eq!(kinds, ["run", "stage", "erase", "day"]);
        for status in RunStatus::iter() {
            assert_eq!(
                RunStatus::try_from_value(&status.to_value()).unwrap(),
                status
            );
        }
        for kind in RunKind::iter() {
            assert_eq!(RunKind::try_from_value(&kind.to_value()).unwrap(), kind);
        }
        assert!(RunStatus::try_from_value(&"done".to_owned()).is_err());
    }
}
