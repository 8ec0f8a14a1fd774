//! The ECDS file the console edits: an Envoy DiscoveryResponse whose one resource is the
//! filter's TypedExtensionConfig, wrapping the Wasm config whose `configuration` carries the
//! pluginConfig as a JSON string. It is the console's only state.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// Why the file was not replaced.
#[derive(Debug, PartialEq)]
pub enum Replaced {
    /// Someone else changed it since the ETag given: this is its ETag now.
    Changed(String),
    Failed(String),
}

/// A new version of the file, written beside it, not yet in its place. Dropped, it is removed.
pub struct Staged {
    staged: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Writes `text` to a file in the target's (watched) directory, flushed, with the target's
    /// mode and owner: the resource can hold secrets (the VM's token and cookie key), and the
    /// rename must not hand them to more readers than the file had.
    pub fn write(target: &Path, text: &str) -> Result<Staged, String> {
        let fail = |e: std::io::Error| format!("{}: cannot write: {e}", target.display());
        let dir = target.parent().unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staged = Staged {
            staged: dir.join(format!(".{name}.console-{}.tmp", std::process::id())),
            target: target.to_path_buf(),
        };
        let original = fs::metadata(target).map_err(fail)?;
        // Left by a console of the same pid that died mid-write; create_new below then never
        // follows a link someone else put in its place.
        let _ = fs::remove_file(&staged.staged);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staged.staged)
            .map_err(fail)?;
        let made = file.metadata().map_err(fail)?;
        if (made.uid(), made.gid()) != (original.uid(), original.gid()) {
            // Root may give the file back to its owner; anyone else may only pick a group of
            // theirs. A file that cannot keep its owner is not written.
            std::os::unix::fs::fchown(&file, Some(original.uid()), Some(original.gid())).map_err(
                |e| {
                    format!(
                        "{}: cannot keep its owner {}:{} ({e}): apply as that user or as root",
                        target.display(),
                        original.uid(),
                        original.gid()
                    )
                },
            )?;
        }
        // After the chown, which may clear set-id bits; and umask does not apply to a chmod.
        file.set_permissions(fs::Permissions::from_mode(original.mode() & 0o7777))
            .map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        Ok(staged)
    }

    /// Renames the staged file over the target, the one way Envoy notices a change and never
    /// sees half of one, if the target is still the version whose ETag is `expected`.
    pub fn replace_if_unchanged(self, expected: &str) -> Result<(), Replaced> {
        let now = fs::read(&self.target).map_err(|e| {
            Replaced::Failed(format!("{}: cannot read: {e}", self.target.display()))
        })?;
        let now = etag(&now);
        if now != expected {
            return Err(Replaced::Changed(now));
        }
        fs::rename(&self.staged, &self.target).map_err(|e| {
            Replaced::Failed(format!("{}: cannot write: {e}", self.target.display()))
        })?;
        // The rename itself survives a crash once the directory is flushed.
        if let Some(dir) = self.target.parent() {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Gone already after a rename.
        let _ = fs::remove_file(&self.staged);
    }
}

/// Replaces the file at `path` with `text` if it still has the ETag `expected`.
pub fn replace_if_unchanged(path: &Path, text: &str, expected: &str) -> Result<(), Replaced> {
    Staged::write(path, text)
        .map_err(Replaced::Failed)?
        .replace_if_unchanged(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_the_new_version_was_staged_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sticky-canary.yaml");
        fs::write(&path, "mine: 1\n").unwrap();
        let expected = etag(b"mine: 1\n");
        let staged = Staged::write(&path, "mine: 2\n").unwrap();
        // Another writer (an editor, another console) between the staging and the rename.
        fs::write(&path, "theirs: 1\n").unwrap();
        assert_eq!(
            staged.replace_if_unchanged(&expected),
            Err(Replaced::Changed(etag(b"theirs: 1\n")))
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "theirs: 1\n");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the staged file is removed");

        let current = etag(b"theirs: 1\n");
        assert_eq!(replace_if_unchanged(&path, "mine: 2\n", &current), Ok(()));
        assert_eq!(fs::read_to_string(&path).unwrap(), "mine: 2\n");
    }
}
