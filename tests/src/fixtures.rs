//! The pluginConfigs tests start from.

/// The demo's service-a route: v1 stable, v2 canary at `v2_weight` percent, keyed by user id.
pub fn service_a_config(v2_weight: u32) -> String {
    service_a_json(v2_weight).to_string()
}

/// [`service_a_config`] as a JSON value, for tests that add to it.
pub fn service_a_json(v2_weight: u32) -> serde_json::Value {
    serde_json::json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 100 - v2_weight}, {"name": "v2", "weight": v2_weight}],
            "stickiness": {"keys": [{"header": "x-user-id"}, {"cookie": "uid"}, {"query": "uid"}]}
        }]
    })
}
