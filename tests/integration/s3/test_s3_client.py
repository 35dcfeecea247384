#!/usr/bin/env python3
"""The S3 client (daemon/sources/s3.c) against real S3 servers.

usage: test_s3_client.py --s3tool PATH --work DIR [--cache DIR]
                         [--servers s3rver,ceph] [[!]CASE-SUBSTRING...]

For each server (s3server.py: s3rver from npm, Ceph RGW from Debian) it
starts the server on 127.0.0.1, uploads objects with the aws CLI (keys
with spaces, '+', '%', '?', '#', unicode, dot segments; 2,500 keys for
paging; a 3 MiB object) and checks what s3tool, which drives each call of
include/vigil/s3.h, answers.  Failure paths go through Proxy, a TCP proxy
in front of the server that cuts connections after N bytes, answers 503,
stalls or records requests, so retries and mid-transfer failures are
deterministic.

Each check prints PASS, FAIL or SKIP (the server lacks the operation) with
the server's name; a table of servers by cases follows, and the last line
is "N passed, M failed, K skipped".  Exit 1 if anything failed; 77 (a
skip for ctest) if nothing failed but the npm registry was unreachable
with no s3rver installed yet; otherwise 0.  A missing aws, node or Ceph
program is a failure: scripts/install-deps --test installs them.
Standard library only.
"""

import argparse
import hashlib
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3server  # noqa: E402

BUCKET = "vigil-test"
BIG_SIZE = 3 * 1024 * 1024 + 123
NMANY = 2500

# Keys the client must encode right (SigV4: every byte but A-Za-z0-9-._~
# as %XX, '/' kept), and that curl must not normalise ("a/../b").
SPECIAL = [
    "dir/a b+c%d é?x#y",
    "space key",
    "plus+key",
    "percent%41%25%",
    "unicode/日本語/ü ñ.txt",
    "query?and#hash",
    "dots/a/../b",
    "dots/./c",
    "double//slash",
    "reserved=&;:@!*'()$,[]",
    "tilde~under_score-dash.dot",
]
# s3rver decodes x-amz-copy-source with decodeURI, which leaves %2B, %3F,
# %23 (and other reserved escapes) encoded: copy from a plainer key there.
COPY_SRC = {"s3rver": "unicode/日本語/ü ñ.txt",
            "ceph": "dir/a b+c%d é?x#y"}
COPY_DST = "copies/é x+%?#"

# What each server implements, beyond what every one of them does.
# bad_keys: keys it cannot hold (s3rver's router refuses an empty path
# segment; its file store resolves dot segments, so "dots/a/../b" is
# listed as "dots/b").  bad_list_keys: keys it lists wrong (s3rver
# XML-escapes keys twice, "a&b" comes back as "a&amp;b", and signs a
# prefix with encodeURIComponent, which leaves !*'() unencoded, so a
# correctly signed prefix with those fails there).
CAPS = {
    "s3rver": {"acl": False, "vhost": False,
               "bad_keys": {"double//slash", "dots/a/../b", "dots/./c"},
               "bad_list_keys": {"reserved=&;:@!*'()$,[]"}},
    "ceph": {"acl": True, "vhost": True, "bad_keys": set(),
             "bad_list_keys": set()},
}

SLOWDOWN = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
            b"<Code>SlowDown</Code><Message>Please reduce your request "
            b"rate.</Message></Error>")


class Proxy:
    """A TCP proxy to 127.0.0.1:upstream that misbehaves on purpose.

    mode "pass": relay, keeping every request head in self.requests.
    mode "cut": relay, but close the connection once `cut` bytes of the
      answer went to the client (0: before any), for the first `times`
      connections (None: all of them).
    mode "status": answer the first `times` requests with 503 SlowDown,
      then relay.
    mode "stall": read the request and never answer.
    tls: an ssl.SSLContext to serve HTTPS with (the upstream stays HTTP).
    """

    def __init__(self, upstream, mode="pass", cut=0, times=None, tls=None):
        self.tls = tls
        self.upstream = upstream
        self.mode = mode
        self.cut = cut
        self.times = times
        self.conns = 0
        self.misbehaved = 0
        self.requests = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.done.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                n = self.conns
                self.conns += 1
            threading.Thread(target=self._conn, args=(c, n),
                             daemon=True).start()

    def _misbehave_now(self, n):
        if self.times is not None and n >= self.times:
            return False
        with self.lock:
            self.misbehaved += 1
        return True

    @staticmethod
    def _read_head(c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                break
            buf += d
        return buf

    def _conn(self, c, n):
        try:
            if self.tls is not None:
                # A client that refuses the certificate ends it here.
                try:
                    c = self.tls.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError):
                    return
            if self.mode == "stall":
                self._read_head(c)
                self.done.wait(60)
                return
            if self.mode == "status" and self._misbehave_now(n):
                self._read_head(c)
                c.sendall(b"HTTP/1.1 503 Slow Down\r\n"
                          b"Content-Type: application/xml\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                          % len(SLOWDOWN) + SLOWDOWN)
                return
            limit = None
            if self.mode == "cut" and self._misbehave_now(n):
                limit = self.cut
            u = socket.create_connection(("127.0.0.1", self.upstream))
            up = threading.Thread(target=self._pump_up, args=(c, u),
                                  daemon=True)
            up.start()
            self._pump_down(u, c, limit)
            for s in (u, c):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            u.close()
        except OSError:
            pass
        finally:
            c.close()

    def _pump_up(self, c, u):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                if self.mode == "pass":
                    with self.lock:
                        self.requests.append(d)
                u.sendall(d)
        except OSError:
            pass
        try:
            u.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _pump_down(self, u, c, limit):
        sent = 0
        if limit == 0:
            # Wait for the request, then hang up without a byte.
            time.sleep(0.05)
            return
        while True:
            d = u.recv(65536)
            if not d:
                return
            if limit is not None and sent + len(d) >= limit:
                c.sendall(d[:limit - sent])
                return
            c.sendall(d)
            sent += len(d)


class Suite:
    def __init__(self, args):
        self.args = args
        self.passed = self.failed = self.skipped = 0
        self.table = {}         # case -> {server: "PASS"|"FAIL"|"SKIP"}
        self.servers = []
        self.cur = None         # running server
        self.select = [s for s in args.cases if not s.startswith("!")]
        self.omit = [s[1:] for s in args.cases if s.startswith("!")]

    def wanted(self, name):
        if any(o in name for o in self.omit):
            return False
        return not self.select or any(s in name for s in self.select)

    def record(self, name, result, why=""):
        srv = self.cur.name if self.cur else "-"
        print("%s [%s] %s%s" % (result, srv, name,
                                (": " + why) if why else ""), flush=True)
        self.table.setdefault(name, {})[srv] = result
        if result == "PASS":
            self.passed += 1
        elif result == "FAIL":
            self.failed += 1
        else:
            self.skipped += 1

    def case(self, name, fn, *a):
        if not self.wanted(name):
            return
        try:
            r = fn(*a)
        except AssertionError as e:
            self.record(name, "FAIL", str(e))
            return
        except Exception as e:          # a broken case is a failure too
            self.record(name, "FAIL", "%s: %s" % (type(e).__name__, e))
            return
        if isinstance(r, str):
            self.record(name, "SKIP", r)
        else:
            self.record(name, "PASS")

    # Tools ------------------------------------------------------------

    def s3tool(self, *args, endpoint=None, opts=(), env_keys=True,
               timeout=120):
        srv = self.cur
        cmd = [self.args.s3tool, "--endpoint", endpoint or srv.endpoint,
               "--region", srv.region, "--backoff", "20"] + list(opts)
        env = dict(os.environ)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                  "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        if env_keys:
            env["AWS_ACCESS_KEY_ID"] = srv.access_key
            env["AWS_SECRET_ACCESS_KEY"] = srv.secret_key
        t0 = time.time()
        r = subprocess.run(cmd + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        r.elapsed = time.time() - t0
        r.err = r.stderr.decode("utf-8", "replace")
        return r

    def ok(self, *args, **kw):
        r = self.s3tool(*args, **kw)
        assert r.returncode == 0, "s3tool %s: exit %d: %s" % (
            " ".join(args), r.returncode, r.err.strip())
        return r

    def aws(self, *args):
        srv = self.cur
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": srv.access_key,
            "AWS_SECRET_ACCESS_KEY": srv.secret_key,
            "AWS_DEFAULT_REGION": srv.region,
            "AWS_CONFIG_FILE": self.aws_config,
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.work, "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Plain payloads: no aws-chunked checksum trailers.
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        })
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        r = subprocess.run(["aws", "--endpoint-url", srv.endpoint] +
                           list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=600,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("aws %s: %s" % (" ".join(args[:3]),
                               r.stdout.decode("utf-8", "replace")[-2000:]))
        return r.stdout

    # Fixtures ---------------------------------------------------------

    def make_fixtures(self):
        self.work = os.path.abspath(self.args.work)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.aws_config = os.path.join(self.work, "aws-config")
        with open(self.aws_config, "w") as f:
            f.write("[default]\ns3 =\n    max_concurrent_requests = 16\n"
                    "    addressing_style = path\n")
        rnd = random.Random(5)
        self.big = bytes(rnd.getrandbits(8) for _ in range(BIG_SIZE))
        self.big_path = os.path.join(self.work, "big.bin")
        with open(self.big_path, "wb") as f:
            f.write(self.big)
        self.special = {}
        d = os.path.join(self.work, "special")
        os.makedirs(d)
        for i, k in enumerate(SPECIAL):
            data = ("%d:%s\n" % (i, k)).encode()
            p = os.path.join(d, "%d" % i)
            with open(p, "wb") as f:
                f.write(data)
            self.special[k] = (p, data)
        # 2,500 keys; every 250th with bytes that need encoding, so they
        # land inside pages and in continuation tokens.
        self.many_dir = os.path.join(self.work, "many")
        os.makedirs(self.many_dir)
        self.many = []
        for i in range(NMANY):
            name = "k%04d" % i + (" é+%" if i % 250 == 7 else "")
            with open(os.path.join(self.many_dir, name), "w") as f:
                f.write(str(i))
            self.many.append("many/" + name)
        self.many.sort(key=lambda k: k.encode())

    def upload(self):
        self.aws("s3api", "create-bucket", "--bucket", BUCKET)
        self.aws("s3api", "put-object", "--bucket", BUCKET, "--key",
                 "big.bin", "--body", self.big_path)
        for k, (p, _) in self.special_here().items():
            self.aws("s3api", "put-object", "--bucket", BUCKET, "--key", k,
                     "--body", p)
        self.aws("s3", "sync", "--only-show-errors", self.many_dir,
                 "s3://%s/many/" % BUCKET)

    # Cases ------------------------------------------------------------

    def c_head(self):
        r = self.ok("head", BUCKET, "big.bin")
        out = r.stdout.decode()
        want = "size=%d etag=%s" % (BIG_SIZE, hashlib.md5(self.big)
                                    .hexdigest())
        assert out.startswith(want), "%r, want %r" % (out, want)
        mtime = float(out.split("mtime=")[1])
        assert abs(mtime - time.time()) < 3600, "mtime %s" % mtime

    def c_get_whole(self):
        r = self.ok("get", BUCKET, "big.bin")
        assert r.stdout == self.big, "got %d bytes, want %d" % (
            len(r.stdout), len(self.big))

    def c_get_ranges(self):
        for off, n in ((0, 1), (1, 4096), (1000000, 1234567),
                       (BIG_SIZE - 10, 10), (BIG_SIZE - 10, 1000),
                       (BIG_SIZE - 1, 1)):
            r = self.ok("get", BUCKET, "big.bin", str(off), str(n))
            assert r.stdout == self.big[off:off + n], \
                "range %d+%d: %d bytes" % (off, n, len(r.stdout))
        r = self.ok("get", BUCKET, "big.bin", "2000000",
                    str(2 ** 64 - 1))           # UINT64_MAX: to the end
        assert r.stdout == self.big[2000000:], "open-ended range"

    def c_range_past_end(self):
        r = self.s3tool("get", BUCKET, "big.bin", str(BIG_SIZE), "10")
        assert r.returncode == 6 and "416" in r.err, \
            "exit %d: %s" % (r.returncode, r.err)

    def special_here(self):
        bad = CAPS[self.cur.name]["bad_keys"]
        return {k: v for k, v in self.special.items() if k not in bad}

    def c_special_keys(self):
        for k, (_, data) in self.special_here().items():
            r = self.ok("get", BUCKET, k)
            assert r.stdout == data, "get %r: %r" % (k, r.stdout[:60])
            r = self.ok("head", BUCKET, k)
            assert ("size=%d " % len(data)) in r.stdout.decode(), \
                "head %r: %s" % (k, r.stdout)
            if k in CAPS[self.cur.name]["bad_list_keys"]:
                continue
            r = self.ok("list", "--prefix", k, BUCKET)
            assert r.stdout.decode().splitlines() == [k], \
                "list --prefix %r: %r" % (k, r.stdout)

    def c_list_2500(self):
        r = self.ok("list", "--prefix", "many/", "--max", "1000", BUCKET)
        keys = r.stdout.decode().splitlines()
        assert len(keys) == len(set(keys)), "duplicates across pages"
        assert keys == self.many, "%d keys, want %d; first difference %r" % (
            len(keys), len(self.many),
            next(((a, b) for a, b in zip(keys, self.many) if a != b), None))
        assert "2500 keys in 3 pages" in r.err, r.err.strip()

    def c_list_start_after(self):
        after = self.many[1000]
        r = self.ok("list", "--prefix", "many/", "--max", "333",
                    "--start-after", after, BUCKET)
        keys = r.stdout.decode().splitlines()
        want = [k for k in self.many if k.encode() > after.encode()]
        assert keys == want, "%d keys, want %d" % (len(keys), len(want))
        assert "in 5 pages" in r.err, r.err.strip()

    def c_list_whole_bucket(self):
        r = self.ok("list", "--long", BUCKET)
        rows = [ln.split("\t", 4) for ln in r.stdout.decode().splitlines()]
        keys = [row[4] for row in rows]
        want = sorted(["big.bin"] + list(self.special_here()) + self.many,
                      key=lambda k: k.encode())
        bad = CAPS[self.cur.name]["bad_list_keys"]
        if bad:         # leave out what the server lists mangled
            keys = [k for k in keys if "&" not in k]
            want = [k for k in want if k not in bad]
        assert keys == want, "%d keys, want %d; first difference %r" % (
            len(keys), len(want),
            next(((a, b) for a, b in zip(keys, want) if a != b), None))
        big = [row for row in rows if row[4] == "big.bin"][0]
        assert big[1] == str(BIG_SIZE) and \
            big[2] == hashlib.md5(self.big).hexdigest(), "entry %r" % big

    def c_tagging(self):
        k = "dir/a b+c%d é?x#y"
        self.ok("tag", BUCKET, k, "a=1", "x y=z&<>\"'", "key é=v+%")
        r = self.ok("tags", BUCKET, k)
        got = sorted(r.stdout.decode().splitlines())
        want = sorted(["a=1", "x y=z&<>\"'", "key é=v+%"])
        assert got == want, "tags %r, want %r" % (got, want)
        self.ok("tag", BUCKET, k, "only=one")
        r = self.ok("tags", BUCKET, k)
        assert r.stdout.decode().splitlines() == ["only=one"], r.stdout
        self.ok("untag", BUCKET, k)
        r = self.ok("tags", BUCKET, k)
        assert r.stdout == b"", "tags after untag: %r" % r.stdout
        r = self.s3tool("tags", BUCKET, "no/such/key")
        assert r.returncode == 10, "tags of a missing key: exit %d: %s" % (
            r.returncode, r.err)

    def c_copy_delete(self):
        src = COPY_SRC[self.cur.name]
        self.ok("copy", BUCKET, src, BUCKET, COPY_DST)
        r = self.ok("get", BUCKET, COPY_DST)
        assert r.stdout == self.special[src][1], "copied bytes differ"
        self.ok("delete", BUCKET, COPY_DST)
        r = self.s3tool("head", BUCKET, COPY_DST)
        assert r.returncode == 10, "head after delete: exit %d: %s" % (
            r.returncode, r.err)
        self.ok("delete", BUCKET, COPY_DST)     # S3: deleting twice is fine
        r = self.s3tool("copy", BUCKET, "no/such/key", BUCKET, "x")
        assert r.returncode == 10 and "NoSuchKey" in r.err, \
            "copy of a missing key: exit %d: %s" % (r.returncode, r.err)

    def c_acl(self):
        k = "space key"
        if not CAPS[self.cur.name]["acl"]:
            r = self.s3tool("acl", BUCKET, k, "public-read")
            assert r.returncode == 2 and "501" in r.err, \
                "exit %d: %s" % (r.returncode, r.err)
            return "no PutObjectAcl (501 NotImplemented, reported as such)"
        r = self.ok("public", BUCKET, k)
        assert r.stdout == b"private\n", r.stdout
        self.ok("acl", BUCKET, k, "public-read")
        r = self.ok("public", BUCKET, k)
        assert r.stdout == b"public\n", r.stdout
        self.ok("acl", BUCKET, k, "private")
        r = self.ok("public", BUCKET, k)
        assert r.stdout == b"private\n", r.stdout
        r = self.s3tool("acl", BUCKET, k, "Bogus ACL")
        assert r.returncode == 6, "bad canned ACL: exit %d" % r.returncode

    def c_wrong_secret(self):
        srv = self.cur
        secret = "wrong-secret-Zq81"
        for cmd in (("get", BUCKET, "big.bin"), ("list", BUCKET),
                    ("tags", BUCKET, "space key")):
            r = self.s3tool(*cmd, opts=("--access-key", srv.access_key,
                                        "--secret-key", secret),
                            env_keys=False)
            assert r.returncode == 11, "%s: exit %d: %s" % (
                cmd[0], r.returncode, r.err)
            assert "403 SignatureDoesNotMatch" in r.err, r.err
            assert secret not in r.err, "the secret is in the message"
        r = self.s3tool("head", BUCKET, "big.bin",
                        opts=("--access-key", srv.access_key,
                              "--secret-key", secret), env_keys=False)
        assert r.returncode == 11 and "403 Forbidden" in r.err, r.err

    def c_unknown_key(self):
        r = self.s3tool("get", BUCKET, "big.bin",
                        opts=("--access-key", "NOSUCHKEY",
                              "--secret-key", "x"), env_keys=False)
        assert r.returncode == 11 and "InvalidAccessKeyId" in r.err, \
            "exit %d: %s" % (r.returncode, r.err)

    def c_not_found(self):
        r = self.s3tool("get", BUCKET, "no such key")
        assert r.returncode == 10 and "404 NoSuchKey" in r.err, r.err
        r = self.s3tool("head", BUCKET, "no such key")
        assert r.returncode == 10 and "404" in r.err, r.err
        r = self.s3tool("list", "no-such-bucket-x")
        assert r.returncode == 10 and "NoSuchBucket" in r.err, r.err

    def c_vhost(self):
        if not CAPS[self.cur.name]["vhost"]:
            return "server does not verify virtual-host SigV4"
        ep = self.cur.vhost_endpoint
        k = "dir/a b+c%d é?x#y"
        r = self.ok("get", BUCKET, k, endpoint=ep, opts=("--vhost",))
        assert r.stdout == self.special[k][1], "vhost get"
        r = self.ok("list", "--prefix", "many/", "--max", "1000", BUCKET,
                    endpoint=ep, opts=("--vhost",))
        assert r.stdout.decode().splitlines() == self.many, "vhost list"

    def c_signed_headers(self):
        token = "session/token+=="
        with Proxy(self.cur.port) as p:
            r = self.s3tool("get", BUCKET, "space key", endpoint=p.endpoint,
                            opts=("--session-token", token))
            heads = b"".join(p.requests).decode("utf-8", "replace")
        if self.cur.name == "ceph":
            # RGW takes a token as STS credentials and refuses ours.
            assert r.returncode in (0, 11), r.err
        else:
            assert r.returncode == 0, r.err
        low = heads.lower()
        assert "x-amz-security-token: " + token.lower() in low, heads
        assert "x-amz-content-sha256: e3b0c442" in low, heads
        sh = low.split("signedheaders=")[1].split(",")[0]
        for h in ("host", "x-amz-content-sha256", "x-amz-date",
                  "x-amz-security-token"):
            assert h in sh.split(";"), "%s not signed: %s" % (h, sh)
        if self.cur.secret_key != self.cur.access_key:  # s3rver: same
            assert self.cur.secret_key.lower() not in low, "secret sent"

    def c_retry_503(self):
        with Proxy(self.cur.port, "status", times=2) as p:
            r = self.ok("get", BUCKET, "big.bin", endpoint=p.endpoint,
                        opts=("--retries", "3"))
            assert r.stdout == self.big, "bytes after retries"
            assert p.misbehaved == 2, "%d 503s sent" % p.misbehaved
        with Proxy(self.cur.port, "status") as p:
            r = self.s3tool("get", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--retries", "2"))
            assert r.returncode == 2, "exit %d" % r.returncode
            assert "503 SlowDown" in r.err and "(3 attempts)" in r.err, \
                r.err
            assert p.conns == 3, "%d connections" % p.conns

    def c_cut_mid_body(self):
        with Proxy(self.cur.port, "cut", cut=500000) as p:
            r = self.s3tool("get", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--retries", "3"))
            assert r.returncode == 2, "exit %d: %s" % (r.returncode, r.err)
            assert "broken after" in r.err, r.err
            n = len(r.stdout)
            assert 0 < n < 500000 and r.stdout == self.big[:n], \
                "%d bytes delivered" % n
            assert p.conns == 1, "retried after delivering: %d conns" % \
                p.conns

    def c_cut_then_resume(self):
        with Proxy(self.cur.port, "cut", cut=300000, times=1) as p:
            r = self.ok("get", "--resume", "2", BUCKET, "big.bin",
                        endpoint=p.endpoint)
            assert r.stdout == self.big, "resumed bytes differ"
            assert "resuming after" in r.err and p.conns == 2, r.err

    def c_cut_before_answer(self):
        with Proxy(self.cur.port, "cut", cut=0) as p:
            r = self.s3tool("get", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--retries", "2"))
            assert r.returncode == 2 and r.stdout == b"", r.err
            assert "(3 attempts)" in r.err, r.err
            assert p.conns == 3, "%d connections" % p.conns

    def c_stall(self):
        with Proxy(self.cur.port, "stall") as p:
            r = self.s3tool("get", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--retries", "1", "--timeout", "1000"))
            assert r.returncode == 2, "exit %d: %s" % (r.returncode, r.err)
            assert "too slow" in r.err.lower() and "(2 attempts)" in r.err, \
                r.err
            assert r.elapsed < 15, "took %.1f s" % r.elapsed

    def c_refused(self):
        port = s3server.free_port()
        r = self.s3tool("head", BUCKET, "big.bin",
                        endpoint="http://127.0.0.1:%d" % port,
                        opts=("--retries", "1"))
        assert r.returncode == 2, "exit %d" % r.returncode
        assert "Connection refused" in r.err and "(2 attempts)" in r.err, \
            r.err

    def make_certs(self):
        """A CA, and two server certificates it signs: one for
        127.0.0.1 and one for another name."""
        d = os.path.join(self.work, "tls")
        if os.path.exists(os.path.join(d, "wrong.pem")):
            return d
        os.makedirs(d, exist_ok=True)

        def ossl(*a):
            subprocess.run(["openssl"] + list(a), cwd=d, check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=vigil test CA", "-keyout", "ca.key",
             "-out", "ca.pem")
        for name, san in (("good", "IP:127.0.0.1"),
                          ("wrong", "DNS:wrong.invalid")):
            ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 "/CN=" + name, "-keyout", name + ".key", "-out",
                 name + ".csr")
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("subjectAltName=%s\n" % san)
            ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", name + ".ext", "-out", name + ".pem")
        return d

    def c_tls(self):
        d = self.make_certs()
        ca = os.path.join(d, "ca.pem")

        def ctx(name):
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.load_cert_chain(os.path.join(d, name + ".pem"),
                              os.path.join(d, name + ".key"))
            return c
        with Proxy(self.cur.port, tls=ctx("good")) as p:
            # The system's CAs do not know ours: refused, not retried.
            r = self.s3tool("head", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--retries", "2"))
            assert r.returncode != 0 and "certificate" in r.err.lower(), \
                "exit %d: %s" % (r.returncode, r.err)
            assert "attempts" not in r.err and p.conns == 1, \
                "retried: %d connections: %s" % (p.conns, r.err)
            r = self.ok("head", BUCKET, "big.bin", endpoint=p.endpoint,
                        opts=("--ca-file", ca))
            assert r.stdout.startswith(b"size=%d " % BIG_SIZE), r.stdout
            r = self.ok("get", BUCKET, "big.bin", endpoint=p.endpoint,
                        opts=("--insecure",))
            assert r.stdout == self.big, "%d bytes" % len(r.stdout)
        # Our CA, but a certificate for another name.
        with Proxy(self.cur.port, tls=ctx("wrong")) as p:
            r = self.s3tool("head", BUCKET, "big.bin", endpoint=p.endpoint,
                            opts=("--ca-file", ca, "--retries", "0"))
            assert r.returncode != 0 and ("certificate" in r.err.lower() or
                                          "subject" in r.err.lower()), \
                "exit %d: %s" % (r.returncode, r.err)
            r = self.ok("head", BUCKET, "big.bin", endpoint=p.endpoint,
                        opts=("--insecure",))

    def c_abort(self):
        r = self.s3tool("get", "--abort-after", "100000", BUCKET, "big.bin")
        assert r.returncode == 2 and "aborted by the caller" in r.err, r.err
        assert r.stdout == self.big[:len(r.stdout)], "bytes before abort"

    CASES = [
        ("head", c_head),
        ("get whole", c_get_whole),
        ("get ranges", c_get_ranges),
        ("range past the end is 416", c_range_past_end),
        ("special keys get/head/list", c_special_keys),
        ("list 2500 keys, max 1000", c_list_2500),
        ("list with start-after, max 333", c_list_start_after),
        ("list whole bucket, sizes and etags", c_list_whole_bucket),
        ("tagging put/get/delete", c_tagging),
        ("copy and delete", c_copy_delete),
        ("canned ACL and public check", c_acl),
        ("wrong secret key is a clear 403", c_wrong_secret),
        ("unknown access key is a 403", c_unknown_key),
        ("missing key and bucket are 404", c_not_found),
        ("virtual-host style", c_vhost),
        ("signed headers and session token", c_signed_headers),
        ("503 twice, then success; 503 always", c_retry_503),
        ("connection cut mid-body: no retry, VIGIL_E_IO", c_cut_mid_body),
        ("connection cut, caller resumes the range", c_cut_then_resume),
        ("connection cut before the answer: retries", c_cut_before_answer),
        ("stalled server: stall timeout, retries", c_stall),
        ("connection refused: retries", c_refused),
        ("callback aborts", c_abort),
        ("TLS: verified against ca_file, name checked, insecure", c_tls),
    ]

    def run_server(self, kind):
        srv = s3server.make(kind, self.args.cache,
                            os.path.join(self.work, "srv-" + kind))
        self.cur = srv
        t0 = time.time()
        try:
            srv.start()
        except s3server.Unavailable as e:
            print("SKIP [%s] server: %s" % (kind, e), flush=True)
            self.unavailable = True
            for name, _ in self.CASES:
                if self.wanted(name):
                    self.record(name, "SKIP", "npm registry unreachable")
            return
        except Exception as e:
            self.record("server start", "FAIL", "%s: %s" %
                        (type(e).__name__, e))
            srv.stop()
            return
        print("# %s up at %s in %.1f s" % (kind, srv.endpoint,
                                           time.time() - t0), flush=True)
        try:
            t0 = time.time()
            try:
                self.upload()
            except Exception as e:
                self.record("upload with the aws CLI", "FAIL", str(e))
                return
            print("# uploaded in %.1f s" % (time.time() - t0), flush=True)
            for name, fn in self.CASES:
                self.case(name, fn, self)
        finally:
            srv.stop()

    def main(self):
        self.unavailable = False
        if shutil.which("aws") is None:
            print("FAIL aws CLI not found: run scripts/install-deps --test")
            print("0 passed, 1 failed")
            return 1
        self.make_fixtures()
        for kind in self.args.servers.split(","):
            self.run_server(kind)
        self.cur = None
        servers = self.args.servers.split(",")
        print("\n%-48s %s" % ("case", "  ".join("%-6s" % s for s in servers)))
        for name, res in self.table.items():
            print("%-48s %s" % (name[:48], "  ".join(
                "%-6s" % res.get(s, "-") for s in servers)))
        print("\n%d passed, %d failed, %d skipped" %
              (self.passed, self.failed, self.skipped))
        if self.failed:
            return 1
        if self.unavailable:
            return 77
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--s3tool", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cache", default=s3server.default_cache())
    ap.add_argument("--servers", default="s3rver,ceph")
    ap.add_argument("cases", nargs="*")
    return Suite(ap.parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
