//! Runs the built `sticky-canary` binary from the repository root, so file names in its output
//! are the repository's relative paths.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub mod console_process;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn run(args: &[&str]) -> Run {
    run_with_token_env(args, None)
}

/// `run` with `STICKY_CANARY_TOKEN` set to `token`; unset for `None`, so a token in the
/// developer's shell never changes what the tests see.
pub fn run_with_token_env(args: &[&str], token: Option<&str>) -> Run {
    run_with_env(args, &[("STICKY_CANARY_TOKEN", token)])
}

/// `run` with these variables set (`Some`) or unset (`None`), and `STICKY_CANARY_TOKEN` and
/// `STICKY_CANARY_COOKIE_KEY` unset unless given.
pub fn run_with_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sticky-canary"));
    command.env_remove("STICKY_CANARY_TOKEN");
    command.env_remove("STICKY_CANARY_COOKIE_KEY");
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Compares with a golden file under `tests/golden/`; `BLESS=1` rewrites it.
pub fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}
