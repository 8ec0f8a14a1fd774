//! A bad pluginConfig is refused at start: `envoy --mode validate` runs the plugin's
//! on_configure and fails, and Envoy's log carries the one-line reason with the field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::bad_configs::{bad_configs, BadConfig};
use sticky_canary_e2e::{service_a_config, validate};

#[test]
fn envoy_accepts_a_valid_config() {
    let (ok, log) = validate(&service_a_config(10));
    assert!(ok, "valid config refused:\n{log}");
}

#[test]
fn envoy_refuses_each_class_of_bad_config_naming_the_field() {
    for BadConfig {
        name,
        config,
        reason,
    } in bad_configs()
    {
        let (ok, log) = validate(&config);
        assert!(!ok, "case {name}: Envoy accepted {config}");
        let line = format!("sticky-canary: invalid pluginConfig: {reason}");
        assert!(
            log.contains(&line),
            "case {name}: log lacks `{line}`:\n{log}"
        );
    }
}
