//! The hashing contract. It is frozen: every sidecar running any version of this module must put
//! a given user in the same bucket, so changing anything here is a breaking change, caught by
//! the golden vectors in `tests/data/murmur3-contract.json`.
//!
//! ```text
//! h      = murmur3_x86_32(utf8(salt) + ":" + key_bytes, seed 0)
//! bucket = h % 10000
//! ```
//!
//! Buckets are then laid out newest subset first (see [`crate::layout::BucketLayout`]). A route
//! may opt into another tool's bucketing instead (Unleash's, flagd's), which this contract does
//! not cover.

/// Size of the bucket space: weights are percents with two decimals, so one bucket is 0.01 %.
pub const BUCKETS: u32 = 10_000;

/// The bucket of a stickiness key under a salt: the one function every tool must agree on.
pub fn bucket(salt: &[u8], key: &[u8]) -> u16 {
    let mut hasher = Murmur3::new(0);
    hasher.write(salt);
    hasher.write(b":");
    hasher.write(key);
    // The remainder is < 10_000, which always fits in u16.
    (hasher.finish() % BUCKETS) as u16
}

/// Unleash's gradual-rollout value of a key, 1 to 100: `murmur3_x86_32(groupId + ":" + key,
/// seed 0) % 100 + 1`. A rollout of p % takes the keys whose value is at most p.
pub fn unleash_normalized(group_id: &[u8], key: &[u8]) -> u8 {
    let mut hasher = Murmur3::new(0);
    hasher.write(group_id);
    hasher.write(b":");
    hasher.write(key);
    // The remainder is < 100, so the value fits in u8.
    (hasher.finish() % 100) as u8 + 1
}

/// flagd's `fractional` bucket of a key with no bucketing expression, on a total weight of
/// [`BUCKETS`]: `murmur3_x86_32(flagKey + key, seed 0) * 10000 >> 32`, flagKey and key
/// concatenated with nothing between them (flagd's `core/pkg/evaluator/fractional.go`, integer
/// arithmetic since flagd #1909). For a flag whose weights total `T`, flagd's own bucket is
/// `floor(h * T / 2^32)`; when `T` divides 10000 that is `bucket * T / 10000` rounded down.
pub fn flagd_bucket(flag_key: &[u8], key: &[u8]) -> u16 {
    let mut hasher = Murmur3::new(0);
    hasher.write(flag_key);
    hasher.write(key);
    // h * 10000 < 2^32 * 10000, so shifted down it is < 10000 and fits in u16.
    ((u64::from(hasher.finish()) * u64::from(BUCKETS)) >> 32) as u16
}

/// MurmurHash3 x86 32-bit, fed in pieces so `salt:key` is hashed without building it.
#[derive(Clone, Debug)]
pub struct Murmur3 {
    state: u32,
    total_len: u32,
    tail: [u8; 4],
    tail_len: usize,
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

impl Murmur3 {
    pub fn new(seed: u32) -> Self {
        Murmur3 {
            state: seed,
            total_len: 0,
            tail: [0; 4],
            tail_len: 0,
        }
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        // The reference algorithm counts length modulo 2^32 too.
        self.total_len = self.total_len.wrapping_add(bytes.len() as u32);
        if self.tail_len > 0 {
            while self.tail_len < 4 {
                let Some((&first, rest)) = bytes.split_first() else {
                    return;
                };
                self.push_tail(first);
                bytes = rest;
            }
            self.mix_block(u32::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut blocks = bytes.chunks_exact(4);
        for block in &mut blocks {
            let mut word = [0u8; 4];
            word.copy_from_slice(block);
            self.mix_block(u32::from_le_bytes(word));
        }
        for &byte in blocks.remainder() {
            self.push_tail(byte);
        }
    }

    /// Keeps a byte of an unfinished block. Callers only push while fewer than 4 are held.
    fn push_tail(&mut self, byte: u8) {
        if let Some(slot) = self.tail.get_mut(self.tail_len) {
            *slot = byte;
            self.tail_len += 1;
        }
    }

    pub fn finish(&self) -> u32 {
        let mut h = self.state;
        if self.tail_len > 0 {
            let mut k: u32 = 0;
            for (i, &byte) in self.tail.iter().take(self.tail_len).enumerate() {
                k |= u32::from(byte) << (8 * i);
            }
            h ^= scramble(k);
        }
        h ^= self.total_len;
        fmix32(h)
    }

    fn mix_block(&mut self, block: u32) {
        self.state ^= scramble(block);
        self.state = self
            .state
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
}

/// One-shot MurmurHash3 x86 32-bit.
pub fn murmur3_x86_32(bytes: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(bytes);
    hasher.finish()
}

fn scramble(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_feeding_equals_one_shot_for_every_split() {
        let input = b"service-a:user-0123456789abcdef";
        let whole = murmur3_x86_32(input, 0);
        for first in 0..input.len() {
            for second in first..input.len() {
                let mut h = Murmur3::new(0);
                h.write(&input[..first]);
                h.write(&input[first..second]);
                h.write(&input[second..]);
                assert_eq!(h.finish(), whole, "split at {first}/{second}");
            }
        }
    }

    #[test]
    fn bucket_hashes_salt_colon_key() {
        assert_eq!(
            u32::from(bucket(b"service-a", b"alice")),
            murmur3_x86_32(b"service-a:alice", 0) % BUCKETS
        );
    }
}
