//! `diff`: exact moves between subsets over the 10,000 buckets, and the warnings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{assert_golden, run};

const AT_50: &str = "examples/servicea/wasmplugin.yaml";
const AT_90: &str = "examples/servicea/slider/wasmplugin-10-90.yaml";

#[test]
fn a_ramp_moves_exactly_the_weight_forward() {
    let r = run(&["diff", AT_50, AT_90]);
    assert_eq!(
        r.stdout,
        "route service-a\n  from  to  users\n  v1    v2  40%    forward\n"
    );
    assert_eq!(r.code, 0);
    assert_golden(
        "diff-ramp.json",
        &run(&["diff", "--json", AT_50, AT_90]).stdout,
    );
}

#[test]
fn rolling_back_is_flagged_backward() {
    let r = run(&["diff", AT_90, AT_50]);
    assert_eq!(
        r.stdout,
        "route service-a\n  warning: 40% of users move back to an older subset\n  from  to  users\n  v2    v1  40%    backward\n"
    );
}

#[test]
fn no_change_moves_nobody() {
    let r = run(&[
        "diff",
        AT_50,
        "examples/servicea/trafficextension/trafficextension.yaml",
    ]);
    assert_eq!(r.stdout, "route service-a\n  no user moves\n");
}

#[test]
fn a_salt_change_reshuffles_everyone() {
    let r = run(&[
        "diff",
        AT_50,
        "filter/cli/tests/data/service-a-resalted.json",
    ]);
    assert_golden("diff-salt.txt", &r.stdout);
    let r = run(&[
        "diff",
        "--json",
        AT_50,
        "filter/cli/tests/data/service-a-resalted.json",
    ]);
    assert_golden("diff-salt.json", &r.stdout);
}

#[test]
fn a_reordered_list_and_added_routes_are_flagged() {
    let r = run(&[
        "diff",
        AT_50,
        "filter/cli/tests/data/service-a-reordered.json",
    ]);
    assert_golden("diff-reordered.txt", &r.stdout);
    let r = run(&[
        "diff",
        "--json",
        AT_50,
        "filter/cli/tests/data/service-a-reordered.json",
    ]);
    assert_golden("diff-reordered.json", &r.stdout);
}

#[test]
fn an_invalid_side_is_one_line_and_exit_1() {
    let r = run(&["diff", AT_50, "filter/cli/tests/data/bad-weights.json"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "filter/cli/tests/data/bad-weights.json: routes[0].subsets: weights must sum to 100, got 60 (v1=60)\n")
    );
    assert_eq!(run(&["diff", AT_50]).code, 2);
}

#[test]
fn forward_only_passes_a_ramp_and_refuses_rollback_resalt_and_reorder() {
    let r = run(&["diff", "--forward-only", AT_50, AT_90]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "route service-a\n  from  to  users\n  v1    v2  40%    forward\n"
        )
    );
    let r = run(&["diff", "--forward-only", AT_90, AT_50]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.ends_with(
            "not forward-only: route service-a: 40% of users move back to an older subset\n"
        ),
        "{}",
        r.stdout
    );
    let r = run(&[
        "diff",
        "--forward-only",
        AT_50,
        "filter/cli/tests/data/service-a-resalted.json",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains(
            "not forward-only: route service-a: salt changed: every user is reshuffled\n"
        ),
        "{}",
        r.stdout
    );
    let r = run(&[
        "diff",
        "--forward-only",
        AT_50,
        "filter/cli/tests/data/service-a-reordered.json",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("not forward-only: route service-a: subsets reordered\n"),
        "{}",
        r.stdout
    );
    assert_golden(
        "diff-forward-only.json",
        &run(&["diff", "--json", "--forward-only", AT_90, AT_50]).stdout,
    );
    // Without the flag a rollback is only a warning.
    assert_eq!(run(&["diff", AT_90, AT_50]).code, 0);
}

#[test]
fn a_new_unleash_group_id_reshuffles_like_a_new_salt() {
    let (old, new) = (
        "filter/cli/tests/data/unleash.yaml",
        "filter/cli/tests/data/unleash-regrouped.yaml",
    );
    let r = run(&["diff", old, new]);
    assert_eq!(
        r.stdout,
        "route flags\n  warning: salt changed: every user is reshuffled (shares are expected values)\n  warning: 25% of users move back to an older subset\n  from  to   users\n  off   on   25%    forward\n  on    off  25%    backward\n"
    );
    assert_eq!(run(&["diff", "--forward-only", old, new]).code, 1);
    assert_eq!(run(&["diff", "--forward-only", old, old]).code, 0);
}
