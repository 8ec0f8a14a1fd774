//! `simulate`: the split of seeded random keys and of a keys file, and the errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{assert_golden, run};

const SERVICE_A: &str = "examples/servicea/wasmplugin.yaml";
const RULES: &str = "filter/cli/tests/data/rules.yaml";
const KEYS: &str = "filter/cli/tests/data/keys.txt";

#[test]
fn seeded_random_users_split_the_same_everywhere() {
    let r = run(&["simulate", SERVICE_A, "--users", "1000", "--seed", "7"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_golden("simulate-random.txt", &r.stdout);
    let r = run(&[
        "simulate", "--json", SERVICE_A, "--users", "1000", "--seed", "7",
    ]);
    assert_golden("simulate-random.json", &r.stdout);
    // Another seed draws other keys.
    let other = run(&["simulate", SERVICE_A, "--users", "1000", "--seed", "8"]);
    assert_ne!(
        other.stdout,
        run(&["simulate", SERVICE_A, "--users", "1000", "--seed", "7"]).stdout
    );
}

#[test]
fn a_keys_file_splits_by_the_cores_bucket_and_users_lists() {
    let text = std::fs::read_to_string(common::repo_root().join(KEYS)).unwrap();
    // checkout: qa-1 is pinned to canary; the rest hash under salt `checkout`, canary below 2000.
    let canary = text
        .lines()
        .filter(|k| *k == "qa-1" || sticky_canary_core::bucket(b"checkout", k.as_bytes()) < 2000)
        .count();
    let r = run(&["simulate", RULES, "--keys", KEYS]);
    assert_eq!(r.code, 0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("canary"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().nth(1),
        Some(canary.to_string().as_str()),
        "{}",
        r.stdout
    );
    assert_golden("simulate-keys.txt", &r.stdout);
    assert_golden(
        "simulate-keys.json",
        &run(&["simulate", "--json", RULES, "--keys", KEYS]).stdout,
    );
}

#[test]
fn bad_populations_are_one_line() {
    let r = run(&["simulate", SERVICE_A, "--users", "0"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "--users: must be at least 1\n")
    );
    let r = run(&[
        "simulate",
        SERVICE_A,
        "--keys",
        "filter/cli/tests/data/missing.txt",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "filter/cli/tests/data/missing.txt: cannot read: No such file or directory (os error 2)\n")
    );
    let r = run(&[
        "simulate",
        "filter/cli/tests/data/missing.yaml",
        "--users",
        "10",
    ]);
    assert_golden("simulate-missing-config.txt", &r.stderr);
    assert_eq!(r.code, 1);
    // Neither or both populations, or a seed for a keys file: usage errors.
    assert_eq!(run(&["simulate", SERVICE_A]).code, 2);
    assert_eq!(
        run(&["simulate", SERVICE_A, "--users", "5", "--keys", KEYS]).code,
        2
    );
    assert_eq!(
        run(&["simulate", SERVICE_A, "--seed", "3", "--keys", KEYS]).code,
        2
    );
}
