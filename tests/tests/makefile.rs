//! The Makefile's front door: `make help` lists every phony target with its one-line `## `
//! description, so a new target without one fails here instead of going missing from the list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use sticky_canary_e2e::repo_root;

/// The targets named in `.PHONY` (continuation lines included).
fn phony_targets(makefile: &str) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    let mut lines = makefile.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(".PHONY:") else {
            continue;
        };
        let mut current = rest.to_string();
        loop {
            let continued = current.trim_end().ends_with('\\');
            let names = current.trim_end().trim_end_matches('\\');
            targets.extend(names.split_whitespace().map(str::to_string));
            if !continued {
                break;
            }
            current = lines.next().unwrap().to_string();
        }
    }
    targets
}

#[test]
fn make_help_lists_every_phony_target_with_a_description() {
    let makefile = fs::read_to_string(repo_root().join("Makefile")).unwrap();
    let phony = phony_targets(&makefile);
    assert!(
        phony.contains("check") && phony.contains("test"),
        "{phony:?}"
    );

    let out = Command::new("make")
        .args(["-s", "--no-print-directory", "help"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (target, description) = line.trim_start().split_once(' ').unwrap();
            assert!(
                !description.trim().is_empty(),
                "{target} has no description"
            );
            target.to_string()
        })
        .collect();
    assert_eq!(listed, phony, "left: `make help`, right: .PHONY");
}
