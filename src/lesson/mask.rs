//! Making a transcript the same on every run, so the book can include it and a test can
//! compare it.
//!
//! What varies between two runs of a lesson, and how it is shown instead:
//! - **ports**: every node listens on a free port picked at run time, but the transcript
//!   shows the name the seed notes used (`6379`); any other loopback port (a client's
//!   ephemeral port) becomes `<port>`;
//! - **replication IDs** (40 random hex digits): `<replid-A>`, `<replid-B>`... in order of
//!   first appearance, so the reader still sees which IDs are equal; the all-zero ID is kept;
//! - **times and pids**: seconds since the last I/O, lag, pids, RDB ages, and the aux fields
//!   of an RDB that hold a clock (`ctime`, `used-mem`) and its checksum.
//!
//! Offsets and byte counts are *not* masked: they are the point of most lessons, and they are
//! deterministic as long as nothing writes behind the lesson's back (the runner sets
//! `repl-ping-replica-period` high for that reason; see `lessons/README.md`).

use regex::{Captures, Regex};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The replacements of one run.
#[derive(Default)]
pub struct Masker {
    /// Real port -> the learner's name for it.
    ports: HashMap<u16, String>,
    /// The names themselves (`127.0.0.1:6379>` in a prompt is already masked).
    names: std::collections::HashSet<String>,
    /// Replication ID -> its label.
    ids: HashMap<String, String>,
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// From now on, `port` is shown as `name`.
    pub fn name_port(&mut self, port: u16, name: &str) {
        self.ports.insert(port, name.to_string());
        self.names.insert(name.to_string());
    }

    /// The label of a replication ID (made on first sight).
    fn id_label(&mut self, id: &str) -> String {
        let n = self.ids.len();
        self.ids
            .entry(id.to_string())
            .or_insert_with(|| {
                let letter = (b'A' + (n % 26) as u8) as char;
                let round = n / 26;
                if round == 0 {
                    format!("<replid-{letter}>")
                } else {
                    format!("<replid-{letter}{round}>")
                }
            })
            .clone()
    }

    /// Only the node ports -> names part of [`Masker::mask`], without labelling any ID: for
    /// matching a lesson's text (`127.0.0.1:6378`) against lines that are not all shown.
    pub fn ports_only(&self, text: &str) -> String {
        static LOOP: OnceLock<Regex> = OnceLock::new();
        re(&LOOP, r"127\.0\.0\.1:(\d+)")
            .replace_all(text, |c: &Captures| {
                match c[1].parse::<u16>().ok().and_then(|p| self.ports.get(&p)) {
                    Some(name) => format!("127.0.0.1:{name}"),
                    None => c[0].to_string(),
                }
            })
            .into_owned()
    }

    /// Masks one piece of output (any number of lines).
    pub fn mask(&mut self, text: &str) -> String {
        static EOF: OnceLock<Regex> = OnceLock::new();
        static ID: OnceLock<Regex> = OnceLock::new();
        static LOOP: OnceLock<Regex> = OnceLock::new();
        static NUM: OnceLock<Regex> = OnceLock::new();
        static SECS: OnceLock<Regex> = OnceLock::new();
        static AUX: OnceLock<Regex> = OnceLock::new();
        static SUM: OnceLock<Regex> = OnceLock::new();
        // The diskless transfer's end mark is random hex too, but it is not an ID.
        let t = re(&EOF, r"\$EOF:[0-9a-f]{40}").replace_all(text, "$$EOF:<mark>");
        let t = re(&ID, r"\b[0-9a-f]{40}\b").replace_all(&t, |c: &Captures| {
            let id = &c[0];
            if id.bytes().all(|b| b == b'0') {
                id.to_string()
            } else {
                self.id_label(id)
            }
        });
        let t = re(&LOOP, r"127\.0\.0\.1:(\d+)").replace_all(&t, |c: &Captures| {
            let port = c[1].parse::<u16>().unwrap_or(0);
            match self.ports.get(&port) {
                Some(name) => format!("127.0.0.1:{name}"),
                // A port a lesson wrote itself (seed 002's typo, 637) stays; a client's
                // ephemeral port varies.
                None if port < 1024 || self.names.contains(&c[1]) => c[0].to_string(),
                None => "127.0.0.1:<port>".to_string(),
            }
        });
        let t = re(&NUM, r"\b\d{4,5}\b").replace_all(&t, |c: &Captures| {
            c[0].parse::<u16>()
                .ok()
                .and_then(|p| self.ports.get(&p).cloned())
                .unwrap_or_else(|| c[0].to_string())
        });
        let t = re(
            &SECS,
            r"(master_last_io_seconds_ago:|master_link_down_since_seconds:|lag=|pid[ =]|RDB age |pid: )(-?\d+)",
        )
        .replace_all(&t, |c: &Captures| {
            let v = &c[2];
            // -1 means "never" and is the same on every run: keep it.
            if v == "-1" {
                c[0].to_string()
            } else {
                format!("{}<{}>", &c[1], if c[1].starts_with("pid") { "pid" } else { "s" })
            }
        });
        let t =
            re(&AUX, r#"(aux "?(?:ctime|used-mem)"? = )"?-?\d+"?"#).replace_all(&t, "$1<varies>");
        let t = re(&SUM, r"checksum [0-9a-f]{16} ").replace_all(&t, "checksum <crc64> ");
        t.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_ids_and_times() {
        let mut m = Masker::new();
        m.name_port(41234, "6379");
        let id = "a03ee62ed021caf58b5f6b86c1f4f1462b19b411";
        let zero = "0".repeat(40);
        let out = m.mask(&format!(
            "master_port:41234\nslave0:ip=127.0.0.1,port=41234,state=online,offset=630,lag=1\n\
             master_replid:{id}\nmaster_replid2:{zero}\nfrom 127.0.0.1:50122\n\
             master_last_io_seconds_ago:3\nmaster_link_down_since_seconds:-1\n\
             Full resync from master: {id}:0\nstarted by pid 14218\n"
        ));
        assert_eq!(
            out,
            format!(
                "master_port:6379\nslave0:ip=127.0.0.1,port=6379,state=online,offset=630,lag=<s>\n\
                 master_replid:<replid-A>\nmaster_replid2:{zero}\nfrom 127.0.0.1:<port>\n\
                 master_last_io_seconds_ago:<s>\nmaster_link_down_since_seconds:-1\n\
                 Full resync from master: <replid-A>:0\nstarted by pid <pid>\n"
            )
        );
        let other = "b".repeat(40);
        assert_eq!(m.mask(&other), "<replid-B>");
        assert_eq!(m.mask(id), "<replid-A>");
    }
}
