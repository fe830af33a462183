//! Decoding any RESP2/RESP3 frame a *server* sends (replies, push messages), on the
//! `redis-protocol` crate. Used where rtool reads another server: the replica side of the
//! handshake, the tap, the tests.
//!
//! Never feed this the RDB transfer of a replication link (`$<len>\r\n` + payload without a
//! trailing CRLF): `redis-protocol` does not check the CRLF after a bulk string and would
//! swallow two bytes of the next command. `repl::stream` frames that part itself.
//!
//! ## RESP3 aggregates keep their wire order
//!
//! `redis-protocol` gives a RESP3 map as a hash table and a set as a hash set, so the order
//! Redis sent them in (`HELLO 3`: `server`, `version`, `proto`, ...) is gone, and so is a
//! repeated key or member. People reading the tap must see what was on the wire, so a RESP3
//! frame is kept as a [`Resp3Frame`]: the crate still decodes the whole frame first (which
//! keeps its checks and its error texts exactly as they were), then [`walk`] goes over the
//! same bytes once more, reading each aggregate's header line (`*N`, `~N`, `%N`, `>N`, `|N`)
//! itself and handing every other element to the same `redis-protocol` decoder, which says
//! how long the element was. Elements come out in wire order, each with its byte offset.
//! (The crate's `index-map` feature is no way out: with it, map entries come out reversed.)

use redis_protocol::resp3::types::OwnedFrame;

/// A decoded frame. RESP2 and RESP3 are decoded by different parsers of `redis-protocol`
/// (RESP3 has no `$-1`/`*-1` nulls, RESP2 has no maps or pushes), so a frame says which one
/// it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Resp2(redis_protocol::resp2::types::OwnedFrame),
    Resp3(Resp3Frame),
}

/// One RESP3 frame as it was on the wire: its place in the outermost frame's bytes, the
/// attributes (`|N`) sent just before it, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Resp3Frame {
    /// Offset of the frame's type byte from the outermost frame's first byte.
    pub offset: usize,
    /// Bytes from the type byte to the end of the frame (its attributes not included).
    pub len: usize,
    /// The attribute map that came before the frame, in wire order (empty: none).
    pub attributes: Vec<(Resp3Frame, Resp3Frame)>,
    pub value: Resp3Value,
}

/// A RESP3 value: one that holds no other frame as `redis-protocol` decoded it, or an
/// aggregate with its elements in wire order (repeated keys and members included).
#[derive(Debug, Clone, PartialEq)]
pub enum Resp3Value {
    /// Anything but an aggregate (never `Array`, `Set`, `Map` or `Push`).
    Leaf(OwnedFrame),
    Array(Vec<Resp3Frame>),
    Set(Vec<Resp3Frame>),
    Push(Vec<Resp3Frame>),
    Map(Vec<(Resp3Frame, Resp3Frame)>),
}

impl Resp3Frame {
    /// The value when it is not an aggregate.
    pub fn leaf(&self) -> Option<&OwnedFrame> {
        match &self.value {
            Resp3Value::Leaf(f) => Some(f),
            _ => None,
        }
    }
}

/// Decode one frame from the start of `buf`: `Ok(Some((frame, used)))`, `Ok(None)` when more
/// bytes are needed, or an error describing the malformed input. RESP2 is tried first (what
/// servers speak unless HELLO 3 was sent), then RESP3.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    match redis_protocol::resp2::decode::decode(buf) {
        Ok(Some((f, n))) => return Ok(Some((Frame::Resp2(f), n))),
        Ok(None) => {
            // Incomplete as RESP2; a RESP3 frame can look incomplete to RESP2 only if it
            // starts like a RESP2 type, so ask RESP3 too before waiting for more.
            if matches!(buf.first(), Some(b'+' | b'-' | b':' | b'$' | b'*')) {
                return match redis_protocol::resp3::decode::complete::decode(buf) {
                    Ok(Some((_, n))) => resp3(buf, n),
                    _ => Ok(None),
                };
            }
        }
        Err(_) => {}
    }
    match redis_protocol::resp3::decode::complete::decode(buf) {
        Ok(Some((_, n))) => resp3(buf, n),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The wire-order view of the `n` bytes `redis-protocol` just accepted as one RESP3 frame.
fn resp3(buf: &[u8], n: usize) -> Result<Option<(Frame, usize)>, String> {
    let f = walk(&buf[..n])?;
    if f.offset + f.len != n {
        return Err(format!(
            "the RESP3 frame is {n} bytes, its elements end at byte {}",
            f.offset + f.len
        ));
    }
    Ok(Some((Frame::Resp3(f), n)))
}

/// An aggregate whose elements are still being read.
struct Open {
    /// The type byte: `*`, `~`, `%`, `>`, or `|` for an attribute map.
    kind: u8,
    offset: usize,
    /// Elements still expected (a map's and an attribute's count twice its header's).
    left: usize,
    items: Vec<Resp3Frame>,
    /// The attributes sent before the aggregate itself.
    attributes: Vec<(Resp3Frame, Resp3Frame)>,
}

/// Reads the RESP3 frame at the start of `buf` in wire order. `buf` must end where the frame
/// ends (`decode` gives this only what `redis-protocol` accepted); anything left over, missing
/// or malformed is an error naming the offset, never a panic. The nesting is kept on a heap
/// stack rather than the call stack, and nothing is reserved from an announced count beyond
/// what the bytes can hold.
pub fn walk(buf: &[u8]) -> Result<Resp3Frame, String> {
    let mut stack: Vec<Open> = Vec::new();
    // Attributes read and waiting for the frame they belong to (the next one).
    let mut pending: Vec<(Resp3Frame, Resp3Frame)> = Vec::new();
    let mut pos = 0;
    loop {
        let Some(&kind) = buf.get(pos) else {
            return Err(format!(
                "the frame ends at byte {pos}, before its last element"
            ));
        };
        let mut done = if matches!(kind, b'*' | b'~' | b'%' | b'>' | b'|') {
            let (count, after) = header(buf, pos)?;
            if kind == b'|' && !pending.is_empty() {
                return Err(format!("two attribute maps in a row at byte {pos}"));
            }
            let left = if matches!(kind, b'%' | b'|') {
                count
                    .checked_mul(2)
                    .ok_or_else(|| format!("map of {count} entries at byte {pos}"))?
            } else {
                count
            };
            // Each element takes at least 3 bytes (`_\r\n`): a count is never trusted further.
            let room = (buf.len() - after) / 3;
            stack.push(Open {
                kind,
                offset: pos,
                left,
                items: Vec::with_capacity(left.min(room)),
                attributes: std::mem::take(&mut pending),
            });
            pos = after;
            None
        } else {
            let (f, used) = match redis_protocol::resp3::decode::complete::decode(&buf[pos..]) {
                Ok(Some(x)) => x,
                Ok(None) => return Err(format!("element at byte {pos} is incomplete")),
                Err(e) => return Err(format!("element at byte {pos}: {e}")),
            };
            if matches!(
                f,
                OwnedFrame::Array { .. }
                    | OwnedFrame::Set { .. }
                    | OwnedFrame::Map { .. }
                    | OwnedFrame::Push { .. }
            ) {
                return Err(format!("unexpected aggregate at byte {pos}"));
            }
            let leaf = Resp3Frame {
                offset: pos,
                len: used,
                attributes: std::mem::take(&mut pending),
                value: Resp3Value::Leaf(f),
            };
            pos += used;
            Some(leaf)
        };
        // Close every aggregate the last element completed, innermost first (an empty one
        // is complete as soon as it is opened).
        loop {
            if done.is_none() {
                match stack.last() {
                    Some(top) if top.left == 0 => {
                        let top = stack.pop().expect("a top");
                        if top.kind == b'|' {
                            // Not an element: it belongs to the frame that follows.
                            pending = pairs(top.items);
                            break;
                        }
                        done = Some(close(top, pos));
                    }
                    _ => break,
                }
            }
            let Some(f) = done.take() else { break };
            match stack.last_mut() {
                None if pos == buf.len() => return Ok(f),
                None => {
                    return Err(format!(
                        "the frame ends at byte {pos}, {} bytes early",
                        buf.len() - pos
                    ));
                }
                Some(top) => {
                    top.items.push(f);
                    top.left -= 1;
                }
            }
        }
    }
}

/// Reads an aggregate header `<kind><count>\r\n` at `pos`: the count and where the elements
/// start. As `redis-protocol` reads it: `*`, `~` and `%` as a signed number (`?`, a streamed
/// aggregate, is refused like any negative count), `>` and `|` as an unsigned one.
fn header(buf: &[u8], pos: usize) -> Result<(usize, usize), String> {
    let kind = buf[pos] as char;
    let rest = &buf[pos + 1..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| format!("header `{kind}` at byte {pos} has no CRLF"))?;
    let text = std::str::from_utf8(&rest[..end]).ok();
    let count = match kind {
        '>' | '|' => text.and_then(|t| t.parse::<usize>().ok()),
        _ => text
            .and_then(|t| t.parse::<isize>().ok())
            .and_then(|n| usize::try_from(n).ok()),
    };
    let count = count.ok_or_else(|| {
        format!(
            "header `{kind}{}` at byte {pos} is not a count",
            String::from_utf8_lossy(&rest[..end])
        )
    })?;
    Ok((count, pos + 1 + end + 2))
}

/// A finished aggregate as a frame ending at `end`.
fn close(o: Open, end: usize) -> Resp3Frame {
    let value = match o.kind {
        b'~' => Resp3Value::Set(o.items),
        b'>' => Resp3Value::Push(o.items),
        b'%' => Resp3Value::Map(pairs(o.items)),
        _ => Resp3Value::Array(o.items),
    };
    Resp3Frame {
        offset: o.offset,
        len: end - o.offset,
        attributes: o.attributes,
        value,
    }
}

/// Keys and values, alternating, as pairs (the count was doubled, so there is no odd one).
fn pairs(items: Vec<Resp3Frame>) -> Vec<(Resp3Frame, Resp3Frame)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_resp2_and_resp3() {
        let (f, n) = decode(b"+FULLRESYNC abc 0\r\nrest").unwrap().unwrap();
        assert_eq!(n, 19);
        assert!(matches!(f, Frame::Resp2(_)));
        assert!(decode(b"*2\r\n$1\r\na\r\n").unwrap().is_none());
        let (f, _) = decode(b"%1\r\n+a\r\n:1\r\n").unwrap().unwrap();
        assert!(matches!(f, Frame::Resp3(_)));
        let (_, n) = decode(b"*2\r\n$-1\r\n:1\r\n").unwrap().unwrap();
        assert_eq!(n, 13);
        let (_, n) = decode(b"*2\r\n_\r\n,1.5\r\n").unwrap().unwrap();
        assert_eq!(n, 13);
    }

    /// The bytes each element was read from, for comparing with the wire.
    fn text(buf: &[u8], f: &Resp3Frame) -> String {
        String::from_utf8_lossy(&buf[f.offset..f.offset + f.len]).into_owned()
    }

    #[test]
    fn maps_keep_wire_order_and_repeats() {
        // Keys chosen so that no sorting and no hashing gives this order by chance, one
        // repeated, a nested map, an empty set and a set with a repeated member.
        let buf = b"%4\r\n+zz\r\n:1\r\n$2\r\naa\r\n%2\r\n+y\r\n_\r\n+b\r\n#t\r\n+zz\r\n:2\r\n+m\r\n~3\r\n+q\r\n+a\r\n+q\r\nrest";
        let (f, n) = decode(buf).unwrap().unwrap();
        assert_eq!(n, buf.len() - 4);
        let Frame::Resp3(f) = f else { panic!("{f:?}") };
        assert_eq!((f.offset, f.len), (0, n));
        let Resp3Value::Map(m) = &f.value else {
            panic!("{f:?}")
        };
        let keys: Vec<String> = m.iter().map(|(k, _)| text(buf, k)).collect();
        assert_eq!(keys, ["+zz\r\n", "$2\r\naa\r\n", "+zz\r\n", "+m\r\n"]);
        let Resp3Value::Map(inner) = &m[1].1.value else {
            panic!()
        };
        let inner: Vec<String> = inner.iter().map(|(k, _)| text(buf, k)).collect();
        assert_eq!(inner, ["+y\r\n", "+b\r\n"]);
        let Resp3Value::Set(s) = &m[3].1.value else {
            panic!()
        };
        let s: Vec<String> = s.iter().map(|x| text(buf, x)).collect();
        assert_eq!(s, ["+q\r\n", "+a\r\n", "+q\r\n"]);
    }

    #[test]
    fn attributes_go_to_the_next_frame() {
        let buf = b"*2\r\n|1\r\n+ttl\r\n:5\r\n$1\r\nk\r\n%0\r\n";
        let (f, _) = decode(buf).unwrap().unwrap();
        let Frame::Resp3(f) = f else { panic!() };
        let Resp3Value::Array(a) = &f.value else {
            panic!("{f:?}")
        };
        assert_eq!(a.len(), 2);
        assert_eq!(text(buf, &a[0]), "$1\r\nk\r\n");
        assert_eq!(a[0].attributes.len(), 1);
        assert_eq!(text(buf, &a[0].attributes[0].0), "+ttl\r\n");
        assert_eq!(a[1].value, Resp3Value::Map(vec![]));
        // At the top too.
        let buf = b"|1\r\n+a\r\n+b\r\n~1\r\n:1\r\n";
        let (f, n) = decode(buf).unwrap().unwrap();
        assert_eq!(n, buf.len());
        let Frame::Resp3(f) = f else { panic!() };
        assert_eq!((f.offset, f.attributes.len()), (12, 1));
    }

    #[test]
    fn bad_bytes_are_errors() {
        // What redis-protocol itself refuses keeps its own error.
        assert!(decode(b"%1\r\n*1\r\n:1\r\n:2\r\n").is_err());
        // The walker alone, on slices decode would never hand it.
        for bad in [
            &b"%1\r\n+a\r\n"[..],
            b"%x\r\n",
            b"~-1\r\n",
            b"*?\r\n",
            b"%1",
            b"*1\r\n:1\r\n:2\r\n",
            b"|1\r\n+a\r\n+b\r\n|1\r\n+a\r\n+b\r\n:1\r\n",
            b"*1\r\n$5\r\nab\r\n",
            b"",
        ] {
            assert!(walk(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// `decode` before frames kept their wire order, reduced to what it said about the
    /// bytes: the frame's length or its error. The wire-order view must not change either.
    fn before(buf: &[u8]) -> Result<Option<usize>, String> {
        use redis_protocol::{resp2, resp3};
        match resp2::decode::decode(buf) {
            Ok(Some((_, n))) => return Ok(Some(n)),
            Ok(None) => {
                if matches!(buf.first(), Some(b'+' | b'-' | b':' | b'$' | b'*')) {
                    return match resp3::decode::complete::decode(buf) {
                        Ok(Some((_, n))) => Ok(Some(n)),
                        _ => Ok(None),
                    };
                }
            }
            Err(_) => {}
        }
        match resp3::decode::complete::decode(buf) {
            Ok(Some((_, n))) => Ok(Some(n)),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Every element's offset and length name bytes that decode, alone, to that element.
    fn check_offsets(buf: &[u8], f: &Resp3Frame) {
        let own = &buf[f.offset..f.offset + f.len];
        let (alone, n) = redis_protocol::resp3::decode::complete::decode(own)
            .unwrap()
            .unwrap();
        assert_eq!(n, f.len);
        if let Resp3Value::Leaf(l) = &f.value {
            assert_eq!(&alone, l);
        }
        let mut kids: Vec<&Resp3Frame> = f.attributes.iter().flat_map(|(k, v)| [k, v]).collect();
        match &f.value {
            Resp3Value::Leaf(_) => {}
            Resp3Value::Array(a) | Resp3Value::Set(a) | Resp3Value::Push(a) => kids.extend(a),
            Resp3Value::Map(m) => kids.extend(m.iter().flat_map(|(k, v)| [k, v])),
        }
        // In wire order, one after the other.
        let mut at = 0;
        for k in f.attributes.iter().flat_map(|(k, v)| [k, v]) {
            assert!(k.offset >= at);
            at = k.offset + k.len;
        }
        assert!(at <= f.offset, "attributes end after their frame starts");
        at = f.offset;
        for k in &kids[f.attributes.len() * 2..] {
            assert!(k.offset >= at, "{k:?} before {at}");
            at = k.offset + k.len;
        }
        for k in kids {
            check_offsets(buf, k);
        }
    }

    /// The `HELLO 3` reply of real Redis 7.0.15, from the client capture.
    fn hello_reply() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repl/client.capture");
        let cap =
            crate::repl::stream::capture::Capture::parse(&std::fs::read_to_string(path).unwrap())
                .unwrap();
        let m2r = cap.stream(1, crate::repl::stream::Dir::MasterToReplica);
        let at = m2r.windows(2).position(|w| w == b"%7").unwrap();
        let (_, n) = decode(&m2r[at..]).unwrap().unwrap();
        m2r[at..at + n].to_vec()
    }

    #[test]
    fn hello_keys_in_wire_order() {
        let buf = hello_reply();
        let Some((Frame::Resp3(f), _)) = decode(&buf).unwrap() else {
            panic!()
        };
        check_offsets(&buf, &f);
        let Resp3Value::Map(m) = &f.value else {
            panic!()
        };
        // The keys as they follow each other in the bytes, found without the decoder.
        let text = String::from_utf8_lossy(&buf);
        let mut wire: Vec<(usize, String)> = m
            .iter()
            .map(|(k, _)| {
                let Some(OwnedFrame::BlobString { data, .. }) = k.leaf() else {
                    panic!()
                };
                let name = String::from_utf8_lossy(data).into_owned();
                (text.find(&format!("\r\n{name}\r\n")).unwrap(), name)
            })
            .collect();
        let ours: Vec<String> = wire.iter().map(|(_, n)| n.clone()).collect();
        wire.sort();
        let by_position: Vec<String> = wire.into_iter().map(|(_, n)| n).collect();
        assert_eq!(ours, by_position);
        let mut sorted = ours.clone();
        sorted.sort();
        assert_ne!(ours, sorted, "a sorted map would pass this test too");
    }

    proptest::proptest! {
        /// Truncated and corrupted RESP3 maps: never a panic, the same verdict (length or
        /// error text) as before wire order was kept, and offsets that hold.
        #[test]
        fn corrupted_maps_never_panic(
            sample in 0usize..3,
            cut in proptest::option::of(0usize..400),
            edits in proptest::collection::vec((0usize..400, proptest::num::u8::ANY, 0u8..3), 0..4),
        ) {
            let mut buf = match sample {
                0 => hello_reply(),
                1 => b"%2\r\n+groups\r\n*1\r\n%2\r\n$4\r\nname\r\n$1\r\ng\r\n$3\r\npel\r\n~2\r\n:2\r\n:1\r\n$3\r\nlen\r\n:0\r\n".to_vec(),
                _ => b">3\r\n|1\r\n+k\r\n#t\r\n%1\r\n,1.5\r\n_\r\n~0\r\n(12\r\n".to_vec(),
            };
            for (at, byte, how) in edits {
                let at = at % (buf.len() + 1);
                match how {
                    0 if at < buf.len() => buf[at] = byte,
                    1 => buf.insert(at, byte),
                    _ if at < buf.len() => { buf.remove(at); }
                    _ => {}
                }
            }
            if let Some(c) = cut {
                buf.truncate(c.min(buf.len()));
            }
            let got = decode(&buf);
            proptest::prop_assert_eq!(
                got.as_ref().map(|o| o.as_ref().map(|(_, n)| *n)).map_err(Clone::clone),
                before(&buf)
            );
            if let Ok(Some((Frame::Resp3(f), n))) = &got {
                proptest::prop_assert_eq!(f.offset + f.len, *n);
                check_offsets(&buf[..*n], f);
            }
            // The walker alone, on any prefix: an answer or an error, nothing else.
            for end in 0..buf.len().min(64) {
                let _ = walk(&buf[..end]);
            }
        }
    }
}
