#!/usr/bin/env python3
"""Benchmark full-bucket scans by `vigil serve`, beside `vigil scan` over
the same tree, measured in the same run.

  (a) a full-bucket scan of N 4 KiB objects (default 20,000): objects/s
      and MB/s, target >= 2,000 objects/s on 2 cores; beside `vigil scan
      --threads W` over the bucket's directory (the same engine without
      the daemon: listing, SQLite, verdicts, accounts)
  (b) a full-bucket scan of large objects (default 8 x 32 MiB): MB/s
      beside `vigil scan` over the same tree, target within 1.3x of it

Each daemon run starts from an empty state directory, so no verdict is
reused.  The objects are text with a sprinkling of rule keywords, written
once under --dir (default /tmp/vigil-bench-bucket) and reused.  Prints
one line per measurement and the ratios; exit status 0 whenever every
tool ran.  Standard library only.

usage: run.py [--vigil PATH] [--objects N] [--large N] [--large-mib M]
              [--workers W] [--repeat R]
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOKEN = "bench-admin-token-0123456789abcdef"
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua").split()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_tree(root, n, size, seed):
    """n objects of size bytes under root, unless already there."""
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    shutil.rmtree(root, ignore_errors=True)
    rnd = random.Random(seed)
    for i in range(n):
        words, total = [], 0
        while total < size:
            w = rnd.choice(WORDS)
            if rnd.random() < 0.0005:
                w = "casino"
            words.append(w)
            total += len(w) + 1
        path = os.path.join(root, "acct-%d" % (i % 8), "%06d.txt" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(" ".join(words)[:size])
    open(stamp, "w").close()


def tree_bytes(root):
    total = 0
    for d, _, files in os.walk(root):
        for f in files:
            if f != ".complete":
                total += os.path.getsize(os.path.join(d, f))
    return total


def call(port, method, path, body=None):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path), method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def daemon_scan(vigil, rules, bucket_root, workers):
    """Seconds for a full scan of bucket_root by a fresh daemon."""
    state = bucket_root + ".state"
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    conf = os.path.join(state, "vigil.conf")
    with open(conf, "w") as f:
        f.write("token = admin %s\naccount_from = prefix\n"
                "log_level = warn\n" % TOKEN)
    # The bucket is the tree's directory under its parent.
    proc = subprocess.Popen(
        [vigil, "serve", "--config", conf, "--state-dir", state,
         "--buckets", os.path.dirname(bucket_root), "--rules", rules,
         "--listen", "127.0.0.1:0", "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=open(state + ".log", "wb"))
    try:
        port = None
        for _ in range(600):
            try:
                port = int(open(os.path.join(state, "port")).read())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        if port is None:
            raise RuntimeError("daemon did not start; see %s.log" % state)
        bucket = os.path.basename(bucket_root)
        t0 = time.time()
        job = call(port, "POST", "/v1/bucket-scans",
                   {"bucket": bucket, "mode": "full"})
        while job["state"] == "running":
            time.sleep(0.05)
            job = call(port, "GET", "/v1/bucket-scans/%d" % job["id"])
        secs = time.time() - t0
        if job["state"] != "done":
            raise RuntimeError("job ended %s" % job["state"])
        rss = 0
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) // 1024
        return secs, job, rss
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(state, ignore_errors=True)


def cli_scan(vigil, rules, root, workers):
    t0 = time.time()
    r = subprocess.run([vigil, "scan", "--rules", rules, "--threads",
                        str(workers), "--no-summary", root],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        raise RuntimeError("vigil scan: exit %d: %s" % (r.returncode,
                                                        r.stderr[-300:]))
    return time.time() - t0


def best(fn, repeat):
    return min((fn() for _ in range(repeat)), key=lambda x: x if
               isinstance(x, float) else x[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.path.join(REPO, "build", "daemon",
                                                    "vigil"))
    ap.add_argument("--rules", default=os.path.join(REPO, "rules"))
    ap.add_argument("--dir", default="/tmp/vigil-bench-bucket")
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--large", type=int, default=8)
    ap.add_argument("--large-mib", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    small = os.path.join(a.dir, "small-%d" % a.objects)
    large = os.path.join(a.dir, "large-%dx%d" % (a.large, a.large_mib))
    log("writing the trees under %s (once)" % a.dir)
    make_tree(small, a.objects, 4096, 1)
    make_tree(large, a.large, a.large_mib << 20, 2)
    out = {}
    for name, root, n in (("4KiB", small, a.objects),
                          ("large", large, a.large)):
        nbytes = tree_bytes(root)
        secs, job, rss = best(lambda: daemon_scan(a.vigil, a.rules, root,
                                                  a.workers), a.repeat)
        cli = best(lambda: cli_scan(a.vigil, a.rules, root, a.workers),
                   a.repeat)
        out[name] = (secs, cli)
        print("%-6s bucket scan: %6d objects in %6.2fs = %8.0f objects/s, "
              "%7.1f MB/s (flagged %d, peak RSS %d MiB)" % (
                  name, n, secs, n / secs, nbytes / secs / 1e6,
                  job["flagged"], rss))
        print("%-6s vigil scan : %6d objects in %6.2fs = %8.0f objects/s, "
              "%7.1f MB/s" % (name, n, cli, n / cli, nbytes / cli / 1e6))
    s, c = out["4KiB"]
    print("4 KiB objects: %.0f objects/s (target >= 2000): %s; %.2fx the "
          "time of vigil scan" % (a.objects / s, "met" if a.objects / s >=
                                  2000 else "NOT met", s / c))
    s, c = out["large"]
    print("large objects: bucket scan takes %.2fx the time of vigil scan "
          "(target <= 1.3x): %s" % (s / c, "met" if s / c <= 1.3 else
                                    "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
