//! `which`: subset, reason and bucket of one request, human and JSON, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{assert_golden, run};

const SERVICE_A: &str = "examples/servicea/wasmplugin.yaml";
const RULES: &str = "filter/cli/tests/data/rules.yaml";

#[test]
fn a_hashed_user_gets_the_bucket_the_core_computes() {
    let r = run(&[
        "which",
        SERVICE_A,
        "--user",
        "alice",
        "--host",
        "servicea.com",
    ]);
    let bucket = sticky_canary_core::bucket(b"service-a", b"alice");
    assert_eq!(bucket, 9899);
    assert_eq!(
        r.stdout,
        "route   service-a\nsubset  v1\nreason  hash\nbucket  9899 of 10000\n"
    );
    assert_eq!(r.code, 0);
}

#[test]
fn rules_users_lists_and_fallbacks_are_named() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["which", SERVICE_A, "--user", "alice", "--host", "servicea.com", "--query", "version=v2"],
            "route   service-a\nsubset  v2\nreason  rule 0 (match)\n",
        ),
        (
            &["which", SERVICE_A, "--user", "alice", "--host", "servicea.com", "--header", "X-Canary=true"],
            "route   service-a\nsubset  v2\nreason  rule 1 (match)\n",
        ),
        (
            &["which", RULES, "--user", "qa-2", "--host", "shop.example.com", "--path", "/checkout/beta"],
            "route   checkout\nsubset  canary\nreason  rule 0 (users list)\n",
        ),
        (
            &["which", RULES, "--host", "shop.example.com", "--path", "/checkout"],
            "route   checkout\nsubset  stable\nreason  fallback (stable): no stickiness key\n",
        ),
        (
            &["which", SERVICE_A, "--host", "servicea.com"],
            "route   service-a\nsubset  any (random by weight, per request)\nreason  fallback (random): no stickiness key\n",
        ),
    ];
    for (args, expected) in cases {
        let r = run(args);
        assert_eq!(r.stdout, expected, "{args:?}");
        assert_eq!(r.code, 0);
    }
}

#[test]
fn no_route_matched() {
    let r = run(&[
        "which",
        SERVICE_A,
        "--user",
        "alice",
        "--host",
        "other.example.com",
    ]);
    assert_eq!(r.stdout, "no route matched: the request passes unchanged\n");
    assert_eq!(r.code, 0);
}

#[test]
fn the_key_goes_where_the_route_reads_it() {
    // checkout reads its key from the `uid` cookie; `bob` hashes under salt `checkout`.
    let bucket = sticky_canary_core::bucket(b"checkout", b"bob");
    let subset = if bucket < 2000 { "canary" } else { "stable" };
    let r = run(&[
        "which",
        RULES,
        "--user",
        "bob",
        "--host",
        "shop.example.com",
        "--path",
        "/checkout",
    ]);
    assert_eq!(
        r.stdout,
        format!("route   checkout\nsubset  {subset}\nreason  hash\nbucket  {bucket} of 10000\n")
    );
}

#[test]
fn json_output() {
    let r = run(&[
        "which",
        "--json",
        SERVICE_A,
        "--user",
        "alice",
        "--host",
        "servicea.com",
    ]);
    assert_golden("which-hash.json", &r.stdout);
    let r = run(&[
        "which",
        "--json",
        RULES,
        "--user",
        "qa-1",
        "--host",
        "shop.example.com",
        "--path",
        "/checkout",
    ]);
    assert_golden("which-users.json", &r.stdout);
    let r = run(&["which", "--json", SERVICE_A, "--user", "alice"]);
    assert_golden("which-no-route.json", &r.stdout);
}

#[test]
fn bad_input_is_one_line() {
    let r = run(&[
        "which",
        "filter/cli/tests/data/bad-weights.json",
        "--user",
        "alice",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "filter/cli/tests/data/bad-weights.json: routes[0].subsets: weights must sum to 100, got 60 (v1=60)\n")
    );
    let r = run(&["which", SERVICE_A, "--header", "no-equals-sign"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: invalid value 'no-equals-sign' for '--header <NAME=VALUE>': expected NAME=VALUE"), "{}", r.stderr);
}

#[test]
fn unleash_bucketing_shows_unleashs_normalized_value() {
    const UNLEASH: &str = "filter/cli/tests/data/unleash.yaml";
    // Unleash's client specification: at 50 % of groupId AB12A, user 122 is in, 155 is out.
    for (user, subset, value) in [("122", "on", 23), ("155", "off", 100)] {
        assert_eq!(
            u32::from(sticky_canary_core::unleash_normalized(
                b"AB12A",
                user.as_bytes()
            )),
            value
        );
        let r = run(&[
            "which",
            UNLEASH,
            "--user",
            user,
            "--host",
            "flags.example.com",
        ]);
        assert_eq!(
            r.stdout,
            format!("route    flags\nsubset   {subset}\nreason   hash\nunleash  {value} of 100 (groupId AB12A)\n")
        );
    }
    let r = run(&[
        "which",
        "--json",
        UNLEASH,
        "--user",
        "122",
        "--host",
        "flags.example.com",
    ]);
    assert_golden("which-unleash.json", &r.stdout);
}

#[test]
fn flagd_bucketing_shows_flagds_bucket_and_flag_key() {
    const FLAGD: &str = "filter/cli/tests/data/flagd.yaml";
    // flagd's own tests: headerColor gives rachel blue, monica yellow, joey red.
    for (user, subset, bucket) in [
        ("rachel@faas.com", "blue", 4204),
        ("monica@faas.com", "yellow", 7717),
        ("joey@faas.com", "red", 720),
    ] {
        assert_eq!(
            sticky_canary_core::flagd_bucket(b"headerColor", user.as_bytes()),
            bucket
        );
        let r = run(&[
            "which",
            FLAGD,
            "--user",
            user,
            "--host",
            "flags.example.com",
        ]);
        assert_eq!(
            r.stdout,
            format!("route   header\nsubset  {subset}\nreason  hash\nflagd   bucket {bucket} of 10000 (flagKey headerColor)\n")
        );
    }
    let r = run(&[
        "which",
        "--json",
        FLAGD,
        "--user",
        "rachel@faas.com",
        "--host",
        "flags.example.com",
    ]);
    assert_golden("which-flagd.json", &r.stdout);
}

#[test]
fn lane_and_mirror_outcomes_are_shown_on_routes_that_have_them() {
    const LANES: &str = "filter/cli/tests/data/lanes.yaml";
    let subset = |user: &str| {
        if sticky_canary_core::bucket(b"edge", user.as_bytes()) < 5000 {
            "v2"
        } else {
            "v1"
        }
    };
    let sampled = |user: &str| sticky_canary_core::bucket(b"edge:mirror", user.as_bytes()) < 5000;
    let users: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
    let find = |on: &str, in_sample: bool| {
        users
            .iter()
            .find(|u| subset(u) == on && sampled(u) == in_sample)
            .unwrap()
            .clone()
    };
    for (user, mirror) in [
        (
            find("v1", true),
            "marked x-canary-mirror: v2 (in the sample)",
        ),
        (find("v1", false), "not marked"),
        (find("v2", true), "not marked: served by v2"),
    ] {
        let r = run(&[
            "which",
            LANES,
            "--user",
            &user,
            "--host",
            "edge.example.com",
        ]);
        let on = subset(&user);
        let bucket = sticky_canary_core::bucket(b"edge", user.as_bytes());
        assert_eq!(
            r.stdout,
            format!(
                "route   edge\nsubset  {on}\nreason  hash\nbucket  {bucket} of 10000\n\
                 lane    writes baggage member canary-lane={on}\nmirror  {mirror}\n"
            ),
            "{user}"
        );
        let json = run(&[
            "which",
            LANES,
            "--user",
            &user,
            "--host",
            "edge.example.com",
            "--json",
        ]);
        let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(json["mirror"], mirror);
    }
    let r = run(&[
        "which",
        LANES,
        "--user",
        "u",
        "--header",
        "x-canary-lane=v2",
    ]);
    assert_eq!(
        r.stdout,
        "route   inner\nsubset  v2\nreason  lane\nlane    followed; passed on unchanged\n"
    );
    let r = run(&["which", LANES, "--user", "u"]);
    let bucket = sticky_canary_core::bucket(b"inner", b"u");
    assert_eq!(
        r.stdout,
        format!("route   inner\nsubset  v1\nreason  hash\nbucket  {bucket} of 10000\nlane    none that decides here; passed on unchanged\n")
    );
}
