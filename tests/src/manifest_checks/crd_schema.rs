//! Validates Kubernetes manifests against the `openAPIV3Schema` of their CRD the way the API
//! server does with strict field validation (the `kubectl apply` default): unknown fields, wrong
//! types, values outside an enum, pattern or range are errors, each reported with its field path.
//!
//! Why not a JSON Schema crate: a CRD schema is a *structural* OpenAPI schema, not plain JSON
//! Schema. A JSON Schema validator accepts unknown properties unless `additionalProperties:
//! false` is written out (CRDs never write it: the API server prunes or, strictly, rejects them),
//! and knows neither `nullable`, `x-kubernetes-int-or-string` nor
//! `x-kubernetes-preserve-unknown-fields`. The subset CRDs use is small, so it is checked here,
//! and every keyword a schema uses must be one this file knows: a new keyword in a refreshed CRD
//! fails loudly instead of being ignored.
//!
//! Not checked (listed in `SKIPPED`): `x-kubernetes-validations` (CEL rules, e.g. "url must have
//! a scheme", "wildcard not allowed in label value"), `description`, and the two keywords that
//! change how the API server stores an object but never reject one: `default` (fills in an
//! omitted field) and `x-kubernetes-map-type` (merge strategy of server-side apply). `metadata` is
//! checked as ObjectMeta (name, namespace, labels, annotations), since CRD schemas leave it open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Keywords whose meaning is checked below.
const CHECKED: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "nullable",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

/// Keywords deliberately not checked (see the module comment).
const SKIPPED: &[&str] = &[
    "description",
    "x-kubernetes-validations",
    "default",
    "x-kubernetes-map-type",
];

/// Fields every object has, checked by the API server itself rather than by the kind's schema.
const TYPE_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// A CRD version's schema, with the identity a manifest must carry to be checked against it.
pub struct KindSchema {
    pub api_version: String,
    pub kind: String,
    pub schema: Value,
}

/// Every served version of every CRD in a `CustomResourceDefinition` YAML stream.
pub fn crd_schemas(yaml: &str) -> Vec<KindSchema> {
    let mut out = Vec::new();
    for doc in crate::manifests::parse_stream(yaml).unwrap() {
        if doc.is_null() {
            continue;
        }
        assert_eq!(doc["kind"], "CustomResourceDefinition");
        let group = doc["spec"]["group"].as_str().unwrap();
        let kind = doc["spec"]["names"]["kind"].as_str().unwrap();
        for version in doc["spec"]["versions"].as_array().unwrap() {
            if version["served"] != Value::Bool(true) {
                continue;
            }
            out.push(KindSchema {
                api_version: format!("{group}/{}", version["name"].as_str().unwrap()),
                kind: kind.to_string(),
                schema: version["schema"]["openAPIV3Schema"].clone(),
            });
        }
    }
    out
}

/// The project's own schemas of standard kinds (`tests/schemas/kubernetes-core.yaml`).
pub fn core_schemas(yaml: &str) -> Vec<KindSchema> {
    let doc: Value = yaml_serde::from_str(yaml).unwrap();
    doc["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| KindSchema {
            api_version: k["apiVersion"].as_str().unwrap().to_string(),
            kind: k["kind"].as_str().unwrap().to_string(),
            schema: k["openAPIV3Schema"].clone(),
        })
        .collect()
}

/// Validates a whole manifest: its kind must be known, its metadata a valid ObjectMeta, the rest
/// valid against the schema. Returns every error as `path: message`.
pub fn validate_manifest(schemas: &[KindSchema], manifest: &Value) -> Vec<String> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let Some(found) = schemas
        .iter()
        .find(|s| s.api_version == api_version && s.kind == kind)
    else {
        let known: Vec<String> = schemas
            .iter()
            .map(|s| format!("{} {}", s.api_version, s.kind))
            .collect();
        return vec![format!(
            "apiVersion/kind: no schema for {api_version:?} {kind:?} (known: {})",
            known.join(", ")
        )];
    };
    let mut errors = Vec::new();
    match manifest.get("metadata") {
        Some(metadata) => check_object_meta(metadata, "metadata", &mut errors),
        None => errors.push("metadata: required".to_string()),
    }
    // The API server owns the type fields (matched above) and ObjectMeta (checked above); CRD
    // schemas leave them out or open.
    let mut body = manifest.clone();
    if let Some(map) = body.as_object_mut() {
        for field in TYPE_FIELDS {
            map.remove(field);
        }
    }
    let mut schema = found.schema.clone();
    if let Some(map) = schema.as_object_mut() {
        if let Some(required) = map.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| !TYPE_FIELDS.contains(&r.as_str().unwrap_or_default()));
        }
        if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
            for field in TYPE_FIELDS {
                properties.remove(field);
            }
        }
    }
    validate(&schema, &body, "", &mut errors);
    errors
}

/// Validates `value` at `path` against one schema node, appending errors.
pub fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{}: schema node is not an object", shown(path)));
        return;
    };
    for keyword in schema.keys() {
        if !CHECKED.contains(&keyword.as_str()) && !SKIPPED.contains(&keyword.as_str()) {
            errors.push(format!(
                "{}: schema keyword {keyword:?} is not supported by the validator",
                shown(path)
            ));
        }
    }
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            errors.push(format!("{}: must not be null", shown(path)));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string")
        && !(value.is_i64() || value.is_u64() || value.is_string())
    {
        errors.push(format!(
            "{}: must be an integer or a string, got {}",
            shown(path),
            type_name(value)
        ));
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        if !has_type(value, expected) {
            errors.push(format!(
                "{}: must be of type {expected}, got {} {}",
                shown(path),
                type_name(value),
                value
            ));
            return;
        }
    }
    check_scalar(schema, value, path, errors);
    match value {
        Value::Object(map) => check_object(schema, map, path, errors),
        Value::Array(items) => check_array(schema, items, path, errors),
        _ => {}
    }
    check_combinators(schema, value, path, errors);
}

fn check_scalar(schema: &Map<String, Value>, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(format!(
                "{}: {value} is not one of [{}]",
                shown(path),
                names.join(", ")
            ));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if length < min {
                errors.push(format!("{}: shorter than {min} characters", shown(path)));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length > max {
                errors.push(format!("{}: longer than {max} characters", shown(path)));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match regex_lite::Regex::new(pattern) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => errors.push(format!(
                    "{}: {text:?} does not match pattern {pattern:?}",
                    shown(path)
                )),
                Err(e) => errors.push(format!(
                    "{}: schema pattern {pattern:?} not understood: {e}",
                    shown(path)
                )),
            }
        }
    }
    if let Some(number) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if number < min {
                errors.push(format!(
                    "{}: {value} is below the minimum {min}",
                    shown(path)
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if number > max {
                errors.push(format!(
                    "{}: {value} is above the maximum {max}",
                    shown(path)
                ));
            }
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let fits = match format {
            "int32" => value.as_i64().is_none_or(|n| i32::try_from(n).is_ok()),
            "uint32" => value.as_i64().is_none_or(|n| u32::try_from(n).is_ok()),
            "int64" | "double" | "float" | "byte" | "date-time" | "string" => true,
            other => {
                errors.push(format!(
                    "{}: schema format {other:?} not supported",
                    shown(path)
                ));
                true
            }
        };
        if !fits {
            errors.push(format!(
                "{}: {value} does not fit format {format}",
                shown(path)
            ));
        }
    }
}

fn check_object(
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(format!("{}: required field missing", join(path, name)));
            }
        }
    }
    check_count(
        schema,
        ("minProperties", "maxProperties", "entries"),
        map.len(),
        path,
        errors,
    );
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    // A node that says nothing about its fields (a combinator branch) leaves them to its parent.
    let declares_fields = properties.is_some()
        || additional.is_some()
        || schema.get("type").and_then(Value::as_str) == Some("object");
    for (key, child) in map {
        let child_path = join(path, key);
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            validate(child_schema, child, &child_path, errors);
        } else if let Some(extra) = additional.filter(|a| a.is_object()) {
            validate(extra, child, &child_path, errors);
        } else if additional == Some(&Value::Bool(true)) || preserve || !declares_fields {
            // Kept as is by the API server.
        } else {
            errors.push(format!("{child_path}: unknown field {key:?}"));
        }
    }
}

/// `count` against the schema's bounds named `min` and `max` (of `what`: entries, items).
fn check_count(
    schema: &Map<String, Value>,
    (min, max, what): (&str, &str, &str),
    count: usize,
    path: &str,
    errors: &mut Vec<String>,
) {
    let count = count as u64;
    if let Some(min) = schema.get(min).and_then(Value::as_u64) {
        if count < min {
            errors.push(format!("{}: fewer than {min} {what}", shown(path)));
        }
    }
    if let Some(max) = schema.get(max).and_then(Value::as_u64) {
        if count > max {
            errors.push(format!("{}: more than {max} {what}", shown(path)));
        }
    }
}

fn check_array(schema: &Map<String, Value>, items: &[Value], path: &str, errors: &mut Vec<String>) {
    check_count(
        schema,
        ("minItems", "maxItems", "items"),
        items.len(),
        path,
        errors,
    );
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            let mut seen = HashSet::new();
            for item in items {
                if !seen.insert(item.to_string()) {
                    errors.push(format!("{}: duplicate entry {item}", shown(path)));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut seen = HashSet::new();
            for item in items {
                let key: Vec<String> = keys.iter().map(|k| item[*k].to_string()).collect();
                if !seen.insert(key.clone()) {
                    errors.push(format!("{}: duplicate entry for key {key:?}", shown(path)));
                }
            }
        }
        Some("atomic") | None => {}
        Some(other) => errors.push(format!(
            "{}: list type {other:?} not supported",
            shown(path)
        )),
    }
}

fn check_combinators(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    let passes = |branch: &Value| {
        let mut branch_errors = Vec::new();
        validate(branch, value, path, &mut branch_errors);
        branch_errors.is_empty()
    };
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matched = branches.iter().filter(|b| passes(b)).count();
        if matched != 1 {
            errors.push(format!(
                "{}: must match exactly one of {} alternatives ({}), matched {matched}",
                shown(path),
                branches.len(),
                describe(branches)
            ));
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        if !branches.iter().any(passes) {
            errors.push(format!(
                "{}: must match at least one of ({})",
                shown(path),
                describe(branches)
            ));
        }
    }
    if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
        for branch in branches {
            validate(branch, value, path, errors);
        }
    }
    if let Some(branch) = schema.get("not") {
        if passes(branch) {
            errors.push(format!(
                "{}: must not match {}",
                shown(path),
                describe(std::slice::from_ref(branch))
            ));
        }
    }
}

/// Combinator branches in CRDs are `required` lists (mutually exclusive fields); name them so.
fn describe(branches: &[Value]) -> String {
    branches
        .iter()
        .map(|b| match b.get("required") {
            Some(required) => format!("required {required}"),
            None => "a nested rule".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// ObjectMeta as the API server checks it for the fields a manifest may set.
pub fn check_object_meta(metadata: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(map) = metadata.as_object() else {
        errors.push(format!("{path}: must be an object"));
        return;
    };
    let dns_subdomain = regex_lite::Regex::new(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    )
    .unwrap();
    let dns_label = regex_lite::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").unwrap();
    let label_value =
        regex_lite::Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").unwrap();
    for (key, value) in map {
        let at = join(path, key);
        match key.as_str() {
            "name" => match value.as_str() {
                Some(name) if name.len() <= 253 && dns_subdomain.is_match(name) => {}
                _ => errors.push(format!("{at}: {value} is not a DNS-1123 subdomain")),
            },
            "namespace" => match value.as_str() {
                Some(ns) if ns.len() <= 63 && dns_label.is_match(ns) => {}
                _ => errors.push(format!("{at}: {value} is not a DNS-1123 label")),
            },
            "labels" | "annotations" => match value.as_object() {
                Some(entries) => {
                    for (k, v) in entries {
                        let name = k.rsplit('/').next().unwrap_or(k);
                        if name.is_empty() || name.len() > 63 || !label_value.is_match(name) {
                            errors.push(format!("{at}.{k}: invalid key"));
                        }
                        match v.as_str() {
                            Some(text)
                                if key == "annotations"
                                    || (text.len() <= 63 && label_value.is_match(text)) => {}
                            _ => errors.push(format!("{at}.{k}: {v} is not a valid {key} value")),
                        }
                    }
                }
                None => errors.push(format!("{at}: must be a map of strings")),
            },
            other => errors.push(format!("{at}: unknown field {other:?}")),
        }
    }
    if !map.contains_key("name") {
        errors.push(format!("{path}.name: required field missing"));
    }
}

fn flag(schema: &Map<String, Value>, name: &str) -> bool {
    schema.get(name) == Some(&Value::Bool(true))
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}
