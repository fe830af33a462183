//! SipHash-1-2, the keyed hash Redis gives its dictionaries (`siphash.c`, used by
//! `dictGenHashFunction` with a seed chosen at start-up).
//!
//! Keys are chosen by clients, and a chained hash table degrades into a list when many keys
//! land in one bucket; a keyed hash whose key the client never learns makes that impossible
//! to arrange on purpose (HashDoS). SipHash-1-2 is the variant Redis settled on: one
//! compression round per 8-byte word and two finalization rounds, against std's
//! SipHash-1-3. Written here, over whole little-endian words, because the keyspace hashes
//! one key per lookup and std's streaming `Hasher` spent a visible share of a SET buffering
//! bytes.
//!
//! The algorithm is Aumasson and Bernstein's (2012); [`sip`] takes the round counts as
//! parameters so the tests can check the code against std's SipHash-2-4.

/// A 128-bit SipHash key.
#[derive(Debug, Clone, Copy)]
pub struct SipKey {
    pub k0: u64,
    pub k1: u64,
}

impl SipKey {
    /// A random key for this process (Redis: `dict_hash_function_seed`, 16 random bytes).
    pub fn random() -> SipKey {
        SipKey {
            k0: rand::random(),
            k1: rand::random(),
        }
    }

    /// SipHash-1-2 of `data`.
    #[inline]
    pub fn hash(&self, data: &[u8]) -> u64 {
        sip::<1, 2>(self, data)
    }
}

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-C-D of `data` under `key`.
#[inline]
pub fn sip<const C: usize, const D: usize>(key: &SipKey, data: &[u8]) -> u64 {
    let mut v = [
        key.k0 ^ 0x736f_6d65_7073_6575,
        key.k1 ^ 0x646f_7261_6e64_6f6d,
        key.k0 ^ 0x6c79_6765_6e65_7261,
        key.k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let m = u64::from_le_bytes(w.try_into().expect("chunks of 8"));
        v[3] ^= m;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= m;
    }
    // The last word: the remaining bytes, and the length's low byte on top.
    let tail = words.remainder();
    let mut last = (data.len() as u64 & 0xff) << 56;
    for (i, &b) in tail.iter().enumerate() {
        last |= (b as u64) << (8 * i);
    }
    v[3] ^= last;
    for _ in 0..C {
        round(&mut v);
    }
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..D {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hasher;

    /// The paper's test vector: key 00..0f, message 00..0e (15 bytes), SipHash-2-4.
    #[test]
    fn paper_vector() {
        let key = SipKey {
            k0: u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            k1: u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        };
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(sip::<2, 4>(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    /// Same as std's SipHash-2-4 for every length from 0 to 64 and a few keys: the word
    /// loop, the tail and the length byte are right, so the 1-2 variant (same code, other
    /// round counts) is too.
    #[test]
    #[allow(deprecated)]
    fn equals_std_siphash24() {
        for seed in 0..4u64 {
            let key = SipKey {
                k0: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                k1: !seed,
            };
            let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(31) ^ seed as u8).collect();
            for len in 0..=64 {
                let mut h = std::hash::SipHasher::new_with_keys(key.k0, key.k1);
                h.write(&data[..len]);
                assert_eq!(sip::<2, 4>(&key, &data[..len]), h.finish(), "len {len}");
            }
        }
    }

    #[test]
    fn different_keys_give_different_hashes() {
        let a = SipKey { k0: 1, k1: 2 };
        let b = SipKey { k0: 1, k1: 3 };
        assert_ne!(a.hash(b"key:1"), b.hash(b"key:1"));
        assert_ne!(a.hash(b"key:1"), a.hash(b"key:2"));
    }
}
