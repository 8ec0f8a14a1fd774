//! `which --at` and `simulate --at` on a scheduled route: the subset and weights of that time,
//! to the second of each step, and a time that is not one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::run;
use serde_json::Value;

const SCHEDULE: &str = "filter/cli/tests/data/schedule.yaml";

/// A user whose bucket under salt `service-a` is in `range`.
fn user_in(range: std::ops::Range<u16>) -> String {
    (0..100_000)
        .map(|i| format!("u-{i}"))
        .find(|u| range.contains(&sticky_canary_core::bucket(b"service-a", u.as_bytes())))
        .unwrap()
}

#[test]
fn which_at_a_time_answers_with_that_times_weights() {
    // Bucket 100..500: v2 from the 10m step (5 %), not before.
    let user = user_in(100..500);
    let bucket = sticky_canary_core::bucket(b"service-a", user.as_bytes());
    let at = |time: &str| {
        let r = run(&["which", SCHEDULE, "--user", &user, "--at", time]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{time}");
        r.stdout
    };
    assert_eq!(
        at("2026-12-07T09:09:59Z"),
        format!("route     service-a\nsubset    v1\nreason    hash\nbucket    {bucket} of 10000\nschedule  v1=99 v2=1 at 2026-12-07T09:09:59Z, steps[0] (after 0s)\n")
    );
    assert_eq!(
        at("2026-12-07T09:10:00Z"),
        format!("route     service-a\nsubset    v2\nreason    hash\nbucket    {bucket} of 10000\nschedule  v1=95 v2=5 at 2026-12-07T09:10:00Z, steps[1] (after 10m)\n")
    );
    assert!(at("2026-12-07T08:59:59Z").contains("subset    v1\n"));
    assert!(at("2026-12-07T08:59:59Z").ends_with(
        "schedule  v1=100 v2=0 at 2026-12-07T08:59:59Z, before its start (2026-12-07T09:00:00Z): the route's own weights\n"
    ));
    // An offset is the same instant.
    assert!(at("2026-12-07T10:10:00+01:00").contains("subset    v2\n"));
    let r = run(&[
        "which",
        "--json",
        SCHEDULE,
        "--user",
        &user,
        "--at",
        "2026-12-07T10:00:00Z",
    ]);
    let json: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        json["schedule"],
        serde_json::json!({
            "at": "2026-12-07T10:00:00Z",
            "elapsed_seconds": 3600,
            "step": 3,
            "text": "steps[3] (after 1h), the last",
            "weights": {"v1": 0.0, "v2": 100.0},
        })
    );
    assert_eq!(json["subset"], "v2");
}

#[test]
fn simulate_at_a_time_splits_by_that_times_weights() {
    let r = run(&[
        "simulate",
        SCHEDULE,
        "--users",
        "1000",
        "--at",
        "2026-12-07T09:45:00Z",
    ]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // The same keys the command draws, by the core's bucket: v2 owns buckets below 2500.
    let v2 = sticky_canary_cli::simulate::random_keys(1000, 1)
        .iter()
        .filter(|k| sticky_canary_core::bucket(b"service-a", k.as_bytes()) < 2500)
        .count();
    assert_eq!(
        r.stdout,
        format!(
            "1000 random users (seed 1)\nroute service-a\n  schedule: v1=75 v2=25 at 2026-12-07T09:45:00Z, steps[2] (after 30m)\n  subset  users  share   weight\n  v1      {}    {:.2}%  75%\n  v2      {v2}    {:.2}%  25%\n",
            1000 - v2,
            (1000 - v2) as f64 / 10.0,
            v2 as f64 / 10.0,
        )
    );
    let before = run(&[
        "simulate",
        "--json",
        SCHEDULE,
        "--users",
        "1000",
        "--at",
        "2026-12-07T08:00:00Z",
    ]);
    let json: Value = serde_json::from_str(&before.stdout).unwrap();
    assert_eq!(json["routes"][0]["subsets"][1]["users"], 0);
    assert_eq!(json["routes"][0]["schedule"]["step"], Value::Null);
}

#[test]
fn a_time_that_is_not_rfc_3339_is_refused_by_name() {
    let r = run(&[
        "which",
        SCHEDULE,
        "--user",
        "alice",
        "--at",
        "2026-12-07 09:00",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with(
            "error: invalid value '2026-12-07 09:00' for '--at <TIME>': \"2026-12-07 09:00\" is not an RFC 3339 date-time such as \"2026-12-07T09:00:00Z\" (the time is HH:MM:SS)\n"
        ),
        "{}",
        r.stderr
    );
}
