//! envoy/local/docker-compose.yaml is a twin of what the tests run: the same envoy.yaml and
//! module path from the mounted repository, the same Envoy flags, the pinned Envoy's official
//! image by default, and only files that exist. No Docker engine is needed: the file is read
//! here, and a compose client's `config` (which parses without an engine) must accept it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sticky_canary_e2e::{repo_root, ENVOY_RUN_FLAGS, SCENARIO_WASM_PATH};

const COMPOSE_FILE: &str = "envoy/local/docker-compose.yaml";

fn compose() -> Value {
    let text = fs::read_to_string(repo_root().join(COMPOSE_FILE)).unwrap();
    yaml_serde::from_str(&text).unwrap()
}

/// `${NAME:-default}` -> (NAME, default); anything else is a literal.
fn variable(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    inner.split_once(":-")
}

fn pinned_envoy_version() -> String {
    let makefile = fs::read_to_string(repo_root().join("Makefile")).unwrap();
    makefile
        .lines()
        .find_map(|l| l.strip_prefix("ENVOY_VERSION :="))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_compose_file_runs_the_tests_envoy_yaml_module_and_flags() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    assert_eq!(services.keys().collect::<Vec<_>>(), ["envoy"]);
    let envoy = &services["envoy"];

    let (variable_name, default_image) = variable(envoy["image"].as_str().unwrap()).unwrap();
    assert_eq!(variable_name, "ENVOY_IMAGE");
    assert_eq!(
        default_image,
        format!("envoyproxy/envoy:v{}", pinned_envoy_version())
    );
    assert_eq!(
        envoy["entrypoint"],
        serde_json::json!(["/usr/local/bin/envoy"])
    );
    assert_eq!(envoy["network_mode"], "host", "envoy.yaml binds 127.0.0.1");

    // The repository is mounted and is the working directory, as the tests run Envoy from it.
    let volumes = envoy["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1);
    let mount = volumes[0].as_str().unwrap();
    let mut parts = mount.split(':');
    let (source, target) = (parts.next().unwrap(), parts.next().unwrap());
    let compose_dir = repo_root()
        .join(COMPOSE_FILE)
        .parent()
        .unwrap()
        .to_path_buf();
    assert_eq!(
        compose_dir.join(source).canonicalize().unwrap(),
        repo_root().canonicalize().unwrap(),
        "the mount is the repository root"
    );
    assert_eq!(envoy["working_dir"], target);

    let command: Vec<&str> = envoy["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(command[0], "-c");
    let (config_variable, config) = variable(command[1]).unwrap();
    assert_eq!(
        (config_variable, config),
        ("ENVOY_CONFIG", "envoy/local/envoy.yaml")
    );
    assert_eq!(
        &command[2..],
        ENVOY_RUN_FLAGS,
        "the same flags as the tests"
    );

    // Every file it refers to exists, seen from the working directory (= the repo root).
    let bootstrap = fs::read_to_string(repo_root().join(config)).unwrap();
    assert!(bootstrap.contains(&format!("filename: {SCENARIO_WASM_PATH}")));
    assert!(
        repo_root().join(SCENARIO_WASM_PATH).exists(),
        "{SCENARIO_WASM_PATH} missing: run `make build`"
    );
    for relative in [config, SCENARIO_WASM_PATH] {
        assert!(
            Path::new(relative).is_relative(),
            "{relative} must be repo-relative"
        );
    }
}

#[test]
fn a_compose_client_parses_the_file_without_an_engine() {
    let client = [&["docker", "compose"][..], &["docker-compose"][..]]
        .into_iter()
        .find(|c| {
            Command::new(c[0])
                .args(&c[1..])
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no compose client: `make test` installs docker-compose");
    for image in [None, Some("istio/proxyv2:1.30.0")] {
        let mut command = Command::new(client[0]);
        command
            .args(&client[1..])
            .args(["-f", COMPOSE_FILE, "config"])
            .current_dir(repo_root())
            .env_remove("ENVOY_CONFIG");
        match image {
            Some(image) => command.env("ENVOY_IMAGE", image),
            None => command.env_remove("ENVOY_IMAGE"),
        };
        let out = command.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{client:?} config failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let resolved: Value = yaml_serde::from_str(&text).unwrap();
        let expected_image = image
            .map(str::to_string)
            .unwrap_or_else(|| format!("envoyproxy/envoy:v{}", pinned_envoy_version()));
        assert_eq!(
            resolved["services"]["envoy"]["image"],
            expected_image.as_str()
        );
        assert_eq!(
            resolved["services"]["envoy"]["command"][1],
            "envoy/local/envoy.yaml"
        );
        let mount = resolved["services"]["envoy"]["volumes"][0].clone();
        // Clients print a mount as a string (v1) or as an object (v2).
        let source = mount
            .as_str()
            .map(|m| m.split(':').next().unwrap().to_string())
            .unwrap_or_else(|| mount["source"].as_str().unwrap().to_string());
        assert_eq!(
            Path::new(&source).canonicalize().unwrap(),
            repo_root().canonicalize().unwrap()
        );
    }
}
