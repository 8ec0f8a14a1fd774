//! The request path logs nothing unless Envoy's wasm log level asks for it, and follows a level
//! change made while Envoy runs. At info Envoy drops a debug line itself, so what this can see is
//! only that the lines appear when asked for; that the module makes no log call at all on the
//! request path at info is counted call by call against a fake host in
//! `filter/plugin/tests/vm_state.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sticky_canary_e2e::{service_a_config, Delivery, Envoy};

const DECISION_LINE: &str =
    "sticky-canary: route service-a -> subset v1 (reason hash, bucket 9899)";

#[test]
fn per_request_lines_appear_only_at_debug_level() {
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
