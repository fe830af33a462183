//! Plain-English notes on the commands of a master's stream.
//!
//! A master does not always propagate what its clients typed: Redis 7.0 rewrites a command
//! into a form that gives the same result on the replica whenever the original depends on
//! time, randomness or state the replica might not share (`EXPIRE` becomes `PEXPIREAT` with an
//! absolute time; `SPOP` becomes `SREM` of the member it happened to pick; `INCRBYFLOAT`
//! becomes a `SET` of the result so float formatting cannot differ). A replica sees only the
//! result, so a note can say which client commands produce a form, not which one did here:
//! a `SREM` is either a client's `SREM` or an `SPOP`'s effect. The notes are worded that way.
//!
//! Each note was checked against what a real Redis 7.0.15 master sends (see
//! `fixtures/repl/disk-sync.capture` and REDIS-FACTS.md).

use bytes::Bytes;

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

fn has(args: &[Bytes], word: &str) -> bool {
    args.iter().skip(1).any(|a| eq(a, word))
}

/// The note for a command of the master's stream, if its form says something about how it
/// got there.
pub fn note(args: &[Bytes]) -> Option<&'static str> {
    let name = args.first()?;
    // Lower-case the name on the stack: this runs for every command of the stream.
    let mut buf = [0u8; 16];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"pexpireat" => {
            "EXPIRE, PEXPIRE, EXPIREAT and GETEX EX/PX/EXAT are propagated as PEXPIREAT: the TTL \
             becomes an absolute unix time in ms, so a replica applying it late still expires \
             the key at the same moment"
        }
        b"set" if has(args, "pxat") => {
            "SET EX/PX/EXAT, SETEX and PSETEX are propagated as SET ... PXAT: the TTL becomes an \
             absolute unix time in ms"
        }
        b"set" if args.len() == 4 && eq(&args[3], "keepttl") => {
            "INCRBYFLOAT is propagated as SET <result> KEEPTTL: the replica stores the master's \
             result instead of redoing float arithmetic, and the key keeps its TTL"
        }
        b"srem" => {
            "SPOP is propagated as SREM of the members it popped (several SREMs inside \
             MULTI/EXEC for SPOP with a count)"
        }
        b"xclaim" if has(args, "force") && has(args, "justid") && has(args, "lastid") => {
            "XREADGROUP, XCLAIM and XAUTOCLAIM propagate each delivery as XCLAIM ... FORCE \
             JUSTID LASTID: the entry's new owner, delivery time and count, and the group's \
             last delivered ID"
        }
        b"xgroup" if args.len() > 1 && eq(&args[1], "setid") && has(args, "entriesread") => {
            "a group read that moved the cursor without a claim (NOACK, LASTID) is propagated \
             as XGROUP SETID ... ENTRIESREAD"
        }
        b"xgroup" if args.len() > 1 && eq(&args[1], "createconsumer") => {
            "a NOACK XREADGROUP's new consumer is propagated as XGROUP CREATECONSUMER"
        }
        b"xadd" => {
            "XADD travels with the concrete entry ID the master generated (never `*`), and \
             approximate trimming (`~`) becomes exact (`=`)"
        }
        b"xtrim" => "approximate trimming (`~`) is propagated as exact (`=`) with what was kept",
        b"persist" => "GETEX PERSIST is propagated as PERSIST",
        b"hset" if args.len() == 4 => {
            "HINCRBYFLOAT is propagated as HSET of the result (no float arithmetic on the \
             replica)"
        }
        b"del" | b"unlink" => {
            "a client's delete, or a key the master expired or evicted: replicas never expire \
             keys on their own, they wait for this"
        }
        b"lpop" | b"rpop" => {
            "BLPOP/BRPOP, LMPOP and BLMPOP are propagated as their effect: LPOP/RPOP of what \
             they took"
        }
        b"rpoplpush" => "BRPOPLPUSH is propagated as RPOPLPUSH",
        b"lmove" => "BLMOVE is propagated as LMOVE",
        b"zpopmin" | b"zpopmax" => {
            "BZPOPMIN/BZPOPMAX, ZMPOP and BZMPOP are propagated as ZPOPMIN/ZPOPMAX of what they \
             took"
        }
        b"multi" => {
            "a transaction, or the effects of a script or function (EVAL, FCALL) or of one \
             command with several effects: the replica applies everything up to EXEC at once"
        }
        b"publish" | b"spublish" => {
            "PUBLISH reaches replicas (for their own subscribers) but is never written to the \
             AOF"
        }
        b"select" => "the next writes are in this database (sent whenever it changes)",
        b"ping" => {
            "the master's keepalive, every repl-ping-replica-period seconds; it counts in the \
             offset like any command"
        }
        b"replconf" if args.len() > 1 && eq(&args[1], "getack") => {
            "the master asks for an ACK now (WAIT sends this); the replica answers with its \
             offset before this command"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn labels_rewrites() {
        assert!(note(&args("PEXPIREAT k 1")).unwrap().starts_with("EXPIRE"));
        assert!(note(&args("SET k v PXAT 1")).unwrap().contains("SETEX"));
        assert!(
            note(&args("SET fl 1.5 KEEPTTL"))
                .unwrap()
                .contains("INCRBYFLOAT")
        );
        assert!(note(&args("set k v")).is_none());
        assert!(
            note(&args(
                "XCLAIM s g c 0 1-1 TIME 1 RETRYCOUNT 1 FORCE JUSTID LASTID 1-1"
            ))
            .unwrap()
            .contains("XREADGROUP")
        );
        assert!(note(&args("XCLAIM s g c 0 1-1")).is_none());
        assert!(note(&args("ping")).is_some());
        assert!(note(&[]).is_none());
    }
}
