//! Mints ids shaped like the real APIs' (`msg_01…`, `toolu_01…`, `chatcmpl-…`, `req_…`).
//!
//! Ids come from a counter run through a bijective mixer, starting at a random point, so they do
//! not repeat in practice and differ between runs; they are not secrets and not cryptographically
//! random.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

pub(super) struct Ids {
    state: AtomicU64,
}

impl Ids {
    pub(super) fn new() -> Ids {
        // RandomState is seeded from the OS once per process and varied per instance.
        Ids { state: AtomicU64::new(RandomState::new().build_hasher().finish()) }
    }

    /// `prefix` followed by `len` base-62 characters.
    pub(super) fn mint(&self, prefix: &str, len: usize) -> String {
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        let mut word = 0;
        for i in 0..len {
            // 10 characters per 64-bit draw: 62^10 < 2^64.
            if i % 10 == 0 {
                word = self.draw();
            }
            id.push(char::from(ALPHABET[(word % 62) as usize]));
            word /= 62;
        }
        id
    }

    /// `len` lower-case hex digits.
    pub(super) fn hex(&self, len: usize) -> String {
        let mut id = String::with_capacity(len);
        while id.len() < len {
            let word = self.draw();
            id.push_str(&format!("{word:016x}"));
        }
        id.truncate(len);
        id
    }

    /// A version-4-shaped UUID, e.g. `3f2b1c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d`.
    pub(super) fn uuid(&self) -> String {
        let h = self.hex(32);
        format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..])
    }

    /// SplitMix64: a bijection of the counter, so draws never repeat within 2^64 calls.
    fn draw(&self) -> u64 {
        let mut z = self.state.fetch_add(GOLDEN_GAMMA, Ordering::Relaxed).wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_length_and_do_not_repeat() {
        let ids = Ids::new();
        let a = ids.mint("msg_01", 22);
        let b = ids.mint("msg_01", 22);
        assert!(
            a.starts_with("msg_01") && a.len() == 28 && a[6..].bytes().all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(a, b);
        let hex = ids.hex(20);
        assert!(hex.len() == 20 && hex.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let uuid = ids.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
    }
}
