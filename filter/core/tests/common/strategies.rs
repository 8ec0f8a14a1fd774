//! Property-test inputs several core test files draw from (native only: proptest's randomness
//! does not build for the wasm32 target the golden vectors also run on).

use proptest::prelude::*;
use sticky_canary_core::BUCKETS;

/// `n` weights in hundredths summing to 100 %, zeros included (cut points on [0, 10000]).
pub fn weights(n: usize) -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(0..=BUCKETS as u16, n - 1).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts.push(BUCKETS as u16);
        let mut previous = 0;
        cuts.iter()
            .map(|&cut| {
                let w = cut - previous;
                previous = cut;
                w
            })
            .collect()
    })
}
