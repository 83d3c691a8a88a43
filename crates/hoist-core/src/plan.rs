//! Upload planning: single PUT or multipart, the part size, the part count and every part's
//! byte range, from an object size and a [`PlanPolicy`].
//!
//! The rules (S3's limits, and the invariants in ARCHITECTURE.md):
//! - single PUT at or below the policy's threshold (100 MiB by default), never above 5 GiB;
//! - otherwise multipart, starting from the policy's part size (8 MiB by default) and growing it
//!   in whole MiB until the object fits in 10,000 parts;
//! - every part is within 5 MiB–5 GiB except the last, which may be smaller;
//! - objects up to 10,000 × 5 GiB (48.8 TiB); beyond that, [`PlanError::ObjectTooLarge`].

use serde::Serialize;

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;
/// One gibibyte.
pub const GIB: u64 = 1024 * MIB;
/// The most parts a multipart upload may have.
pub const MAX_PARTS: u32 = 10_000;
/// The smallest part S3 accepts, except for the last part.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// The largest single PUT S3 accepts.
pub const MAX_SINGLE_PUT: u64 = 5 * GIB;
/// The largest object: 10,000 parts of 5 GiB (48.8 TiB).
pub const MAX_OBJECT_SIZE: u64 = MAX_PARTS as u64 * MAX_PART_SIZE;

/// The default single-PUT threshold: objects at or below it go in one PUT.
pub const DEFAULT_SINGLE_PUT_THRESHOLD: u64 = 100 * MIB;
/// The default starting part size.
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;

/// How large an object is, as far as the uploader knows before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ObjectSize {
    /// The exact size in bytes (a file).
    Known(u64),
    /// A stream of unknown length, with an optional estimate used to pick a smaller part size.
    Unknown {
        /// The expected size in bytes, if the caller has a guess.
        expected: Option<u64>,
    },
}

/// The knobs of the planner. Every default is written once, in [`PlanPolicy::default`].
///
/// ```
/// use hoist_core::plan::{PlanPolicy, MIB};
/// let policy = PlanPolicy::default().with_single_put_threshold(16 * MIB).with_part_size(16 * MIB);
/// assert_eq!(policy.part_size, 16 * MIB);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct PlanPolicy {
    /// Objects of at most this many bytes are sent in one PUT. At most [`MAX_SINGLE_PUT`].
    pub single_put_threshold: u64,
    /// The starting part size, within [`MIN_PART_SIZE`]–[`MAX_PART_SIZE`].
    pub part_size: u64,
    /// The most parts a plan may use, 1–[`MAX_PARTS`] (lower it for stores with a smaller limit).
    pub max_parts: u32,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy {
            single_put_threshold: DEFAULT_SINGLE_PUT_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            max_parts: MAX_PARTS,
        }
    }
}

impl PlanPolicy {
    /// Sets the single-PUT threshold in bytes.
    pub fn with_single_put_threshold(mut self, bytes: u64) -> Self {
        self.single_put_threshold = bytes;
        self
    }

    /// Sets the starting part size in bytes.
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Sets the largest part count a plan may use.
    pub fn with_max_parts(mut self, parts: u32) -> Self {
        self.max_parts = parts;
        self
    }

    /// Checks the policy against S3's limits.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.single_put_threshold > MAX_SINGLE_PUT {
            return Err(PlanError::ThresholdTooLarge {
                threshold: self.single_put_threshold,
            });
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(PlanError::PartSizeOutOfRange {
                part_size: self.part_size,
            });
        }
        if !(1..=MAX_PARTS).contains(&self.max_parts) {
            return Err(PlanError::MaxPartsOutOfRange {
                max_parts: self.max_parts,
            });
        }
        Ok(())
    }

    /// The largest object this policy can plan: `max_parts` parts of 5 GiB.
    pub fn max_object_size(&self) -> u64 {
        u64::from(self.max_parts) * MAX_PART_SIZE
    }
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The object is larger than `max_parts` × 5 GiB.
    #[error(
        "object of {size} bytes exceeds the largest uploadable object, {max} bytes ({parts} parts of 5 GiB)"
    )]
    ObjectTooLarge {
        /// The object size asked for.
        size: u64,
        /// The largest size the policy can plan.
        max: u64,
        /// The policy's part limit.
        parts: u32,
    },
    /// The single-PUT threshold is above S3's 5 GiB single-PUT limit.
    #[error(
        "single-PUT threshold of {threshold} bytes is above S3's limit of 5 GiB (5368709120 bytes)"
    )]
    ThresholdTooLarge {
        /// The threshold asked for.
        threshold: u64,
    },
    /// The part size is outside 5 MiB–5 GiB.
    #[error(
        "part size of {part_size} bytes is outside S3's range of 5 MiB to 5 GiB (5242880 to 5368709120 bytes)"
    )]
    PartSizeOutOfRange {
        /// The part size asked for.
        part_size: u64,
    },
    /// The part limit is outside 1–10,000.
    #[error("part limit of {max_parts} is outside S3's range of 1 to 10000")]
    MaxPartsOutOfRange {
        /// The part limit asked for.
        max_parts: u32,
    },
}

/// One PUT, or a multipart upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// A single PUT of the whole object.
    Single,
    /// CreateMultipartUpload, UploadPart × n, CompleteMultipartUpload.
    Multipart,
}

/// One part of a plan: its 1-based number and its byte range in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Part {
    /// The S3 part number, starting at 1.
    pub number: u32,
    /// The offset of the part's first byte in the object.
    pub offset: u64,
    /// The number of bytes in the part.
    pub length: u64,
}

impl Part {
    /// The offset one past the part's last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// The outcome of planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Single PUT or multipart.
    pub strategy: Strategy,
    /// The object size, when known.
    pub object_size: Option<u64>,
    /// The size of every part but the last. For a single PUT, the object size.
    pub part_size: u64,
    /// The number of parts, when the size is known (1 for a single PUT).
    pub part_count: Option<u32>,
    /// The most parts this upload may use; with `part_size` it bounds a stream's length.
    pub max_parts: u32,
}

impl Plan {
    /// The plan of an object of `size` bytes cut in parts of `part_size`, as one that
    /// [`plan`] made is recorded (an upload token keeps the strategy, the size and the part
    /// size). `None` when they cannot describe a plan: a single PUT whose part is not the whole
    /// object, or a multipart one with no part or more than [`MAX_PARTS`].
    ///
    /// ```
    /// use hoist_core::plan::{plan, ObjectSize, Plan, PlanPolicy, Strategy, MIB};
    /// let made = plan(ObjectSize::Known(200 * MIB + 1), &PlanPolicy::default()).unwrap();
    /// let again = Plan::from_part_size(Strategy::Multipart, 200 * MIB + 1, made.part_size).unwrap();
    /// assert!(made.parts().eq(again.parts()));
    /// assert_eq!(again.part(26).unwrap().length, 1);
    /// ```
    pub fn from_part_size(strategy: Strategy, size: u64, part_size: u64) -> Option<Plan> {
        let count = match strategy {
            Strategy::Single if part_size == size => 1,
            Strategy::Single => return None,
            Strategy::Multipart if part_size == 0 => return None,
            Strategy::Multipart => u32::try_from(size.div_ceil(part_size))
                .ok()
                .filter(|n| (1..=MAX_PARTS).contains(n))?,
        };
        Some(Plan {
            strategy,
            object_size: Some(size),
            part_size,
            part_count: Some(count),
            max_parts: count,
        })
    }

    /// The parts in order. Empty for an unknown size, whose parts are cut as the stream arrives
    /// (see [`Plan::part`] for their nominal ranges).
    pub fn parts(&self) -> Parts {
        Parts {
            plan: *self,
            next: 1,
            count: self.part_count.unwrap_or(0),
        }
    }

    /// Part `number` (1-based), or `None` when out of range. For an unknown size, the nominal
    /// range `[(n-1) × part_size, n × part_size)`; the stream's last part will be shorter.
    pub fn part(&self, number: u32) -> Option<Part> {
        if number == 0 || number > self.part_count.unwrap_or(self.max_parts) {
            return None;
        }
        let offset = u64::from(number - 1) * self.part_size;
        let length = match self.object_size {
            Some(size) => self.part_size.min(size - offset),
            None => self.part_size,
        };
        Some(Part {
            number,
            offset,
            length,
        })
    }

    /// The largest object this plan can carry (`part_size × max_parts` for multipart).
    pub fn capacity(&self) -> u64 {
        match self.strategy {
            Strategy::Single => self.part_size,
            Strategy::Multipart => self.part_size.saturating_mul(u64::from(self.max_parts)),
        }
    }
}

/// Iterator over a plan's parts; see [`Plan::parts`].
#[derive(Debug, Clone)]
pub struct Parts {
    plan: Plan,
    next: u32,
    count: u32,
}

impl Iterator for Parts {
    type Item = Part;

    fn next(&mut self) -> Option<Part> {
        if self.next > self.count {
            return None;
        }
        let part = self.plan.part(self.next);
        self.next += 1;
        part
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.count + 1).saturating_sub(self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Parts {}

/// Plans the upload of an object of `size` under `policy`.
///
/// ```
/// use hoist_core::plan::{plan, ObjectSize, PlanPolicy, Strategy, MIB};
/// let p = plan(ObjectSize::Known(100 * 1024 * MIB), &PlanPolicy::default()).unwrap();
/// assert_eq!(p.strategy, Strategy::Multipart);
/// assert_eq!(p.part_size, 11 * MIB); // 8 MiB would need 12,800 parts
/// assert_eq!(p.part_count, Some(9_310));
/// ```
pub fn plan(size: ObjectSize, policy: &PlanPolicy) -> Result<Plan, PlanError> {
    policy.validate()?;
    match size {
        ObjectSize::Known(size) => {
            if size > policy.max_object_size() {
                return Err(PlanError::ObjectTooLarge {
                    size,
                    max: policy.max_object_size(),
                    parts: policy.max_parts,
                });
            }
            if size <= policy.single_put_threshold {
                return Ok(Plan {
                    strategy: Strategy::Single,
                    object_size: Some(size),
                    part_size: size,
                    part_count: Some(1),
                    max_parts: 1,
                });
            }
            let part_size = part_size_for(size, policy);
            Ok(Plan {
                strategy: Strategy::Multipart,
                object_size: Some(size),
                part_size,
                part_count: Some(size.div_ceil(part_size) as u32),
                max_parts: policy.max_parts,
            })
        }
        ObjectSize::Unknown { expected } => {
            // Without a guess, pick the part size that reaches the largest object; with one,
            // the smallest that fits it (a stream longer than the guess may then run out of parts,
            // which `Plan::capacity` tells the caller).
            let target = expected.unwrap_or(u64::MAX).min(policy.max_object_size());
            Ok(Plan {
                strategy: Strategy::Multipart,
                object_size: None,
                part_size: part_size_for(target, policy),
                part_count: None,
                max_parts: policy.max_parts,
            })
        }
    }
}

/// The policy's part size, grown in whole MiB until `size` fits in `max_parts` parts.
fn part_size_for(size: u64, policy: &PlanPolicy) -> u64 {
    let needed = size.div_ceil(u64::from(policy.max_parts));
    if needed <= policy.part_size {
        return policy.part_size;
    }
    // `size <= max_parts × 5 GiB`, so `needed` rounded up to a MiB is at most 5 GiB.
    (needed.div_ceil(MIB) * MIB).min(MAX_PART_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(size: u64) -> Plan {
        plan(ObjectSize::Known(size), &PlanPolicy::default()).unwrap()
    }

    #[test]
    fn threshold_decides_single_or_multipart() {
        assert_eq!(p(0).strategy, Strategy::Single);
        assert_eq!(
            p(0).parts().collect::<Vec<_>>(),
            vec![Part {
                number: 1,
                offset: 0,
                length: 0
            }]
        );
        assert_eq!(p(100 * MIB).strategy, Strategy::Single);
        let m = p(100 * MIB + 1);
        assert_eq!(m.strategy, Strategy::Multipart);
        assert_eq!(m.part_size, 8 * MIB);
        assert_eq!(m.part_count, Some(13));
        let last = m.parts().last().unwrap();
        assert_eq!(
            last,
            Part {
                number: 13,
                offset: 12 * 8 * MIB,
                length: 4 * MIB + 1
            }
        );
    }

    #[test]
    fn part_size_grows_in_whole_mib() {
        // 80,000 MiB fits in exactly 10,000 parts of 8 MiB; one byte more needs 9 MiB parts.
        assert_eq!(p(80_000 * MIB).part_size, 8 * MIB);
        assert_eq!(p(80_000 * MIB).part_count, Some(10_000));
        assert_eq!(p(80_000 * MIB + 1).part_size, 9 * MIB);
        let max = p(MAX_OBJECT_SIZE);
        assert_eq!(
            (max.part_size, max.part_count),
            (MAX_PART_SIZE, Some(10_000))
        );
    }

    #[test]
    fn too_large_and_bad_policies_are_errors() {
        let err = plan(
            ObjectSize::Known(MAX_OBJECT_SIZE + 1),
            &PlanPolicy::default(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::ObjectTooLarge { .. }));
        assert!(err.to_string().contains("53687091200000"), "{err}");
        let bad = PlanPolicy::default().with_single_put_threshold(6 * GIB);
        assert!(matches!(
            plan(ObjectSize::Known(1), &bad),
            Err(PlanError::ThresholdTooLarge { .. })
        ));
        let bad = PlanPolicy::default().with_part_size(4 * MIB);
        assert!(matches!(
            plan(ObjectSize::Known(1), &bad),
            Err(PlanError::PartSizeOutOfRange { .. })
        ));
        let bad = PlanPolicy::default().with_max_parts(10_001);
        assert!(matches!(
            plan(ObjectSize::Known(1), &bad),
            Err(PlanError::MaxPartsOutOfRange { .. })
        ));
    }

    #[test]
    fn single_put_never_above_5_gib() {
        let policy = PlanPolicy::default().with_single_put_threshold(MAX_SINGLE_PUT);
        assert_eq!(
            plan(ObjectSize::Known(MAX_SINGLE_PUT), &policy)
                .unwrap()
                .strategy,
            Strategy::Single
        );
        assert_eq!(
            plan(ObjectSize::Known(MAX_SINGLE_PUT + 1), &policy)
                .unwrap()
                .strategy,
            Strategy::Multipart
        );
    }

    #[test]
    fn rebuilt_from_the_part_size() {
        for size in [
            0,
            1,
            100 * MIB,
            100 * MIB + 1,
            80_000 * MIB + 1,
            MAX_OBJECT_SIZE,
        ] {
            let made = p(size);
            let again = Plan::from_part_size(made.strategy, size, made.part_size).unwrap();
            assert!(made.parts().eq(again.parts()), "{size}");
            assert_eq!(again.part_count, made.part_count);
        }
        assert_eq!(Plan::from_part_size(Strategy::Single, 10, 5), None);
        assert_eq!(Plan::from_part_size(Strategy::Multipart, 10, 0), None);
        assert_eq!(Plan::from_part_size(Strategy::Multipart, 0, MIB), None);
        assert_eq!(
            Plan::from_part_size(Strategy::Multipart, 10_001 * MIB, MIB),
            None
        );
    }

    #[test]
    fn unknown_sizes() {
        let none = plan(
            ObjectSize::Unknown { expected: None },
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(none.strategy, Strategy::Multipart);
        assert_eq!(none.capacity(), MAX_OBJECT_SIZE);
        assert_eq!(none.parts().count(), 0);
        assert_eq!(
            none.part(3),
            Some(Part {
                number: 3,
                offset: 2 * MAX_PART_SIZE,
                length: MAX_PART_SIZE
            })
        );
        assert_eq!(none.part(10_001), None);
        let guess = plan(
            ObjectSize::Unknown {
                expected: Some(GIB),
            },
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(guess.part_size, 8 * MIB);
        let guess = plan(
            ObjectSize::Unknown {
                expected: Some(1024 * GIB),
            },
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(guess.part_size, 105 * MIB);
        assert!(guess.capacity() >= 1024 * GIB);
    }
}
