//! Fault injection and the store's clock.
//!
//! Faults are off by default. They live behind one lock so the admin endpoint and the
//! embedding handle can change them while the store runs; each connection and request reads
//! the current values when it needs them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use hoist_core::time::Timestamp;
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
    /// Makes the fault rolls a reproducible sequence: setting faults with a seed restarts
    /// the sequence, so the n-th roll after that is the same in every run. `None` draws
    /// from the operating system's random source.
    pub seed: Option<u64>,
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

/// How many faults the store has injected since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFaults {
    /// Requests answered `500 InternalError`.
    pub errors_500: u64,
    /// Requests answered `503 SlowDown`.
    pub slow_downs: u64,
    /// Connections doomed to be cut mid-body.
    pub cuts: u64,
}

impl InjectedFaults {
    /// All injected faults together.
    pub fn total(&self) -> u64 {
        self.errors_500 + self.slow_downs + self.cuts
    }
}

/// Which fault a roll is for, so it can be counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FaultKind {
    Error500,
    SlowDown,
    Cut,
}

#[derive(Debug, Default)]
struct Counters {
    errors_500: AtomicU64,
    slow_downs: AtomicU64,
    cuts: AtomicU64,
    /// State of the seeded sequence (splitmix64); used only while `Faults::seed` is set.
    rng: AtomicU64,
}

/// Shared, changeable faults. Cloning shares the same state.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    inner: Arc<RwLock<Faults>>,
    counters: Arc<Counters>,
}

impl FaultControl {
    pub(crate) fn new(faults: Faults) -> Self {
        let control = Self::default();
        control
            .counters
            .rng
            .store(faults.seed.unwrap_or(0), Ordering::SeqCst);
        *control
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
        control
    }

    /// The faults injected so far.
    pub fn injected(&self) -> InjectedFaults {
        let c = &self.counters;
        InjectedFaults {
            errors_500: c.errors_500.load(Ordering::Relaxed),
            slow_downs: c.slow_downs.load(Ordering::Relaxed),
            cuts: c.cuts.load(Ordering::Relaxed),
        }
    }

    /// A uniform number in [0, 1): the seeded sequence when a seed is set, else the OS's.
    pub(crate) fn chance(&self) -> f64 {
        if self.get().seed.is_none() {
            return chance();
        }
        let state = self
            .counters
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let value = (z >> 11) as f64 / (1u64 << 53) as f64;
        value
    }

    /// True with probability `fraction`; a hit is counted as a fault of `kind`.
    pub(crate) fn roll(&self, fraction: f64, kind: FaultKind) -> bool {
        let hit = fraction > 0.0 && self.chance() < fraction;
        if hit {
            let c = &self.counters;
            match kind {
                FaultKind::Error500 => &c.errors_500,
                FaultKind::SlowDown => &c.slow_downs,
                FaultKind::Cut => &c.cuts,
            }
            .fetch_add(1, Ordering::Relaxed);
        }
        hit
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
        if let Some(seed) = faults.seed {
            self.counters.rng.store(seed, Ordering::SeqCst);
        }
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

    /// Now as a UTC [`Timestamp`], for the forms S3 writes dates in.
    pub fn now_utc(&self) -> Timestamp {
        Timestamp::from(self.now())
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
        assert!(!control.roll(0.0, FaultKind::Cut));
        assert!(control.roll(1.0, FaultKind::Cut));
        assert_eq!(control.injected().cuts, 1);
    }

    #[test]
    fn a_seed_makes_the_rolls_repeat() {
        let seeded = Faults {
            seed: Some(7),
            ..Faults::default()
        };
        let control = FaultControl::new(seeded);
        let first: Vec<f64> = (0..16).map(|_| control.chance()).collect();
        control.set(seeded).unwrap();
        let again: Vec<f64> = (0..16).map(|_| control.chance()).collect();
        assert_eq!(first, again);
        assert!(first.iter().all(|v| (0.0..1.0).contains(v)));
        // A seeded stream still looks uniform: about a tenth of 10,000 rolls hit 0.1.
        let hits = (0..10_000)
            .filter(|_| control.roll(0.1, FaultKind::Error500))
            .count();
        assert!((800..1200).contains(&hits), "{hits} hits");
        assert_eq!(control.injected().errors_500, hits as u64);
    }
}
