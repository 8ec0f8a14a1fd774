//! The request plan (the decision and what the request leaves with) and the hashing contract,
//! natively: `cargo bench -p sticky-canary-core --bench decide`.
//! Numbers and the machine are in BENCHMARKS.md; nothing here asserts a timing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sticky_canary_core::{bucket, plan, Config, Fixed, Request};

/// The `make bench` configuration (5): one route, two subsets, a header key, two rules.
const REALISTIC: &str = r#"{"routes":[{"name":"service-a",
  "subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],
  "stickiness":{"keys":[{"header":"x-user-id"}]},
  "rules":[{"subset":"v2","users":["qa-alice","qa-bob"]},
           {"subset":"v2","match":{"headers":[{"name":"x-canary","exact":"true"}]}}]}]}"#;

const VECTORS: &str = include_str!("../tests/data/murmur3-contract.json");

/// A request's headers as the host hands them over, the user's id last.
fn headers(user: &str, browser: bool) -> Vec<(&'static [u8], Vec<u8>)> {
    let mut pairs: Vec<(&'static [u8], Vec<u8>)> = vec![
        (b":authority", b"servicea.com".to_vec()),
        (b":path", b"/".to_vec()),
        (b":method", b"GET".to_vec()),
    ];
    if browser {
        for (name, value) in BROWSER {
            pairs.push((name, value.to_vec()));
        }
    }
    pairs.push((b"x-user-id", user.as_bytes().to_vec()));
    pairs
}

/// What a browser adds to a request: the 12-header profile of `make bench-instr`, roughly.
const BROWSER: [(&[u8], &[u8]); 8] = [
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-language", b"en-US,en;q=0.9"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"cookie", b"session=3f9a1c; theme=dark; consent=yes"),
    (b"referer", b"https://servicea.com/home"),
    (b"sec-fetch-mode", b"navigate"),
    (b"x-request-id", b"7d214db3-5835-4a4e-9b1c-0d2f6e1a9c33"),
];

fn request<'a>(pairs: &'a [(&'static [u8], Vec<u8>)]) -> Request<'a> {
    Request::new(pairs.iter().map(|(n, v)| (*n, v.as_slice())).collect())
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
    let inputs = Fixed::default();
    let cases = [
        (
            "plan: realistic config, key hashed",
            headers("user-7d214db35835", false),
        ),
        (
            "plan: realistic config, user rule",
            headers("qa-alice", false),
        ),
        (
            "plan: realistic config, browser-like, key hashed",
            headers("user-7d214db35835", true),
        ),
    ];
    for (name, pairs) in &cases {
        let request = request(pairs);
        c.bench_function(name, |b| {
            b.iter(|| plan(black_box(&config), black_box(&request), &inputs))
        });
    }

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
