//! What the filter writes for `lane` and `mirror` into the request headers the host forwards,
//! and that a route without them makes no extra header call (its counter calls counted apart).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use fake_host::{take_host_calls, value, Vm};
use serde_json::{json, Value};
use sticky_canary::{decided_name, lane_dropped_name, mirrored_name};
use sticky_canary_core::{bucket, Reason};

/// service-a at v1 50 / v2 50 by x-user-id, `extra` merged into the route; a second route
/// (`/other`) with neither lane nor mirror.
fn config(extra: Value) -> String {
    let mut route = json!({
        "name": "service-a",
        "match": {"pathPrefix": "/a"},
        "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
        "stickiness": {"keys": [{"header": "x-user-id"}]}
    });
    for (k, v) in extra.as_object().unwrap() {
        route[k] = v.clone();
    }
    let other = json!({
        "name": "other",
        "match": {"pathPrefix": "/other"},
        "subsets": [{"name": "v1", "weight": 100}],
        "stickiness": {"keys": [{"header": "x-user-id"}]}
    });
    json!({"routes": [route, other]}).to_string()
}

fn raw(headers: &[(String, Vec<u8>)], name: &str) -> Vec<Vec<u8>> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn an_edge_lane_header_carries_the_decision_over_a_forged_one() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&config(json!({"lane": {"header": "x-canary-lane"}})))
        .unwrap();
    for i in 0..50 {
        let user = format!("u{i}");
        for forged in [None, Some("v1"), Some("v2"), Some("v9")] {
            let mut headers = vec![(":path", "/a"), ("x-user-id", user.as_str())];
            headers.extend(forged.map(|f| ("x-canary-lane", f)));
            let (_, out) = vm.request(root, &headers);
            let subset = value(&out, "x-canary-subset").unwrap();
            assert_eq!(
                raw(&out, "x-canary-lane"),
                vec![subset.into_bytes()],
                "{user} {forged:?}"
            );
        }
    }
    // The configuration owns the lane: a request no lane route decides, or none at all, never
    // carries the client's lane into the mesh.
    let (_, out) = vm.request(root, &[(":path", "/other"), ("x-canary-lane", "v9")]);
    assert_eq!(value(&out, "x-canary-lane"), None);
}

#[test]
fn an_edge_baggage_lane_is_ours_on_every_request_however_its_key_is_encoded() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&config(json!({"lane": {"baggage": "canary-lane"}})))
        .unwrap();
    let forged = "k=1,canary-lane=v1,canary%2Dlane=v2, canary%2dlane=v2;p";
    let (_, out) = vm.request(
        root,
        &[(":path", "/a"), ("x-user-id", "alice"), ("baggage", forged)],
    );
    let subset = value(&out, "x-canary-subset").unwrap();
    assert_eq!(
        raw(&out, "baggage"),
        vec![format!("k=1,canary-lane={subset}").into_bytes()]
    );
    // Another route, and a request no route matches: the member goes, the others stay.
    for path in ["/other", "/none"] {
        let (_, out) = vm.request(root, &[(":path", path), ("baggage", forged)]);
        assert_eq!(raw(&out, "baggage"), vec![b"k=1".to_vec()], "{path}");
    }
    // Nothing of ours in it: the baggage is not touched.
    take_host_calls();
    vm.request(root, &[(":path", "/other"), ("baggage", "k=1,lane=v2")]);
    assert_eq!(take_host_calls(), ["get map", "set x-canary-subset"]);
}

#[test]
fn an_edge_baggage_lane_keeps_every_other_member_byte_for_byte() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&config(json!({"lane": {"baggage": "canary-lane"}})))
        .unwrap();
    let (_, out) = vm.request(root, &[(":path", "/a"), ("x-user-id", "alice")]);
    let subset = value(&out, "x-canary-subset").unwrap();
    assert_eq!(
        value(&out, "baggage"),
        Some(format!("canary-lane={subset}"))
    );
    let cases = [
        (
            "userId=alice;p=1 , sampled=1",
            format!("userId=alice;p=1 , sampled=1,canary-lane={subset}"),
        ),
        (
            "a=1, canary-lane=v9;x , b",
            format!("a=1,canary-lane={subset}, b"),
        ),
        (
            "canary-lane=v9,,=,canary-lane=v1",
            format!("canary-lane={subset},,="),
        ),
    ];
    for (incoming, expected) in cases {
        let (_, out) = vm.request(
            root,
            &[
                (":path", "/a"),
                ("x-user-id", "alice"),
                ("baggage", incoming),
            ],
        );
        assert_eq!(value(&out, "baggage"), Some(expected), "{incoming}");
    }
    // Client bytes that are not UTF-8 pass as they came.
    vm.state().request.clear();
    let context = vm.next_context();
    vm.filter.on_context_create(context, root);
    vm.state().request = vec![
        (":path".into(), b"/a".to_vec()),
        ("x-user-id".into(), b"alice".to_vec()),
        ("baggage".into(), b"k=\xff\xfe;\x01".to_vec()),
    ];
    vm.filter.on_request_headers(context);
    let out = vm.state().request.clone();
    let mut expected = b"k=\xff\xfe;\x01,canary-lane=".to_vec();
    expected.extend_from_slice(subset.as_bytes());
    assert_eq!(raw(&out, "baggage"), vec![expected]);
}

#[test]
fn a_trusting_sidecar_passes_the_lane_on_unchanged_and_counts_reason_lane() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&config(
            json!({"lane": {"baggage": "canary-lane", "trust": true}}),
        ))
        .unwrap();
    for (incoming, subset) in [
        ("x=1, canary-lane=v2;p", "v2"),
        ("canary-lane=v7 ,x=1", "v1"),
    ] {
        let (_, out) = vm.request(
            root,
            &[(":path", "/a"), ("x-user-id", "u"), ("baggage", incoming)],
        );
        assert_eq!(value(&out, "x-canary-subset").as_deref(), Some(subset));
        assert_eq!(value(&out, "baggage").as_deref(), Some(incoming));
    }
    vm.tick(&[root]);
    assert_eq!(
        vm.counter(&decided_name("service-a", "v2", Reason::Lane)),
        1
    );
    assert_eq!(
        vm.counter(&decided_name("service-a", "v1", Reason::Lane)),
        1
    );
}

#[test]
fn the_mirror_mark_goes_to_the_sample_only_and_a_forged_one_never_passes() {
    let mut vm = Vm::new();
    let mirror = json!({"mirror": {"subset": "v2", "percent": 30, "header": "x-canary-mirror"}});
    let root = vm.add_root(&config(mirror)).unwrap();
    let (mut marked, mut sampled_on_v2) = (0, 0);
    for i in 0..300 {
        let user = format!("user-{i}");
        for forged in [None, Some("v2"), Some("v1")] {
            let mut headers = vec![(":path", "/a"), ("x-user-id", user.as_str())];
            headers.extend(forged.map(|f| ("x-canary-mirror", f)));
            let (_, out) = vm.request(root, &headers);
            let in_sample = bucket(b"service-a:mirror", user.as_bytes()) < 3000;
            let on_v2 = value(&out, "x-canary-subset").as_deref() == Some("v2");
            let expected = (in_sample && !on_v2).then(|| b"v2".to_vec());
            assert_eq!(
                raw(&out, "x-canary-mirror"),
                Vec::from_iter(expected.clone()),
                "{user}"
            );
            if forged.is_none() {
                marked += usize::from(expected.is_some());
                sampled_on_v2 += usize::from(in_sample && on_v2);
            }
        }
    }
    assert!(
        marked > 20 && sampled_on_v2 > 20,
        "{marked} marked, {sampled_on_v2} sampled on v2"
    );
    vm.tick(&[root]);
    assert_eq!(vm.counter(&mirrored_name("service-a")), 3 * marked as u64);
    let defined: Vec<String> = vm.state().counters.iter().map(|(n, _)| n.clone()).collect();
    assert!(
        !defined.contains(&mirrored_name("other")),
        "only mirroring routes have one"
    );
    // No key, another route, no route: a forged mark is removed all the same.
    for path in ["/a", "/other", "/none"] {
        let (_, out) = vm.request(root, &[(":path", path), ("x-canary-mirror", "v2")]);
        assert_eq!(value(&out, "x-canary-mirror"), None, "{path}");
    }
}

#[test]
fn a_route_without_lane_or_mirror_makes_no_extra_header_call_and_counts_on_the_tick() {
    let mut vm = Vm::new();
    let plain = vm.add_root(&config(json!({}))).unwrap();
    take_host_calls();
    vm.request(
        plain,
        &[
            (":path", "/a"),
            ("x-user-id", "u"),
            ("baggage", "canary-lane=v2"),
        ],
    );
    let (increments, header_calls): (Vec<String>, Vec<String>) = take_host_calls()
        .into_iter()
        .partition(|c| c.starts_with("increment"));
    // One read of the whole request, one write.
    assert_eq!(
        header_calls,
        ["get map", "set x-canary-subset"]
            .map(String::from)
            .to_vec()
    );
    // Counting is not a header call, and is not hidden either: the request only counts in the VM
    // and the tick hands the one count to Envoy.
    assert_eq!(increments, Vec::<String>::new());
    vm.tick(&[plain]);
    let decided = "sticky_canary.requests_total.route.service-a.subset.v2.reason.hash";
    let id = vm
        .state()
        .counters
        .iter()
        .position(|(name, _)| name == decided)
        .unwrap();
    assert_eq!(take_host_calls(), vec![format!("increment {id}")]);
    assert_eq!(vm.counter(decided), 1);
}

#[test]
fn repeated_baggage_headers_are_one_list() {
    let mut vm = Vm::new();
    let edge = vm
        .add_root(&config(json!({"lane": {"baggage": "canary-lane"}})))
        .unwrap();
    let (_, out) = vm.request(
        edge,
        &[
            (":path", "/a"),
            ("x-user-id", "alice"),
            ("baggage", "a=1"),
            ("baggage", "canary-lane=v9, b=2"),
        ],
    );
    let subset = value(&out, "x-canary-subset").unwrap();
    assert_eq!(
        raw(&out, "baggage"),
        vec![format!("a=1,canary-lane={subset}, b=2").into_bytes()]
    );
    let sidecar = vm
        .add_root(&config(
            json!({"lane": {"baggage": "canary-lane", "trust": true}}),
        ))
        .unwrap();
    for lane in ["v1", "v2"] {
        let second = format!("b=2,canary-lane={lane}");
        let (_, out) = vm.request(
            sidecar,
            &[
                (":path", "/a"),
                ("x-user-id", "alice"),
                ("baggage", "a=1"),
                ("baggage", &second),
            ],
        );
        assert_eq!(value(&out, "x-canary-subset").as_deref(), Some(lane));
        assert_eq!(raw(&out, "baggage").len(), 2, "passed on as it came");
    }
}

#[test]
fn a_lane_with_no_room_in_the_baggage_is_left_out_and_counted() {
    let mut vm = Vm::new();
    let root = vm
        .add_root(&config(json!({"lane": {"baggage": "canary-lane"}})))
        .unwrap();
    let full: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
    let full = full.join(",");
    let forged = format!("canary-lane=v2,{full}");
    for incoming in [full.as_str(), forged.as_str()] {
        let (_, out) = vm.request(
            root,
            &[
                (":path", "/a"),
                ("x-user-id", "alice"),
                ("baggage", incoming),
            ],
        );
        assert_eq!(value(&out, "baggage").as_deref(), Some(full.as_str()));
    }
    vm.request(
        root,
        &[(":path", "/a"), ("x-user-id", "alice"), ("baggage", "k=v")],
    );
    vm.tick(&[root]);
    assert_eq!(vm.counter(&lane_dropped_name("service-a")), 2);
}
