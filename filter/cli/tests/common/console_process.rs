//! `sticky-canary console` as a child process on a port of its own: started with `--port 0`, its
//! port read from the URL line it prints first, killed on drop. Shared by the CLI's tests and the
//! end-to-end crate (tests/src/lib.rs includes this file), which run it against a stand-in admin
//! and against a real Envoy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct ConsoleProcess {
    child: Child,
    port: u16,
}

impl ConsoleProcess {
    /// Runs `command` (the CLI binary, its arguments after `console --port 0` and its
    /// environment) and waits for the console's URL line.
    pub fn start(mut command: Command) -> ConsoleProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("Console: http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no URL line: {line:?}"))
            .parse()
            .unwrap();
        ConsoleProcess { child, port }
    }

    /// `binary console --port 0` on the ECDS file `ecds`, asking Envoy's admin at `admin`
    /// (`127.0.0.1:PORT`) and reading its log `envoy_log`: the command [`ConsoleProcess::start`]
    /// runs, for the caller to add environment to.
    pub fn command(binary: &str, ecds: &Path, admin: &str, envoy_log: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .args(["console", "--port", "0", "--ecds"])
            .arg(ecds)
            .args(["--admin", admin, "--envoy-log"])
            .arg(envoy_log);
        command
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the console is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
