//! Decoding any RESP2/RESP3 frame a *server* sends (replies, push messages), on the
//! `redis-protocol` crate. Used where rtool reads another server: the replica side of the
//! handshake, the tap, the tests.
//!
//! Never feed this the RDB transfer of a replication link (`$<len>\r\n` + payload without a
//! trailing CRLF): `redis-protocol` does not check the CRLF after a bulk string and would
//! swallow two bytes of the next command. `repl::stream` frames that part itself.

pub use redis_protocol::resp3::types::OwnedFrame as Frame;

/// Decode one frame from the start of `buf`: `Ok(Some((frame, used)))`, `Ok(None)` when more
/// bytes are needed, or an error describing the malformed input.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    redis_protocol::resp3::decode::complete::decode(buf).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_resp2_and_resp3() {
        let (f, n) = decode(b"+FULLRESYNC abc 0\r\nrest").unwrap().unwrap();
        assert_eq!(n, 19);
        assert!(matches!(f, Frame::SimpleString { .. }));
        assert!(decode(b"*2\r\n$1\r\na\r\n").unwrap().is_none());
        let (f, _) = decode(b"%1\r\n+a\r\n:1\r\n").unwrap().unwrap();
        assert!(matches!(f, Frame::Map { .. }));
    }
}
