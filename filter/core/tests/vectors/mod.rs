//! Reads the golden vector file, shared by the native and the wasm32 tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use serde_json::Value;

pub const VECTORS_JSON: &str = include_str!("../data/murmur3-contract.json");

pub struct ContractCase {
    pub salt: String,
    pub key: Vec<u8>,
    pub bucket: u16,
    pub subset: String,
}

pub struct Contract {
    /// salt -> `(subset name, weight percent)` listed stable first.
    pub configs: HashMap<String, Vec<(String, f64)>>,
    pub cases: Vec<ContractCase>,
}

fn document() -> Value {
    serde_json::from_str(VECTORS_JSON).unwrap()
}

pub fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn murmur3_cases() -> Vec<(Vec<u8>, u32)> {
    document()["murmur3_x86_32"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                hex(case["input_hex"].as_str().unwrap()),
                case["murmur3_x86_32_seed0"].as_u64().unwrap() as u32,
            )
        })
        .collect()
}

pub fn contract() -> Contract {
    let doc = document();
    let configs = doc["contract"]["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let subsets = c["subsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s[0].as_str().unwrap().to_string(), s[1].as_f64().unwrap()))
                .collect();
            (c["salt"].as_str().unwrap().to_string(), subsets)
        })
        .collect();
    let cases = doc["contract"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ContractCase {
            salt: c["salt"].as_str().unwrap().to_string(),
            key: hex(c["key_hex"].as_str().unwrap()),
            bucket: c["bucket"].as_u64().unwrap() as u16,
            subset: c["subset"].as_str().unwrap().to_string(),
        })
        .collect();
    Contract { configs, cases }
}

/// A one-route pluginConfig with this salt and these subsets, keyed on `x-user-id`.
pub fn route_config(salt: &str, subsets: &[(String, f64)]) -> String {
    let subsets: Vec<Value> = subsets
        .iter()
        .map(|(name, weight)| serde_json::json!({"name": name, "weight": weight}))
        .collect();
    serde_json::json!({
        "routes": [{
            "name": "golden",
            "subsets": subsets,
            "stickiness": {"keys": [{"header": "x-user-id"}], "salt": salt},
        }]
    })
    .to_string()
}
