//! Harness for end-to-end tests: starts the real Envoy (from the project venv) with the real
//! module, using the same `envoy/` scenario files the docs show, rendered for each test so that
//! nothing binds a port known in advance, with the test's own pluginConfig; and talks HTTP/1.1 to
//! it over raw sockets so tests can send any bytes a hostile client could (HTTP/2 through curl,
//! [`h2c`]).

pub mod admin;
pub mod artifacts;
pub mod bad_configs;
pub mod bootstrap;
#[path = "../../filter/cli/tests/common/console_process.rs"]
pub mod console_process;
pub mod demo;
pub mod ecds;
pub mod envoy;
pub mod fixtures;
pub mod gateways;
pub mod grpc_upstream;
pub mod h2c;
pub mod http_client;
pub mod istio;
pub mod manifest_checks;
pub mod manifests;
pub mod oracle;
pub mod ramp;
pub mod traffic;
pub mod upstream;
pub mod waypoint;

pub use artifacts::{envoy_binary, repo_root, wasm_module, SCENARIO_WASM_PATH};
pub use ecds::ecds_stat_name;
pub use envoy::{validate, Delivery, Envoy, EnvoyOptions, ENVOY_RUN_FLAGS};
pub use fixtures::{service_a_config, service_a_json};
pub use http_client::{Client, Header, Pending, Response};
pub use oracle::{
    expected_outcome, expected_outcome_with_token, expected_subset, expected_subset_with_token,
    subset_of, user_moving, user_on, users_on, Expected,
};
