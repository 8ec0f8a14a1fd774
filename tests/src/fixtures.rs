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

/// README.md from `heading` (a whole heading line, `## ` included) to its end: the section whose
/// examples and quoted output a test checks against the filter, so the docs are what it does.
pub fn readme_section(heading: &str) -> String {
    let readme = std::fs::read_to_string(crate::repo_root().join("README.md")).unwrap();
    readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has no `{heading}`"))
        .to_string()
}

/// The first YAML example of a README section, as JSON.
pub fn first_yaml_example(section: &str) -> serde_json::Value {
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .unwrap_or_else(|| panic!("no YAML example in the section"));
    yaml_serde::from_str(yaml).unwrap()
}
