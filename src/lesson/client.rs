//! A small blocking RESP client for lessons, and replies printed the way `redis-cli` prints
//! them, so the transcript looks like the learner's own terminal.
//!
//! Blocking on purpose: a lesson does one thing at a time, in order, and a read timeout is
//! all the concurrency it needs. Frames are decoded by the same [`resp::frame`](crate::resp::frame)
//! decoder the tap and the replica link use.

use crate::resp::frame::{Frame, decode};
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long a lesson waits for any one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// One connection to a node.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to `127.0.0.1:port`, from the source address `from` when given (a loopback
    /// address such as 127.0.0.2: the only way to look like "another machine" to protected
    /// mode without leaving this one).
    pub fn connect(port: u16, from: Option<IpAddr>) -> Result<Client> {
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = match from {
            None => TcpStream::connect_timeout(&to, Duration::from_secs(5))?,
            Some(ip) => {
                if !ip.is_loopback() {
                    bail!("a lesson only connects from loopback addresses, not {ip}");
                }
                // std cannot bind before connecting; tokio's TcpSocket can.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?;
                let s = rt.block_on(async {
                    let sock = tokio::net::TcpSocket::new_v4()?;
                    sock.bind(SocketAddr::new(ip, 0))?;
                    sock.connect(to).await
                })?;
                let s = s.into_std()?;
                s.set_nonblocking(false)?;
                s
            }
        };
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one command as a RESP array of bulk strings.
    pub fn send(&mut self, args: &[&[u8]]) -> Result<()> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// The next reply; `None` when the server closed the connection (SHUTDOWN, or a
    /// protected-mode refusal after its -DENIED).
    pub fn read(&mut self) -> Result<Option<Frame>> {
        loop {
            if !self.buf.is_empty() {
                match decode(&self.buf) {
                    Ok(Some((f, used))) => {
                        self.buf.drain(..used);
                        return Ok(Some(f));
                    }
                    Ok(None) => {}
                    Err(e) => bail!("undecodable reply: {e}"),
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e).context("no reply"),
            }
        }
    }

    /// Sends a command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> Result<Option<Frame>> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a)?;
        self.read()
    }

    /// `call` for commands whose reply is text (INFO): the text, or an error with the
    /// server's error reply.
    pub fn text(&mut self, args: &[&str]) -> Result<String> {
        match self.call(args)? {
            Some(f) => match plain(&f) {
                Ok(s) => Ok(s),
                Err(e) => bail!("{} replied {e}", args.join(" ")),
            },
            None => bail!("the connection closed during {}", args.join(" ")),
        }
    }
}

/// The text of a bulk or simple string reply, or the error text.
fn plain(f: &Frame) -> std::result::Result<String, String> {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    use redis_protocol::resp3::types::OwnedFrame as F3;
    match f {
        Frame::Resp2(F2::BulkString(b) | F2::SimpleString(b)) => {
            Ok(String::from_utf8_lossy(b).into_owned())
        }
        Frame::Resp2(F2::Error(e)) => Err(e.to_string()),
        Frame::Resp3(r) => match r.leaf() {
            Some(
                F3::BlobString { data, .. }
                | F3::SimpleString { data, .. }
                | F3::VerbatimString { data, .. },
            ) => Ok(String::from_utf8_lossy(data).into_owned()),
            Some(F3::SimpleError { data, .. }) => Err(data.to_string()),
            _ => Err(crate::present::timeline::frame_text(f)),
        },
        other => Err(crate::present::timeline::frame_text(other)),
    }
}

/// One `field:value` of an INFO reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
    })
}

/// A string as `redis-cli` quotes it: printable ASCII as is, `"` and `\` escaped, the rest
/// as `\n`, `\r`, `\t` or `\xHH`.
fn repr(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// A reply as `redis-cli` shows it in a terminal: `OK`, `(integer) 1`, `"redis"`, `(nil)`,
/// `(error) READONLY ...`, numbered array items. A bulk string with line breaks (INFO) is
/// shown as its lines, which is what a reader of `INFO` expects.
pub fn cli_text(f: &Frame) -> String {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    fn r2(f: &F2, indent: usize) -> String {
        match f {
            F2::SimpleString(s) => String::from_utf8_lossy(s).into_owned(),
            F2::Error(e) => format!("(error) {e}"),
            F2::Integer(i) => format!("(integer) {i}"),
            F2::BulkString(b) if b.contains(&b'\n') => String::from_utf8_lossy(b)
                .replace('\r', "")
                .trim_end()
                .to_string(),
            F2::BulkString(b) => repr(b),
            F2::Null => "(nil)".into(),
            F2::Array(a) if a.is_empty() => "(empty array)".into(),
            F2::Array(a) => {
                let w = a.len().to_string().len();
                let mut out = String::new();
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent));
                    }
                    let label = format!("{:>w$}) ", i + 1);
                    out.push_str(&label);
                    out.push_str(&r2(x, indent + label.len()));
                }
                out
            }
        }
    }
    match f {
        Frame::Resp2(f) => r2(f, 0),
        other => crate::present::timeline::frame_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_protocol::resp2::types::OwnedFrame as F2;

    #[test]
    fn replies_look_like_redis_cli() {
        let s = |f| cli_text(&Frame::Resp2(f));
        assert_eq!(s(F2::SimpleString("OK".as_bytes().to_vec())), "OK");
        assert_eq!(s(F2::Integer(2)), "(integer) 2");
        assert_eq!(s(F2::BulkString("redis".as_bytes().to_vec())), "\"redis\"");
        assert_eq!(s(F2::Null), "(nil)");
        assert_eq!(
            s(F2::Error("READONLY You can't".into())),
            "(error) READONLY You can't"
        );
        assert_eq!(
            s(F2::Array(vec![
                F2::BulkString("a".as_bytes().to_vec()),
                F2::Array(vec![F2::Integer(1), F2::Integer(2)])
            ])),
            "1) \"a\"\n2) 1) (integer) 1\n   2) (integer) 2"
        );
        assert_eq!(
            s(F2::BulkString(b"# Replication\r\nrole:master\r\n".to_vec())),
            "# Replication\nrole:master"
        );
        assert_eq!(info_field("a:1\r\nab:2\r\n", "ab").as_deref(), Some("2"));
    }
}
