//! Glob-style matching with Redis's rules (`stringmatchlen` in `util.c`): `*`, `?`,
//! `[abc]`, `[^abc]`, `[a-z]` and `\` to escape. Used by KEYS, SCAN MATCH, PSUBSCRIBE and
//! CONFIG GET, so all four agree on what a pattern means.

/// Does `s` match `pattern`? `nocase` folds ASCII case (CONFIG GET uses it).
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    match_at(pattern, s, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_at(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Nesting of `*` is bounded so a pattern like `*a*a*a*...` cannot recurse without end.
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if match_at(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis treats the end as closing it.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            hit = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut a, mut b) = (p[0], p[2]);
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        let c = s[0];
                        let (lc, la, lb) = if nocase {
                            (
                                c.to_ascii_lowercase(),
                                a.to_ascii_lowercase(),
                                b.to_ascii_lowercase(),
                            )
                        } else {
                            (c, a, b)
                        };
                        if lc >= la && lc <= lb {
                            hit = true;
                        }
                        p = &p[2..];
                    } else if eq(p[0], s[0], nocase) {
                        hit = true;
                    }
                    p = &p[1..];
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // The class ran to the end of the pattern.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.is_empty() || !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        assert!(matches(b"*", b"anything", false));
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h*llo", b"heeeello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"h\\*llo", b"h*llo", false));
        assert!(!matches(b"h\\*llo", b"hello", false));
        assert!(matches(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(!matches(b"a", b"", false));
        assert!(matches(b"", b"", false));
    }
}
