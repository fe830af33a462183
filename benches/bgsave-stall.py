#!/usr/bin/env python3
"""Longest client stall during a BGSAVE of 1M keys, rtool next to real Redis 7.0, one run.

    python3 benches/bgsave-stall.py [KEYS]

For each server (on a free 127.0.0.1 port, in a temp dir): DEBUG POPULATE KEYS, then a
client sends PING back to back while another client starts BGSAVE; the longest PING round
trip from just before the BGSAVE until the save finishes is the stall. Also prints the
server's own `latest_fork_usec`. Both servers are stopped at the end.
"""
import os, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures", "gen"))
from resp_client import Conn

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def start(kind, d):
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", d, "--enable-debug-command", "yes", "--logfile", os.path.join(d, "log")]
    cmd = (["redis-server"] if kind == "redis" else [os.path.join(ROOT, "target/release/rtool"), "serve"]) + args
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            return p, Conn(port), port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{kind} did not start")


def info(c, field):
    for line in c.call("INFO", "everything").decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]


def measure(kind):
    d = tempfile.mkdtemp()
    p, c, port = start(kind, d)
    try:
        c.call("DEBUG", "POPULATE", KEYS)
        pinger = Conn(port)
        worst = [0.0]
        stop = threading.Event()

        def ping_loop():
            while not stop.is_set():
                t = time.perf_counter(); pinger.call("PING"); worst[0] = max(worst[0], time.perf_counter() - t)

        th = threading.Thread(target=ping_loop); th.start()
        time.sleep(0.2)
        worst[0] = 0.0
        t0 = time.perf_counter()
        c.call("BGSAVE")
        while info(c, "rdb_bgsave_in_progress") == "1" or info(c, "rdb_last_bgsave_time_sec") == "-1":
            time.sleep(0.01)
        took = time.perf_counter() - t0
        stop.set(); th.join()
        return worst[0] * 1000, int(info(c, "latest_fork_usec")), took, os.path.getsize(os.path.join(d, "dump.rdb"))
    finally:
        p.terminate(); p.wait()


subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
print(f"BGSAVE of {KEYS} keys (DEBUG POPULATE), longest PING round trip while it runs")
print(f"{'server':8} {'stall ms':>9} {'fork us':>9} {'save s':>7} {'rdb bytes':>11}")
for kind in ("redis", "rtool"):
    stall, fork, took, size = measure(kind)
    print(f"{kind:8} {stall:9.2f} {fork:9d} {took:7.2f} {size:11d}")
