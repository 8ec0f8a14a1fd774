//! `--token` / `STICKY_CANARY_TOKEN`: `requireToken` rules compile and match as in a VM that has
//! the secret, and are refused as the plugin refuses them without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{assert_golden, run, run_with_token_env};

const TOKEN_RULES: &str = "filter/cli/tests/data/token-rules.yaml";

fn which(token_arg: Option<&str>, env: Option<&str>, presented: &str) -> common::Run {
    let presented = format!("x-canary-token={presented}");
    let mut args = vec!["which"];
    if let Some(token) = token_arg {
        args.extend(["--token", token]);
    }
    args.extend([
        TOKEN_RULES,
        "--user",
        "alice",
        "--host",
        "servicea.com",
        "--header",
        "x-qa=1",
        "--header",
        &presented,
    ]);
    run_with_token_env(&args, env)
}

#[test]
fn without_a_token_the_config_is_refused_like_in_the_plugin() {
    let text = std::fs::read_to_string(common::repo_root().join(TOKEN_RULES)).unwrap();
    let json = serde_json::to_string(&yaml_to_json(&text)).unwrap();
    let core = sticky_canary_core::Config::from_json(json.as_bytes())
        .unwrap_err()
        .to_string();
    let r = run(&["validate", TOKEN_RULES]);
    assert_eq!(r.stdout, format!("{TOKEN_RULES}: {core}\n"));
    assert_eq!(r.code, 1);
    let r = which(None, None, "s3cret");
    assert_eq!((r.code, r.stderr), (1, format!("{TOKEN_RULES}: {core}\n")));
    // An empty token is no token, as in the VM.
    assert_eq!(run(&["validate", "--token", "", TOKEN_RULES]).code, 1);
}

#[test]
fn with_the_token_the_rule_matches_only_requests_presenting_it() {
    let r = run(&["validate", "--token", "s3cret", TOKEN_RULES]);
    assert_eq!((r.code, r.stdout), (0, format!("{TOKEN_RULES}: ok\n")));
    let r = which(Some("s3cret"), None, "s3cret");
    assert_eq!(
        r.stdout,
        "route   service-a\nsubset  v2\nreason  rule 0 (match)\n"
    );
    let r = run(&[
        "which",
        "--json",
        "--token",
        "s3cret",
        TOKEN_RULES,
        "--user",
        "alice",
        "--host",
        "servicea.com",
        "--header",
        "x-qa=1",
        "--header",
        "x-canary-token=s3cret",
    ]);
    assert_golden("which-token.json", &r.stdout);
    // The same request with a wrong token falls through to the hash (v1 holds 100%).
    let r = which(Some("s3cret"), None, "s3cre");
    assert_eq!(
        r.stdout,
        "route   service-a\nsubset  v1\nreason  hash\nbucket  9899 of 10000\n"
    );
}

#[test]
fn the_environment_variable_stands_for_the_flag_and_the_flag_wins() {
    let r = which(None, Some("s3cret"), "s3cret");
    assert_eq!(
        r.stdout,
        "route   service-a\nsubset  v2\nreason  rule 0 (match)\n"
    );
    let r = which(Some("other"), Some("s3cret"), "s3cret");
    assert_eq!(r.stdout.lines().nth(1), Some("subset  v1"));
}

fn yaml_to_json(text: &str) -> serde_json::Value {
    let yaml: yaml_serde::Value = yaml_serde::from_str(text).unwrap();
    serde_json::to_value(yaml).unwrap()
}
