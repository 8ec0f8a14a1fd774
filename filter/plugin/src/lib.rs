//! sticky-canary as a proxy-wasm HTTP filter. This crate is only glue: it reads the request
//! headers the core asks for, writes the core's decision into the routing header, and counts it.
//! Host calls go through `proxy_wasm::hostcalls` directly, whose errors are values, because the
//! SDK's context helpers unwrap them and a panic would kill the VM for every request.

mod counters;
mod host;
mod http;
mod log;
mod root;
mod vm;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_context_id| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::StickyCanaryRoot::new())
    });
}}
