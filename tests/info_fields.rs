//! INFO's shape against a real Redis 7.0: the same sections for every way of asking, and in
//! each section the same field names in the same order. Values differ between any two
//! servers (times, ids, memory), so only names are compared here; the byte-stable sections
//! are in `tests/diff/info.redis`.

mod util;

use util::{Conn, Server, have_redis};

/// Fields rtool adds on purpose.
const RTOOL_ONLY: &[&str] = &["rtool_version"];

/// Sections whose lines are per-command histograms rtool does not keep.
const NOT_COMPARED: &[&str] = &["Latencystats"];

/// Sections whose lines Redis prints in its command table's hash order (random per process):
/// compared as sets.
const UNORDERED: &[&str] = &["Commandstats"];

/// The bulk or verbatim payload of an INFO reply.
fn info_text(c: &mut Conn, args: &[&str]) -> String {
    let mut argv = vec!["INFO"];
    argv.extend_from_slice(args);
    let raw = c.call(&argv);
    let text = String::from_utf8(raw).expect("utf-8 INFO");
    let (head, body) = text.split_once("\r\n").expect("reply header");
    assert!(
        head.starts_with('$') || head.starts_with('='),
        "INFO reply type: {head}"
    );
    let body = body.strip_suffix("\r\n").expect("reply ends with CRLF");
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

/// (section title, field names) in order.
fn shape(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.split("\r\n") {
        if let Some(title) = line.strip_prefix("# ") {
            out.push((title.to_string(), Vec::new()));
        } else if let Some((name, _)) = line.split_once(':') {
            let last = out.last_mut().expect("a field before any section");
            if !RTOOL_ONLY.contains(&name) {
                last.1.push(name.to_string());
            }
        } else {
            assert!(line.is_empty(), "unexpected INFO line {line:?}");
        }
    }
    out
}

/// The same traffic on both servers, so per-command and per-error lines are the same set.
fn traffic(c: &mut Conn) {
    c.call(&["SET", "a", "1"]);
    c.call(&["GET", "a"]);
    c.call(&["SET", "s", "x"]);
    c.call(&["INCR", "s"]);
    c.call(&["NOSUCHCOMMAND"]);
    c.call(&["GET"]);
}

#[test]
fn info_sections_and_fields_match_redis() {
    if !have_redis() {
        return;
    }
    let redis = Server::redis(&[]);
    let rtool = Server::rtool(&[]);
    let mut conns = [redis.conn(), rtool.conn()];
    for c in conns.iter_mut() {
        traffic(c);
    }
    for args in [
        &[][..],
        &["default"],
        &["all"],
        &["everything"],
        &["server", "clients"],
        &["SERVER"],
        &["foo"],
        &["everything", "foo"],
        &["commandstats", "errorstats"],
        &["keyspace", "server"],
    ] {
        let [a, b] = [
            info_text(&mut conns[0], args),
            info_text(&mut conns[1], args),
        ];
        let (sa, sb) = (shape(&a), shape(&b));
        let titles =
            |s: &[(String, Vec<String>)]| s.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        assert_eq!(titles(&sa), titles(&sb), "sections of INFO {args:?}");
        for ((title, fa), (_, fb)) in sa.iter().zip(&sb) {
            if NOT_COMPARED.contains(&title.as_str()) {
                continue;
            }
            let (mut fa, mut fb) = (fa.clone(), fb.clone());
            if UNORDERED.contains(&title.as_str()) {
                fa.sort();
                fb.sort();
            }
            assert_eq!(fa, fb, "fields of section {title} in INFO {args:?}");
        }
    }
    // The layout: a header per section, an empty line between sections, CRLF everywhere.
    let text = info_text(&mut conns[1], &["server", "cluster"]);
    assert!(
        text.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"),
        "{text}"
    );
    // RESP3: a verbatim string.
    conns[1].call(&["HELLO", "3"]);
    let raw = conns[1].call(&["INFO", "cluster"]);
    assert_eq!(raw, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[test]
fn info_values_follow_the_engine() {
    let rtool = Server::rtool(&[]);
    let mut c = rtool.conn();
    let text = info_text(&mut c, &[]);
    let field = |t: &str, name: &str| {
        t.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(String::from))
            .unwrap_or_else(|| panic!("no {name} in INFO"))
    };
    assert_eq!(field(&text, "tcp_port"), rtool.port.to_string());
    assert_eq!(field(&text, "role"), "master");
    assert_eq!(field(&text, "master_replid").len(), 40);
    assert_eq!(field(&text, "connected_clients"), "1");
    assert_eq!(field(&text, "rtool_version"), env!("CARGO_PKG_VERSION"));
    assert!(field(&text, "used_memory").parse::<u64>().unwrap() > 0);
    c.call(&["CONFIG", "SET", "hz", "42", "maxmemory", "3mb"]);
    let text = info_text(&mut c, &["server", "memory"]);
    assert_eq!(field(&text, "hz"), "42");
    assert_eq!(field(&text, "maxmemory_human"), "3.00M");
    c.call(&["GET", "nosuch"]);
    c.call(&["GET"]);
    let text = info_text(&mut c, &["commandstats", "stats"]);
    assert!(
        field(&text, "cmdstat_get").starts_with("calls=1,usec="),
        "{text}"
    );
    assert!(field(&text, "cmdstat_get").ends_with(",rejected_calls=1,failed_calls=0"));
    assert_eq!(field(&text, "keyspace_misses"), "1");
    c.call(&["CONFIG", "RESETSTAT"]);
    let text = info_text(&mut c, &["commandstats", "stats"]);
    assert!(!text.contains("cmdstat_get"), "{text}");
    assert_eq!(field(&text, "total_error_replies"), "0");
}
