//! The language-neutral decision vectors (`filter/core/tests/data/decision-vectors.json`)
//! through the `sticky-canary which` binary: each vector's headers on the command line, route,
//! subset, reason, bucket and rule compared with `which --json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::run;
use serde_json::Value;

const VECTORS_JSON: &str = include_str!("../../core/tests/data/decision-vectors.json");

/// `which`'s arguments for these headers, or why `which` cannot express them. It builds the
/// request itself: `:path` (always, `/` when not given), then `:authority`, then every `--header`
/// in order, so pseudo-headers must come once each and `:path` must be given.
fn which_args(headers: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut path = None;
    let mut host = None;
    for (name, value) in headers {
        match name.as_str() {
            ":path" if path.is_none() => path = Some(format!("--path={value}")),
            ":authority" if host.is_none() => host = Some(format!("--host={value}")),
            n if n.starts_with(':') => return Err(format!("{n} twice or unknown to which")),
            n if n.is_empty() || n.contains('=') => return Err(format!("header name {n:?}")),
            n => args.push(format!("--header={n}={value}")),
        }
    }
    let path = path.ok_or("no :path, and which always sends one")?;
    Ok([path].into_iter().chain(host).chain(args).collect())
}

#[test]
fn which_decides_every_vector_as_the_file_says() {
    let document: Value = serde_json::from_str(VECTORS_JSON).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut checked, mut skipped, mut wrong) = (0, Vec::new(), Vec::new());
    for group in document["configs"].as_array().unwrap() {
        let name = group["name"].as_str().unwrap();
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, group["pluginConfig"].to_string()).unwrap();
        for vector in group["vectors"].as_array().unwrap() {
            let here = format!("{name} / {}", vector["name"].as_str().unwrap());
            let headers: Vec<(String, String)> = vector["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| {
                    let text = |i: usize| pair[i].as_str().unwrap().to_string();
                    (text(0), text(1))
                })
                .collect();
            let args = match which_args(&headers) {
                Ok(args) => args,
                Err(why) => {
                    skipped.push(format!("{here}: {why}"));
                    continue;
                }
            };
            let mut command = vec!["which", "--json", file.to_str().unwrap()];
            command.extend(args.iter().map(String::as_str));
            let r = run(&command);
            assert_eq!(r.code, 0, "{here}: {command:?}\n{}", r.stderr);
            let answer: Value = serde_json::from_str(&r.stdout).unwrap();
            let expect = &vector["expect"];
            for field in ["route", "subset", "reason", "bucket", "rule"] {
                if answer[field] != expect[field] {
                    wrong.push(format!(
                        "{here}: {field} is {}, the file says {} ({command:?})",
                        answer[field], expect[field]
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for skip in &skipped {
        eprintln!("skipped {skip}");
    }
    let total: usize = document["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["vectors"].as_array().unwrap().len())
        .sum();
    assert_eq!(checked + skipped.len(), total);
    // All 85 vectors the file was written with are ones `which` can express.
    assert!(checked >= 85, "only {checked} vectors checked: {skipped:?}");
}
