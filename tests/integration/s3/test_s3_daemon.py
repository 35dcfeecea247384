#!/usr/bin/env python3
"""`vigil serve` with S3 buckets, against real S3 servers on 127.0.0.1.

usage: test_s3_daemon.py --vigil PATH --work DIR [--cache DIR]
                         [--servers ceph,s3rver] [[!]CASE...]

For each server (s3server.py: Ceph RGW from Debian, which checks
signatures and implements tagging, copy and ACLs; @20minutes/s3rver from
npm, which lacks ACLs), objects are uploaded with the aws CLI (keys with
spaces, '+' and unicode), the matching S3 event is delivered to the
daemon's hook, and the verdicts, ranged reads of a zip, a full-bucket
scan over several listing pages, quarantine and its undo by a
moderator's dismissal, wrong credentials and a server going away
mid-object are checked.  The daemon reaches each server through the
recording proxy of test_s3_client.py, which also cuts connections on
demand.  Exit 77 only when the npm registry is unreachable and no server
is installed.  Standard library only.
"""

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
import s3server  # noqa: E402
import test_s3_client as tc  # noqa: E402
import test_serve as ts  # noqa: E402

HOOK = "hook-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
NEEDLE = b"S3-NEEDLE-0a7d"
RULE = """rule s3_needle
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings:
        $a = "S3-NEEDLE-0a7d"
    condition:
        $a
}
"""
KEYS = {   # key -> flagged?
    "dir/a file.txt": True,
    "plus+sign.txt": True,
    "unicode-\u65e5\u672c\u8a9e.txt": True,
    "clean.txt": False,
}
MOVE_KEY = "movable.txt"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def zip_with_needle():
    """A zip whose needle member sits behind 2 MiB of stored filler."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(zipfile.ZipInfo("filler.bin"), os.urandom(2 << 20))
        z.writestr("inner/needle.txt", b"inside " + NEEDLE + b" here")
    return b.getvalue()


class Run:
    def __init__(self, a, srv):
        self.a = a
        self.srv = srv
        self.work = os.path.join(a.work, srv.name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.aws_config = os.path.join(self.work, "aws-config")
        with open(self.aws_config, "w") as f:
            f.write("[default]\ns3 =\n    addressing_style = path\n")
        self.results = []

    def aws(self, *args, ok=True):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": self.srv.access_key,
            "AWS_SECRET_ACCESS_KEY": self.srv.secret_key,
            "AWS_DEFAULT_REGION": self.srv.region,
            "AWS_CONFIG_FILE": self.aws_config,
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.work, "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        })
        env.pop("AWS_SESSION_TOKEN", None)
        r = subprocess.run(["aws", "--endpoint-url", self.srv.endpoint] +
                           list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=300,
                           stdin=subprocess.DEVNULL)
        if ok and r.returncode != 0:
            raise Fail("aws %s: %s" % (" ".join(args[:4]), r.stdout.decode(
                "utf-8", "replace")[-1000:]))
        return r

    def put(self, bucket, key, data, acl=None):
        p = os.path.join(self.work, "upload")
        with open(p, "wb") as f:
            f.write(data)
        args = ["s3api", "put-object", "--bucket", bucket, "--key", key,
                "--body", p]
        if acl:
            args += ["--acl", acl]
        self.aws(*args)

    def exists(self, bucket, key):
        return self.aws("s3api", "head-object", "--bucket", bucket, "--key",
                        key, ok=False).returncode == 0

    def tags(self, bucket, key):
        r = self.aws("s3api", "get-object-tagging", "--bucket", bucket,
                     "--key", key, ok=False)
        if r.returncode != 0:
            return None
        return {t["Key"]: t["Value"] for t in json.loads(r.stdout)["TagSet"]}

    def public(self, bucket, key):
        r = self.aws("s3api", "get-object-acl", "--bucket", bucket, "--key",
                     key)
        return any(g["Grantee"].get("URI", "").endswith("AllUsers")
                   for g in json.loads(r.stdout)["Grants"])

    def event(self, bucket, key, name="ObjectCreated:Put"):
        self.seq = getattr(self, "seq", 0) + 1
        ev = ts.aws_event(bucket, key, etag="e%d" % self.seq,
                          seq="%06d" % self.seq, name=name,
                          owner="acct-s3")
        st, j = ts.jhttp(self.d, "POST", "/v1/events", ev, token=HOOK)
        check(st == 202, "event: %s %s" % (st, j))

    def verdict(self, bucket, key, n=1, timeout=60):
        """Waits for the n-th audit verdict of bucket/key; the verdict."""
        subj = urllib.parse.quote("%s/%s" % (bucket, key))

        def have():
            st, j = ts.jhttp(self.d, "GET", "/v1/audit?subject=" + subj,
                             token=ADMIN)
            return st == 200 and sum(1 for r in j["records"]
                                     if r["action"] == "verdict") >= n
        check(ts.wait_for(have, timeout), "no verdict for %s/%s" %
              (bucket, key))
        return ts.verdict_of(self.d, bucket, key, token=ADMIN)

    def case(self, name, fn, *args):
        if not selected(self.a, name):
            return
        try:
            r = fn(*args)
            res = "SKIP" if isinstance(r, str) else "PASS"
            why = r if isinstance(r, str) else ""
        except Exception as e:
            res, why = "FAIL", "%s: %s" % (type(e).__name__, e)
        print("%s [%s] %s%s" % (res, self.srv.name, name,
                                ": " + why if why else ""), flush=True)
        self.results.append(res)

    # Cases --------------------------------------------------------------

    def t_hook(self):
        for k, flagged in KEYS.items():
            self.put("uploads", k, (b"data " + NEEDLE) if flagged else b"fine")
            self.event("uploads", k)
        for k, flagged in KEYS.items():
            v = self.verdict("uploads", k)
            want = "flagged" if flagged else "clean"
            check(v["verdict"] == want, "%r: %s, want %s: %s" % (
                k, v["verdict"], want, v["problems"]))
            check(v["size"] == (len(NEEDLE) + 5 if flagged else 4),
                  "%r size %s" % (k, v["size"]))
            if flagged:
                check(v["matches"][0]["path"] == ["uploads/" + k],
                      "path %s" % v["matches"][0]["path"])

    def t_zip_ranges(self):
        data = zip_with_needle()
        self.put("uploads", "arch/bundle.zip", data)
        before = len(self.proxy.requests)
        self.event("uploads", "arch/bundle.zip")
        v = self.verdict("uploads", "arch/bundle.zip")
        check(v["verdict"] == "flagged" and v["matches"][0]["path"] ==
              ["uploads/arch/bundle.zip", "inner/needle.txt"], "zip %s" % v)
        heads = [h for h in self.proxy.requests[before:]
                 if b"bundle.zip" in h]
        ranged = [h for h in heads if b"\r\nrange: bytes=" in h.lower()]
        check(ranged, "no ranged GET among %d requests" % len(heads))

    def t_list_pages(self):
        for i in range(7):
            self.put("pages", "p/%02d.txt" % i,
                     NEEDLE if i % 3 == 0 else b"quiet")
        before = len(self.proxy.requests)
        st, j = ts.jhttp(self.d, "POST", "/v1/bucket-scans",
                         {"bucket": "pages", "mode": "full"}, token=ADMIN)
        check(st == 201, "start: %s %s" % (st, j))
        jid = j["id"]
        j = ts.wait_for(lambda: (lambda j: j if j["state"] != "running"
                                 else None)(ts.jhttp(
                                     self.d, "GET", "/v1/bucket-scans/%d"
                                     % jid, token=ADMIN)[1]), 120, 0.2)
        check(j and j["state"] == "done" and j["listed"] == 7 and
              j["scanned"] == 7 and j["flagged"] == 3, "job %s" % j)
        lists = [h for h in self.proxy.requests[before:]
                 if b"list-type=2" in h]
        check(len(lists) >= 4, "%d listing requests for 7 keys, 2 a page"
              % len(lists))
        check(any(b"continuation-token=" in h for h in lists),
              "pages after the first not asked by continuation token")
        # Incremental rerun: every object unchanged, none read, once the
        # quarantine thread has moved the flagged ones away (Ceph).
        if "move" in self.srv.caps:
            check(ts.wait_for(lambda: not any(
                self.exists("pages", "p/%02d.txt" % i) for i in (0, 3, 6)),
                30), "flagged objects not moved to pages-quarantine")
        st, j2 = ts.jhttp(self.d, "POST", "/v1/bucket-scans",
                          {"bucket": "pages"}, token=ADMIN)
        check(st == 201, "second job: %s %s" % (st, j2))
        jid2 = j2["id"]
        j2 = ts.wait_for(lambda: (lambda j: j if j["state"] != "running"
                                  else None)(ts.jhttp(
                                      self.d, "GET", "/v1/bucket-scans/%d"
                                      % jid2, token=ADMIN)[1]), 60, 0.2)
        # Flagged objects may have been moved to pages-quarantine.
        check(j2 and j2["state"] == "done" and j2["listed"] > 0 and
              j2["scanned"] == 0 and j2["skipped"] == j2["listed"],
              "incremental over S3: %s" % j2)
        # S3's NoSuchBucket answers the POST itself.
        st, j3 = ts.jhttp(self.d, "POST", "/v1/bucket-scans",
                          {"bucket": "no-such-bucket-7f3e"}, token=ADMIN)
        check(st == 404 and j3.get("error") == "no such bucket",
              "missing bucket over S3: %s %s" % (st, j3))

    def t_quarantine(self):
        caps = self.srv.caps
        key = MOVE_KEY
        self.put("uploads", key, b"bad " + NEEDLE, acl="public-read" if
                 "private" in caps else None)
        if "tag" in caps:
            self.aws("s3api", "put-object-tagging", "--bucket", "uploads",
                     "--key", key, "--tagging",
                     "TagSet=[{Key=owner,Value=team-a}]")
        self.event("uploads", key)
        self.verdict("uploads", key)
        where = "uploads-quarantine" if "move" in caps else "uploads"
        check(ts.wait_for(lambda: self.exists("uploads-quarantine", key) and
                          not self.exists("uploads", key), 30) if "move" in caps
              else True, "not moved to uploads-quarantine")
        if "tag" in caps:
            t = self.tags(where, key)
            check(t is not None and t.get("vigil-verdict") == "flagged" and
                  t.get("owner") == "team-a", "tags after flag: %s" % t)
        if "private" in caps:
            check(not self.public(where, key), "still public")
        # The move's own ObjectRemoved must not count as a deletion.
        if "move" in caps:
            self.event("uploads", key, name="ObjectRemoved:Delete")
        acct = ts.wait_for(lambda: (lambda it: it)(self.item()), 30)
        check(acct, "no review item for acct-s3")
        st, a = ts.jhttp(self.d, "GET", "/v1/accounts/acct-s3",
                         token=ADMIN)
        f = [x for x in a["findings"] if x["key"] == key]
        check(f and f[0]["state"] == "active", "finding after the move's "
              "ObjectRemoved: %s" % f)
        path = "/v1/review/%d" % acct["id"]
        st, _ = ts.jhttp(self.d, "POST", path + "/claim",
                         {"moderator": "alice"}, token=ADMIN)
        check(st == 200, "claim %s" % st)
        st, j = ts.jhttp(self.d, "POST", path + "/decision", {
            "moderator": "alice", "decision": "dismiss",
            "reason": "false positive"}, token=ADMIN)
        check(st == 200, "dismiss %s %s" % (st, j))
        if "move" in caps:
            check(ts.wait_for(lambda: self.exists("uploads", key) and
                              not self.exists("uploads-quarantine", key), 30),
                  "not moved back")
        if "tag" in caps:
            t = ts.wait_for(lambda: (lambda t: t if t is not None and
                                     "vigil-verdict" not in t else None)(
                                         self.tags("uploads", key)), 30)
            check(t == {"owner": "team-a"}, "tags after undo: %s"
                  % self.tags("uploads", key))
        if "private" in caps:
            check(ts.wait_for(lambda: self.public("uploads", key), 30),
                  "public read not restored")
        return None

    def item(self):
        st, j = ts.jhttp(self.d, "GET", "/v1/review?status=open",
                         token=ADMIN)
        for it in j.get("items", []):
            if it["account"] == "acct-s3":
                return it
        return None

    def t_bad_credentials(self):
        self.event("badkeys", "creds.txt")
        v = self.verdict("badkeys", "creds.txt")
        check(v["verdict"] == "error" and v["problems"][0]["reason"] ==
              "io", "verdict %s" % v)
        detail = json.dumps(v)
        check("403" in detail or "SignatureDoesNotMatch" in detail or
              "AccessDenied" in detail, "no status in %s" % detail)
        st, _ = ts.jhttp(self.d, "GET", "/healthz")
        check(st == 200, "daemon down after bad credentials")

    def t_goes_away(self):
        big = b"x" * (3 << 20) + NEEDLE
        # Cut once: the GET resumes with a range and the verdict stands.
        self.put("flaky", "big.txt", big)
        self.cut_once.mode, self.cut_once.cut = "cut", 1 << 20
        self.cut_once.times = 1
        self.event("flaky", "big.txt")
        v = self.verdict("flaky", "big.txt")
        check(v["verdict"] == "flagged" and v["size"] == len(big),
              "after one cut: %s" % v)
        check(self.cut_once.misbehaved == 1, "cut %d times" %
              self.cut_once.misbehaved)
        # Cut always: retries, then "io" naming the failure.
        self.put("broken", "big.txt", big)
        # Each resume would get 256 KiB further: 4 attempts fall short.
        self.cut_always.mode, self.cut_always.cut = "cut", 256 << 10
        self.event("broken", "big.txt")
        v = self.verdict("broken", "big.txt", timeout=120)
        check(v["verdict"] == "error" and v["problems"][0]["reason"] ==
              "io", "always cut: %s" % v)
        check(self.cut_always.misbehaved >= 2, "no retry: %d connections"
              % self.cut_always.misbehaved)

    def main(self):
        srv = self.srv
        for b in ("uploads", "uploads-quarantine", "pages", "pages-quarantine",
                  "flaky", "broken"):
            self.aws("s3api", "create-bucket", "--bucket", b)
        self.proxy = tc.Proxy(srv.port)
        self.cut_once = tc.Proxy(srv.port)
        self.cut_always = tc.Proxy(srv.port)
        rules = os.path.join(self.work, "rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "s3.yar"), "w") as f:
            f.write(RULE)
        qrules = "quarantine = IV.9(7) %s\n" % ",".join(sorted(
            srv.caps)) if srv.caps else ""
        conf = os.path.join(self.work, "vigil.conf")
        common = ("source = s3\nregion = %s\naccess_key = %s\n"
                  % (srv.region, srv.access_key))
        with open(conf, "w") as f:
            f.write("[serve]\ncommit_delay_ms = 1\ntoken = hook %s\n"
                    "token = admin %s\n[policy]\nflag_threshold = 10\n%s"
                    % (HOOK, ADMIN, qrules))
            f.write('[bucket "uploads"]\n%sendpoint = %s\nsecret_key = %s\n'
                    % (common, self.proxy.endpoint, srv.secret_key))
            f.write('[bucket "pages"]\n%sendpoint = %s\nsecret_key = %s\n'
                    'list_page = 2\n' % (common, self.proxy.endpoint,
                                         srv.secret_key))
            f.write('[bucket "badkeys"]\n%sendpoint = %s\n'
                    'secret_key = wrong-secret-key-0123\n'
                    % (common, srv.endpoint))
            f.write('[bucket "flaky"]\n%sendpoint = %s\nsecret_key = %s\n'
                    % (common, self.cut_once.endpoint, srv.secret_key))
            f.write('[bucket "broken"]\n%sendpoint = %s\nsecret_key = '
                    '%s\n' % (common, self.cut_always.endpoint,
                               srv.secret_key))
        self.d = ts.Daemon("vigil-" + srv.name, os.path.join(
            self.work, "state"), rules, conf)
        try:
            self.case("hook events for S3 objects, awkward keys",
                      self.t_hook)
            self.case("a zip is read by ranged GETs", self.t_zip_ranges)
            self.case("bucket scan across listing pages", self.t_list_pages)
            self.case("quarantine and its undo", self.t_quarantine)
            self.case("wrong credentials: an io problem, not a crash",
                      self.t_bad_credentials)
            self.case("server going away mid-object: resume, then io",
                      self.t_goes_away)
        finally:
            self.d.stop(signal.SIGKILL)
            self.proxy.close()
            self.cut_once.close()
            self.cut_always.close()
        return self.results


def selected(a, name):
    inc = [c for c in a.cases if not c.startswith("!")]
    exc = [c[1:] for c in a.cases if c.startswith("!")]
    return (not inc or any(c in name for c in inc)) and \
        not any(c in name for c in exc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cache", default=s3server.default_cache())
    ap.add_argument("--servers", default="ceph,s3rver")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    a.work = os.path.abspath(a.work)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    ts.VIGIL = os.path.abspath(a.vigil)
    ts.WORK = a.work
    # s3rver's CopyObject drops tags (and fails keys with '+'), and it has
    # no ACLs: there only tagging is checked; Ceph does all three.
    caps = {"ceph": {"tag", "move", "private"}, "s3rver": {"tag"}}
    results = []
    for name in a.servers.split(","):
        srv = s3server.make(name, a.cache, os.path.join(a.work, "srv-" +
                                                          name))
        try:
            srv.start()
        except s3server.Unavailable as e:
            print("SKIP [%s] %s" % (name, e))
            if name == "s3rver" and len(a.servers.split(",")) == 1:
                return 77
            continue
        srv.caps = caps[name]
        try:
            results += Run(a, srv).main()
        finally:
            srv.stop()
    failed = results.count("FAIL")
    print("%d passed, %d failed, %d skipped" % (
        results.count("PASS"), failed, results.count("SKIP")))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
