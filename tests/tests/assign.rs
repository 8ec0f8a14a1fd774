//! `stickiness.assign` in the real Envoy: a visitor without a key gets an id cookie from the
//! module, keeps its subset with it, cannot forge or tamper with a signed one, and the
//! upstream's own `Set-Cookie` headers survive. Each subset's stand-in upstream here also sends
//! two `Set-Cookie` headers of its own and echoes the `assign.header` it received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use serde_json::{json, Value};
use sticky_canary_core::COOKIE_KEY_ENV;
use sticky_canary_e2e::{subset_of, Client, Delivery, Envoy, EnvoyOptions, Response};

const KEY: &str = "e2e-cookie-key-5b1d-at-least-32-bytes";
const COOKIE: &str = "canary-uid";
const UPSTREAM_COOKIES: [&str; 2] = ["session=s-1; Path=/; HttpOnly", "theme=dark"];

/// service-a keyed by x-user-id, then the assigned cookie; v2 at `v2_weight` percent.
fn assigning(v2_weight: u32, signed: bool) -> Value {
    json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 100 - v2_weight}, {"name": "v2", "weight": v2_weight}],
            "stickiness": {
                "keys": [{"header": "x-user-id"}, {"cookie": COOKIE}],
                "assign": {"cookie": COOKIE, "maxAge": 2_592_000, "httpOnly": true,
                           "sameSite": "Lax", "header": "x-canary-uid", "signed": signed}
            }
        }]
    })
}

/// The same route without `assign`: the hashing contract an id must follow, asked through
/// x-user-id, so the oracle does not go through the code under test.
fn contract(config: &Value) -> String {
    let mut config = config.clone();
    let stickiness = config["routes"][0]["stickiness"].as_object_mut().unwrap();
    stickiness.remove("assign");
    config.to_string()
}

fn start(config: &Value) -> Envoy {
    EnvoyOptions::scenario(Delivery::Inline, &config.to_string())
        .access_log(false)
        .vm_env(&[(COOKIE_KEY_ENV, KEY)])
        .edit_bootstrap(|bootstrap, _| {
            for listener in ["service-a-v1", "service-a-v2"] {
                let added = bootstrap.listener_routes(listener)[0]["response_headers_to_add"]
                    .as_array_mut()
                    .unwrap();
                added.push(
                    json!({"header": {"key": "x-received-uid", "value": "%REQ(x-canary-uid)%"}}),
                );
                for cookie in UPSTREAM_COOKIES {
                    added.push(json!({"header": {"key": "set-cookie", "value": cookie},
                                      "append_action": "APPEND_IF_EXISTS_OR_ADD"}));
                }
            }
        })
        .start()
}

/// Every `Set-Cookie` of a response, in order.
fn set_cookies(response: &Response) -> Vec<&str> {
    response
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| std::str::from_utf8(v).unwrap())
        .collect()
}

/// The response's `Set-Cookie`s must be the upstream's two, then at most one of ours; returns
/// the value of ours, after checking its attributes.
fn issued(response: &Response) -> Option<String> {
    let all = set_cookies(response);
    assert_eq!(all[..2], UPSTREAM_COOKIES, "the upstream's own cookies");
    match all[2..] {
        [] => None,
        [ours] => {
            let (cookie, attributes) = ours.split_once(';').unwrap();
            assert_eq!(
                attributes,
                " Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax"
            );
            Some(cookie.strip_prefix("canary-uid=").unwrap().to_string())
        }
        _ => panic!("more than one Set-Cookie added: {all:?}"),
    }
}

/// The id part of an issued cookie value.
fn id_of(value: &str, signed: bool) -> &str {
    if signed {
        let (id, mac) = value.split_once('.').unwrap();
        assert_eq!(mac.len(), 43, "HMAC-SHA256 in URL-safe base64: {value}");
        id
    } else {
        value
    }
}

fn get(client: &mut Client, cookie: Option<&str>) -> Response {
    let jar = cookie.map(|value| format!("theme=light; {COOKIE}={value}"));
    let mut headers: Vec<(&str, &[u8])> = vec![("x-canary-uid", b"forged-by-client")];
    if let Some(jar) = &jar {
        headers.push(("cookie", jar.as_bytes()));
    }
    let response = client.get("/", &headers);
    assert_eq!(response.status, 200);
    response
}

#[test]
fn a_cookie_jar_client_keeps_its_id_and_subset_over_100_requests() {
    for signed in [false, true] {
        let config = assigning(50, signed);
        let contract = contract(&config);
        let envoy = start(&config);
        let mut client = envoy.front();
        // Enough visitors that both subsets are seen.
        let mut served = HashSet::new();
        for visitor in 0..20 {
            let first = get(&mut client, None);
            let value = issued(&first).expect("a visitor without a key got no cookie");
            let id = id_of(&value, signed).to_string();
            let subset = subset_of(&contract, &id);
            assert_eq!(first.served_by(), subset, "visitor {visitor}");
            assert_eq!(first.header("x-received-uid"), Some(id.as_str()));
            for request in 0..100 {
                let again = get(&mut client, Some(&value));
                assert_eq!(issued(&again), None, "visitor {visitor} request {request}");
                assert_eq!(
                    again.served_by(),
                    subset,
                    "visitor {visitor} request {request}"
                );
                assert_eq!(again.header("x-received-uid"), Some(id.as_str()));
            }
            served.insert(subset);
        }
        assert_eq!(served.len(), 2, "signed {signed}: {served:?}");
        let stats = envoy.settled_filter_counts(20 * 101 + 20);
        assert_eq!(
            stats.get("wasmcustom.sticky_canary.assigned_total.route.service-a"),
            Some(&20)
        );
        let prometheus = envoy.admin("/stats/prometheus");
        assert!(
            prometheus
                .lines()
                .any(|l| l == r#"sticky_canary_assigned_total{route="service-a"} 20"#),
            "the route is a label in Prometheus:\n{prometheus}"
        );
    }
}

/// The ids are random, so the split is a sample: with 20,000 fresh visitors (10 times the 2,000
/// of the issue) 2 points are 6.2 standard deviations, a chance below 1e-9 of leaving 30 ± 2 %;
/// at 2,000 they would be 1.95, and about one run in 20 would fail.
#[test]
fn fresh_visitors_split_by_weight_each_with_exactly_one_set_cookie_and_the_contract_subset() {
    const VISITORS: usize = 20_000;
    let config = assigning(30, true);
    let contract = contract(&config);
    let envoy = start(&config);
    let mut client = envoy.front();
    let mut ids = HashSet::with_capacity(VISITORS);
    let mut on_v2 = 0usize;
    for visitor in 0..VISITORS {
        let response = get(&mut client, None);
        let value = issued(&response).unwrap_or_else(|| panic!("visitor {visitor}: no cookie"));
        let id = id_of(&value, true).to_string();
        let subset = subset_of(&contract, &id);
        assert_eq!(response.served_by(), subset, "visitor {visitor}, id {id}");
        assert_eq!(response.received_subset(), Some(subset.as_str()));
        assert_eq!(response.header("x-received-uid"), Some(id.as_str()));
        on_v2 += usize::from(subset == "v2");
        assert!(ids.insert(id), "visitor {visitor} got an id issued before");
    }
    let share = on_v2 as f64 * 100.0 / VISITORS as f64;
    assert!(
        (28.0..=32.0).contains(&share),
        "v2 got {share:.2} % of {VISITORS} fresh visitors, want 30 ± 2"
    );
    let stats = envoy.settled_filter_counts(2 * VISITORS as u64);
    assert_eq!(
        stats.get("wasmcustom.sticky_canary.assigned_total.route.service-a"),
        Some(&(VISITORS as u64))
    );
}

#[test]
fn a_forged_or_tampered_signed_cookie_is_replaced_and_does_not_choose_the_subset() {
    let config = assigning(10, true);
    let contract = contract(&config);
    let envoy = start(&config);
    let mut client = envoy.front();
    let genuine = issued(&get(&mut client, None)).unwrap();
    let (genuine_id, genuine_mac) = genuine.split_once('.').unwrap();
    let other = issued(&get(&mut client, None)).unwrap();
    let other_mac = other.split_once('.').unwrap().1;
    // Ids the contract puts on the 10 % canary: what a visitor forging its cookie would pick.
    let on_canary: Vec<String> = (0..)
        .map(|i| format!("chosen-{i}"))
        .filter(|id| subset_of(&contract, id) == "v2")
        .take(20)
        .collect();
    let last = genuine_mac.len() - 1;
    let flipped = if genuine_mac.ends_with('A') { "Q" } else { "A" };
    let mut forged: Vec<(String, String)> = vec![
        (
            "tampered MAC".into(),
            format!("{genuine_id}.{}{flipped}", &genuine_mac[..last]),
        ),
        (
            "another id's MAC".into(),
            format!("{genuine_id}.{other_mac}"),
        ),
        ("id without MAC".into(), genuine_id.to_string()),
        ("empty".into(), String::new()),
    ];
    for id in &on_canary {
        forged.push((format!("chosen id {id}"), id.clone()));
        forged.push((
            format!("chosen id {id}, a real MAC"),
            format!("{id}.{genuine_mac}"),
        ));
    }
    let mut served_v1 = 0;
    for (name, value) in &forged {
        let response = get(&mut client, Some(value));
        let replacement = issued(&response).unwrap_or_else(|| panic!("{name}: kept"));
        let new_id = id_of(&replacement, true);
        assert_ne!(replacement, *value, "{name}");
        let subset = subset_of(&contract, new_id);
        assert_eq!(
            response.served_by(),
            subset,
            "{name}: decided by the new id"
        );
        assert_eq!(response.header("x-received-uid"), Some(new_id), "{name}");
        served_v1 += usize::from(subset == "v1");
        // The replacement is a genuine cookie: kept from then on.
        let again = get(&mut client, Some(&replacement));
        assert_eq!(issued(&again), None, "{name}: the replacement was replaced");
        assert_eq!(again.served_by(), subset, "{name}");
    }
    // 40 of the forgeries chose a canary id; by their new ids about 90 % are on v1.
    assert!(served_v1 > 0, "every forged cookie reached the canary");
    // The genuine cookie is still good.
    let response = get(&mut client, Some(&genuine));
    assert_eq!(issued(&response), None);
    assert_eq!(response.header("x-received-uid"), Some(genuine_id));
}

#[test]
fn a_visitor_with_another_key_gets_no_cookie_and_no_forged_id_upstream() {
    let config = assigning(50, false);
    let envoy = start(&config);
    let mut client = envoy.front();
    let response = client.get(
        "/",
        &[
            ("x-user-id", b"alice"),
            ("x-canary-uid", b"forged-by-client"),
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(issued(&response), None);
    assert_eq!(response.header("x-received-uid"), None);
    assert_eq!(response.served_by(), subset_of(&contract(&config), "alice"));
}

#[test]
fn signed_ids_without_a_cookie_key_are_refused() {
    let (ok, log) = sticky_canary_e2e::validate(&assigning(50, true).to_string());
    assert!(!ok, "config accepted without a cookie key:\n{log}");
    let line = "sticky-canary: invalid pluginConfig: routes[0].stickiness.assign.signed: no cookie key is configured: set STICKY_CANARY_COOKIE_KEY in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)";
    assert!(log.contains(line), "log lacks `{line}`:\n{log}");
}

/// The README's copyable example compiles, and the `Set-Cookie` it shows is the one it makes.
#[test]
fn the_readme_example_is_valid_and_shows_its_own_set_cookie() {
    let section =
        sticky_canary_e2e::fixtures::readme_section("## Anonymous visitors (`stickiness.assign`)");
    let plugin_config: Value = sticky_canary_e2e::fixtures::first_yaml_example(&section);
    let config = sticky_canary_core::Config::from_json_with_secrets(
        plugin_config.to_string().as_bytes(),
        None,
        sticky_canary_core::Secret::new(Some(KEY.as_bytes())),
    )
    .unwrap();
    let assign = config.routes[0].assign.as_ref().unwrap();
    let id = sticky_canary_core::NewId::from_random([0; 16]);
    let made = String::from_utf8(assign.set_cookie(&id)).unwrap();
    let (made_cookie, made_attributes) = made.split_once(';').unwrap();
    let shown = section
        .split("`Set-Cookie: ")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap();
    let (shown_cookie, shown_attributes) = shown.split_once(';').unwrap();
    assert_eq!(shown_attributes, made_attributes);
    assert_eq!(
        shown_cookie, "canary-uid=<22 characters>.<43 characters>",
        "made {made_cookie}"
    );
    let (id_part, mac) = made_cookie
        .strip_prefix("canary-uid=")
        .unwrap()
        .split_once('.')
        .unwrap();
    assert_eq!((id_part.len(), mac.len()), (22, 43));
}
