//! The pluginConfig document exactly as an admin writes it (JSON; YAML in a WasmPlugin).
//! Every struct denies unknown keys so a typo is an error, not a silently ignored setting.
//! Semantic checks and compilation live in [`crate::config`].

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

mod read;

use read::{read_struct, unit_variant, Kind, Shape, UnitEnum};

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
#[derive(Debug)]
pub struct ScheduleConfig {
    /// RFC 3339: "2026-12-07T09:00:00Z".
    pub start: String,
    pub linear: Option<bool>,
    pub steps: Vec<ScheduleStepConfig>,
}

impl<'de> Deserialize<'de> for ScheduleConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "ScheduleConfig",
            expecting: "a schedule object",
            names: &["start", "linear", "steps"],
            kinds: &[Kind::Text, Kind::MaybeFlag, Kind::Steps],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(ScheduleConfig {
            start: values.text(),
            linear: values.maybe_flag(),
            steps: values.steps(),
        })
    }
}

#[derive(Debug)]
pub struct ScheduleStepConfig {
    /// A duration from `start`, as a guard's: "0s", "10m", "1h".
    pub after: String,
    pub weights: WeightsConfig,
}

impl<'de> Deserialize<'de> for ScheduleStepConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "ScheduleStepConfig",
            expecting: "a schedule step object",
            names: &["after", "weights"],
            kinds: &[Kind::Text, Kind::Weights],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(ScheduleStepConfig {
            after: values.text(),
            weights: values.weights(),
        })
    }
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
#[derive(Debug)]
pub struct LaneConfig {
    pub header: Option<String>,
    pub baggage: Option<String>,
    pub trust: Option<bool>,
    pub fallback: Option<LaneFallbackConfig>,
}

impl<'de> Deserialize<'de> for LaneConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "LaneConfig",
            expecting: "a lane object",
            names: &["header", "baggage", "trust", "fallback"],
            kinds: &[
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeFlag,
                Kind::MaybeLaneFallback,
            ],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(LaneConfig {
            header: values.maybe_text(),
            baggage: values.maybe_text(),
            trust: values.maybe_flag(),
            fallback: values.maybe_lane_fallback(),
        })
    }
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
#[derive(Debug)]
pub struct MirrorConfig {
    pub subset: String,
    /// Read by [`percent`].
    pub percent: f64,
    pub header: String,
}

impl<'de> Deserialize<'de> for MirrorConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "MirrorConfig",
            expecting: "a mirror object",
            names: &["subset", "percent", "header"],
            kinds: &[Kind::Text, Kind::Percent, Kind::Text],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(MirrorConfig {
            subset: values.text(),
            percent: values.number(),
            header: values.text(),
        })
    }
}

/// Steps a failing canary back to the stable subset; see [`crate::guard`].
#[derive(Debug)]
pub struct GuardConfig {
    pub subset: String,
    /// Read by [`rate`].
    pub max_error_rate: f64,
    pub min_requests: Option<u64>,
    /// Whole seconds, minutes or hours: "30s", "5m", "1h".
    pub window: Option<String>,
    pub cool_down: Option<String>,
}

impl<'de> Deserialize<'de> for GuardConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "GuardConfig",
            expecting: "a guard object",
            names: &[
                "subset",
                "maxErrorRate",
                "minRequests",
                "window",
                "coolDown",
            ],
            kinds: &[
                Kind::Text,
                Kind::Rate,
                Kind::MaybeCount,
                Kind::MaybeText,
                Kind::MaybeText,
            ],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(GuardConfig {
            subset: values.text(),
            max_error_rate: values.number(),
            min_requests: values.maybe_count(),
            window: values.maybe_text(),
            cool_down: values.maybe_text(),
        })
    }
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

#[derive(Debug)]
pub struct RouteMatchConfig {
    pub hosts: Option<Vec<String>>,
    pub path_prefix: Option<String>,
}

impl<'de> Deserialize<'de> for RouteMatchConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "RouteMatchConfig",
            expecting: "a route match object",
            names: &["hosts", "pathPrefix"],
            kinds: &[Kind::MaybeTexts, Kind::MaybeText],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(RouteMatchConfig {
            hosts: values.maybe_texts(),
            path_prefix: values.maybe_text(),
        })
    }
}

#[derive(Debug)]
pub struct SubsetConfig {
    pub name: String,
    /// Read by [`percent`].
    pub weight: f64,
}

impl<'de> Deserialize<'de> for SubsetConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "SubsetConfig",
            expecting: "a subset object",
            names: &["name", "weight"],
            kinds: &[Kind::Text, Kind::Percent],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(SubsetConfig {
            name: values.text(),
            weight: values.number(),
        })
    }
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
#[derive(Debug)]
pub struct AssignConfig {
    pub cookie: String,
    /// Read by [`seconds`].
    pub max_age: u64,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub secure: Option<bool>,
    pub http_only: Option<bool>,
    pub same_site: Option<SameSite>,
    pub header: Option<String>,
    pub signed: Option<bool>,
}

impl<'de> Deserialize<'de> for AssignConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "AssignConfig",
            expecting: "an assign object",
            names: &[
                "cookie", "maxAge", "domain", "path", "secure", "httpOnly", "sameSite", "header",
                "signed",
            ],
            kinds: &[
                Kind::Text,
                Kind::Seconds,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeFlag,
                Kind::MaybeFlag,
                Kind::MaybeSameSite,
                Kind::MaybeText,
                Kind::MaybeFlag,
            ],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(AssignConfig {
            cookie: values.text(),
            max_age: values.seconds(),
            domain: values.maybe_text(),
            path: values.maybe_text(),
            secure: values.maybe_flag(),
            http_only: values.maybe_flag(),
            same_site: values.maybe_same_site(),
            header: values.maybe_text(),
            signed: values.maybe_flag(),
        })
    }
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

#[derive(Debug)]
pub struct UnleashBucketingConfig {
    pub group_id: String,
}

impl<'de> Deserialize<'de> for UnleashBucketingConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "UnleashBucketingConfig",
            expecting: "an unleash bucketing object",
            names: &["groupId"],
            kinds: &[Kind::Text],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(UnleashBucketingConfig {
            group_id: values.text(),
        })
    }
}

#[derive(Debug)]
pub struct FlagdBucketingConfig {
    pub flag_key: String,
}

impl<'de> Deserialize<'de> for FlagdBucketingConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "FlagdBucketingConfig",
            expecting: "a flagd bucketing object",
            names: &["flagKey"],
            kinds: &[Kind::Text],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(FlagdBucketingConfig {
            flag_key: values.text(),
        })
    }
}

/// Exactly one of the three must be set.
#[derive(Debug)]
pub struct KeySourceConfig {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

impl<'de> Deserialize<'de> for KeySourceConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "KeySourceConfig",
            expecting: "a key source object",
            names: &["header", "cookie", "query"],
            kinds: &[Kind::MaybeText, Kind::MaybeText, Kind::MaybeText],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(KeySourceConfig {
            header: values.maybe_text(),
            cookie: values.maybe_text(),
            query: values.maybe_text(),
        })
    }
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
#[derive(Debug)]
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

impl<'de> Deserialize<'de> for NamedMatchConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "NamedMatchConfig",
            expecting: "a named match object",
            names: &[
                "name",
                "exact",
                "prefix",
                "suffix",
                "contains",
                "regex",
                "present",
                "ignoreCase",
            ],
            kinds: &[
                Kind::Text,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeFlag,
                Kind::MaybeFlag,
            ],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(NamedMatchConfig {
            name: values.text(),
            exact: values.maybe_text(),
            prefix: values.maybe_text(),
            suffix: values.maybe_text(),
            contains: values.maybe_text(),
            regex: values.maybe_text(),
            present: values.maybe_flag(),
            ignore_case: values.maybe_flag(),
        })
    }
}

/// Exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present`.
#[derive(Debug)]
pub struct StringMatchConfig {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub contains: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
    pub ignore_case: Option<bool>,
}

impl<'de> Deserialize<'de> for StringMatchConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const SHAPE: Shape = Shape {
            name: "StringMatchConfig",
            expecting: "a string match object",
            names: &[
                "exact",
                "prefix",
                "suffix",
                "contains",
                "regex",
                "present",
                "ignoreCase",
            ],
            kinds: &[
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeText,
                Kind::MaybeFlag,
                Kind::MaybeFlag,
            ],
        };
        let mut values = read_struct(deserializer, &SHAPE)?;
        Ok(StringMatchConfig {
            exact: values.maybe_text(),
            prefix: values.maybe_text(),
            suffix: values.maybe_text(),
            contains: values.maybe_text(),
            regex: values.maybe_text(),
            present: values.maybe_flag(),
            ignore_case: values.maybe_flag(),
        })
    }
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
