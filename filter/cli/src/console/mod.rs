//! `sticky-canary console`: a local web console for an Envoy fed by file-based ECDS. It shows
//! the routes' weights, previews a change as `diff` does, applies it (validated by the core,
//! written atomically, guarded by the file's ETag) and reports Envoy's verdict from the admin
//! counters; a live chart reads the filter's counters from `/stats`. The ECDS file is its only
//! state; the page and its script are compiled into the binary.

mod admin;
mod api;
pub mod ecds_file;
mod envoy_log;
mod http_server;
mod stats;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

pub use admin::Admin;

/// What the console serves and where.
pub struct Settings {
    pub ecds: PathBuf,
    pub admin: String,
    pub port: u16,
    /// Envoy's log, for the reason of a rejected push.
    pub envoy_log: Option<PathBuf>,
    pub token: Option<sticky_canary_core::Secret>,
}

/// Serves until the process is stopped. Prints the URL (the port may be 0: any free one).
pub fn serve(settings: Settings) -> Result<(), String> {
    ecds_file::read(&settings.ecds)?;
    let listener = TcpListener::bind(("127.0.0.1", settings.port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", settings.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the console's socket has no port: {e}"))?
        .port();
    let console = Arc::new(api::Console::new(settings, port));
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Console: http://127.0.0.1:{port}/");
    let _ = stdout.flush();
    drop(stdout);
    http_server::serve(listener, console);
    Ok(())
}
