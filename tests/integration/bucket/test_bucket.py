#!/usr/bin/env python3
"""End-to-end tests of full-bucket scans against the real `vigil serve`.

usage: test_bucket.py VIGIL WORKDIR [[!]CASE-SUBSTRING...]

A generated local bucket of 20,000 objects (plain files and nested
archives, needles planted under several accounts' prefixes) is scanned by
a job that is killed with SIGKILL mid-way and resumed by a restarted
daemon; the real SQLite file is then read to check that every object was
judged exactly once.  Then incremental reruns, a rule added, the verdict
cache by content, cancelling, priority of hook events, the `vigil
bucket-scan` client and schedules.  Reuses the harness of
integration/serve; standard library only.
"""

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "serve"))
import test_serve as ts  # noqa: E402
from test_serve import (Daemon, aws_event, case, check, jhttp,  # noqa
                        put_object, run_case, wait_for)

HOOK = "hook-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
NOBJ = 20000
ACCOUNTS = ["acct-a", "acct-b", "acct-c", "acct-d"]

RULE = """rule bucket_needle
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings:
        $a = "BUCKET-NEEDLE-51f0"
    condition:
        $a
}
"""
LATER_RULE = """rule later_needle
{
    meta:
        clause = "IV.9(8)"
        severity = "medium"
    strings:
        $a = "LATER-NEEDLE-9c2a"
    condition:
        $a
}
"""


def nested_archive(payload):
    """A zip holding a tar.gz holding a text file with payload."""
    t = io.BytesIO()
    with tarfile.open(fileobj=t, mode="w:gz") as tf:
        data = b"inner text " + payload + b" end\n"
        ti = tarfile.TarInfo("deep/inner.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("outer/readme.txt", "nothing here\n")
        zf.writestr("outer/bundle.tar.gz", t.getvalue())
    return z.getvalue()


def make_bucket(root):
    """Writes the bucket; returns (needle keys, later-needle keys)."""
    needles, later = set(), set()
    for i in range(NOBJ):
        acct = ACCOUNTS[i % len(ACCOUNTS)]
        if i % 100 == 7:
            key = "%s/arch/%05d.zip" % (acct, i)
            payload = b"BUCKET-NEEDLE-51f0" if i % 200 == 7 else b"calm"
            data = nested_archive(payload)
            if i % 200 == 7:
                needles.add(key)
        else:
            key = "%s/docs/%05d.txt" % (acct, i)
            body = "object %d of the generated bucket\n" % i
            if i % 333 == 5:
                body += "BUCKET-NEEDLE-51f0\n"
                needles.add(key)
            if i % 500 == 11:
                body += "LATER-NEEDLE-9c2a\n"
                later.add(key)
            if i % 1000 == 13:
                body = "identical content across copies LATER-NEEDLE-9c2a\n"
                later.add(key)
            data = body.encode()
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return needles, later


def metric(d, name):
    return d.metric(name)


def job(d, jid):
    st, j = jhttp(d, "GET", "/v1/bucket-scans/%d" % jid, token=ADMIN)
    check(st == 200, "GET job %d: %s %s" % (jid, st, j))
    return j


def start(d, body, want=201):
    st, j = jhttp(d, "POST", "/v1/bucket-scans", body, token=ADMIN)
    check(st == want, "POST bucket-scans %s: %s %s" % (body, st, j))
    return j


def wait_done(d, jid, timeout=300):
    j = wait_for(lambda: (lambda j: j if j["state"] != "running" else None)(
        job(d, jid)), timeout, 0.2)
    check(j, "job %d did not finish: %s" % (jid, job(d, jid)))
    return j


def db(state):
    return sqlite3.connect(os.path.join(state, "vigil.db"))


def flagged_keys(state, bucket, rule):
    c = db(state)
    rows = c.execute("SELECT DISTINCT key FROM findings WHERE bucket = ? "
                     "AND rule = ? AND state = 0", (bucket, rule)).fetchall()
    c.close()
    return {r[0] for r in rows}


# Cases ------------------------------------------------------------------

STATE = {}


@case("20,000 objects: kill -9 mid-job, restart, every needle once")
def t_kill_resume(rules, conf):
    state = os.path.join(ts.WORK, "state")
    needles, later = make_bucket(os.path.join(state, "buckets", "big"))
    STATE.update(state=state, needles=needles, later=later)
    d = Daemon("big1", state, rules, conf)
    try:
        j = start(d, {"bucket": "big", "mode": "incremental",
                      "max_objects_per_s": 2500})
        jid = j["id"]
        check(j["state"] == "running" and j["bucket"] == "big",
              "created %s" % j)
        mid = wait_for(lambda: (lambda j: j if j["scanned"] >= 4000
                                else None)(job(d, jid)), 60, 0.05)
        check(mid and mid["state"] == "running",
              "job not mid-way: %s" % job(d, jid))
        # Throttled: 2,500 objects/s (bursts of one second allowed).
        check(mid["rate"] < 2500 * 1.6, "rate %s over the limit"
              % mid["rate"])
    finally:
        d.stop(signal.SIGKILL)
    d = Daemon("big2", state, rules, conf)
    try:
        j = wait_done(d, jid)
        check(j["state"] == "done" and j["listed"] == NOBJ and
              j["scanned"] + j["skipped"] == NOBJ,
              "after restart: %s" % j)
        STATE["d"] = d
    except Exception:
        d.stop(signal.SIGKILL)
        raise
    c = db(state)
    n = c.execute("SELECT count(*) FROM verdicts WHERE bucket = 'big'"
                  ).fetchone()[0]
    twice = c.execute("SELECT key, count(*) FROM verdicts WHERE bucket = "
                      "'big' GROUP BY key HAVING count(*) > 1 LIMIT 5"
                      ).fetchall()
    c.close()
    check(not twice, "objects judged twice: %s" % twice)
    check(n == NOBJ, "%d verdicts for %d objects" % (n, NOBJ))
    got = flagged_keys(state, "big", "bucket_needle")
    check(got == needles, "needles: missing %s, extra %s" % (
        sorted(needles - got)[:5], sorted(got - needles)[:5]))
    check(j["flagged"] == len(needles), "job flagged %d of %d"
          % (j["flagged"], len(needles)))
    # Findings flow into the accounts (account_from = prefix).
    for acct in ACCOUNTS:
        st, a = jhttp(d, "GET", "/v1/accounts/" + acct, token=ADMIN)
        mine = {f["key"] for f in a["findings"]}
        want = {k for k in needles if k.startswith(acct + "/")}
        check(st == 200 and mine == want, "%s findings %d, want %d"
              % (acct, len(mine), len(want)))
    st, a = jhttp(d, "GET", "/v1/accounts/acct-d", token=ADMIN)
    deep = [f for f in a["findings"] if f["key"].endswith(".zip")]
    check(deep and deep[0]["path"][1:] == ["outer/bundle.tar.gz",
                                           "deep/inner.txt"],
          "nested path %s" % (deep[0]["path"] if deep else None))


@case("incremental rerun reads no object content")
def t_incremental(rules, conf):
    d = STATE.get("d")
    if d is None:
        raise ts.Skip("needs the 20,000-object case")
    before = metric(d, "vigil_bucket_objects_read_total")
    j = wait_done(d, start(d, {"bucket": "big"})["id"])
    check(j["skipped"] == NOBJ and j["scanned"] == 0,
          "incremental: %s" % j)
    check(metric(d, "vigil_bucket_objects_read_total") == before,
          "content read on an unchanged bucket")
    # One object changes: only it is read.
    with open(os.path.join(STATE["state"], "buckets", "big", "acct-b",
                           "docs", "00001.txt"), "a") as f:
        f.write("changed BUCKET-NEEDLE-51f0\n")
    j = wait_done(d, start(d, {"bucket": "big"})["id"])
    check(j["scanned"] == 1 and j["skipped"] == NOBJ - 1 and
          j["flagged"] == 1, "one change: %s" % j)
    check(metric(d, "vigil_bucket_objects_read_total") == before + 1,
          "reads %s" % metric(d, "vigil_bucket_objects_read_total"))
    STATE["needles"].add("acct-b/docs/00001.txt")


@case("a rule added: a rerun finds its needles; content cache by sha256")
def t_new_rule(rules, conf):
    d = STATE.get("d")
    if d is None:
        raise ts.Skip("needs the 20,000-object case")
    with open(os.path.join(rules, "later.yar"), "w") as f:
        f.write(LATER_RULE)
    st, r = jhttp(d, "POST", "/v1/rules/reload", b"", token=ADMIN)
    check(st == 200 and r["rules"] == 2, "reload %s %s" % (st, r))
    # One copy of the identical content is judged under the new rules
    # through the hook; its twins then reuse that verdict unread.
    twin = "acct-b/docs/00013.txt"
    ev = aws_event("big", twin, etag="x1", seq="a1", owner="acct-b")
    check(jhttp(d, "POST", "/v1/events", ev, token=HOOK)[0] == 202, "event")
    wait_for(lambda: ts.verdict_of(d, "big", twin, token=ADMIN) and
             ts.verdict_of(d, "big", twin, token=ADMIN)["ruleset"] ==
             r["version"], 20)
    before = metric(d, "vigil_bucket_objects_read_total")
    j = wait_done(d, start(d, {"bucket": "big"})["id"])
    twins = [k for k in STATE["later"] if int(k[-9:-4]) % 1000 == 13]
    check(j["cached"] >= len(twins) - 1, "cached %d, twins %d" % (
        j["cached"], len(twins)))
    read = metric(d, "vigil_bucket_objects_read_total") - before
    check(read <= NOBJ - (len(twins) - 1), "read %d objects" % read)
    got = flagged_keys(STATE["state"], "big", "later_needle")
    check(got == STATE["later"], "later needles: missing %s extra %s" % (
        sorted(STATE["later"] - got)[:5], sorted(got - STATE["later"])[:5]))
    # The old rule's findings did not double.
    got = flagged_keys(STATE["state"], "big", "bucket_needle")
    check(got == STATE["needles"], "old needles changed")
    c = db(STATE["state"])
    dup = c.execute("SELECT object, rule, count(*) FROM findings WHERE "
                    "state = 0 AND bucket = 'big' GROUP BY 1, 2 HAVING "
                    "count(*) > 1").fetchall()
    c.close()
    check(not dup, "findings counted twice: %s" % dup[:3])


@case("cancel; hook events go ahead of bucket work")
def t_cancel_priority(rules, conf):
    d = STATE.get("d")
    if d is None:
        raise ts.Skip("needs the 20,000-object case")
    j = start(d, {"bucket": "big", "mode": "full",
                  "max_objects_per_s": 200})
    jid = j["id"]
    again = start(d, {"bucket": "big"}, want=409)
    check(again["id"] == jid, "a second job for the bucket: %s" % again)
    put_object(STATE["state"], "hooked", "x.txt", b"BUCKET-NEEDLE-51f0")
    t0 = time.time()
    ev = aws_event("hooked", "x.txt", etag="h1", seq="h1", owner="acct-h")
    check(jhttp(d, "POST", "/v1/events", ev, token=HOOK)[0] == 202, "event")
    v = wait_for(lambda: ts.verdict_of(d, "hooked", "x.txt", token=ADMIN),
                 20)
    check(v and v["verdict"] == "flagged", "hook verdict %s" % v)
    check(time.time() - t0 < 5, "hook event waited %.1fs behind the job"
          % (time.time() - t0))
    st, c = jhttp(d, "DELETE", "/v1/bucket-scans/%d" % jid, token=ADMIN)
    check(st == 200 and c["state"] == "cancelled", "cancel %s %s" % (st, c))
    st, _ = jhttp(d, "DELETE", "/v1/bucket-scans/%d" % jid, token=ADMIN)
    check(st == 409, "second cancel %s" % st)
    time.sleep(1)
    j2 = job(d, jid)
    check(j2["scanned"] < NOBJ and j2["state"] == "cancelled",
          "after cancel %s" % j2)
    st, lst = jhttp(d, "GET", "/v1/bucket-scans", token=ADMIN)
    check(st == 200 and lst["jobs"][0]["id"] >= jid, "list %s" % st)
    for body, word in (({"bucket": "../x"}, "bucket"),
                       ({"bucket": "big", "mode": "fast"}, "mode"),
                       ({"mode": "full"}, "bucket")):
        st, e = jhttp(d, "POST", "/v1/bucket-scans", body, token=ADMIN)
        check(st == 400 and word in e["error"], "%s: %s %s" % (body, st, e))
    # A bucket that does not exist is a 404 at once, not a job that
    # fails later; the failed job is still on record.
    st, e = jhttp(d, "POST", "/v1/bucket-scans", {"bucket": "nosuch"},
                  token=ADMIN)
    check(st == 404 and e.get("error") == "no such bucket" and
          e.get("state") == "failed", "missing bucket: %s %s" % (st, e))
    check(job(d, e["id"])["state"] == "failed", "missing bucket's job")
    st, _ = jhttp(d, "POST", "/v1/bucket-scans", {"bucket": "big"},
                  token=HOOK)
    check(st == 403, "hook starts a scan: %s" % st)
    st, _ = jhttp(d, "GET", "/v1/bucket-scans/99999", token=ADMIN)
    check(st == 404, "no such job %s" % st)


@case("max_bytes_per_s holds from the first claim: 2 MB at 1 MB/s takes "
      "over 1.5 s")
def t_bytes_rate(rules, conf):
    d = STATE.get("d")
    if d is None:
        raise ts.Skip("needs the 20,000-object case")
    size, n = 200000, 10
    for i in range(n):
        put_object(STATE["state"], "rated", "obj-%02d.bin" % i,
                   bytes([65 + i]) * size)
    t0 = time.time()
    j = start(d, {"bucket": "rated", "mode": "full",
                  "max_bytes_per_s": 1000000})
    j = wait_done(d, j["id"], 120)
    took = time.time() - t0
    check(j["state"] == "done" and j["scanned"] == n and
          j["bytes"] == n * size, "job %s" % j)
    # One claim used to take the whole bucket at once: 0.1 s here.  At
    # 1 MB/s with at most 0.2 s of tokens in hand, 2 MB needs >= 1.8 s.
    check(took >= 1.5, "2 MB at 1 MB/s took %.2f s" % took)


@case("vigil bucket-scan: progress lines and scan's exit codes")
def t_cli(rules, conf):
    d = STATE.get("d")
    if d is None:
        raise ts.Skip("needs the 20,000-object case")
    env = dict(os.environ, VIGIL_URL="http://127.0.0.1:%d" % d.port,
               VIGIL_TOKEN=ADMIN)
    os.makedirs(os.path.join(STATE["state"], "buckets", "clean"))
    for i in range(50):
        put_object(STATE["state"], "clean", "f%d.txt" % i, b"fine")
    r = subprocess.run([ts.VIGIL, "bucket-scan", "clean"], env=env,
                       capture_output=True, timeout=120)
    check(r.returncode == 0, "clean bucket exit %d: %s" % (r.returncode,
                                                           r.stderr))
    check(b"bucket scan" in r.stderr and b"done, listed 50" in r.stderr,
          "progress: %s" % r.stderr)
    # On a terminal (script(1) gives it one): a bar redrawn in place.
    r = subprocess.run(["script", "-qec", "%s bucket-scan clean --full" %
                        ts.VIGIL, "/dev/null"], env=env,
                       capture_output=True, timeout=120)
    check(r.returncode == 0 and b"\r[" in r.stdout and b"] 50/50 " in
          r.stdout, "tty progress: %d %r" % (r.returncode, r.stdout[-300:]))
    r = subprocess.run([ts.VIGIL, "bucket-scan", "big", "--prefix",
                        "acct-c/", "--full"], env=env, capture_output=True,
                       timeout=300)
    check(r.returncode == 1, "flagged exit %d: %s" % (r.returncode,
                                                      r.stderr[-300:]))
    put_object(STATE["state"], "broken", "bad.zip", b"PK\x03\x04garbage")
    r = subprocess.run([ts.VIGIL, "bucket-scan", "broken"], env=env,
                       capture_output=True, timeout=120)
    check(r.returncode == 2, "unscannable exit %d: %s" % (r.returncode,
                                                          r.stderr))
    r = subprocess.run([ts.VIGIL, "bucket-scan", "nosuch"], env=env,
                       capture_output=True, timeout=60)
    check(r.returncode == 3 and b"404: no such bucket" in r.stderr,
          "missing bucket exit %d: %s" % (r.returncode, r.stderr))
    r = subprocess.run([ts.VIGIL, "bucket-scan", "clean", "--token",
                        "wrong-token-0123456789"], env=env,
                       capture_output=True, timeout=60)
    check(r.returncode == 3 and b"401" in r.stderr, "bad token exit %d: %s"
          % (r.returncode, r.stderr))
    r = subprocess.run([ts.VIGIL, "bucket-scan", "clean", "--url",
                        "http://127.0.0.1:1"], env=env,
                       capture_output=True, timeout=60)
    check(r.returncode == 3 and b"running" in r.stderr, "no daemon exit "
          "%d: %s" % (r.returncode, r.stderr))
    r = subprocess.run([ts.VIGIL, "bucket-scan"], env=env,
                       capture_output=True, timeout=60)
    check(r.returncode == 3 and b"usage" in r.stderr, "usage %d"
          % r.returncode)


@case("schedules: a run missed while the daemon was down runs at start")
def t_schedule(rules, conf):
    d = STATE.pop("d", None)
    if d is not None:
        d.stop()
    state = os.path.join(ts.WORK, "state-sched")
    os.makedirs(os.path.join(state, "buckets", "nightly"))
    put_object(state, "nightly", "a.txt", b"BUCKET-NEEDLE-51f0")
    sconf = os.path.join(ts.WORK, "sched.conf")
    with open(conf) as f:
        base = f.read()
    with open(sconf, "w") as f:
        f.write(base + '\n[bucket "nightly"]\nschedule = 0 3 * * *\n'
                'account = acct-night\n')
    bad = os.path.join(ts.WORK, "sched-bad.conf")
    with open(bad, "w") as f:
        f.write(base + '\n[bucket "nightly"]\nschedule = 0 25 * * *\n')
    r = subprocess.run([ts.VIGIL, "serve", "--check-config", "--config",
                        bad, "--rules", rules], capture_output=True)
    check(r.returncode != 0 and b"hour" in r.stderr, "bad schedule: %s"
          % r.stderr)
    d = Daemon("sched1", state, rules, sconf)     # first start: no run
    st, j = jhttp(d, "GET", "/v1/bucket-scans", token=ADMIN)
    check(j["jobs"] == [], "a first start ran the schedule: %s" % j)
    d.stop()
    c = db(state)
    c.execute("UPDATE schedules SET last_run = ? WHERE bucket = "
              "'nightly'", (time.time() - 3 * 86400,))
    c.commit()
    c.close()
    d = Daemon("sched2", state, rules, sconf)
    try:
        st, j = jhttp(d, "GET", "/v1/bucket-scans", token=ADMIN)
        check(len(j["jobs"]) == 1 and j["jobs"][0]["actor"] ==
              "schedule (missed)", "missed run: %s" % j)
        j = wait_done(d, j["jobs"][0]["id"])
        check(j["flagged"] == 1, "scheduled job %s" % j)
        st, a = jhttp(d, "GET", "/v1/accounts/acct-night", token=ADMIN)
        check(st == 200 and a["findings"], "bucket account: %s" % a)
    finally:
        d.stop()
    d = Daemon("sched3", state, rules, sconf)     # ran: not again
    try:
        st, j = jhttp(d, "GET", "/v1/bucket-scans", token=ADMIN)
        check(len(j["jobs"]) == 1, "ran twice: %s" % j)
    finally:
        d.stop(signal.SIGKILL)


def main():
    if not ts.setup(sys.argv, __doc__):
        return 2
    rules = os.path.join(ts.WORK, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "needle.yar"), "w") as f:
        f.write(RULE)
    conf = os.path.join(ts.WORK, "vigil.conf")
    with open(conf, "w") as f:
        f.write("[serve]\ncommit_delay_ms = 1\naccount_from = prefix\n"
                "token = hook %s\ntoken = admin %s\n" % (HOOK, ADMIN))
    try:
        for fn in (t_kill_resume, t_incremental, t_new_rule,
                   t_cancel_priority, t_bytes_rate, t_cli, t_schedule):
            run_case(fn, rules, conf)
    finally:
        if "d" in STATE:
            STATE["d"].stop(signal.SIGKILL)
    return ts.summary()


if __name__ == "__main__":
    sys.exit(main())
