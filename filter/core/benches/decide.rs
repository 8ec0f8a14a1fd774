//! The pure decision and the hashing contract, natively: `cargo bench -p sticky-canary-core`.
//! Numbers and the machine are in BENCHMARKS.md; nothing here asserts a timing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sticky_canary_core::{bucket, decide, Config, RequestHeaders};

/// The `make bench` configuration (5): one route, two subsets, a header key, two rules.
const REALISTIC: &str = r#"{"routes":[{"name":"service-a",
  "subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],
  "stickiness":{"keys":[{"header":"x-user-id"}]},
  "rules":[{"subset":"v2","users":["qa-alice","qa-bob"]},
           {"subset":"v2","match":{"headers":[{"name":"x-canary","exact":"true"}]}}]}]}"#;

const VECTORS: &str = include_str!("../tests/data/murmur3-contract.json");

struct Headers(Vec<(&'static str, Vec<u8>)>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

fn request(user: &str) -> Headers {
    Headers(vec![
        (":authority", b"servicea.com".to_vec()),
        (":path", b"/".to_vec()),
        ("x-user-id", user.as_bytes().to_vec()),
    ])
}

fn golden_keys() -> Vec<(Vec<u8>, Vec<u8>)> {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    doc["contract"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let hex = case["key_hex"].as_str().unwrap();
            let key = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap(), 16).unwrap())
                .collect();
            (case["salt"].as_str().unwrap().as_bytes().to_vec(), key)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let config = Config::from_json(REALISTIC.as_bytes()).unwrap();
    let hashed = request("user-7d214db35835");
    let listed = request("qa-alice");
    c.bench_function("decide: realistic config, key hashed", |b| {
        b.iter(|| decide(black_box(&config), black_box(&hashed), || 0))
    });
    c.bench_function("decide: realistic config, user rule", |b| {
        b.iter(|| decide(black_box(&config), black_box(&listed), || 0))
    });

    let keys = golden_keys();
    let mut group = c.benchmark_group("bucket");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("every golden-vector key", |b| {
        b.iter(|| {
            keys.iter()
                .map(|(salt, key)| u32::from(bucket(black_box(salt), black_box(key))))
                .sum::<u32>()
        })
    });
    group.finish();
}

criterion_group!(decision, benches);
criterion_main!(decision);
