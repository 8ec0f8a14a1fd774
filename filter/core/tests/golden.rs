//! The hashing contract pinned by vectors computed outside this project (see tests/data/README.md).
//! Runs natively (`cargo test`) and on wasm32 under Node (`make test-wasm`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
mod vectors;

use common::{decide, Given, Headers};
use sticky_canary_core::{bucket, murmur3_x86_32, Config};

#[test]
fn murmur3_matches_the_reference_implementation() {
    let cases = vectors::murmur3_cases();
    assert!(cases.len() >= 20, "vector file lost its murmur3 cases");
    for (input, expected) in cases {
        assert_eq!(murmur3_x86_32(&input, 0), expected, "input {input:02x?}");
    }
}

#[test]
fn buckets_and_subsets_match_the_contract_vectors() {
    let contract = vectors::contract();
    assert!(contract.cases.len() >= 200);
    for case in &contract.cases {
        let subsets = &contract.configs[&case.salt];
        assert_eq!(
            bucket(case.salt.as_bytes(), &case.key),
            case.bucket,
            "salt {} key {:02x?}",
            case.salt,
            case.key
        );
        let config =
            Config::from_json(vectors::route_config(&case.salt, subsets).as_bytes()).unwrap();
        // Only the key: a request with a key never falls back to random.
        let key_only = Headers::new(&[("x-user-id", &case.key)]);
        let decision = decide(&config, &key_only, &Given::nothing()).unwrap();
        let route = &config.routes[decision.route];
        assert_eq!(decision.bucket, Some(case.bucket));
        assert_eq!(
            route.subsets[decision.subset].name, case.subset,
            "salt {} key {:02x?}",
            case.salt, case.key
        );
    }
}
