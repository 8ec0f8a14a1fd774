//! What streams cost the VM whatever the host sends: streams created and never opened (a filter
//! before this one answered them) hold a fixed number of slots, and the streams kept for their
//! responses are evicted and expired oldest first even when the host's u32 context ids wrap.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use std::time::Duration;

use fake_host::{value, Vm};
use sticky_canary::{
    MAX_AWAITING, MEMORY_NAME, NOT_REACHED_NAME, OPENING_SLOTS, RESPONSE_WAIT, TICK,
};

/// Every request to v2, echoed in the response when `expose`.
fn to_v2(expose: bool) -> String {
    serde_json::json!({
        "exposeSubset": expose,
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 0}, {"name": "v2", "weight": 100}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"}
        }]
    })
    .to_string()
}

/// Envoy creates the stream of a request RBAC denied, for the access log, and never calls its
/// request headers.
fn denied(vm: &mut Vm, root: u32) -> u32 {
    let context = vm.next_context();
    vm.filter.on_context_create(context, root);
    context
}

#[test]
fn streams_created_and_never_opened_hold_a_fixed_number_of_slots_and_are_counted() {
    let mut vm = Vm::new();
    let root = vm.add_root(&to_v2(false)).unwrap();
    for _ in 0..100_000 {
        denied(&mut vm, root);
    }
    assert_eq!(vm.filter.streams_held(), (OPENING_SLOTS, 0));
    vm.tick(&[root]);
    assert_eq!(
        vm.counter(NOT_REACHED_NAME),
        100_000 - OPENING_SLOTS as u64,
        "each counted when a newer stream took its slot"
    );
    // A stream that is opened among them is decided as ever, even after OPENING_SLOTS - 1
    // others were created before its headers came.
    let context = vm.next_context();
    vm.filter.on_context_create(context, root);
    for _ in 0..OPENING_SLOTS - 1 {
        denied(&mut vm, root);
    }
    vm.request_headers(context, &[("x-user-id", "u")]);
    assert_eq!(
        value(&vm.state().request, "x-canary-subset").as_deref(),
        Some("v2")
    );
    assert_eq!(vm.filter.streams_held(), (OPENING_SLOTS - 1, 0));
    // A minute later the rest are given up, and counted.
    vm.advance(Duration::from_secs(61));
    vm.tick(&[root]);
    assert_eq!(vm.filter.streams_held(), (0, 0));
    assert_eq!(
        vm.counter(NOT_REACHED_NAME),
        100_000 + OPENING_SLOTS as u64 - 1
    );
}

#[test]
fn context_ids_that_wrap_expire_the_oldest_streams_not_the_newest() {
    let mut vm = Vm::new();
    let root = vm.add_root(&to_v2(true)).unwrap();
    vm.set_next_context(u32::MAX - 2);
    let old: Vec<u32> = (0..3).map(|_| vm.request(root, &[]).0).collect();
    vm.advance(RESPONSE_WAIT / 2);
    vm.tick(&[root]);
    let young: Vec<u32> = (0..3).map(|_| vm.request(root, &[]).0).collect();
    assert_eq!(old, [u32::MAX - 2, u32::MAX - 1, u32::MAX]);
    assert_eq!(young, [1, 2, 3], "the ids wrapped (0 is no stream's)");
    vm.advance(RESPONSE_WAIT / 2 + TICK);
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

#[test]
fn context_ids_that_wrap_evict_the_oldest_stream_not_the_newest() {
    let mut vm = Vm::new();
    let root = vm.add_root(&to_v2(true)).unwrap();
    vm.set_next_context(u32::MAX - 9);
    let streams: Vec<u32> = (0..MAX_AWAITING + 1)
        .map(|_| vm.request(root, &[]).0)
        .collect();
    assert_eq!(vm.filter.streams_held(), (0, MAX_AWAITING));
    // The first (u32::MAX - 9) went; the ones after the wrap (1, 2, ...) stay.
    assert_eq!(value(&vm.response(streams[0]), "x-canary-subset"), None);
    for &context in [streams[1], streams[10], streams[11], streams[MAX_AWAITING]].iter() {
        assert_eq!(
            value(&vm.response(context), "x-canary-subset").as_deref(),
            Some("v2"),
            "context {context}"
        );
    }
    assert_eq!(streams[10], 1);
}

#[test]
fn the_memory_gauge_is_set_on_the_tick_only_by_a_vm_that_has_had_streams() {
    let mut vm = Vm::new();
    vm.state().memory = Some(3 * 65_536);
    let root = vm.add_root(&to_v2(false)).unwrap();
    vm.tick(&[root]);
    assert_eq!(vm.gauge(MEMORY_NAME), Some(0), "no stream yet");
    denied(&mut vm, root);
    vm.state().memory = Some(4 * 65_536);
    assert_eq!(vm.gauge(MEMORY_NAME), Some(0), "not before the tick");
    vm.tick(&[root]);
    assert_eq!(vm.gauge(MEMORY_NAME), Some(4 * 65_536));
}

#[test]
fn answered_streams_leave_the_age_order_intact_for_the_oldest_still_waiting() {
    let mut vm = Vm::new();
    let root = vm.add_root(&to_v2(true)).unwrap();
    let long_lived = vm.request(root, &[]).0;
    for _ in 0..10_000 {
        let (context, _) = vm.request(root, &[]);
        vm.response(context);
    }
    assert_eq!(vm.filter.streams_held(), (0, 1));
    let kept: Vec<u32> = (0..MAX_AWAITING).map(|_| vm.request(root, &[]).0).collect();
    assert_eq!(vm.filter.streams_held(), (0, MAX_AWAITING));
    assert_eq!(value(&vm.response(long_lived), "x-canary-subset"), None);
    assert_eq!(
        value(&vm.response(kept[0]), "x-canary-subset").as_deref(),
        Some("v2")
    );
}
