//! sticky-canary as a proxy-wasm HTTP filter. This crate is only glue: it reads a request's
//! headers in one host call, executes the core's plan for it (`request`), and counts it.
//! The host sits behind the [`host::Host`] trait, so the VM-wide state (roots, streams,
//! configurations) is tested natively against a fake host (`tests/`). In the module it speaks
//! the proxy-wasm ABI itself (`abi`, `exports`) instead of through the SDK, so that Envoy calls
//! into the module only where the filter has work to do; every host error is a value, since a
//! panic would kill the VM for every request.

#[cfg(target_family = "wasm")]
mod abi;
mod configuration;
mod counters;
pub mod dispatch;
mod entropy;
#[cfg(target_family = "wasm")]
mod envoy_host;
#[cfg(target_family = "wasm")]
mod exports;
mod guard;
mod header_map;
mod health;
pub mod host;
mod request;
mod response;
mod roots;
mod schedule;
mod streams;

pub use counters::{
    assigned_name, decided_name, lane_dropped_name, mirrored_name, NOT_REACHED_NAME,
    UNCONFIGURED_NAME, UNROUTED_NAME,
};
pub use dispatch::{Filter, MEMORY_NAME, TICK};
pub use guard::{shared_key, state_name, tripped_name};
pub use health::{grpc_responses_name, responses_name};
pub use roots::{GONE_AFTER_TICKS, MAX_ROOTS};
pub use schedule::{elapsed_name, hold_key, weight_name};
pub use streams::{MAX_AWAITING, OPENING_SLOTS, RESPONSE_WAIT};
