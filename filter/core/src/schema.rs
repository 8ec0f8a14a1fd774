//! The pluginConfig document exactly as an admin writes it (JSON; YAML in a WasmPlugin).
//! Every struct denies unknown keys so a typo is an error, not a silently ignored setting.
//! Semantic checks and compilation live in [`crate::config`].

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginConfig {
    pub routing_header: Option<String>,
    pub expose_subset: Option<bool>,
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteConfig {
    pub name: String,
    #[serde(rename = "match")]
    pub route_match: Option<RouteMatchConfig>,
    pub subsets: Vec<SubsetConfig>,
    pub stickiness: StickinessConfig,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteMatchConfig {
    pub hosts: Option<Vec<String>>,
    pub path_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubsetConfig {
    pub name: String,
    pub weight: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StickinessConfig {
    pub keys: Vec<KeySourceConfig>,
    pub salt: Option<String>,
    pub fallback: Option<FallbackConfig>,
}

/// Exactly one of the three must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeySourceConfig {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FallbackConfig {
    Random,
    Stable,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleConfig {
    pub subset: String,
    pub users: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub rule_match: Option<RuleMatchConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleMatchConfig {
    #[serde(default)]
    pub headers: Vec<NamedMatchConfig>,
    #[serde(default)]
    pub cookies: Vec<NamedMatchConfig>,
    #[serde(default)]
    pub query: Vec<NamedMatchConfig>,
    pub path: Option<StringMatchConfig>,
    pub os: Option<Vec<Os>>,
}

/// A string match on a named header, cookie or query parameter. serde cannot combine `flatten`
/// with `deny_unknown_fields`, so the matcher fields are spelled out next to `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamedMatchConfig {
    pub name: String,
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub contains: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
    pub ignore_case: Option<bool>,
}

/// Exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StringMatchConfig {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub contains: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
    pub ignore_case: Option<bool>,
}

impl NamedMatchConfig {
    pub fn into_parts(self) -> (String, StringMatchConfig) {
        let matcher = StringMatchConfig {
            exact: self.exact,
            prefix: self.prefix,
            suffix: self.suffix,
            contains: self.contains,
            regex: self.regex,
            present: self.present,
            ignore_case: self.ignore_case,
        };
        (self.name, matcher)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Os {
    Windows,
    #[serde(rename = "macOS")]
    MacOs,
    Linux,
    Android,
    #[serde(rename = "iOS")]
    Ios,
}
