//! The decision line is logged at debug level, and appears once Envoy's wasm log level is switched
//! to debug while Envoy runs. At info Envoy drops a debug line itself, so this cannot tell a
//! module that skips the call from one whose line Envoy dropped; that the module makes no log
//! call on the request path at info is counted against a fake host in
//! `filter/plugin/tests/vm_state.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sticky_canary_e2e::{service_a_config, Delivery, Envoy};

const DECISION_LINE: &str =
    "sticky-canary: route service-a -> subset v1 (reason hash, bucket 9899)";

#[test]
fn start_lines_at_info_and_the_decision_line_once_the_wasm_level_is_switched_to_debug() {
    let envoy = Envoy::start(Delivery::Inline, &service_a_config(10));
    let mut client = envoy.front();
    let started = format!("sticky-canary {} (git ", env!("CARGO_PKG_VERSION"));
    assert!(
        envoy.log().contains(&started),
        "no `{started}` line at VM start:\n{}",
        envoy.log()
    );
    assert!(envoy.log().contains(
        "sticky-canary: configured routing header x-canary-subset, routes: service-a [v1=90 v2=10]"
    ));

    // Fails only if the decision were logged at info or above.
    client.get("/", &[("x-user-id", b"alice")]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !envoy.log().contains("sticky-canary: route"),
        "logged a request at info level:\n{}",
        envoy.log()
    );

    envoy.admin_post("/logging?wasm=debug");
    // The module re-reads the level on its 1 s tick.
    envoy.wait_for(
        "the decision to be logged at debug level",
        Duration::from_secs(15),
        |_| {
            client.get("/", &[("x-user-id", b"alice")]);
            envoy_log_has(&envoy, DECISION_LINE)
        },
    );
}

fn envoy_log_has(envoy: &Envoy, line: &str) -> bool {
    std::thread::sleep(Duration::from_millis(200));
    envoy.log().contains(line)
}
