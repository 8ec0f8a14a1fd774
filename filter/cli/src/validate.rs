//! `validate`: the plugin's own validation of each file, plus the manifest fields around it.

use std::path::{Path, PathBuf};

use serde_json::json;
use sticky_canary_core::config::KeySource;
use sticky_canary_core::{Config, Secret};

use crate::input;
use crate::outcome::{Outcome, FAILED, OK};

/// Every problem of one file (empty when it is valid), and what it should know about a valid one.
pub fn problems(
    file: &Path,
    name: Option<&str>,
    token: Option<&Secret>,
) -> (Vec<String>, Vec<String>) {
    let found = match input::load(file, name) {
        Ok(found) => found,
        Err(e) => return (vec![e], Vec::new()),
    };
    let mut errors = found.manifest_errors.clone();
    let warnings = match found.compile(token) {
        Ok(config) => warnings(&config),
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    (errors, warnings)
}

/// A key source a client sets itself, read before a route's signed id cookie, lets a client pick
/// its own key, and with it its subset: signing the cookie does not stop that.
fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (r, route) in config.routes.iter().enumerate() {
        let Some(assign) = route.assign.as_ref().filter(|a| a.key.is_some()) else {
            continue;
        };
        let cookie = String::from_utf8_lossy(&assign.cookie);
        for (k, source) in route.keys.iter().enumerate() {
            let what = match source {
                KeySource::Cookie(name) if *name == assign.cookie => break,
                KeySource::Header(name) => format!("the header \"{name}\""),
                KeySource::Cookie(name) => {
                    format!("the cookie \"{}\"", String::from_utf8_lossy(name))
                }
                KeySource::Query(name) => {
                    format!("the query parameter \"{}\"", String::from_utf8_lossy(name))
                }
            };
            out.push(format!(
                "warning: routes[{r}].stickiness.keys[{k}]: {what} is read before the signed cookie \"{cookie}\": a client that sends it picks its own key, and its subset, which signing does not prevent; list it after the cookie, or let only a proxy in front of this one set it"
            ));
        }
    }
    out
}

pub fn run(files: &[PathBuf], name: Option<&str>, token: Option<&Secret>) -> Outcome {
    let mut human = String::new();
    let mut results = Vec::new();
    let mut code = OK;
    for file in files {
        let (errors, warnings) = problems(file, name, token);
        let shown = file.display();
        if errors.is_empty() {
            human.push_str(&format!("{shown}: ok\n"));
            for warning in &warnings {
                human.push_str(&format!("{shown}: {warning}\n"));
            }
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
            "warnings": warnings,
        }));
    }
    Outcome {
        human,
        json: json!({ "files": results }),
        code,
    }
}
