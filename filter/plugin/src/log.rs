//! Logging that costs nothing unless Envoy's wasm log level asks for it: callers pass a closure
//! that formats the message only when the level is enabled.

use proxy_wasm::types::LogLevel;

pub fn enabled(current: LogLevel, wanted: LogLevel) -> bool {
    wanted as u32 >= current as u32
}

pub fn log(level: LogLevel, message: &str) {
    // A lost log line is no reason to fail a request.
    let _ = proxy_wasm::hostcalls::log(level, message);
}
