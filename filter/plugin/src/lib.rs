//! sticky-canary as a proxy-wasm HTTP filter. This crate is only glue: it reads the request
//! headers the core asks for, writes the core's decision into the routing header, and counts it.
//! It speaks the proxy-wasm ABI itself (`abi`, `exports`) instead of through the SDK, so that
//! Envoy calls into the module only where the filter has work to do; every host error is a
//! value, since a panic would kill the VM for every request.

mod abi;
mod counters;
mod exports;
mod filter;
mod host;
mod http;
mod log;
mod root;
mod vm;
