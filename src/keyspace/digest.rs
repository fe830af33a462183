//! `DEBUG DIGEST`: a fingerprint of the whole dataset, computed with Redis's own algorithm
//! (`computeDatasetDigest` in `debug.c`), so rtool's digest can be compared with a real
//! Redis's: the same data gives the same 40 hex characters on both.
//!
//! Each key's digest mixes its name, its type and its value; elements of unordered types
//! (sets, hashes, sorted sets) are XORed in so their order does not matter, ordered ones
//! (strings, lists, streams) are mixed in sequence. The per-key digests are XORed together,
//! so the order of keys does not matter either.

use super::{Db, Keyspace, Value};
use super::{HashValue, SetValue};

type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// `xorDigest`: digest ^= SHA1(data).
fn xor(digest: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    for (d, h) in digest.iter_mut().zip(h) {
        *d ^= h;
    }
}

/// `mixDigest`: digest = SHA1(digest ^ SHA1(data)).
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(digest);
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Redis's type numbers (`OBJ_STRING` ...), which go into the digest.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// `xorObjectDigest` for one value (plus the expire marker).
fn value_digest(digest: &mut Digest, v: &Value, has_expire: bool) {
    mix(digest, &type_code(v).to_be_bytes());
    match v {
        Value::Str(s) => mix(digest, &s.bytes),
        Value::List(l) => {
            for e in l.iter() {
                mix(digest, e);
            }
        }
        Value::Set(s) => match s {
            SetValue::Intset(v) => {
                for n in v {
                    xor(digest, n.to_string().as_bytes());
                }
            }
            SetValue::Table(t) => {
                for (k, _) in t.iter() {
                    xor(digest, k);
                }
            }
        },
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, m);
                mix(&mut e, crate::resp::reply::fmt_double(score).as_bytes());
                xor(digest, &e);
            }
        }
        Value::Hash(h) => {
            let mut each = |f: &[u8], val: &[u8]| {
                let mut e = [0u8; 20];
                mix(&mut e, f);
                mix(&mut e, val);
                xor(digest, &e);
            };
            match h {
                HashValue::Listpack(v) => v.iter().for_each(|(f, val)| each(f, val)),
                HashValue::Table(t) => t.iter().for_each(|(f, val)| each(f, val)),
            }
        }
        Value::Stream(s) => s.digest(&mut |data| mix(digest, data)),
    }
    if has_expire {
        xor(digest, b"!!expire!!");
    }
}

/// `DEBUG DIGEST`: 40 hex characters, all zeros for an empty dataset.
pub fn dataset(ks: &Keyspace) -> String {
    let mut fin = [0u8; 20];
    for (j, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut fin, &(j as u32).to_be_bytes());
        for (k, v) in db.dict.iter() {
            let mut d = [0u8; 20];
            mix(&mut d, k);
            value_digest(&mut d, v, db.expires.contains_key(k));
            xor(&mut fin, &d);
        }
    }
    hex(&fin)
}

/// `DEBUG DIGEST-VALUE key`: the digest of one value (zeros if the key does not exist),
/// including the expire marker when the key has a TTL, as Redis's `xorObjectDigest` does.
pub fn key(db: &Db, key: &[u8]) -> String {
    let mut d = [0u8; 20];
    if let Some(v) = db.dict.get(key) {
        value_digest(&mut d, v, db.expires.contains_key(key));
    }
    hex(&d)
}
