#!/usr/bin/env python3
"""End-to-end tests of `vigil serve`.

usage: test_serve.py VIGIL WORKDIR [CASE-SUBSTRING...]

Starts the real daemon with --listen 127.0.0.1:0 and a fresh state dir
under WORKDIR, reads the bound port back from STATE_DIR/port (the daemon
also logs "listening on ADDR:PORT"), and drives it with urllib.  Each
check is a named case printed as PASS or FAIL; the last line is
"N passed, M failed" and the exit status is 1 if any case failed.  The
daemon's stderr is kept in WORKDIR/*.log.  Standard library only.
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


def run_case(fn, *args):
    name = fn.case_name
    if SELECT and not any(s in name for s in SELECT):
        return
    try:
        fn(*args)
        RESULTS.append((name, True))
        print("PASS %s" % name, flush=True)
    except Exception as e:  # a case failing must not stop the others
        RESULTS.append((name, False))
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)


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


@case("POST /v1/scan: a body over max_body is 413")
def t_scan_too_big(d):
    st, _, _ = http(d, "POST", "/v1/scan", b"a" * (300 * 1024),
                    TOKENS["hook"])
    check(st == 413, "status %d" % st)
    st, _, _ = http(d, "GET", "/healthz")
    check(st == 200, "daemon unwell after 413")


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


@case("events: malformed bodies and escaping keys are 400")
def t_event_bad(d):
    for body in (b"{", b"[]", json.dumps(aws_event("b1", "../etc/passwd"))
                 .encode(), json.dumps(aws_event("..", "k")).encode()):
        st, j = jhttp(d, "POST", "/v1/events", body, token=TOKENS["hook"])
        check(st == 400 and "error" in j, (body, st, j))


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
      "are cut off after timeout")
def t_limits(rules):
    state = os.path.join(WORK, "state-limits")
    shutil.rmtree(state, ignore_errors=True)
    conf = os.path.join(WORK, "limits.conf")
    with open(conf, "w") as f:
        f.write("max_connections = 2\ntimeout = 1\ntoken = admin %s\n"
                % TOKENS["admin"])
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


def main():
    global VIGIL, WORK, SELECT
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    VIGIL = os.path.abspath(sys.argv[1])
    WORK = os.path.abspath(sys.argv[2])
    SELECT = sys.argv[3:]
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
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
    state = os.path.join(WORK, "state")
    d = Daemon("main", state, rules, conf)
    try:
        run_case(t_auth, d)
        run_case(t_roles, d)
        run_case(t_readyz, d)
        run_case(t_rules, d)
        run_case(t_scan_matches_cli, d, rules)
        run_case(t_scan_too_big, d)
        run_case(t_reload, d, rules)
        run_case(t_sighup, d, rules)
        run_case(t_event_aws, d)
        run_case(t_event_minio, d)
        run_case(t_event_ceph, d)
        run_case(t_event_dup, d)
        run_case(t_event_removed, d)
        run_case(t_event_bad, d)
        run_case(t_metrics, d)
        run_case(t_log_json, d)
        run_case(t_sigterm, d)
    finally:
        d.stop(signal.SIGKILL)
    run_case(t_poison, rules, conf)
    run_case(t_limits, rules)
    run_case(t_overload, rules)

    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
