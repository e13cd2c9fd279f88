//! `validate`: decides, for every data line, whether it is loaded, a duplicate, or rejected with a
//! reason a person understands.
//!
//! The stage applies the row rules (everything one line decides: CSV shape, field count, required
//! values, value formats, timestamp window, status set, amounts) while the file streams, in [`rules`].
//! The rules over sets of rows (unique keys, references between datasets) are the schema's, and the
//! load applies them over its staging (`loaders::postgres_load::set_rules`).

pub mod rules;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::core::record::{RecordBatch, ValidatedBatch};
use crate::core::{BuildError, Problem, Role, Source, Stage, StageConfig, StageContext, Validate};

/// Options of the `validate` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValidateConfig {
    /// Earliest accepted timestamp (a day, `YYYY-MM-DD`); earlier ones reject the line.
    #[serde(default = "default_earliest")]
    pub earliest: NaiveDate,
    /// Latest accepted event timestamp (purchase, approval, deliveries), `YYYY-MM-DD HH:MM:SS`
    /// (`YYYY-MM-DDTHH:MM:SS` is accepted too); defaults to the run time.
    #[serde(default, deserialize_with = "deserialize_latest")]
    pub latest: Option<NaiveDateTime>,
    /// How many days after the latest event time a planned timestamp (estimated delivery, shipping
    /// limit) may lie.
    #[serde(default = "default_planned_days_ahead")]
    pub planned_days_ahead: u32,
    /// The largest share of any file's lines that may be rejected; above it the load is aborted and
    /// nothing is written (the usual cause is a wrong file).
    #[serde(
        default = "default_max_reject_ratio",
        deserialize_with = "deserialize_ratio"
    )]
    pub max_reject_ratio: f64,
}

/// The largest accepted `planned_days_ahead` (a century).
pub const MAX_PLANNED_DAYS_AHEAD: u32 = 36_500;

/// Reads `latest` as `YYYY-MM-DD HH:MM:SS` (the form of the data) or `YYYY-MM-DDTHH:MM:SS`, quoted
/// or as a TOML date-time.
fn deserialize_latest<'de, D>(deserializer: D) -> Result<Option<NaiveDateTime>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    // The toml crate hands its own date-times over as a map of one private key.
    const TOML_DATETIME: &str = "$__toml_private_datetime";
    let text = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::String(text) => text,
        serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(TOML_DATETIME) => {
            map[TOML_DATETIME].as_str().unwrap_or_default().to_owned()
        }
        other => other.to_string(),
    };
    parse_latest(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "\"{text}\" is not a date and time (expected YYYY-MM-DD HH:MM:SS)"
        ))
    })
}

/// Reads a share from 0 to 1. The options reach the stage through JSON, which has no `nan` or `inf`:
/// TOML's arrive as `null`, and are named here instead of as a `null` the file never held (the range
/// itself is judged by `check`).
fn deserialize_ratio<'de, D>(deserializer: D) -> Result<f64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<f64>::deserialize(deserializer)?.ok_or_else(|| {
        serde::de::Error::custom(
            "must be between 0 and 1, got a value that is not a finite number (nan or inf)",
        )
    })
}

fn parse_latest(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (date, time) = text.split_once([' ', 'T'])?;
    if date.len() != 10 {
        return None;
    }
    let date: NaiveDate = date.parse().ok()?;
    let time: chrono::NaiveTime = time.trim_start().parse().ok()?;
    Some(date.and_time(time))
}

/// The days `earliest` and `latest` may fall on: four-digit years.
fn day_in_range(day: NaiveDate) -> bool {
    let first = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    (first..=last).contains(&day)
}

fn default_earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}
fn default_planned_days_ahead() -> u32 {
    366
}
fn default_max_reject_ratio() -> f64 {
    0.05
}

impl Default for ValidateConfig {
    fn default() -> Self {
        Self {
            earliest: default_earliest(),
            latest: None,
            planned_days_ahead: default_planned_days_ahead(),
            max_reject_ratio: default_max_reject_ratio(),
        }
    }
}

#[typetag::serde(name = "validate")]
impl StageConfig for ValidateConfig {
    fn role(&self) -> Role {
        Role::Validate
    }

    fn about(&self) -> &'static str {
        "rejects bad lines with a reason (shape, value formats, time window); the load applies keys and references"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        problems.extend(Problem::outside(
            "max_reject_ratio",
            self.max_reject_ratio,
            0.0..=1.0,
            None,
        ));
        if self.planned_days_ahead > MAX_PLANNED_DAYS_AHEAD {
            problems.push(Problem::new(
                "planned_days_ahead",
                format!(
                    "must be at most {MAX_PLANNED_DAYS_AHEAD}, got {}",
                    self.planned_days_ahead
                ),
            ));
        }
        if !day_in_range(self.earliest) {
            problems.push(Problem::new(
                "earliest",
                format!(
                    "must be between 0001-01-01 and 9999-12-31, got {}",
                    self.earliest
                ),
            ));
        }
        if let Some(latest) = self.latest
            && !day_in_range(latest.date())
        {
            problems.push(Problem::new(
                "latest",
                format!("must be between 0001-01-01 and 9999-12-31, got {latest}"),
            ));
        }
        if let Some(latest) = self.latest
            && latest.date() < self.earliest
        {
            problems.push(Problem::new(
                "latest",
                format!("{latest} is before earliest ({})", self.earliest),
            ));
        }
        problems
    }

    fn build(&self, ctx: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Validate(Box::new(Validator {
            window: self.window(ctx.run_time),
            max_reject_ratio: self.max_reject_ratio,
        })))
    }
}

crate::register_stage_type!("validate", ValidateConfig);

impl ValidateConfig {
    /// The time window of a run started at `run_time`.
    #[must_use]
    pub fn window(&self, run_time: NaiveDateTime) -> rules::Window {
        let latest_event = self.latest.unwrap_or(run_time);
        rules::Window {
            earliest: self.earliest.and_hms_opt(0, 0, 0).expect("midnight"),
            latest_event,
            latest_planned: latest_event
                .checked_add_signed(chrono::Duration::days(i64::from(self.planned_days_ahead)))
                .unwrap_or(NaiveDateTime::MAX),
            latest_is_run_time: self.latest.is_none(),
            planned_days_ahead: self.planned_days_ahead,
        }
    }
}

/// The runtime `validate` stage.
pub struct Validator {
    window: rules::Window,
    max_reject_ratio: f64,
}

impl Validate for Validator {
    fn check_batch(&self, source: &Source, batch: RecordBatch) -> ValidatedBatch {
        let mut out = ValidatedBatch::default();
        for record in batch {
            match rules::check_record(source, &self.window, record) {
                Ok(row) => out.rows.push(row),
                Err(rejection) => out.rejections.push(rejection),
            }
        }
        out
    }

    fn max_reject_ratio(&self) -> f64 {
        self.max_reject_ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<ValidateConfig, String> {
        toml::from_str::<ValidateConfig>(toml).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn latest_is_read_with_a_space_or_a_t() {
        let expected = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for toml in [
            "latest = \"2026-01-01 00:00:00\"",
            "latest = \"2026-01-01T00:00:00\"",
            "latest = 2026-01-01 00:00:00",
            "latest = 2026-01-01T00:00:00",
        ] {
            assert_eq!(parse(toml).unwrap().latest, Some(expected), "{toml}");
        }
        assert_eq!(
            parse("latest = \"2026-01-01\"").unwrap_err(),
            "\"2026-01-01\" is not a date and time (expected YYYY-MM-DD HH:MM:SS)"
        );
        assert_eq!(
            parse("latest = 5").unwrap_err(),
            "\"5\" is not a date and time (expected YYYY-MM-DD HH:MM:SS)"
        );
        assert_eq!(parse("").unwrap().latest, None);
    }

    #[test]
    fn a_ratio_that_is_not_a_finite_number_is_named() {
        // Through JSON, as the plan hands options over: nan and inf are null there.
        let from_json = serde_json::from_value::<ValidateConfig>(
            serde_json::json!({ "max_reject_ratio": f64::NAN }),
        );
        assert_eq!(
            from_json.unwrap_err().to_string(),
            "must be between 0 and 1, got a value that is not a finite number (nan or inf)"
        );
        // Read straight from TOML, they reach `check`.
        for toml in ["max_reject_ratio = nan", "max_reject_ratio = -inf"] {
            let problems = parse(toml).unwrap().check();
            assert_eq!(problems.len(), 1, "{toml}");
            assert_eq!(problems[0].key, "max_reject_ratio");
        }
        assert_eq!(
            parse("max_reject_ratio = \"half\"").unwrap_err(),
            "invalid type: string \"half\", expected f64"
        );
        let half = parse("max_reject_ratio = 0.5").unwrap().max_reject_ratio;
        assert!((half - 0.5).abs() < f64::EPSILON, "{half}");
    }

    #[test]
    fn planned_days_ahead_and_the_days_are_bounded() {
        let config = ValidateConfig {
            planned_days_ahead: u32::MAX,
            latest: NaiveDate::from_ymd_opt(262142, 12, 31).and_then(|d| d.and_hms_opt(0, 0, 0)),
            ..Default::default()
        };
        let problems: Vec<String> = config
            .check()
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert_eq!(
            problems,
            vec![
                "planned_days_ahead: must be at most 36500, got 4294967295".to_owned(),
                "latest: must be between 0001-01-01 and 9999-12-31, got +262142-12-31 00:00:00"
                    .to_owned(),
            ]
        );
        // The window never overflows, whatever the options.
        assert_eq!(
            config.window(NaiveDateTime::MAX).latest_planned,
            NaiveDateTime::MAX
        );
    }
}
