//! Schema migrations of the pipeline database: the source of truth for every table.
//!
//! One pair of files per change under `migration/sql/`: `mYYYYMMDD_HHMMSS_<what>.up.sql`, which
//! opens with a comment saying why, and `.down.sql`, which undoes it. [`MIGRATIONS`] lists their
//! names, oldest first; each name is also the migration's name in `seaql_migrations`. The pipeline
//! applies pending migrations before every run; `pipeline migrate` applies them on demand.

pub use sea_orm_migration::prelude::*;

/// Lists the migrations by name and reads each one's statements into the build.
macro_rules! migrations {
    ($($name:literal,)*) => {
        /// Every migration of the schema, oldest first.
        pub const MIGRATIONS: &[SqlMigration] = &[$(SqlMigration {
            name: $name,
            up: include_str!(concat!("../sql/", $name, ".up.sql")),
            down: include_str!(concat!("../sql/", $name, ".down.sql")),
        },)*];
    };
}

migrations! {
    "m20261129_000001_create_shop_tables",
    "m20261129_000002_create_run_ledger",
    "m20261129_000003_create_customer_daily_stats",
    "m20261130_000004_track_changes",
    "m20261130_000005_widen_customer_daily_stats",
    "m20261130_000006_create_product_daily_stats",
    "m20261130_000007_unlink_stats_rows_from_runs",
    "m20261206_000008_track_loaded_files",
    "m20261206_000009_reject_rule",
    "m20261206_000010_record_row_keys",
    "m20261206_000011_erasures",
    "m20261206_000012_table_versions",
    "m20261207_000013_customer_keys_in_byte_order",
}

/// One schema change: its name and the statements of its two files, run in the migration's
/// transaction.
#[derive(Clone, Copy, Debug)]
pub struct SqlMigration {
    /// `mYYYYMMDD_HHMMSS_<what>`, the files' name without `.up.sql` / `.down.sql`.
    pub name: &'static str,
    /// The statements that make the change.
    pub up: &'static str,
    /// The statements that undo it.
    pub down: &'static str,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute(manager, self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute(manager, self.down).await
    }
}

async fn execute(manager: &SchemaManager<'_>, statements: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(statements)
        .await
        .map(drop)
}

/// The migrator over [`MIGRATIONS`].
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        MIGRATIONS
            .iter()
            .map(|m| Box::new(*m) as Box<dyn MigrationTrait>)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// Every pair of files under `migration/sql/` is listed once, in the order of the names (their
    /// time), and every listed migration opens with a comment saying why.
    #[test]
    fn the_list_is_the_folder_in_time_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql");
        let mut ups = Vec::new();
        let mut downs = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            if let Some(name) = file.strip_suffix(".up.sql") {
                ups.push(name.to_owned());
            } else if let Some(name) = file.strip_suffix(".down.sql") {
                downs.push(name.to_owned());
            } else {
                panic!("{file} under migration/sql is neither .up.sql nor .down.sql");
            }
        }
        ups.sort();
        downs.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(ups, listed);
        assert_eq!(downs, listed);
        for m in MIGRATIONS {
            assert!(m.up.starts_with("-- "), "{} does not say why", m.name);
        }
    }
}
