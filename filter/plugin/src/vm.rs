//! State of the whole VM that is not tied to one root or stream.

use std::cell::Cell;

use crate::host::Host;

/// Gauge: the module's linear memory in bytes, as of the last tick of the VM that set it.
pub const MEMORY_NAME: &str = "sticky_canary.vm_memory_bytes";

pub struct VmState {
    rng: Cell<u64>,
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
}

impl VmState {
    /// 128 bits for a new visitor id, from the host's random source (WASI `random_get`, in
    /// Envoy BoringSSL's `RAND_bytes`): ids
    /// must not be predictable from the ones handed out before, which the fallback's generator
    /// would be.
    pub fn new_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        if getrandom::fill(&mut id).is_err() {
            // A host without randomness still gets distinct ids, only guessable ones.
            for chunk in id.chunks_mut(4) {
                chunk.copy_from_slice(&self.next_random().to_le_bytes());
            }
        }
        id
    }
}

/// Follows the host's wasm log level (`/logging?wasm=debug` in Envoy). Read on configure and on
/// each tick, never per request: a request only compares against `log::max_level()`.
pub fn refresh_log_level(host: &impl Host) {
    if let Some(level) = host.log_level() {
        log::set_max_level(level);
    }
}

impl Default for VmState {
    fn default() -> Self {
        VmState::new()
    }
}
