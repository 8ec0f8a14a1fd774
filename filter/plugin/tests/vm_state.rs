//! The VM-wide state of the filter against a fake host: which configuration decides each
//! request when several plugins share one VM, how roots are forgotten, how long a stream's
//! decision is kept, what is counted and logged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use std::time::Duration;

use fake_host::{take_host_calls, take_level_queries, take_log_lines, value, Vm};
use log::{Level, LevelFilter};
use sticky_canary::{
    decided_name, GONE_AFTER_TICKS, MAX_AWAITING, MAX_ROOTS, RESPONSE_WAIT, TICK,
    UNCONFIGURED_NAME, UNROUTED_NAME,
};
use sticky_canary_core::Reason;

/// Every request of this plugin goes to `subset`, written to `header`.
fn all_to(header: &str, subset: &str, expose: bool) -> String {
    let other = if subset == "v1" { "v2" } else { "v1" };
    serde_json::json!({
        "routingHeader": header,
        "exposeSubset": expose,
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": other, "weight": 0}, {"name": subset, "weight": 100}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"}
        }]
    })
    .to_string()
}

#[test]
fn each_plugin_sharing_a_vm_is_decided_by_its_own_configuration_through_40_pushes_to_another() {
    let mut vm = Vm::new();
    let mut first = vm.add_root(&all_to("x-first", "v2", false)).unwrap();
    let second = vm.add_root(&all_to("x-second", "v1", false)).unwrap();
    for push in 0..40 {
        // A push gives the first plugin a new root; Envoy deletes the old one, which stops
        // ticking, and the live roots go on ticking once a second.
        let subset = if push % 2 == 0 { "v1" } else { "v2" };
        first = vm.add_root(&all_to("x-first", subset, false)).unwrap();
        vm.tick(&[first, second]);

        let (_, headers) = vm.request(second, &[("x-user-id", "u1"), ("x-second", "v2")]);
        assert_eq!(
            value(&headers, "x-second").as_deref(),
            Some("v1"),
            "push {push}"
        );
        assert_eq!(value(&headers, "x-first"), None, "push {push}");

        let (_, headers) = vm.request(first, &[("x-user-id", "u1"), ("x-first", "forged")]);
        assert_eq!(
            value(&headers, "x-first").as_deref(),
            Some(subset),
            "push {push}"
        );
        assert_eq!(value(&headers, "x-second"), None, "push {push}");
    }
    // Only the two live roots are left once the replaced ones missed enough ticks.
    for _ in 0..GONE_AFTER_TICKS {
        vm.tick(&[first, second]);
    }
    assert_eq!(vm.filter.configured_roots(), vec![second, first]);
}

#[test]
fn a_root_that_stops_ticking_is_forgotten_after_another_ticked_gone_after_ticks_times() {
    let mut vm = Vm::new();
    let live = vm
        .add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    let gone = vm
        .add_root(&all_to("x-canary-subset", "v1", false))
        .unwrap();
    vm.tick(&[live, gone]);
    for _ in 0..GONE_AFTER_TICKS - 1 {
        vm.tick(&[live]);
    }
    assert_eq!(
        vm.filter.configured_roots(),
        vec![live, gone],
        "one tick short"
    );
    vm.tick(&[live]);
    assert_eq!(vm.filter.configured_roots(), vec![live]);
}

#[test]
fn roots_that_all_tick_late_after_a_stall_are_all_kept() {
    let mut vm = Vm::new();
    let roots: Vec<u32> = (0..3)
        .map(|_| {
            vm.add_root(&all_to("x-canary-subset", "v2", false))
                .unwrap()
        })
        .collect();
    for _ in 0..GONE_AFTER_TICKS * 2 {
        vm.tick(&roots);
    }
    // The worker was busy for a minute: each root's timer fires once, one after the other.
    vm.advance(Duration::from_secs(60));
    for _ in 0..GONE_AFTER_TICKS * 2 {
        vm.tick(&roots);
    }
    assert_eq!(vm.filter.configured_roots(), roots);
}

#[test]
fn a_host_that_never_ticks_keeps_the_newest_max_roots() {
    let mut vm = Vm::new();
    let roots: Vec<u32> = (0..MAX_ROOTS + 3)
        .map(|_| {
            vm.add_root(&all_to("x-canary-subset", "v2", false))
                .unwrap()
        })
        .collect();
    assert_eq!(vm.filter.configured_roots(), roots[3..].to_vec());
}

#[test]
fn a_filter_removed_and_added_again_gets_its_new_root_and_the_other_plugin_is_untouched() {
    let mut vm = Vm::new();
    let kept = vm.add_root(&all_to("x-kept", "v2", false)).unwrap();
    let removed = vm.add_root(&all_to("x-removed", "v2", false)).unwrap();
    assert_eq!(vm.filter.configured_roots(), vec![kept, removed]);
    for _ in 0..GONE_AFTER_TICKS {
        vm.tick(&[kept]);
    }
    assert_eq!(vm.filter.configured_roots(), vec![kept]);
    let added = vm.add_root(&all_to("x-removed", "v1", false)).unwrap();
    vm.tick(&[kept, added]);
    let (_, headers) = vm.request(added, &[("x-user-id", "u"), ("x-removed", "v2")]);
    assert_eq!(value(&headers, "x-removed").as_deref(), Some("v1"));
    assert_eq!(value(&headers, "x-kept"), None);
    let (_, headers) = vm.request(kept, &[("x-user-id", "u")]);
    assert_eq!(value(&headers, "x-kept").as_deref(), Some("v2"));
}

#[test]
fn a_request_of_an_unconfigured_root_passes_untouched_and_is_counted() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    assert_eq!(vm.add_root(r#"{"routes": 1}"#), None);
    let unknown = root + 1;
    take_host_calls();
    let (_, headers) = vm.request(unknown, &[("x-user-id", "u"), ("x-canary-subset", "v9")]);
    assert_eq!(value(&headers, "x-canary-subset").as_deref(), Some("v9"));
    assert_eq!(
        take_host_calls(),
        Vec::<String>::new(),
        "no header read or written"
    );
    // A request of a stream that was never announced counts the same.
    vm.request_headers(9999, &[("x-user-id", "u")]);
    vm.tick(&[root]);
    assert_eq!(vm.counter(UNCONFIGURED_NAME), 2);
}

#[test]
fn a_bad_configuration_is_refused_with_one_error_line_naming_the_field() {
    let mut vm = Vm::new();
    take_log_lines();
    assert_eq!(vm.add_root(r#"{"routes": [], "routingHeder": "x"}"#), None);
    let lines = take_log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, Level::Error);
    assert!(
        lines[0]
            .1
            .starts_with("sticky-canary: invalid pluginConfig: routingHeder: unknown field"),
        "{lines:?}"
    );
    assert_eq!(vm.filter.configured_roots(), Vec::<u32>::new());
}

#[test]
fn exposed_decisions_survive_any_number_of_newer_streams_until_their_response() {
    let mut vm = Vm::new();
    let v1 = vm.add_root(&all_to("x-canary-subset", "v1", true)).unwrap();
    let v2 = vm.add_root(&all_to("x-canary-subset", "v2", true)).unwrap();
    // 5,000 requests in flight, alternating plugins, answered newest first.
    let in_flight: Vec<(u32, &str)> = (0..5000)
        .map(|i| {
            let (root, subset) = if i % 2 == 0 { (v1, "v1") } else { (v2, "v2") };
            (vm.request(root, &[("x-user-id", "u")]).0, subset)
        })
        .collect();
    assert_eq!(vm.filter.streams_held(), (0, 5000));
    for &(context, subset) in in_flight.iter().rev() {
        let headers = vm.response(context);
        assert_eq!(value(&headers, "x-canary-subset").as_deref(), Some(subset));
    }
    assert_eq!(vm.filter.streams_held(), (0, 0));
}

#[test]
fn an_exposed_decision_outlives_its_root_being_replaced_and_forgotten() {
    let mut vm = Vm::new();
    let old = vm.add_root(&all_to("x-canary-subset", "v1", true)).unwrap();
    let (context, _) = vm.request(old, &[("x-user-id", "u")]);
    let new = vm.add_root(&all_to("x-canary-subset", "v2", true)).unwrap();
    for _ in 0..GONE_AFTER_TICKS {
        vm.tick(&[new]);
    }
    assert_eq!(vm.filter.configured_roots(), vec![new]);
    let headers = vm.response(context);
    assert_eq!(value(&headers, "x-canary-subset").as_deref(), Some("v1"));
}

#[test]
fn only_exposing_routes_keep_streams_and_a_response_never_sent_expires() {
    let mut vm = Vm::new();
    let plain = vm
        .add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    let exposing = vm.add_root(&all_to("x-canary-subset", "v2", true)).unwrap();
    let (plain_stream, _) = vm.request(plain, &[("x-user-id", "u")]);
    assert_eq!(vm.filter.streams_held(), (0, 0));
    assert_eq!(value(&vm.response(plain_stream), "x-canary-subset"), None);

    let (abandoned, _) = vm.request(exposing, &[("x-user-id", "u")]);
    vm.advance(RESPONSE_WAIT - TICK);
    vm.tick(&[plain, exposing]);
    assert_eq!(vm.filter.streams_held(), (0, 1), "kept for RESPONSE_WAIT");
    vm.tick(&[plain, exposing]);
    assert_eq!(vm.filter.streams_held(), (0, 0));
    assert_eq!(value(&vm.response(abandoned), "x-canary-subset"), None);
}

#[test]
fn at_most_max_awaiting_exposed_streams_are_kept_oldest_dropped_first() {
    let mut vm = Vm::new();
    let root = vm.add_root(&all_to("x-canary-subset", "v2", true)).unwrap();
    let streams: Vec<u32> = (0..MAX_AWAITING + 2)
        .map(|_| vm.request(root, &[("x-user-id", "u")]).0)
        .collect();
    assert_eq!(vm.filter.streams_held(), (0, MAX_AWAITING));
    assert_eq!(value(&vm.response(streams[1]), "x-canary-subset"), None);
    assert_eq!(
        value(&vm.response(streams[2]), "x-canary-subset").as_deref(),
        Some("v2")
    );
}

#[test]
fn counts_are_handed_over_on_the_tick_and_a_forgotten_root_hands_over_its_own() {
    let mut vm = Vm::new();
    let config = serde_json::json!({
        "routes": [{
            "name": "service-a",
            "match": {"pathPrefix": "/a"},
            "subsets": [{"name": "v1", "weight": 0}, {"name": "v2", "weight": 100}],
            "stickiness": {"keys": [{"header": "x-user-id"}]}
        }]
    })
    .to_string();
    let live = vm.add_root(&config).unwrap();
    let gone = vm.add_root(&config).unwrap();
    let hashed = decided_name("service-a", "v2", Reason::Hash);
    let fallback = decided_name("service-a", "v2", Reason::Fallback);
    for _ in 0..3 {
        vm.request(live, &[(":path", "/a"), ("x-user-id", "u")]);
    }
    vm.request(gone, &[(":path", "/a"), ("x-user-id", "u")]);
    vm.request(gone, &[(":path", "/a")]);
    vm.request(gone, &[(":path", "/b")]);
    assert_eq!(vm.counter(&hashed), 0, "nothing before the tick");
    vm.tick(&[live]);
    assert_eq!(vm.counter(&hashed), 4);
    assert_eq!(vm.counter(&fallback), 1);
    assert_eq!(vm.counter(UNROUTED_NAME), 1);

    vm.request(gone, &[(":path", "/a"), ("x-user-id", "u")]);
    for _ in 0..GONE_AFTER_TICKS - 1 {
        vm.tick(&[live]);
    }
    // The tick that forgets `gone` hands over its last count.
    assert_eq!(vm.filter.configured_roots(), vec![live]);
    assert_eq!(vm.counter(&hashed), 5);
}

#[test]
fn the_request_path_makes_no_logger_call_at_info_and_logs_one_line_per_request_at_debug() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    take_log_lines();
    take_level_queries();
    for _ in 0..100 {
        vm.request(root, &[("x-user-id", "u")]);
    }
    vm.tick(&[root]);
    // Counted at the logger, which filters nothing: neither a record nor a level query.
    assert_eq!(take_log_lines(), vec![]);
    assert_eq!(take_level_queries(), Vec::<Level>::new());

    // `/logging?wasm=debug`: the level is read on the next tick, not per request.
    vm.state().level = Some(LevelFilter::Debug);
    vm.request(root, &[("x-user-id", "u")]);
    assert_eq!(take_log_lines(), vec![], "level read on the tick only");
    vm.tick(&[root]);
    vm.request(root, &[("x-user-id", "u")]);
    vm.request(root, &[]);
    vm.request(root, &[("x-user-id", "u")]);
    let lines: Vec<String> = take_log_lines().into_iter().map(|(_, l)| l).collect();
    let bucket = sticky_canary_core::bucket(b"service-a", b"u");
    let hashed =
        format!("sticky-canary: route service-a -> subset v2 (reason hash, bucket {bucket})");
    assert_eq!(
        lines,
        vec![
            hashed.clone(),
            "sticky-canary: route service-a -> subset v2 (reason fallback, bucket -)".to_string(),
            hashed,
        ]
    );
}

#[test]
fn the_vm_and_each_configuration_log_one_info_line_and_ticks_are_asked_for() {
    let mut vm = Vm::new();
    assert_eq!(vm.state().tick_period, None);
    let lines = take_log_lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].1.starts_with("sticky-canary 0.1.0 (git "),
        "{lines:?}"
    );
    vm.add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    assert_eq!(vm.state().tick_period, Some(TICK));
    assert_eq!(
        take_log_lines(),
        vec![(
            Level::Info,
            "sticky-canary: configured routing header x-canary-subset, routes: service-a [v1=0 v2=100]"
                .to_string()
        )]
    );
}

#[test]
fn only_streams_older_than_response_wait_expire_and_the_newer_keep_their_choice() {
    let mut vm = Vm::new();
    let root = vm.add_root(&all_to("x-canary-subset", "v2", true)).unwrap();
    let old: Vec<u32> = (0..3).map(|_| vm.request(root, &[]).0).collect();
    vm.advance(RESPONSE_WAIT / 2);
    vm.tick(&[root]);
    let young: Vec<u32> = (0..3).map(|_| vm.request(root, &[]).0).collect();
    vm.advance(RESPONSE_WAIT / 2);
    vm.tick(&[root]);
    assert_eq!(vm.filter.streams_held(), (0, 3));
    for context in old {
        assert_eq!(value(&vm.response(context), "x-canary-subset"), None);
    }
    for context in young {
        assert_eq!(
            value(&vm.response(context), "x-canary-subset").as_deref(),
            Some("v2")
        );
    }
}

/// `reasonHeader` carries the decision's reason upstream; a value sent by the client is replaced
/// on a routed request and removed on one no route matched. Unset, nothing is written.
#[test]
fn the_reason_header_carries_the_reason_and_replaces_a_forged_one() {
    let mut vm = Vm::new();
    let mut config: serde_json::Value =
        serde_json::from_str(&all_to("x-canary-subset", "v2", false)).unwrap();
    config["reasonHeader"] = serde_json::json!("x-canary-reason");
    config["routes"][0]["match"] = serde_json::json!({"pathPrefix": "/app"});
    config["routes"][0]["rules"] = serde_json::json!([{"subset": "v1", "match": {"headers": [{"name": "x-canary", "exact": "old"}]}}]);
    let root = vm.add_root(&config.to_string()).unwrap();
    let cases = [
        (vec![("x-user-id", "u")], Some("hash")),
        (vec![("x-canary-reason", "rule")], Some("fallback")),
        (vec![("x-user-id", "u"), ("x-canary", "old")], Some("rule")),
    ];
    for (mut request, want) in cases {
        request.push((":path", "/app/page"));
        let (_, headers) = vm.request(root, &request);
        assert_eq!(
            value(&headers, "x-canary-reason").as_deref(),
            want,
            "{request:?}"
        );
    }
    let (_, headers) = vm.request(root, &[(":path", "/other"), ("x-canary-reason", "rule")]);
    assert_eq!(
        value(&headers, "x-canary-reason"),
        None,
        "no route: removed"
    );

    let plain = vm
        .add_root(&all_to("x-canary-subset", "v2", false))
        .unwrap();
    let (_, headers) = vm.request(plain, &[("x-user-id", "u"), ("x-canary-reason", "mine")]);
    assert_eq!(
        value(&headers, "x-canary-reason").as_deref(),
        Some("mine"),
        "unset: untouched"
    );
}
