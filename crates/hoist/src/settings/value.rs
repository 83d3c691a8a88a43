//! The kinds of value a setting holds, and how each is read from a flag, a variable and the
//! TOML file, and shown as a default.

use std::net::SocketAddr;
use std::path::PathBuf;

use hoist_core::time::Timestamp;
use hoist_core::units::parse_size;
use hoist_server::{HookSecret, TokenSecret};

/// How a setting's flag takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value: `--listen ADDR`.
    One,
    /// Any number, repeated or comma-separated: `--api-key a --api-key b,c`.
    List,
    /// A boolean whose value may be left out: `--anonymous` is `--anonymous=true`.
    Switch,
}

/// One value of a setting, read from text.
pub trait Scalar: Sized {
    /// [`Shape::Switch`] for booleans, [`Shape::One`] for the rest.
    const SHAPE: Shape = Shape::One;
    /// Reads the value as typed; the error names the text and what was expected.
    fn parse(text: &str) -> Result<Self, String>;
    /// The value as it would be typed.
    fn show(&self) -> String;
}

/// What a setting resolves to: a [`Scalar`], an `Option` of one (unset unless given) or a `Vec`
/// of them (a list, empty unless given).
pub trait Setting: Sized {
    /// How its flag takes values.
    const SHAPE: Shape;
    /// From the values of its flag (a list's already split at commas).
    fn from_args(values: &[String]) -> Result<Self, String>;
    /// From its variable (a list's items separated by commas).
    fn from_var(text: &str) -> Result<Self, String>;
    /// From its key in the TOML file: a value reads as its text would, a list is an array.
    fn from_toml(value: &toml::Value) -> Result<Self, String>;
    /// The value as a default in `--help`; `None` when there is nothing to show.
    fn show(&self) -> Option<String>;
    /// The value when nothing sets it and no default is declared; `None`: required.
    fn absent() -> Option<Self> {
        None
    }
}

/// The text of a single TOML value, as it would be typed on the command line.
fn toml_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a single value, found {}",
            other.type_str()
        )),
    }
}

impl<T: Scalar> Setting for T {
    const SHAPE: Shape = T::SHAPE;
    fn from_args(values: &[String]) -> Result<Self, String> {
        // One value: clap refuses a second.
        T::parse(values.last().map(String::as_str).unwrap_or_default())
    }
    fn from_var(text: &str) -> Result<Self, String> {
        T::parse(text)
    }
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        T::parse(&toml_text(value)?)
    }
    fn show(&self) -> Option<String> {
        Some(T::show(self))
    }
}

impl<T: Scalar> Setting for Option<T> {
    const SHAPE: Shape = T::SHAPE;
    fn from_args(values: &[String]) -> Result<Self, String> {
        T::parse(values.last().map(String::as_str).unwrap_or_default()).map(Some)
    }
    fn from_var(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        T::parse(&toml_text(value)?).map(Some)
    }
    fn show(&self) -> Option<String> {
        self.as_ref().map(T::show)
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Scalar> Setting for Vec<T> {
    const SHAPE: Shape = Shape::List;
    fn from_args(values: &[String]) -> Result<Self, String> {
        values.iter().map(|v| T::parse(v)).collect()
    }
    fn from_var(text: &str) -> Result<Self, String> {
        text.split(',').map(T::parse).collect()
    }
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Array(items) => items.iter().map(|v| T::parse(&toml_text(v)?)).collect(),
            other => Err(format!("expected an array, found {}", other.type_str())),
        }
    }
    fn show(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.iter().map(T::show).collect::<Vec<_>>().join(","))
    }
    fn absent() -> Option<Self> {
        Some(Vec::new())
    }
}

impl Scalar for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl Scalar for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(PathBuf::from(text))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl Scalar for SocketAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("invalid address {text:?}: expected IP:PORT, e.g. 127.0.0.1:8080"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Scalar for bool {
    const SHAPE: Shape = Shape::Switch;
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("invalid value {text:?}: expected true or false")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Scalar for u64 {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("invalid number {text:?}: expected a whole number"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Scalar for i64 {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("invalid number {text:?}: expected a whole number"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Scalar for f64 {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("invalid number {text:?}: expected a decimal number"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Scalar for TokenSecret {
    fn parse(text: &str) -> Result<Self, String> {
        TokenSecret::new(text).map_err(|e| e.to_string())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl Scalar for HookSecret {
    fn parse(text: &str) -> Result<Self, String> {
        HookSecret::parse(text).map_err(|e| e.to_string())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// A trusted reverse proxy: an address or a CIDR block, checked when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy(pub String);

impl Scalar for Proxy {
    fn parse(text: &str) -> Result<Self, String> {
        hoist_server::proxies::TrustedProxies::parse(&[text])?;
        Ok(Self(text.trim().to_owned()))
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

impl Scalar for Timestamp {
    fn parse(text: &str) -> Result<Self, String> {
        Timestamp::parse_rfc3339(text).map_err(|_| {
            format!("invalid time {text:?}: expected RFC 3339, e.g. 2026-01-01T00:00:00Z")
        })
    }
    fn show(&self) -> String {
        self.to_rfc3339()
    }
}

/// A byte count, typed as `10MiB`, `5GiB`, `100MB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl Size {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl Scalar for Size {
    fn parse(text: &str) -> Result<Self, String> {
        parse_size(text).map(Size).map_err(|e| e.to_string())
    }
    /// The largest binary unit that writes it exactly: `8MiB`, `50000GiB`, `1000`.
    fn show(&self) -> String {
        const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
        for (unit, shift) in UNITS {
            let one = 1u64 << shift;
            if self.0 >= one && self.0.is_multiple_of(one) {
                return format!("{}{unit}", self.0 / one);
            }
        }
        self.0.to_string()
    }
}
