//! The `sticky-canary` command line: validate, which, diff and simulate for sticky-canary
//! configs, and a console. `main.rs` only calls [`main`]; the end-to-end tests build the same
//! command under another name from it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::outcome::{Outcome, FAILED};
use crate::{console, diff, input, schedule, simulate, validate, which};
use clap::{Parser, Subcommand};
use sticky_canary_core::{Config, Secret, TOKEN_ENV};

#[derive(Parser)]
#[command(name = "sticky-canary", version, about)]
struct Cli {
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// Pick the WasmPlugin or TrafficExtension with this metadata.name in a multi-document file.
    #[arg(long, global = true)]
    name: Option<String>,
    /// The plugin VM's override token, so `requireToken` rules compile and match as in a VM that
    /// has it. Defaults to $STICKY_CANARY_TOKEN, which keeps it out of the process list.
    #[arg(long, global = true, value_name = "VALUE")]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate pluginConfigs or manifests exactly as the plugin does.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The subset one request gets, and why.
    Which {
        file: PathBuf,
        #[command(flatten)]
        request: which::Request,
        /// Decide at this time (RFC 3339, e.g. 2026-12-07T09:30:00Z) instead of now: a route's
        /// `schedule` has the weights of that time.
        #[arg(long, value_name = "TIME", value_parser = schedule::parse_at)]
        at: Option<u64>,
    },
    /// The share of hashed users that moves between subsets from OLD to NEW.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Exit 1 unless every moving user moves toward a newer subset (no rollback, no salt
        /// change, no reordering): a guard for a ramp pipeline.
        #[arg(long)]
        forward_only: bool,
    },
    /// How N users split across each route's subsets.
    #[command(group = clap::ArgGroup::new("population").required(true))]
    Simulate {
        file: PathBuf,
        /// This many random keys from a seeded generator (the same on every platform).
        #[arg(long, group = "population")]
        users: Option<u64>,
        /// The generator's seed (default 1).
        #[arg(long, conflicts_with = "keys")]
        seed: Option<u64>,
        /// Real keys, one a line.
        #[arg(long, group = "population", value_name = "FILE")]
        keys: Option<PathBuf>,
        /// Split at this time (RFC 3339) instead of now: a route's `schedule` has the weights
        /// of that time.
        #[arg(long, value_name = "TIME", value_parser = schedule::parse_at)]
        at: Option<u64>,
    },
    /// A local web console for an Envoy fed by file-based ECDS: weights with sliders, preview,
    /// apply with Envoy's verdict, a live chart from the admin stats, and `which`.
    Console {
        /// The ECDS file Envoy watches (a DiscoveryResponse holding the filter's resource).
        #[arg(long, value_name = "FILE")]
        ecds: PathBuf,
        /// Envoy's admin address.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9901")]
        admin: String,
        /// The console's port on 127.0.0.1 (0: any free port; the URL is printed).
        #[arg(long, default_value_t = 9902)]
        port: u16,
        /// Envoy's log file: a rejected push is reported with Envoy's own warning lines.
        #[arg(long, value_name = "FILE")]
        envoy_log: Option<PathBuf>,
    },
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.name.as_deref();
    let token = cli
        .token
        .or_else(|| std::env::var(TOKEN_ENV).ok())
        .and_then(|t| Secret::new(Some(t.as_bytes())));
    if let Command::Console {
        ecds,
        admin,
        port,
        envoy_log,
    } = cli.command
    {
        let settings = console::Settings {
            ecds,
            admin,
            port,
            envoy_log,
            token,
        };
        return match console::serve(settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(line) => {
                eprintln!("{line}");
                ExitCode::from(FAILED as u8)
            }
        };
    }
    let token = token.as_ref();
    let outcome = match cli.command {
        Command::Validate { files } => Ok(validate::run(&files, name, token)),
        Command::Which { file, request, at } => config(&file, name, token).map(|config| {
            let answer = which::which(&config, &request, at.unwrap_or_else(schedule::now_ms));
            Outcome::ok(answer.human(), answer.json())
        }),
        Command::Diff {
            old,
            new,
            forward_only,
        } => config(&old, name, token).and_then(|old| {
            let new = config(&new, name, token)?;
            let diff = diff::diff(&old, &new);
            let mut outcome = Outcome::ok(diff.human(), diff.json());
            if forward_only {
                let problems = diff.not_forward();
                for problem in &problems {
                    outcome
                        .human
                        .push_str(&format!("not forward-only: {problem}\n"));
                }
                if let Some(json) = outcome.json.as_object_mut() {
                    json.insert("not_forward".into(), problems.clone().into());
                }
                if !problems.is_empty() {
                    outcome.code = FAILED;
                }
            }
            Ok(outcome)
        }),
        Command::Simulate {
            file,
            users,
            seed,
            keys,
            at,
        } => config(&file, name, token).and_then(|config| {
            let (keys, seed) = match (users, keys) {
                (Some(0), _) => return Err("--users: must be at least 1".to_string()),
                (Some(n), _) => {
                    let seed = seed.unwrap_or(1);
                    (simulate::random_keys(n, seed), Some(seed))
                }
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
                    let keys = simulate::parse_keys(&text);
                    if keys.is_empty() {
                        return Err(format!("{}: no keys (one a line)", path.display()));
                    }
                    (keys, None)
                }
                (None, None) => return Err("give --users N or --keys FILE".to_string()),
            };
            let at = at.unwrap_or_else(schedule::now_ms);
            let simulation = simulate::simulate(&config, &keys, seed, at);
            Ok(Outcome::ok(simulation.human(), simulation.json()))
        }),
        Command::Console { .. } => Err("the console runs above".to_string()),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(line) => {
            eprintln!("{line}");
            return ExitCode::from(FAILED as u8);
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not the checker's failure.
    let _ = stdout.write_all(outcome.render(cli.json).as_bytes());
    ExitCode::from(u8::try_from(outcome.code).unwrap_or(1))
}

/// The compiled config of one file, or the one line saying why not.
fn config(file: &Path, name: Option<&str>, token: Option<&Secret>) -> Result<Config, String> {
    input::load(file, name)
        .and_then(|found| found.compile(token))
        .map_err(|e| format!("{}: {e}", file.display()))
}
