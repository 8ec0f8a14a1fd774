//! `validate`: the plugin's own validation of each file, plus the manifest fields around it.

use std::path::{Path, PathBuf};

use serde_json::json;
use sticky_canary_core::Secret;

use crate::input;
use crate::outcome::{Outcome, FAILED, OK};

/// Every problem of one file, as `<file>: <error>` lines; empty when it is valid.
pub fn problems(file: &Path, name: Option<&str>, token: Option<&Secret>) -> Vec<String> {
    let found = match input::load(file, name) {
        Ok(found) => found,
        Err(e) => return vec![e],
    };
    let mut errors = found.manifest_errors.clone();
    if let Err(e) = found.compile(token) {
        errors.push(e);
    }
    errors
}

pub fn run(files: &[PathBuf], name: Option<&str>, token: Option<&Secret>) -> Outcome {
    let mut human = String::new();
    let mut results = Vec::new();
    let mut code = OK;
    for file in files {
        let errors = problems(file, name, token);
        let shown = file.display();
        if errors.is_empty() {
            human.push_str(&format!("{shown}: ok\n"));
        } else {
            code = FAILED;
            for error in &errors {
                human.push_str(&format!("{shown}: {error}\n"));
            }
        }
        results.push(json!({
            "file": shown.to_string(),
            "valid": errors.is_empty(),
            "errors": errors,
        }));
    }
    Outcome {
        human,
        json: json!({ "files": results }),
        code,
    }
}
