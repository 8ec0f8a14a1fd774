//! Prints the ECDS update Istio would send for a WasmPlugin or TrafficExtension manifest, ready
//! for the file-based ECDS scenario (envoy/ecds/filters/):
//!   istio-ecds [--istio-version 1.N] examples/servicea/wasmplugin.yaml build/sticky_canary.wasm [VERSION]
//! The module path stands for the file the istio-agent downloads from the manifest's `url`.
//! Istio 1.30 and later name a WasmPlugin `extensions.istio.io/trafficextension/<ns>.<name>~istio-translated-wasmplugin`,
//! 1.26-1.29 `extensions.istio.io/wasmplugin/<ns>.<name>` (tests/src/istio.rs has the whole
//! table); the default is the newest Istio modelled.

use std::process::ExitCode;

use sticky_canary_e2e::istio::{self, IstioVersion};
use sticky_canary_e2e::manifests;

const USAGE: &str = "usage: istio-ecds [--istio-version 1.N] MANIFEST.yaml MODULE.wasm [VERSION]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut istio_version = IstioVersion::NEWEST;
    if let Some(at) = args.iter().position(|a| a == "--istio-version") {
        let Some(text) = args.get(at + 1) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        istio_version = match IstioVersion::parse(text) {
            Ok(version) => version,
            Err(e) => {
                eprintln!("istio-ecds: {e}");
                return ExitCode::from(2);
            }
        };
        args.drain(at..at + 2);
    }
    let (Some(manifest_path), Some(module)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let version = match args.get(2).map(|v| v.parse::<u32>()) {
        None => 1,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            eprintln!("istio-ecds: VERSION must be a number");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(manifest_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("istio-ecds: {manifest_path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let docs = match manifests::parse_stream(&text) {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("istio-ecds: {manifest_path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let docs: Vec<_> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.len() != 1 {
        eprintln!(
            "istio-ecds: {manifest_path}: expected one document, found {}",
            docs.len()
        );
        return ExitCode::FAILURE;
    }
    match istio::extension_config_for(&docs[0], module, istio_version) {
        Ok(extension) => {
            let response = istio::discovery_response(&extension, version);
            println!(
                "# ECDS update for {manifest_path}, as Istio {istio_version} would push it (resource {}).",
                extension["name"]
            );
            print!("{}", yaml_serde::to_string(&response).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("istio-ecds: {manifest_path}: {e}");
            ExitCode::FAILURE
        }
    }
}
