//! The RDB reader against real files.
//!
//! - Every fixture decodes to exactly what the real server that wrote (or loaded) it held, as
//!   recorded by `fixtures/gen/rdb.py` in `*.expected.json`: keys, types, `OBJECT ENCODING`,
//!   expiries, LFU/LRU data and values, streams included.
//! - The `rdb` crate (a separate implementation) agrees on every non-stream value, which also
//!   covers the RDB 12 files no server here can load.
//! - Feeding a file in any chunking gives the same events with the same offsets.
//! - Corrupt and truncated input gives errors with offsets, never a panic or a hang.
//! - Hand-built files cover what no fixture has (pre-GA hash TTL types, module aux data...).

use proptest::prelude::*;
use rtool::rdb::{
    self, ContainerKind, ErrorKind, Event, Item, Magic, Phase, Reader, Span, StreamId, ValueType,
};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fixture_paths() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rdb");
    let mut v: Vec<PathBuf> = [root.clone(), root.join("foreign")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Decodes `data` feeding it in chunks of `chunk` bytes; returns the events and the final
/// result (`finish()` included).
fn decode_chunked(data: &[u8], chunk: usize) -> (Vec<Event>, Result<(), rdb::RdbError>) {
    let mut r = Reader::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        r.feed(piece);
        loop {
            match r.next_event() {
                Ok(Some(e)) => out.push(e),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    let res = r.finish();
    (out, res)
}

fn decode(data: &[u8]) -> (Vec<Event>, Result<(), rdb::RdbError>) {
    decode_chunked(data, data.len())
}

/// Decodes with two feeds split at `at`.
fn decode_split(data: &[u8], at: usize) -> (Vec<Event>, Result<(), rdb::RdbError>) {
    let mut r = Reader::new();
    let mut out = Vec::new();
    for piece in [&data[..at], &data[at..]] {
        r.feed(piece);
        loop {
            match r.next_event() {
                Ok(Some(e)) => out.push(e),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    let res = r.finish();
    (out, res)
}

/// A key as decoded, gathered from its events.
#[derive(Debug, Default)]
struct Key {
    value_type: Option<ValueType>,
    rdb_type: u8,
    encoding: String,
    expire_ms: Option<i64>,
    lfu_freq: Option<u8>,
    lru_idle: Option<u64>,
    items: Vec<Item>,
    item_count: u64,
}

type Keys = BTreeMap<(u64, Vec<u8>), Key>;

fn gather(events: &[Event]) -> Keys {
    let mut keys = Keys::new();
    let mut cur: Option<((u64, Vec<u8>), Key)> = None;
    for e in events {
        match e {
            Event::KeyStart(k) => {
                assert!(cur.is_none(), "KeyStart inside a key");
                cur = Some((
                    (k.db, k.key.to_vec()),
                    Key {
                        value_type: Some(k.value_type),
                        rdb_type: k.rdb_type,
                        expire_ms: k.expire_ms,
                        lfu_freq: k.lfu_freq,
                        lru_idle: k.lru_idle,
                        ..Key::default()
                    },
                ));
            }
            Event::Item { item, .. } => cur
                .as_mut()
                .expect("item outside a key")
                .1
                .items
                .push(item.clone()),
            Event::KeyEnd(end) => {
                let (id, mut k) = cur.take().expect("KeyEnd without KeyStart");
                assert_eq!(id, (end.db, end.key.to_vec()));
                k.encoding = end.encoding.to_string();
                k.item_count = end.items;
                keys.insert(id, k);
            }
            _ => assert!(
                cur.is_none() || matches!(e, Event::Container(_)),
                "{e:?} inside a key"
            ),
        }
    }
    assert!(cur.is_none(), "file ended inside a key");
    keys
}

fn bin(v: &Json) -> Vec<u8> {
    if let Some(t) = v.get("text") {
        return t.as_str().unwrap().as_bytes().to_vec();
    }
    let h = v["hex"].as_str().unwrap();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn id(s: &str) -> StreamId {
    let (a, b) = s.split_once('-').unwrap();
    StreamId {
        ms: a.parse().unwrap(),
        seq: b.parse().unwrap(),
    }
}

fn score(s: &str) -> f64 {
    s.parse().unwrap()
}

/// A consumer group as decoded: name, last id, entries-read, PEL (id, delivery time, count),
/// consumers (name, seen time, active time, owned ids).
type Group = (
    Vec<u8>,
    StreamId,
    Option<i64>,
    Vec<(StreamId, i64, u64)>,
    Vec<(Vec<u8>, i64, Option<i64>, Vec<StreamId>)>,
);

/// Compares a decoded stream with `XINFO STREAM FULL` as the server showed it.
fn check_stream(what: &str, items: &[Item], exp: &Json) {
    let mut entries = Vec::new();
    let mut meta = None;
    let mut groups: Vec<Group> = Vec::new();
    for it in items {
        match it {
            Item::StreamEntry {
                id,
                deleted: false,
                fields,
            } => entries.push((*id, fields.clone())),
            Item::StreamEntry { deleted: true, .. } => {}
            Item::StreamMeta { .. } => meta = Some(it.clone()),
            Item::StreamGroup {
                name,
                last_id,
                entries_read,
            } => groups.push((name.to_vec(), *last_id, *entries_read, vec![], vec![])),
            Item::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => groups
                .last_mut()
                .unwrap()
                .3
                .push((*id, *delivery_time_ms, *delivery_count)),
            Item::StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
            } => groups.last_mut().unwrap().4.push((
                name.to_vec(),
                *seen_time_ms,
                *active_time_ms,
                vec![],
            )),
            Item::StreamConsumerPending { id } => {
                groups.last_mut().unwrap().4.last_mut().unwrap().3.push(*id)
            }
            other => panic!("{what}: unexpected item {other:?}"),
        }
    }
    let exp_entries: Vec<_> = exp["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let fields: Vec<(Vec<u8>, Vec<u8>)> = e[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|fv| (bin(&fv[0]), bin(&fv[1])))
                .collect();
            (id(e[0].as_str().unwrap()), fields)
        })
        .collect();
    let got: Vec<_> = entries
        .iter()
        .map(|(i, f)| {
            (
                *i,
                f.iter()
                    .map(|(a, b)| (a.to_vec(), b.to_vec()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(got, exp_entries, "{what}: entries");
    let Some(Item::StreamMeta {
        length,
        last_id,
        first_id,
        max_deleted_id,
        entries_added,
    }) = meta
    else {
        panic!("{what}: no StreamMeta")
    };
    assert_eq!(length, exp["length"].as_u64().unwrap(), "{what}: length");
    assert_eq!(
        last_id,
        id(exp["last_id"].as_str().unwrap()),
        "{what}: last id"
    );
    if let Some(f) = first_id {
        assert_eq!(f, id(exp["first_id"].as_str().unwrap()), "{what}: first id");
        assert_eq!(
            max_deleted_id.unwrap(),
            id(exp["max_deleted_id"].as_str().unwrap())
        );
        assert_eq!(
            entries_added,
            exp["entries_added"].as_u64(),
            "{what}: entries added"
        );
    }
    let exp_groups = exp["groups"].as_array().unwrap();
    assert_eq!(groups.len(), exp_groups.len(), "{what}: groups");
    for (g, e) in groups.iter().zip(exp_groups) {
        assert_eq!(g.0, bin(&e["name"]), "{what}: group name");
        assert_eq!(
            g.1,
            id(e["last_id"].as_str().unwrap()),
            "{what}: group last id"
        );
        if let Some(er) = g.2 {
            // XINFO shows an unknown entries-read (-1) as nil.
            assert_eq!(
                Some(er).filter(|&x| x >= 0),
                e["entries_read"].as_i64(),
                "{what}: entries-read"
            );
        }
        // The group PEL, each entry with its owner taken from the consumers' lists.
        let owner = |pid: &StreamId| {
            g.4.iter()
                .find(|c| c.3.contains(pid))
                .map(|c| c.0.clone())
                .unwrap_or_default()
        };
        let got_pel: Vec<_> =
            g.3.iter()
                .map(|(pid, t, n)| (*pid, owner(pid), *t, *n))
                .collect();
        let exp_pel: Vec<_> = e["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    id(p[0].as_str().unwrap()),
                    bin(&p[1]),
                    p[2].as_i64().unwrap(),
                    p[3].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got_pel, exp_pel, "{what}: group PEL");
        let exp_cons = e["consumers"].as_array().unwrap();
        assert_eq!(g.4.len(), exp_cons.len(), "{what}: consumers");
        for (c, ec) in g.4.iter().zip(exp_cons) {
            assert_eq!(c.0, bin(&ec["name"]));
            assert_eq!(c.1, ec["seen_time"].as_i64().unwrap(), "{what}: seen-time");
            if let Some(a) = c.2 {
                assert_eq!(
                    a,
                    ec["active_time"].as_i64().unwrap(),
                    "{what}: active-time"
                );
            }
            let pend: Vec<_> = ec["pending"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| id(p.as_str().unwrap()))
                .collect();
            assert_eq!(c.3, pend, "{what}: consumer PEL");
        }
    }
}

/// Compares one decoded key with the server's record of it.
fn check_key(what: &str, k: &Key, exp: &Json, compare_encoding: bool) {
    let t = exp["type"].as_str().unwrap();
    assert_eq!(k.value_type.unwrap().as_str(), t, "{what}: type");
    if compare_encoding {
        assert_eq!(
            k.encoding,
            exp["encoding"].as_str().unwrap(),
            "{what}: encoding"
        );
    }
    assert_eq!(k.expire_ms, exp["expire_ms"].as_i64(), "{what}: expiry");
    if let Some(f) = exp.get("lfu_freq") {
        // OBJECT FREQ decays by the minute; it was read just before SAVE.
        let f = f.as_u64().unwrap();
        let got = u64::from(k.lfu_freq.expect("no FREQ opcode"));
        assert!(got.abs_diff(f) <= 1, "{what}: lfu {got} vs {f}");
    }
    if let Some(i) = exp.get("lru_idle") {
        let i = i.as_u64().unwrap();
        let got = k.lru_idle.expect("no IDLE opcode");
        assert!(got.abs_diff(i) <= 2, "{what}: idle {got} vs {i}");
    }
    let v = &exp["value"];
    match t {
        "string" => {
            let [Item::String(s)] = &k.items[..] else {
                panic!("{what}: {:?}", k.items)
            };
            assert_eq!(s.to_vec(), bin(v), "{what}");
        }
        "list" => {
            let got: Vec<Vec<u8>> = k
                .items
                .iter()
                .map(|i| match i {
                    Item::ListElement(e) => e.to_vec(),
                    o => panic!("{what}: {o:?}"),
                })
                .collect();
            let exp: Vec<Vec<u8>> = v.as_array().unwrap().iter().map(bin).collect();
            assert_eq!(got, exp, "{what}");
        }
        "set" => {
            let mut got: Vec<Vec<u8>> = k
                .items
                .iter()
                .map(|i| match i {
                    Item::SetMember(e) => e.to_vec(),
                    o => panic!("{what}: {o:?}"),
                })
                .collect();
            got.sort();
            let exp: Vec<Vec<u8>> = v.as_array().unwrap().iter().map(bin).collect();
            assert_eq!(got, exp, "{what}");
        }
        "zset" => {
            // ZRANGE order: by score, then member bytes.
            let mut got: Vec<(f64, Vec<u8>)> = k
                .items
                .iter()
                .map(|i| match i {
                    Item::ZSetMember { member, score } => (*score, member.to_vec()),
                    o => panic!("{what}: {o:?}"),
                })
                .collect();
            got.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let exp: Vec<(f64, Vec<u8>)> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (score(p[1].as_str().unwrap()), bin(&p[0])))
                .collect();
            assert_eq!(got, exp, "{what}");
        }
        "hash" => {
            let mut got: Vec<(Vec<u8>, Vec<u8>)> = k
                .items
                .iter()
                .map(|i| match i {
                    Item::HashField { field, value, .. } => (field.to_vec(), value.to_vec()),
                    o => panic!("{what}: {o:?}"),
                })
                .collect();
            got.sort();
            let exp: Vec<(Vec<u8>, Vec<u8>)> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (bin(&p[0]), bin(&p[1])))
                .collect();
            assert_eq!(got, exp, "{what}");
        }
        "stream" => check_stream(what, &k.items, v),
        other => panic!("{what}: type {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures against the live servers' view
// ---------------------------------------------------------------------------------------------

#[test]
fn every_fixture_matches_what_the_server_held() {
    let mut checked = 0;
    for path in fixture_paths() {
        let exp_path = path.with_extension("expected.json");
        if !exp_path.exists() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let expected: Json = serde_json::from_slice(&std::fs::read(&exp_path).unwrap()).unwrap();
        let (events, res) = decode(&data);
        res.unwrap_or_else(|e| panic!("{}: {e}", name(&path)));
        let keys = gather(&events);
        let now = expected["now_ms"].as_i64().unwrap();
        // A real server drops keys that expired before it loaded them.
        let live: Vec<_> = keys
            .iter()
            .filter(|(_, k)| k.expire_ms.is_none_or(|e| e > now))
            .collect();
        let exp_keys = expected["keys"].as_array().unwrap();
        let exp_ids: Vec<(u64, Vec<u8>)> = exp_keys
            .iter()
            .map(|k| (k["db"].as_u64().unwrap(), bin(&k["key"])))
            .collect();
        let got_ids: Vec<(u64, Vec<u8>)> = live.iter().map(|(id, _)| (*id).clone()).collect();
        let mut exp_sorted = exp_ids.clone();
        exp_sorted.sort();
        assert_eq!(got_ids, exp_sorted, "{}: key set", name(&path));
        // Encodings are Redis 7.0's (the reader names what 7.0 would show after loading).
        let is_70 = expected["server"]
            .as_str()
            .unwrap()
            .starts_with("redis 7.0");
        for (ek, eid) in exp_keys.iter().zip(&exp_ids) {
            let what = format!("{} key {:?}", name(&path), String::from_utf8_lossy(&eid.1));
            check_key(&what, &keys[eid], ek, is_70);
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} fixtures have expected data");
}

#[test]
fn headers_aux_fields_and_checksums() {
    for path in fixture_paths() {
        let data = std::fs::read(&path).unwrap();
        let (events, res) = decode(&data);
        if name(&path).contains("8_6") {
            // RDB 13 (Redis 8.x) is newer than this reader.
            assert!(matches!(
                res.unwrap_err().kind,
                ErrorKind::UnsupportedVersion(13)
            ));
            continue;
        }
        res.unwrap();
        let Event::Header {
            magic,
            version,
            span,
        } = &events[0]
        else {
            panic!()
        };
        assert_eq!(*magic, Magic::Redis);
        assert_eq!(*span, Span { offset: 0, len: 9 });
        assert_eq!(
            version.to_string(),
            String::from_utf8_lossy(&data[5..9]).trim_start_matches('0')
        );
        let Some(Event::Eof {
            stored,
            computed,
            span,
        }) = events.last()
        else {
            panic!()
        };
        assert_eq!(span.end(), data.len() as u64, "{}: EOF span", name(&path));
        if *version >= 5 {
            let s = stored.unwrap();
            assert!(s == 0 || s == *computed, "{}", name(&path));
        } else {
            assert_eq!(*stored, None);
        }
        // Spans tile the file: every top-level event starts where the previous one ended,
        // except the opcodes folded into a key's span (expiry, IDLE, FREQ).
        let mut end = 0;
        for e in &events {
            match e {
                Event::Item { .. } | Event::Container(_) | Event::KeyEnd(_) => continue,
                _ => {}
            }
            let s = e.span();
            assert!(
                s.offset >= end,
                "{}: {e:?} starts before {end}",
                name(&path)
            );
            end = s.end();
        }
    }
    let data = std::fs::read(fixture_dir().join("redis-7.0-all-types.rdb")).unwrap();
    let (events, _) = decode(&data);
    let aux: BTreeMap<String, String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Aux { name, value, .. } => Some((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            )),
            _ => None,
        })
        .collect();
    for k in ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"] {
        assert!(aux.contains_key(k), "missing aux {k}: {aux:?}");
    }
    assert_eq!(aux["redis-ver"], "7.0.15");
    let dbs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::SelectDb { db, .. } => Some(*db),
            _ => None,
        })
        .collect();
    // Redis writes nothing for an empty database (db 1 here).
    assert_eq!(dbs, vec![0, 2, 15]);
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rdb")
}

#[test]
fn key_metadata_encodings_and_containers() {
    let data = std::fs::read(fixture_dir().join("redis-7.0-all-types.rdb")).unwrap();
    let (events, res) = decode(&data);
    res.unwrap();
    let starts: BTreeMap<Vec<u8>, &rdb::KeyStart> = events
        .iter()
        .filter_map(|e| match e {
            Event::KeyStart(k) => Some((k.key.to_vec(), &**k)),
            _ => None,
        })
        .collect();
    let s = |k: &str| starts[k.as_bytes()];
    assert_eq!(s("str:int8").encoding, "int");
    assert_eq!(s("str:embstr").encoding, "embstr");
    assert_eq!(s("str:raw").encoding, "raw");
    assert_eq!(s("str:lzf").encoding, "raw");
    assert_eq!(s("hash:small").rdb_type_name, "hash-listpack");
    assert_eq!(s("hash:big").rdb_type_name, "hash-hashtable");
    assert_eq!(s("list:big").rdb_type_name, "quicklist-v2");
    assert_eq!(s("stream:s1").rdb_type_name, "stream-v2");
    assert_eq!(s("zset:big").encoding, "skiplist");
    assert_eq!(s("set:intset").encoding, "intset");
    assert_eq!(s("str:expiring-sec").expire_ms, Some(4102444800000));
    // The key span starts at its expiry opcode (0xFC), not at its type byte.
    let k = s("str:expiring");
    assert_eq!(data[k.span.offset as usize], 0xFC);
    let k = s("str:embstr");
    assert_eq!(data[k.span.offset as usize], 0);
    // Containers: compressed quicklist nodes, a plain node, raw listpacks with exact spans.
    let containers: Vec<&rdb::Container> = events
        .iter()
        .filter_map(|e| match e {
            Event::Container(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(
        containers
            .iter()
            .any(|c| c.compressed && c.kind == ContainerKind::Listpack)
    );
    assert!(containers.iter().any(|c| c.kind == ContainerKind::Plain));
    assert!(containers.iter().any(|c| c.kind == ContainerKind::Intset));
    assert!(containers.iter().any(|c| c.stream_master_id.is_some()));
    // Elements of uncompressed containers point at their exact bytes.
    for e in &events {
        // (Entries of LZF-compressed containers point at the whole container instead.)
        let exact = |span: &Span, p: &rdb::PackedPos| span.len == u64::from(p.len);
        if let Event::Item {
            item: Item::SetMember(m),
            span,
            packed: Some(p),
        } = e
            && exact(span, p)
        {
            let bytes = &data[span.offset as usize..span.end() as usize];
            let v = match bytes.len() {
                2 => i64::from(i16::from_le_bytes(bytes.try_into().unwrap())),
                4 => i64::from(i32::from_le_bytes(bytes.try_into().unwrap())),
                _ => i64::from_le_bytes(bytes.try_into().unwrap()),
            };
            assert_eq!(v.to_string().as_bytes(), &m[..]);
        }
        if let Event::Item {
            item: Item::HashField { field, .. },
            span,
            packed: Some(p),
        } = e
            && exact(span, p)
        {
            let bytes = &data[span.offset as usize..span.end() as usize];
            assert!(bytes.windows(field.len()).any(|w| w == &field[..]));
            assert_eq!(u64::from(p.len), span.len);
        }
    }
    let functions = std::fs::read(fixture_dir().join("redis-7.0-functions.rdb")).unwrap();
    let (events, _) = decode(&functions);
    let libs: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Function { code, .. } => Some(String::from_utf8_lossy(code).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(libs.len(), 2);
    assert!(libs.iter().any(|l| l.starts_with("#!lua name=mylib")));
}

#[test]
fn redis_74_files_hash_field_ttls_and_module_values() {
    for f in [
        "rdb-rs-redis_7_4_all_types.rdb",
        "rdb-rs-redis_stack_7_4_modules.rdb",
    ] {
        let data = std::fs::read(fixture_dir().join("foreign").join(f)).unwrap();
        let (events, res) = decode(&data);
        res.unwrap();
        let keys = gather(&events);
        let ttls: Vec<u64> = keys
            .values()
            .flat_map(|k| k.items.iter())
            .filter_map(|i| match i {
                Item::HashField {
                    expire_ms: Some(t), ..
                } => Some(*t),
                _ => None,
            })
            .collect();
        assert!(!ttls.is_empty(), "{f}: no field TTLs");
        // Absolute unix ms between 2020 and 2100.
        assert!(
            ttls.iter()
                .all(|&t| (1_577_836_800_000..4_102_444_800_000).contains(&t)),
            "{ttls:?}"
        );
        let lpex = keys
            .values()
            .find(|k| k.rdb_type == 25)
            .expect("hash-listpack-md");
        assert_eq!(lpex.encoding, "listpackex");
    }
    let data =
        std::fs::read(fixture_dir().join("foreign/rdb-rs-redis_stack_7_4_modules.rdb")).unwrap();
    let (events, _) = decode(&data);
    let module = events
        .iter()
        .find_map(|e| match e {
            Event::KeyStart(k) if k.module.is_some() => k.module.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(module.name, "ReJSON-RL");
    let aux: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::ModuleAux { module, .. } => Some(module.name.as_str()),
            _ => None,
        })
        .collect();
    assert!(!aux.is_empty(), "redis-stack writes module aux data");
}

// ---------------------------------------------------------------------------------------------
// The `rdb` crate as a second opinion
// ---------------------------------------------------------------------------------------------

/// The `rdb` crate's view of a file: non-stream keys only (it skips streams and modules).
fn oracle(data: &[u8]) -> BTreeMap<(u32, Vec<u8>), String> {
    use std::io::Read;
    let input = std::io::BufReader::new(data.take(data.len() as u64));
    let decoder = ::rdb::RdbDecoder::new(input, ::rdb::filter::Simple::new()).unwrap();
    let mut db = 0;
    let mut out = BTreeMap::new();
    for v in decoder {
        match v.unwrap() {
            ::rdb::RdbValue::SelectDb(d) => db = d,
            ::rdb::RdbValue::String { key, value, .. } => {
                out.insert((db, key), format!("{:?}", value));
            }
            ::rdb::RdbValue::List { key, values, .. } => {
                out.insert((db, key), format!("{:?}", values));
            }
            ::rdb::RdbValue::Set { key, members, .. } => {
                let mut m = members.clone();
                m.sort();
                out.insert((db, key), format!("{:?}", m));
            }
            ::rdb::RdbValue::SortedSet { key, values, .. } => {
                let mut v: Vec<(Vec<u8>, u64)> = values
                    .iter()
                    .map(|(s, m)| (m.clone(), s.to_bits()))
                    .collect();
                v.sort();
                out.insert((db, key), format!("{:?}", v));
            }
            ::rdb::RdbValue::Hash { key, values, .. } => {
                let mut v: Vec<(Vec<u8>, Vec<u8>)> = values.into_iter().collect();
                v.sort();
                out.insert((db, key), format!("{:?}", v));
            }
            _ => {}
        }
    }
    out
}

/// The same rendering of our decoding.
fn ours(keys: &Keys) -> BTreeMap<(u32, Vec<u8>), String> {
    let mut out = BTreeMap::new();
    for ((db, key), k) in keys {
        let id = (*db as u32, key.clone());
        let s = match k.value_type.unwrap() {
            ValueType::String => match &k.items[..] {
                [Item::String(s)] => format!("{:?}", s.to_vec()),
                _ => unreachable!(),
            },
            ValueType::List => {
                let v: Vec<Vec<u8>> = k
                    .items
                    .iter()
                    .map(|i| match i {
                        Item::ListElement(e) => e.to_vec(),
                        _ => unreachable!(),
                    })
                    .collect();
                format!("{:?}", v)
            }
            ValueType::Set => {
                let mut v: Vec<Vec<u8>> = k
                    .items
                    .iter()
                    .map(|i| match i {
                        Item::SetMember(e) => e.to_vec(),
                        _ => unreachable!(),
                    })
                    .collect();
                v.sort();
                format!("{:?}", v)
            }
            ValueType::ZSet => {
                let mut v: Vec<(Vec<u8>, u64)> = k
                    .items
                    .iter()
                    .map(|i| match i {
                        Item::ZSetMember { member, score } => (member.to_vec(), score.to_bits()),
                        _ => unreachable!(),
                    })
                    .collect();
                v.sort();
                format!("{:?}", v)
            }
            ValueType::Hash => {
                let mut v: Vec<(Vec<u8>, Vec<u8>)> = k
                    .items
                    .iter()
                    .map(|i| match i {
                        Item::HashField { field, value, .. } => (field.to_vec(), value.to_vec()),
                        _ => unreachable!(),
                    })
                    .collect();
                v.sort();
                format!("{:?}", v)
            }
            ValueType::Stream | ValueType::Module => continue,
        };
        out.insert(id, s);
    }
    out
}

#[test]
fn the_rdb_crate_agrees_on_every_non_stream_value() {
    let mut compared = 0;
    for path in fixture_paths() {
        let data = std::fs::read(&path).unwrap();
        if name(&path).contains("8_6") {
            continue;
        }
        let (events, res) = decode(&data);
        res.unwrap();
        let mine = ours(&gather(&events));
        let theirs = oracle(&data);
        assert_eq!(mine.len(), theirs.len(), "{}: key count", name(&path));
        for (k, v) in &theirs {
            assert_eq!(
                mine.get(k),
                Some(v),
                "{}: key {:?}",
                name(&path),
                String::from_utf8_lossy(&k.1)
            );
        }
        compared += mine.len();
    }
    assert!(compared > 100, "compared only {compared} keys");
}

// ---------------------------------------------------------------------------------------------
// Streaming: any chunking gives the same events
// ---------------------------------------------------------------------------------------------

#[test]
fn split_anywhere_gives_the_same_events() {
    for path in fixture_paths() {
        let data = std::fs::read(&path).unwrap();
        let (whole, whole_res) = decode(&data);
        // One byte at a time: every unit is retried at every possible cut.
        let (bytes, res) = decode_chunked(&data, 1);
        assert_eq!(bytes, whole, "{}: byte-by-byte", name(&path));
        assert_eq!(res, whole_res);
        // Every two-piece split for small files, a stride of cuts for bigger ones.
        let step = if data.len() <= 4096 { 1 } else { 37 };
        for at in (0..=data.len()).step_by(step) {
            let (ev, res) = decode_split(&data, at);
            assert_eq!(ev, whole, "{}: split at {at}", name(&path));
            assert_eq!(res, whole_res, "{}: split at {at}", name(&path));
        }
        for chunk in [7, 64, 1000, 65536] {
            assert_eq!(
                decode_chunked(&data, chunk).0,
                whole,
                "{}: chunks of {chunk}",
                name(&path)
            );
        }
    }
}

#[test]
fn offsets_count_from_the_start_offset() {
    let data = std::fs::read(fixture_dir().join("redis-7.0-lfu.rdb")).unwrap();
    let (plain, _) = decode(&data);
    let mut r = Reader::with_offset(1000);
    r.feed(&data);
    let mut shifted = Vec::new();
    while let Some(e) = r.next_event().unwrap() {
        shifted.push(e);
    }
    r.finish().unwrap();
    assert_eq!(plain.len(), shifted.len());
    for (a, b) in plain.iter().zip(&shifted) {
        assert_eq!(a.span().offset + 1000, b.span().offset, "{a:?}");
        assert_eq!(a.span().len, b.span().len);
    }
}

#[test]
fn bytes_after_the_rdb_are_left_for_the_caller() {
    // A replication link: the RDB is followed by the command stream.
    let data = std::fs::read(fixture_dir().join("redis-7.0-lru.rdb")).unwrap();
    let mut link = data.clone();
    link.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let mut r = Reader::new();
    let events: Vec<Event> = r.push(&link).collect::<Result<_, _>>().unwrap();
    assert!(r.is_done());
    assert!(matches!(events.last(), Some(Event::Eof { .. })));
    assert_eq!(r.offset(), data.len() as u64);
    assert_eq!(r.remaining(), b"*1\r\n$4\r\nPING\r\n");
    r.finish().unwrap();
}

#[test]
fn memory_stays_flat_on_a_big_collection() {
    // A linked list (type 1) of 300k elements is 300k units: feeding 64 KiB at a time, the
    // reader never holds more than a chunk plus one element.
    let mut f = Builder::new(9);
    f.raw(&[1]);
    f.string(b"big");
    f.len(300_000);
    for i in 0..300_000u32 {
        f.string(format!("element-{i:08}").as_bytes());
    }
    let data = f.finish();
    let mut r = Reader::new();
    let mut n = 0u64;
    let mut max_buffered = 0;
    for chunk in data.chunks(64 * 1024) {
        r.feed(chunk);
        while let Some(e) = r.next_event().unwrap() {
            if let Event::Item { .. } = e {
                n += 1;
            }
        }
        max_buffered = max_buffered.max(r.remaining().len());
    }
    r.finish().unwrap();
    assert_eq!(n, 300_000);
    assert!(
        max_buffered < 100,
        "buffered {max_buffered} bytes after draining"
    );
}

#[test]
fn a_huge_string_is_buffered_once_then_released() {
    // One 8 MiB value, then small keys: the value is held while it arrives, and the buffer
    // shrinks back afterwards.
    let mut f = Builder::new(10);
    f.raw(&[0]).string(b"huge").string(&vec![b'x'; 8 << 20]);
    for i in 0..1000 {
        f.raw(&[0]).string(format!("k{i}").as_bytes()).string(b"v");
    }
    let data = f.finish();
    let mut r = Reader::new();
    let mut peak = 0;
    let mut after = 0;
    let mut seen_huge = false;
    for chunk in data.chunks(64 * 1024) {
        r.feed(chunk);
        while let Some(e) = r.next_event().unwrap() {
            if let Event::Item {
                item: Item::String(s),
                ..
            } = &e
            {
                seen_huge |= s.len() == 8 << 20;
            }
        }
        peak = peak.max(r.buffer_capacity());
        if seen_huge {
            after = after.max(r.buffer_capacity());
        }
    }
    r.finish().unwrap();
    assert!(peak > 7 << 20, "the value must have been buffered: {peak}");
    assert!(
        after < 1 << 20,
        "the buffer kept {after} bytes after the huge value"
    );
}

// ---------------------------------------------------------------------------------------------
// Corrupt input
// ---------------------------------------------------------------------------------------------

/// Decodes and checks the contract: events or an error with an offset inside the input (or at
/// its end), in bounded time.
fn survives(what: &str, data: &[u8]) -> Result<(), rdb::RdbError> {
    let t = Instant::now();
    let (_, res) = decode(data);
    assert!(t.elapsed() < Duration::from_secs(2), "{what}: too slow");
    if let Err(e) = &res {
        assert!(
            e.offset <= data.len() as u64,
            "{what}: offset {} past {}",
            e.offset,
            data.len()
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("RDB: ") && msg.contains("at offset 0x"),
            "{msg}"
        );
    }
    res
}

#[test]
fn every_truncation_is_an_error_with_an_offset() {
    // Feed byte by byte; after each byte a clone of the reader is told the input ended there.
    // That is exactly what decoding the truncated file does, for every cut, in one pass.
    for path in fixture_paths() {
        let data = std::fs::read(&path).unwrap();
        if decode(&data).1.is_err() {
            continue;
        }
        let mut r = Reader::new();
        for cut in 0..data.len() {
            let mut early = r.clone();
            let e = early.finish().expect_err("truncated file accepted");
            assert_eq!(
                e.kind,
                ErrorKind::Truncated,
                "{} cut {cut}: {e}",
                name(&path)
            );
            assert_eq!(e.offset, cut as u64, "{}: {e}", name(&path));
            assert!(e.to_string().contains("unexpected end of input"));
            r.feed(&data[cut..cut + 1]);
            while r.next_event().unwrap().is_some() {}
        }
        r.finish().unwrap();
    }
}

#[test]
fn every_byte_flip_is_survived() {
    for path in fixture_paths() {
        let data = std::fs::read(&path).unwrap();
        // Every byte of small files; 400 spread positions of bigger ones (debug builds are
        // slow, and the fuzz target covers the rest).
        let step = (data.len() / 400).max(1);
        let flips: &[u8] = if step == 1 {
            &[0xFF, 0x01, 0x80]
        } else {
            &[0xFF, 0x01]
        };
        let mut errors = 0;
        for i in (0..data.len()).step_by(step) {
            for flip in flips {
                let mut bad = data.clone();
                bad[i] ^= flip;
                errors += survives(&name(&path), &bad).is_err() as u32;
            }
        }
        // With the checksum on, nearly every flip must be caught somewhere.
        assert!(errors > 0, "{}", name(&path));
    }
}

#[test]
fn errors_name_the_key_the_phase_and_the_offset() {
    // A hash listpack whose second entry's trailer is wrong.
    let mut lp = listpack(&[b"f1", b"v1"]);
    let pos = lp.len() - 2; // the last entry's backlen byte
    lp[pos] ^= 0x0F;
    let mut f = Builder::new(10);
    f.raw(&[16]);
    f.string(b"k1");
    let lp_at = f.data.len() as u64 + 1; // after the 1-byte length prefix
    f.string(&lp);
    let data = f.finish();
    let e = decode(&data).1.unwrap_err();
    assert_eq!(e.phase, Phase::ReadValue);
    assert_eq!(e.key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(e.offset, lp_at + pos as u64);
    assert_eq!(
        e.to_string(),
        format!(
            "RDB: bad listpack entry length trailer in key 'k1' (hash-listpack) at offset {:#x} (read-object-value)",
            lp_at + pos as u64
        )
    );

    // A checksum mismatch.
    let mut data = std::fs::read(fixture_dir().join("redis-7.0-lru.rdb")).unwrap();
    let n = data.len();
    data[n - 1] ^= 1;
    let e = decode(&data).1.unwrap_err();
    assert!(matches!(e.kind, ErrorKind::ChecksumMismatch { .. }));
    assert_eq!(e.phase, Phase::Checksum);
    assert_eq!(e.offset, n as u64 - 8);
    // ... which a dump tool can choose to only report.
    let mut r = Reader::new().verify_checksum(false);
    r.feed(&data);
    let evs: Vec<Event> = std::iter::from_fn(|| r.next_event().unwrap()).collect();
    let Some(Event::Eof {
        stored, computed, ..
    }) = evs.last()
    else {
        panic!()
    };
    assert_ne!(stored.unwrap(), *computed);

    // Truncated inside a value: the key is named.
    let data = std::fs::read(fixture_dir().join("redis-7.0-all-types.rdb")).unwrap();
    let (events, _) = decode(&data);
    let big = events
        .iter()
        .find_map(|e| match e {
            Event::KeyStart(k) if &k.key[..] == b"hash:big" => Some(k.span),
            _ => None,
        })
        .unwrap();
    let e = decode(&data[..big.end() as usize + 50]).1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert_eq!(e.key.as_deref(), Some(&b"hash:big"[..]));
    assert_eq!(e.phase, Phase::ReadValue);
    // Truncated inside a key name: phase read-key.
    let e = decode(&data[..big.offset as usize + 3]).1.unwrap_err();
    assert_eq!(e.phase, Phase::ReadKey, "{e}");

    // Not an RDB at all: said at once, without waiting for 9 bytes.
    let mut r = Reader::new();
    r.feed(b"*1\r\n");
    assert_eq!(r.next_event().unwrap_err().kind, ErrorKind::BadMagic);
    let mut r = Reader::new();
    r.feed(b"REDIS0099");
    assert_eq!(
        r.next_event().unwrap_err().kind,
        ErrorKind::UnsupportedVersion(99)
    );
}

#[test]
fn lengths_never_size_allocations() {
    // A string claiming 2^62 bytes, a list claiming 2^63 elements, an LZF string claiming
    // 1 GiB from 4 bytes: each is refused or waits for bytes that never come.
    for body in [
        &[0u8, 0x01, b'k', 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0][..],
        &[1, 0x01, b'k', 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, b'x'][..],
        &[0, 0x01, b'k', 0xC3, 0x04, 0x80, 0x40, 0, 0, 0, 1, 2, 3, 4][..],
        &[16, 0x01, b'k', 0x80, 0x7f, 0xff, 0xff, 0xff][..],
    ] {
        let mut data = b"REDIS0010".to_vec();
        data.extend_from_slice(body);
        let t = Instant::now();
        let e = survives("huge length", &data).unwrap_err();
        assert!(t.elapsed() < Duration::from_millis(500));
        assert!(
            matches!(e.kind, ErrorKind::Truncated | ErrorKind::Corrupt(_)),
            "{e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut data = b"REDIS0010".to_vec();
        data.extend_from_slice(&body);
        let _ = survives("random", &data);
        let _ = survives("random", &body);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        file in 0usize..64,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
        chunk in 1usize..5000,
    ) {
        let paths = fixture_paths();
        let mut data = std::fs::read(&paths[file % paths.len()]).unwrap();
        for (pos, byte, op) in edits {
            if data.is_empty() { break; }
            let p = pos % data.len();
            match op {
                0 => data[p] = byte,
                1 => { data.insert(p, byte); }
                _ => { data.remove(p); }
            }
        }
        let t = Instant::now();
        let whole = decode(&data);
        let parts = decode_chunked(&data, chunk);
        prop_assert!(t.elapsed() < Duration::from_secs(2));
        // Chunking changes nothing, corrupt or not.
        prop_assert_eq!(whole, parts);
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-built files: what no fixture holds
// ---------------------------------------------------------------------------------------------

/// Writes RDB bytes by the format's rules (not with rtool's writer: these tests must not share
/// its mistakes).
struct Builder {
    data: Vec<u8>,
    version: u32,
}

impl Builder {
    fn new(version: u32) -> Builder {
        Builder {
            data: format!("REDIS{version:04}").into_bytes(),
            version,
        }
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.data.extend_from_slice(b);
        self
    }
    fn len(&mut self, n: u64) -> &mut Self {
        if n < 64 {
            self.data.push(n as u8);
        } else if n < 16384 {
            self.data
                .extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if n <= u32::MAX as u64 {
            self.data.push(0x80);
            self.data.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.data.push(0x81);
            self.data.extend_from_slice(&n.to_be_bytes());
        }
        self
    }
    fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64);
        self.raw(s)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.data.push(0xFF);
        if self.version >= 5 {
            let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&self.data);
            self.data.extend_from_slice(&crc.to_le_bytes());
        }
        std::mem::take(&mut self.data)
    }
}

/// A listpack of strings (each under 64 bytes).
fn listpack(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        assert!(it.len() < 64);
        body.push(0x80 | it.len() as u8);
        body.extend_from_slice(it);
        body.push(1 + it.len() as u8); // backlen: entry size, < 128
    }
    let total = 6 + body.len() + 1;
    let mut out = (total as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

/// A listpack with integer entries too: `Ok(i)` as a 13-bit int, `Err(s)` as a string.
fn listpack_mixed(items: &[Result<i64, &[u8]>]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        match it {
            Ok(v) => {
                let u = (*v as u64) & 0x1fff;
                body.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8, 2]);
            }
            Err(s) => {
                body.push(0x80 | s.len() as u8);
                body.extend_from_slice(s);
                body.push(1 + s.len() as u8);
            }
        }
    }
    let total = 6 + body.len() + 1;
    let mut out = (total as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

fn items_of(data: &[u8]) -> Vec<Item> {
    let (events, res) = decode(data);
    res.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Item { item, .. } => Some(item),
            _ => None,
        })
        .collect()
}

fn field(f: &str, v: &str, t: Option<u64>) -> Item {
    Item::HashField {
        field: f.as_bytes().to_vec().into(),
        value: v.as_bytes().to_vec().into(),
        expire_ms: t,
    }
}

#[test]
fn hash_field_ttl_types() {
    // Type 24 (7.4 GA): minimum TTL, then [ttl relative to it, +1][field][value].
    let min = 1_800_000_000_000u64;
    let mut f = Builder::new(12);
    f.raw(&[24]).string(b"h").raw(&min.to_le_bytes()).len(2);
    f.len(0).string(b"a").string(b"1");
    f.len(101).string(b"b").string(b"2");
    assert_eq!(
        items_of(&f.finish()),
        vec![field("a", "1", None), field("b", "2", Some(min + 100))]
    );
    // Type 22 (7.4 RC): absolute TTLs, no minimum.
    let mut f = Builder::new(12);
    f.raw(&[22])
        .string(b"h")
        .len(1)
        .len(min)
        .string(b"a")
        .string(b"1");
    assert_eq!(items_of(&f.finish()), vec![field("a", "1", Some(min))]);
    // Types 23 and 25: a listpack of field, value, TTL triples (25 with a minimum before it).
    for (t, pre) in [(23u8, None), (25u8, Some(min))] {
        let lp = listpack_mixed(&[Err(b"f"), Err(b"v"), Ok(0), Err(b"g"), Err(b"w"), Ok(0)]);
        let mut f = Builder::new(12);
        f.raw(&[t]).string(b"h");
        if let Some(m) = pre {
            f.raw(&m.to_le_bytes());
        }
        f.string(&lp);
        let data = f.finish();
        assert_eq!(
            items_of(&data),
            vec![field("f", "v", None), field("g", "w", None)]
        );
        let (events, _) = decode(&data);
        let end = events
            .iter()
            .find_map(|e| match e {
                Event::KeyEnd(k) => Some(k.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(end.encoding, "listpackex");
    }
}

#[test]
fn old_formats_built_by_hand() {
    // RDB 2: no checksum; EXPIRETIME in seconds; a zipmap hash; a linked list; a text-score
    // zset; a hashtable set with a non-integer member.
    let mut zipmap = vec![2u8];
    for (k, v) in [("foo", "bar"), ("hello", "world")] {
        zipmap.push(k.len() as u8);
        zipmap.extend_from_slice(k.as_bytes());
        zipmap.push(v.len() as u8);
        zipmap.push(1); // one free byte after the value
        zipmap.extend_from_slice(v.as_bytes());
        zipmap.push(0);
    }
    zipmap.push(0xFF);
    let mut f = Builder::new(2);
    f.raw(&[0xFE]).len(3);
    f.raw(&[0xFD]).raw(&1_900_000_000i32.to_le_bytes());
    f.raw(&[9]).string(b"zm").string(&zipmap);
    f.raw(&[1])
        .string(b"l")
        .len(2)
        .string(b"x")
        .raw(&[0xC0, 0xF6]); // int8 -10
    f.raw(&[3]).string(b"z").len(3);
    f.string(b"a").raw(&[3]).raw(b"1.5");
    f.string(b"b").raw(&[254]);
    f.string(b"c").raw(&[255]);
    f.raw(&[2]).string(b"s").len(2).string(b"7").string(b"x");
    let data = f.finish();
    let (events, res) = decode(&data);
    res.unwrap();
    let keys = gather(&events);
    let zm = &keys[&(3, b"zm".to_vec())];
    assert_eq!(zm.expire_ms, Some(1_900_000_000_000));
    assert_eq!(
        zm.items,
        vec![field("foo", "bar", None), field("hello", "world", None)]
    );
    assert_eq!(zm.encoding, "listpack");
    let l = &keys[&(3, b"l".to_vec())];
    assert_eq!(
        l.items,
        vec![
            Item::ListElement("x".into()),
            Item::ListElement("-10".into())
        ]
    );
    let z = &keys[&(3, b"z".to_vec())];
    let scores: Vec<f64> = z
        .items
        .iter()
        .map(|i| match i {
            Item::ZSetMember { score, .. } => *score,
            _ => 0.0,
        })
        .collect();
    assert_eq!(scores, vec![1.5, f64::INFINITY, f64::NEG_INFINITY]);
    assert_eq!(z.encoding, "listpack");
    assert_eq!(keys[&(3, b"s".to_vec())].encoding, "hashtable");
    let Some(Event::Eof { stored: None, .. }) = events.last() else {
        panic!()
    };

    // A quicklist v1 whose nodes are ziplists; a ziplist zset with an integer score.
    let zl = |entries: &[&[u8]]| {
        let mut body = Vec::new();
        let mut prev = 0u8;
        let mut last = 10;
        for e in entries {
            last = 10 + body.len();
            body.push(prev);
            body.extend_from_slice(e);
            prev = (1 + e.len()) as u8;
        }
        let mut out = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&(last as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xFF);
        out
    };
    let mut f = Builder::new(8);
    f.raw(&[14]).string(b"q").len(2);
    f.string(&zl(&[b"\x01a", b"\xF3"]));
    f.string(&zl(&[b"\x02bc"]));
    f.raw(&[12])
        .string(b"zz")
        .string(&zl(&[b"\x01m", b"\xFE\x05", b"\x01n", b"\x032.5"]));
    let items = items_of(&f.finish());
    assert_eq!(
        items,
        vec![
            Item::ListElement("a".into()),
            Item::ListElement("2".into()),
            Item::ListElement("bc".into()),
            Item::ZSetMember {
                member: "m".into(),
                score: 5.0
            },
            Item::ZSetMember {
                member: "n".into(),
                score: 2.5
            },
        ]
    );
}

#[test]
fn opcodes_no_fixture_has() {
    // MODULE_AUX with every module opcode, SLOT_INFO, a module value, VALKEY magic.
    let id = module_id("mymodtype", 2);
    let mut f = Builder::new(11);
    f.raw(&[247]).len(id).len(2).len(2); // MODULE_AUX id, when_opcode=UINT, when=2
    f.len(1).len(5); // SINT 5
    f.len(2).len(6); // UINT 6
    f.len(3).raw(&1.5f32.to_le_bytes());
    f.len(4).raw(&2.5f64.to_le_bytes());
    f.len(5).string(b"payload");
    f.len(0);
    f.raw(&[244]).len(100).len(3).len(1); // SLOT_INFO
    f.raw(&[7]).string(b"m").len(id).len(5).string(b"x").len(0);
    f.raw(&[0]).string(b"after").string(b"ok");
    let data = f.finish();
    let (events, res) = decode(&data);
    res.unwrap();
    let Event::ModuleAux { module, when, .. } = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(
        (module.name.as_str(), module.encver, *when),
        ("mymodtype", 2, 2)
    );
    assert!(matches!(
        events[2],
        Event::SlotInfo {
            slot: 100,
            slot_size: 3,
            expires_slot_size: 1,
            ..
        }
    ));
    let Event::KeyStart(k) = &events[3] else {
        panic!()
    };
    assert_eq!(k.module.as_ref().unwrap().name, "mymodtype");
    assert!(matches!(
        events[4],
        Event::Item {
            item: Item::ModuleValue,
            ..
        }
    ));
    assert!(matches!(&events[5], Event::KeyEnd(e) if e.encoding == "raw"));
    assert!(matches!(&events[7], Event::Item { item: Item::String(s), .. } if &s[..] == b"ok"));

    let mut data = b"VALKEY080".to_vec();
    data.extend_from_slice(&[0xFF]);
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&data);
    data.extend_from_slice(&crc.to_le_bytes());
    let (events, res) = decode(&data);
    res.unwrap();
    assert!(matches!(
        events[0],
        Event::Header {
            magic: Magic::Valkey,
            version: 80,
            ..
        }
    ));

    // What Redis itself refuses: the pre-release module value format...
    let mut d = b"REDIS0010".to_vec();
    d.extend_from_slice(&[6, 1, b'k']);
    assert_eq!(
        decode(&d).1.unwrap_err().kind,
        ErrorKind::Unsupported("pre-release module value format")
    );
    // ... and the 7.0-rc function format, which is decoded into its own event.
    let mut f = Builder::new(10);
    f.raw(&[246])
        .string(b"lib")
        .string(b"LUA")
        .len(1)
        .string(b"desc");
    f.string(b"code");
    f.raw(&[246])
        .string(b"lib2")
        .string(b"LUA")
        .len(0)
        .string(b"code2");
    let (events, res) = decode(&f.finish());
    res.unwrap();
    assert!(
        matches!(&events[1], Event::FunctionPreGa { name, description: Some(d), code, .. }
        if &name[..] == b"lib" && &d[..] == b"desc" && &code[..] == b"code")
    );
    assert!(matches!(
        &events[2],
        Event::FunctionPreGa {
            description: None,
            ..
        }
    ));
}

fn module_id(name: &str, encver: u64) -> u64 {
    let set = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = 0u64;
    for c in name.bytes() {
        id = (id << 6) | set.iter().position(|&x| x == c).unwrap() as u64;
    }
    (id << 10) | encver
}

/// Decoding speed, not a test: `RDB_BENCH=file.rdb cargo test --release --test rdb_reader --
/// --ignored throughput --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let path = std::env::var("RDB_BENCH").unwrap_or_else(|_| {
        fixture_dir()
            .join("redis-7.0-all-types.rdb")
            .display()
            .to_string()
    });
    let data = std::fs::read(&path).unwrap();
    let rounds = (200_000_000 / data.len()).clamp(1, 2000);
    let t = Instant::now();
    let mut events = 0u64;
    for _ in 0..rounds {
        let mut r = Reader::new();
        for chunk in data.chunks(64 * 1024) {
            r.feed(chunk);
            while let Some(_e) = r.next_event().unwrap() {
                events += 1;
            }
        }
        r.finish().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = (data.len() * rounds) as f64 / 1e6;
    println!(
        "{path}: {rounds} x {} bytes: {:.0} MB/s, {:.1} M events/s",
        data.len(),
        mb / secs,
        events as f64 / secs / 1e6
    );
}

#[test]
#[ignore]
fn throughput_rdb_crate() {
    let path = std::env::var("RDB_BENCH").unwrap_or_else(|_| {
        fixture_dir()
            .join("redis-7.0-all-types.rdb")
            .display()
            .to_string()
    });
    let data = std::fs::read(&path).unwrap();
    let rounds = (200_000_000 / data.len()).clamp(1, 2000);
    let t = Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        use std::io::Read;
        let input = std::io::BufReader::new(data.as_slice().take(data.len() as u64));
        for v in ::rdb::RdbDecoder::new(input, ::rdb::filter::Simple::new()).unwrap() {
            v.unwrap();
            n += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "rdb crate: {:.0} MB/s ({n} values)",
        (data.len() * rounds) as f64 / 1e6 / secs
    );
}

#[test]
fn stream_v1_built_by_hand() {
    // Redis 5/6's stream (type 15): one node with a master entry (fields a, b), an entry with
    // the master fields, a deleted one, one with its own fields; a group with a PEL and a
    // consumer. v1 has no first/max-deleted IDs, entries-added, entries-read or active time.
    let lp = listpack_mixed(&[
        Ok(2), // live entries
        Ok(1), // deleted entries
        Ok(2), // master fields
        Err(b"a"),
        Err(b"b"),
        Ok(0), // end of the master entry
        Ok(2), // flags: SAMEFIELDS
        Ok(0), // ms - master ms
        Ok(0), // seq - master seq
        Err(b"1"),
        Err(b"2"),
        Ok(5), // lp-count: 2 values + 3
        Ok(3), // flags: SAMEFIELDS | DELETED
        Ok(0),
        Ok(1),
        Err(b"x"),
        Err(b"y"),
        Ok(5),
        Ok(0), // flags: own fields
        Ok(5),
        Ok(0),
        Ok(1), // one field
        Err(b"c"),
        Err(b"3"),
        Ok(6), // lp-count: 2*1 + 4
    ]);
    let raw_id = |ms: u64, seq: u64| {
        let mut v = ms.to_be_bytes().to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v
    };
    let mut f = Builder::new(9);
    f.raw(&[15]).string(b"s").len(1);
    f.string(&raw_id(100, 0)).string(&lp);
    f.len(2).len(105).len(0); // length, last id
    f.len(1).string(b"g").len(100).len(0); // one group, last delivered 100-0
    f.len(1)
        .raw(&raw_id(100, 0))
        .raw(&1234i64.to_le_bytes())
        .len(3); // its PEL
    f.len(1)
        .string(b"c")
        .raw(&999i64.to_le_bytes())
        .len(1)
        .raw(&raw_id(100, 0));
    let data = f.finish();
    let b = |s: &str| bytes::Bytes::from(s.to_string());
    let sid = |ms, seq| StreamId { ms, seq };
    assert_eq!(
        items_of(&data),
        vec![
            Item::StreamEntry {
                id: sid(100, 0),
                deleted: false,
                fields: vec![(b("a"), b("1")), (b("b"), b("2"))]
            },
            Item::StreamEntry {
                id: sid(100, 1),
                deleted: true,
                fields: vec![(b("a"), b("x")), (b("b"), b("y"))]
            },
            Item::StreamEntry {
                id: sid(105, 0),
                deleted: false,
                fields: vec![(b("c"), b("3"))]
            },
            Item::StreamMeta {
                length: 2,
                last_id: sid(105, 0),
                first_id: None,
                max_deleted_id: None,
                entries_added: None
            },
            Item::StreamGroup {
                name: b("g"),
                last_id: sid(100, 0),
                entries_read: None
            },
            Item::StreamPending {
                id: sid(100, 0),
                delivery_time_ms: 1234,
                delivery_count: 3
            },
            Item::StreamConsumer {
                name: b("c"),
                seen_time_ms: 999,
                active_time_ms: None
            },
            Item::StreamConsumerPending { id: sid(100, 0) },
        ]
    );
    let (events, _) = decode(&data);
    let end = events
        .iter()
        .find_map(|e| match e {
            Event::KeyEnd(k) => Some(k.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((end.items, end.encoding), (2, "stream"));
    // A wrong lp-count is caught where it is.
    let mut bad = data.clone();
    let at = bad.windows(lp.len()).position(|w| w == &lp[..]).unwrap();
    let last = at + lp.len() - 4; // the final lp-count entry: 2 bytes, backlen, then 0xFF
    bad[last + 1] = 7;
    let e = decode(&bad).1.unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Corrupt("stream entry's lp-count does not match")
    );
    assert_eq!(e.offset, last as u64);
}
