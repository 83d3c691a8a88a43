//! Sizes and durations as people type and read them: `10MiB`, `5GiB`, `100MB`; `90s`, `30m`,
//! `24h`, `7d`. Every setting and message of hoist goes through these.
//!
//! ```
//! use hoist_core::units::{format_bytes, parse_size};
//!
//! assert_eq!(parse_size("8MiB"), Ok(8 << 20));
//! assert_eq!(format_bytes(3 << 29), "1.5 GiB");
//! ```

use std::time::Duration;

/// A duration that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: expected a whole number with ms, s, m, h or d (500ms, 90s, 30m, 24h, 7d)"
)]
#[non_exhaustive]
pub struct ParseDurationError {
    /// The rejected text.
    pub input: String,
}

/// Parses `500ms`, `90s`, `30m`, `24h`, `7d`, or several of them run together (`1h30m`).
///
/// A bare number is refused: `24` could be hours or seconds, and `hoist gc` must not guess.
pub fn parse_duration(text: &str) -> Result<Duration, ParseDurationError> {
    let err = || ParseDurationError {
        input: text.to_owned(),
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(err());
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| err())?;
        let unit_text = &rest[digits..];
        let (millis, unit_len) = if unit_text.starts_with("ms") {
            (1, 2)
        } else {
            let millis = match unit_text.chars().next() {
                Some('s') => 1_000,
                Some('m') => 60_000,
                Some('h') => 3_600_000,
                Some('d') => 86_400_000,
                _ => return Err(err()),
            };
            (millis, 1)
        };
        total_ms = number
            .checked_mul(millis)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(err)?;
        rest = &unit_text[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// A size that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid size {input:?}: expected a whole number of bytes, optionally with KiB, MiB, GiB, TiB (binary) or KB, MB, GB, TB (decimal)"
)]
#[non_exhaustive]
pub struct ParseSizeError {
    /// The rejected text.
    pub input: String,
}

/// Parses a byte count: `1048576`, `64k`, `10MiB`, `5GiB`, `100MB` (binary for `KiB`/`k`
/// and the like, decimal for `KB`/`MB`/`GB`/`TB`; any case; a space before the unit is
/// allowed).
pub fn parse_size(text: &str) -> Result<u64, ParseSizeError> {
    let err = || ParseSizeError {
        input: text.to_owned(),
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(err()),
    };
    number.checked_mul(multiplier).ok_or_else(err)
}

/// Writes a duration the way people read it: `45 s`, `12 min 30 s`, `3 h 5 min`, `2 d 4 h`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        if d.subsec_millis() > 0 && s < 10 {
            return format!("{:.1} s", d.as_secs_f64());
        }
        return format!("{s} s");
    }
    let (days, hours, mins, secs) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (days, hours) {
        (0, 0) if secs == 0 => format!("{mins} min"),
        (0, 0) => format!("{mins} min {secs} s"),
        (0, h) if mins == 0 => format!("{h} h"),
        (0, h) => format!("{h} h {mins} min"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// Writes a byte count in binary units: `512 B`, `5.0 MiB`, `1.5 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn refuses_what_it_cannot_place() {
        for bad in [
            "",
            "24",
            "h",
            "1.5h",
            "10w",
            "-5m",
            "5 m",
            "99999999999999999999d",
            "1h30",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn reads_sizes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("5 GiB"), Ok(5 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("2tb"), Ok(2_000_000_000_000));
        for bad in [
            "",
            "ten",
            "10XB",
            "-1",
            "1.5GiB",
            "99999999999999999999",
            "20000000TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn writes_durations_and_sizes() {
        assert_eq!(format_duration(Duration::from_secs(45)), "45 s");
        assert_eq!(format_duration(Duration::from_millis(2_500)), "2.5 s");
        assert_eq!(format_duration(Duration::from_secs(750)), "12 min 30 s");
        assert_eq!(format_duration(Duration::from_secs(600)), "10 min");
        assert_eq!(
            format_duration(Duration::from_secs(3 * 3600 + 300)),
            "3 h 5 min"
        );
        assert_eq!(
            format_duration(Duration::from_secs(2 * 86_400 + 4 * 3600)),
            "2 d 4 h"
        );
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(format_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
