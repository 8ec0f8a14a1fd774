//! One table of admin mistakes, each a one-edit variant of the service-a config with the start of
//! the one-line reason the module must log. Envoy refuses each at start (`validate.rs`) and
//! rejects each pushed by ECDS while the previous config keeps serving (`ecds.rs`).

use crate::{service_a_config, service_a_json};

pub struct BadConfig {
    pub name: &'static str,
    pub config: String,
    /// The log line is `sticky-canary: invalid pluginConfig: <reason>...`.
    pub reason: &'static str,
}

/// Every class of invalid pluginConfig, on top of `service_a_config(10)`.
pub fn bad_configs() -> Vec<BadConfig> {
    let good = service_a_config(10);
    let with_rules = |rules: &str| {
        let mut config = service_a_json(10);
        config["routes"][0]["rules"] = serde_json::from_str(rules).unwrap();
        config.to_string()
    };
    let case = |name, config: String, reason| {
        assert_ne!(config, good, "case {name} does not change the config");
        BadConfig {
            name,
            config,
            reason,
        }
    };
    vec![
        case(
            "not JSON",
            "routes: [".to_string(),
            "invalid JSON: expected value at line 1 column 1",
        ),
        case(
            "empty",
            " ".to_string(),
            "pluginConfig is empty: at least `routes` is required",
        ),
        case(
            "wrong type",
            good.replace(r#""weight":10"#, r#""weight":"10""#),
            r#"routes[0].subsets[1].weight: invalid type: string "10", expected a number (percent) at line 1 column"#,
        ),
        case(
            "unknown key",
            good.replace(r#""stickiness""#, r#""stickyness""#),
            "routes[0].stickyness: unknown field `stickyness`, expected one of",
        ),
        case(
            "weights not summing to 100",
            good.replace(r#""weight":10"#, r#""weight":20"#),
            "routes[0].subsets: weights must sum to 100, got 110 (v1=90, v2=20)",
        ),
        case(
            "duplicate subset",
            good.replace(r#""name":"v2""#, r#""name":"v1""#),
            r#"routes[0].subsets[1].name: duplicate subset name "v1" (also subsets[0])"#,
        ),
        case(
            "duplicate route",
            {
                let mut twice = service_a_json(10);
                let route = twice["routes"][0].clone();
                twice["routes"].as_array_mut().unwrap().push(route);
                twice.to_string()
            },
            r#"routes[1].name: duplicate route name "service-a" (also routes[0])"#,
        ),
        case(
            "no routes",
            r#"{"routes":[]}"#.to_string(),
            "routes: must list at least one route",
        ),
        case(
            "rule naming an unknown subset",
            with_rules(r#"[{"subset":"v3","users":["alice"]}]"#),
            r#"routes[0].rules[0].subset: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        case(
            "bad regex",
            with_rules(r#"[{"subset":"v2","match":{"cookies":[{"name":"b","regex":"(x"}]}}]"#),
            "routes[0].rules[0].match.cookies[0].regex: invalid regex:",
        ),
        case(
            "empty keys",
            good.replace(
                r#""keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}]"#,
                r#""keys":[]"#,
            ),
            "routes[0].stickiness.keys: must list at least one key source",
        ),
        case(
            "bad routing header",
            good.replacen('{', r#"{"routingHeader":"x canary","#, 1),
            r#"routingHeader: "x canary" is not a valid HTTP header name"#,
        ),
        case(
            "routing header is the key header",
            good.replacen('{', r#"{"routingHeader":"X-User-Id","#, 1),
            r#"routingHeader: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        case(
            "token required, none set",
            with_rules(r#"[{"subset":"v2","requireToken":true,"users":["qa"]}]"#),
            "routes[0].rules[0].requireToken: no token is configured",
        ),
    ]
}
