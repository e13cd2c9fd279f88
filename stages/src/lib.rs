//! The stages of the pipeline and the `SeaORM` entities they work over.
//!
//! A stage is declared in `pipeline.toml` as a table with a `type` tag; the tag picks a
//! [`StageConfig`] implementation (registered with `#[typetag::serde(name = "...")]` on the impl and
//! [`register_stage_type!`] beside it), whose [`StageConfig::build`] makes the runtime object from a
//! [`StageContext`]. Stages have one role each, and each owns what it works on:
//!
//! - [`Extract`]: finds the input files and streams [`core::record::RecordBatch`]es;
//! - [`Validate`]: the row rules, everything decidable from one line; no I/O;
//! - [`Load`]: stages valid rows with `COPY ... FROM STDIN` in its own temporary tables, applies the
//!   schema's key and reference rules ([`olist::Dataset::key`], [`olist::Dataset::references`])
//!   there, and merges the accepted rows into the tables;
//! - [`Aggregate`]: set-based SQL over the loaded tables for a range of days.
//!
//! [`core`] is the framework: the traits above, their registry and what stages share. The stage
//! types are its plugins, one module each in the folder of their role: [`extractors`],
//! [`validators`], [`loaders`], [`aggregates`]. A plugin never imports another plugin.
//!
//! This crate never depends on the binary crate; the binary compiles the plan and runs it.

pub mod aggregates;
pub mod core;
pub mod entities;
pub mod extractors;
pub mod loaders;
pub mod validators;

#[doc(hidden)]
pub use inventory;

pub use crate::core::{
    Aggregate, AggregateRun, BuildError, ChunkReport, DatasetAccount, DayRange, Extract,
    ExtractCounts, ExtractError, Load, Problem, RefreshReport, Role, Source, Stage, StageConfig,
    StageContext, StageType, Staleness, Validate, registered_stage_types,
};
pub use crate::core::{CustomerRead, CustomerReads, StoredRows};
