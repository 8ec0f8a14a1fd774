#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The core's own streaming murmur3 against an independent implementation (the `murmur3` crate)
//! on random input: the golden vectors pin chosen inputs, this covers the rest, in particular
//! every way `salt`, `:` and `key` split across the hash's 4-byte blocks.

mod common;

use std::io::Cursor;

use common::{decide, Given, Headers};
use proptest::prelude::*;
use sticky_canary_core::{bucket, murmur3_x86_32, Config};

fn oracle(bytes: &[u8], seed: u32) -> u32 {
    murmur3::murmur3_32(&mut Cursor::new(bytes), seed).unwrap()
}

/// What the README's hashing contract says, computed with the oracle.
fn contract_bucket(salt: &str, key: &[u8]) -> u16 {
    let mut input = salt.as_bytes().to_vec();
    input.push(b':');
    input.extend_from_slice(key);
    (oracle(&input, 0) % 10_000) as u16
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_shot_hash_equals_the_oracle(bytes in prop::collection::vec(any::<u8>(), 0..64), seed in any::<u32>()) {
        prop_assert_eq!(murmur3_x86_32(&bytes, seed), oracle(&bytes, seed));
    }

    #[test]
    fn bucket_of_salt_and_key_is_the_contract(salt in "\\PC{1,24}", key in prop::collection::vec(any::<u8>(), 0..48)) {
        prop_assert_eq!(bucket(salt.as_bytes(), &key), contract_bucket(&salt, &key));
    }

    /// The same through a configured route: the salt as an admin writes it (any Unicode, hashed
    /// as UTF-8), the key as raw header bytes, the bucket as the decision reports it.
    #[test]
    fn decision_bucket_is_the_contract(salt in "\\PC{1,24}", key in prop::collection::vec(any::<u8>(), 1..48)) {
        let config = serde_json::json!({"routes": [{
            "name": "r",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "salt": salt},
        }]});
        let config = Config::from_json(config.to_string().as_bytes()).unwrap();
        let headers = Headers::to("a.example", "/").with("x-user-id", &key);
        // A key was given: random() is never asked.
        let decision = decide(&config, &headers, &Given::nothing()).unwrap();
        let expected = contract_bucket(&salt, &key);
        prop_assert_eq!(decision.bucket, Some(expected));
        // v2 (newest) owns buckets 0-4999.
        prop_assert_eq!(decision.subset, if expected < 5000 { 1 } else { 0 });
    }
}
