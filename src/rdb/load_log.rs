//! The notices Redis 7.0 writes while it loads an RDB (`rdbLoadRio`), wherever the RDB comes
//! from: an AOF base or preamble at start-up, or a master's snapshot on a replica.
//!
//! Redis says what it learns from the aux fields as it meets them, in file order: the
//! version that wrote the file, its age, the memory it used, whether it is an AOF base; and
//! when the file is done, how many keys it loaded. Operators (and the book's log appendix)
//! read these lines to tell which snapshot a server started from, so rtool writes the same
//! ones. The texts and levels were checked against a real redis-server 7.0.15 log.

use crate::log;

/// Counts for the closing "Done loading RDB" line.
#[derive(Debug, Default, Clone)]
pub struct LoadLog {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
}

/// C's `strtoll` on an aux value: leading blanks, a sign, digits; anything else ends the
/// number, and no digits at all is 0. Aux values are untrusted text, never an error.
fn c_strtoll(v: &[u8]) -> i64 {
    let mut i = v.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let neg = match v.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for &b in v[i..].iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    if neg { -n } else { n }
}

/// The line an aux field gives, if Redis logs one for it (`now_s`: the Unix time the age is
/// measured from).
pub fn aux_line(name: &[u8], value: &[u8], now_s: i64) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let text = String::from_utf8_lossy(value);
    match name.as_slice() {
        b"redis-ver" => Some(format!("Loading RDB produced by version {text}")),
        b"ctime" => Some(format!(
            "RDB age {} seconds",
            (now_s - c_strtoll(value)).max(0)
        )),
        b"used-mem" => Some(format!(
            "RDB memory usage when created {:.2} Mb",
            c_strtoll(value) as f64 / (1024.0 * 1024.0)
        )),
        b"aof-preamble" if c_strtoll(value) != 0 => Some("RDB has an AOF tail".into()),
        b"aof-base" if c_strtoll(value) != 0 => Some("RDB is base AOF".into()),
        _ => None,
    }
}

impl LoadLog {
    /// An aux field was read: log what Redis logs for it.
    pub fn aux(&self, name: &[u8], value: &[u8]) {
        let now_s = crate::cmd::engine::now_ms() / 1000;
        if let Some(line) = aux_line(name, value, now_s) {
            log::notice(&line);
        }
    }

    /// A collection with no elements was skipped; Redis names the first ten.
    pub fn empty_key(&mut self, key: &[u8]) {
        if self.empty_keys_skipped < 10 {
            log::warning(&format!(
                "rdbLoadObject skipping empty key: {}",
                String::from_utf8_lossy(key)
            ));
        }
        self.empty_keys_skipped += 1;
    }

    /// The closing line: a notice, or a warning when empty keys were skipped.
    pub fn done(&self) {
        if self.empty_keys_skipped == 0 {
            log::notice(&self.done_line());
        } else {
            log::warning(&self.done_line());
        }
    }

    pub fn done_line(&self) -> String {
        if self.empty_keys_skipped == 0 {
            format!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                self.keys_loaded, self.keys_expired
            )
        } else {
            format!(
                "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
                self.keys_loaded, self.keys_expired, self.empty_keys_skipped
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_lines_are_redis_texts() {
        let l = |n: &str, v: &str| aux_line(n.as_bytes(), v.as_bytes(), 1_000_100);
        assert_eq!(
            l("redis-ver", "7.0.15").as_deref(),
            Some("Loading RDB produced by version 7.0.15")
        );
        assert_eq!(
            l("ctime", "1000000").as_deref(),
            Some("RDB age 100 seconds")
        );
        // A file from the future is 0 seconds old, as in Redis.
        assert_eq!(l("ctime", "2000000").as_deref(), Some("RDB age 0 seconds"));
        assert_eq!(
            l("used-mem", "1394872").as_deref(),
            Some("RDB memory usage when created 1.33 Mb")
        );
        assert_eq!(l("aof-base", "1").as_deref(), Some("RDB is base AOF"));
        assert_eq!(l("aof-base", "0"), None);
        assert_eq!(
            l("AOF-PREAMBLE", "1").as_deref(),
            Some("RDB has an AOF tail")
        );
        assert_eq!(l("repl-id", "x"), None);
        assert_eq!(
            l("used-mem", "junk").as_deref(),
            Some("RDB memory usage when created 0.00 Mb")
        );
    }

    #[test]
    fn done_line_names_empty_keys_only_when_there_were_some() {
        let mut d = LoadLog {
            keys_loaded: 3,
            ..Default::default()
        };
        assert_eq!(
            d.done_line(),
            "Done loading RDB, keys loaded: 3, keys expired: 0."
        );
        d.empty_keys_skipped = 2;
        assert_eq!(
            d.done_line(),
            "Done loading RDB, keys loaded: 3, keys expired: 0, empty keys skipped: 2."
        );
    }
}
