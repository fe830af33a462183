//! `sdssplitargs`: how Redis splits an inline command line and a line of `redis.conf`.
//!
//! Arguments are separated by whitespace; `"double quotes"` understand `\n \r \t \b \a \\ \"`
//! and `\xHH`; `'single quotes'` understand only `\'`. A closing quote must be followed by a
//! space or the end of the line. This is the same function for both uses in Redis
//! (`processInlineBuffer` and `loadServerConfigFromString`), so it is one function here.

/// The line had an unterminated quote, or a closing quote glued to the next character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnbalancedQuotes;

/// Split `line` into arguments like Redis's `sdssplitargs`.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, UnbalancedQuotes> {
    // Redis works on a C string here: a NUL byte ends the line.
    let line = match memchr::memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(out);
        }
        let mut cur = Vec::new();
        let mut inq = false; // inside "double quotes"
        let mut insq = false; // inside 'single quotes'
        loop {
            if inq {
                if i >= n {
                    return Err(UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or nothing.
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if i >= n {
                    return Err(UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

fn is_space(c: u8) -> bool {
    // C's isspace(): space, \t, \n, \v, \f, \r
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split_args(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(s("  set  a   b "), ["set", "a", "b"]);
        assert_eq!(s(r#"set "a b" 'c d'"#), ["set", "a b", "c d"]);
        assert_eq!(s(r#"echo "\x41\n""#), ["echo", "A\n"]);
        assert_eq!(s(r#"echo 'it\'s'"#), ["echo", "it's"]);
        assert_eq!(s(r#"a"b""#), ["ab"]);
        assert!(s("").is_empty());
        assert!(split_args(br#"set "a"b"#).is_err());
        assert!(split_args(br#"set "abc"#).is_err());
        assert!(split_args(b"set 'abc").is_err());
        assert_eq!(split_args(b"a\0b c").unwrap(), vec![b"a".to_vec()]);
    }
}
