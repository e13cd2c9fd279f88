//! The schema is written once, in the migrations. Everything else that describes a table is compared
//! here with `PostgreSQL`'s catalog after migrating a fresh database:
//!
//! - the four shop tables, with [`Dataset`]: each column's `sql_type` and `required` (NOT NULL),
//!   [`Dataset::key`] (the primary key) and [`Dataset::references`] (the foreign keys);
//! - the load's staging tables, created by the load's own statements (`stages/sql/load/`, through
//!   [`staging::create`], as a load creates them), with [`Dataset`] under the staging rule
//!   ([`staging_tables`]);
//! - the tables the binary reads or writes through `SeaORM` (`customer_daily_stats`, `pipeline_runs`), with
//!   their entities: each column's `column_type` and nullability, the primary key, unique columns
//!   and the `belongs_to` relations;
//! - the tables only hand-written SQL reads and writes (the quarantine, the freshness and skip
//!   bookkeeping, `product_daily_stats`), with [`by_hand`]: what that SQL relies on.
//!
//! For each table: every column's type (`format_type(atttypid, atttypmod)`), its nullability
//! (`attnotnull`), the primary key's columns in order, the unique indexes (unique constraints
//! included) and the foreign keys. A table of the schema that nothing declares fails too, so a new
//! migration's table gets a declaration. Column order, defaults, checks and plain indexes are not
//! compared: the stages name every column they use.
//!
//! [`differences`] is the comparison, a function of the declarations and the catalog as read; the
//! second test changes one declaration at a time and checks that exactly that change is reported.

mod common;

use common::TestDb;
use migration::{Migrator, MigratorTrait};
use olist::{Column as DatasetColumn, Dataset};
use sea_orm::sea_query::{StringLen, TableName, TableRef};
use sea_orm::{
    ColumnTrait, ColumnType, EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn, RelationTrait,
};
use sqlx::{Connection, PgConnection};
use stages::entities::{customer_daily_stats, pipeline_run};
use stages::loaders::postgres_load::staging;

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Column {
    name: String,
    /// As `format_type` spells it: `timestamp without time zone`, `numeric(12,2)`.
    sql_type: String,
    not_null: bool,
    /// The column's collation where it is not its type's (`C`); `None` for the type's own.
    collation: Option<String>,
}

/// A foreign key: `columns` refer to `referenced` of `table`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    referenced: Vec<String>,
}

/// A table as something declares it, or as the catalog holds it.
#[derive(Clone, Debug, Default)]
struct Table {
    name: String,
    /// What declares it, named in the differences.
    declared_by: String,
    columns: Vec<Column>,
    /// The primary key's columns, in key order; empty without a key.
    primary_key: Vec<String>,
    /// The column lists of the unique indexes other than the primary key's.
    unique: Vec<Vec<String>>,
    foreign_keys: Vec<ForeignKey>,
}

/// The table the migrator keeps its own record in; no stage reads or writes it.
const MIGRATOR_TABLE: &str = "seaql_migrations";

const NOT_NULL: bool = true;
const NULL: bool = false;

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn column(name: &str, sql_type: &str, not_null: bool) -> Column {
    Column {
        name: name.to_owned(),
        sql_type: spelled(sql_type),
        not_null,
        collation: None,
    }
}

/// A type as `format_type` spells it, from the spelling a declaration uses (`timestamp`,
/// `numeric(12, 2)`). A spelling not known here stays as it is, and then differs from the catalog's.
fn spelled(sql_type: &str) -> String {
    let compact = sql_type.trim().to_lowercase().replace(", ", ",");
    match compact.as_str() {
        "timestamp" => "timestamp without time zone".to_owned(),
        "timestamptz" => "timestamp with time zone".to_owned(),
        "int" | "int4" => "integer".to_owned(),
        "int8" => "bigint".to_owned(),
        "bool" => "boolean".to_owned(),
        _ => compact,
    }
}

/// A shop table as [`Dataset`] declares it, with `columns` in place of the dataset's own (so that a
/// test can change one).
fn dataset_table(dataset: Dataset, columns: &[DatasetColumn]) -> Table {
    Table {
        name: dataset.table().to_owned(),
        declared_by: format!("Dataset::{dataset:?}"),
        columns: columns
            .iter()
            .map(|c| column(c.table, c.sql_type, c.required))
            .collect(),
        primary_key: strings(dataset.key()),
        unique: Vec::new(),
        foreign_keys: dataset
            .references()
            .iter()
            .map(|r| ForeignKey {
                columns: strings(&[r.column]),
                table: r.target.table().to_owned(),
                referenced: strings(&[r.column]),
            })
            .collect(),
    }
}

/// The staging tables of `dataset` as the load uses them, by this rule:
///
/// - `staging_<table>` holds `line_number bigint NOT NULL` and `raw_line text NOT NULL` (where
///   the line came from, cited by rejects and duplicates), `outcome text` and `reason text` (NULL
///   until the key or a reference rule marks the line a duplicate or rejects it), then every column
///   of the dataset with exactly its `sql_type`, so that a staged value is the value the merge
///   (`INSERT ... SELECT`, no cast) writes and compares. These columns are nullable whatever
///   `required` says: only lines that passed the row rules, `required` among them, are staged. No
///   primary key, unique index or foreign key: duplicates and dangling references must be staged
///   for the key and reference rules (SQL over the staging) to find them and name their lines.
/// - `staging_<table>_changed` holds `line_number bigint NOT NULL` alone.
/// - `staging_<table>_deleted` holds the dataset's key columns, `NOT NULL`, with their types, and
///   the key as its primary key (a row is listed once, whether its key left the file or its
///   referenced row went).
fn staging_tables(dataset: Dataset, columns: &[DatasetColumn]) -> [Table; 3] {
    let declared_by = format!("Dataset::{dataset:?} (staging)");
    let mut staged = vec![
        column("line_number", "bigint", NOT_NULL),
        column("raw_line", "text", NOT_NULL),
        column("outcome", "text", NULL),
        column("reason", "text", NULL),
    ];
    staged.extend(columns.iter().map(|c| column(c.table, c.sql_type, NULL)));
    [
        Table {
            name: staging::staging_table(dataset).to_owned(),
            declared_by: declared_by.clone(),
            columns: staged,
            ..Table::default()
        },
        Table {
            name: staging::changed_table(dataset).to_owned(),
            declared_by: declared_by.clone(),
            columns: vec![column("line_number", "bigint", NOT_NULL)],
            ..Table::default()
        },
        Table {
            name: staging::deleted_table(dataset).to_owned(),
            declared_by,
            columns: dataset
                .key()
                .iter()
                .map(|k| {
                    let c = columns.iter().find(|c| c.table == *k).unwrap();
                    column(c.table, c.sql_type, NOT_NULL)
                })
                .collect(),
            primary_key: strings(dataset.key()),
            ..Table::default()
        },
    ]
}

/// A `SeaORM` column type as `format_type` spells it. A type not known here is spelled in a way no
/// catalog type is, and so is reported.
fn catalog_type(column_type: &ColumnType) -> String {
    match column_type {
        ColumnType::Text => "text".to_owned(),
        ColumnType::String(StringLen::N(n)) => format!("character varying({n})"),
        ColumnType::String(_) => "character varying".to_owned(),
        ColumnType::SmallInteger => "smallint".to_owned(),
        ColumnType::Integer => "integer".to_owned(),
        ColumnType::BigInteger => "bigint".to_owned(),
        ColumnType::Decimal(Some((precision, scale))) => format!("numeric({precision},{scale})"),
        ColumnType::Decimal(None) => "numeric".to_owned(),
        ColumnType::Boolean => "boolean".to_owned(),
        ColumnType::Date => "date".to_owned(),
        ColumnType::DateTime | ColumnType::Timestamp => "timestamp without time zone".to_owned(),
        ColumnType::TimestampWithTimeZone => "timestamp with time zone".to_owned(),
        ColumnType::Json => "json".to_owned(),
        ColumnType::JsonBinary => "jsonb".to_owned(),
        other => format!("{other:?} (no PostgreSQL spelling known to the test)"),
    }
}

/// The table of entity `E` as the entity declares it: its columns, primary key, unique columns and
/// the foreign keys of its `belongs_to` relations.
fn entity_table<E: EntityTrait>() -> Table {
    let names = |identity: &sea_orm::Identity| -> Vec<String> {
        identity.iter().map(ToString::to_string).collect()
    };
    Table {
        name: E::default().table_name().to_owned(),
        declared_by: std::any::type_name::<E>().to_owned(),
        columns: E::Column::iter()
            .map(|c| Column {
                name: c.as_str().to_owned(),
                sql_type: catalog_type(c.def().get_column_type()),
                not_null: !c.def().is_null(),
                collation: None,
            })
            .collect(),
        primary_key: E::PrimaryKey::iter()
            .map(|k| k.into_column().as_str().to_owned())
            .collect(),
        unique: E::Column::iter()
            .filter(|c| c.def().is_unique())
            .map(|c| vec![c.as_str().to_owned()])
            .collect(),
        // `belongs_to` relations hold the foreign key (`from_col` in this table); `SeaORM` marks
        // them `is_owner == false` and the reverse side (`has_one`, `has_many`) `true`.
        foreign_keys: E::Relation::iter()
            .map(|r| r.def())
            .filter(|r| !r.is_owner && !r.skip_fk)
            .map(|r| ForeignKey {
                columns: names(&r.from_col),
                table: match &r.to_tbl {
                    TableRef::Table(TableName(_, table), _) => table.to_string(),
                    other => panic!("a relation to {other:?}"),
                },
                referenced: names(&r.to_col),
            })
            .collect(),
    }
}

/// A table declared here, with `(name, type, nullability)` columns and `(column, table, column)`
/// references.
fn by_hand(
    name: &str,
    columns: &[(&str, &str, bool)],
    primary_key: &[&str],
    references: &[(&str, &str, &str)],
) -> Table {
    Table {
        name: name.to_owned(),
        declared_by: "pipeline/tests/schema.rs".to_owned(),
        columns: columns
            .iter()
            .map(|&(name, sql_type, not_null)| column(name, sql_type, not_null))
            .collect(),
        primary_key: strings(primary_key),
        unique: Vec::new(),
        foreign_keys: references
            .iter()
            .map(|&(from, table, to)| ForeignKey {
                columns: strings(&[from]),
                table: table.to_owned(),
                referenced: strings(&[to]),
            })
            .collect(),
    }
}

/// `table_versions`: the version of each shop table, which every statement writing it changes (a
/// trigger), read by `engine = "ballista"` to reuse its snapshots.
fn table_versions() -> Table {
    by_hand(
        "table_versions",
        &[
            ("table_name", "text", NOT_NULL),
            ("version", "uuid", NOT_NULL),
            ("changed_at", "timestamptz", NOT_NULL),
        ],
        &["table_name"],
        &[],
    )
}

/// The tables of `pipeline erase`: its audit rows and the hashes of the erased ids.
fn erasure_tables() -> Vec<Table> {
    vec![
        by_hand(
            "erasures",
            &[
                ("id", "bigint", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("erased_at", "timestamptz", NOT_NULL),
                ("key_kind", "text", NOT_NULL),
                ("key_hash", "text", NOT_NULL),
                ("reason", "text", NULL),
                ("rows_removed", "jsonb", NOT_NULL),
                ("days_recomputed", "jsonb", NOT_NULL),
            ],
            &["id"],
            &[("run_id", "pipeline_runs", "id")],
        ),
        by_hand(
            "erased_keys",
            &[
                ("kind", "text", NOT_NULL),
                ("key_hash", "text", NOT_NULL),
                ("erasure_id", "bigint", NOT_NULL),
            ],
            &["kind", "key_hash"],
            &[("erasure_id", "erasures", "id")],
        ),
    ]
}

/// The tables that only hand-written SQL reads and writes, as that SQL expects them (the Rust types
/// it decodes into, the columns it joins on). A migration that changes one fails here, and its
/// author changes the SQL and this declaration together.
fn tables_by_hand() -> Vec<Table> {
    vec![
        by_hand(
            "rejected_rows",
            &[
                ("id", "bigint", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("dataset", "text", NOT_NULL),
                ("source_file", "text", NOT_NULL),
                ("line_number", "bigint", NOT_NULL),
                ("raw_line", "text", NOT_NULL),
                ("reason", "text", NOT_NULL),
                ("rejected_at", "timestamptz", NOT_NULL),
            ],
            &["id"],
            &[("run_id", "pipeline_runs", "id")],
        ),
        by_hand(
            "order_changes",
            &[
                ("id", "bigint", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("customer_id", "text", NULL),
                ("customer_unique_id", "text", NULL),
                ("day", "date", NOT_NULL),
            ],
            &["id"],
            &[("run_id", "pipeline_runs", "id")],
        ),
        by_hand(
            "aggregate_days",
            &[
                ("stage_name", "text", NOT_NULL),
                ("day", "date", NOT_NULL),
                ("config_fingerprint", "text", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("computed_at", "timestamptz", NOT_NULL),
                ("changes_seen", "bigint", NOT_NULL),
                ("rows", "bigint", NOT_NULL),
                ("row_key", "text", NULL),
                ("engine", "text", NULL),
            ],
            &["stage_name", "day"],
            &[("run_id", "pipeline_runs", "id")],
        ),
        by_hand(
            "loaded_files",
            &[
                ("table_name", "text", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("stage_name", "text", NOT_NULL),
                ("file_name", "text", NOT_NULL),
                ("bytes", "bigint", NOT_NULL),
                ("blake3", "text", NOT_NULL),
                ("rules", "text", NOT_NULL),
                ("checked_at", "timestamp", NOT_NULL),
                ("account", "jsonb", NOT_NULL),
                ("loaded_at", "timestamptz", NOT_NULL),
            ],
            &["table_name"],
            &[],
        ),
        by_hand(
            "product_daily_stats",
            &[
                ("stat_date", "date", NOT_NULL),
                ("product_id", "text", NOT_NULL),
                ("orders_count", "bigint", NOT_NULL),
                ("items_count", "bigint", NOT_NULL),
                ("items_value", "numeric(28,2)", NOT_NULL),
                ("freight_value", "numeric(28,2)", NOT_NULL),
                ("customers_count", "bigint", NOT_NULL),
                ("run_id", "bigint", NOT_NULL),
                ("computed_at", "timestamptz", NOT_NULL),
            ],
            &["stat_date", "product_id"],
            &[],
        ),
        // The load's own staging beside the datasets' (`staging::create`): every rejected line
        // with the first key column's value, and the file each dataset is read from.
        by_hand(
            staging::REJECTS_TABLE,
            &[
                ("dataset", "text", NOT_NULL),
                ("source_file", "text", NOT_NULL),
                ("line_number", "bigint", NOT_NULL),
                ("raw_line", "text", NOT_NULL),
                ("reason", "text", NOT_NULL),
                ("key", "text", NULL),
            ],
            &[],
            &[],
        ),
        by_hand(
            "staging_files",
            &[
                ("dataset", "text", NOT_NULL),
                ("source_file", "text", NOT_NULL),
            ],
            &["dataset"],
            &[],
        ),
    ]
}

/// Every table the stages write or read, staging included, as declared; the shop datasets' columns
/// come from `columns_of`.
fn declared_tables(columns_of: &dyn Fn(Dataset) -> Vec<DatasetColumn>) -> Vec<Table> {
    let mut tables = Vec::new();
    for dataset in Dataset::LOAD_ORDER {
        let columns = columns_of(dataset);
        tables.push(dataset_table(dataset, &columns));
        tables.extend(staging_tables(dataset, &columns));
    }
    let mut stats = entity_table::<customer_daily_stats::Entity>();
    // `SeaORM`'s column types carry no collation: the key's byte order (migration 000013) is
    // declared here.
    for column in &mut stats.columns {
        if column.name == "customer_unique_id" {
            column.collation = Some("C".to_owned());
        }
    }
    tables.push(stats);
    tables.push(entity_table::<pipeline_run::Entity>());
    tables.extend(tables_by_hand());
    tables.extend(erasure_tables());
    tables.push(table_versions());
    tables
}

/// Every column of the tables of the current schema and of this session's temporary tables, with its
/// collation where it is not its type's.
const COLUMNS_SQL: &str = "
SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       CASE WHEN a.attcollation <> t.typcollation THEN k.collname::text END
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation k ON k.oid = a.attcollation
 WHERE c.relkind IN ('r', 'p')
   AND c.relnamespace IN (to_regnamespace(current_schema())::oid, pg_my_temp_schema())
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum";

/// The primary and foreign keys of the same tables: table, kind (`p`, `f`), columns in key order,
/// and for a foreign key the table and columns it refers to.
const KEYS_SQL: &str = "
SELECT c.relname::text, k.contype::text,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY n(attnum, i)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = n.attnum ORDER BY n.i),
       f.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY n(attnum, i)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = n.attnum ORDER BY n.i)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_class f ON f.oid = k.confrelid
 WHERE k.contype IN ('p', 'f')
   AND c.relnamespace IN (to_regnamespace(current_schema())::oid, pg_my_temp_schema())";

/// The unique indexes other than primary keys (unique constraints have one) of the same tables:
/// table, columns in index order.
const UNIQUE_SQL: &str = "
SELECT c.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY n(attnum, o)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = n.attnum ORDER BY n.o)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE i.indisunique AND NOT i.indisprimary
   AND c.relnamespace IN (to_regnamespace(current_schema())::oid, pg_my_temp_schema())";

/// A row of [`KEYS_SQL`].
type KeyRow = (String, String, Vec<String>, Option<String>, Vec<String>);

/// The table named `name` among `tables`.
fn table_named<'a>(tables: &'a mut [Table], name: &str) -> &'a mut Table {
    tables
        .iter_mut()
        .find(|t| t.name == name)
        .expect("a key of a table without columns")
}

/// The tables of the current schema and this session's temporary tables (the staging), as the
/// catalog holds them.
async fn read_catalog(conn: &mut PgConnection) -> Vec<Table> {
    let columns: Vec<(String, String, String, bool, Option<String>)> = sqlx::query_as(COLUMNS_SQL)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let keys: Vec<KeyRow> = sqlx::query_as(KEYS_SQL)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let unique: Vec<(String, Vec<String>)> = sqlx::query_as(UNIQUE_SQL)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut tables: Vec<Table> = Vec::new();
    for (table, name, sql_type, not_null, collation) in columns {
        if tables.last().is_none_or(|t| t.name != table) {
            tables.push(Table {
                name: table,
                declared_by: "the catalog".to_owned(),
                ..Table::default()
            });
        }
        let last = tables.last_mut().unwrap();
        last.columns.push(Column {
            name,
            sql_type,
            not_null,
            collation,
        });
    }
    for (name, kind, columns, referenced_table, referenced) in keys {
        let table = table_named(&mut tables, &name);
        if kind == "p" {
            table.primary_key = columns;
        } else {
            table.foreign_keys.push(ForeignKey {
                columns,
                table: referenced_table.unwrap_or_default(),
                referenced,
            });
        }
    }
    for (name, columns) in unique {
        table_named(&mut tables, &name).unique.push(columns);
    }
    tables
}

/// The differences between a declared column and the catalog's (type, nullability, collation),
/// appended to `out`, each naming the column at `place` and what declared it (`by`).
fn column_differences(
    place: &str,
    by: &str,
    column: &Column,
    stored: &Column,
    out: &mut Vec<String>,
) {
    if column.sql_type != stored.sql_type {
        out.push(format!(
            "{place}: type: {by} declares {}, the catalog has {}",
            column.sql_type, stored.sql_type
        ));
    }
    if column.not_null != stored.not_null {
        let nullability = |not_null| if not_null { "NOT NULL" } else { "NULL" };
        out.push(format!(
            "{place}: nullability: {by} declares {}, the catalog has {}",
            nullability(column.not_null),
            nullability(stored.not_null)
        ));
    }
    if column.collation != stored.collation {
        let collation = |c: &Option<String>| c.clone().unwrap_or_else(|| "its type's".to_owned());
        out.push(format!(
            "{place}: collation: {by} declares {}, the catalog has {}",
            collation(&column.collation),
            collation(&stored.collation)
        ));
    }
}

/// The differences between the declared tables and the catalog's, one sentence each, naming the
/// table, the column or key, what is declared (and by what) and what the catalog holds. Empty when
/// they agree.
fn differences(declared: &[Table], catalog: &[Table]) -> Vec<String> {
    let mut out = Vec::new();
    let list = |names: &[String]| format!("({})", names.join(", "));
    for table in declared {
        let name = &table.name;
        let by = &table.declared_by;
        let Some(found) = catalog.iter().find(|t| t.name == table.name) else {
            out.push(format!(
                "{name}: {by} declares the table, the catalog has none"
            ));
            continue;
        };
        for column in &table.columns {
            let place = format!("{name}.{}", column.name);
            let Some(stored) = found.columns.iter().find(|c| c.name == column.name) else {
                out.push(format!(
                    "{place}: {by} declares the column, the catalog has none"
                ));
                continue;
            };
            column_differences(&place, by, column, stored, &mut out);
        }
        for stored in &found.columns {
            if !table.columns.iter().any(|c| c.name == stored.name) {
                out.push(format!(
                    "{name}.{}: the catalog has the column ({}), {by} does not declare it",
                    stored.name, stored.sql_type
                ));
            }
        }
        if table.primary_key != found.primary_key {
            out.push(format!(
                "{name}: primary key: {by} declares {}, the catalog has {}",
                list(&table.primary_key),
                list(&found.primary_key)
            ));
        }
        let mut unique = (table.unique.clone(), found.unique.clone());
        unique.0.sort();
        unique.1.sort();
        if unique.0 != unique.1 {
            let lists = |all: &[Vec<String>]| all.iter().map(|u| list(u)).collect::<Vec<_>>();
            out.push(format!(
                "{name}: unique indexes: {by} declares {:?}, the catalog has {:?}",
                lists(&unique.0),
                lists(&unique.1)
            ));
        }
        let show = |k: &ForeignKey| {
            format!(
                "foreign key {} → {} {}",
                list(&k.columns),
                k.table,
                list(&k.referenced)
            )
        };
        for key in &table.foreign_keys {
            if !found.foreign_keys.contains(key) {
                out.push(format!(
                    "{name}: {}: {by} declares it, the catalog has none",
                    show(key)
                ));
            }
        }
        for key in &found.foreign_keys {
            if !table.foreign_keys.contains(key) {
                out.push(format!(
                    "{name}: {}: the catalog has it, {by} does not declare it",
                    show(key)
                ));
            }
        }
    }
    for found in catalog {
        if !declared.iter().any(|t| t.name == found.name) {
            out.push(format!(
                "{}: the catalog has the table, nothing declares it",
                found.name
            ));
        }
    }
    out
}

/// Migrates a fresh database, creates a load's staging tables in a transaction as the load does,
/// and reads the catalog, the migrator's own table left out.
async fn migrated_catalog() -> Vec<Table> {
    let db = TestDb::new().await;
    let orm = sea_orm::Database::connect(&db.url).await.unwrap();
    Migrator::up(&orm, None).await.unwrap();
    orm.close().await.unwrap();
    let mut conn = db.connect().await;
    let mut transaction = conn.begin().await.unwrap();
    staging::create(&mut transaction, &[]).await.unwrap();
    let mut catalog = read_catalog(&mut transaction).await;
    transaction.rollback().await.unwrap();
    conn.close().await.unwrap();
    catalog.retain(|t| t.name != MIGRATOR_TABLE);
    catalog
}

#[tokio::test]
async fn every_table_and_staging_table_is_declared_as_the_migrations_make_it() {
    let catalog = migrated_catalog().await;
    let declared = declared_tables(&|dataset| dataset.columns().to_vec());
    let found = differences(&declared, &catalog);
    assert!(
        found.is_empty(),
        "the declarations and the migrated schema disagree:\n{}",
        found.join("\n")
    );
    // The comparison covers what it claims: the schema's tables and the staging are all read.
    for name in [
        "customers",
        "order_items",
        "pipeline_runs",
        "customer_daily_stats",
        "product_daily_stats",
        "staging_order_items",
        "staging_order_items_changed",
        "staging_rejects",
    ] {
        assert!(catalog.iter().any(|t| t.name == name), "{name} not read");
    }
}

#[tokio::test]
async fn a_declaration_changed_in_one_place_is_reported_with_table_column_and_both_sides() {
    let catalog = migrated_catalog().await;
    let compare = |columns_of: &dyn Fn(Dataset) -> Vec<DatasetColumn>| {
        differences(&declared_tables(columns_of), &catalog)
    };
    let unchanged = |dataset: Dataset| dataset.columns().to_vec();
    assert_eq!(compare(&unchanged), Vec::<String>::new());

    // A copy of the datasets with one column's type changed: the table and its staging differ.
    let wrong_price = |dataset: Dataset| {
        let mut columns = dataset.columns().to_vec();
        for column in &mut columns {
            if dataset == Dataset::OrderItems && column.table == "price" {
                assert_eq!(column.sql_type, "numeric(12,2)");
                column.sql_type = "integer";
            }
        }
        columns
    };
    assert_eq!(
        compare(&wrong_price),
        [
            "order_items.price: type: Dataset::OrderItems declares integer, the catalog has numeric(12,2)",
            "staging_order_items.price: type: Dataset::OrderItems (staging) declares integer, the catalog has numeric(12,2)",
        ]
    );

    // A column made required: the table differs, the staging (nullable by its rule) does not.
    let required_approval = |dataset: Dataset| {
        let mut columns = dataset.columns().to_vec();
        for column in &mut columns {
            if column.table == "order_approved_at" {
                column.required = true;
            }
        }
        columns
    };
    assert_eq!(
        compare(&required_approval),
        [
            "orders.order_approved_at: nullability: Dataset::Orders declares NOT NULL, the catalog has NULL"
        ]
    );

    // The other declarations, changed one at a time.
    let one_change = |table: &str, change: &dyn Fn(&mut Table)| {
        let mut tables = declared_tables(&unchanged);
        change(tables.iter_mut().find(|t| t.name == table).unwrap());
        differences(&tables, &catalog)
    };
    let entity = std::any::type_name::<customer_daily_stats::Entity>();
    assert_eq!(
        one_change("customer_daily_stats", &|t| {
            let column = t.columns.iter_mut().find(|c| c.name == "lifetime_spent");
            column.unwrap().sql_type = "numeric(14,2)".to_owned();
        }),
        [format!(
            "customer_daily_stats.lifetime_spent: type: {entity} declares numeric(14,2), the catalog has numeric(28,2)"
        )]
    );
    assert_eq!(
        one_change("order_items", &|t| t.primary_key.truncate(1)),
        [
            "order_items: primary key: Dataset::OrderItems declares (order_id), the catalog has (order_id, order_item_id)"
        ]
    );
    assert_eq!(
        one_change("orders", &|t| t.foreign_keys.clear()),
        [
            "orders: foreign key (customer_id) → customers (customer_id): the catalog has it, Dataset::Orders does not declare it"
        ]
    );
    assert_eq!(
        one_change("aggregate_days", &|t| t.unique.push(strings(&["run_id"]))),
        [
            "aggregate_days: unique indexes: pipeline/tests/schema.rs declares [\"(run_id)\"], the catalog has []"
        ]
    );
    assert_eq!(
        one_change("staging_rejects", &|t| t
            .columns
            .retain(|c| c.name != "key")),
        [
            "staging_rejects.key: the catalog has the column (text), pipeline/tests/schema.rs does not declare it"
        ]
    );
    assert_eq!(
        one_change("pipeline_runs", &|t| t.name = "pipeline_run".to_owned()),
        [
            format!(
                "pipeline_run: {} declares the table, the catalog has none",
                std::any::type_name::<pipeline_run::Entity>()
            ),
            "pipeline_runs: the catalog has the table, nothing declares it".to_owned(),
        ]
    );
}

#[tokio::test]
async fn a_collation_other_than_the_catalog_s_is_reported() {
    let catalog = migrated_catalog().await;
    let mut tables = declared_tables(&|dataset| dataset.columns().to_vec());
    let stats = tables
        .iter_mut()
        .find(|t| t.name == "customer_daily_stats")
        .unwrap();
    let key = stats
        .columns
        .iter_mut()
        .find(|c| c.name == "customer_unique_id")
        .unwrap();
    key.collation = None;
    let entity = std::any::type_name::<customer_daily_stats::Entity>();
    assert_eq!(
        differences(&tables, &catalog),
        [format!(
            "customer_daily_stats.customer_unique_id: collation: {entity} declares its type's, the catalog has C"
        )]
    );
}
