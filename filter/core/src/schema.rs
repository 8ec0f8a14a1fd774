//! The pluginConfig document exactly as an admin writes it (JSON; YAML in a WasmPlugin).
//! Every struct denies unknown keys so a typo is an error, not a silently ignored setting.
//! Semantic checks and compilation live in [`crate::config`].

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a pluginConfig object"
)]
pub struct PluginConfig {
    pub routing_header: Option<String>,
    pub expose_subset: Option<bool>,
    pub token_header: Option<String>,
    pub routes: Vec<RouteConfig>,
    pub reason_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a route object"
)]
pub struct RouteConfig {
    pub name: String,
    #[serde(rename = "match")]
    pub route_match: Option<RouteMatchConfig>,
    pub subsets: Vec<SubsetConfig>,
    pub stickiness: StickinessConfig,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Per-subset response counters by status class (always on with a `guard`).
    pub health: Option<bool>,
    pub guard: Option<GuardConfig>,
    pub lane: Option<LaneConfig>,
    pub mirror: Option<MirrorConfig>,
    pub schedule: Option<ScheduleConfig>,
}

/// Weights that move by themselves with the clock; see [`crate::schedule`].
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a schedule object"
)]
pub struct ScheduleConfig {
    /// RFC 3339: "2026-12-07T09:00:00Z".
    pub start: String,
    pub linear: Option<bool>,
    pub steps: Vec<ScheduleStepConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a schedule step object"
)]
pub struct ScheduleStepConfig {
    /// A duration from `start`, as a guard's: "0s", "10m", "1h".
    pub after: String,
    pub weights: WeightsConfig,
}

/// `{subset: weight}` in the order written, duplicates kept for the compiler to refuse (a JSON
/// object read into a map would silently keep the last).
#[derive(Debug)]
pub struct WeightsConfig(pub Vec<(String, f64)>);

/// One weight of a [`WeightsConfig`], reported like a subset's weight.
#[derive(Debug, Deserialize)]
struct WeightValue(#[serde(deserialize_with = "percent")] f64);

impl<'de> Deserialize<'de> for WeightsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Weights;
        impl<'de> Visitor<'de> for Weights {
            type Value = WeightsConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of subset names and weights")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WeightsConfig, A::Error> {
                let mut pairs = Vec::new();
                while let Some((name, WeightValue(weight))) =
                    map.next_entry::<String, WeightValue>()?
                {
                    pairs.push((name, weight));
                }
                Ok(WeightsConfig(pairs))
            }
        }
        deserializer.deserialize_map(Weights)
    }
}

/// Carries the chosen subset down a call chain. Exactly one of `header`, `baggage`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a lane object"
)]
pub struct LaneConfig {
    pub header: Option<String>,
    pub baggage: Option<String>,
    pub trust: Option<bool>,
    pub fallback: Option<LaneFallbackConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneFallbackConfig {
    Stable,
    Decide,
}

impl<'de> Deserialize<'de> for LaneFallbackConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SPEC: UnitEnum = UnitEnum {
            name: "LaneFallbackConfig",
            expecting: "enum LaneFallbackConfig",
            variants: &["stable", "decide"],
        };
        Ok(match unit_variant(deserializer, &SPEC)? {
            0 => LaneFallbackConfig::Stable,
            _ => LaneFallbackConfig::Decide,
        })
    }
}

/// A sticky sample of users whose requests the route table mirrors to `subset`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a mirror object"
)]
pub struct MirrorConfig {
    pub subset: String,
    #[serde(deserialize_with = "percent")]
    pub percent: f64,
    pub header: String,
}

/// Steps a failing canary back to the stable subset; see [`crate::guard`].
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a guard object"
)]
pub struct GuardConfig {
    pub subset: String,
    #[serde(deserialize_with = "rate")]
    pub max_error_rate: f64,
    pub min_requests: Option<u64>,
    /// Whole seconds, minutes or hours: "30s", "5m", "1h".
    pub window: Option<String>,
    pub cool_down: Option<String>,
}

/// A share: any JSON number, reported as "a number (share from 0 to 1)".
fn rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct Rate;
    impl Visitor<'_> for Rate {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number (share from 0 to 1)")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
    deserializer.deserialize_f64(Rate)
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a route match object"
)]
pub struct RouteMatchConfig {
    pub hosts: Option<Vec<String>>,
    pub path_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a subset object"
)]
pub struct SubsetConfig {
    pub name: String,
    #[serde(deserialize_with = "percent")]
    pub weight: f64,
}

/// A weight: any JSON number, reported as "a number (percent)" rather than as a Rust type.
fn percent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct Percent;
    impl Visitor<'_> for Percent {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number (percent)")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
    deserializer.deserialize_f64(Percent)
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a stickiness object"
)]
pub struct StickinessConfig {
    pub keys: Vec<KeySourceConfig>,
    pub salt: Option<String>,
    pub fallback: Option<FallbackConfig>,
    pub bucketing: Option<BucketingConfig>,
    pub assign: Option<AssignConfig>,
}

/// `stickiness.assign`: a visitor without a key gets a new id in this cookie.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "an assign object"
)]
pub struct AssignConfig {
    pub cookie: String,
    #[serde(deserialize_with = "seconds")]
    pub max_age: u64,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub secure: Option<bool>,
    pub http_only: Option<bool>,
    pub same_site: Option<SameSite>,
    pub header: Option<String>,
    pub signed: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl<'de> Deserialize<'de> for SameSite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SPEC: UnitEnum = UnitEnum {
            name: "SameSite",
            expecting: "enum SameSite",
            variants: &["Strict", "Lax", "None"],
        };
        Ok(match unit_variant(deserializer, &SPEC)? {
            0 => SameSite::Strict,
            1 => SameSite::Lax,
            _ => SameSite::None,
        })
    }
}

/// A cookie lifetime: a positive whole number of seconds, reported as such rather than as a
/// Rust type.
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Seconds;
    impl Visitor<'_> for Seconds {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a positive whole number of seconds")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            if v == 0 {
                return Err(E::invalid_value(de::Unexpected::Unsigned(0), &self));
            }
            Ok(v)
        }
    }
    deserializer.deserialize_u64(Seconds)
}

/// Another tool's bucketing, so a service can follow the split that tool makes.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a bucketing object"
)]
pub struct BucketingConfig {
    pub unleash: Option<UnleashBucketingConfig>,
    pub flagd: Option<FlagdBucketingConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "an unleash bucketing object"
)]
pub struct UnleashBucketingConfig {
    pub group_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a flagd bucketing object"
)]
pub struct FlagdBucketingConfig {
    pub flag_key: String,
}

/// Exactly one of the three must be set.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a key source object"
)]
pub struct KeySourceConfig {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackConfig {
    Random,
    Stable,
}

impl<'de> Deserialize<'de> for FallbackConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SPEC: UnitEnum = UnitEnum {
            name: "FallbackConfig",
            expecting: "enum FallbackConfig",
            variants: &["random", "stable"],
        };
        Ok(match unit_variant(deserializer, &SPEC)? {
            0 => FallbackConfig::Random,
            _ => FallbackConfig::Stable,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a rule object"
)]
pub struct RuleConfig {
    pub subset: String,
    pub users: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub rule_match: Option<RuleMatchConfig>,
    pub require_token: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a rule match object"
)]
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
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a named match object"
)]
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
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a string match object"
)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Windows,
    MacOs,
    Linux,
    Android,
    Ios,
}

impl<'de> Deserialize<'de> for Os {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SPEC: UnitEnum = UnitEnum {
            name: "Os",
            expecting: "enum Os",
            variants: &["Windows", "macOS", "Linux", "Android", "iOS"],
        };
        Ok(match unit_variant(deserializer, &SPEC)? {
            0 => Os::Windows,
            1 => Os::MacOs,
            2 => Os::Linux,
            3 => Os::Android,
            _ => Os::Ios,
        })
    }
}

/// An enum of unit variants as serde's derive describes it: the same names and texts, so the
/// same errors. The derive instantiates its whole reading (serde_json's and the path tracker's
/// layers included) once per enum; these enums share one, which is some 2.5 KB less of the
/// module per enum.
struct UnitEnum {
    name: &'static str,
    expecting: &'static str,
    /// As written in the document, in declaration order.
    variants: &'static [&'static str],
}

/// The index in `spec.variants` of the variant the document names.
#[inline(never)]
fn unit_variant<'de, D: Deserializer<'de>>(
    deserializer: D,
    spec: &'static UnitEnum,
) -> Result<usize, D::Error> {
    deserializer.deserialize_enum(spec.name, spec.variants, UnitEnumVisitor(spec))
}

struct UnitEnumVisitor(&'static UnitEnum);

impl<'de> Visitor<'de> for UnitEnumVisitor {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.expecting)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<usize, A::Error> {
        let (index, variant) = data.variant_seed(VariantName(self.0.variants))?;
        de::VariantAccess::unit_variant(variant)?;
        Ok(index)
    }
}

/// A variant's name (or index), read as the derive's `__Field` reads it.
struct VariantName(&'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for VariantName {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for VariantName {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("variant identifier")
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<usize, E> {
        match usize::try_from(value) {
            Ok(index) if index < self.0.len() => Ok(index),
            _ => Err(E::invalid_value(
                de::Unexpected::Unsigned(value),
                &format!("variant index 0 <= i < {}", self.0.len()).as_str(),
            )),
        }
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|name| *name == value)
            .ok_or_else(|| E::unknown_variant(value, self.0))
    }
    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<usize, E> {
        self.0
            .iter()
            .position(|name| name.as_bytes() == value)
            .ok_or_else(|| E::unknown_variant(&String::from_utf8_lossy(value), self.0))
    }
}
