//! How long a presigned URL should live.
//!
//! A single-PUT URL lives `max(15 min, time to send the object at the floor bandwidth × 1.5)`;
//! a part URL lives 1 h. Both are capped at 7 days (SigV4's limit) and at the expiry of the
//! credentials that sign them, minus a margin, because a URL never outlives its credentials.
//! Expiry is checked when a request starts, and part URLs are re-signed on expiry, so short
//! TTLs cost nothing.

use std::time::Duration;

use crate::time::Timestamp;

/// The longest lifetime SigV4 allows a presigned URL: 7 days.
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(604_800);

/// Which URL a TTL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlKind {
    /// A single PUT of `size` bytes.
    SinglePut {
        /// The object size in bytes.
        size: u64,
    },
    /// One part of a multipart upload (signed just before use).
    Part,
    /// A control call (create, complete, list…), sent at once.
    Control,
}

/// The TTL rules. Every default is written once, in [`TtlPolicy::default`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TtlPolicy {
    /// The slowest link to plan for, in bits per second (1 Mbit/s).
    pub floor_bandwidth_bps: u64,
    /// Safety factor on the transfer time (1.5).
    pub transfer_factor: f64,
    /// The shortest single-PUT TTL (15 min).
    pub min_single_put: Duration,
    /// A part URL's TTL (1 h).
    pub part: Duration,
    /// A control call's TTL (5 min).
    pub control: Duration,
    /// No URL lives longer (7 days).
    pub cap: Duration,
    /// URLs end this long before the signing credentials expire (5 min).
    pub credentials_margin: Duration,
    /// Below this the URL is useless and the policy reports an error instead (1 min).
    pub min_useful: Duration,
}

impl Default for TtlPolicy {
    fn default() -> Self {
        TtlPolicy {
            floor_bandwidth_bps: 1_000_000,
            transfer_factor: 1.5,
            min_single_put: Duration::from_secs(15 * 60),
            part: Duration::from_secs(3600),
            control: Duration::from_secs(300),
            cap: MAX_PRESIGN_TTL,
            credentials_margin: Duration::from_secs(300),
            min_useful: Duration::from_secs(60),
        }
    }
}

/// Why no TTL satisfies the policy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TtlError {
    /// The credentials expire too soon to sign a useful URL.
    #[error(
        "credentials expire at {expires_at}, {remaining_secs} s from now; after the {margin_secs} s margin fewer than the minimum {min_secs} s remain for the URL"
    )]
    CredentialsExpireTooSoon {
        /// When the credentials expire.
        expires_at: Timestamp,
        /// Seconds from now to their expiry (negative once expired).
        remaining_secs: i64,
        /// The policy's margin.
        margin_secs: u64,
        /// The policy's minimum useful TTL.
        min_secs: u64,
    },
    /// A field of the policy is unusable.
    #[error("invalid TTL policy: {0}")]
    InvalidPolicy(&'static str),
}

impl TtlPolicy {
    /// Sets the floor bandwidth in bits per second.
    pub fn with_floor_bandwidth_bps(mut self, bps: u64) -> Self {
        self.floor_bandwidth_bps = bps;
        self
    }

    /// Sets the part URL TTL.
    pub fn with_part_ttl(mut self, ttl: Duration) -> Self {
        self.part = ttl;
        self
    }

    /// Sets the margin kept before the credentials' expiry.
    pub fn with_credentials_margin(mut self, margin: Duration) -> Self {
        self.credentials_margin = margin;
        self
    }

    /// The TTL for a URL of `kind` signed at `now` by credentials expiring at
    /// `credentials_expire_at` (`None` for long-lived keys). Whole seconds, 1 s to 7 days.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hoist_core::{time::Timestamp, ttl::{TtlPolicy, UrlKind}};
    /// let policy = TtlPolicy::default();
    /// let now = Timestamp::from_unix(1_700_000_000);
    /// // 1 GiB at 1 Mbit/s takes 8,590 s; × 1.5 = 12,885 s.
    /// let ttl = policy.ttl(UrlKind::SinglePut { size: 1 << 30 }, now, None).unwrap();
    /// assert_eq!(ttl, Duration::from_secs(12_885));
    /// ```
    pub fn ttl(
        &self,
        kind: UrlKind,
        now: Timestamp,
        credentials_expire_at: Option<Timestamp>,
    ) -> Result<Duration, TtlError> {
        self.validate()?;
        let wanted = match kind {
            UrlKind::SinglePut { size } => {
                let secs =
                    size as f64 * 8.0 / self.floor_bandwidth_bps as f64 * self.transfer_factor;
                self.min_single_put
                    .max(Duration::from_secs(secs.ceil().min(u64::MAX as f64) as u64))
            }
            UrlKind::Part => self.part,
            UrlKind::Control => self.control,
        };
        let mut ttl = wanted.min(self.cap).min(MAX_PRESIGN_TTL);
        if let Some(expires_at) = credentials_expire_at {
            let remaining_ms = expires_at.millis_since(now);
            let margin_ms = i64::try_from(self.credentials_margin.as_millis()).unwrap_or(i64::MAX);
            let usable =
                Duration::from_millis(remaining_ms.saturating_sub(margin_ms).max(0) as u64);
            if usable < self.min_useful.max(Duration::from_secs(1)) {
                return Err(TtlError::CredentialsExpireTooSoon {
                    expires_at,
                    remaining_secs: remaining_ms.div_euclid(1000),
                    margin_secs: self.credentials_margin.as_secs(),
                    min_secs: self.min_useful.as_secs(),
                });
            }
            ttl = ttl.min(usable);
        }
        // SigV4 counts whole seconds; never round up past a cap.
        Ok(Duration::from_secs(ttl.as_secs().max(1)))
    }

    /// Checks that every field is usable.
    pub fn validate(&self) -> Result<(), TtlError> {
        if self.floor_bandwidth_bps == 0 {
            return Err(TtlError::InvalidPolicy(
                "floor bandwidth must be above 0 bit/s",
            ));
        }
        if !(self.transfer_factor.is_finite() && self.transfer_factor >= 1.0) {
            return Err(TtlError::InvalidPolicy(
                "transfer factor must be a finite number of at least 1",
            ));
        }
        if self.part.as_secs() == 0 || self.control.as_secs() == 0 || self.cap.as_secs() == 0 {
            return Err(TtlError::InvalidPolicy(
                "part, control and cap TTLs must be at least 1 s",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix(1_700_000_000);

    fn secs(d: Duration) -> u64 {
        d.as_secs()
    }

    #[test]
    fn single_put_floor_and_bandwidth() {
        let p = TtlPolicy::default();
        assert_eq!(
            secs(p.ttl(UrlKind::SinglePut { size: 0 }, NOW, None).unwrap()),
            900
        );
        // 100 MiB: 838.9 s × 1.5 = 1,258.3 s → 1,259 s.
        assert_eq!(
            secs(
                p.ttl(UrlKind::SinglePut { size: 100 << 20 }, NOW, None)
                    .unwrap()
            ),
            1259
        );
        // 5 GiB: 42,949.7 s × 1.5 → 64,425 s.
        assert_eq!(
            secs(
                p.ttl(UrlKind::SinglePut { size: 5 << 30 }, NOW, None)
                    .unwrap()
            ),
            64_425
        );
        let slow = p.with_floor_bandwidth_bps(1_000);
        assert_eq!(
            secs(
                slow.ttl(UrlKind::SinglePut { size: 5 << 30 }, NOW, None)
                    .unwrap()
            ),
            604_800
        );
        assert_eq!(secs(p.ttl(UrlKind::Part, NOW, None).unwrap()), 3600);
        assert_eq!(secs(p.ttl(UrlKind::Control, NOW, None).unwrap()), 300);
    }

    #[test]
    fn capped_by_credentials() {
        let p = TtlPolicy::default();
        let exp = NOW.plus(Duration::from_secs(1800));
        assert_eq!(secs(p.ttl(UrlKind::Part, NOW, Some(exp)).unwrap()), 1500);
        let exp = NOW.plus(Duration::from_secs(330));
        let err = p.ttl(UrlKind::Part, NOW, Some(exp)).unwrap_err();
        assert!(matches!(
            err,
            TtlError::CredentialsExpireTooSoon {
                remaining_secs: 330,
                ..
            }
        ));
        assert!(err.to_string().contains("330 s from now"), "{err}");
        let expired = NOW.minus(Duration::from_secs(10));
        assert!(p.ttl(UrlKind::Control, NOW, Some(expired)).is_err());
    }

    #[test]
    fn invalid_policies() {
        let p = TtlPolicy::default().with_floor_bandwidth_bps(0);
        assert!(matches!(
            p.ttl(UrlKind::Part, NOW, None),
            Err(TtlError::InvalidPolicy(_))
        ));
        let p = TtlPolicy {
            transfer_factor: 0.5,
            ..TtlPolicy::default()
        };
        assert!(p.ttl(UrlKind::Part, NOW, None).is_err());
    }
}
