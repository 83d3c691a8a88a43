//! The settings model: a command declares each of its settings once, with [`settings!`]: name
//! and type, default, help, variable, optionally a flag name, a fallback variable and a value
//! name. The declaration generates the clap arguments (their help shows the default that is
//! used), the typed TOML file (its keys are the setting names), the resolved settings, the
//! resolver and the rows of the settings table in the README.
//!
//! Resolution takes, for each setting, the first of: its flag; its variable; its key in the
//! `--config` file; its fallback variable (`AWS_REGION` and the like); its default. An empty
//! variable counts as unset. A value that does not parse is an error that names the setting and
//! where the value came from; so is an unknown key in the file.

mod declare;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) use declare::settings;
pub use value::{Proxy, Scalar, Setting, Shape, Size};

/// Reads a variable. `None` when it is unset or empty.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as [`Env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// One setting as declared: everything but its value.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The setting's name: its TOML key, and its flag with `-` for `_` unless `flag` says.
    pub key: &'static str,
    /// The flag's name when it is not the key's (`api-key` for `api_keys`).
    pub flag: Option<&'static str>,
    /// The variable read after the flag.
    pub env: &'static str,
    /// Variables read after the file, in order (`AWS_REGION` after `HOIST_REGION` and `region`).
    pub fallback: &'static [&'static str],
    /// What the flag's value is called in `--help`.
    pub value_name: Option<&'static str>,
    /// One line of help.
    pub help: String,
    /// How the flag takes values.
    pub shape: Shape,
    /// What applies when nothing sets it.
    pub default: Option<DefaultText>,
    /// Whether resolution fails when nothing sets it.
    pub required: bool,
}

/// A setting's default, as shown in `--help` and the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultText {
    /// A value, written as it would be typed (`127.0.0.1:8080`, `100MiB`).
    Value(String),
    /// What happens instead, in words ("the embedded store").
    Said(String),
}

impl Spec {
    /// The flag's name: `api-key`, `store-listen`.
    pub fn flag_name(&self) -> String {
        match self.flag {
            Some(flag) => flag.to_owned(),
            None => self.key.replace('_', "-"),
        }
    }

    /// The flag, `--` included.
    pub fn flag(&self) -> String {
        format!("--{}", self.flag_name())
    }

    /// The default as `--help` shows it, the fallback variables first.
    pub fn default_text(&self) -> Option<String> {
        let default = self.default.as_ref().map(|d| match d {
            DefaultText::Value(v) | DefaultText::Said(v) => v.clone(),
        });
        let vars = self.fallback.iter().map(|v| v.to_string()).collect();
        with_fallback(vars, default)
    }

    /// The clap argument: help with the default and the variable, and the shape's parsing.
    pub fn arg(&self) -> clap::Arg {
        let mut help = self.help.clone();
        if let Some(d) = self.default_text() {
            help.push_str(&format!(" [default: {d}]"));
        }
        if self.required {
            help.push_str(" [required]");
        }
        help.push_str(&format!(" [env: {}]", self.env));
        let mut arg = clap::Arg::new(self.key).long(self.flag_name()).help(help);
        arg = match self.value_name {
            Some(name) => arg.value_name(name),
            None => arg.value_name(self.key.to_uppercase()),
        };
        match self.shape {
            Shape::One => arg
                .action(clap::ArgAction::Set)
                .allow_negative_numbers(true),
            Shape::List => arg.action(clap::ArgAction::Append).value_delimiter(','),
            Shape::Switch => arg
                .action(clap::ArgAction::Set)
                .num_args(0..=1)
                .default_missing_value("true"),
        }
    }

    fn bad(&self, source: Source, why: String) -> Error {
        Error::BadValue {
            setting: self.key,
            from: source,
            why,
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flag (`--listen`).
    Flag(String),
    /// A variable (`HOIST_LISTEN`, or a fallback such as `AWS_REGION`).
    Var(&'static str),
    /// The `--config` file.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Var(var) => write!(f, "variable {var}"),
            Source::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Why settings could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{setting} (from {from}): {why}")]
    BadValue {
        setting: &'static str,
        from: Source,
        why: String,
    },
    #[error("{}: unknown key `{key}` (the keys are {})", path.display(), known.join(", "))]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: Vec<&'static str>,
    },
    #[error("{flag} is required (or {env})")]
    Missing { flag: String, env: &'static str },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {}: {why}", path.display())]
    Parse { path: PathBuf, why: String },
    #[error("{0}")]
    Usage(String),
}

/// The typed values of a command's TOML file, generated by [`settings!`].
pub trait Layer: Sized {
    /// Takes the values of `table`, read from `path`; any key left over is an error.
    fn from_table(table: toml::Table, path: &Path) -> Result<Self, Error>;
}

/// Reads a command's TOML file.
pub fn load_file<L: Layer>(path: &Path) -> Result<L, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Parse {
        path: path.to_owned(),
        why: e.to_string().trim_end().to_owned(),
    })?;
    L::from_table(table, path)
}

/// The values given on the command line for the argument `id`, as typed.
pub fn given(matches: &clap::ArgMatches, id: &str) -> Vec<String> {
    matches
        .get_many::<String>(id)
        .map(|values| values.cloned().collect())
        .unwrap_or_default()
}

/// Refuses a key of `table` that no setting has.
pub fn check_keys(table: &toml::Table, known: &[&'static str], path: &Path) -> Result<(), Error> {
    match table.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(Error::UnknownKey {
            path: path.to_owned(),
            key: key.clone(),
            known: known.to_vec(),
        }),
        None => Ok(()),
    }
}

/// The value of a setting's key in the file at `path`, when it has one.
pub fn from_file<T: Setting>(
    spec: &Spec,
    value: Option<toml::Value>,
    path: &Path,
) -> Result<Option<T>, Error> {
    value
        .map(|v| T::from_toml(&v).map_err(|why| spec.bad(Source::File(path.to_owned()), why)))
        .transpose()
}

/// One setting resolved: the flag's values, else its variable, else the file's value, else its
/// fallback variable, else its default.
pub fn pick<T: Setting>(
    spec: &Spec,
    given: Vec<String>,
    env: Env<'_>,
    file: Option<T>,
    default: Option<T>,
) -> Result<T, Error> {
    if !given.is_empty() {
        return T::from_args(&given).map_err(|why| spec.bad(Source::Flag(spec.flag()), why));
    }
    if let Some(text) = env(spec.env) {
        return T::from_var(&text).map_err(|why| spec.bad(Source::Var(spec.env), why));
    }
    if let Some(value) = file {
        return Ok(value);
    }
    for &var in spec.fallback {
        if let Some(text) = env(var) {
            return T::from_var(&text).map_err(|why| spec.bad(Source::Var(var), why));
        }
    }
    default.ok_or_else(|| Error::Missing {
        flag: spec.flag(),
        env: spec.env,
    })
}

/// `AWS_REGION, AWS_DEFAULT_REGION, else us-east-1`.
fn with_fallback(vars: Vec<String>, default: Option<String>) -> Option<String> {
    match default {
        Some(d) if vars.is_empty() => Some(d),
        Some(d) => Some(format!("{}, else {d}", vars.join(", "))),
        None if vars.is_empty() => None,
        None => Some(vars.join(", ")),
    }
}

/// Joins a declaration's doc lines into one line of help, without the final period (as clap
/// shows doc comments).
pub fn help_line(lines: &[&str]) -> String {
    let line = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    line.strip_suffix('.').map(str::to_owned).unwrap_or(line)
}

/// A default for [`Spec`]: the words given, else the value shown.
pub fn default_of<T: Setting>(value: Option<T>, said: Option<String>) -> Option<DefaultText> {
    said.map(DefaultText::Said)
        .or_else(|| value.and_then(|v| v.show()).map(DefaultText::Value))
}

/// The settings table of the README: flag, variable, TOML key (when the command reads a file),
/// default and help, one row per setting.
pub fn markdown(specs: &[Spec], with_keys: bool) -> String {
    let code = |s: &str| format!("`{s}`");
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    if with_keys {
        out.push_str("| flag | variable | TOML key | default | what it sets |\n");
        out.push_str("|---|---|---|---|---|\n");
    } else {
        out.push_str("| flag | variable | default | what it sets |\n");
        out.push_str("|---|---|---|---|\n");
    }
    for spec in specs {
        let default = spec.default.as_ref().map(|d| match d {
            DefaultText::Value(v) => code(v),
            DefaultText::Said(words) => words.clone(),
        });
        let fallback = spec.fallback.iter().map(|v| code(v)).collect();
        let default = match with_fallback(fallback, default) {
            Some(d) => d,
            None if spec.required => "required".to_owned(),
            None => String::new(),
        };
        let mut row = vec![code(&spec.flag()), code(spec.env)];
        if with_keys {
            row.push(code(spec.key));
        }
        row.push(default);
        row.push(spec.help.clone());
        let row: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}
