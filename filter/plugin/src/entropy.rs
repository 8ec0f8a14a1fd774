//! The VM's randomness: a fast generator for the `random` fallback, and host randomness for ids.

use std::cell::Cell;

use crate::host::Host;

pub struct Entropy {
    rng: Cell<u64>,
}

impl Entropy {
    /// Seeded from the host's random source; without one the fallback still splits by weight,
    /// only predictably.
    pub fn new(host: &impl Host) -> Self {
        let mut seed = [0u8; 8];
        if !host.random_bytes(&mut seed) {
            seed = 0x9e37_79b9_7f4a_7c15u64.to_le_bytes();
        }
        Entropy {
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

    /// 128 bits for a new visitor id from the host's random source (WASI `random_get`, in Envoy
    /// BoringSSL's `RAND_bytes`): ids must not be predictable from the ones handed out before,
    /// which the fallback's generator would be.
    pub fn new_id(&self, host: &impl Host) -> [u8; 16] {
        let mut id = [0u8; 16];
        if !host.random_bytes(&mut id) {
            // A host without randomness still gets distinct ids, only guessable ones.
            for chunk in id.chunks_mut(4) {
                chunk.copy_from_slice(&self.next_random().to_le_bytes());
            }
        }
        id
    }
}
