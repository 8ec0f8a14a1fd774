//! Where the things under test are: the repository, the Envoy binary and the module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The module path as the scenario files name it (relative to the repository root).
pub const SCENARIO_WASM_PATH: &str = "build/sticky_canary.wasm";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `ENVOY_BIN`, else the project's pinned Envoy.
pub fn envoy_binary() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/envoy"));
    assert!(
        path.exists(),
        "no Envoy at {}: run `make test`, which installs it",
        path.display()
    );
    path
}

/// `STICKY_CANARY_WASM`, else the module `make build` writes.
pub fn wasm_module() -> PathBuf {
    let path = std::env::var_os("STICKY_CANARY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(SCENARIO_WASM_PATH));
    assert!(
        path.exists(),
        "no module at {}: run `make test`, which builds it",
        path.display()
    );
    path
}
