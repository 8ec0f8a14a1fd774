//! `validate` on a route issuing signed ids: like the plugin, it needs the cookie key, which it
//! reads from `STICKY_CANARY_COOKIE_KEY` as the plugin reads it from the VM's environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::run_with_env;

const FILE: &str = "filter/cli/tests/data/assign-signed.json";
const KEY: &str = "cli-test-cookie-key-32-bytes-long";

#[test]
fn signed_ids_validate_only_with_the_cookie_key_in_the_environment() {
    let r = run_with_env(&["validate", FILE], &[]);
    assert_eq!(
        r.stdout,
        format!("{FILE}: routes[0].stickiness.assign.signed: no cookie key is configured: set STICKY_CANARY_COOKIE_KEY in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)\n")
    );
    assert_eq!(r.code, 1);
    let r = run_with_env(
        &["validate", FILE],
        &[("STICKY_CANARY_COOKIE_KEY", Some("short-key"))],
    );
    assert_eq!(
        r.stdout,
        format!("{FILE}: routes[0].stickiness.assign.signed: the cookie key (STICKY_CANARY_COOKIE_KEY) is 9 bytes; at least 32 are needed, as a shorter one can be guessed offline from one issued cookie\n")
    );
    assert_eq!(r.code, 1);
    let r = run_with_env(
        &["validate", FILE],
        &[("STICKY_CANARY_COOKIE_KEY", Some(KEY))],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (format!("{FILE}: ok\n{FILE}: warning: routes[0].stickiness.keys[0]: the header \"x-user-id\" is read before the signed cookie \"canary-uid\": a client that sends it picks its own key, and its subset, which signing does not prevent; list it after the cookie, or let only a proxy in front of this one set it\n").as_str(), 0)
    );
}

#[test]
fn which_says_a_keyless_request_gets_any_subset_and_a_known_id_its_own() {
    let env = [("STICKY_CANARY_COOKIE_KEY", Some(KEY))];
    let r = run_with_env(&["which", FILE], &env);
    assert_eq!(
        r.stdout,
        "route   web\nsubset  any (random by weight, per request)\nreason  hash\n"
    );
    let r = run_with_env(&["which", FILE, "--user", "alice"], &env);
    let bucket = sticky_canary_core::bucket(b"web", b"alice");
    let subset = if bucket < 1000 { "v2" } else { "v1" };
    assert_eq!(
        r.stdout,
        format!("route   web\nsubset  {subset}\nreason  hash\nbucket  {bucket} of 10000\n")
    );
}

#[test]
fn validate_is_quiet_when_the_signed_cookie_is_read_first() {
    let file = "filter/cli/tests/data/assign-signed-first.json";
    let r = run_with_env(
        &["validate", file],
        &[("STICKY_CANARY_COOKIE_KEY", Some(KEY))],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (format!("{file}: ok\n").as_str(), 0)
    );
}
