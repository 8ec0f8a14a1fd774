//! Kubernetes manifests as files: every YAML document under a directory, as JSON values, with the
//! file it came from (for error messages and for reading a manifest back by path).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub struct Manifest {
    /// Path relative to the repository root.
    pub file: PathBuf,
    pub value: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// `metadata.namespace`, or `default` as kubectl applies it without `-n`.
    pub fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }

    /// `file kind/name`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.file.display(), self.kind(), self.name())
    }
}

/// The documents of a YAML stream (`---`-separated), empty ones as `Null`.
pub fn parse_stream(text: &str) -> Result<Vec<Value>, String> {
    yaml_serde::Deserializer::from_str(text)
        .map(|doc| {
            let yaml = yaml_serde::Value::deserialize(doc).map_err(|e| e.to_string())?;
            serde_json::to_value(yaml).map_err(|e| e.to_string())
        })
        .collect()
}

/// Every non-empty document of every `.yaml`/`.yml` file under `dir` (relative to the repository
/// root), recursively, in path order.
pub fn load_dir(root: &Path, dir: &str) -> Vec<Manifest> {
    let mut files = Vec::new();
    collect(&root.join(dir), &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        let docs = parse_stream(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", relative.display()));
        for value in docs.into_iter().filter(|d| !d.is_null()) {
            out.push(Manifest {
                file: relative.clone(),
                value,
            });
        }
    }
    out
}

/// The single document of one manifest file (relative to the repository root).
pub fn load_file(root: &Path, file: &str) -> Value {
    let docs = parse_stream(&fs::read_to_string(root.join(file)).unwrap()).unwrap();
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    assert_eq!(docs.len(), 1, "{file}: expected one document");
    docs.into_iter().next().unwrap()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
}

/// Applies the `replace` operations of a JSON patch (all the slider needs).
pub fn json_patch(target: &mut Value, patch: &Value) {
    for op in patch.as_array().unwrap() {
        assert_eq!(op["op"], "replace", "only replace is used");
        let pointer = op["path"].as_str().unwrap();
        let slot = target
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("patch path {pointer} does not exist"));
        *slot = op["value"].clone();
    }
}

/// The `kubectl ... patch <kind> ... -p '<json>'` one-liners in examples/README.md (`kind` as
/// written there: `wasmplugin`, `wasmplugins.extensions.higress.io`...).
pub fn readme_patches(kind: &str) -> Vec<Value> {
    let readme = fs::read_to_string(crate::repo_root().join("examples/README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.trim_start().starts_with("kubectl") && l.contains(&format!(" patch {kind} ")))
        .map(|l| {
            let start = l.find("-p '").expect("patch given with -p '...'") + 4;
            let end = l.rfind('\'').unwrap();
            serde_json::from_str(&l[start..end]).unwrap()
        })
        .collect()
}

/// Each port of a Service whose `targetPort` (or `port`) is no container port, by number or name,
/// of one of the Deployments it selects: one line per Service port and Deployment.
pub fn unserved_ports(service: &Manifest, selected: &[&Manifest]) -> Vec<String> {
    let mut out = Vec::new();
    let ports = service.value["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for port in &ports {
        let target = port.get("targetPort").unwrap_or(&port["port"]);
        for d in selected {
            let found = d.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .any(|p| &p["containerPort"] == target || &p["name"] == target);
            if !found {
                out.push(format!(
                    "{}: targetPort {target} is no container port of {}",
                    service.label(),
                    d.name()
                ));
            }
        }
    }
    out
}
