//! How the bucket space is laid over the subsets' weights.
//!
//! The last-listed (newest) subset owns `[0, w_last)`, the one listed before it the next range,
//! and the first-listed (stable) subset the top: subset `i` owns `[S(i+1), S(i))`, where `S(i)`
//! is the weight of `i` and of every newer subset. Weight moved only from older subsets to newer
//! ones shrinks no `S(i)`, so a user only ever moves to a newer subset. With three or more
//! subsets the ranges in between shift, so such a ramp can move more users than the weight it
//! moves (`tests/layout_ramp.rs` pins exactly how many).
//!
//! flagd bucketing lays the space the other way round, as flagd's `fractional` does: the
//! first-listed subset owns `[0, w_first)`, the next one the following range, the last-listed
//! the top. Subset `i` owns `[C(i-1), C(i))`, `C(i)` being the weight of `i` and of every
//! subset listed before it; weight moved from older subsets to newer ones grows no `C(i)`, so
//! there too a user only ever moves to a newer subset.

use crate::hash::BUCKETS;

/// Bucket ranges of one route's subsets, precomputed at configure time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketLayout {
    /// `(exclusive upper bound, subset index)`, ascending by bound: newest subset first, or
    /// first-listed first for flagd bucketing.
    bounds: Vec<(u16, usize)>,
}

impl BucketLayout {
    /// `weights` are in hundredths of a percent, listed stable first, and sum to [`BUCKETS`].
    pub fn new(weights: &[u16]) -> Self {
        Self::in_order(weights.iter().copied().enumerate().rev())
    }

    /// `weights` as in [`BucketLayout::new`], laid out first-listed subset first, as flagd's
    /// `fractional` lays out its variants.
    pub fn listed_first(weights: &[u16]) -> Self {
        Self::in_order(weights.iter().copied().enumerate())
    }

    /// Ranges one after the other from bucket 0, for `(subset index, weight)` in this order.
    fn in_order(order: impl Iterator<Item = (usize, u16)>) -> Self {
        let mut bounds = Vec::new();
        let mut upper: u32 = 0;
        for (index, weight) in order {
            if weight == 0 {
                continue;
            }
            upper += u32::from(weight);
            bounds.push((upper.min(BUCKETS) as u16, index));
        }
        BucketLayout { bounds }
    }

    /// The subset index owning `bucket` (`bucket < BUCKETS`).
    pub fn subset_for(&self, bucket: u16) -> usize {
        self.bounds
            .iter()
            .find(|(upper, _)| bucket < *upper)
            .or(self.bounds.last())
            .map_or(0, |(_, index)| *index)
    }

    /// The `[start, end)` bucket range of each subset index, for docs and tools.
    pub fn ranges(&self) -> Vec<(usize, u16, u16)> {
        let mut start = 0;
        self.bounds
            .iter()
            .map(|&(end, index)| {
                let range = (index, start, end);
                start = end;
                range
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_subset_owns_the_low_buckets() {
        let layout = BucketLayout::new(&[9000, 1000]);
        assert_eq!(layout.subset_for(0), 1);
        assert_eq!(layout.subset_for(999), 1);
        assert_eq!(layout.subset_for(1000), 0);
        assert_eq!(layout.subset_for(9999), 0);
        assert_eq!(layout.ranges(), vec![(1, 0, 1000), (0, 1000, 10000)]);
    }

    #[test]
    fn zero_weight_subset_owns_nothing() {
        let layout = BucketLayout::new(&[10000, 0]);
        assert_eq!(layout.subset_for(0), 0);
        assert_eq!(layout.subset_for(9999), 0);
        let layout = BucketLayout::new(&[5000, 0, 5000]);
        assert_eq!(layout.ranges(), vec![(2, 0, 5000), (0, 5000, 10000)]);
    }

    #[test]
    fn listed_first_gives_the_first_subset_the_low_buckets() {
        let layout = BucketLayout::listed_first(&[9000, 1000]);
        assert_eq!(layout.subset_for(0), 0);
        assert_eq!(layout.subset_for(8999), 0);
        assert_eq!(layout.subset_for(9000), 1);
        assert_eq!(layout.subset_for(9999), 1);
        assert_eq!(layout.ranges(), vec![(0, 0, 9000), (1, 9000, 10000)]);
        let layout = BucketLayout::listed_first(&[5000, 0, 5000]);
        assert_eq!(layout.ranges(), vec![(0, 0, 5000), (2, 5000, 10000)]);
    }

    #[test]
    fn ramping_a_canary_up_only_moves_users_forward() {
        let before = BucketLayout::new(&[9000, 1000]);
        let after = BucketLayout::new(&[5000, 5000]);
        for bucket in 0..10000u16 {
            let (old, new) = (before.subset_for(bucket), after.subset_for(bucket));
            assert!(new >= old, "bucket {bucket} moved back from {old} to {new}");
        }
        let three_before = BucketLayout::new(&[7000, 2000, 1000]);
        let three_after = BucketLayout::new(&[4000, 3000, 3000]);
        for bucket in 0..10000u16 {
            assert!(three_after.subset_for(bucket) >= three_before.subset_for(bucket));
        }
    }
}
