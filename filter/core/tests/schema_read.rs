//! Most schema types are read through a shared table (src/schema/read.rs, for the module's
//! size) instead of serde's derive; they must accept and refuse exactly what the derive does,
//! with the same error text and path. `derived` holds each type as it was, derive and all, under
//! the same name (so `Debug` prints the same), and every document below is read both ways.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use sticky_canary_core::schema;

// Their fields are read through `Debug` only.
#[allow(dead_code)]
mod derived {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;
    use sticky_canary_core::schema::WeightsConfig;

    // The schema's `deserialize_with` functions, copied: they are private to it, and unchanged.
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

    #[derive(Debug, Deserialize)]
    #[serde(
        deny_unknown_fields,
        rename_all = "camelCase",
        expecting = "a schedule object"
    )]
    pub struct ScheduleConfig {
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
        pub after: String,
        pub weights: WeightsConfig,
    }

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
        pub window: Option<String>,
        pub cool_down: Option<String>,
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

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum FallbackConfig {
        Random,
        Stable,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum LaneFallbackConfig {
        Stable,
        Decide,
    }

    #[derive(Debug, Deserialize)]
    pub enum SameSite {
        Strict,
        Lax,
        None,
    }

    #[allow(clippy::enum_variant_names)]
    #[derive(Debug, Deserialize)]
    pub enum Os {
        Windows,
        #[serde(rename = "macOS")]
        MacOs,
        Linux,
        Android,
        #[serde(rename = "iOS")]
        Ios,
    }

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
}

/// The way the configuration reads a value: inside an object, through the path tracker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Holder<T> {
    one: Option<T>,
    many: Option<Vec<T>>,
}

/// `Ok` with the value's `Debug`, or the error as the configuration reports it: path and text.
fn read<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> Result<String, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize::<_, Holder<T>>(&mut deserializer)
        .map(|holder| format!("{:?} {:?}", holder.one, holder.many))
        .map_err(|err| format!("{}: {}", err.path(), err.inner()))
}

/// Reads every document both ways; `Ok` and `Err` must both occur, and often.
fn same<Ours, Derived>(documents: &[String])
where
    Ours: DeserializeOwned + std::fmt::Debug,
    Derived: DeserializeOwned + std::fmt::Debug,
{
    let (mut accepted, mut refused) = (0, 0);
    for document in documents {
        let ours = read::<Ours>(document);
        assert_eq!(ours, read::<Derived>(document), "{document}");
        match ours {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(accepted >= 3 && refused >= 20, "{accepted} {refused}");
}

/// Values of every JSON type, and broken ones.
const ODD_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "1.5",
    "-0",
    "1e400",
    "18446744073709551616",
    "true",
    "false",
    "null",
    "\"\"",
    "\"x\"",
    "[]",
    "[1]",
    "[\"x\"]",
    "{}",
    "{\"a\":1}",
    "\"stable\"",
    "\"\\u0000\"",
    "[null]",
    "\"x",
    "{",
    "[",
    "tru",
];

/// `value` wherever a value goes: alone, and second in a list.
fn placed(value: &str, first: &str) -> [String; 2] {
    [
        format!("{{\"one\":{value}}}"),
        format!("{{\"many\":[{first},{value}]}}"),
    ]
}

/// `known` with its first letter written as a `\u` escape.
fn escaped_first(known: &str) -> String {
    let mut chars = known.chars();
    let first = chars.next().map_or(0, u32::from);
    format!("\\u{first:04x}{}", chars.as_str())
}

/// Documents for an enum whose variants include `known`.
fn enum_documents(known: &str) -> Vec<String> {
    let first = format!("\"{known}\"");
    let mut values: Vec<String> = ODD_VALUES.iter().map(|v| v.to_string()).collect();
    values.extend([
        first.clone(),
        format!("\"{}\"", known.to_uppercase()),
        format!("\"{known}\\u0000\""),
        format!("\"{}\"", escaped_first(known)),
        format!("[{first}]"),
        format!("{{{first}:null}}"),
        format!("{{{first}:1}}"),
        format!("{{{first}:[]}}"),
        format!("{{{first}:{{}}}}"),
        format!("{{{first}:null,{first}:null}}"),
        "{\"unknown\":null}".to_string(),
        "{1:null}".to_string(),
        format!("{{{first}"),
    ]);
    let mut documents: Vec<String> = values.iter().flat_map(|v| placed(v, &first)).collect();
    documents.push(format!("{{\"one\":{first},\"many\":[]}}"));
    documents
}

/// Documents for a struct whose fields, in declaration order, take the values `fields` gives.
fn struct_documents(fields: &[(&str, &str)]) -> Vec<String> {
    let object = |members: &[String]| format!("{{{}}}", members.join(","));
    let member = |name: &str, value: &str| format!("\"{name}\":{value}");
    let all: Vec<String> = fields.iter().map(|(n, v)| member(n, v)).collect();
    let full = object(&all);
    let mut values = vec![
        full.clone(),
        object(&[]),
        object(&all.iter().take(1).cloned().collect::<Vec<_>>()),
    ];
    values.extend(ODD_VALUES.iter().map(|v| v.to_string()));
    // Reversed, and with unknown, misspelled and escaped keys.
    values.push(object(&all.iter().rev().cloned().collect::<Vec<_>>()));
    for extra in ["\"unknown\":1", "\"Name\":\"x\"", "\"\":null"] {
        values.push(object(&[all.clone(), vec![extra.to_string()]].concat()));
    }
    // Positional, as the derive also reads a struct: short, exact, long.
    let positional: Vec<&str> = fields.iter().map(|(_, v)| *v).collect();
    for take in 0..=positional.len() {
        let prefix: Vec<&str> = positional.iter().take(take).copied().collect();
        values.push(format!("[{}]", prefix.join(",")));
    }
    values.push(format!("[{},null]", positional.join(",")));
    for (index, (name, value)) in fields.iter().enumerate() {
        let others: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, m)| m.clone())
            .collect();
        // Missing, twice, escaped, and every odd value in its place.
        values.push(object(&others));
        values.push(object(&[all.clone(), vec![member(name, value)]].concat()));
        values.push(object(
            &[others.clone(), vec![member(&escaped_first(name), value)]].concat(),
        ));
        for odd in ODD_VALUES {
            values.push(object(&[vec![member(name, odd)], others.clone()].concat()));
        }
    }
    values.iter().flat_map(|v| placed(v, &full)).collect()
}

#[test]
fn unit_enums_read_as_the_derive_did() {
    for known in ["random", "stable"] {
        same::<schema::FallbackConfig, derived::FallbackConfig>(&enum_documents(known));
    }
    for known in ["stable", "decide"] {
        same::<schema::LaneFallbackConfig, derived::LaneFallbackConfig>(&enum_documents(known));
    }
    for known in ["Strict", "Lax", "None"] {
        same::<schema::SameSite, derived::SameSite>(&enum_documents(known));
    }
    for known in ["Windows", "macOS", "Linux", "Android", "iOS"] {
        same::<schema::Os, derived::Os>(&enum_documents(known));
    }
}

#[test]
fn flat_structs_read_as_the_derive_did() {
    same::<schema::LaneConfig, derived::LaneConfig>(&struct_documents(&[
        ("header", "\"x-lane\""),
        ("baggage", "\"lane\""),
        ("trust", "true"),
        ("fallback", "\"decide\""),
    ]));
    same::<schema::RouteMatchConfig, derived::RouteMatchConfig>(&struct_documents(&[
        ("hosts", "[\"a.example\",\"b.example\"]"),
        ("pathPrefix", "\"/api\""),
    ]));
    same::<schema::UnleashBucketingConfig, derived::UnleashBucketingConfig>(&struct_documents(&[
        ("groupId", "\"checkout\""),
    ]));
    same::<schema::FlagdBucketingConfig, derived::FlagdBucketingConfig>(&struct_documents(&[(
        "flagKey",
        "\"new-checkout\"",
    )]));
    same::<schema::KeySourceConfig, derived::KeySourceConfig>(&struct_documents(&[
        ("header", "\"x-user\""),
        ("cookie", "\"uid\""),
        ("query", "\"u\""),
    ]));
    let matcher = [
        ("exact", "\"a\""),
        ("prefix", "\"b\""),
        ("suffix", "\"c\""),
        ("contains", "\"d\""),
        ("regex", "\"e+\""),
        ("present", "false"),
        ("ignoreCase", "true"),
    ];
    same::<schema::StringMatchConfig, derived::StringMatchConfig>(&struct_documents(&matcher));
    let named = [&[("name", "\"x-tier\"")], &matcher[..]].concat();
    same::<schema::NamedMatchConfig, derived::NamedMatchConfig>(&struct_documents(&named));
}

#[test]
fn structs_with_numbers_and_nested_values_read_as_the_derive_did() {
    let weights = "{\"v1\":90,\"v2\":10}";
    let step = format!("{{\"after\":\"10m\",\"weights\":{weights}}}");
    same::<schema::ScheduleStepConfig, derived::ScheduleStepConfig>(&struct_documents(&[
        ("after", "\"10m\""),
        ("weights", weights),
    ]));
    let steps = format!("[{step},{{\"after\":\"1h\",\"weights\":[]}}]");
    let mut documents = struct_documents(&[
        ("start", "\"2026-12-07T09:00:00Z\""),
        ("linear", "true"),
        ("steps", &format!("[{step}]")),
    ]);
    documents.extend(placed(
        &format!("{{\"start\":\"s\",\"steps\":{steps}}}"),
        "null",
    ));
    same::<schema::ScheduleConfig, derived::ScheduleConfig>(&documents);
    same::<schema::MirrorConfig, derived::MirrorConfig>(&struct_documents(&[
        ("subset", "\"v2\""),
        ("percent", "5"),
        ("header", "\"x-mirror\""),
    ]));
    same::<schema::GuardConfig, derived::GuardConfig>(&struct_documents(&[
        ("subset", "\"v2\""),
        ("maxErrorRate", "0.05"),
        ("minRequests", "20"),
        ("window", "\"30s\""),
        ("coolDown", "\"5m\""),
    ]));
    same::<schema::SubsetConfig, derived::SubsetConfig>(&struct_documents(&[
        ("name", "\"v1\""),
        ("weight", "12.5"),
    ]));
    same::<schema::AssignConfig, derived::AssignConfig>(&struct_documents(&[
        ("cookie", "\"uid\""),
        ("maxAge", "86400"),
        ("domain", "\".example.com\""),
        ("path", "\"/\""),
        ("secure", "true"),
        ("httpOnly", "false"),
        ("sameSite", "\"Lax\""),
        ("header", "\"x-id\""),
        ("signed", "true"),
    ]));
}

#[test]
fn errors_name_the_field_as_written() {
    assert_eq!(
        read::<schema::Os>(r#"{"many":["Linux","macos"]}"#),
        Err("many[1]: unknown variant `macos`, expected one of `Windows`, `macOS`, `Linux`, `Android`, `iOS` at line 1 column 24".to_string())
    );
    assert_eq!(
        read::<schema::NamedMatchConfig>(r#"{"one":{"name":"a","ignore_case":true}}"#),
        Err("one.ignore_case: unknown field `ignore_case`, expected one of `name`, `exact`, `prefix`, `suffix`, `contains`, `regex`, `present`, `ignoreCase` at line 1 column 32".to_string())
    );
    assert_eq!(
        read::<schema::LaneConfig>(r#"{"one":{"trust":1}}"#),
        Err(
            "one.trust: invalid type: integer `1`, expected a boolean at line 1 column 17"
                .to_string()
        )
    );
}
