#!/usr/bin/env python3
"""Benchmark `vigil serve` against its peers, measured in the same run.

  (a) hook events accepted per second, durable (SQLite synchronous=FULL),
      64 concurrent wrk clients posting AWS events with unique keys; beside
      nginx answering the same POST with a bare 202, and SQLite alone
      inserting the same rows 64 per transaction (and one per transaction)
  (b) POST /v1/scan of 4 KiB bodies at concurrency 8, req/s, p50 and p99,
      beside clamd INSTREAM (8 IDSESSION connections) with the same
      signatures; one C client (scanload.c) drives both
  (c) the same with 1 MiB bodies, MiB/s
  (d) vigil's peak RSS (VmHWM) after all of it

Exit status 0 whenever every tool ran, whatever the ratios; 1 when a tool
failed to run; 64 on a usage error.  Needs wrk, nginx-light and
clamav-daemon (scripts/install-deps --bench) and a C compiler.
Standard library only.  See bench/serve/README.md.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOKEN = "bench-hook-token-0123456789abcdef"
KEYWORDS = ["zqx%02dforbidden%02dmarker" % (i, i * 7 % 97) for i in range(40)]
FAILURES = []
PROCS = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=60, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start(name, argv, work, **kw):
    logf = open(os.path.join(work, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=logf, stderr=logf, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wrk(port, mode, conns, threads, seconds, body=None):
    env = dict(os.environ, VIGIL_BENCH_MODE=mode, VIGIL_BENCH_TOKEN=TOKEN)
    if body:
        env["VIGIL_BENCH_BODY"] = body
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--timeout", "10s", "-s", os.path.join(HERE, "wrk.lua"),
           "http://127.0.0.1:%d" % port]
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            j = json.loads(line[8:])
            j["rate"] = j["requests"] / (j["duration_us"] / 1e6)
            errs = j["connect"] + j["read"] + j["write"] + j["status"] + \
                j["timeout"]
            if errs:
                log("  wrk: %d errors (status %d)" % (errs, j["status"]))
            return j
    FAILURES.append("wrk %s: %s" % (mode, r.stderr.strip()[-300:]))
    return None


# ------------------------------------------------------------ set-up


def write_rules(work):
    rdir = os.path.join(work, "rules")
    cdir = os.path.join(work, "clamdb")
    for d in (rdir, cdir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    with open(os.path.join(rdir, "bench.yar"), "w") as f:
        for i, k in enumerate(KEYWORDS):
            f.write('rule kw%02d\n{\n    meta:\n        clause = "IV.9(7)"\n'
                    '        severity = "high"\n    strings:\n'
                    '        $a = "%s"\n    condition:\n        $a\n}\n\n'
                    % (i, k))
    # The same literals as ClamAV body signatures, any file type, anywhere.
    with open(os.path.join(cdir, "bench.ndb"), "w") as f:
        for i, k in enumerate(KEYWORDS):
            f.write("kw%02d:0:*:%s\n" % (i, k.encode().hex()))
    return rdir, cdir


def write_body(work, size, name):
    """Plain English-like text, no keyword; deterministic."""
    rnd = random.Random(size)
    words = ("the of and to in is was that for on with as by at from "
             "storage bucket object account customer upload policy file "
             "report invoice data backup photo archive terms service "
             "network request system update").split()
    out = []
    n = 0
    while n < size:
        w = rnd.choice(words)
        out.append(w)
        n += len(w) + 1
    data = (" ".join(out)).encode()[:size]
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def start_vigil(args, work, rules):
    state = os.path.join(work, "vigil-state")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    conf = os.path.join(work, "vigil.conf")
    with open(conf, "w") as f:
        f.write("[serve]\nlog_level = warn\nmax_connections = 1024\n"
                "token = hook %s\nuser =\n" % TOKEN)
    p = start("vigil", [args.vigil, "serve", "--config", conf, "--listen",
                        "127.0.0.1:0", "--state-dir", state, "--rules",
                        rules], work)
    pf = os.path.join(state, "port")
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(pf):
        if p.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(pf):
        FAILURES.append("vigil serve did not start (%s/vigil.log)" % work)
        return None, None, None
    port = int(open(pf).read())
    return p, port, state


def start_nginx(work):
    ndir = os.path.join(work, "nginx")
    shutil.rmtree(ndir, ignore_errors=True)
    os.makedirs(ndir)
    port = free_port()
    conf = os.path.join(ndir, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes auto;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(p)d;
        location / { return 202; }
    }
}
""" % {"d": ndir, "p": port})
    p = start("nginx", ["nginx", "-c", conf, "-p", ndir], work)
    if not wait_port(port, 30, p):
        FAILURES.append("nginx did not start (%s/error.log)" % ndir)
        return None, None
    return p, port


def start_clamd(work, cdir):
    port = free_port()
    conf = os.path.join(work, "clamd.conf")
    size = "4M"
    with open(conf, "w") as f:
        f.write("TCPSocket %d\nTCPAddr 127.0.0.1\nDatabaseDirectory %s\n"
                "LogFile %s/clamd.log\nPidFile %s/clamd.pid\nForeground yes\n"
                "MaxThreads 8\nStreamMaxLength %s\nMaxFileSize %s\n"
                "MaxScanSize %s\nBytecode no\nSelfCheck 0\n"
                % (port, cdir, work, work, size, size, size))
    p = start("clamd", ["clamd", "-c", conf], work)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        try:
            s = socket.create_connection(("127.0.0.1", port), 1)
            s.sendall(b"zPING\0")
            if s.recv(16).startswith(b"PONG"):
                s.close()
                return p, port
            s.close()
        except OSError:
            pass
        time.sleep(0.1)
    FAILURES.append("clamd did not start (%s/clamd.log)" % work)
    return None, None


def scanload(work, proto, port, body, conns, seconds):
    """scanload.c against clamd (INSTREAM) or vigil (POST /v1/scan)."""
    exe = os.path.join(work, "scanload")
    cmd = [exe, proto, str(port), body, str(conns), str(seconds)]
    if proto == "http":
        cmd.append(TOKEN)
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        FAILURES.append("scanload %s: %s" % (proto, r.stderr.strip()[-300:]))
        return None
    j["rate"] = j["requests"] / j["seconds"]
    if j["errors"]:
        log("  scanload %s: %d errors" % (proto, j["errors"]))
    return j


# ------------------------------------------------------------ SQLite


SCHEMA = """CREATE TABLE inbox (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL, key TEXT NOT NULL, dedup TEXT NOT NULL,
  etag TEXT, version_id TEXT, sequencer TEXT, account TEXT,
  source TEXT, size INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  received REAL NOT NULL,
  UNIQUE (bucket, key, dedup));
CREATE INDEX inbox_state ON inbox (state, id);"""


def sqlite_rows(work, group, seconds):
    """Rows/s inserting the daemon's inbox rows, group per commit."""
    path = os.path.join(work, "sqlite-%d.db" % group)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(SCHEMA)
    sql = ("INSERT OR IGNORE INTO inbox (bucket, key, dedup, etag, "
           "version_id, sequencer, account, source, size, received) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    n = 0
    t0 = time.time()
    while time.time() - t0 < seconds:
        rows = [("bench", "bench/t1/object %09d.txt" % (n + i),
                 "e:%032x|s:%018X" % (n + i, n + i), "%032x" % (n + i), "",
                 "%018X" % (n + i), "A3BENCHOWNER", "aws", 4096,
                 time.time()) for i in range(group)]
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
        n += group
    took = time.time() - t0
    db.close()
    return n / took


# ------------------------------------------------------------ report


def mark(ok):
    return "[PASS]" if ok else "[FAIL]"


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vigil", default=None,
                    help="vigil binary (default build/daemon/vigil, "
                    "then /tmp/build-serve/daemon/vigil)")
    ap.add_argument("--work", default="/tmp/vigil-bench-serve")
    ap.add_argument("--seconds", type=int, default=10,
                    help="duration of each load run (default 10)")
    ap.add_argument("--reps", type=int, default=2,
                    help="runs of each, round-robin; the best is kept "
                    "(default 2)")
    ap.add_argument("--only", choices=("events", "scan"), default=None)
    args = ap.parse_args()
    if args.vigil is None:
        for c in (os.path.join(REPO, "build", "daemon", "vigil"),
                  "/tmp/build-serve/daemon/vigil"):
            if os.access(c, os.X_OK):
                args.vigil = c
                break
    if args.vigil is None:
        ap.error("no vigil binary; use --vigil")
    for tool in ("wrk", "nginx", "clamd", "cc"):
        if shutil.which(tool) is None:
            FAILURES.append("%s not installed (scripts/install-deps "
                            "--bench)" % tool)
    os.makedirs(args.work, exist_ok=True)
    work = args.work
    secs = args.seconds
    rules, cdir = write_rules(work)
    r = {}
    vigil = None

    def best(key, x, better):
        """Keeps the better of this rep's x and the one kept so far."""
        if x is not None and (r.get(key) is None or better(x, r[key])):
            r[key] = x

    def faster(a, b):
        return a["rate"] > b["rate"]

    try:
        if args.only in (None, "events"):
            log("(a) event intake, 64 clients, %d s x %d reps, round-robin"
                % (secs, args.reps))
            vigil, vport, state = start_vigil(args, work, rules)
            ng, nport = start_nginx(work) if shutil.which("nginx") else \
                (None, None)
            for _ in range(args.reps):
                if vigil is not None:
                    best("vigil_events", wrk(vport, "events", 64, 2, secs),
                         faster)
                if ng is not None:
                    best("nginx", wrk(nport, "events", 64, 2, secs), faster)
                best("sqlite64", sqlite_rows(work, 64, min(secs, 5)),
                     lambda a, b: a > b)
                best("sqlite1", sqlite_rows(work, 1, min(secs, 3)),
                     lambda a, b: a > b)
            if vigil is not None:
                # synchronous is per connection, so it cannot be read from
                # here; store.c sets FULL for intake commits.  The journal
                # mode is in the file.
                db = sqlite3.connect("file:%s/vigil.db?mode=ro" % state,
                                     uri=True)
                r["vigil_journal"] = db.execute(
                    "PRAGMA journal_mode").fetchone()[0]
                db.close()
                stop(vigil)
            if ng is not None:
                stop(ng, signal.SIGQUIT)
        # A fresh daemon for scans: no inbox backlog beside them.
        vigil = None
        if args.only in (None, "scan"):
            log("(b, c) sync scans at concurrency 8, %d s x %d reps, "
                "round-robin" % (secs, args.reps))
            b4k = write_body(work, 4096, "body-4k.txt")
            b1m = write_body(work, 1 << 20, "body-1m.txt")
            vigil, vport, state = start_vigil(args, work, rules)
            cl = None
            cc = subprocess.run(["cc", "-O2", "-o",
                                 os.path.join(work, "scanload"),
                                 os.path.join(HERE, "scanload.c"),
                                 "-lpthread"], capture_output=True)
            if cc.returncode != 0:
                FAILURES.append("cc scanload.c: %s" % cc.stderr[-300:])
                vigil = None
            elif shutil.which("clamd"):
                cl, cport = start_clamd(work, cdir)
            for _ in range(args.reps):
                if vigil is not None:
                    best("vigil_4k", scanload(work, "http", vport, b4k, 8,
                                              secs), faster)
                if cl is not None:
                    best("clamd_4k", scanload(work, "clamd", cport, b4k, 8,
                                              secs), faster)
                if vigil is not None:
                    best("vigil_1m", scanload(work, "http", vport, b1m, 8,
                                              secs), faster)
                if cl is not None:
                    best("clamd_1m", scanload(work, "clamd", cport, b1m, 8,
                                              secs), faster)
            if cl is not None:
                stop(cl)
        if vigil is not None and vigil.poll() is None:
            with open("/proc/%d/status" % vigil.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        r["rss_mib"] = int(line.split()[1]) / 1024
        if vigil is not None:
            stop(vigil)
            if vigil.returncode not in (0, None):
                FAILURES.append("vigil serve exited %d" % vigil.returncode)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
    report(r, secs)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(r, f, indent=1)
    if FAILURES:
        print("\nfailures:\n  " + "\n  ".join(FAILURES))
        return 1
    return 0


def report(r, secs):
    print("\nvigil serve benchmark (%d s per load run, best of the reps; "
          "ratios are what count on a shared machine)" % secs)
    ve, ng = r.get("vigil_events"), r.get("nginx")
    if "sqlite64" in r:
        print("\n(a) hook events, 64 concurrent clients")
        print("  %-44s %10s" % ("", "per second"))
        if ve:
            print("  %-44s %10.0f   p50 %.1f ms, p99 %.1f ms, "
                  "%d non-2xx" % ("vigil POST /v1/events (durable)",
                                  ve["rate"], ve["p50_us"] / 1e3,
                                  ve["p99_us"] / 1e3, ve["status"]))
            print("    vigil.db journal_mode=%s; intake commits with "
                  "synchronous=FULL (store.c)" % r.get("vigil_journal"))
        if ng:
            print("  %-44s %10.0f" % ("nginx, bare 202 for the same POST",
                                      ng["rate"]))
        print("  %-44s %10.0f" % ("SQLite FULL, 64 rows per commit",
                                  r["sqlite64"]))
        print("  %-44s %10.0f" % ("SQLite FULL, 1 row per commit",
                                  r["sqlite1"]))
        if ve:
            # Issue 4 sets 20,000/s on a machine where nginx answered
            # about 100,000/s and SQLite committed 195,000 rows/s in
            # 64-row groups.  On a shared machine that is two ratios to
            # the peers measured now; both must hold.
            durable = ve["status"] == 0 and r.get("vigil_journal") == "wal"
            k64 = ve["rate"] / r["sqlite64"]
            print("  %s vigil >= 20,000 events/s durable: %.0f%s" % (
                "[info]" if durable else mark(False), ve["rate"],
                " (absolute; see the scaled checks)" if durable else
                " (not durable or errors)"))
            if ng:
                kn = ve["rate"] / ng["rate"]
                print("  %s vigil / nginx >= 0.20 (20,000 / 100,000): %.2f"
                      " -> %.0f/s on that machine" % (
                          mark(kn >= 0.20 and durable), kn, kn * 100000))
            print("  %s vigil / SQLite 64-row commits >= 0.103 (20,000 / "
                  "195,000): %.2f -> %.0f/s on that machine" % (
                      mark(k64 >= 20000 / 195000 and durable), k64,
                      k64 * 195000))
            print("         vigil / SQLite 1-row commits: %.2f" % (
                ve["rate"] / r["sqlite1"]))
    v4, c4 = r.get("vigil_4k"), r.get("clamd_4k")
    v1, c1 = r.get("vigil_1m"), r.get("clamd_1m")
    if v4 or c4:
        print("\n(b) sync scans, 4 KiB bodies, concurrency 8")
        for name, x in (("vigil POST /v1/scan", v4),
                        ("clamd INSTREAM", c4)):
            if x:
                print("  %-24s %8.0f/s   p50 %.2f ms   p99 %.2f ms" % (
                    name, x["rate"], x["p50_us"] / 1e3, x["p99_us"] / 1e3))
        if v4 and c4:
            print("  %s vigil >= 2x clamd: %.2fx" % (
                mark(v4["rate"] >= 2 * c4["rate"]), v4["rate"] / c4["rate"]))
            print("  %s vigil p99 <= clamd p99: %.2f vs %.2f ms" % (
                mark(v4["p99_us"] <= c4["p99_us"]), v4["p99_us"] / 1e3,
                c4["p99_us"] / 1e3))
    if v1 or c1:
        print("\n(c) sync scans, 1 MiB bodies, concurrency 8")
        for name, x in (("vigil POST /v1/scan", v1),
                        ("clamd INSTREAM", c1)):
            if x:
                print("  %-24s %8.1f MiB/s   p50 %.1f ms   p99 %.1f ms" % (
                    name, x["rate"], x["p50_us"] / 1e3, x["p99_us"] / 1e3))
        if v1 and c1:
            print("  %s vigil >= 1.5x clamd: %.2fx" % (
                mark(v1["rate"] >= 1.5 * c1["rate"]),
                v1["rate"] / c1["rate"]))
    if "rss_mib" in r:
        print("\n(d) vigil peak RSS (VmHWM) over the run: %.1f MiB"
              % r["rss_mib"])


if __name__ == "__main__":
    sys.exit(main())
