//! `validate` on a route issuing signed ids: like the plugin, it needs the cookie key, which it
//! reads from `STICKY_CANARY_COOKIE_KEY` as the plugin reads it from the VM's environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::run_with_env;

const FILE: &str = "filter/cli/tests/data/assign-signed.json";

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
        &[("STICKY_CANARY_COOKIE_KEY", Some("k"))],
    );
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (format!("{FILE}: ok\n").as_str(), 0)
    );
}
