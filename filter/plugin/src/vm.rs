//! State of the whole VM, shared by every root and HTTP context it runs.

use std::cell::Cell;

use crate::abi::{self, LogLevel};

/// Whether the host offers the `clear_route_cache` foreign function (Envoy PR #36671 proposed it
/// in place of re-matching the route by itself whenever a filter changes a request header).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RouteCacheFunction {
    Unknown,
    Available,
    Missing,
}

pub struct VmState {
    rng: Cell<u64>,
    log_level: Cell<LogLevel>,
    route_cache_function: Cell<RouteCacheFunction>,
}

impl VmState {
    pub fn new() -> Self {
        let mut seed = [0u8; 8];
        // Without host randomness the fallback still splits by weight, only predictably.
        if getrandom::fill(&mut seed).is_err() {
            seed = 0x9e37_79b9_7f4a_7c15u64.to_le_bytes();
        }
        VmState {
            rng: Cell::new(u64::from_le_bytes(seed) | 1),
            log_level: Cell::new(LogLevel::Info),
            route_cache_function: Cell::new(RouteCacheFunction::Unknown),
        }
    }

    /// xorshift64*: the `random` fallback needs a fair split, not secrecy.
    pub fn next_random(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Asks the host to re-match the route after the routing header changed, so routing follows
    /// the filter on hosts that stop doing it by themselves. "Not found" is remembered: a host
    /// without the function pays for one call per VM.
    pub fn clear_route_cache(&self) {
        if self.route_cache_function.get() == RouteCacheFunction::Missing {
            return;
        }
        let known = match abi::call_foreign_function("clear_route_cache") {
            Err(abi::STATUS_NOT_FOUND) => RouteCacheFunction::Missing,
            _ => RouteCacheFunction::Available,
        };
        self.route_cache_function.set(known);
    }

    pub fn log_level(&self) -> LogLevel {
        self.log_level.get()
    }

    pub fn refresh_log_level(&self) {
        if let Some(level) = abi::log_level() {
            self.log_level.set(level);
        }
    }
}
