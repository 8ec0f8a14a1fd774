//! Override rules behind a shared secret, in the real Envoy: the secret reaches the module
//! through the Wasm VM's environment (`vm_config.environment_variables`, Istio's
//! `vmConfig.env`); with the right token the rule applies, with a wrong or missing one the
//! request is hashed like any other; a config that requires a token nobody set is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{
    expected_subset_with_token, service_a_json, validate, Delivery, Envoy, Header,
};

const TOKEN: &str = "s3cret-7f1c";

/// All users hash to v1 (v2 has weight 0), so only the override rule can reach v2.
fn token_config() -> String {
    let mut config = service_a_json(0);
    config["routes"][0]["rules"] = serde_json::json!([
        {"subset": "v2", "requireToken": true, "match": {"headers": [{"name": "x-canary", "exact": "true"}]}},
        {"subset": "v2", "requireToken": true, "users": ["qa-1"]},
    ]);
    config.to_string()
}

#[test]
fn only_the_right_token_opens_an_override_rule() {
    let config = token_config();
    for delivery in [Delivery::Inline, Delivery::Ecds] {
        let envoy = Envoy::start_with_env(delivery, &config, &[("STICKY_CANARY_TOKEN", TOKEN)]);
        let mut client = envoy.front();
        let wrong = format!("{TOKEN}x");
        let upper = TOKEN.to_uppercase();
        let cases: Vec<(&str, Vec<Header>, &str)> = vec![
            (
                "right token",
                vec![
                    ("x-user-id", b"u1"),
                    ("x-canary", b"true"),
                    ("x-canary-token", TOKEN.as_bytes()),
                ],
                "v2",
            ),
            (
                "right token, listed user",
                vec![("x-user-id", b"qa-1"), ("x-canary-token", TOKEN.as_bytes())],
                "v2",
            ),
            (
                "no token",
                vec![("x-user-id", b"u1"), ("x-canary", b"true")],
                "v1",
            ),
            ("listed user, no token", vec![("x-user-id", b"qa-1")], "v1"),
            (
                "wrong token",
                vec![
                    ("x-user-id", b"u1"),
                    ("x-canary", b"true"),
                    ("x-canary-token", wrong.as_bytes()),
                ],
                "v1",
            ),
            (
                "token in another letter case",
                vec![
                    ("x-user-id", b"u1"),
                    ("x-canary", b"true"),
                    ("x-canary-token", upper.as_bytes()),
                ],
                "v1",
            ),
            (
                "non-UTF-8 token",
                vec![
                    ("x-user-id", b"u1"),
                    ("x-canary", b"true"),
                    ("x-canary-token", b"\xff\xfe"),
                ],
                "v1",
            ),
            (
                "no token, forged routing header",
                vec![
                    ("x-user-id", b"u1"),
                    ("x-canary", b"true"),
                    ("x-canary-subset", b"v2"),
                ],
                "v1",
            ),
        ];
        for (name, headers, want) in &cases {
            let response = client.get("/", headers);
            assert_eq!(response.status, 200, "{name}");
            assert_eq!(
                expected_subset_with_token(&config, Some(TOKEN), "/", headers).as_deref(),
                Some(*want),
                "oracle, {name}"
            );
            assert_eq!(response.served_by(), *want, "{name}");
            assert_eq!(response.received_subset(), Some(*want), "{name}");
        }
        let stats = envoy.settled_filter_counts(cases.len() as u64);
        let stat = |name: &str| stats.get(name).copied().unwrap_or(0);
        let rules =
            stat("wasmcustom.sticky_canary.requests_total.route.service-a.subset.v2.reason.rule");
        let users =
            stat("wasmcustom.sticky_canary.requests_total.route.service-a.subset.v2.reason.user");
        assert_eq!(
            (rules, users),
            (1, 1),
            "only the two requests with the token took a rule"
        );
        assert!(
            !envoy.log().contains(TOKEN),
            "the secret appeared in Envoy's log"
        );
    }
}

#[test]
fn a_rule_requiring_a_token_is_refused_when_none_is_set() {
    let (ok, log) = validate(&token_config());
    assert!(!ok, "config accepted without a token:\n{log}");
    let line = "sticky-canary: invalid pluginConfig: routes[0].rules[0].requireToken: no token is configured: set STICKY_CANARY_TOKEN in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)";
    assert!(log.contains(line), "log lacks `{line}`:\n{log}");
}
