//! `sticky-canary console`: a local web console for an Envoy fed by file-based ECDS. It shows
//! the routes' weights, previews a change as `diff` does, applies it (validated by the core,
//! written atomically, guarded by the file's ETag) and reports Envoy's verdict from the admin
//! counters; a live chart reads the filter's counters from `/stats`. The ECDS file is its only
//! state; the page and its script are compiled into the binary.

mod admin;
mod api;
pub mod ecds_file;
mod stats;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

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

/// Enough for a few tabs' one-second polls while one apply waits for Envoy's verdict.
const WORKERS: usize = 4;

/// Serves until the process is stopped. Prints the URL (the port may be 0: any free one).
pub fn serve(settings: Settings) -> Result<(), String> {
    ecds_file::read(&settings.ecds)?;
    let server = tiny_http::Server::http(("127.0.0.1", settings.port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", settings.port))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or("the console's socket has no port")?;
    let server = Arc::new(server);
    let console = Arc::new(api::Console::new(settings, port));
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Console: http://127.0.0.1:{port}/");
    let _ = stdout.flush();
    drop(stdout);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let server = Arc::clone(&server);
            let console = Arc::clone(&console);
            thread::spawn(move || loop {
                match server.recv() {
                    Ok(request) => console.handle(request),
                    Err(e) => eprintln!("console: {e}"),
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}
