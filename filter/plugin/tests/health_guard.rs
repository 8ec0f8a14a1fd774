//! Per-subset health counters and the guard against a fake host: response classes, which
//! streams wait for their response, two workers merging their counts through shared data with
//! compare-and-swap and tripping together, the cool-down, and the shared-data key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use std::time::Duration;

use fake_host::{take_host_calls, take_log_lines, value, Vm};
use log::Level;
use serde_json::{json, Value};
use sticky_canary::{decided_name, responses_name, shared_key, state_name, tripped_name};
use sticky_canary_core::{plan, Config, Fixed, GuardState, Reason, Request};

/// 50/50, keyed by x-user-id; `route` extra keys merged in.
fn config_with(route: Value) -> String {
    let mut config = json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"}
        }]
    });
    for (k, v) in route.as_object().unwrap() {
        config["routes"][0][k] = v.clone();
    }
    config.to_string()
}

fn guarded() -> String {
    config_with(
        json!({"guard": {"subset": "v2", "maxErrorRate": 0.05, "minRequests": 20,
                                 "window": "10s", "coolDown": "30s"}}),
    )
}

/// The first `count` ids `u-0`, `u-1`, ... the core puts on `subset`.
fn users_on(config: &str, subset: &str, count: usize) -> Vec<String> {
    let compiled = Config::from_json(config.as_bytes()).unwrap();
    (0..10_000)
        .map(|i| format!("u-{i}"))
        .filter(|id| {
            let request = Request::new(vec![(b"x-user-id", id.as_bytes())]);
            let d = plan(&compiled, &request, &Fixed::default())
                .decision
                .unwrap();
            compiled.routes[0].subsets[d.subset].name == subset
        })
        .take(count)
        .collect()
}

/// One request of `user` answered with `status`; the subset the filter chose.
fn serve(vm: &mut Vm, root: u32, user: &str, status: &str) -> String {
    let (context, headers) = vm.request(root, &[("x-user-id", user)]);
    vm.response_with_status(context, status);
    value(&headers, "x-canary-subset").unwrap()
}

fn tripped_total(vms: &[&Vm]) -> u64 {
    vms.iter()
        .map(|vm| vm.counter(&tripped_name("service-a", "v2")))
        .sum()
}

fn warnings() -> Vec<String> {
    take_log_lines()
        .into_iter()
        .filter(|(level, _)| *level == Level::Warn)
        .map(|(_, line)| line)
        .collect()
}

#[test]
fn responses_are_counted_by_subset_and_status_class_on_routes_with_health() {
    let config = config_with(json!({"health": true}));
    let mut vm = Vm::new();
    let root = vm.add_root(&config).unwrap();
    let v2 = users_on(&config, "v2", 1).remove(0);
    let v1 = users_on(&config, "v1", 1).remove(0);
    for status in [
        "200", "204", "101", "302", "404", "429", "500", "503", "", "abc", "99",
    ] {
        serve(&mut vm, root, &v2, status);
    }
    let (context, _) = vm.request(root, &[("x-user-id", &v1)]);
    let response = vm.response(context);
    assert_eq!(
        value(&response, "x-canary-subset"),
        None,
        "health alone does not expose the subset"
    );
    assert_eq!(vm.filter.streams_held(), (0, 0), "every stream answered");
    // Handed over on the tick, not before.
    assert_eq!(vm.counter(&responses_name("service-a", "v2", "2xx")), 0);
    vm.tick(&[root]);
    let count = |subset: &str, class: &str| vm.counter(&responses_name("service-a", subset, class));
    assert_eq!(
        [
            count("v2", "2xx"),
            count("v2", "3xx"),
            count("v2", "4xx"),
            count("v2", "5xx")
        ],
        [3, 1, 2, 5]
    );
    assert_eq!(
        [
            count("v1", "2xx"),
            count("v1", "3xx"),
            count("v1", "4xx"),
            count("v1", "5xx")
        ],
        [1, 0, 0, 0]
    );
}

#[test]
fn only_routes_with_health_or_expose_subset_keep_streams_until_their_response() {
    let mut vm = Vm::new();
    let quiet = vm.add_root(&config_with(json!({}))).unwrap();
    let health = vm.add_root(&config_with(json!({"health": true}))).unwrap();
    let guard = vm.add_root(&guarded()).unwrap();
    vm.request(quiet, &[("x-user-id", "a")]);
    assert_eq!(vm.filter.streams_held(), (0, 0));
    vm.request(health, &[("x-user-id", "a")]);
    vm.request(guard, &[("x-user-id", "a")]);
    assert_eq!(vm.filter.streams_held(), (0, 2));
    // No health counters defined for the quiet route's configuration: only two sets of four.
    let defined = vm
        .state()
        .counters
        .iter()
        .filter(|(n, _)| n.starts_with("sticky_canary.responses_total."))
        .count();
    assert_eq!(defined, 2 * 4, "two subsets of one route, four classes");
}

#[test]
fn two_workers_merge_their_counts_on_the_tick_and_trip_together() {
    let config = guarded();
    let (mut a, mut b) = Vm::pair();
    let root_a = a.add_root(&config).unwrap();
    let root_b = b.add_root(&config).unwrap();
    let users = users_on(&config, "v2", 15);
    take_log_lines();
    take_host_calls();
    // 15 failing responses on each worker: under minRequests (20) alone, 30 together.
    for user in &users {
        assert_eq!(serve(&mut a, root_a, user, "500"), "v2");
        assert_eq!(serve(&mut b, root_b, user, "503"), "v2");
    }
    // The request path never touches shared data: counts move on the tick only.
    assert!(
        !take_host_calls().iter().any(|c| c.contains("shared")),
        "a request read or wrote shared data"
    );
    a.tick(&[root_a]);
    assert_eq!(
        serve(&mut a, root_a, &users[0], "200"),
        "v2",
        "15 < 20: armed"
    );
    b.tick(&[root_b]);
    // b's tick merged 15 + 15 and tripped; a learns it on its next tick.
    assert_eq!(serve(&mut b, root_b, &users[0], "200"), "v1");
    assert_eq!(serve(&mut a, root_a, &users[1], "200"), "v2");
    a.tick(&[root_a]);
    for user in &users {
        for (vm, root) in [(&mut a, root_a), (&mut b, root_b)] {
            let (_, headers) = vm.request(root, &[("x-user-id", user)]);
            assert_eq!(value(&headers, "x-canary-subset").as_deref(), Some("v1"));
        }
    }
    let lines = warnings();
    assert_eq!(
        lines,
        ["sticky-canary: guard tripped on route service-a: subset v2 answered 30 of 30 responses with 5xx (100.0 %) in the last 10s, above maxErrorRate 0.05 (minRequests 20); its users go to v1 for 30s"],
        "one warning line, from the worker that tripped it"
    );
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    assert_eq!(tripped_total(&[&a, &b]), 1);
    let gauge = state_name("service-a", "v2");
    assert_eq!((a.gauge(&gauge), b.gauge(&gauge)), (Some(1), Some(1)));
    let guard = decided_name("service-a", "v1", Reason::Guard);
    assert_eq!(a.counter(&guard) + b.counter(&guard), 2 * 15 + 1);
}

#[test]
fn after_the_cool_down_exactly_the_same_users_return_and_are_watched_again() {
    let config = guarded();
    let (mut a, mut b) = Vm::pair();
    let root_a = a.add_root(&config).unwrap();
    let root_b = b.add_root(&config).unwrap();
    let on_v2 = users_on(&config, "v2", 25);
    let on_v1 = users_on(&config, "v1", 25);
    for user in &on_v2 {
        serve(&mut a, root_a, user, "500");
    }
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    take_log_lines();
    // 29 ticks into the 30 s cool-down nobody of v2 is back.
    for second in 1..30 {
        a.tick(&[root_a]);
        b.tick(&[root_b]);
        let user = &on_v2[second % on_v2.len()];
        assert_eq!(serve(&mut a, root_a, user, "200"), "v1", "second {second}");
        assert_eq!(serve(&mut b, root_b, user, "200"), "v1", "second {second}");
    }
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    for user in &on_v2 {
        assert_eq!(serve(&mut a, root_a, user, "200"), "v2", "{user}");
        assert_eq!(serve(&mut b, root_b, user, "200"), "v2", "{user}");
    }
    for user in &on_v1 {
        assert_eq!(serve(&mut a, root_a, user, "200"), "v1", "{user}");
    }
    let lines: Vec<String> = take_log_lines().into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        ["sticky-canary: guard re-armed on route service-a: subset v2 gets its users back and is watched again"]
    );
    let gauge = state_name("service-a", "v2");
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    assert_eq!((a.gauge(&gauge), b.gauge(&gauge)), (Some(0), Some(0)));
    // Watched again: failures after the re-arm trip it a second time.
    for user in &on_v2 {
        serve(&mut b, root_b, user, "502");
    }
    b.tick(&[root_b]);
    assert_eq!(serve(&mut b, root_b, &on_v2[0], "200"), "v1");
    a.tick(&[root_a]);
    b.tick(&[root_b]);
    assert_eq!(tripped_total(&[&a, &b]), 2);
}

#[test]
fn a_store_refused_for_a_stale_token_is_read_again_and_no_count_is_lost() {
    let config = guarded();
    let mut vm = Vm::new();
    vm.state().plugin_name = Some("service-a-canary".into());
    let root = vm.add_root(&config).unwrap();
    let compiled = Config::from_json(config.as_bytes()).unwrap();
    let route = &compiled.routes[0];
    let key = shared_key("service-a-canary", route, route.guard.as_ref().unwrap());
    assert!(
        vm.state().shared.borrow().values.contains_key(&key),
        "created at configure"
    );
    // Another worker adds 12 failing responses between this VM's read and its store.
    let now = (vm.state().now + fake_host_tick()).as_secs();
    let mut other = GuardState::default();
    other.record(route.guard.as_ref().unwrap(), now, 12, 12);
    vm.state()
        .shared
        .borrow_mut()
        .interleaved
        .push((key.clone(), other.encode()));
    for user in users_on(&config, "v2", 10) {
        serve(&mut vm, root, &user, "500");
    }
    vm.tick(&[root]);
    assert_eq!(vm.state().shared.borrow().mismatches, 1);
    // 12 + 10 >= 20: tripped on the merged window.
    assert!(warnings()[0].contains("answered 22 of 22 responses"));
    let user = users_on(&config, "v2", 1).remove(0);
    assert_eq!(serve(&mut vm, root, &user, "200"), "v1");
}

fn fake_host_tick() -> Duration {
    sticky_canary::TICK
}

#[test]
fn plugins_sharing_a_vm_and_routes_have_their_own_guards_and_a_changed_guard_starts_afresh() {
    let config = guarded();
    let mut vm = Vm::new();
    vm.state().plugin_name = Some("first".into());
    let first = vm.add_root(&config).unwrap();
    vm.state().plugin_name = Some("second".into());
    let second = vm.add_root(&config).unwrap();
    let users = users_on(&config, "v2", 25);
    for user in &users {
        serve(&mut vm, first, user, "500");
        serve(&mut vm, second, user, "200");
    }
    vm.tick(&[first, second]);
    assert_eq!(serve(&mut vm, first, &users[0], "200"), "v1");
    assert_eq!(serve(&mut vm, second, &users[0], "200"), "v2");

    // A push that changes the weights keeps the trip; one that changes the guard starts armed.
    vm.state().plugin_name = Some("first".into());
    let mut ramp: Value = serde_json::from_str(&config).unwrap();
    ramp["routes"][0]["subsets"] =
        json!([{"name": "v1", "weight": 40}, {"name": "v2", "weight": 60}]);
    let ramped = vm.add_root(&ramp.to_string()).unwrap();
    assert_eq!(
        serve(&mut vm, ramped, &users[0], "200"),
        "v1",
        "still tripped"
    );
    let mut looser = ramp.clone();
    looser["routes"][0]["guard"]["maxErrorRate"] = json!(0.5);
    let loosened = vm.add_root(&looser.to_string()).unwrap();
    assert_eq!(
        serve(&mut vm, loosened, &users[0], "200"),
        "v2",
        "a new guard"
    );
}
