#!/usr/bin/env python3
"""End-to-end tests of `vigil serve`.

usage: test_serve.py VIGIL WORKDIR [[!]CASE-SUBSTRING...]

Starts the real daemon with --listen 127.0.0.1:0 and a fresh state dir
under WORKDIR, reads the bound port back from STATE_DIR/port (the daemon
also logs "listening on ADDR:PORT"), and drives it with urllib.  Each
check is a named case printed as PASS or FAIL; the last line is
"N passed, M failed" and the exit status is 1 if any case failed.  The
daemon's stderr is kept in WORKDIR/*.log.  Substrings select cases by
name; one starting with '!' leaves matching cases out.  A case that cannot
run here (the privilege drop when not root) prints SKIP and its reason.
Standard library only.
"""

import http.client as http_client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

NEEDLE = b"VIGIL-SERVE-NEEDLE-7d1e"
RULE = """rule serve_needle
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings:
        $a = "%s"
    condition:
        $a
}
"""
BAD_RULE = """rule broken
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings: $a = = "x"
    condition:
        $a
}
"""
TOKENS = {"hook": "hook-token-0123456789abcdef",
          "moderator": "mod-token-0123456789abcdef",
          "admin": "admin-token-0123456789abcdef"}

VIGIL = None
WORK = None
RESULTS = []
SELECT = []


class Daemon:
    """One `vigil serve` process."""

    def __init__(self, name, state, rules, conf=None, env=None, extra=()):
        self.name = name
        self.state = state
        self.log_path = os.path.join(WORK, name + ".log")
        self.port = None
        port_file = os.path.join(state, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        argv = [VIGIL, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                state, "--rules", rules, "--workers", "2"]
        if conf:
            argv += ["--config", conf]
        argv += list(extra)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            exited = self.proc.poll() is not None
            try:
                with open(port_file) as f:
                    self.port = int(f.read())
            except (OSError, ValueError):
                if exited:      # and it never wrote the port
                    break
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("%s did not start (see %s)" % (name,
                                                               self.log_path))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def metric(self, name):
        _, _, b = http(self, "GET", "/metrics", token=TOKENS["admin"])
        for line in b.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError("no metric " + name)

    def scans_in_flight(self):
        return self.metric("vigil_scans_in_flight")

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()


def http(d, method, path, body=None, token=None, headers=None):
    """Returns (status, headers, body bytes)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(d.url(path), data=body, method=method,
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def jhttp(d, method, path, body=None, token=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    st, _, b = http(d, method, path, body, token)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


def case(name):
    def wrap(fn):
        fn.case_name = name
        return fn
    return wrap


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def selected(name):
    """SELECT holds substrings; one starting with '!' excludes."""
    inc = [x for x in SELECT if not x.startswith("!")]
    exc = [x[1:] for x in SELECT if x.startswith("!")]
    return (not inc or any(x in name for x in inc)) and \
        not any(x in name for x in exc)


class Skip(Exception):
    """A case that cannot run here; printed as SKIP with the reason."""


def run_case(fn, *args):
    name = fn.case_name
    if not selected(name):
        return
    try:
        fn(*args)
        RESULTS.append((name, True))
        print("PASS %s" % name, flush=True)
    except Skip as e:
        print("SKIP %s: %s" % (name, e), flush=True)
    except Exception as e:  # a case failing must not stop the others
        RESULTS.append((name, False))
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)


def setup(argv, doc):
    """VIGIL WORKDIR [CASE...] from argv into this module's globals, a
    fresh WORK; False (usage printed) if they are missing.  Suites that
    reuse this harness (review, bucket) start with it."""
    global VIGIL, WORK, SELECT
    if len(argv) < 3:
        print(doc, file=sys.stderr)
        return False
    VIGIL = os.path.abspath(argv[1])
    WORK = os.path.abspath(argv[2])
    SELECT = argv[3:]
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    return True


def summary():
    """Prints "N passed, M failed"; the exit status for it."""
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def wait_for(fn, timeout=30, step=0.05):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def aws_event(bucket, key, etag="e1", seq="01", name="ObjectCreated:Put",
              owner="owner-1", uploader="AWS:uploader-1"):
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3",
        "eventName": name, "userIdentity": {"principalId": uploader},
        "s3": {"bucket": {"name": bucket,
                          "ownerIdentity": {"principalId": owner}},
               "object": {"key": urllib.parse.quote_plus(key, safe="/"),
                          "size": 1, "eTag": etag, "sequencer": seq}}}]}


def put_object(state, bucket, key, data):
    path = os.path.join(state, "buckets", bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def object_path(bucket, key):
    return "/v1/objects/%s/%s" % (bucket, urllib.parse.quote(key))


def verdict_of(d, bucket, key, token=TOKENS["moderator"]):
    st, j = jhttp(d, "GET", object_path(bucket, key), token=token)
    return j if st == 200 else None


def scans_total(d):
    _, _, b = http(d, "GET", "/metrics", token=TOKENS["admin"])
    n = 0
    for line in b.decode().splitlines():
        if line.startswith("vigil_scans_total{"):
            n += int(line.split()[-1])
    return n


# Cases ------------------------------------------------------------------

@case("check-config: defaults and a documented file validate")
def t_check_config(rules):
    r = subprocess.run([VIGIL, "serve", "--check-config", "--rules", rules],
                       capture_output=True, cwd=WORK)
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    check(b"listen = 127.0.0.1:8750" in r.stdout, "defaults not printed")
    conf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "..", "packaging", "vigil.conf")
    r = subprocess.run([VIGIL, "serve", "--check-config", "--config", conf,
                        "--rules", rules], capture_output=True, cwd=WORK)
    check(r.returncode == 0, "packaging/vigil.conf: %s" % r.stderr)


@case("check-config: a bad file exits 3 naming file:line")
def t_check_config_bad(_):
    bad = os.path.join(WORK, "bad.conf")
    with open(bad, "w") as f:
        f.write("[serve]\nworkers = lots\n")
    r = subprocess.run([VIGIL, "serve", "--check-config", "--config", bad],
                       capture_output=True)
    check(r.returncode == 3, "exit %d" % r.returncode)
    check(b"bad.conf:2:" in r.stderr, r.stderr)


@case("no tokens: admin.token is created 0600, logged, and works")
def t_admin_token(rules):
    state = os.path.join(WORK, "state-notoken")
    shutil.rmtree(state, ignore_errors=True)
    d = Daemon("notoken", state, rules)
    try:
        path = os.path.join(state, "admin.token")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        check(mode == 0o600, "mode %o" % mode)
        tok = open(path).read().strip()
        check(len(tok) >= 32, "short token")
        st, j = jhttp(d, "GET", "/readyz", token=tok)
        check(st == 200 and j["ready"] is True, (st, j))
        check(any("admin.token" in l for l in d.log_lines()),
              "token path not logged")
        check(any("listening on 127.0.0.1:%d" % d.port in l
                  for l in d.log_lines()), "port not logged")
    finally:
        rc = d.stop()
    check(rc == 0, "SIGTERM exit %d" % rc)


@case("healthz needs no token; others 401 without or with a wrong one")
def t_auth(d):
    st, j = jhttp(d, "GET", "/healthz")
    check(st == 200 and j["status"] == "ok", (st, j))
    for path in ("/readyz", "/v1/rules", "/metrics"):
        st, _ = jhttp(d, "GET", path)
        check(st == 401, "%s without token: %d" % (path, st))
        st, _ = jhttp(d, "GET", path, token="wrong-token-xxxxxxxxxxxx")
        check(st == 401, "%s wrong token: %d" % (path, st))
    st, _ = jhttp(d, "POST", "/v1/scan", b"x")
    check(st == 401, "scan without token: %d" % st)


@case("roles: hook may not read verdicts or reload; 403")
def t_roles(d):
    st, _ = jhttp(d, "GET", object_path("b", "k"), token=TOKENS["hook"])
    check(st == 403, "hook GET object: %d" % st)
    st, _ = jhttp(d, "POST", "/v1/rules/reload", token=TOKENS["hook"])
    check(st == 403, "hook reload: %d" % st)
    st, _ = jhttp(d, "POST", "/v1/rules/reload", token=TOKENS["moderator"])
    check(st == 403, "moderator reload: %d" % st)
    st, _ = jhttp(d, "POST", "/v1/events", {"Records": []},
                  token=TOKENS["moderator"])
    check(st == 403, "moderator events: %d" % st)
    st, _ = jhttp(d, "GET", object_path("b", "k"), token=TOKENS["moderator"])
    check(st == 404, "moderator GET unknown object: %d" % st)


@case("readyz: rules loaded and store writable")
def t_readyz(d):
    st, j = jhttp(d, "GET", "/readyz", token=TOKENS["hook"])
    check(st == 200 and j == {"ready": True, "rules": True, "store": True},
          (st, j))


@case("GET /v1/rules: version and counts per clause")
def t_rules(d):
    st, j = jhttp(d, "GET", "/v1/rules", token=TOKENS["moderator"])
    check(st == 200, st)
    check(len(j["version"]) == 64, j)
    check(j["rules"] == 1 and j["clauses"]["IV.9(7)"] == 1, j)
    check(set(j["clauses"]) >= {"IV.9(1)", "network-safety"}, j)


def cache_hits(d):
    _, _, b = http(d, "GET", "/metrics", token=TOKENS["admin"])
    for line in b.decode().splitlines():
        if line.startswith("vigil_cache_hits_total "):
            return int(line.split()[1])
    raise AssertionError("no vigil_cache_hits_total")


@case("POST /v1/scan: the verdict exactly as `vigil scan --json` prints, "
      "also from the verdict cache")
def t_scan_matches_cli(d, rules):
    hits = cache_hits(d)
    for name, data in (("clean.txt", b"nothing to see here\n"),
                       ("bad.txt", b"xx " + NEEDLE + b" yy\n"),
                       ("same-bytes.txt", b"xx " + NEEDLE + b" yy\n")):
        path = os.path.join(WORK, name)
        with open(path, "wb") as f:
            f.write(data)
        cli = subprocess.run([VIGIL, "scan", "--json", "--no-summary",
                              "--rules", rules, name], cwd=WORK,
                             capture_output=True).stdout
        st, h, body = http(d, "POST", "/v1/scan?name=" + name, data,
                           TOKENS["hook"])
        check(st == 200, "status %d %r" % (st, body))
        check(body == cli, "server %r != cli %r" % (body, cli))
        check(h["Content-Type"] == "application/json", h["Content-Type"])
    check(json.loads(body)["verdict"] == "flagged", body)
    check(cache_hits(d) == hits + 1, "the repeat was not a cache hit")


@case("oversized bodies: /v1/scan and /v1/events over max_body are 413 "
      "naming the problem; the daemon keeps serving")
def t_scan_too_big(d):
    for path in ("/v1/scan", "/v1/events"):
        try:
            st, _, b = http(d, "POST", path, b"a" * (300 * 1024),
                            TOKENS["hook"])
        except (ConnectionError, urllib.error.URLError) as e:
            raise AssertionError("%s: no answer (%s)" % (path, e))
        check(st == 413, "%s: status %d" % (path, st))
        check(b"too large" in b.lower(), "%s: body %r" % (path, b[:200]))
        st, _, _ = http(d, "GET", "/healthz")
        check(st == 200, "daemon unwell after 413")
    st, _, b = http(d, "POST", "/v1/scan?name=after-413", NEEDLE,
                    TOKENS["hook"])
    check(st == 200 and json.loads(b)["verdict"] == "flagged",
          "scan after 413: %d %r" % (st, b))


@case("POST /v1/rules/reload: a broken pack keeps the running ruleset")
def t_reload(d, rules):
    _, before = jhttp(d, "GET", "/v1/rules", token=TOKENS["admin"])
    bad = os.path.join(rules, "zz-broken.yar")
    with open(bad, "w") as f:
        f.write(BAD_RULE)
    try:
        st, j = jhttp(d, "POST", "/v1/rules/reload", token=TOKENS["admin"])
        check(st == 422, (st, j))
        check("zz-broken.yar:6:" in j["error"], j)
        check(j["version"] == before["version"], j)
    finally:
        os.unlink(bad)
    st, j = jhttp(d, "GET", "/v1/rules", token=TOKENS["admin"])
    check(j["version"] == before["version"], "version changed")
    with open(os.path.join(rules, "second.yar"), "w") as f:
        f.write(RULE.replace("serve_needle", "second_rule")
                .replace('"IV.9(7)"', '"IV.9(1)"') % "second-marker")
    st, j = jhttp(d, "POST", "/v1/rules/reload", token=TOKENS["admin"])
    check(st == 200 and j["rules"] == 2 and j["version"] != before["version"],
          (st, j))
    check(any("rules reload failed" in l for l in d.log_lines()),
          "failure not logged")


@case("SIGHUP reloads rules in the background")
def t_sighup(d, rules):
    _, before = jhttp(d, "GET", "/v1/rules", token=TOKENS["admin"])
    os.unlink(os.path.join(rules, "second.yar"))
    d.proc.send_signal(signal.SIGHUP)
    j = wait_for(lambda: (lambda r: r if r["version"] != before["version"]
                          else None)(jhttp(d, "GET", "/v1/rules",
                                           token=TOKENS["admin"])[1]))
    check(j and j["rules"] == 1, j)


@case("events: AWS key form-decoded, scanned, verdict with account")
def t_event_aws(d):
    put_object(d.state, "b1", "dir/a b+c.txt", b"..." + NEEDLE)
    st, j = jhttp(d, "POST", "/v1/events", aws_event("b1", "dir/a b+c.txt"),
                  token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1, (st, j))
    v = wait_for(lambda: verdict_of(d, "b1", "dir/a b+c.txt"))
    check(v, "no verdict")
    check(v["verdict"] == "flagged" and v["account"] == "owner-1", v)
    check(v["etag"] == "e1" and v["size"] == len(NEEDLE) + 3, v)
    check(v["matches"][0]["rule"] == "serve_needle", v)
    check(len(v["sha256"]) == 64 and len(v["ruleset"]) == 64, v)


@case("events: MinIO keys with %2F, envelope Key")
def t_event_minio(d):
    put_object(d.state, "mb", "x/y z.txt", b"clean")
    body = {"EventName": "s3:ObjectCreated:Put", "Key": "mb/x/y z.txt",
            "Records": [{"eventSource": "minio:s3",
                         "eventName": "s3:ObjectCreated:Put",
                         "s3": {"bucket": {"name": "mb"},
                                "object": {"key": "x%2Fy+z.txt",
                                           "eTag": "m1", "size": 5,
                                           "sequencer": "A"}}}]}
    st, j = jhttp(d, "POST", "/v1/events", body, token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1, (st, j))
    put_object(d.state, "mb", "p/q+r.txt", b"clean too")
    body = {"Records": [{"eventSource": "minio:s3",
                         "eventName": "s3:ObjectCreated:Put",
                         "s3": {"bucket": {"name": "mb"},
                                "object": {"key": "p%2Fq%2Br.txt",
                                           "eTag": "m2"}}}]}
    st, j = jhttp(d, "POST", "/v1/events", body, token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1, (st, j))
    for key in ("x/y z.txt", "p/q+r.txt"):
        v = wait_for(lambda: verdict_of(d, "mb", key))
        check(v and v["verdict"] == "clean", (key, v))


@case("events: Ceph keys taken literally, size as a string")
def t_event_ceph(d):
    put_object(d.state, "cb", "a+b %41.txt", NEEDLE)
    body = {"Records": [{"eventVersion": "2.2", "eventSource": "ceph:s3",
                         "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "cb"},
                                "object": {"key": "a+b %41.txt",
                                           "size": str(len(NEEDLE)),
                                           "eTag": "c1"}}}]}
    st, j = jhttp(d, "POST", "/v1/events", body, token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1, (st, j))
    v = wait_for(lambda: verdict_of(d, "cb", "a+b %41.txt"))
    check(v and v["verdict"] == "flagged", v)


@case("events: duplicates scanned once; TestEvent acknowledged")
def t_event_dup(d):
    put_object(d.state, "b1", "dup.txt", b"x")
    ev = aws_event("b1", "dup.txt", etag="d1", seq="09")
    st, j = jhttp(d, "POST", "/v1/events", ev, token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1, (st, j))
    check(wait_for(lambda: verdict_of(d, "b1", "dup.txt")), "not scanned")
    n = scans_total(d)
    st, j = jhttp(d, "POST", "/v1/events", ev, token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 0 and j["duplicates"] == 1, j)
    time.sleep(0.5)
    check(scans_total(d) == n, "duplicate was scanned")
    st, j = jhttp(d, "POST", "/v1/events",
                  {"Service": "Amazon S3", "Event": "s3:TestEvent",
                   "Bucket": "b1"}, token=TOKENS["hook"])
    check(st == 200 and j == {"test": True}, (st, j))


@case("events: ObjectRemoved cancels pending work")
def t_event_removed(d):
    put_object(d.state, "b1", "gone.txt", b"x")
    rec = aws_event("b1", "gone.txt", etag="g1")["Records"]
    rec += aws_event("b1", "gone.txt", name="ObjectRemoved:Delete",
                     seq="02")["Records"]
    st, j = jhttp(d, "POST", "/v1/events", {"Records": rec},
                  token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 1 and j["cancelled"] == 1, j)
    time.sleep(1)
    check(verdict_of(d, "b1", "gone.txt") is None, "cancelled was scanned")


@case("events: malformed JSON and escaping keys are 400 naming the "
      "problem; the daemon keeps serving")
def t_event_bad(d):
    cases = ((b"{", "bad JSON"), (b'{"Records": [1, }', "bad JSON"),
             (b"\xff\xfe", "bad JSON"), (b"", "bad JSON"),
             (b"[]", "not a JSON object"), (b'{"x": 1}', "no Records"),
             (b'{"Records": [{}]}', "lacks"),
             (json.dumps(aws_event("b1", "../etc/passwd")).encode(),
              "refused"),
             (json.dumps(aws_event("..", "k")).encode(), "refused"))
    for body, words in cases:
        st, j = jhttp(d, "POST", "/v1/events", body, token=TOKENS["hook"])
        check(st == 400 and isinstance(j, dict) and words in j.get("error",
              ""), (body, st, j))
        st, _, _ = http(d, "GET", "/healthz")
        check(st == 200, "healthz after %r: %d" % (body, st))
    st, j = jhttp(d, "POST", "/v1/events", {"Records": []},
                  token=TOKENS["hook"])
    check(st == 202 and j["accepted"] == 0, (st, j))


AWKWARD_KEYS = ("with space/and more space.txt", "plus+sign+.txt",
                "ünïcödé/кириллица/日本語 ☃.txt", "literal%2Fslash.txt",
                "mixed dir/a+b c%2F ü.txt")


def record(flavor, bucket, key, etag):
    """One ObjectCreated record with key encoded as flavor sends it."""
    if flavor == "ceph":
        src, wire = "ceph:s3", key
    else:       # AWS and MinIO: form/query encoding, '/' as %2F too
        src = "aws:s3" if flavor == "aws" else "minio:s3"
        wire = urllib.parse.quote_plus(key, safe="")
    return {"eventVersion": "2.1", "eventSource": src,
            "eventName": ("s3:" if flavor == "minio" else "") +
            "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket,
                              "ownerIdentity": {"principalId": "o"}},
                   "object": {"key": wire, "size": 1, "eTag": etag,
                              "sequencer": "0A"}}}


@case("events: keys with spaces, '+', unicode and %2F in AWS, MinIO and "
      "Ceph form reach the right object")
def t_event_awkward(d):
    for flavor in ("aws", "minio", "ceph"):
        bucket = "awk-" + flavor
        recs = []
        for i, key in enumerate(AWKWARD_KEYS):
            # The content names the key, so the verdict proves which file
            # was read; every other one is flagged.
            data = key.encode() + (b" " + NEEDLE if i % 2 == 0 else b"")
            put_object(d.state, bucket, key, data)
            recs.append(record(flavor, bucket, key, "k%d" % i))
        st, j = jhttp(d, "POST", "/v1/events", {"Records": recs},
                      token=TOKENS["hook"])
        check(st == 202 and j["accepted"] == len(AWKWARD_KEYS),
              (flavor, st, j))
        for i, key in enumerate(AWKWARD_KEYS):
            v = wait_for(lambda: verdict_of(d, bucket, key))
            check(v, "%s %r: no verdict" % (flavor, key))
            check(v["key"] == key and v["bucket"] == bucket, (flavor, v))
            check(v["size"] == len(key.encode()) + (
                  len(NEEDLE) + 1 if i % 2 == 0 else 0), (flavor, key, v))
            want = "flagged" if i % 2 == 0 else "clean"
            check(v["verdict"] == want, (flavor, key, v["verdict"]))


@case("POST /v1/scan: a nested archive (zip in tar.gz) is flagged with "
      "the path to the member")
def t_scan_nested(d):
    import io
    import tarfile
    import zipfile
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "harmless\n")
        z.writestr("deep/needle.txt", b"xx " + NEEDLE + b" yy\n")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as t:
        ti = tarfile.TarInfo("inner.zip")
        ti.size = len(zbuf.getvalue())
        t.addfile(ti, io.BytesIO(zbuf.getvalue()))
    st, _, b = http(d, "POST", "/v1/scan?name=outer.tgz", tbuf.getvalue(),
                    TOKENS["hook"])
    check(st == 200, "status %d %r" % (st, b))
    j = json.loads(b)
    check(j["verdict"] == "flagged" and j["mime"] == "application/gzip", j)
    check(j["matches"][0]["path"] == ["outer.tgz", "inner.zip",
                                      "deep/needle.txt"], j["matches"])


@case("POST /v1/scan: a body of many socket reads is scanned whole, its "
      "digest and size exact, a 7z in it read by ranges")
def t_scan_large(d):
    import hashlib
    import random
    rnd = random.Random(4)
    # 250 KiB (max_body is 256k): sixty-odd 4 KiB socket reads, so the
    # daemon's read-ahead and a body in several chains are exercised.
    filler = bytes(rnd.choice(b"abcdefgh \n") for _ in range(250 * 1024 -
                                                            len(NEEDLE)))
    body = filler + NEEDLE
    st, _, b = http(d, "POST", "/v1/scan?name=large.txt", body,
                    TOKENS["hook"])
    check(st == 200, "status %d %r" % (st, b[:200]))
    j = json.loads(b)
    check(j["verdict"] == "flagged" and j["size"] == len(body) and
          j["sha256"] == hashlib.sha256(body).hexdigest(), j)
    check(j["matches"][0]["offset"] == len(filler), j["matches"])
    # A 7z: its header is at the end and the reader seeks to it, so the
    # body's chains are read by ranges (a zip would fall back to reading
    # its local headers in order).
    src = os.path.join(WORK, "7z-src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "pad.bin"), "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(200 * 1024)))
    with open(os.path.join(src, "z-needle.txt"), "wb") as f:
        f.write(b"xx " + NEEDLE + b" yy\n")
    arc = os.path.join(WORK, "large.7z")
    if os.path.exists(arc):
        os.unlink(arc)
    subprocess.run(["7z", "a", "-bd", "-y", arc, "pad.bin", "z-needle.txt"],
                   cwd=src, check=True, stdout=subprocess.DEVNULL)
    with open(arc, "rb") as f:
        data = f.read()
    check(len(data) > 200 * 1024, "7z of %d bytes" % len(data))
    st, _, b = http(d, "POST", "/v1/scan?name=large.7z", data,
                    TOKENS["hook"])
    j = json.loads(b)
    check(st == 200 and j["verdict"] == "flagged", j)
    check(j["matches"][0]["path"] == ["large.7z", "z-needle.txt"],
          j["matches"])

def make_pdf(text):
    """A one-page PDF showing text in Helvetica, xref offsets exact."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    content = b"BT /F1 12 Tf 72 712 Td (" + text + b") Tj ET"
    objs[3] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content),
                                                             content)
    out, offs = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, o)
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" \
        % xref
    return out


def pdf_helpers(pid):
    """The daemon's `vigil pdf-text` children."""
    kids = []
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and argv[1:2] == [b"pdf-text"]:
            kids.append(int(p))
    return kids


@case("POST /v1/scan: PDF text through the helper process; the helper "
      "is kept for the next PDF and ends with the daemon's scanners")
def t_scan_pdf(d):
    # Split by a kerning adjustment, the needle is not in the raw bytes.
    half = len(NEEDLE) // 2
    body = make_pdf(NEEDLE[:half] + b") Tj (" + NEEDLE[half:])
    check(NEEDLE not in body, "needle in the raw PDF")
    for i in range(3):
        st, _, b = http(d, "POST", "/v1/scan?name=p%d.pdf" % i, body,
                        TOKENS["hook"])
        check(st == 200, "status %d %r" % (st, b[:200]))
        j = json.loads(b)
        check(j["verdict"] == "flagged" and j["mime"] == "application/pdf",
              j)
        check(j["matches"][0]["path"] == ["p%d.pdf" % i, "#text"],
              j["matches"])
    kids = pdf_helpers(d.proc.pid)
    # One per scanning thread at most, not one per document.
    check(1 <= len(kids) <= 2, "helpers %r" % kids)
    st, _, b = http(d, "GET", "/metrics", token=TOKENS["moderator"])
    m = dict(l.rsplit(" ", 1) for l in b.decode().splitlines()
             if l.startswith("vigil_pdf_helpers_total"))
    check(1 <= int(m['vigil_pdf_helpers_total{event="started"}']) <= 2 and
          m['vigil_pdf_helpers_total{event="crashed"}'] == "0", m)


@case("reload under load: scans in flight during good and broken reloads "
      "all finish 200 with the right verdict")
def t_reload_load(rules, conf):
    import threading
    state = os.path.join(WORK, "state-reload")
    shutil.rmtree(state, ignore_errors=True)
    rdir = os.path.join(WORK, "rules-reload")
    shutil.rmtree(rdir, ignore_errors=True)
    shutil.copytree(rules, rdir)
    d = Daemon("reload", state, rdir, conf,
               {"VIGIL_TEST_SCAN_DELAY": "0.05"})
    results, errors = [], []

    def client(c):
        for i in range(12):
            flagged = (c + i) % 2 == 0
            body = b"client %d scan %d " % (c, i) + (NEEDLE if flagged
                                                     else b"")
            try:
                st, _, b = http(d, "POST", "/v1/scan?name=c%d-%d" % (c, i),
                                body, TOKENS["hook"])
                results.append((st, json.loads(b).get("verdict"),
                                "flagged" if flagged else "clean"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    try:
        threads = [threading.Thread(target=client, args=(c,))
                   for c in range(4)]
        for t in threads:
            t.start()
        reloads = []
        extra = os.path.join(rdir, "extra.yar")
        broken = os.path.join(rdir, "zz-broken.yar")
        for n in range(4):
            time.sleep(0.1)
            if n == 2:
                with open(broken, "w") as f:
                    f.write(BAD_RULE)
            elif n == 3:
                os.unlink(broken)
            else:
                with open(extra, "w") as f:
                    f.write(RULE.replace("serve_needle", "extra%d" % n)
                            % ("extra-marker-%d" % n))
            inflight = d.scans_in_flight() > 0
            st, j = jhttp(d, "POST", "/v1/rules/reload",
                          token=TOKENS["admin"])
            reloads.append((st, inflight))
        for t in threads:
            t.join(60)
        check(not errors, errors[:3])
        check([r[0] for r in reloads] == [200, 200, 422, 200], reloads)
        check(all(r[1] for r in reloads), "a reload with no scan in "
              "flight: %r" % reloads)
        check(len(results) == 48, "%d answers" % len(results))
        bad = [r for r in results if r[0] != 200 or r[1] != r[2]]
        check(not bad, bad[:5])
        st, _, _ = http(d, "GET", "/healthz")
        check(st == 200, "healthz %d" % st)
    finally:
        rc = d.stop()
    check(rc == 0, "exit %d" % rc)


def db_rows(state, sql):
    import sqlite3
    db = sqlite3.connect("file:%s/vigil.db?mode=ro" % state, uri=True,
                         timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@case("kill -9 with 1,000 events queued: after a restart every one is "
      "scanned exactly once")
def t_kill_queued(rules, conf):
    state = os.path.join(WORK, "state-kill")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    keys = ["q/obj %04d+ü.txt" % i for i in range(1000)]
    for i, k in enumerate(keys):
        put_object(state, "kb", k, b"object %d\n" % i +
                   (NEEDLE if i % 10 == 0 else b""))
    d = Daemon("kill1", state, rules, conf,
               {"VIGIL_TEST_SCAN_DELAY": "0.05"}, ("--workers", "1"))
    try:
        for start in range(0, 1000, 100):
            recs = [record("aws", "kb", k, "e%d" % (start + i))
                    for i, k in enumerate(keys[start:start + 100])]
            st, j = jhttp(d, "POST", "/v1/events", {"Records": recs},
                          token=TOKENS["hook"])
            check(st == 202 and j["accepted"] == 100, (start, st, j))
        pending = d.metric("vigil_inbox_pending")
        check(pending >= 900, "only %s pending before the kill" % pending)
    finally:
        d.stop(signal.SIGKILL)
    before = db_rows(state, "SELECT count(*) FROM verdicts")[0][0]
    check(before < 100, "%d scanned before the kill" % before)
    d = Daemon("kill2", state, rules, conf)
    try:
        done = wait_for(lambda: db_rows(
            state, "SELECT count(*) FROM verdicts")[0][0] >= 1000 and
            d.metric("vigil_inbox_pending") == 0, timeout=90, step=0.2)
        check(done, "not all scanned: %s verdicts" % db_rows(
            state, "SELECT count(*) FROM verdicts")[0][0])
        time.sleep(0.3)     # anything scanned twice would show up now
        rows = db_rows(state, "SELECT key, count(*), min(verdict), "
                       "max(verdict) FROM verdicts WHERE bucket = 'kb' "
                       "GROUP BY key")
        check(len(rows) == 1000, "%d distinct keys" % len(rows))
        check(sorted(r[0] for r in rows) == sorted(keys), "keys differ")
        twice = [r for r in rows if r[1] != 1]
        check(not twice, "scanned more than once: %r" % twice[:5])
        wrong = [r for r in rows if r[2] != r[3] or r[2] != (
            "flagged" if int(r[0][6:10]) % 10 == 0 else "clean")]
        check(not wrong, "wrong verdicts: %r" % wrong[:5])
        states = db_rows(state, "SELECT state, count(*) FROM inbox "
                         "GROUP BY state")
        check(states == [(2, 1000)], "inbox states %r" % states)
        for k in (keys[0], keys[1], keys[999]):
            v = verdict_of(d, "kb", k)
            check(v and v["key"] == k, (k, v))
    finally:
        rc = d.stop()
    check(rc == 0, "exit %d" % rc)


@case("metrics: Prometheus text with the documented series")
def t_metrics(d):
    st, h, b = http(d, "GET", "/metrics", token=TOKENS["moderator"])
    check(st == 200 and h["Content-Type"].startswith("text/plain"), st)
    text = b.decode()
    for name in ("vigil_events_accepted_total", "vigil_scans_total{",
                 "vigil_bytes_scanned_total", "vigil_queue_depth",
                 "vigil_scan_duration_seconds_bucket{le=\"+Inf\"}",
                 "vigil_rule_reloads_total{result=\"failed\"} 1",
                 "vigil_inbox_oldest_age_seconds"):
        check(name in text, "missing " + name)
    check("vigil_events_accepted_total 0" not in text, "nothing counted")


@case("log: every stderr line is one JSON object")
def t_log_json(d):
    lines = d.log_lines()
    check(lines, "no log")
    for l in lines:
        j = json.loads(l)
        check({"ts", "level", "msg"} <= set(j), l)


@case("crash recovery: accepted events survive kill -9; twice-crashing "
      "object gets verdict error")
def t_poison(rules, conf):
    state = os.path.join(WORK, "state-crash")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    put_object(state, "pb", "poison.bin", b"boom")
    put_object(state, "pb", "later.txt", NEEDLE)
    env = {"VIGIL_TEST_CRASH_KEY": "poison.bin"}
    d = Daemon("crash1", state, rules, conf, env)
    rec = aws_event("pb", "poison.bin")["Records"]
    rec += aws_event("pb", "later.txt")["Records"]
    try:
        st, j = jhttp(d, "POST", "/v1/events", {"Records": rec},
                      token=TOKENS["hook"])
        check(st == 202 and j["accepted"] == 2, (st, j))
    except (ConnectionError, http_client.HTTPException):
        # The scan may abort the daemon before the 202 leaves; the
        # commit came first, which the verdicts below prove.
        pass
    d.proc.wait(30)      # the hook aborts the daemon on poison.bin
    d.stop()
    d = Daemon("crash2", state, rules, conf, env)
    d.proc.wait(30)      # recovered, scanned again, crashed again
    d.stop()
    d = Daemon("crash3", state, rules, conf, env)
    try:
        v = wait_for(lambda: verdict_of(d, "pb", "poison.bin"))
        check(v and v["verdict"] == "error", v)
        check(v["problems"][0]["reason"] == "io", v)
        v = wait_for(lambda: verdict_of(d, "pb", "later.txt"))
        check(v and v["verdict"] == "flagged", v)
        # kill -9 right after a 202: the event is scanned after restart.
        put_object(state, "pb", "after-kill.txt", NEEDLE)
        st, j = jhttp(d, "POST", "/v1/events",
                      aws_event("pb", "after-kill.txt"), token=TOKENS["hook"])
        check(st == 202, st)
    finally:
        d.stop(signal.SIGKILL)
    d = Daemon("crash4", state, rules, conf)
    try:
        v = wait_for(lambda: verdict_of(d, "pb", "after-kill.txt"))
        check(v and v["verdict"] == "flagged", v)
    finally:
        rc = d.stop()
    check(rc == 0, "exit %d" % rc)


@case("limits: connections past max_connections get 503; slow clients "
      "are cut off after timeout; text_layer = no matches raw bytes only")
def t_limits(rules):
    state = os.path.join(WORK, "state-limits")
    shutil.rmtree(state, ignore_errors=True)
    conf = os.path.join(WORK, "limits.conf")
    with open(conf, "w") as f:
        f.write("max_connections = 2\ntimeout = 1\ntoken = admin %s\n"
                "text_layer = no\n" % TOKENS["admin"])
    d = Daemon("limits", state, rules, conf)
    try:
        conns = [http_client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                 for _ in range(3)]
        codes = []
        for c in conns:
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            codes.append(r.status)
        check(codes == [200, 200, 503], codes)
        for c in conns:
            c.close()
        time.sleep(0.2)
        st, _, _ = http(d, "GET", "/healthz")
        check(st == 200, "closed connections still counted: %d" % st)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        data = s.recv(4096)     # the server gives up on the headers
        check(time.time() - t0 < 8, "no read timeout")
        check(not data.startswith(b"HTTP/1.1 200"), data)
        s.close()
        # text_layer = no: raw bytes only, so a needle only in a PDF's
        # text passes and one in the bytes does not.
        half = len(NEEDLE) // 2
        st, _, b = http(d, "POST", "/v1/scan?name=t.pdf",
                        make_pdf(NEEDLE[:half] + b") Tj (" + NEEDLE[half:]),
                        TOKENS["admin"])
        check(st == 200 and json.loads(b)["verdict"] == "clean", b)
        st, _, b = http(d, "POST", "/v1/scan?name=t.txt", NEEDLE,
                        TOKENS["admin"])
        check(st == 200 and json.loads(b)["verdict"] == "flagged", b)
    finally:
        rc = d.stop()
    check(rc == 0, "exit %d" % rc)


@case("overload: a full queue answers 503; SIGTERM drains running scans")
def t_overload(rules):
    import threading
    state = os.path.join(WORK, "state-overload")
    shutil.rmtree(state, ignore_errors=True)
    conf = os.path.join(WORK, "overload.conf")
    with open(conf, "w") as f:
        f.write("queue_size = 1\ntoken = hook %s\n" % TOKENS["hook"])
    d = Daemon("overload", state, rules, conf,
               {"VIGIL_TEST_SCAN_DELAY": "1.5"}, ("--workers", "1"))
    results = {}

    def post(i):
        results[i] = http(d, "POST", "/v1/scan?name=n%d" % i,
                          b"body %d" % i, TOKENS["hook"])[0]

    try:
        threads = []
        for i in range(2):     # one running, one waiting
            threads.append(threading.Thread(target=post, args=(i,)))
            threads[-1].start()
            time.sleep(0.3)
        st, _, _ = http(d, "POST", "/v1/scan", b"x", TOKENS["hook"])
        check(st == 503, "third scan: %d" % st)
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            st, _, _ = http(d, "GET", "/healthz")
            refused = False
        except (ConnectionError, urllib.error.URLError):
            refused = True
        check(refused, "still accepting after SIGTERM (%s)" % st)
        for t in threads:
            t.join(30)
        check(results == {0: 200, 1: 200}, results)
    finally:
        rc = d.stop()
    check(rc == 0, "exit %d" % rc)


@case("SIGTERM: stops listening, exits 0 after draining")
def t_sigterm(d):
    rc = d.stop()
    check(rc == 0, "exit %d" % rc)
    check(any("drained" in l for l in d.log_lines()), "no drain log")


def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups", "CapEff", "CapPrm"):
                ids[k] = v.split()
    return ids


@case("privileges: started as root with a user set, the daemon runs as "
      "that user only after opening socket, database and rules")
def t_privdrop(rules, conf):
    import pwd
    if os.geteuid() != 0:
        raise Skip("not running as root")
    made = None
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
            raise Skip("no user nobody, and CI is not set, so no "
                       "temporary user is made")
        made = "vigil-test-%d" % os.getpid()
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", made], check=True)
        pw = pwd.getpwnam(made)
    state = os.path.join(WORK, "state-priv")
    shutil.rmtree(state, ignore_errors=True)
    pconf = os.path.join(WORK, "priv.conf")
    shutil.copy(conf, pconf)
    with open(pconf, "a") as f:
        f.write("user = %s\n" % pw.pw_name)
    # The unprivileged daemon must still reach its state and rules.
    for p in (WORK, rules):
        os.chmod(p, 0o755)
    d = Daemon("priv", state, rules, pconf)
    try:
        ids = proc_ids(d.proc.pid)
        check(ids["Uid"] == [str(pw.pw_uid)] * 4, ids)
        check(ids["Gid"] == [str(pw.pw_gid)] * 4, ids)
        check(ids["Groups"] in ([], [str(pw.pw_gid)]), ids)
        check(int(ids["CapEff"][0], 16) == 0 and
              int(ids["CapPrm"][0], 16) == 0, ids)
        check(any("running as user %s" % pw.pw_name in l
                  for l in d.log_lines()), "switch not logged")
        check(os.stat(os.path.join(state, "vigil.db")).st_uid == pw.pw_uid,
              "vigil.db not handed over")
        # It still writes verdicts, reads objects and reloads rules.
        put_object(state, "pv", "after drop.txt", NEEDLE)
        st, j = jhttp(d, "POST", "/v1/events",
                      aws_event("pv", "after drop.txt"), token=TOKENS["hook"])
        check(st == 202 and j["accepted"] == 1, (st, j))
        v = wait_for(lambda: verdict_of(d, "pv", "after drop.txt"))
        check(v and v["verdict"] == "flagged", v)
        st, _, b = http(d, "POST", "/v1/scan?name=x", NEEDLE, TOKENS["hook"])
        check(st == 200 and json.loads(b)["verdict"] == "flagged", b)
        # The PDF helper runs as that user too, and still reads text.
        half = len(NEEDLE) // 2
        st, _, b = http(d, "POST", "/v1/scan?name=x.pdf",
                        make_pdf(NEEDLE[:half] + b") Tj (" + NEEDLE[half:]),
                        TOKENS["hook"])
        j = json.loads(b)
        check(st == 200 and j["matches"][0]["path"] == ["x.pdf", "#text"],
              b)
        kids = pdf_helpers(d.proc.pid)
        check(kids, "no PDF helper")
        for k in kids:
            check(proc_ids(k)["Uid"] == [str(pw.pw_uid)] * 4, proc_ids(k))
        st, j = jhttp(d, "POST", "/v1/rules/reload", token=TOKENS["admin"])
        check(st == 200, (st, j))
    finally:
        rc = d.stop()
        if made:
            subprocess.run(["userdel", made])
    check(rc == 0, "exit %d" % rc)
    # A named user that does not exist stops start-up.
    bad = os.path.join(WORK, "nouser.conf")
    with open(bad, "w") as f:
        f.write("user = no-such-user-vigil\n")
    r = subprocess.run([VIGIL, "serve", "--config", bad, "--listen",
                        "127.0.0.1:0", "--state-dir", state + "-nouser",
                        "--rules", rules], capture_output=True, timeout=60)
    check(r.returncode == 3 and b"no-such-user-vigil" in r.stderr,
          (r.returncode, r.stderr[-300:]))


def main():
    if not setup(sys.argv, __doc__):
        return 2
    rules = os.path.join(WORK, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "needle.yar"), "w") as f:
        f.write(RULE % NEEDLE.decode())
    conf = os.path.join(WORK, "vigil.conf")
    with open(conf, "w") as f:
        f.write("[serve]\nmax_body = 256k\ncommit_delay_ms = 1\n")
        for role, tok in TOKENS.items():
            f.write("token = %s %s\n" % (role, tok))

    run_case(t_check_config, rules)
    run_case(t_check_config_bad, rules)
    run_case(t_admin_token, rules)
    on_main = (t_auth, t_roles, t_readyz, t_rules, t_scan_matches_cli,
               t_scan_nested, t_scan_large, t_scan_pdf, t_scan_too_big, t_reload, t_sighup,
               t_event_aws, t_event_minio, t_event_ceph, t_event_awkward,
               t_event_dup, t_event_removed, t_event_bad, t_metrics,
               t_log_json, t_sigterm)
    if any(selected(fn.case_name) for fn in on_main):
        state = os.path.join(WORK, "state")
        d = Daemon("main", state, rules, conf)
        try:
            for fn in on_main:
                if fn in (t_scan_matches_cli, t_reload, t_sighup):
                    run_case(fn, d, rules)
                else:
                    run_case(fn, d)
        finally:
            d.stop(signal.SIGKILL)
    run_case(t_reload_load, rules, conf)
    run_case(t_poison, rules, conf)
    run_case(t_kill_queued, rules, conf)
    run_case(t_limits, rules)
    run_case(t_overload, rules)
    run_case(t_privdrop, rules, conf)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
