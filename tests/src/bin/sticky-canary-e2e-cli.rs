//! The `sticky-canary` command, built with this crate so its tests get its path from Cargo
//! (`CARGO_BIN_EXE_sticky-canary-e2e-cli`): the demo the tests run starts the console from it.

fn main() -> std::process::ExitCode {
    sticky_canary_cli::command_line::main()
}
