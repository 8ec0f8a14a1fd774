//! `stickiness.assign` through the filter's callbacks against a fake host: the one `Set-Cookie`
//! added to a keyless visitor's response next to the upstream's own, no second id for a visitor
//! who sent one, a tampered signed cookie replaced, the id sent upstream in `assign.header`, and
//! the `assigned_total` counter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_host;

use fake_host::{take_host_calls, take_log_lines, value, values, Vm};
use log::Level;
use sticky_canary::assigned_name;
use sticky_canary_core::{plan, Config, Fixed, Request, Secret, COOKIE_KEY_ENV};

const KEY: &str = "plugin-test-cookie-key-of-32-bytes!";

fn assigning(signed: bool) -> String {
    serde_json::json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {
                "keys": [{"header": "x-user-id"}, {"cookie": "canary-uid"}],
                "assign": {"cookie": "canary-uid", "maxAge": 3600, "httpOnly": true,
                           "header": "x-canary-uid", "signed": signed}
            }
        }]
    })
    .to_string()
}

/// A VM with the cookie key in its environment and one assigning root.
fn vm_with(config: &str) -> (Vm, u32) {
    let mut vm = Vm::new();
    vm.state()
        .env
        .insert(COOKIE_KEY_ENV.to_string(), KEY.as_bytes().to_vec());
    let root = vm.add_root(config).expect("configured");
    (vm, root)
}

/// The cookie's `name=value` part of a `Set-Cookie`, and its attributes.
fn split_set_cookie(set_cookie: &str) -> (&str, &str) {
    set_cookie.split_once(';').unwrap()
}

/// The subset the core gives a visitor sending this cookie value.
fn subset_for_cookie(config: &str, cookie_value: &str) -> String {
    let config =
        Config::from_json_with_secrets(config.as_bytes(), None, Secret::new(Some(KEY.as_bytes())))
            .unwrap();
    let cookie = format!("canary-uid={cookie_value}");
    let request = Request::new(vec![(b"cookie", cookie.as_bytes())]);
    let d = plan(&config, &request, &Fixed::default()).decision.unwrap();
    config.routes[d.route].subsets[d.subset].name.clone()
}

#[test]
fn a_visitor_without_a_key_gets_exactly_one_set_cookie_and_the_upstreams_are_kept() {
    for signed in [false, true] {
        let config = assigning(signed);
        let (mut vm, root) = vm_with(&config);
        let (context, request) = vm.request(root, &[("x-canary-uid", "forged")]);
        let id = value(&request, "x-canary-uid").unwrap();
        assert_ne!(id, "forged");
        assert_eq!(id.len(), 22, "128 bits as URL-safe base64: {id}");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let response = vm.response_with(
            context,
            &[
                ("set-cookie", "session=abc; Path=/; HttpOnly"),
                ("set-cookie", "theme=dark"),
            ],
        );
        let set_cookies = values(&response, "set-cookie");
        assert_eq!(set_cookies.len(), 3, "signed {signed}: {set_cookies:?}");
        assert_eq!(set_cookies[0], "session=abc; Path=/; HttpOnly");
        assert_eq!(set_cookies[1], "theme=dark");
        let (cookie, attributes) = split_set_cookie(&set_cookies[2]);
        assert_eq!(attributes, " Max-Age=3600; Path=/; HttpOnly");
        let cookie_value = cookie.strip_prefix("canary-uid=").unwrap();
        if signed {
            let (id_part, mac) = cookie_value.split_once('.').unwrap();
            assert_eq!(id_part, id);
            assert_eq!(mac.len(), 43);
        } else {
            assert_eq!(cookie_value, id);
        }
        assert_eq!(
            value(&request, "x-canary-subset").unwrap(),
            subset_for_cookie(&config, cookie_value),
            "the new id is decided as if it had been sent"
        );
        assert_eq!(vm.filter.streams_held(), (0, 0));
        vm.tick(&[root]);
        assert_eq!(vm.counter(&assigned_name("service-a")), 1);
    }
}

#[test]
fn a_visitor_who_sent_a_valid_id_is_never_issued_another() {
    for signed in [false, true] {
        let config = assigning(signed);
        let (mut vm, root) = vm_with(&config);
        let (context, request) = vm.request(root, &[]);
        let first = vm.response(context);
        let set_cookie = values(&first, "set-cookie").remove(0);
        let (cookie, _) = split_set_cookie(&set_cookie);
        let id = value(&request, "x-canary-uid").unwrap();
        let subset = value(&request, "x-canary-subset").unwrap();
        for _ in 0..20 {
            let (context, request) = vm.request(
                root,
                &[
                    ("cookie", &format!("a=1; {cookie}")),
                    ("x-canary-uid", "forged"),
                ],
            );
            assert_eq!(vm.filter.streams_held(), (0, 0), "no stream kept for it");
            let response = vm.response(context);
            assert!(values(&response, "set-cookie").is_empty(), "re-issued");
            assert_eq!(value(&request, "x-canary-uid").unwrap(), id);
            assert_eq!(value(&request, "x-canary-subset").unwrap(), subset);
        }
        vm.tick(&[root]);
        assert_eq!(vm.counter(&assigned_name("service-a")), 1);
    }
}

#[test]
fn a_tampered_or_forged_signed_cookie_is_replaced_by_a_new_id() {
    let config = assigning(true);
    let (mut vm, root) = vm_with(&config);
    let (context, request) = vm.request(root, &[]);
    let issued = values(&vm.response(context), "set-cookie")[0].clone();
    let (cookie, _) = split_set_cookie(&issued);
    let value_sent = cookie.strip_prefix("canary-uid=").unwrap();
    let (id, mac) = value_sent.split_once('.').unwrap();
    assert_eq!(value(&request, "x-canary-uid").as_deref(), Some(id));
    let flipped_last = if mac.ends_with('A') { "E" } else { "A" };
    let forged = [
        format!("{id}.{}{flipped_last}", &mac[..42]),
        id.to_string(),
        format!("my-own-id.{mac}"),
        "v2-please".to_string(),
    ];
    for forged in &forged {
        let (context, request) = vm.request(root, &[("cookie", &format!("canary-uid={forged}"))]);
        let new_id = value(&request, "x-canary-uid").unwrap();
        assert_ne!(new_id, id, "{forged}");
        let set_cookies = values(&vm.response(context), "set-cookie");
        assert_eq!(set_cookies.len(), 1, "{forged}");
        let (cookie, _) = split_set_cookie(&set_cookies[0]);
        let replacement = cookie.strip_prefix("canary-uid=").unwrap();
        assert!(replacement.starts_with(&format!("{new_id}.")), "{forged}");
        assert_eq!(
            value(&request, "x-canary-subset").unwrap(),
            subset_for_cookie(&config, replacement),
            "{forged}: decided by the new id"
        );
    }
    vm.tick(&[root]);
    assert_eq!(
        vm.counter(&assigned_name("service-a")),
        1 + forged.len() as u64
    );
}

#[test]
fn a_key_from_another_source_gets_no_id_and_the_id_header_is_removed() {
    let (mut vm, root) = vm_with(&assigning(false));
    let (context, request) =
        vm.request(root, &[("x-user-id", "alice"), ("x-canary-uid", "forged")]);
    assert_eq!(value(&request, "x-canary-uid"), None);
    assert!(values(&vm.response(context), "set-cookie").is_empty());
    vm.tick(&[root]);
    assert_eq!(vm.counter(&assigned_name("service-a")), 0);
}

#[test]
fn a_request_no_route_matches_has_the_id_header_removed() {
    let mut config: serde_json::Value = serde_json::from_str(&assigning(false)).unwrap();
    config["routes"][0]["match"] = serde_json::json!({"pathPrefix": "/shop"});
    let (mut vm, root) = vm_with(&config.to_string());
    let (context, request) = vm.request(root, &[(":path", "/other"), ("x-canary-uid", "forged")]);
    assert_eq!(value(&request, "x-canary-uid"), None);
    assert!(values(&vm.response(context), "set-cookie").is_empty());
}

#[test]
fn signed_ids_are_refused_without_a_cookie_key_in_the_vm() {
    let mut vm = Vm::new();
    assert_eq!(vm.add_root(&assigning(true)), None);
    let errors: Vec<String> = take_log_lines()
        .into_iter()
        .filter(|(level, _)| *level == Level::Error)
        .map(|(_, line)| line)
        .collect();
    assert_eq!(
        errors,
        vec!["sticky-canary: invalid pluginConfig: routes[0].stickiness.assign.signed: no cookie key is configured: set STICKY_CANARY_COOKIE_KEY in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"]
    );
}

#[test]
fn an_exposing_route_echoes_the_subset_and_adds_the_cookie_on_the_same_response() {
    let mut config: serde_json::Value = serde_json::from_str(&assigning(false)).unwrap();
    config["exposeSubset"] = true.into();
    let (mut vm, root) = vm_with(&config.to_string());
    let (context, request) = vm.request(root, &[]);
    let response = vm.response(context);
    assert_eq!(
        value(&response, "x-canary-subset"),
        value(&request, "x-canary-subset")
    );
    assert_eq!(values(&response, "set-cookie").len(), 1);
    // A visitor with a key still has the subset echoed, without a cookie.
    let (context, _) = vm.request(root, &[("x-user-id", "bob")]);
    let response = vm.response(context);
    assert!(value(&response, "x-canary-subset").is_some());
    assert!(values(&response, "set-cookie").is_empty());
}

#[test]
fn an_issued_id_gets_its_cookie_after_its_root_was_replaced_and_forgotten() {
    let (mut vm, old) = vm_with(&assigning(false));
    let (context, request) = vm.request(old, &[]);
    let id = value(&request, "x-canary-uid").unwrap();
    let mut renamed: serde_json::Value = serde_json::from_str(&assigning(false)).unwrap();
    renamed["routes"][0]["stickiness"]["keys"][1]["cookie"] = "other-uid".into();
    renamed["routes"][0]["stickiness"]["assign"]["cookie"] = "other-uid".into();
    let new = vm.add_root(&renamed.to_string()).unwrap();
    for _ in 0..sticky_canary::GONE_AFTER_TICKS {
        vm.tick(&[new]);
    }
    assert_eq!(vm.filter.configured_roots(), vec![new]);
    let set_cookies = values(&vm.response(context), "set-cookie");
    assert_eq!(set_cookies.len(), 1);
    assert!(
        set_cookies[0].starts_with(&format!("canary-uid={id};")),
        "{set_cookies:?}"
    );
}

#[test]
fn a_stream_that_never_gets_its_response_expires_with_its_id() {
    let (mut vm, root) = vm_with(&assigning(false));
    vm.request(root, &[]);
    assert_eq!(vm.filter.streams_held(), (0, 1));
    // The tick itself is one more TICK later: exactly RESPONSE_WAIT after the request.
    vm.advance(sticky_canary::RESPONSE_WAIT - sticky_canary::TICK);
    vm.tick(&[root]);
    assert_eq!(vm.filter.streams_held(), (0, 1), "kept for RESPONSE_WAIT");
    vm.tick(&[root]);
    assert_eq!(vm.filter.streams_held(), (0, 0));
}

#[test]
fn host_calls_grow_only_where_assign_has_work() {
    let mut plain: serde_json::Value = serde_json::from_str(&assigning(false)).unwrap();
    plain["routes"][0]["stickiness"]
        .as_object_mut()
        .unwrap()
        .remove("assign");
    let (mut vm, root) = vm_with(&plain.to_string());
    take_host_calls();
    vm.request(root, &[("x-user-id", "alice"), ("x-canary-uid", "v")]);
    assert_eq!(
        take_host_calls(),
        ["get map", "set x-canary-subset"],
        "a route without assign: one read of the whole request, one write"
    );
    assert_eq!(vm.filter.streams_held(), (0, 0));
    // VMs take turns (the log level is process-wide): this one ends before the next starts.
    drop(vm);

    let (mut vm, root) = vm_with(&assigning(false));
    let (context, _) = vm.request(root, &[]);
    let issued = values(&vm.response(context), "set-cookie").remove(0);
    let (cookie, _) = split_set_cookie(&issued);
    take_host_calls();
    vm.request(root, &[("x-user-id", "alice")]);
    assert_eq!(
        take_host_calls(),
        ["get map", "set x-canary-subset"],
        "a key from another source and no id header sent: nothing to clear"
    );
    vm.request(root, &[("x-user-id", "alice"), ("x-canary-uid", "forged")]);
    assert_eq!(
        take_host_calls(),
        ["get map", "set x-canary-subset", "remove x-canary-uid"],
        "a key from another source: a forged id header is cleared"
    );
    vm.request(root, &[("cookie", cookie)]);
    assert_eq!(
        take_host_calls(),
        ["get map", "set x-canary-subset", "set x-canary-uid"],
        "a returning visitor: the verified id goes upstream, read once"
    );
    let (context, _) = vm.request(root, &[]);
    take_host_calls();
    vm.response(context);
    assert_eq!(
        take_host_calls(),
        ["add set-cookie"],
        "a new visitor's response"
    );
}
