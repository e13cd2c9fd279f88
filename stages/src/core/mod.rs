//! The framework the stages are plugins of: the stage traits and their registry ([`stage`],
//! [`roles`]), the errors they speak ([`error`]), the data passed between stages ([`record`]), and
//! what several stages and the binary share: days ([`days`]), freshness of computed days
//! ([`freshness`]), advisory locks ([`locks`]), keys dropped and built again around a bulk write ([`keys`]), static SQL files ([`sql_file`]), file digests
//! ([`digest`]), what each table holds of the files ([`loaded_files`]), text made safe to show
//! ([`text`]) and stored rows read for printing ([`stored_rows`]).
//!
//! The stage types are plugins, one module each in the role folders (`extractors`, `validators`,
//! `loaders`, `aggregates`). A plugin imports from here, never from another plugin, and nothing here
//! imports a plugin: what two plugins share moves here (`stages/tests/layout.rs` checks both).

pub mod days;
pub mod digest;
pub mod erasure;
pub mod error;
pub mod freshness;
pub mod keys;
pub mod loaded_files;
pub mod locks;
pub mod record;
pub mod roles;
pub mod sql_file;
pub mod stage;
pub mod stored_rows;
pub mod text;

pub use days::DayRange;
pub use error::{BuildError, ExtractError};
pub use roles::{
    Aggregate, AggregateRun, ChunkReport, DatasetAccount, Extract, ExtractCounts, Load,
    RefreshReport, Source, Staleness, Validate,
};
pub use roles::{CustomerRead, CustomerReads};
pub use stage::{
    Problem, Role, Stage, StageConfig, StageContext, StageType, registered_stage_types,
};
pub use stored_rows::StoredRows;
