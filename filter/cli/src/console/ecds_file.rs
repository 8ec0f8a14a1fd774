//! The ECDS file the console edits: an Envoy DiscoveryResponse whose one resource is the
//! filter's TypedExtensionConfig, wrapping the Wasm config whose `configuration` carries the
//! pluginConfig as a JSON string. It is the console's only state.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where the pluginConfig sits in the resource.
const PLUGIN_CONFIG: &str = "/typed_config/config/configuration/value";

/// One read of the file.
pub struct Snapshot {
    /// A strong ETag of the file's bytes: any change to the file, by anyone, changes it.
    pub etag: String,
    pub document: Value,
    /// The filter's name (the resource's name): its ECDS counters are named after it.
    pub filter: String,
    pub version: String,
    pub plugin_config: String,
}

pub fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

pub fn read(path: &Path) -> Result<Snapshot, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let yaml: yaml_serde::Value =
        yaml_serde::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
    let document = serde_json::to_value(yaml)
        .map_err(|e| format!("{}: not a JSON-compatible document: {e}", path.display()))?;
    let resources = document
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: resources: missing", path.display()))?;
    let [resource] = resources.as_slice() else {
        return Err(format!(
            "{}: resources: {} resources, the console edits a file with exactly one",
            path.display(),
            resources.len()
        ));
    };
    let filter = resource
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: resources[0].name: missing", path.display()))?
        .to_string();
    let plugin_config = resource
        .pointer(PLUGIN_CONFIG)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "{}: resources[0].typed_config.config.configuration.value: missing",
                path.display()
            )
        })?
        .to_string();
    let version = match document.get("version_info") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(Snapshot {
        etag: etag(&bytes),
        document,
        filter,
        version,
        plugin_config,
    })
}

/// The next `version_info`: Envoy reports it as the accepted version (`version_text`).
fn next_version(version: &str) -> String {
    match version.parse::<u64>() {
        Ok(n) => (n + 1).to_string(),
        Err(_) => format!("{version}+1"),
    }
}

/// The file's document with another pluginConfig and the next version, as YAML text.
pub fn render(snapshot: &Snapshot, plugin_config: &str) -> Result<(String, String), String> {
    let mut document = snapshot.document.clone();
    let version = next_version(&snapshot.version);
    let slot = document
        .pointer_mut(&format!("/resources/0{PLUGIN_CONFIG}"))
        .ok_or("the resource lost its pluginConfig")?;
    *slot = Value::String(plugin_config.to_string());
    if let Some(map) = document.as_object_mut() {
        map.insert("version_info".into(), Value::String(version.clone()));
    }
    let text = yaml_serde::to_string(&document).map_err(|e| format!("cannot render: {e}"))?;
    Ok((
        format!("# Written by `sticky-canary console`.\n{text}"),
        version,
    ))
}

/// Writes `text` to `path` the one way Envoy notices and never sees half of: a file in the same
/// (watched) directory, flushed, then renamed over the old one.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staged: PathBuf = dir.join(format!(".{name}.console-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&staged)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&staged, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&staged);
        format!("{}: cannot write: {e}", path.display())
    })
}
