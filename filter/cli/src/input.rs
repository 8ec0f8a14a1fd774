//! Finds the pluginConfig in what an admin has at hand: a bare pluginConfig (JSON or YAML), a
//! WasmPlugin or TrafficExtension manifest, or a multi-document file of them.

use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use sticky_canary_core::{Config, Secret, COOKIE_KEY_ENV};

/// The root id the module registers; a manifest naming another one never reaches the filter.
pub const ROOT_ID: &str = "sticky_canary";

/// One pluginConfig found in a file.
#[derive(Debug)]
pub struct Found {
    /// The pluginConfig as the plugin receives it: JSON text.
    pub json: String,
    /// `kind/name` of the manifest it came from; `None` for a bare pluginConfig.
    pub manifest: Option<String>,
    /// Problems of the manifest around the pluginConfig (`pluginName`, `sha256`).
    pub manifest_errors: Vec<String>,
}

impl Found {
    /// The plugin's own validation. `token` stands for the VM's `STICKY_CANARY_TOKEN` (never in
    /// the file): without it `requireToken` rules are refused, as the plugin refuses them. The
    /// same goes for `assign.signed` and `STICKY_CANARY_COOKIE_KEY`, read from the environment.
    pub fn compile(&self, token: Option<&Secret>) -> Result<Config, String> {
        let cookie_key = std::env::var_os(COOKIE_KEY_ENV);
        let cookie_key = Secret::new(cookie_key.as_ref().map(|k| k.as_encoded_bytes()));
        Config::from_json_with_secrets(self.json.as_bytes(), token.cloned(), cookie_key)
            .map_err(|e| e.to_string())
    }
}

/// Reads `path` and picks its pluginConfig (`name` picks a manifest by `metadata.name`).
pub fn load(path: &Path, name: Option<&str>) -> Result<Found, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    if name.is_none() && text.trim_start().starts_with('{') {
        // A JSON pluginConfig goes to the plugin byte for byte, so its errors are the plugin's.
        let value: Result<Value, _> = serde_json::from_str(&text);
        if !matches!(&value, Ok(v) if is_manifest(v)) {
            return Ok(Found {
                json: text,
                manifest: None,
                manifest_errors: Vec::new(),
            });
        }
    }
    let docs = parse_stream(&text)?;
    let mut candidates: Vec<Found> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        let doc_name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_some_and(|n| n != doc_name) {
            continue;
        }
        if let Some(found) = from_document(doc)? {
            names.push(found.manifest.clone().unwrap_or_else(|| "-".into()));
            candidates.push(found);
        }
    }
    match candidates.len() {
        0 => Err(match name {
            Some(n) => format!("no WasmPlugin or TrafficExtension named {n}"),
            None => "no pluginConfig, WasmPlugin or TrafficExtension found".into(),
        }),
        1 => candidates
            .pop()
            .ok_or_else(|| "no pluginConfig found".into()),
        n => Err(format!(
            "{n} plugin configs ({}): pick one with --name",
            names.join(", ")
        )),
    }
}

/// The documents of a YAML stream (`---`-separated), empty ones as `Null`.
fn parse_stream(text: &str) -> Result<Vec<Value>, String> {
    yaml_serde::Deserializer::from_str(text)
        .map(|doc| {
            let yaml = yaml_serde::Value::deserialize(doc).map_err(|e| format!("not YAML: {e}"))?;
            serde_json::to_value(yaml).map_err(|e| format!("not a JSON-compatible document: {e}"))
        })
        .collect()
}

fn is_manifest(doc: &Value) -> bool {
    doc.get("kind").is_some() && doc.get("apiVersion").is_some()
}

/// `Some` for a pluginConfig or a manifest carrying one; `None` for other manifests.
fn from_document(doc: &Value) -> Result<Option<Found>, String> {
    if !is_manifest(doc) {
        return Ok(Some(Found {
            json: doc.to_string(),
            manifest: None,
            manifest_errors: Vec::new(),
        }));
    }
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let (settings, settings_path) = match kind {
        "WasmPlugin" => (doc.pointer("/spec"), "spec"),
        "TrafficExtension" => (doc.pointer("/spec/wasm"), "spec.wasm"),
        _ => return Ok(None),
    };
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label = format!("{kind}/{name}");
    let settings = settings.ok_or_else(|| format!("{label}: {settings_path} is missing"))?;
    let mut errors = Vec::new();
    match settings.get("pluginName") {
        Some(Value::String(root)) if root == ROOT_ID => {}
        Some(other) => errors.push(format!(
            "{settings_path}.pluginName: {other} is not {ROOT_ID:?}, the module's root id"
        )),
        None => errors.push(format!(
            "{settings_path}.pluginName: missing; the module's root id is {ROOT_ID:?}"
        )),
    }
    if let Some(sha) = settings.get("sha256") {
        let ok = sha.as_str().is_some_and(|s| {
            s.is_empty()
                || (s.len() == 64
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        });
        if !ok {
            errors.push(format!(
                "{settings_path}.sha256: {sha} is not 64 lowercase hex characters"
            ));
        }
    }
    let json = match settings.get("pluginConfig") {
        Some(config) => config.to_string(),
        // Istio sends no configuration at all; the plugin sees an empty one.
        None => String::new(),
    };
    Ok(Some(Found {
        json,
        manifest: Some(label),
        manifest_errors: errors,
    }))
}
