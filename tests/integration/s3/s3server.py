#!/usr/bin/env python3
"""S3 servers on 127.0.0.1 for vigil's tests (Python 3 standard library).

usage: s3server.py [--cache DIR] [--work DIR] s3rver|ceph
    installs (s3rver) and starts one server, prints its endpoint and keys,
    and runs until interrupted.

Two servers, because neither does all that the client needs checked:

  s3rver  @20minutes/s3rver 4.0.4 from npm, a maintained fork of s3rver
          that verifies SigV4 signatures (s3rver 3.7.1 does not).  Pinned,
          with every dependency, by npm/package-lock.json and installed
          with `npm ci` into CACHE/npm (CACHE: --cache, $VIGIL_NPM_CACHE,
          or build/_s3).  It declares node >= 20, but Debian 12's own
          18.20 runs it and passes both S3 suites.  Runs with
          --openssl-legacy-provider: its ListObjectsV2 continuation tokens
          are DES-encrypted, and without the legacy provider OpenSSL 3
          refuses DES and every truncated listing is an InternalError.
          Lacks PutObjectAcl, DeleteObjectTagging and virtual-host SigV4;
          its CopyObject decodes x-amz-copy-source with decodeURI, so
          source keys with '+', '?', '#' (and other reserved bytes) are not
          found.
  ceph    Ceph RGW from Debian (radosgw, ceph-mon, ceph-osd; Ceph 16): one
          monitor and one OSD on memstore, no cephx, then radosgw with the
          beast frontend and a user made by radosgw-admin.  The whole API,
          ACLs and virtual hosts (rgw dns name = s3.localhost; curl
          resolves *.localhost itself) included.  About 15 s to start.

S3rver.install() raises Unavailable when the npm registry cannot be
reached and nothing is installed yet; a missing node, npm or Ceph binary
is Missing: the test fails then, it is not skipped.
"""

import argparse
import atexit
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))

# npm error codes that mean "the registry cannot be reached".
NET_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT",
              "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH",
              "ERR_SOCKET_TIMEOUT", "network request", "getaddrinfo")

LAUNCHER = r"""
// Written by s3server.py: starts @20minutes/s3rver on 127.0.0.1, port 0,
// and writes the bound port to argv[3] once it listens.
'use strict';
const fs = require('fs');
const S3rver = require('@20minutes/s3rver');
const [dir, portFile] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1', port: 0, silent: false, directory: dir,
  vhostBuckets: false,
});
server.run().then((addr) => {
  fs.writeFileSync(portFile + '.tmp', String(addr.port));
  fs.renameSync(portFile + '.tmp', portFile);
}, (err) => { console.error(err); process.exit(1); });
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
"""


class Unavailable(Exception):
    """The server cannot be had here: the npm registry is unreachable."""


class Missing(Exception):
    """A program the server needs is not installed."""


def _die_with_parent():
    """In the child: SIGTERM when the test dies, however it dies."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)       # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, deadline, proc=None, what="server"):
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (what, proc.returncode))
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return              # it answers: good enough
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("%s not answering at %s" % (what, url))


def stop_proc(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def default_cache():
    return os.environ.get("VIGIL_NPM_CACHE") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "build",
        "_s3")


class S3rver:
    name = "s3rver"
    access_key = secret_key = "S3RVER"   # s3rver's built-in account
    region = "us-east-1"

    def __init__(self, cache, work):
        self.cache = os.path.abspath(cache)
        self.work = os.path.abspath(work)
        self.npmdir = os.path.join(self.cache, "npm")
        self.proc = None
        self.port = None
        self.log = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def install(self):
        """npm ci the pinned server into CACHE/npm, unless already there."""
        lock = os.path.join(HERE, "npm", "package-lock.json")
        with open(lock, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        stamp = os.path.join(self.npmdir, "node_modules", ".vigil-lock")
        try:
            with open(stamp) as f:
                if f.read().strip() == want:
                    return
        except OSError:
            pass
        for prog in ("node", "npm"):
            if shutil.which(prog) is None:
                raise Missing("%s not found: run scripts/install-deps --test"
                              % prog)
        os.makedirs(self.npmdir, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(HERE, "npm", f), self.npmdir)
        cmd = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts",
               "--loglevel=error", "--fetch-retries=1",
               "--fetch-timeout=60000"]
        r = subprocess.run(cmd, cwd=self.npmdir, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0:
            if any(e in out for e in NET_ERRORS):
                raise Unavailable("npm registry unreachable:\n" + out[-2000:])
            raise RuntimeError("npm ci failed (%d):\n%s" %
                               (r.returncode, out[-4000:]))
        with open(stamp, "w") as f:
            f.write(want + "\n")

    def start(self):
        self.install()
        os.makedirs(self.work, exist_ok=True)
        data = os.path.join(self.work, "s3rver-data")
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        launcher = os.path.join(self.npmdir, "vigil-s3rver.js")
        with open(launcher, "w") as f:
            f.write(LAUNCHER)
        portfile = os.path.join(self.work, "s3rver.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.log = os.path.join(self.work, "s3rver.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["node", "--openssl-legacy-provider", launcher, data,
                 portfile], cwd=self.npmdir, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        deadline = time.time() + 30
        while not os.path.exists(portfile):
            if self.proc.poll() is not None:
                raise RuntimeError("s3rver exited with %d; see %s" %
                                   (self.proc.returncode, self.log))
            if time.time() > deadline:
                raise RuntimeError("s3rver did not start; see " + self.log)
            time.sleep(0.1)
        with open(portfile) as f:
            self.port = int(f.read())
        wait_http(self.endpoint + "/", time.time() + 10, self.proc, "s3rver")

    def stop(self):
        stop_proc(self.proc)


CEPH_CONF = """[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
osd memory target = 536870912
run dir = {run}
admin socket = {run}/$name.asok
pid file = {run}/$name.pid
log file = {log}/$name.log
mon data = {data}/mon-$id
osd data = {data}/osd-$id
keyring = {data}/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw dns name = s3.localhost
rgw thread pool size = 32
"""


class Ceph:
    name = "ceph"
    access_key = "VIGILTESTACCESSKEY"
    secret_key = "vigil/test+secret=key"  # '/', '+', '=' as real ones have
    region = "us-east-1"
    PROGRAMS = ("ceph", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin",
                "monmaptool")

    def __init__(self, work):
        self.work = os.path.abspath(work)
        self.procs = []
        self.port = None
        self.run = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def vhost_endpoint(self):
        return "http://s3.localhost:%d" % self.port

    def _cmd(self, args, timeout=60):
        r = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" %
                               (" ".join(args), r.returncode, out[-3000:]))
        return out

    def _daemon(self, args):
        log = open(os.path.join(self.logdir, os.path.basename(args[0]) +
                                ".out"), "ab")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
        log.close()
        self.procs.append(p)
        return p

    def _mon_up(self, c, mon):
        """Waits until the monitor answers.  Just started, it can refuse
        a command ("EPERM: problem getting command descriptions from
        mon") before it has formed its quorum of one: ask again."""
        deadline = time.time() + 60
        err = None
        while time.time() < deadline and mon.poll() is None:
            try:
                self._cmd(["ceph"] + c + ["--connect-timeout", "10", "mon",
                                          "stat"])
                return
            except RuntimeError as e:
                err = e
                time.sleep(0.5)
        raise RuntimeError("ceph-mon never answered (%s); see %s" %
                           (err, self.logdir))

    def _osd_up(self, c, osd_id):
        """Starts the OSD until the monitor counts it up.  Ceph 16's OSD
        sometimes asks the monitor before it has the monmap ("wrong
        fsid"), fails update_crush_device_class and exits; a second
        start then finds the monitor ready.  `ceph osd stat` itself can
        fail while the OSD joins; that counts as not up yet."""
        for attempt in range(4):
            osd = self._daemon(["ceph-osd"] + c + ["-f", "-i", osd_id])
            deadline = time.time() + 30
            while time.time() < deadline and osd.poll() is None:
                # The monitor may refuse a command while the OSD joins
                # ("EPERM problem getting command descriptions"): ask
                # again.
                try:
                    out = self._cmd(["ceph"] + c + ["osd", "stat"])
                except RuntimeError:
                    out = ""
                if " 1 up" in out:
                    return
                time.sleep(0.5)
            if osd.poll() is None:
                osd.kill()
                osd.wait()
        raise RuntimeError("ceph-osd never came up; see %s" % self.logdir)

    def start(self):
        missing = [p for p in self.PROGRAMS if shutil.which(p) is None]
        if missing:
            raise Missing("%s not found: run scripts/install-deps --test "
                          "(Debian radosgw ceph-mon ceph-osd)" %
                          " ".join(missing))
        base = os.path.join(self.work, "ceph")
        shutil.rmtree(base, ignore_errors=True)
        self.data = os.path.join(base, "data")
        self.logdir = os.path.join(base, "log")
        os.makedirs(self.data)
        os.makedirs(self.logdir)
        # Admin sockets are unix sockets: keep their paths short.
        self.run = tempfile.mkdtemp(prefix="vigil-ceph-")
        atexit.register(self.stop)
        fsid = str(uuid.uuid4())
        mon_port, self.port = free_port(), free_port()
        self.conf = os.path.join(base, "ceph.conf")
        with open(self.conf, "w") as f:
            f.write(CEPH_CONF.format(fsid=fsid, mon_port=mon_port,
                                     rgw_port=self.port, run=self.run,
                                     log=self.logdir, data=self.data))
        open(os.path.join(self.data, "keyring"), "w").close()
        c = ["-c", self.conf]
        monmap = os.path.join(self.data, "monmap")
        self._cmd(["monmaptool", "--create", "--addv", "a",
                   "v1:127.0.0.1:%d" % mon_port, "--fsid", fsid, monmap])
        self._cmd(["ceph-mon"] + c + ["--mkfs", "-i", "a", "--monmap",
                                      monmap])
        mon = self._daemon(["ceph-mon"] + c + ["-f", "-i", "a"])
        self._mon_up(c, mon)
        osd_uuid = str(uuid.uuid4())
        osd_id = self._cmd(["ceph"] + c + ["osd", "new", osd_uuid]).strip()
        os.makedirs(os.path.join(self.data, "osd-" + osd_id))
        self._cmd(["ceph-osd"] + c + ["-i", osd_id, "--mkfs", "--osd-uuid",
                                      osd_uuid])
        self._osd_up(c, osd_id)
        rgw = self._daemon(["radosgw"] + c + ["-f", "-n", "client.rgw"])
        wait_http(self.endpoint + "/", time.time() + 90, rgw, "radosgw")
        self._cmd(["radosgw-admin"] + c + [
            "user", "create", "--uid", "vigil", "--display-name", "vigil",
            "--access-key", self.access_key, "--secret", self.secret_key])

    def stop(self):
        for p in reversed(self.procs):
            stop_proc(p, 20)
        self.procs = []
        if self.run is not None:
            shutil.rmtree(self.run, ignore_errors=True)
            self.run = None


def make(kind, cache, work):
    if kind == "s3rver":
        return S3rver(cache, work)
    if kind == "ceph":
        return Ceph(work)
    raise ValueError("unknown server " + kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", default=default_cache())
    ap.add_argument("--work", default=None)
    ap.add_argument("server", choices=("s3rver", "ceph"))
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="vigil-s3-")
    srv = make(a.server, a.cache, work)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.start()
    except Unavailable as e:
        print(e, file=sys.stderr)
        return 77
    print("endpoint %s access_key %s secret_key %s (work %s)" %
          (srv.endpoint, srv.access_key, srv.secret_key, work), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
