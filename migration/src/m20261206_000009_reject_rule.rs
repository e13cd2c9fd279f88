//! `reject_rule(reason)`: the rule a rejected line broke, its reason with the values masked, so that
//! the lines rejected by one rule group together. One definition for `pipeline rejects` and the
//! report's chart of rejected lines.
//!
//! A quoted value (its own `"` and `\` escaped as `\"`, `\\`) becomes `"…"`; an unquoted timestamp
//! `<timestamp>` and a date `<date>`, so that the shape of the rule stays readable; any other number
//! `N`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000009_reject_rule.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000009_reject_rule.down.sql"),
        )
        .await
    }
}
