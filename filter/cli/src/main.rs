//! `sticky-canary`: validate, which, diff and simulate for sticky-canary configs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sticky_canary_cli::outcome::{Outcome, FAILED};
use sticky_canary_cli::{diff, input, validate, which};
use sticky_canary_core::Config;

#[derive(Parser)]
#[command(name = "sticky-canary", version, about)]
struct Cli {
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// Pick the WasmPlugin or TrafficExtension with this metadata.name in a multi-document file.
    #[arg(long, global = true)]
    name: Option<String>,
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
        /// The stickiness key (user id), put where the matched route reads its first key.
        #[arg(long)]
        user: Option<String>,
        #[arg(long = "header", value_name = "NAME=VALUE", value_parser = which::key_value)]
        headers: Vec<(String, String)>,
        #[arg(long = "cookie", value_name = "NAME=VALUE", value_parser = which::key_value)]
        cookies: Vec<(String, String)>,
        #[arg(long = "query", value_name = "NAME=VALUE", value_parser = which::key_value)]
        query: Vec<(String, String)>,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        path: Option<String>,
        #[arg(long)]
        user_agent: Option<String>,
    },
    /// The share of hashed users that moves between subsets from OLD to NEW.
    Diff { old: PathBuf, new: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.name.as_deref();
    let outcome = match cli.command {
        Command::Validate { files } => Ok(validate::run(&files, name)),
        Command::Which {
            file,
            user,
            headers,
            cookies,
            query,
            host,
            path,
            user_agent,
        } => {
            let request = which::Request {
                user,
                headers,
                cookies,
                query,
                host,
                path,
                user_agent,
            };
            config(&file, name).map(|mut config| {
                let answer = which::which(&mut config, &request);
                Outcome::ok(answer.human(), answer.json())
            })
        }
        Command::Diff { old, new } => config(&old, name).and_then(|old| {
            let new = config(&new, name)?;
            let diff = diff::diff(&old, &new);
            Ok(Outcome::ok(diff.human(), diff.json()))
        }),
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
fn config(file: &Path, name: Option<&str>) -> Result<Config, String> {
    input::load(file, name)
        .and_then(|found| found.compile())
        .map_err(|e| format!("{}: {e}", file.display()))
}
