//! `pipeline erase` (a person's right to be forgotten): `erasures`, one audit row per erasure (when,
//! which kind of key was given and its hash, the reason, the rows removed per table, the days
//! recomputed), and `erased_keys`, the hashes of the erased person's ids (the person, each customer
//! id, each order id) that later loads skip. `erasure_hash(id)` is the one definition of the hash:
//! SHA-256 of the id's UTF-8 bytes, in hex. No id is stored, only its hash. The ledger gains the
//! kind `erase` (one row per erasure).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000011_erasures.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000011_erasures.down.sql"),
        )
        .await
    }
}
