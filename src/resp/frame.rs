//! Decoding any RESP2/RESP3 frame a *server* sends (replies, push messages), on the
//! `redis-protocol` crate. Used where rtool reads another server: the replica side of the
//! handshake, the tap, the tests.
//!
//! Never feed this the RDB transfer of a replication link (`$<len>\r\n` + payload without a
//! trailing CRLF): `redis-protocol` does not check the CRLF after a bulk string and would
//! swallow two bytes of the next command. `repl::stream` frames that part itself.

/// A decoded frame. RESP2 and RESP3 are decoded by different parsers of `redis-protocol`
/// (RESP3 has no `$-1`/`*-1` nulls, RESP2 has no maps or pushes), so a frame says which one
/// it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Resp2(redis_protocol::resp2::types::OwnedFrame),
    Resp3(redis_protocol::resp3::types::OwnedFrame),
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
                    Ok(Some((f, n))) => Ok(Some((Frame::Resp3(f), n))),
                    _ => Ok(None),
                };
            }
        }
        Err(_) => {}
    }
    match redis_protocol::resp3::decode::complete::decode(buf) {
        Ok(Some((f, n))) => Ok(Some((Frame::Resp3(f), n))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
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
}
