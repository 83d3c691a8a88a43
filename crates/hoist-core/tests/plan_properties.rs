//! Property tests of the planner's invariants (issue: parts cover the object exactly, no gap
//! or overlap; at most 10,000 parts; every part within 5 MiB–5 GiB except the last; single PUT
//! only at or below the threshold and never above 5 GiB).

use hoist_core::plan::{
    GIB, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT, MIB, MIN_PART_SIZE, ObjectSize,
    PlanError, PlanPolicy, Strategy as Kind, plan,
};
use proptest::prelude::*;

fn policy() -> impl Strategy<Value = PlanPolicy> {
    (
        0..=MAX_SINGLE_PUT,
        MIN_PART_SIZE..=MAX_PART_SIZE,
        1..=MAX_PARTS,
    )
        .prop_map(|(threshold, part, max_parts)| {
            PlanPolicy::default()
                .with_single_put_threshold(threshold)
                .with_part_size(part)
                .with_max_parts(max_parts)
        })
}

/// Sizes spread over every order of magnitude up to (and a little past) the largest object.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..=10 * MIB,
        0..=200 * MIB,
        0..=10 * GIB,
        0..=MAX_OBJECT_SIZE + GIB,
        Just(MAX_OBJECT_SIZE),
        Just(MAX_SINGLE_PUT),
        Just(MAX_SINGLE_PUT + 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn known_sizes_obey_every_invariant(size in size(), policy in prop_oneof![Just(PlanPolicy::default()), policy()]) {
        let result = plan(ObjectSize::Known(size), &policy);
        if size > policy.max_object_size() {
            prop_assert!(matches!(result, Err(PlanError::ObjectTooLarge { .. })), "{result:?}");
            return Ok(());
        }
        let p = result.unwrap();
        let count = p.part_count.unwrap();
        prop_assert!(count >= 1 && count <= policy.max_parts);
        prop_assert_eq!(p.parts().len(), count as usize);
        match p.strategy {
            Kind::Single => {
                prop_assert!(size <= policy.single_put_threshold && size <= MAX_SINGLE_PUT);
                prop_assert_eq!(count, 1);
            }
            Kind::Multipart => {
                prop_assert!(size > policy.single_put_threshold);
                // Grows from the policy's size in whole MiB (or is the policy's own size).
                prop_assert!(p.part_size == policy.part_size || (p.part_size > policy.part_size && p.part_size.is_multiple_of(MIB)));
                prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p.part_size));
            }
        }
        // Exact cover: each part starts where the previous ended and the last ends at the size.
        let mut next = 0u64;
        for (i, part) in p.parts().enumerate() {
            prop_assert_eq!(part.number as usize, i + 1);
            prop_assert_eq!(part.offset, next);
            prop_assert_eq!(Some(part), p.part(part.number));
            let last = part.number == count;
            if p.strategy == Kind::Multipart {
                prop_assert!(part.length <= MAX_PART_SIZE);
                prop_assert!(last || part.length >= MIN_PART_SIZE, "part {} of {} has {}", part.number, count, part.length);
                prop_assert!(part.length > 0);
            }
            next = part.end();
            // Walking 10,000 parts for every case is slow; the middle is regular, check the ends.
            if i == 50 && count > 100 {
                let tail = p.part(count - 1).unwrap();
                prop_assert_eq!(tail.offset, u64::from(count - 2) * p.part_size);
                next = tail.end();
                let last = p.part(count).unwrap();
                prop_assert_eq!(last.offset, next);
                prop_assert!(last.length >= 1 && last.length <= p.part_size);
                next = last.end();
                break;
            }
        }
        prop_assert_eq!(next, size);
        prop_assert_eq!(p.part(0), None);
        prop_assert_eq!(p.part(count + 1), None);
    }

    #[test]
    fn unknown_sizes_reach_their_target(expected in proptest::option::of(0..=MAX_OBJECT_SIZE), policy in policy()) {
        let p = plan(ObjectSize::Unknown { expected }, &policy).unwrap();
        prop_assert_eq!(p.strategy, Kind::Multipart);
        prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p.part_size));
        let target = expected.unwrap_or(MAX_OBJECT_SIZE).min(policy.max_object_size());
        prop_assert!(p.capacity() >= target, "capacity {} below {}", p.capacity(), target);
        prop_assert_eq!(p.parts().len(), 0);
    }
}
