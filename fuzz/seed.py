#!/usr/bin/env python3
"""Seeds the corpora of the fuzz targets from the repository's fixtures.

Run from the repository root: `python3 fuzz/seed.py` writes fuzz/corpus/<target>/ for `rdb`,
`resp_request`, `link` and `aof` (the directories are git-ignored). Each seed starts with the
target's control byte (see the targets' doc comments); libFuzzer mutates that byte too.
"""
import glob
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def out_dir(target):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    return d


def write(target, name, data):
    with open(os.path.join(out_dir(target), name), "wb") as f:
        f.write(data)


def captures():
    """(name, conn, [(dir, bytes)]) for every connection of every capture, in record order."""
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures", "repl", "*.capture"))):
        name = os.path.basename(path)[: -len(".capture")]
        conns = {}
        with open(path) as f:
            next(f)  # the header
            for line in f:
                rec = json.loads(line)
                if "hex" in rec:
                    conns.setdefault(rec["conn"], []).append((rec["dir"], bytes.fromhex(rec["hex"])))
        for conn, recs in sorted(conns.items()):
            yield name, conn, recs


def main():
    # rdb: the control byte picks the piece size (16 here).
    rdbs = glob.glob(os.path.join(ROOT, "fixtures", "rdb", "*.rdb"))
    rdbs += glob.glob(os.path.join(ROOT, "fixtures", "rdb", "foreign", "*.rdb"))
    for p in rdbs:
        write("rdb", os.path.basename(p), b"\x0f" + open(p, "rb").read())

    # link: one seed per connection; a record is <dir bit> <u16 LE length> <bytes>.
    for name, conn, recs in captures():
        data = bytearray(b"\x10")
        for d, b in recs:
            tag = 0 if d == "r2m" else 1
            for i in range(0, max(len(b), 1), 0xFFFF):
                part = b[i : i + 0xFFFF]
                data += bytes([tag]) + struct.pack("<H", len(part)) + part
        write("link", f"{name}-{conn}", bytes(data))
        # resp_request: what the replica (or client) sent, pieces of 7 bytes.
        r2m = b"".join(b for d, b in recs if d == "r2m")
        if r2m:
            write("resp_request", f"{name}-{conn}", b"\x06" + r2m)

    # aof and resp_request: every AOF file (and RDB base) of the fixtures; an incr file is a
    # valid stream of multibulk requests too.
    for p in sorted(glob.glob(os.path.join(ROOT, "fixtures", "aof", "*", "appendonly.aof*"))):
        if p.endswith(".manifest"):
            continue
        data = open(p, "rb").read()
        name = os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p)
        write("aof", name, b"\x0c" + data)  # preamble allowed, pieces of 7
        if not data.startswith(b"REDIS") and data:
            write("resp_request", "aof-" + name, b"\x06" + data)

    # resp_request: inline requests and the protocol errors' neighbourhoods.
    for i, s in enumerate(
        [
            b"PING\r\nset k \"a b\\x41\\n\" 'c\\'d'\r\n\r\n\n",
            b"*0\r\n*-1\r\n*1\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*11\r\n" + b"$1\r\na\r\n" * 11,
            b"*1\r\n$17\r\n" + b"x" * 17 + b"\r\n",
        ]
    ):
        write("resp_request", f"hand-{i}", b"\x06" + s)
        write("resp_request", f"hand-{i}-limits", b"\xc6" + s)


if __name__ == "__main__":
    main()
