//! A bad pluginConfig is refused at start: `envoy --mode validate` runs the plugin's
//! on_configure and fails, and Envoy's log carries the one-line reason with the field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{service_a_config, service_a_json, validate};

#[test]
fn envoy_accepts_a_valid_config() {
    let (ok, log) = validate(&service_a_config(10));
    assert!(ok, "valid config refused:\n{log}");
}

#[test]
fn envoy_refuses_each_class_of_bad_config_naming_the_field() {
    let good = service_a_config(10);
    let with_rules = |rules: &str| {
        let mut config = service_a_json(10);
        config["routes"][0]["rules"] = serde_json::from_str(rules).unwrap();
        config.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong type",
            good.replace(r#""weight":10"#, r#""weight":"10""#),
            r#"routes[0].subsets[1].weight: invalid type: string "10", expected a number (percent) at line 1 column"#,
        ),
        (
            "unknown key",
            good.replace(r#""stickiness""#, r#""stickyness""#),
            "routes[0].stickyness: unknown field `stickyness`, expected one of",
        ),
        (
            "weights not summing to 100",
            good.replace(r#""weight":10"#, r#""weight":20"#),
            "routes[0].subsets: weights must sum to 100, got 110 (v1=90, v2=20)",
        ),
        (
            "duplicate subset",
            good.replace(r#""name":"v2""#, r#""name":"v1""#),
            r#"routes[0].subsets[1].name: duplicate subset name "v1" (also subsets[0])"#,
        ),
        (
            "duplicate route",
            {
                let mut twice = service_a_json(10);
                let route = twice["routes"][0].clone();
                twice["routes"].as_array_mut().unwrap().push(route);
                twice.to_string()
            },
            r#"routes[1].name: duplicate route name "service-a" (also routes[0])"#,
        ),
        (
            "rule naming an unknown subset",
            with_rules(r#"[{"subset":"v3","users":["alice"]}]"#),
            r#"routes[0].rules[0].subset: unknown subset "v3" (this route has "v1", "v2")"#,
        ),
        (
            "bad regex",
            with_rules(
                r#"[{"subset":"v2","match":{"headers":[{"name":"x","regex":"(unclosed"}]}}]"#,
            ),
            "routes[0].rules[0].match.headers[0].regex: invalid regex:",
        ),
        (
            "empty keys",
            good.replace(
                r#""keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}]"#,
                r#""keys":[]"#,
            ),
            "routes[0].stickiness.keys: must list at least one key source",
        ),
    ];
    for (name, config, reason) in cases {
        assert_ne!(config, good, "case {name} did not change the config");
        let (ok, log) = validate(&config);
        assert!(!ok, "case {name}: Envoy accepted {config}");
        let line = format!("sticky-canary: invalid pluginConfig: {reason}");
        assert!(
            log.contains(&line),
            "case {name}: log lacks `{line}`:\n{log}"
        );
    }
}
