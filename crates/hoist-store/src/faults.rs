//! Fault injection and the store's clock.
//!
//! Faults are off by default. They live behind one lock so the admin endpoint and the
//! embedding handle can change them while the store runs; each connection and request reads
//! the current values when it needs them.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The faults a running store injects. All zero / `None` means a faithful, healthy store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Per-connection bandwidth limit in bytes per second, each direction.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Latency added before every request is handled, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0.0..=1.0) of requests answered `500 InternalError`.
    pub error_500_fraction: f64,
    /// Fraction (0.0..=1.0) of requests answered `503 SlowDown`.
    pub slow_down_fraction: f64,
    /// Fraction (0.0..=1.0) of connections cut in the middle of a body.
    pub cut_fraction: f64,
    /// How many bytes (read plus written) a doomed connection carries before it is cut;
    /// `None` picks a random point between 16 KiB and 1 MiB.
    pub cut_after_bytes: Option<u64>,
    /// Offset of the store's clock from the machine's, in seconds (positive: store ahead).
    /// Moves every notion of "now": expiry and skew checks, `Date`, `LastModified`.
    pub clock_offset_secs: i64,
}

impl Faults {
    /// Rejects fractions outside 0..=1.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("error_500_fraction", self.error_500_fraction),
            ("slow_down_fraction", self.slow_down_fraction),
            ("cut_fraction", self.cut_fraction),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("{name} must be between 0 and 1, got {value}"));
            }
        }
        if self.bandwidth_bytes_per_sec == Some(0) {
            return Err("bandwidth_bytes_per_sec must be positive".into());
        }
        Ok(())
    }
}

/// Shared, changeable faults. Cloning shares the same state.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    inner: Arc<RwLock<Faults>>,
}

impl FaultControl {
    pub(crate) fn new(faults: Faults) -> Self {
        Self {
            inner: Arc::new(RwLock::new(faults)),
        }
    }

    /// The faults in force.
    pub fn get(&self) -> Faults {
        *self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the faults in force (new connections and requests see them at once).
    pub fn set(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
        Ok(())
    }

    /// Changes the faults in force with a closure.
    pub fn update(&self, change: impl FnOnce(&mut Faults)) -> Result<Faults, String> {
        let mut next = self.get();
        change(&mut next);
        self.set(next)?;
        Ok(next)
    }

    /// The store's clock, which follows `clock_offset_secs`.
    pub fn clock(&self) -> Clock {
        Clock {
            faults: self.clone(),
        }
    }
}

/// The store's notion of now: the machine's clock plus the configured offset.
#[derive(Debug, Clone)]
pub struct Clock {
    faults: FaultControl,
}

impl Clock {
    /// Now, as the store sees it.
    pub fn now(&self) -> SystemTime {
        let offset = self.faults.get().clock_offset_secs;
        let real = SystemTime::now();
        if offset >= 0 {
            real + Duration::from_secs(offset.unsigned_abs())
        } else {
            real - Duration::from_secs(offset.unsigned_abs())
        }
    }

    /// Now as a `time` value (UTC).
    pub fn now_utc(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from(self.now())
    }
}

/// A uniform random number in [0, 1).
pub(crate) fn chance() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    #[allow(clippy::cast_precision_loss)]
    let value = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    value
}

/// True with probability `fraction`.
pub(crate) fn roll(fraction: f64) -> bool {
    fraction > 0.0 && chance() < fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_follows_offset() {
        let control = FaultControl::new(Faults::default());
        let clock = control.clock();
        let real = SystemTime::now();
        control.update(|f| f.clock_offset_secs = 3600).unwrap();
        let ahead = clock.now().duration_since(real).unwrap();
        assert!(ahead >= Duration::from_secs(3600) && ahead < Duration::from_secs(3610));
        control.update(|f| f.clock_offset_secs = -3600).unwrap();
        assert!(clock.now() < real);
    }

    #[test]
    fn fractions_are_checked() {
        let control = FaultControl::default();
        assert!(control.update(|f| f.slow_down_fraction = 1.5).is_err());
        assert!(control.update(|f| f.slow_down_fraction = 0.5).is_ok());
        assert!(!roll(0.0));
        assert!(roll(1.0));
    }
}
