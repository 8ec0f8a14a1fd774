//! Requests an earlier filter denies cost the module no memory: Envoy creates the Wasm stream of
//! a request RBAC denied (for the access log) without ever calling its request headers. With an
//! RBAC filter in front of the plugin that allows only `/probe`, a flood of denied requests over
//! keep-alive leaves the VM's linear memory (`vm_memory_bytes`, read from the module itself: the
//! VM's memory only grows, and Envoy's RSS moves by more than that with its own allocations)
//! exactly where it was, while `not_reached_total` shows the VM saw every one of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use sticky_canary_e2e::bootstrap::Step::{Index, Key, Named};
use sticky_canary_e2e::{subset_of, Client, Delivery, Envoy, EnvoyOptions};

/// Denied requests in the flood; a warm-up of `WARM_UP` before it.
const FLOOD: u64 = 30_000;
const WARM_UP: u64 = 2_000;
/// The module's slots for streams created before their request headers
/// (`sticky_canary::OPENING_SLOTS`): that many denied streams may wait to be counted.
const OPENING_SLOTS: u64 = 16;
const MEMORY: &str = "wasmcustom.sticky_canary.vm_memory_bytes";
const NOT_REACHED: &str = "wasmcustom.sticky_canary.not_reached_total";
const DENIED: &str = "http.front.rbac.denied";

fn config() -> String {
    json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {"keys": [{"header": "x-user-id"}]}
        }]
    })
    .to_string()
}

/// The local scenario (one worker) with RBAC before the plugin: only `/probe` passes.
fn envoy(config: &str) -> Envoy {
    EnvoyOptions::scenario(Delivery::Inline, config)
        .edit_bootstrap(|bootstrap, _| {
            let filters = bootstrap.0.sequence(&[
                Key("static_resources"),
                Key("listeners"),
                Named("front"),
                Key("filter_chains"),
                Index(0),
                Key("filters"),
                Named("envoy.filters.network.http_connection_manager"),
                Key("typed_config"),
                Key("http_filters"),
            ]);
            assert_eq!(filters[0]["name"], "sticky_canary");
            filters.insert(
                0,
                json!({"name": "envoy.filters.http.rbac", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                    "rules": {"action": "ALLOW", "policies": {"probe": {
                        "permissions": [{"url_path": {"path": {"exact": "/probe"}}}],
                        "principals": [{"any": true}]
                    }}}
                }}),
            );
        })
        .start()
}

fn flood(client: &mut Client, count: u64) {
    for _ in 0..count {
        let response = client.get("/denied", &[("x-user-id", b"someone")]);
        assert_eq!(response.status, 403);
        assert_eq!(response.body, b"RBAC: access denied");
    }
}

/// Two allowed requests, each waited for in the filter's counters: the tick that handed over
/// the second came after the one that handed over the first had ended, and with it set the
/// memory gauge, after everything sent before the first. Returns `(memory, not reached)` then.
fn settle(envoy: &Envoy, config: &str, client: &mut Client, probes: &mut u64) -> (u64, u64) {
    let subset = subset_of(config, "probe-user");
    let decided = format!(
        "wasmcustom.sticky_canary.requests_total.route.service-a.subset.{subset}.reason.hash"
    );
    for _ in 0..2 {
        let response = client.get("/probe", &[("x-user-id", b"probe-user")]);
        assert_eq!(
            (response.status, response.served_by()),
            (200, subset.as_str())
        );
        *probes += 1;
        envoy.wait_for("the probe counted", Duration::from_secs(30), |e| {
            e.stat(&decided) == *probes
        });
    }
    let stats = envoy.stats();
    (stats[MEMORY], stats[NOT_REACHED])
}

#[test]
fn a_flood_of_requests_denied_before_the_filter_leaves_the_vm_memory_flat() {
    let config = config();
    let envoy = envoy(&config);
    let mut client = envoy.front();
    let mut probes = 0;
    flood(&mut client, WARM_UP);
    let (before, reached_before) = settle(&envoy, &config, &mut client, &mut probes);
    flood(&mut client, FLOOD);
    let (after, reached_after) = settle(&envoy, &config, &mut client, &mut probes);
    assert_eq!(envoy.stat(DENIED), WARM_UP + FLOOD);
    assert!(
        before >= 65_536,
        "the gauge is the module's memory: {before}"
    );
    assert_eq!(
        after,
        before,
        "the VM's memory grew by {} bytes over {FLOOD} denied requests",
        after.saturating_sub(before)
    );
    // The VM saw them: each is counted once a newer stream took its slot.
    assert!(
        reached_before + OPENING_SLOTS >= WARM_UP,
        "{reached_before} of the warm-up's {WARM_UP} denied streams seen"
    );
    let seen = reached_after - reached_before;
    assert!(
        (FLOOD - OPENING_SLOTS..=FLOOD + OPENING_SLOTS).contains(&seen),
        "{seen} of {FLOOD} denied streams seen"
    );
}
