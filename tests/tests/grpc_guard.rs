//! The guard and the health counters on a gRPC canary in Envoy: v2 is an HTTP/2 (h2c) upstream
//! that answers every call HTTP 200 with `content-type: application/grpc` and its `grpc-status`
//! in the trailers or, trailers-only, in the response headers. A v2 answering UNAVAILABLE trips
//! the guard; one answering OK (and a few NOT_FOUND, a client error) never does, and every
//! response is counted by class and by code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;
use sticky_canary_e2e::bootstrap::Step::{Key, Named};
use sticky_canary_e2e::grpc_upstream::{Answer, GrpcUpstream};
use sticky_canary_e2e::{subset_of, Delivery, Envoy, EnvoyOptions};

const SOCKET: &str = "v2-grpc.sock";
const WINDOW_SECS: u64 = 30;
const UNAVAILABLE: u8 = 14;
const NOT_FOUND: u8 = 5;

/// One Envoy at a time: the guard's window is measured in the host's seconds.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// 50/50 on x-user-id, v2 guarded.
fn guarded() -> String {
    json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"},
            "guard": {"subset": "v2", "maxErrorRate": 0.05, "minRequests": 20,
                      "window": format!("{WINDOW_SECS}s"), "coolDown": "1h"}
        }]
    })
    .to_string()
}

/// Envoy (one worker) whose v2 cluster speaks HTTP/2 to the test's gRPC upstream, and that
/// upstream answering by `script`.
fn envoy_with_grpc_v2(config: &str, script: &[Answer]) -> (Envoy, GrpcUpstream) {
    let envoy = EnvoyOptions::scenario(Delivery::Inline, config)
        .access_log(false)
        .edit_bootstrap(|bootstrap, dir| {
            let cluster = bootstrap.0.mapping(&[
                Key("static_resources"),
                Key("clusters"),
                Named("service-a-v2"),
            ]);
            cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] =
                json!({"pipe": {"path": dir.join(SOCKET).to_str().unwrap()}});
            cluster.insert(
                "typed_extension_protocol_options".to_string(),
                json!({"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}
                }}),
            );
        })
        .start();
    let upstream = GrpcUpstream::start(&envoy.dir().join(SOCKET), "v2", script);
    (envoy, upstream)
}

fn users_on(config: &str, subset: &str, n: usize) -> Vec<String> {
    (0..10_000)
        .map(|i| format!("user-{i}"))
        .filter(|u| subset_of(config, u) == subset)
        .take(n)
        .collect()
}

fn stat(envoy: &Envoy, tail: &str) -> u64 {
    envoy.stat(&format!("wasmcustom.sticky_canary.{tail}"))
}

fn class(envoy: &Envoy, class: &str) -> u64 {
    stat(
        envoy,
        &format!("responses_total.route.service-a.subset.v2.class.{class}"),
    )
}

fn code(envoy: &Envoy, code: u8) -> u64 {
    stat(
        envoy,
        &format!("grpc_responses_total.route.service-a.subset.v2.code.{code}"),
    )
}

fn trips(envoy: &Envoy) -> u64 {
    stat(envoy, "guard_tripped_total.route.service-a.subset.v2")
}

#[test]
fn a_grpc_canary_answering_unavailable_trips_the_guard() {
    let _turn = one_at_a_time();
    let config = guarded();
    // Half in the trailers, half trailers-only.
    let script = [
        Answer::trailers(UNAVAILABLE),
        Answer::trailers_only(UNAVAILABLE),
    ];
    let (envoy, upstream) = envoy_with_grpc_v2(&config, &script);
    let on_v2 = users_on(&config, "v2", 10);
    let mut client = envoy.front();
    for user in on_v2.iter().cycle().take(30) {
        let response = client.get("/", &[("x-user-id", user.as_bytes())]);
        // An HTTP success: only the gRPC status says the call failed.
        assert_eq!((response.status, response.served_by()), (200, "v2"));
        assert_eq!(response.header("content-type"), Some("application/grpc"));
    }
    assert_eq!(upstream.received(), 30);
    envoy.wait_for("the trip", Duration::from_secs(30), |e| trips(e) == 1);
    for user in &on_v2 {
        let response = client.get("/", &[("x-user-id", user.as_bytes())]);
        assert_eq!(
            (response.status, response.served_by()),
            (200, "v1"),
            "{user}"
        );
    }
    assert_eq!(upstream.received(), 30, "no call reached v2 once tripped");
    assert_eq!((class(&envoy, "5xx"), class(&envoy, "2xx")), (30, 0));
    assert_eq!(code(&envoy, UNAVAILABLE), 30);
    let warning = envoy
        .log()
        .lines()
        .find(|l| l.contains("guard tripped on route"))
        .map(str::to_string)
        .unwrap();
    assert!(
        warning.contains("subset v2 answered 30 of 30 responses with 5xx (100.0 %)"),
        "{warning}"
    );
}

#[test]
fn a_grpc_canary_answering_ok_and_client_errors_never_trips_and_every_call_is_counted() {
    let _turn = one_at_a_time();
    let config = guarded();
    // 1 in 20 NOT_FOUND, trailers-only: a client error, not the canary's.
    let mut script = vec![Answer::trailers(0); 19];
    script.push(Answer::trailers_only(NOT_FOUND));
    let (envoy, upstream) = envoy_with_grpc_v2(&config, &script);
    let on_v2 = users_on(&config, "v2", 10);
    let mut client = envoy.front();
    let sent = 400u64;
    for user in on_v2.iter().cycle().take(400) {
        let response = client.get("/", &[("x-user-id", user.as_bytes())]);
        assert_eq!((response.status, response.served_by()), (200, "v2"));
    }
    assert_eq!(upstream.received(), sent);
    // Counted, hence merged into the window and evaluated on the same tick.
    envoy.wait_for("every call counted", Duration::from_secs(30), |e| {
        class(e, "2xx") + class(e, "4xx") == sent
    });
    let not_found = sent / 20;
    assert_eq!(
        (
            class(&envoy, "2xx"),
            class(&envoy, "4xx"),
            class(&envoy, "5xx")
        ),
        (sent - not_found, not_found, 0)
    );
    assert_eq!(
        (code(&envoy, 0), code(&envoy, NOT_FOUND)),
        (sent - not_found, not_found)
    );
    assert_eq!(trips(&envoy), 0);
    assert_eq!(stat(&envoy, "guard_state.route.service-a.subset.v2"), 0);
}
