//! Compiling the raw configuration into a plan: every problem is collected and reported at once,
//! before anything runs. Each stage is checked on its own, and its errors carry the file, the stage
//! (index, name, type) and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Timelike;
use sha2::{Digest, Sha256};
use stages::{Aggregate, CustomerRead, Role, Stage, StageConfig, StageContext};

use crate::config::{DatabaseConfig, RawConfig, humanise};
use crate::scheduler::ScheduleConfig;

/// A stage of the plan.
#[derive(Debug)]
pub struct PlannedStage {
    /// Position in the config, from 0.
    pub index: usize,
    /// Its unique name.
    pub name: String,
    /// Its `type` tag.
    pub type_name: String,
    /// Its role, as its type declares it (read once here).
    pub role: Role,
    /// Its options.
    pub config: Box<dyn StageConfig>,
    /// SHA-256 of its type and options (hex, first 16 characters).
    pub fingerprint: String,
}

/// The compiled configuration.
#[derive(Debug)]
pub struct Plan {
    /// The config file read.
    pub config_path: PathBuf,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Where inputs are read.
    pub data_dir: PathBuf,
    /// The stages in order.
    pub stages: Vec<PlannedStage>,
    /// The schedule.
    pub schedule: ScheduleConfig,
}

impl Plan {
    /// The stages with `role`.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &PlannedStage> {
        self.stages.iter().filter(move |s| s.role == role)
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&PlannedStage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The declared aggregates, built (which does no I/O), in order: what the read commands read
    /// rows through.
    pub fn aggregates(&self) -> anyhow::Result<Vec<BuiltAggregate<'_>>> {
        let context = self.context();
        self.with_role(Role::Aggregate)
            .map(|stage| {
                Ok(BuiltAggregate {
                    stage,
                    aggregate: stage.build_aggregate(&context)?,
                })
            })
            .collect()
    }

    /// The first declared customer aggregate (see [`CustomerAggregate`]), if any.
    pub fn customer_aggregate(&self) -> anyhow::Result<Option<CustomerAggregate<'_>>> {
        Ok(self
            .aggregates()?
            .into_iter()
            .find_map(CustomerAggregate::new))
    }

    /// What the stages of a run starting now are built with.
    pub fn context(&self) -> StageContext {
        StageContext {
            data_dir: self.data_dir.clone(),
            // Whole seconds, as the timestamps it bounds.
            run_time: chrono::Local::now()
                .naive_local()
                .with_nanosecond(0)
                .unwrap_or_default(),
            allow_deletes: false,
        }
    }
}

impl PlannedStage {
    /// Builds the stage for a run with `ctx`, checking it has the role it declares.
    pub fn build(&self, ctx: &StageContext) -> anyhow::Result<Stage> {
        let stage = self
            .config
            .build(ctx)
            .map_err(|e| anyhow::anyhow!("stage \"{}\" cannot be built: {e}", self.name))?;
        let role = match &stage {
            Stage::Extract(_) => Role::Extract,
            Stage::Validate(_) => Role::Validate,
            Stage::Load(_) => Role::Load,
            Stage::Aggregate(_) => Role::Aggregate,
        };
        anyhow::ensure!(
            role == self.role,
            "stage \"{}\" declares the {} role but built a {role} stage",
            self.name,
            self.role
        );
        Ok(stage)
    }

    /// Builds the stage, which must be an aggregate, for a run with `ctx`.
    pub fn build_aggregate(&self, ctx: &StageContext) -> anyhow::Result<Box<dyn Aggregate>> {
        match self.build(ctx)? {
            Stage::Aggregate(aggregate) => Ok(aggregate),
            _ => anyhow::bail!("stage \"{}\" is not an aggregate", self.name),
        }
    }
}

/// A declared aggregate stage and its built runtime object.
pub struct BuiltAggregate<'p> {
    /// The declared stage.
    pub stage: &'p PlannedStage,
    /// The stage built.
    pub aggregate: Box<dyn Aggregate>,
}

/// The declared customer aggregate: an aggregate whose rows are one per customer and day
/// ([`Aggregate::customer_reads`]), which `top-customers`, `repeaters`, the report and a plain
/// `stats` read, with the statements it gives for each [`CustomerRead`].
pub struct CustomerAggregate<'p> {
    /// The declared stage.
    pub stage: &'p PlannedStage,
    /// The stage built.
    pub aggregate: Box<dyn Aggregate>,
    /// The statement of each read, at the read's index in [`CustomerRead::ALL`].
    statements: [&'static str; CustomerRead::ALL.len()],
}

impl<'p> CustomerAggregate<'p> {
    /// `built`, when its rows are one per customer and day.
    fn new(built: BuiltAggregate<'p>) -> Option<Self> {
        let reads = built.aggregate.customer_reads()?;
        let statements = CustomerRead::ALL.map(|read| reads.statement(read));
        Some(Self {
            stage: built.stage,
            aggregate: built.aggregate,
            statements,
        })
    }

    /// The statement of `read` over the stage's rows.
    pub fn statement(&self, read: CustomerRead) -> &'static str {
        self.statements[read as usize]
    }
}

/// The largest accepted number of seconds of a timeout or a retry delay (a day).
const MAX_SECS: u64 = 86_400;
/// The largest accepted pool size.
const MAX_CONNECTIONS: u64 = 1_000;
/// The smallest pool a run can work with: while it loads, its invocation's ledger row and the load
/// stage's row each hold a connection for their advisory lock, and the load's transaction takes a
/// third (an aggregate's transactions likewise, beside its own row and the invocation's). With
/// fewer, the run waits for a connection that never comes free.
const MIN_CONNECTIONS: u32 = 3;
/// The largest accepted `schedule.max_catch_up_days` (a century).
const MAX_CATCH_UP_DAYS: u64 = 36_500;

/// Compiles `raw` read from `path`; returns every problem found.
pub fn compile(path: &Path, raw: RawConfig) -> Result<Plan, Vec<String>> {
    let file = path.display().to_string();
    let mut problems = Vec::new();
    let stages = compile_stages(&file, &raw.stages, &mut problems);
    // The shape is judged only when every stage could be read, so one typo gives one message.
    if stages.len() == raw.stages.len() {
        check_shape(&file, &stages, &mut problems);
    }
    check_writers(&file, &stages, &mut problems);
    // A value may come from the file or from the environment; each message names where.
    let origin = |key: &str| crate::config::origin(&raw, key, path);
    check_bounds(&raw, &origin, &mut problems);
    let schedule = match ScheduleConfig::try_from(raw.schedule.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            let text = e.to_string();
            let key = text.split(':').next().unwrap_or_default();
            problems.push(format!("{}: {text}", origin(key)));
            None
        }
    };
    if let Err(e) = raw.database.url.parse::<sqlx::postgres::PgConnectOptions>() {
        problems.push(format!(
            "{}: database.url: not a PostgreSQL URL ({e})",
            origin("database.url")
        ));
    }
    let data_dir = crate::config::data_dir(&raw);
    match (problems.is_empty(), schedule) {
        (true, Some(schedule)) => Ok(Plan {
            config_path: path.to_owned(),
            database: raw.database,
            data_dir,
            stages,
            schedule,
        }),
        _ => Err(problems),
    }
}

/// Compiles each declared stage on its own: the stages that could be read, in order; the problems
/// of all of them go into `problems`.
fn compile_stages(
    file: &str,
    declared: &[figment::value::Value],
    problems: &mut Vec<String>,
) -> Vec<PlannedStage> {
    let mut stages = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    if declared.is_empty() {
        problems.push(format!("{file}: stages: no stage is declared"));
    }
    for (index, value) in declared.iter().enumerate() {
        stages.extend(compile_stage(file, index, value, &mut names, problems));
    }
    stages
}

/// Compiles `stages[index]`: its name (unique among `names`, the names seen so far), its type and
/// its options, checked by the type's own `check`. `None` when it cannot be read.
fn compile_stage(
    file: &str,
    index: usize,
    value: &figment::value::Value,
    names: &mut BTreeMap<String, usize>,
    problems: &mut Vec<String>,
) -> Option<PlannedStage> {
    let Ok(serde_json::Value::Object(json)) = serde_json::to_value(value) else {
        problems.push(format!(
            "{file}: stages[{index}]: must be a table with name and type"
        ));
        return None;
    };
    let name = json.get("name").and_then(|v| v.as_str()).map(str::to_owned);
    let type_name = json.get("type").and_then(|v| v.as_str()).map(str::to_owned);
    let label = format!(
        "{file}: stages[{index}] \"{}\" ({})",
        name.as_deref().unwrap_or("?"),
        type_name.as_deref().unwrap_or("?")
    );
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        problems.push(format!("{label}: missing field \"name\""));
        return None;
    };
    if let Some(first) = names.insert(name.clone(), index) {
        problems.push(format!(
            "{label}: name \"{name}\" is already used by stages[{first}]"
        ));
    }
    let Some(type_name) = type_name else {
        problems.push(format!("{label}: missing field \"type\""));
        return None;
    };
    let mut options = json.clone();
    options.remove("name");
    match serde_json::from_value::<Box<dyn StageConfig>>(serde_json::Value::Object(options.clone()))
    {
        Ok(config) => {
            for problem in config.check() {
                problems.push(format!("{label}: {}: {}", problem.key, problem.message));
            }
            let fingerprint = fingerprint(config.as_ref());
            Some(PlannedStage {
                index,
                name,
                type_name,
                role: config.role(),
                config,
                fingerprint,
            })
        }
        Err(error) => {
            problems.extend(stage_errors(&label, &type_name, &options, &error));
            None
        }
    }
}

/// The numbers of the database and schedule settings, each within its bounds; `origin` names where
/// a key's value came from.
fn check_bounds(raw: &RawConfig, origin: &dyn Fn(&str) -> String, problems: &mut Vec<String>) {
    for (key, value, max) in [
        (
            "database.connect_timeout_secs",
            raw.database.connect_timeout_secs,
            MAX_SECS,
        ),
        (
            "database.max_connections",
            u64::from(raw.database.max_connections),
            MAX_CONNECTIONS,
        ),
        (
            "schedule.max_catch_up_days",
            u64::from(raw.schedule.max_catch_up_days),
            MAX_CATCH_UP_DAYS,
        ),
        (
            "schedule.retry_initial_secs",
            raw.schedule.retry_initial_secs,
            MAX_SECS,
        ),
        (
            "schedule.retry_max_secs",
            raw.schedule.retry_max_secs,
            MAX_SECS,
        ),
    ] {
        if value > max {
            problems.push(format!(
                "{}: {key}: must be at most {max}, got {value}",
                origin(key)
            ));
        }
    }
    if raw.database.max_connections < MIN_CONNECTIONS {
        problems.push(format!(
            "{}: database.max_connections: must be at least {MIN_CONNECTIONS} (a run holds one connection \
             for its ledger row, one for its stage's row and one for the stage's transaction), got {}",
            origin("database.max_connections"),
            raw.database.max_connections
        ));
    }
    if raw.database.connect_timeout_secs == 0 {
        problems.push(format!(
            "{}: database.connect_timeout_secs: must be at least 1, got 0",
            origin("database.connect_timeout_secs")
        ));
    }
}

/// Explains why a stage's options did not deserialize, key by key: every option has a default, so
/// each key can be tried alone and the bad ones named.
fn stage_errors(
    label: &str,
    type_name: &str,
    options: &serde_json::Map<String, serde_json::Value>,
    error: &serde_json::Error,
) -> Vec<String> {
    let message = error.to_string();
    let registered: Vec<String> = stages::registered_stage_types()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    // Judged by the registry, not by the message: an option's own unknown variant (a bad
    // `customer_key`) reads the same as an unknown stage type.
    if !registered.iter().any(|n| n == type_name) {
        return vec![format!(
            "{label}: unknown stage type \"{type_name}\" (registered: {})",
            registered.join(", ")
        )];
    }
    let mut found = Vec::new();
    for (key, value) in options.iter().filter(|(k, _)| k.as_str() != "type") {
        let alone = serde_json::json!({ "type": type_name, key.as_str(): value });
        if let Err(e) = serde_json::from_value::<Box<dyn StageConfig>>(alone) {
            let text = humanise(&strip_position(&e.to_string()));
            if text.starts_with("unknown field") {
                found.push(format!(
                    "{label}: {}",
                    text.split(", expected").next().unwrap_or(&text)
                ));
            } else {
                found.push(format!("{label}: {key}: {text}"));
            }
        }
    }
    if found.is_empty() {
        found.push(format!("{label}: {}", humanise(&strip_position(&message))));
    }
    found
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The shape rules: at most one extract, validate and load; the three come together, in that order;
/// aggregates come after the load.
fn check_shape(file: &str, stages: &[PlannedStage], problems: &mut Vec<String>) {
    let position =
        |role: Role| -> Vec<&PlannedStage> { stages.iter().filter(|s| s.role == role).collect() };
    for role in [Role::Extract, Role::Validate, Role::Load] {
        let found = position(role);
        if found.len() > 1 {
            let names: Vec<String> = found.iter().map(|s| format!("\"{}\"", s.name)).collect();
            problems.push(format!(
                "{file}: stages: more than one {role} stage ({})",
                names.join(", ")
            ));
        }
    }
    let first = |role: Role| position(role).first().map(|s| s.index);
    if first(Role::Load).is_none() {
        for role in [Role::Extract, Role::Validate] {
            if first(role).is_some() {
                problems.push(format!(
                    "{file}: stages: the {role} stage needs a load stage after it (the load stages the rows and applies the key and reference rules); add a stage with type = \"postgres_load\""
                ));
            }
        }
    }
    if let Some(load) = first(Role::Load) {
        for needed in [Role::Extract, Role::Validate] {
            match first(needed) {
                None => {
                    let article = if needed == Role::Extract { "an" } else { "a" };
                    problems.push(format!(
                        "{file}: stages: the load stage needs {article} {needed} stage before it"
                    ));
                }
                Some(i) if i > load => problems.push(format!(
                    "{file}: stages: the {needed} stage must come before the load stage"
                )),
                _ => {}
            }
        }
        if let (Some(extract), Some(validate)) = (first(Role::Extract), first(Role::Validate))
            && validate < extract
        {
            problems.push(format!(
                "{file}: stages: the extract stage must come before the validate stage"
            ));
        }
        for aggregate in position(Role::Aggregate) {
            if aggregate.index < load {
                problems.push(format!(
                    "{file}: stages[{}] \"{}\": an aggregate stage must come after the load stage",
                    aggregate.index, aggregate.name
                ));
            }
        }
    }
}

/// No two stages may write the same derived table: each would replace the other's rows, and `status`
/// would call both current.
fn check_writers(file: &str, stages: &[PlannedStage], problems: &mut Vec<String>) {
    let mut writers: BTreeMap<&'static str, Vec<&PlannedStage>> = BTreeMap::new();
    for stage in stages {
        if let Some(table) = stage.config.writes() {
            writers.entry(table).or_default().push(stage);
        }
    }
    for (table, found) in writers.into_iter().filter(|(_, f)| f.len() > 1) {
        let names: Vec<String> = found
            .iter()
            .map(|s| format!("stages[{}] \"{}\"", s.index, s.name))
            .collect();
        problems.push(format!(
            "{file}: stages: {} all write the table {table}, so each would overwrite the others' rows; declare one",
            names.join(", ")
        ));
    }
}

/// The fingerprint of a stage's options: SHA-256 over its canonical JSON, without its tuning options
/// (which change how it runs, not what it writes).
pub fn fingerprint(config: &dyn StageConfig) -> String {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    if let Some(options) = value.as_object_mut() {
        for key in config.tuning_options() {
            options.remove(*key);
        }
    }
    let json = value.to_string();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::{FlagOverrides, ScheduleFlags, load};

    fn compile_toml(toml: &str) -> Result<Plan, Vec<String>> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("pipeline.toml", toml)?;
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default())
                .map_err(|e| e.join("\n"))?;
            result = Some(compile(Path::new("pipeline.toml"), raw));
            Ok(())
        });
        result.unwrap()
    }

    /// The four stages with their defaults: the built-in pipeline.
    const GOOD: &str = crate::config::DEFAULT_PIPELINE;

    #[test]
    fn the_default_pipeline_toml_compiles() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../pipeline.toml"))
                .unwrap();
        let plan = compile_toml(&text).unwrap();
        let names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["extract", "validate", "load", "customer_daily_stats"]
        );
        // The built-in pipeline (no file) is the shipped one: same stages, same options.
        let built_in = compile_toml(GOOD).unwrap();
        let prints = |p: &Plan| -> Vec<(String, String)> {
            p.stages
                .iter()
                .map(|s| (s.name.clone(), s.fingerprint.clone()))
                .collect()
        };
        assert_eq!(prints(&built_in), prints(&plan));
    }

    #[test]
    fn the_customer_aggregate_is_the_one_with_customer_reads() {
        let plan = compile_toml(&format!(
            "{GOOD}\n[[stages]]\nname = \"products\"\ntype = \"product_daily_stats\"\n"
        ))
        .unwrap();
        let built: Vec<&str> = plan
            .aggregates()
            .unwrap()
            .iter()
            .map(|a| a.stage.name.as_str())
            .collect();
        assert_eq!(built, ["customer_daily_stats", "products"]);
        let customer = plan.customer_aggregate().unwrap().unwrap();
        assert_eq!(customer.stage.name, "customer_daily_stats");
        for read in CustomerRead::ALL {
            assert_eq!(
                customer.statement(read),
                customer.aggregate.customer_reads().unwrap().statement(read),
                "{read:?}"
            );
        }
        assert!(
            customer
                .statement(CustomerRead::TopByItems)
                .contains("ORDER BY items DESC")
        );
        // Without it, there is none, even with another aggregate declared.
        let without = GOOD.replace(
            "name = \"customer_daily_stats\"\ntype = \"customer_daily_stats\"",
            "name = \"products\"\ntype = \"product_daily_stats\"",
        );
        let plan = compile_toml(&without).unwrap();
        assert_eq!(plan.aggregates().unwrap().len(), 1);
        assert!(plan.customer_aggregate().unwrap().is_none());
    }

    #[test]
    fn an_unknown_field_names_file_stage_and_key() {
        let toml = GOOD.replace(
            "type = \"postgres_load\"",
            "type = \"postgres_load\"\nbatchsize = 5",
        );
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(
            problems,
            vec!["pipeline.toml: stages[2] \"load\" (postgres_load): unknown field \"batchsize\""]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let toml = GOOD
            .replace(
                "type = \"csv_extract\"",
                "type = \"csv_extract\"\nbatch_size = \"big\"",
            )
            .replace("type = \"validate\"", "type = \"validat\"")
            .replace("name = \"customer_daily_stats\"", "name = \"load\"")
            .replace(
                "type = \"customer_daily_stats\"",
                "type = \"customer_daily_stats\"\nexcluded_statuses = [\"lost\"]",
            );
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("pipeline.toml: stages[0] \"extract\" (csv_extract): batch_size: invalid type: string \"big\""));
        assert!(problems[1].starts_with("pipeline.toml: stages[1] \"validate\" (validat): unknown stage type \"validat\" (registered: "));
        assert!(problems[1].contains("csv_extract"));
        assert_eq!(
            problems[2],
            "pipeline.toml: stages[3] \"load\" (customer_daily_stats): name \"load\" is already used by stages[2]"
        );
        assert!(problems[3].starts_with("pipeline.toml: stages[3] \"load\" (customer_daily_stats): excluded_statuses: \"lost\" is not an order status"));
    }

    #[test]
    fn the_shape_of_the_pipeline_is_checked() {
        let toml = GOOD.replace(
            "name = \"validate\"\ntype = \"validate\"",
            "name = \"stats2\"\ntype = \"customer_daily_stats\"",
        );
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(
            problems,
            vec![
                "pipeline.toml: stages: the load stage needs a validate stage before it",
                "pipeline.toml: stages[1] \"stats2\": an aggregate stage must come after the load stage",
                "pipeline.toml: stages: stages[1] \"stats2\", stages[3] \"customer_daily_stats\" all write the table customer_daily_stats, so each would overwrite the others' rows; declare one",
            ]
        );
    }

    #[test]
    fn extract_and_validate_need_a_load() {
        let toml = GOOD.replace(
            "type = \"postgres_load\"",
            "type = \"customer_daily_stats\"",
        );
        let toml = toml.replacen("name = \"customer_daily_stats\"", "name = \"other\"", 1);
        let problems = compile_toml(&toml).unwrap_err();
        assert!(
            problems.contains(
                &"pipeline.toml: stages: the extract stage needs a load stage after it (the load stages the rows and applies the key and reference rules); add a stage with type = \"postgres_load\"".to_owned()
            ),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("pipeline.toml: stages: the validate stage needs a load")),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_bad_option_value_names_the_key_and_the_allowed_values() {
        let toml = GOOD.replace(
            "type = \"customer_daily_stats\"",
            "type = \"customer_daily_stats\"\ncustomer_key = \"email\"",
        );
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(
            problems,
            vec![
                "pipeline.toml: stages[3] \"customer_daily_stats\" (customer_daily_stats): customer_key: unknown variant \"email\", expected \"customer_unique_id\" or \"customer_id\""
            ]
        );
    }

    #[test]
    fn two_stages_may_not_write_the_same_table() {
        let toml = format!(
            "{GOOD}\n[[stages]]\nname = \"by_order\"\ntype = \"customer_daily_stats\"\ncustomer_key = \"customer_id\"\n"
        );
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(
            problems,
            vec![
                "pipeline.toml: stages: stages[3] \"customer_daily_stats\", stages[4] \"by_order\" all write the table customer_daily_stats, so each would overwrite the others' rows; declare one"
            ]
        );
    }

    #[test]
    fn every_numeric_option_is_bounded_and_named() {
        let toml = GOOD
            .replace(
                "type = \"csv_extract\"",
                "type = \"csv_extract\"\nbatch_size = 100000000000",
            )
            .replace(
                "type = \"validate\"",
                "type = \"validate\"\nplanned_days_ahead = 4294967295",
            )
            .replace(
                "type = \"customer_daily_stats\"",
                "type = \"customer_daily_stats\"\nchunk_days = 4294967295",
            )
            + "[database]\nconnect_timeout_secs = 9223372036854775807\nmax_connections = 4294967295\n\
               [schedule]\nmax_catch_up_days = 4294967295\nretry_initial_secs = 100000\nretry_max_secs = 100000\n";
        let problems = compile_toml(&toml).unwrap_err();
        assert_eq!(
            problems,
            vec![
                "pipeline.toml: stages[0] \"extract\" (csv_extract): batch_size: must be between 1 and 1000000, got 100000000000",
                "pipeline.toml: stages[1] \"validate\" (validate): planned_days_ahead: must be at most 36500, got 4294967295",
                "pipeline.toml: stages[3] \"customer_daily_stats\" (customer_daily_stats): chunk_days: must be between 1 and 36500, got 4294967295",
                "pipeline.toml: database.connect_timeout_secs: must be at most 86400, got 9223372036854775807",
                "pipeline.toml: database.max_connections: must be at most 1000, got 4294967295",
                "pipeline.toml: schedule.max_catch_up_days: must be at most 36500, got 4294967295",
                "pipeline.toml: schedule.retry_initial_secs: must be at most 86400, got 100000",
                "pipeline.toml: schedule.retry_max_secs: must be at most 86400, got 100000",
            ]
        );
    }

    #[test]
    fn a_reject_ratio_that_is_not_a_number_is_named_with_its_range() {
        for value in ["nan", "inf", "-inf", "+nan"] {
            let toml = GOOD.replace(
                "type = \"validate\"",
                &format!("type = \"validate\"\nmax_reject_ratio = {value}"),
            );
            assert_eq!(
                compile_toml(&toml).unwrap_err(),
                vec![
                    "pipeline.toml: stages[1] \"validate\" (validate): max_reject_ratio: must be between 0 and 1, got a value that is not a finite number (nan or inf)"
                ],
                "{value}"
            );
        }
    }

    #[test]
    fn a_pool_too_small_for_a_run_is_refused() {
        for (size, refused) in [(0, true), (1, true), (2, true), (3, false), (4, false)] {
            let toml = format!("{GOOD}[database]\nmax_connections = {size}\n");
            let result = compile_toml(&toml);
            if refused {
                assert_eq!(
                    result.unwrap_err(),
                    vec![format!(
                        "pipeline.toml: database.max_connections: must be at least 3 (a run holds one connection for its ledger row, one for its stage's row and one for the stage's transaction), got {size}"
                    )]
                );
            } else {
                assert_eq!(result.unwrap().database.max_connections, size);
            }
        }
    }

    #[test]
    fn problems_with_values_from_the_environment_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pipeline.toml", GOOD)?;
            jail.set_env("DATABASE_URL", "postgres://me:secret@h:port/db");
            jail.set_env("PIPELINE_SCHEDULE__AT", "25:00");
            jail.set_env("PIPELINE_DATABASE__MAX_CONNECTIONS", "5000");
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap();
            let problems = compile(Path::new("pipeline.toml"), raw).unwrap_err();
            assert_eq!(problems.len(), 3, "{problems:#?}");
            assert_eq!(
                problems[0],
                "environment variable PIPELINE_DATABASE__MAX_CONNECTIONS: database.max_connections: must be at most 1000, got 5000"
            );
            assert_eq!(
                problems[1],
                "environment variable PIPELINE_SCHEDULE__AT: schedule.at: \"25:00\" is not a time of day (expected HH:MM)"
            );
            assert!(
                problems[2].starts_with(
                    "environment variable DATABASE_URL: database.url: not a PostgreSQL URL"
                ),
                "{}",
                problems[2]
            );
            Ok(())
        });
    }

    #[test]
    fn problems_with_values_from_flags_name_the_flag() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pipeline.toml", GOOD)?;
            let path = Path::new("pipeline.toml");
            let compile_with = |at: Option<&str>, timezone: Option<&str>| {
                let flags = FlagOverrides {
                    schedule: ScheduleFlags {
                        at: at.map(str::to_owned),
                        timezone: timezone.map(str::to_owned),
                    },
                    ..FlagOverrides::default()
                };
                compile(path, load(path, true, &flags).unwrap())
            };
            assert_eq!(
                compile_with(Some("25:00"), None).unwrap_err(),
                ["--at: schedule.at: \"25:00\" is not a time of day (expected HH:MM)"]
            );
            assert_eq!(
                compile_with(None, Some("Mars/Base")).unwrap_err(),
                ["--timezone: schedule.timezone: unknown time zone \"Mars/Base\""]
            );
            // A flag replaces the value below it before anything is checked.
            jail.set_env("PIPELINE_SCHEDULE__AT", "noon");
            let plan = compile_with(Some("02:30"), Some("America/Sao_Paulo")).unwrap();
            assert_eq!(
                plan.schedule.at,
                chrono::NaiveTime::from_hms_opt(2, 30, 0).unwrap()
            );
            assert_eq!(plan.schedule.timezone, chrono_tz::America::Sao_Paulo);
            Ok(())
        });
    }

    #[test]
    fn the_space_form_of_latest_compiles() {
        for latest in ["\"2026-01-01 00:00:00\"", "2026-01-01 00:00:00"] {
            let toml = GOOD.replace(
                "type = \"validate\"",
                &format!("type = \"validate\"\nlatest = {latest}"),
            );
            let plan = compile_toml(&toml).unwrap();
            let json = serde_json::to_value(plan.stages[1].config.as_ref()).unwrap();
            assert_eq!(json["latest"], "2026-01-01T00:00:00", "{latest}");
        }
    }

    #[test]
    fn fingerprints_follow_options() {
        let a = compile_toml(GOOD).unwrap();
        let b = compile_toml(&GOOD.replace(
            "type = \"customer_daily_stats\"",
            "type = \"customer_daily_stats\"\nexcluded_statuses = [\"canceled\"]",
        ))
        .unwrap();
        assert_eq!(a.stages[0].fingerprint, b.stages[0].fingerprint);
        assert_ne!(a.stages[3].fingerprint, b.stages[3].fingerprint);
        assert_eq!(a.stages[3].fingerprint.len(), 16);
        // How a stage runs is not what it writes: chunk sizes and lock timeouts change no fingerprint.
        let c = compile_toml(
            &GOOD
                .replace(
                    "type = \"customer_daily_stats\"",
                    "type = \"customer_daily_stats\"\nchunk_days = 7",
                )
                .replace(
                    "type = \"postgres_load\"",
                    "type = \"postgres_load\"\nlock_timeout_secs = 5",
                ),
        )
        .unwrap();
        assert_eq!(a.stages[2].type_name, "postgres_load");
        assert_eq!(a.stages[2].fingerprint, c.stages[2].fingerprint);
        assert_eq!(a.stages[3].fingerprint, c.stages[3].fingerprint);
    }
}
