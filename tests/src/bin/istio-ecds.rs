//! Prints the ECDS update Istio would send for a WasmPlugin or TrafficExtension manifest, ready
//! for the file-based ECDS scenario (envoy/ecds/filters/):
//!   istio-ecds examples/servicea/wasmplugin.yaml build/sticky_canary.wasm [VERSION]
//! The module path stands for the file the istio-agent downloads from the manifest's `url`.

use std::process::ExitCode;

use sticky_canary_e2e::{istio, manifests};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(manifest_path), Some(module)) = (args.first(), args.get(1)) else {
        eprintln!("usage: istio-ecds MANIFEST.yaml MODULE.wasm [VERSION]");
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
    match istio::extension_config(&docs[0], module) {
        Ok(extension) => {
            let response = istio::discovery_response(&extension, version);
            println!(
                "# ECDS update for {manifest_path}, as Istio would push it (resource {}).",
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
