//! `validate`: the plugin's error text per file, the manifest checks, and the exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::run;

#[test]
fn the_examples_are_valid() {
    let r = run(&[
        "validate",
        "examples/servicea/wasmplugin.yaml",
        "examples/servicea/trafficextension/trafficextension.yaml",
        "examples/servicea/slider/wasmplugin-10-90.yaml",
    ]);
    assert_eq!(
        r.stdout,
        "examples/servicea/wasmplugin.yaml: ok\n\
         examples/servicea/trafficextension/trafficextension.yaml: ok\n\
         examples/servicea/slider/wasmplugin-10-90.yaml: ok\n"
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
}

#[test]
fn an_invalid_pluginconfig_gets_the_plugins_error_and_exit_1() {
    let r = run(&[
        "validate",
        "filter/cli/tests/data/bad-weights.json",
        "examples/servicea/wasmplugin.yaml",
    ]);
    assert_eq!(
        r.stdout,
        "filter/cli/tests/data/bad-weights.json: routes[0].subsets: weights must sum to 100, got 60 (v1=60)\n\
         examples/servicea/wasmplugin.yaml: ok\n"
    );
    assert_eq!(r.code, 1);
}

#[test]
fn the_error_text_is_the_cores_own() {
    let text =
        std::fs::read(common::repo_root().join("filter/cli/tests/data/bad-weights.json")).unwrap();
    let core = sticky_canary_core::Config::from_json(&text)
        .unwrap_err()
        .to_string();
    let r = run(&["validate", "filter/cli/tests/data/bad-weights.json"]);
    assert_eq!(
        r.stdout,
        format!("filter/cli/tests/data/bad-weights.json: {core}\n")
    );
}

#[test]
fn a_manifest_is_checked_for_root_id_digest_and_config() {
    let r = run(&["validate", "filter/cli/tests/data/bad-manifest.yaml"]);
    assert_eq!(
        r.stdout,
        "filter/cli/tests/data/bad-manifest.yaml: spec.pluginName: \"sticky-canary\" is not \"sticky_canary\", the module's root id\n\
         filter/cli/tests/data/bad-manifest.yaml: spec.sha256: \"abc\" is not 64 lowercase hex characters\n\
         filter/cli/tests/data/bad-manifest.yaml: routes[0].stickiness.salted: unknown field `salted`, expected one of `keys`, `salt`, `fallback`, `bucketing`, `assign` at line 1 column 85\n"
    );
    assert_eq!(r.code, 1);
}

#[test]
fn a_multi_document_file_needs_a_name_when_ambiguous() {
    let r = run(&["validate", "filter/cli/tests/data/two-plugins.yaml"]);
    assert_eq!(
        r.stdout,
        "filter/cli/tests/data/two-plugins.yaml: 2 plugin configs (WasmPlugin/canary-a, TrafficExtension/canary-b): pick one with --name\n"
    );
    assert_eq!(r.code, 1);
    let r = run(&[
        "validate",
        "--name",
        "canary-b",
        "filter/cli/tests/data/two-plugins.yaml",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "filter/cli/tests/data/two-plugins.yaml: ok\n")
    );
    let r = run(&[
        "validate",
        "--name",
        "nope",
        "filter/cli/tests/data/two-plugins.yaml",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (1, "filter/cli/tests/data/two-plugins.yaml: no WasmPlugin or TrafficExtension named nope\n")
    );
}

#[test]
fn unreadable_and_unparsable_files_get_one_line() {
    let r = run(&[
        "validate",
        "filter/cli/tests/data/missing.yaml",
        "filter/cli/tests/data/not-yaml.yaml",
    ]);
    assert_eq!(
        r.stdout,
        "filter/cli/tests/data/missing.yaml: cannot read: No such file or directory (os error 2)\n\
         filter/cli/tests/data/not-yaml.yaml: not YAML: did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence at line 1 column 9\n"
    );
    assert_eq!(r.code, 1);
}

#[test]
fn json_output() {
    let r = run(&[
        "validate",
        "--json",
        "filter/cli/tests/data/bad-weights.json",
        "examples/servicea/wasmplugin.yaml",
    ]);
    common::assert_golden("validate.json", &r.stdout);
    assert_eq!(r.code, 1);
}

#[test]
fn usage_errors_exit_2() {
    let r = run(&["validate"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: the following required arguments were not provided:"),
        "{}",
        r.stderr
    );
    assert_eq!(run(&["frobnicate"]).code, 2);
}
