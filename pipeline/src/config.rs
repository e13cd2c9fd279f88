//! Reading the configuration: layered sources merged by figment, then compiled into a [`crate::plan::Plan`].

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use figment::{Figment, Metadata};
use serde::{Deserialize, Serialize};

use crate::scheduler::RawScheduleConfig;

/// The configuration as merged from every source, before the stages are compiled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the database is.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The directory the extract stage reads; relative to the config file when set there.
    #[serde(default = "default_data_dir")]
    pub data_dir: RelativePathBuf,
    /// The stages, in order; each is compiled on its own so that every problem is reported.
    #[serde(default)]
    pub stages: Vec<figment::value::Value>,
    /// When `pipeline schedule` runs.
    #[serde(default)]
    pub schedule: RawScheduleConfig,
    /// The merged sources, to tell where a value came from.
    #[serde(skip)]
    pub figment: Option<Figment>,
}

fn default_data_dir() -> RelativePathBuf {
    RelativePathBuf::from(PathBuf::from("datasets/sample"))
}

/// Database connection settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user[:password]@host:port/database`; the database is created when missing.
    #[serde(default = "default_url")]
    pub url: String,
    /// Seconds to wait for a connection before giving up.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Largest number of connections the pipeline opens.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

fn default_url() -> String {
    "postgres://postgres@localhost:5432/ecommerce".to_owned()
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_max_connections() -> u32 {
    4
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: default_url(),
            connect_timeout_secs: default_connect_timeout_secs(),
            max_connections: default_max_connections(),
        }
    }
}

/// Values given on the command line, the highest layer. A value's origin in a message is its flag
/// (see [`origin`]).
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `schedule --at` and `--timezone`.
    #[serde(skip_serializing_if = "ScheduleFlags::is_empty")]
    pub schedule: ScheduleFlags,
}

/// The flags of `pipeline schedule` that set keys of `[schedule]`.
#[derive(Debug, Default, Serialize)]
pub struct ScheduleFlags {
    /// `--at`: `schedule.at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// `--timezone`: `schedule.timezone`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl ScheduleFlags {
    fn is_empty(&self) -> bool {
        self.at.is_none() && self.timezone.is_none()
    }
}

/// The name of the flags' layer, which tells a value set by a flag.
const FLAGS: &str = "command-line flags";

/// The flag that sets `key` (dotted).
const FLAG_KEYS: [(&str, &str); 3] = [
    ("data_dir", "--data-dir"),
    ("schedule.at", "--at"),
    ("schedule.timezone", "--timezone"),
];

impl figment::Provider for FlagOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAGS)
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Serialized::defaults(self).data()
    }
}

/// The pipeline without a file: the four stages with their default options.
pub const DEFAULT_PIPELINE: &str = r#"
[[stages]]
name = "extract"
type = "csv_extract"

[[stages]]
name = "validate"
type = "validate"

[[stages]]
name = "load"
type = "postgres_load"

[[stages]]
name = "customer_daily_stats"
type = "customer_daily_stats"
"#;

/// Builds the layered configuration. Sources, in ascending priority:
///
/// 1. built-in defaults (the `default_*` functions of each struct);
/// 2. the TOML file at `path` (`--config` or `PIPELINE_CONFIG`, default `./pipeline.toml`), or,
///    when `path` is `None`, [`DEFAULT_PIPELINE`];
/// 3. the environment: `PIPELINE_`-prefixed keys (`__` separates levels, e.g.
///    `PIPELINE_DATABASE__URL`, `PIPELINE_SCHEDULE__AT`), `PIPELINE_DATA_DIR`, and `DATABASE_URL`;
/// 4. command-line flags (`--data-dir`, `schedule --at` and `--timezone`).
pub fn figment(path: Option<&Path>, flags: &FlagOverrides) -> Figment {
    let file = match path {
        Some(path) => Figment::from(Toml::file_exact(path)),
        None => Figment::from(Toml::string(DEFAULT_PIPELINE)),
    };
    file.merge(Env::prefixed("PIPELINE_").split("__").filter(|key| {
        // Keys are lowercased only after filtering.
        let key = key.as_str().to_ascii_lowercase();
        let top = key.split('.').next().unwrap_or_default();
        matches!(top, "data_dir" | "database" | "schedule")
    }))
    .merge(
        Env::raw()
            .only(&["DATABASE_URL"])
            .map(|_| "database.url".into()),
    )
    .merge(flags)
}

/// Reads the raw configuration; a malformed value is an error naming the key, and the file or the
/// environment variable it came from. A password never appears in a message. A missing file is an
/// error when it was named (`explicit`: `--config` or `PIPELINE_CONFIG`); otherwise the built-in
/// pipeline is used, with a note in the log.
pub fn load(path: &Path, explicit: bool, flags: &FlagOverrides) -> Result<RawConfig, Vec<String>> {
    let file = if path.exists() {
        Some(path)
    } else if explicit {
        return Err(vec![format!(
            "{}: file not found (pass --config PATH to use another file)",
            path.display()
        )]);
    } else {
        tracing::info!(
            file = %path.display(),
            "no pipeline file here; using the built-in pipeline (extract, validate, load, customer_daily_stats with their defaults)"
        );
        None
    };
    let figment = figment(file, flags);
    match figment.extract::<RawConfig>() {
        Ok(mut raw) => {
            raw.figment = Some(figment);
            Ok(raw)
        }
        Err(errors) => Err(errors
            .into_iter()
            .map(|e| {
                let mut key_path = e.path.clone();
                let message = match &e.kind {
                    figment::error::Kind::UnknownField(field, _) => {
                        if key_path.last() == Some(field) {
                            key_path.pop();
                        }
                        format!("unknown field \"{field}\"")
                    }
                    other => humanise(&other.to_string()),
                };
                let key = key_path.join(".");
                let variable = e
                    .metadata
                    .as_ref()
                    .and_then(|m| environment_variable(m, &e.path.join(".")));
                // A variable names the key already.
                let text = if let Some(variable) = variable {
                    format!("environment variable {variable}: {message}")
                } else {
                    let origin = e
                        .metadata
                        .as_ref()
                        .and_then(|m| m.source.as_ref())
                        .map_or_else(
                            || path.display().to_string(),
                            std::string::ToString::to_string,
                        );
                    if key.is_empty() {
                        format!("{origin}: {message}")
                    } else {
                        format!("{origin}: {key}: {message}")
                    }
                };
                mask_passwords(&text)
            })
            .collect()),
    }
}

/// Rewrites serde's messages for people: backticks become double quotes.
pub fn humanise(message: &str) -> String {
    message.replace('`', "\"")
}

/// The environment variable a value of `key` (dotted) came from, if it came from the environment.
fn environment_variable(metadata: &Metadata, key: &str) -> Option<String> {
    if !metadata.name.contains("environment variable") {
        return None;
    }
    // The prefixed provider is named after its prefix; the other one reads DATABASE_URL alone.
    if metadata.name.contains("PIPELINE_") {
        Some(format!(
            "PIPELINE_{}",
            key.replace('.', "__").to_ascii_uppercase()
        ))
    } else {
        Some("DATABASE_URL".to_owned())
    }
}

/// Where the value of `key` (dotted) came from, for a message: its flag (`--at`), `environment
/// variable NAME`, or the configuration file's path.
pub fn origin(raw: &RawConfig, key: &str, path: &Path) -> String {
    let metadata = raw.figment.as_ref().and_then(|f| f.find_metadata(key));
    if let Some(metadata) = metadata
        && metadata.name == FLAGS
        && let Some((_, flag)) = FLAG_KEYS.iter().find(|(k, _)| *k == key)
    {
        return (*flag).to_owned();
    }
    metadata
        .and_then(|m| environment_variable(m, key))
        .map_or_else(
            || path.display().to_string(),
            |variable| format!("environment variable {variable}"),
        )
}

/// `text` with the password of every URL in it (`scheme://user:password@host`) replaced by `***`.
/// TOML's syntax errors quote the offending line, which may be the database URL.
pub fn mask_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority runs to the end of the URL; the user information ends at its last '@'.
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '/' | '>'))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(user_end) => {
                let userinfo = &authority[..user_end];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str("***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[user_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The data directory as configured: relative to the config file when set there, to the working
/// directory when set by the environment or a flag.
pub fn data_dir(raw: &RawConfig) -> PathBuf {
    raw.data_dir.relative()
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_ascending_priority() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pipeline.toml",
                "data_dir = \"from-file\"\n[database]\nurl = \"postgres://file@h/db\"\n",
            )?;
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap();
            assert_eq!(raw.database.url, "postgres://file@h/db");
            assert!(data_dir(&raw).ends_with("from-file"));

            jail.set_env("PIPELINE_DATA_DIR", "from-env");
            jail.set_env("DATABASE_URL", "postgres://env@h/db");
            jail.set_env("PIPELINE_UNRELATED", "ignored");
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap();
            assert_eq!(raw.database.url, "postgres://env@h/db");
            assert_eq!(data_dir(&raw), PathBuf::from("from-env"));

            let flags = FlagOverrides {
                data_dir: Some(PathBuf::from("from-flag")),
                ..FlagOverrides::default()
            };
            let raw = load(Path::new("pipeline.toml"), true, &flags).unwrap();
            assert_eq!(data_dir(&raw), PathBuf::from("from-flag"));
            Ok(())
        });
    }

    #[test]
    fn schedule_flags_are_the_highest_layer_and_named_as_origin() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pipeline.toml",
                "[schedule]\nat = \"02:00\"\ntimezone = \"America/Sao_Paulo\"\nmax_catch_up_days = 7\n",
            )?;
            jail.set_env("PIPELINE_SCHEDULE__AT", "03:00");
            let path = Path::new("pipeline.toml");
            let raw = load(path, true, &FlagOverrides::default()).unwrap();
            assert_eq!(raw.schedule.at, "03:00");
            assert_eq!(
                origin(&raw, "schedule.at", path),
                "environment variable PIPELINE_SCHEDULE__AT"
            );
            let flags = FlagOverrides {
                schedule: ScheduleFlags {
                    at: Some("04:00".to_owned()),
                    timezone: None,
                },
                ..FlagOverrides::default()
            };
            let raw = load(path, true, &flags).unwrap();
            assert_eq!(raw.schedule.at, "04:00");
            assert_eq!(raw.schedule.timezone, "America/Sao_Paulo");
            assert_eq!(raw.schedule.max_catch_up_days, 7);
            assert_eq!(origin(&raw, "schedule.at", path), "--at");
            assert_eq!(origin(&raw, "schedule.timezone", path), "pipeline.toml");
            let flags = FlagOverrides {
                data_dir: Some(PathBuf::from("from-flag")),
                schedule: ScheduleFlags {
                    at: None,
                    timezone: Some("UTC".to_owned()),
                },
            };
            let raw = load(path, true, &flags).unwrap();
            assert_eq!(raw.schedule.at, "03:00");
            assert_eq!(raw.schedule.timezone, "UTC");
            assert_eq!(origin(&raw, "schedule.timezone", path), "--timezone");
            assert_eq!(origin(&raw, "data_dir", path), "--data-dir");
            Ok(())
        });
    }

    #[test]
    fn errors_from_the_environment_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pipeline.toml", "")?;
            jail.set_env("PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS", "soon");
            let errors =
                load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap_err();
            assert_eq!(
                errors,
                vec![
                    "environment variable PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS: invalid type: found string \"soon\", expected u64"
                ]
            );
            jail.set_env("PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS", "3");
            jail.set_env("DATABASE_URL", "mysql://me:secret@h/db");
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap();
            assert_eq!(
                origin(&raw, "database.url", Path::new("pipeline.toml")),
                "environment variable DATABASE_URL"
            );
            assert_eq!(
                origin(
                    &raw,
                    "database.connect_timeout_secs",
                    Path::new("pipeline.toml")
                ),
                "environment variable PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS"
            );
            assert_eq!(
                origin(&raw, "schedule.at", Path::new("pipeline.toml")),
                "pipeline.toml"
            );
            Ok(())
        });
    }

    #[test]
    fn a_toml_syntax_error_never_shows_the_password() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pipeline.toml",
                "[database]\nurl = \"postgres://shop:s3cr%40t@db:5432/shop\" extra\n",
            )?;
            let errors =
                load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert!(!errors[0].contains("s3cr"), "{}", errors[0]);
            assert!(
                errors[0].contains("postgres://shop:***@db:5432/shop"),
                "{}",
                errors[0]
            );
            Ok(())
        });
    }

    #[test]
    fn passwords_are_masked_in_any_text() {
        assert_eq!(
            mask_passwords(
                "url = \"postgres://u:p@ss:w@h:1/db\" and postgresql://v:x@h2 and http://h/x"
            ),
            "url = \"postgres://u:***@h:1/db\" and postgresql://v:***@h2 and http://h/x"
        );
        assert_eq!(mask_passwords("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_passwords("no url"), "no url");
    }

    #[test]
    fn defaults_apply_when_the_file_is_silent() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pipeline.toml", "")?;
            let raw = load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap();
            assert_eq!(
                raw.database.url,
                "postgres://postgres@localhost:5432/ecommerce"
            );
            assert_eq!(raw.database.connect_timeout_secs, 10);
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_and_unknown_keys_are_reported() {
        figment::Jail::expect_with(|jail| {
            let errors = load(Path::new("nope.toml"), true, &FlagOverrides::default()).unwrap_err();
            assert_eq!(
                errors,
                vec!["nope.toml: file not found (pass --config PATH to use another file)"]
            );
            // Not named: the built-in pipeline.
            let raw = load(Path::new("nope.toml"), false, &FlagOverrides::default()).unwrap();
            assert_eq!(raw.stages.len(), 4);
            jail.create_file("pipeline.toml", "[database]\nurll = \"x\"\n")?;
            let errors =
                load(Path::new("pipeline.toml"), true, &FlagOverrides::default()).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert!(
                errors[0].contains("database: unknown field \"urll\""),
                "{errors:?}"
            );
            Ok(())
        });
    }
}
