//! `sticky-canary`: see [`sticky_canary_cli::command_line`].

fn main() -> std::process::ExitCode {
    sticky_canary_cli::command_line::main()
}
