//! What a stage is to the framework: its role, the options declared in `pipeline.toml` (a
//! [`StageConfig`], picked by its `type` tag), the registry of stage types, and the runtime object
//! [`StageConfig::build`] makes from a [`StageContext`].

use std::fmt::{Debug, Display};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use chrono::NaiveDateTime;

use crate::core::error::BuildError;
use crate::core::roles::{Aggregate, Extract, Load, Validate};

/// What a stage does in the pipeline; decides where the runner puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads input files into record batches.
    Extract,
    /// Splits records into valid rows and rejected lines.
    Validate,
    /// Writes valid rows into the database.
    Load,
    /// Computes derived tables for given days.
    Aggregate,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Extract => "extract",
            Role::Validate => "validate",
            Role::Load => "load",
            Role::Aggregate => "aggregate",
        })
    }
}

/// One problem found in a stage's options, before anything runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The option's key, e.g. `excluded_statuses`.
    pub key: String,
    /// What is wrong with it, lowercase, carrying the offending value.
    pub message: String,
}

impl Problem {
    /// A problem with the option `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The problem of a `value` outside `bounds`, saying "must be between LOW and HIGH, got
    /// VALUE", with `why` the bounds are what they are in parentheses after HIGH; `None` when
    /// the value is inside (a NaN never is).
    pub fn outside<T: PartialOrd + Display + Copy>(
        key: &str,
        value: T,
        bounds: RangeInclusive<T>,
        why: Option<&str>,
    ) -> Option<Self> {
        if bounds.contains(&value) {
            return None;
        }
        let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
        Some(Self::new(
            key,
            format!(
                "must be between {} and {}{why}, got {value}",
                bounds.start(),
                bounds.end()
            ),
        ))
    }
}

/// The options of one stage as declared in `pipeline.toml`. Implementations are serde structs with
/// `deny_unknown_fields`, a `///` doc on every field and defaults for every field; they do no I/O.
#[typetag::serde(tag = "type")]
pub trait StageConfig: Debug + Send + Sync {
    /// The stage's role.
    fn role(&self) -> Role;
    /// One line saying what the stage does, for `pipeline stages`.
    fn about(&self) -> &'static str;
    /// Every problem with the options, without I/O.
    fn check(&self) -> Vec<Problem> {
        Vec::new()
    }
    /// Options that change how the stage runs but not what it reads or writes (batch sizes, lock
    /// timeouts): they are left out of its fingerprint, so changing one marks no day stale and no
    /// file as loaded under other rules.
    fn tuning_options(&self) -> &'static [&'static str] {
        &[]
    }
    /// The derived table the stage replaces rows of, if any. Two stages of a plan may not write the
    /// same table: each would overwrite the other's rows.
    fn writes(&self) -> Option<&'static str> {
        None
    }
    /// Builds the runtime object for one run.
    fn build(&self, ctx: &StageContext) -> Result<Stage, BuildError>;
}

/// One registered stage type: its `type` tag and its default options. Submitted by
/// [`register_stage_type!`](crate::register_stage_type) next to the type's `StageConfig` impl, and
/// listed by [`registered_stage_types`].
pub struct StageType {
    /// The `type` tag, the name given to `#[typetag::serde(name = "...")]`.
    pub name: &'static str,
    /// The options when the stage is declared with its tag alone.
    pub defaults: fn() -> Box<dyn StageConfig>,
}

inventory::collect!(StageType);

/// Registers a stage type for [`registered_stage_types`] (and so `pipeline stages`):
/// `register_stage_type!("csv_extract", CsvExtractConfig);`, beside
/// `#[typetag::serde(name = "csv_extract")] impl StageConfig for CsvExtractConfig`. The options type
/// must implement `Default`.
#[macro_export]
macro_rules! register_stage_type {
    ($name:literal, $config:ty) => {
        $crate::inventory::submit! {
            $crate::core::stage::StageType {
                name: $name,
                defaults: || ::std::boxed::Box::new(<$config as ::std::default::Default>::default()),
            }
        }
    };
}

/// A built stage, by role.
pub enum Stage {
    /// See [`Extract`].
    Extract(Box<dyn Extract>),
    /// See [`Validate`].
    Validate(Box<dyn Validate>),
    /// See [`Load`].
    Load(Box<dyn Load>),
    /// See [`Aggregate`].
    Aggregate(Box<dyn Aggregate>),
}

/// What every stage is built with: the globals of the run, given once to [`StageConfig::build`].
#[derive(Clone, Debug)]
pub struct StageContext {
    /// The directory the input files are read from.
    pub data_dir: PathBuf,
    /// When the run started (local wall clock, no time zone), the upper bound of event timestamps.
    pub run_time: NaiveDateTime,
    /// Whether the operator allowed a load to delete more than its guard lets it
    /// (`run --allow-deletes`).
    pub allow_deletes: bool,
}

/// Every registered stage type, as `(type name, default configuration)`, sorted by name.
#[must_use]
pub fn registered_stage_types() -> Vec<(String, Box<dyn StageConfig>)> {
    let mut types: Vec<(String, Box<dyn StageConfig>)> = inventory::iter::<StageType>
        .into_iter()
        .map(|t| (t.name.to_owned(), (t.defaults)()))
        .collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_type_is_registered_and_defaults_from_its_tag_alone() {
        let names: Vec<String> = registered_stage_types()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for expected in [
            "csv_extract",
            "validate",
            "postgres_load",
            "customer_daily_stats",
            "product_daily_stats",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
    }

    #[test]
    fn every_registered_name_is_its_typetag_name_and_reads_from_its_tag_alone() {
        for (name, defaults) in registered_stage_types() {
            assert_eq!(
                defaults.typetag_name(),
                name,
                "registered under another name"
            );
            let read: Box<dyn StageConfig> =
                serde_json::from_value(serde_json::json!({ "type": name }))
                    .unwrap_or_else(|e| panic!("{name} does not read from its tag: {e}"));
            assert_eq!(
                serde_json::to_value(&read).unwrap(),
                serde_json::to_value(&defaults).unwrap(),
                "{name}: the tag alone does not give the defaults"
            );
        }
    }

    #[test]
    fn a_value_outside_its_bounds_says_them_and_itself() {
        assert_eq!(Problem::outside("n", 5, 1..=5, None), None);
        assert_eq!(Problem::outside("n", 1, 1..=5, None), None);
        assert_eq!(
            Problem::outside("n", 0, 1..=5, None),
            Some(Problem::new("n", "must be between 1 and 5, got 0"))
        );
        assert_eq!(
            Problem::outside("r", 1.5, 0.0..=1.0, Some("a share")),
            Some(Problem::new(
                "r",
                "must be between 0 and 1 (a share), got 1.5"
            ))
        );
        assert_eq!(
            Problem::outside("r", f64::NAN, 0.0..=1.0, None),
            Some(Problem::new("r", "must be between 0 and 1, got NaN"))
        );
    }
}
