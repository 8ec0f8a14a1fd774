//! The plugin image `make image` builds (build/image, an OCI image layout) has the shape Istio's
//! fetcher accepts, carries exactly the release module, and is reproducible, so the digest a
//! WasmPlugin pins stays valid for the same module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sticky_canary_e2e::{repo_root, wasm_module};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The layer type Istio's "compat" extraction requires of the last layer.
const GZIP_LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAG: &str = env!("CARGO_PKG_VERSION");

fn layout() -> PathBuf {
    let path = repo_root().join("build/image");
    assert!(
        path.join("index.json").exists(),
        "no OCI image layout at {}: run `make image` (part of `make test`)",
        path.display()
    );
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A blob named by a descriptor, checked against the descriptor's digest and size.
fn blob(layout: &Path, descriptor: &Value) -> Vec<u8> {
    let digest = descriptor["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let bytes = fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(sha256_hex(&bytes), hex, "blob {digest} is corrupt");
    assert_eq!(
        descriptor["size"].as_u64(),
        Some(bytes.len() as u64),
        "size of {digest}"
    );
    bytes
}

struct TarEntry {
    name: String,
    mode: u32,
    uid: u64,
    gid: u64,
    kind: u8,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).unwrap_or_else(|_| panic!("bad octal field {text:?}"))
}

/// Reads a ustar archive strictly: every entry, then the two zero blocks that end it.
fn read_tar(bytes: &[u8]) -> Vec<TarEntry> {
    let mut entries = Vec::new();
    let mut at = 0;
    loop {
        let header = bytes
            .get(at..at + 512)
            .expect("tar ends without its end-of-archive blocks");
        if header.iter().all(|b| *b == 0) {
            let second = bytes
                .get(at + 512..at + 1024)
                .expect("tar ends after one zero block");
            assert!(second.iter().all(|b| *b == 0), "garbage after a zero block");
            return entries;
        }
        let field = |range: std::ops::Range<usize>| {
            String::from_utf8(
                header[range]
                    .iter()
                    .copied()
                    .take_while(|b| *b != 0)
                    .collect(),
            )
            .unwrap()
        };
        let (name, prefix) = (field(0..100), field(345..500));
        let size = octal(&header[124..136]) as usize;
        let data_at = at + 512;
        entries.push(TarEntry {
            name: if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            },
            mode: octal(&header[100..108]) as u32,
            uid: octal(&header[108..116]),
            gid: octal(&header[116..124]),
            kind: header[156],
            data: bytes
                .get(data_at..data_at + size)
                .expect("tar entry truncated")
                .to_vec(),
        });
        at = data_at + size.div_ceil(512) * 512;
    }
}

fn manifest_digest(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string()
}

#[test]
fn the_image_layout_holds_the_release_module_as_plugin_wasm_in_its_last_layer() {
    let layout = layout();
    let marker: Value =
        serde_json::from_slice(&fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(marker["imageLayoutVersion"], "1.0.0");
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "exactly one manifest: {index}");
    let descriptor = &manifests[0];
    assert_eq!(descriptor["mediaType"], MANIFEST_TYPE);
    assert_eq!(
        descriptor["annotations"]["org.opencontainers.image.ref.name"],
        TAG
    );

    let manifest: Value = serde_json::from_slice(&blob(&layout, descriptor)).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    let config: Value = serde_json::from_slice(&blob(&layout, &manifest["config"])).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "a scratch image with one layer");
    let last = layers.last().unwrap();
    assert_eq!(last["mediaType"], GZIP_LAYER_TYPE);

    let compressed = blob(&layout, last);
    assert_eq!(&compressed[..2], &[0x1f, 0x8b], "the layer is gzip");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut tar)
        .unwrap();
    // The config names each layer by the digest of its uncompressed tar.
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar))
    );
    let entries = read_tar(&tar);
    assert_eq!(entries.len(), 1, "the layer holds only plugin.wasm");
    let plugin = &entries[0];
    assert_eq!(plugin.name, "plugin.wasm");
    assert_eq!(plugin.kind, b'0', "a regular file");
    assert_eq!(
        (plugin.mode, plugin.uid, plugin.gid),
        (0o644, 0, 0),
        "root-owned, world-readable"
    );
    let module = fs::read(wasm_module()).unwrap();
    assert!(
        plugin.data == module,
        "plugin.wasm ({} bytes) differs from {} ({} bytes): run `make image`",
        plugin.data.len(),
        wasm_module().display(),
        module.len()
    );
    assert_eq!(&plugin.data[..4], b"\0asm", "a wasm module");

    // What a WasmPlugin's `sha256` carries: for an `oci://` url Istio compares it with the image
    // manifest digest (pkg/wasm: the fetcher returns the image digest); for an http(s) url of
    // the bare module, with the sha256 of the module bytes.
    let manifest_hex = manifest_digest(&layout);
    let module_hex = sha256_hex(&module);
    let pattern = regex_lite::Regex::new("^[a-f0-9]{64}$").unwrap();
    assert!(pattern.is_match(&manifest_hex) && pattern.is_match(&module_hex));
    assert_ne!(manifest_hex, module_hex);
    println!("WasmPlugin sha256 for url oci://REGISTRY/sticky-canary:{TAG}: {manifest_hex}");
    println!("WasmPlugin sha256 for an http(s) url of the bare module: {module_hex}");
}

#[test]
fn building_the_layout_again_gives_the_same_manifest_digest() {
    let layout = layout();
    let again = std::env::temp_dir().join(format!("sticky-canary-image-{}", std::process::id()));
    let out = Command::new(repo_root().join("image/build-oci-layout.sh"))
        .arg(wasm_module())
        .arg(&again)
        .arg(TAG)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "image/build-oci-layout.sh failed (umoci is installed by `make image`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let digest = manifest_digest(&again);
    fs::remove_dir_all(&again).unwrap();
    assert_eq!(digest, manifest_digest(&layout));
    assert!(
        stdout.contains(&digest),
        "the script prints the digest to pin:\n{stdout}"
    );
}
