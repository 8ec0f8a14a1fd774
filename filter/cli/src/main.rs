//! `sticky-canary`: validate, which, diff and simulate for sticky-canary configs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sticky_canary_cli::validate;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.name.as_deref();
    let outcome = match &cli.command {
        Command::Validate { files } => validate::run(files, name),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not the checker's failure.
    let _ = stdout.write_all(outcome.render(cli.json).as_bytes());
    ExitCode::from(u8::try_from(outcome.code).unwrap_or(1))
}
