//! The scenarios' `verify.sh` scripts (README points readers at them) run against their scenario,
//! started by the harness on ports of its own (`ENVOY_RUNNING=yes`, see envoy/run-envoy.sh), so a
//! script that no longer matches its scenario fails `make test`. envoy/ecds and envoy/shared-vm
//! have no script: tests/tests/ecds.rs and shared_vm.rs check them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use serde_json::json;
use sticky_canary_e2e::bootstrap::{LANES_BOOTSTRAP, LOCAL_BOOTSTRAP, MIRROR_BOOTSTRAP};
use sticky_canary_e2e::{repo_root, Envoy, EnvoyOptions};

/// Runs `script` against `envoy`, which runs the scenario the script checks.
fn run(script: &str, envoy: &Envoy) -> Output {
    Command::new("bash")
        .arg(repo_root().join(script))
        .env("ENVOY_RUNNING", "yes")
        .env("ADMIN", format!("http://127.0.0.1:{}", envoy.admin_port()))
        .env("FRONT", format!("http://127.0.0.1:{}", envoy.front_port()))
        .env("ENVOY_LOG", envoy.log_path())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

/// Exits 0, prints PASS last and every one of `lines`.
fn assert_passes(script: &str, bootstrap: &'static str, lines: &[&str]) {
    let envoy = EnvoyOptions::listeners(bootstrap, &[]).start();
    let output = run(script, &envoy);
    let text = text(&output);
    assert!(output.status.success(), "{script} failed:\n{text}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().last(),
        Some("PASS"),
        "{text}"
    );
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "{script} did not print {line:?}:\n{text}"
        );
    }
}

#[test]
fn envoy_local_verify_sh_passes_on_the_local_scenario() {
    assert_passes(
        "envoy/local/verify.sh",
        LOCAL_BOOTSTRAP,
        &["ok: x-canary: true -> v2", "== A rule and a forged header"],
    );
}

#[test]
fn envoy_lanes_verify_sh_passes_on_the_lanes_scenario() {
    assert_passes(
        "envoy/lanes/verify.sh",
        LANES_BOOTSTRAP,
        &[
            "ok: alice by hash -> v1/v1",
            "ok: alice with x-canary: true (an edge rule) -> v2/v2",
            "ok: alice forging the lane -> v1/v1",
            "ok: no user, x-canary: true -> v2/v2",
        ],
    );
}

#[test]
fn envoy_mirror_verify_sh_passes_on_the_mirror_scenario() {
    assert_passes("envoy/mirror/verify.sh", MIRROR_BOOTSTRAP, &[]);
}

/// The scripts check what they say: the lanes script against an edge that sends everyone to v2.
#[test]
fn envoy_lanes_verify_sh_fails_when_the_edge_sends_alice_elsewhere() {
    let edge = json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 0}, {"name": "v2", "weight": 100}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "lane": {"header": "x-canary-lane"}
    }]})
    .to_string();
    let envoy = EnvoyOptions::listeners(LANES_BOOTSTRAP, &[("front", &edge)]).start();
    let output = run("envoy/lanes/verify.sh", &envoy);
    let text = text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("FAIL: alice by hash: got 'v2/v2', want 'v1/v1'"),
        "{text}"
    );
}
