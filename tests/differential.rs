//! Differential tests: the same command scripts go to a real Redis 7.0 and to `rtool serve`,
//! and the replies must be the same bytes.
//!
//! Scripts live in `tests/diff/*.redis`, one command per line, split like a `redis.conf`
//! line (double quotes with `\n`/`\xHH` escapes, single quotes). Directives:
//!
//! | directive | meaning |
//! | --- | --- |
//! | `!sort` | compare the next reply after sorting its top-level elements (unordered types) |
//! | `!ignore` | send the next command but do not compare its reply |
//! | `!conn N` | switch to connection N (opened on first use) |
//! | `!send` | send the next command without reading its reply (a client that blocks) |
//! | `!recv` | read one pending reply on the current connection and compare |
//! | `!wait-ms N` | let N milliseconds pass (expiry) |
//! | `!raw <escaped bytes>` | send raw bytes (protocol errors), compare all until close |
//! | `!server-args --name value` | start both servers with these options |
//!
//! Where rtool deliberately differs from Redis, the script says so next to an `!ignore`; the
//! list of such places is `DELIBERATE` below, so the differences are stated in one place.

mod util;

use rtool::resp::split::split_args;
use std::collections::HashMap;
use util::{Conn, Server, have_redis};

/// Commands whose replies rtool deliberately does not reproduce, and why.
pub const DELIBERATE: &[(&str, &str)] = &[
    (
        "HELLO",
        "the reply carries the client id and the server version string, which differ per server",
    ),
    (
        "CLIENT ID",
        "client ids depend on how many connections the server has seen",
    ),
    (
        "COMMAND DOCS",
        "rtool answers with empty docs: enough for redis-cli, not Redis's full documentation",
    ),
];

struct Side {
    server: Server,
    conns: HashMap<u32, Conn>,
}

impl Side {
    fn conn(&mut self, n: u32) -> &mut Conn {
        let port = self.server.port;
        self.conns.entry(n).or_insert_with(|| Conn::connect(port))
    }
}

/// Split a top-level aggregate reply into its elements' bytes (for `!sort`).
fn elements(reply: &[u8]) -> Vec<Vec<u8>> {
    let Some(nl) = reply.iter().position(|&c| c == b'\n') else {
        return vec![reply.to_vec()];
    };
    if !matches!(reply[0], b'*' | b'~' | b'%') {
        return vec![reply.to_vec()];
    }
    let mut rest = &reply[nl + 1..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        match rtool::resp::frame::decode(rest) {
            Ok(Some((_, used))) => {
                out.push(rest[..used].to_vec());
                rest = &rest[used..];
            }
            _ => break,
        }
    }
    out.sort();
    out
}

/// `\r`, `\n`, `\t`, `\\` and `\xHH` escapes; every other byte as it is.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).expect("\\xHH"));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 300 {
        format!("{}...", &s[..300])
    } else {
        s.into_owned()
    }
}

fn run_script(name: &str, text: &str) -> Vec<String> {
    let mut sides = [
        Side {
            server: Server::redis(&[]),
            conns: HashMap::new(),
        },
        Side {
            server: Server::rtool(&[]),
            conns: HashMap::new(),
        },
    ];
    let mut failures = Vec::new();
    let mut cur = 1u32;
    let mut sort_next = false;
    let mut ignore_next = false;
    let mut send_next = false;
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{name}:{}: {line}", lineno + 1);
        if let Some(d) = line.strip_prefix('!') {
            let (word, arg) = d.split_once(' ').unwrap_or((d, ""));
            match word {
                "server-args" => {}
                "sort" => sort_next = true,
                "ignore" => ignore_next = true,
                "send" => send_next = true,
                "conn" => cur = arg.trim().parse().expect("!conn N"),
                "wait-ms" => std::thread::sleep(std::time::Duration::from_millis(
                    arg.trim().parse().unwrap(),
                )),
                "recv" => {
                    let r: Vec<Option<Vec<u8>>> =
                        sides.iter_mut().map(|s| s.conn(cur).read_reply()).collect();
                    if r[0] != r[1] {
                        failures.push(format!(
                            "{at}\n   redis: {}\n   rtool: {}",
                            show(r[0].as_deref().unwrap_or(b"<none>")),
                            show(r[1].as_deref().unwrap_or(b"<none>"))
                        ));
                    }
                }
                "raw" => {
                    let bytes = unescape(arg);
                    let r: Vec<Vec<u8>> = sides
                        .iter_mut()
                        .map(|s| {
                            let c = s.conn(cur);
                            // Not every case closes the connection: wait at most 2 s.
                            let _ = c
                                .stream
                                .set_read_timeout(Some(std::time::Duration::from_secs(2)));
                            c.send_raw(&bytes);
                            c.read_to_close()
                        })
                        .collect();
                    for s in sides.iter_mut() {
                        s.conns.remove(&cur);
                    }
                    if r[0] != r[1] {
                        failures.push(format!(
                            "{at}\n   redis: {}\n   rtool: {}",
                            show(&r[0]),
                            show(&r[1])
                        ));
                    }
                }
                other => panic!("{at}: unknown directive !{other}"),
            }
            continue;
        }
        let args =
            split_args(line.as_bytes()).unwrap_or_else(|_| panic!("{at}: unbalanced quotes"));
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        for s in sides.iter_mut() {
            s.conn(cur).send(&argv);
        }
        if std::mem::take(&mut send_next) {
            continue;
        }
        let replies: Vec<Option<Vec<u8>>> =
            sides.iter_mut().map(|s| s.conn(cur).read_reply()).collect();
        if std::mem::take(&mut ignore_next) {
            continue;
        }
        let (a, b) = (
            replies[0].clone().unwrap_or_default(),
            replies[1].clone().unwrap_or_default(),
        );
        let same = if std::mem::take(&mut sort_next) {
            elements(&a) == elements(&b) && a.first() == b.first()
        } else {
            a == b
        };
        if !same {
            failures.push(format!(
                "{at}\n   redis: {}\n   rtool: {}",
                show(&a),
                show(&b)
            ));
        }
    }
    failures
}

#[test]
fn scripts_match_real_redis() {
    if !have_redis() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "redis"));
    files.sort();
    // Run only some scripts: DIFF_ONLY=list,hash
    let only = std::env::var("DIFF_ONLY").ok();
    let mut all = Vec::new();
    let mut ran = 0;
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let fails = run_script(&name, &text);
        eprintln!("{name}: {} mismatches", fails.len());
        all.extend(fails);
        ran += 1;
    }
    assert!(ran > 0, "no differential scripts ran");
    assert!(
        all.is_empty(),
        "{} replies differ from real Redis:\n{}",
        all.len(),
        all.join("\n")
    );
}
