//! The schema's enums of unit variants share one hand-written reading (for the module's size);
//! it must accept and refuse exactly what serde's derive does, with the same text and path. The
//! derived twins below are what the schema's enums were.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use sticky_canary_core::schema::{FallbackConfig, LaneFallbackConfig, Os, SameSite};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DerivedFallback {
    Random,
    Stable,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DerivedLaneFallback {
    Stable,
    Decide,
}

#[derive(Debug, Deserialize)]
enum DerivedSameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Deserialize)]
enum DerivedOs {
    Windows,
    #[serde(rename = "macOS")]
    MacOs,
    Linux,
    Android,
    #[serde(rename = "iOS")]
    Ios,
}

/// The way the configuration reads a value: inside an object, through the path tracker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Holder<T> {
    one: Option<T>,
    many: Option<Vec<T>>,
}

/// `Ok` with the value's `Debug` (variant names match between twins), or the error as the
/// configuration reports it: path and text.
fn read<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> Result<String, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize::<_, Holder<T>>(&mut deserializer)
        .map(|holder| format!("{:?} {:?}", holder.one, holder.many))
        .map_err(|err| format!("{}: {}", err.path(), err.inner()))
}

/// `known` with its first letter written as a `\u` escape.
fn escaped_first(known: &str) -> String {
    let mut chars = known.chars();
    let first = chars.next().map_or(0, u32::from);
    format!("\"\\u{first:04x}{}\"", chars.as_str())
}

/// Every shape a value can take, for an enum whose variants include `known`.
fn documents(known: &str) -> Vec<String> {
    let values = [
        format!("\"{known}\""),
        format!("\"{}\"", known.to_uppercase()),
        "\"unknown\"".to_string(),
        "\"\"".to_string(),
        // An escape makes serde_json hand over a copied string instead of a borrowed one.
        format!("\"{known}\\u0000\""),
        escaped_first(known),
        "0".to_string(),
        "1".to_string(),
        "-1".to_string(),
        "1.5".to_string(),
        "true".to_string(),
        "null".to_string(),
        "[]".to_string(),
        format!("[\"{known}\"]"),
        "{}".to_string(),
        format!("{{\"{known}\":null}}"),
        format!("{{\"{known}\":1}}"),
        format!("{{\"{known}\":[]}}"),
        format!("{{\"{known}\":{{}}}}"),
        format!("{{\"{known}\":null,\"{known}\":null}}"),
        "{\"unknown\":null}".to_string(),
        "{1:null}".to_string(),
        format!("\"{known}"),
        format!("{{\"{known}\""),
    ];
    let mut documents = Vec::new();
    for value in &values {
        documents.push(format!("{{\"one\":{value}}}"));
        documents.push(format!("{{\"many\":[\"{known}\",{value}]}}"));
    }
    documents.push(format!("{{\"one\":\"{known}\",\"many\":[]}}"));
    documents
}

fn same<Ours, Derived>(variants: &[&str])
where
    Ours: DeserializeOwned + std::fmt::Debug,
    Derived: DeserializeOwned + std::fmt::Debug,
{
    let mut refused = 0;
    for known in variants {
        for document in documents(known) {
            let ours = read::<Ours>(&document);
            assert_eq!(ours, read::<Derived>(&document), "{document}");
            refused += usize::from(ours.is_err());
        }
    }
    // Both ways are exercised: most shapes are refused, the right names accepted.
    assert!(refused > variants.len() * 30, "{refused}");
}

#[test]
fn fallback_reads_as_the_derive_did() {
    same::<FallbackConfig, DerivedFallback>(&["random", "stable"]);
}

#[test]
fn lane_fallback_reads_as_the_derive_did() {
    same::<LaneFallbackConfig, DerivedLaneFallback>(&["stable", "decide"]);
}

#[test]
fn same_site_reads_as_the_derive_did() {
    same::<SameSite, DerivedSameSite>(&["Strict", "Lax", "None"]);
}

#[test]
fn os_reads_as_the_derive_did() {
    same::<Os, DerivedOs>(&["Windows", "macOS", "Linux", "Android", "iOS"]);
}

#[test]
fn an_unknown_variant_lists_the_names_as_written() {
    assert_eq!(
        read::<Os>(r#"{"many":["Linux","macos"]}"#),
        Err("many[1]: unknown variant `macos`, expected one of `Windows`, `macOS`, `Linux`, `Android`, `iOS` at line 1 column 24".to_string())
    );
}
