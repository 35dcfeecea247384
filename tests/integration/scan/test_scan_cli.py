#!/usr/bin/env python3
"""End-to-end tests of the `vigil scan` contract.

usage: test_scan_cli.py VIGIL MKFIXTURES WORKDIR [CASE-SUBSTRING...]

Builds the fixtures with MKFIXTURES into WORKDIR/fixtures, runs VIGIL scan
on them and checks what it prints and how it exits.  Each check is its own
named case; the script prints one line per case (PASS, FAIL or SKIP), then
"N passed, M failed[, K skipped]", and exits 1 if any case failed.  Every
vigil run is logged in full (argv, exit status, stdout, stderr) to
WORKDIR/scan_cli.log.  Optional CASE-SUBSTRING arguments run only the cases
whose names contain one of them.

Expectations for generated fixtures come from WORKDIR/fixtures/manifest.jsonl,
which mkfixtures writes from what it planted (see tests/fixtures/README.md);
the rest are stated in the cases below.  Only the Python standard library is
used, and nothing newer than Python 3.9.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "rules", "good")
BAD_RULES = os.path.join(HERE, "rules", "bad")
STATIC = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "static"))

VERDICTS = {"clean", "flagged", "unscannable", "error"}
REASONS = {"encrypted", "corrupt", "limit-depth", "limit-bytes", "limit-files",
           "limit-ratio", "limit-time", "unsupported", "io"}
LIMITS = {r for r in REASONS if r.startswith("limit-")}
SEVERITIES = {"low", "medium", "high", "critical"}
RECORD_KEYS = {"object", "verdict", "size", "sha256", "mime", "matches",
               "problems"}
MATCH_KEYS = {"rule", "clause", "severity", "path", "offset"}
PROBLEM_KEYS = {"path", "reason"}
EXIT_FOR = {"clean": 0, "flagged": 1, "unscannable": 2, "error": 2}

# The whole run must fit in ctest's TIMEOUT (600 s): once this budget is
# spent, the remaining cases fail at once instead of being killed unseen.
BUDGET = float(os.environ.get("VIGIL_SCAN_TEST_BUDGET", "540"))
# Bounds from the contract, generous enough for an AddressSanitizer build.
BOMB_SECONDS = 60.0
BOMB_MAX_RSS_MIB = 900          # below the 1 GiB a bomb would need if held
TIME_LIMIT_SECONDS = 2
TIME_LIMIT_WALL = 30.0
HANG_TIMEOUT = 30.0             # FIFOs, devices: must not block

# vigil runs in the C locale unless told otherwise: member names must come
# out as valid UTF-8 without help from the environment.
ENV = dict(os.environ, LC_ALL="C")
ENV.pop("LANG", None)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def short(data, n=300):
    """A printable excerpt of bytes or str for failure messages."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "backslashreplace")
    data = data.strip()
    if len(data) > n:
        data = data[:n] + "..."
    return data.replace("\n", "\\n")


# ---------------------------------------------------------------------------
# Running programs.

class Result:
    def __init__(self, argv, cwd):
        self.argv = argv
        self.cwd = cwd
        self.rc = None
        self.out = b""
        self.err = b""
        self.wall = 0.0
        self.maxrss_kib = 0
        self.timed_out = False

    def describe(self):
        return "rc=%s stderr=%r" % (self.rc, short(self.err, 400))


class Harness:
    def __init__(self, vigil, mkfixtures, workdir):
        self.vigil = os.path.abspath(vigil)
        self.mkfixtures = os.path.abspath(mkfixtures)
        self.work = os.path.abspath(workdir)
        self.fix = os.path.join(self.work, "fixtures")
        self.start = time.monotonic()
        self.log = None
        self.manifest_head = {}
        self.manifest = []
        self.skips = []
        self.rule_meta = {}
        self.hash_cache = {}

    def remaining(self):
        return BUDGET - (time.monotonic() - self.start)

    def run(self, argv, cwd, stdin=None, timeout=60.0, env=None):
        """Run argv; stdin is None, bytes, or a function(pipe, stop_event)."""
        left = self.remaining()
        if left < 5:
            raise Failure("not run: the %.0f s time budget is spent" % BUDGET)
        timeout = min(timeout, left - 2)
        res = Result(argv, cwd)
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=ENV if env is None else env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        out, err = [], []
        threads = [threading.Thread(target=_drain, args=(proc.stdout, out)),
                   threading.Thread(target=_drain, args=(proc.stderr, err))]
        stop = threading.Event()
        if stdin is not None:
            feed = stdin if callable(stdin) else _feeder(stdin)
            threads.append(threading.Thread(target=_feed,
                                            args=(feed, proc.stdin, stop)))
        for t in threads:
            t.daemon = True
            t.start()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                res.timed_out = True
                _killpg(proc.pid)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        res.wall = time.monotonic() - start
        res.rc = os.waitstatus_to_exitcode(status)
        proc.returncode = res.rc
        res.maxrss_kib = usage.ru_maxrss
        stop.set()
        _killpg(proc.pid)      # nothing it started may outlive it
        for t in threads:
            t.join(10)
        res.out = b"".join(out)
        res.err = b"".join(err)
        self._log(res)
        return res

    def _log(self, res):
        if self.log is None:
            return
        self.log.write("=== %s\n    cwd=%s rc=%s wall=%.2fs maxrss=%d KiB%s\n"
                       % (" ".join(res.argv), res.cwd, res.rc, res.wall,
                          res.maxrss_kib,
                          " TIMED OUT" if res.timed_out else ""))
        self.log.write("--- stdout\n%s\n--- stderr\n%s\n" % (
            res.out.decode("utf-8", "backslashreplace")[:20000],
            res.err.decode("utf-8", "backslashreplace")[:20000]))
        self.log.flush()

    def scan(self, paths, cwd=None, args=(), rules=RULES, json_mode=True,
             stdin=None, timeout=60.0):
        argv = [self.vigil, "scan"]
        if rules is not None:
            argv += ["--rules", rules]
        if json_mode:
            argv.append("--json")
        argv += list(args) + list(paths)
        res = self.run(argv, cwd or self.fix, stdin=stdin, timeout=timeout)
        check(not res.timed_out, "vigil did not finish within %.0f s: %s"
              % (timeout, " ".join(argv[1:])))
        return res

    # -- JSON output -------------------------------------------------------

    def records(self, res, cwd=None):
        """Parse and validate --json output: one record per line."""
        cwd = cwd or res.cwd
        try:
            text = res.out.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Failure("stdout is not valid UTF-8 at byte %d: %r"
                          % (e.start, res.out[max(0, e.start - 40):
                                              e.start + 40]))
        check(text == "" or text.endswith("\n"),
              "--json output does not end with a newline: %r" % short(text))
        recs = []
        for n, line in enumerate(text.split("\n")[:-1], 1):
            check(line.strip() != "", "blank line %d in --json output" % n)
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise Failure("--json line %d is not JSON (%s): %r"
                              % (n, e, short(line)))
            validate_record(rec, n)
            self.verify_identity(rec, cwd)
            recs.append(rec)
        return recs

    def one_record(self, res, obj):
        recs = self.records(res)
        check(len(recs) == 1, "expected one --json line for %r, got %d (%s)"
              % (obj, len(recs), res.describe()))
        check(recs[0]["object"] == obj, "object is %r, expected %r"
              % (recs[0]["object"], obj))
        return recs[0]

    def verify_identity(self, rec, cwd):
        """size and sha256 must describe the bytes of a regular file."""
        obj = rec["object"]
        if obj == "-":
            return
        path = os.path.join(cwd, obj)
        if os.path.islink(path) or not os.path.isfile(path):
            return
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self.hash_cache:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self.hash_cache[key] = h.hexdigest()
        check(rec["size"] == st.st_size, "%s: size %r, file has %d bytes"
              % (obj, rec["size"], st.st_size))
        check(rec["sha256"] == self.hash_cache[key],
              "%s: sha256 %r, file hashes to %s"
              % (obj, rec["sha256"], self.hash_cache[key]))

    def check_rule_meta(self, rec):
        for m in rec["matches"]:
            meta = self.rule_meta.get(m["rule"])
            check(meta is not None, "%s: match names unknown rule %r"
                  % (rec["object"], m["rule"]))
            check((m["clause"], m["severity"]) == meta,
                  "%s: rule %s reported with clause/severity %r, rule file "
                  "says %r" % (rec["object"], m["rule"],
                               (m["clause"], m["severity"]), meta))


def _drain(pipe, sink):
    for chunk in iter(lambda: pipe.read(65536), b""):
        sink.append(chunk)
    pipe.close()


def _feeder(data):
    def feed(pipe, stop):
        pipe.write(data)
    return feed


def _feed(feed, pipe, stop):
    try:
        feed(pipe, stop)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def validate_record(rec, n):
    """The exact shape of one --json record."""
    check(isinstance(rec, dict), "line %d: not a JSON object" % n)
    check(set(rec) == RECORD_KEYS, "line %d: keys %s, expected exactly %s"
          % (n, sorted(rec), sorted(RECORD_KEYS)))
    obj = rec["object"]
    where = "line %d (%r)" % (n, obj)
    check(isinstance(obj, str) and obj != "", where + ": bad object")
    check(rec["verdict"] in VERDICTS, where + ": verdict %r" % rec["verdict"])
    check(_is_int(rec["size"]) and rec["size"] >= 0,
          where + ": size %r" % rec["size"])
    sha = rec["sha256"]
    check(isinstance(sha, str) and (re.fullmatch(r"[0-9a-f]{64}", sha) or
                                    (sha == "" and rec["verdict"] in
                                     ("error", "unscannable"))),
          where + ": sha256 %r is not 64 lower-case hex digits" % sha)
    check(isinstance(rec["mime"], str) and rec["mime"] != "",
          where + ": mime %r" % rec["mime"])
    check(isinstance(rec["matches"], list), where + ": matches not a list")
    check(isinstance(rec["problems"], list), where + ": problems not a list")
    for m in rec["matches"]:
        check(isinstance(m, dict) and set(m) == MATCH_KEYS,
              where + ": match keys %r, expected exactly %s"
              % (sorted(m) if isinstance(m, dict) else m, sorted(MATCH_KEYS)))
        check(isinstance(m["rule"], str) and m["rule"] != "",
              where + ": match rule %r" % m["rule"])
        check(isinstance(m["clause"], str), where + ": clause %r" % m["clause"])
        check(m["severity"] in SEVERITIES,
              where + ": severity %r" % m["severity"])
        check(_is_int(m["offset"]) and m["offset"] >= 0,
              where + ": offset %r" % m["offset"])
        _check_path(m["path"], obj, where + ": match path")
    for p in rec["problems"]:
        check(isinstance(p, dict) and set(p) == PROBLEM_KEYS,
              where + ": problem keys %r, expected exactly %s"
              % (sorted(p) if isinstance(p, dict) else p,
                 sorted(PROBLEM_KEYS)))
        check(p["reason"] in REASONS, where + ": reason %r" % p["reason"])
        _check_path(p["path"], obj, where + ": problem path")
    # The verdict follows from matches and problems.
    v = rec["verdict"]
    if rec["matches"]:
        check(v == "flagged", where + ": has matches but verdict %r" % v)
    elif v == "flagged":
        raise Failure(where + ": flagged without matches")
    elif v == "clean":
        check(not rec["problems"], where + ": clean but has problems %r"
              % rec["problems"])
    elif v == "unscannable":
        check(rec["problems"], where + ": unscannable without a problem")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_path(path, obj, where):
    check(isinstance(path, list) and path and
          all(isinstance(s, str) for s in path),
          where + " %r is not a non-empty list of strings" % (path,))
    check(path[0] in (obj, os.path.basename(obj)),
          where + " %r does not start with the object %r" % (path, obj))


def reasons(rec):
    return {p["reason"] for p in rec["problems"]}


def match_set(rec):
    return {(m["rule"], tuple(m["path"][1:]), m["offset"])
            for m in rec["matches"]}


def fmt_matches(rec):
    return [(m["rule"], m["path"], m["offset"]) for m in rec["matches"]]


# ---------------------------------------------------------------------------
# Cases.

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class Skip(Exception):
    pass


def expect_from_manifest(h, entry, rec):
    """Compare a record with a manifest entry (paths without element 0)."""
    name = rec["object"]
    want = {(m["rule"], tuple(m["path"][1:]), m["offset"])
            for m in entry["matches"]}
    got = match_set(rec)
    missing = want - got
    check(not missing, "%s: expected matches missing %s; got %s"
          % (name, sorted(missing), fmt_matches(rec)))
    for extra in got - want:
        # Tolerated: a match in the raw bytes of a container that holds the
        # needle uncompressed, reported at that container's path.
        rule, path, _ = extra
        ok = any(rule == w[0] and len(path) < len(w[1]) and
                 w[1][:len(path)] == path for w in want)
        check(ok, "%s: unexpected match %r (expected only %s)"
              % (name, extra, sorted(want)))
    h.check_rule_meta(rec)
    check(rec["verdict"] == entry["verdict"], "%s: verdict %r, expected %r "
          "(matches %s, problems %s)" % (name, rec["verdict"],
                                         entry["verdict"], fmt_matches(rec),
                                         rec["problems"]))
    want_reasons = {p["reason"] for p in entry["problems"]}
    for p in entry["problems"]:
        hits = [q for q in rec["problems"] if q["reason"] == p["reason"]]
        check(hits, "%s: expected problem %r missing; problems are %s"
              % (name, p["reason"], rec["problems"]))
        if p["path"] is not None:
            want_path = p["path"][1:]
            check(any(q["path"][1:] == want_path for q in hits),
                  "%s: %s problem at %s, expected at %s"
                  % (name, p["reason"], [q["path"] for q in hits],
                     p["path"]))
    extra = reasons(rec) - want_reasons
    check(not extra, "%s: unexpected problems %s"
          % (name, [q for q in rec["problems"] if q["reason"] in extra]))


def manifest_case(entry):
    def run(h):
        rel = entry["file"]
        cwd = os.path.join(h.fix, os.path.dirname(rel))
        obj = os.path.basename(rel)
        res = h.scan([obj], cwd=cwd)
        rec = h.one_record(res, obj)
        expect_from_manifest(h, entry, rec)
        check(res.rc == EXIT_FOR[entry["verdict"]], "%s: exit status %s, "
              "expected %d for %s" % (obj, res.rc, EXIT_FOR[entry["verdict"]],
                                      entry["verdict"]))
    return run


# -- static archives (rar, lha) ----------------------------------------------

STATIC_EXPECT = [
    ("test_read_format_rar_unicode.rar", "static_rar4_kanji",
     "表だよ/漢字長いファイル名long-filename-in-漢字.txt"),
    ("test_read_format_rar5_unicode.rar", "static_rar5_text",
     "𝒻𝒾𝓁𝑒.txt"),
    ("test_read_format_lha_filename_utf16.lzh", "static_lha_umlauts",
     "ÜÖÄüöä/äöüÄÖÜ.txt"),
]


def static_case(fname, rule, member):
    def run(h):
        res = h.scan([fname], cwd=STATIC)
        rec = h.one_record(res, fname)
        h.check_rule_meta(rec)
        check(rec["verdict"] == "flagged", "%s: verdict %r, expected flagged"
              " by %s (problems %s)" % (fname, rec["verdict"], rule,
                                        rec["problems"]))
        ours = [m for m in rec["matches"] if len(m["path"]) > 1]
        # Exactly one: the rar5 archive also holds a hardlink and symlinks
        # to that member, which must not be followed.
        check(len(ours) == 1 and ours[0]["rule"] == rule and
              ours[0]["offset"] == 0,
              "%s: expected one %s match at offset 0 in a member, got %s"
              % (fname, rule, fmt_matches(rec)))
        check(ours[0]["path"][1:] == [member], "%s: member path %r, "
              "expected [%r] (names must be decoded to UTF-8 even in the C "
              "locale)" % (fname, ours[0]["path"], member))
        check(res.rc == 1, "%s: exit status %s, expected 1" % (fname, res.rc))
    return run


def static_problems_case(fname):
    def run(h):
        res = h.scan([fname], cwd=STATIC)
        rec = h.one_record(res, fname)
        check(rec["problems"] == [], "%s: a well-formed archive got "
              "problems %s" % (fname, rec["problems"]))
    return run


# -- limits ------------------------------------------------------------------

def scan_one(h, rel, args=(), timeout=60.0):
    cwd = os.path.join(h.fix, os.path.dirname(rel))
    obj = os.path.basename(rel)
    res = h.scan([obj], cwd=cwd, args=args, timeout=timeout)
    return res, h.one_record(res, obj)


def expect_limited(h, rel, args, limit, timeout=60.0):
    res, rec = scan_one(h, rel, args, timeout)
    check(limit in reasons(rec), "%s %s: expected a %s problem, got %s "
          "(verdict %s)" % (rel, " ".join(args), limit, rec["problems"],
                            rec["verdict"]))
    check(rec["verdict"] == "unscannable", "%s %s: verdict %r, expected "
          "unscannable (matches %s)" % (rel, " ".join(args), rec["verdict"],
                                        fmt_matches(rec)))
    check(res.rc == 2, "%s: exit status %s, expected 2" % (rel, res.rc))
    return res, rec


def expect_unlimited(h, rel, args, chain, offset):
    res, rec = scan_one(h, rel, args)
    check(rec["verdict"] == "flagged", "%s %s: verdict %r, expected flagged "
          "(problems %s)" % (rel, " ".join(args), rec["verdict"],
                             rec["problems"]))
    got = [m["path"][1:] for m in rec["matches"]]
    check(chain[1:] in got, "%s: expected a match at %s, got %s"
          % (rel, chain, fmt_matches(rec)))
    for m in rec["matches"]:
        if m["path"][1:] == chain[1:]:
            check(m["offset"] == offset, "%s: offset %d, expected %d"
                  % (rel, m["offset"], offset))
    check(not (reasons(rec) & LIMITS), "%s %s: a limit was reported though "
          "none should be hit: %s" % (rel, " ".join(args), rec["problems"]))
    check(res.rc == 1, "%s: exit status %s, expected 1" % (rel, res.rc))


@case("limit-depth: deep20.zip is beyond the default depth 16")
def _(h):
    expect_limited(h, "nested/deep20.zip", [], "limit-depth")


@case("limit-depth: deep20.zip flagged with --max-depth 40, full chain")
def _(h):
    levels = h.manifest_head["deep_levels"]
    chain = ["deep20.zip"]
    for i in range(levels - 1, 0, -1):
        chain.append("d%d.%s" % (i, "zip" if i % 2 == 0 else "tar"))
    chain.append("needle.txt")
    expect_unlimited(h, "nested/deep20.zip", ["--max-depth", "40"], chain,
                     h.manifest_head["needle_offset"])


@case("limit-depth: nest6.iso with --max-depth 3")
def _(h):
    expect_limited(h, "nested/nest6.iso", ["--max-depth", "3"], "limit-depth")


@case("limit-depth: nest6.iso flagged with --max-depth 10")
def _(h):
    expect_unlimited(h, "nested/nest6.iso", ["--max-depth", "10"],
                     ["nest6.iso", "l1/level1.tar.xz", "level2.cpio",
                      "level3.7z", "level4.zip", "level5.txt.zst",
                      "level5.txt"], h.manifest_head["needle_offset"])


@case("limit-files: many.zip with --max-files 100")
def _(h):
    expect_limited(h, "limits/many.zip", ["--max-files", "100"],
                   "limit-files")


@case("limit-files: many.zip flagged with --max-files 5000")
def _(h):
    expect_unlimited(h, "limits/many.zip", ["--max-files", "5000"],
                     ["many.zip", "m/needle.txt"],
                     h.manifest_head["needle_offset"])


@case("limit-bytes: big.tar.gz with --max-bytes 1M (needle at 2 MiB)")
def _(h):
    expect_limited(h, "limits/big.tar.gz", ["--max-bytes", "1M"],
                   "limit-bytes")


@case("limit-bytes: big.tar.gz with --max-bytes 1048576 (no suffix)")
def _(h):
    expect_limited(h, "limits/big.tar.gz", ["--max-bytes", "1048576"],
                   "limit-bytes")


@case("limit-bytes: big.tar.gz flagged with --max-bytes 10M")
def _(h):
    expect_unlimited(h, "limits/big.tar.gz", ["--max-bytes", "10M"],
                     ["big.tar.gz", "big/data.txt"], 2 * 1024 * 1024)


@case("limit-bytes: big.tar.gz flagged with --max-bytes 1G")
def _(h):
    expect_unlimited(h, "limits/big.tar.gz", ["--max-bytes", "1G"],
                     ["big.tar.gz", "big/data.txt"], 2 * 1024 * 1024)


@case("limit-ratio: 2 GiB zstd bomb of 'x' with --max-ratio 100")
def _(h):
    res, rec = expect_limited(h, "limits/bomb-x.txt.zst",
                              ["--max-ratio", "100"], "limit-ratio",
                              timeout=BOMB_SECONDS + 30)
    check(res.wall < BOMB_SECONDS, "took %.1f s, bound %.0f s"
          % (res.wall, BOMB_SECONDS))


@case("limit-ratio: boundary.tar.gz (ratio < 2) flagged with --max-ratio 50")
def _(h):
    res, rec = scan_one(h, "boundary/boundary.tar.gz", ["--max-ratio", "50"])
    check(rec["verdict"] == "flagged" and not (reasons(rec) & LIMITS),
          "verdict %r, problems %s: text compressed less than 2:1 must not "
          "hit a 50:1 ratio limit" % (rec["verdict"], rec["problems"]))


def bomb_case(rel):
    def run(h):
        if not os.path.exists(os.path.join(h.fix, rel)):
            raise Skip("mkfixtures could not write %s" % rel)
        res, rec = scan_one(h, rel, timeout=BOMB_SECONDS + 30)
        check(rec["verdict"] == "unscannable", "%s: verdict %r, expected "
              "unscannable (problems %s)" % (rel, rec["verdict"],
                                             rec["problems"]))
        check(reasons(rec) & LIMITS, "%s: no limit named among problems %s"
              % (rel, rec["problems"]))
        check(res.rc == 2, "%s: exit status %s, expected 2" % (rel, res.rc))
        check(res.wall < BOMB_SECONDS, "%s: took %.1f s, bound %.0f s"
              % (rel, res.wall, BOMB_SECONDS))
        rss = res.maxrss_kib / 1024.0
        check(rss < BOMB_MAX_RSS_MIB, "%s: peak RSS %.0f MiB, bound %d MiB"
              % (rel, rss, BOMB_MAX_RSS_MIB))
    return run


# Zeros decompress to what libarchive takes for an empty tar: a bomb must
# still come out unscannable, not clean.
for _rel in ("limits/bomb.bin.gz", "limits/bomb.bin.zst",
             "limits/bomb-x.txt.gz", "limits/nested-bomb.zip"):
    case("bomb: %s with default limits: unscannable, quick, bounded memory"
         % _rel)(bomb_case(_rel))


@case("limit-time: nested bomb with other limits relaxed, --max-time 2")
def _(h):
    # 16 TiB in 27 KB: a ratio of 6.5e8 overall, far below 4e9 (< 2^32).
    args = ["--max-time", str(TIME_LIMIT_SECONDS), "--max-bytes", "1024G",
            "--max-files", "1000000", "--max-ratio", "4000000000",
            "--max-depth", "16"]
    res = h.scan(["nested-bomb.zip"], cwd=os.path.join(h.fix, "limits"),
                 args=args, timeout=TIME_LIMIT_WALL + 30)
    check(res.rc != 3, "vigil rejected the relaxed limits %s: %s"
          % (args, res.describe()))
    rec = h.one_record(res, "nested-bomb.zip")
    check("limit-time" in reasons(rec), "expected limit-time, got %s"
          % rec["problems"])
    check(rec["verdict"] == "unscannable", "verdict %r" % rec["verdict"])
    check(res.wall < TIME_LIMIT_WALL, "took %.1f s with --max-time %d"
          % (res.wall, TIME_LIMIT_SECONDS))


@case("limit-time: stdin that trickles forever, --max-time 2")
def _(h):
    def trickle(pipe, stop):
        chunk = b"slow but endless input, no needle here\n" * 26
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            pipe.write(chunk)
            pipe.flush()
            time.sleep(0.02)
    res = h.scan(["-"], args=["--max-time", str(TIME_LIMIT_SECONDS)],
                 stdin=trickle, timeout=TIME_LIMIT_WALL + 10)
    rec = h.one_record(res, "-")
    check("limit-time" in reasons(rec), "expected limit-time, got %s "
          "(verdict %s)" % (rec["problems"], rec["verdict"]))
    check(rec["verdict"] == "unscannable", "verdict %r" % rec["verdict"])
    check(res.wall < TIME_LIMIT_WALL, "took %.1f s with --max-time %d"
          % (res.wall, TIME_LIMIT_SECONDS))


# -- multiple matches ----------------------------------------------------------

@case("matches: manymatch.tar reports every member")
def _(h):
    n = h.manifest_head["many_matches"]
    res, rec = scan_one(h, "multi/manymatch.tar")
    paths = sorted(tuple(m["path"][1:]) for m in rec["matches"]
                   if len(m["path"]) > 1)
    want = sorted(("mm/%03d-needle.txt" % i,) for i in range(n))
    check(paths == want, "expected %d member matches mm/000..%03d, got %d: "
          "%s" % (n, n - 1, len(paths), short(repr(paths))))
    off = {m["offset"] for m in rec["matches"] if len(m["path"]) > 1}
    check(off == {h.manifest_head["needle_offset"]}, "offsets %s" % off)


# -- names -------------------------------------------------------------------

def nonutf8_case(rel):
    def run(h):
        res, rec = scan_one(h, rel)      # records() insists on UTF-8
        ours = [m for m in rec["matches"] if len(m["path"]) > 1]
        check(len(ours) == 2, "%s: expected 2 matches (0xff 0xfe and "
              "Shift_JIS names), got %s" % (rel, fmt_matches(rec)))
        names = [m["path"][1] for m in ours]
        check(all(len(m["path"]) == 2 for m in ours),
              "%s: paths %s" % (rel, [m["path"] for m in ours]))
        check(len(set(names)) == 2, "%s: the two member names collapsed "
              "into %r" % (rel, names))
        check(any("-raw.txt" in n for n in names), "%s: no name keeps the "
              "ASCII part of '\\xff\\xfe-raw.txt': %r" % (rel, names))
        check(all(n.endswith(".txt") and n != "ascii.txt" for n in names),
              "%s: names %r" % (rel, names))
        check(rec["problems"] == [], "%s: odd names are not problems: %s"
              % (rel, rec["problems"]))
    return run


case("names: zip with non-UTF-8 member names, output is UTF-8 JSON")(
    nonutf8_case("names/nonutf8.zip"))
case("names: tar with non-UTF-8 member names, output is UTF-8 JSON")(
    nonutf8_case("names/nonutf8.tar"))


@case("names: quote, backslash, tab, newline and 0x01 in a tar name")
def _(h):
    res, rec = scan_one(h, "names/escapes.tar")
    want = "odd \"quote\" \\back\tslash\x01\n.txt"
    got = [m["path"][1:] for m in rec["matches"]]
    check([want] in got, "expected member %r, got %s" % (want, got))


# -- walking a tree ------------------------------------------------------------

@case("tree: walk finds nested files, FIFO and socket unsupported, "
      "symlinks not followed")
def _(h):
    res = h.scan(["tree"], timeout=HANG_TIMEOUT)
    recs = h.records(res)
    by = {}
    for r in recs:
        obj = os.path.normpath(r["object"])
        check(obj not in by, "object %r reported twice" % obj)
        by[obj] = r
    for obj in by:
        check(obj.startswith("tree/"), "object %r is outside tree/" % obj)
        check(not obj.startswith(("tree/link-dir/", "tree/sub/loop/")),
              "walk followed a directory symlink: %r" % obj)
    want = {"tree/a.txt": "clean", "tree/sub/needle.txt": "flagged",
            "tree/sub/deeper/needle.tar.gz": "flagged",
            "tree/sub/clean.zip": "clean"}
    for obj, verdict in sorted(want.items()):
        check(obj in by, "no line for %s; objects: %s" % (obj, sorted(by)))
        check(by[obj]["verdict"] == verdict, "%s: verdict %r, expected %r"
              % (obj, by[obj]["verdict"], verdict))
    special = ["tree/fifo"]
    if os.path.exists(os.path.join(h.fix, "tree/sock")):
        special.append("tree/sock")
    for obj in special:
        check(obj in by, "no line for %s; objects: %s" % (obj, sorted(by)))
        check(by[obj]["verdict"] == "unscannable" and
              "unsupported" in reasons(by[obj]),
              "%s: verdict %r problems %s, expected unscannable/unsupported"
              % (obj, by[obj]["verdict"], by[obj]["problems"]))
    flagged = sorted(o for o, r in by.items() if r["verdict"] == "flagged")
    check(flagged == ["tree/sub/deeper/needle.tar.gz", "tree/sub/needle.txt"],
          "flagged objects %s: a symlink to a needle outside the tree must "
          "not be followed" % flagged)
    check(res.rc == 1, "exit status %s, expected 1" % res.rc)


def special_file_case(path_fn, what):
    def run(h):
        path = path_fn(h)
        if path is None:
            raise Skip("%s not available" % what)
        res = h.scan([path], timeout=HANG_TIMEOUT)
        rec = h.one_record(res, path)
        check(rec["verdict"] == "unscannable" and
              "unsupported" in reasons(rec),
              "%s: verdict %r problems %s, expected unscannable/unsupported"
              % (path, rec["verdict"], rec["problems"]))
        check(res.rc == 2, "%s: exit status %s, expected 2" % (path, res.rc))
        check(res.wall < HANG_TIMEOUT / 2, "%s: took %.1f s" % (path,
                                                                 res.wall))
    return run


def _existing(path):
    return lambda h: path if os.path.exists(path) else None


def _fixture(rel):
    return lambda h: (rel if os.path.exists(os.path.join(h.fix, rel))
                      else None)


case("special: a FIFO named on the command line is unsupported, no hang")(
    special_file_case(_fixture("tree/fifo"), "FIFO"))
case("special: a socket named on the command line is unsupported")(
    special_file_case(_fixture("tree/sock"), "socket"))
case("special: /dev/zero is unsupported and never read")(
    special_file_case(_existing("/dev/zero"), "/dev/zero"))


# -- standard input ----------------------------------------------------------

@case("stdin: '-' reads a tar.gz from standard input")
def _(h):
    data = _read(h, "filters/needle.tar.gz")
    res = h.scan(["-"], stdin=data)
    rec = h.one_record(res, "-")
    check(rec["verdict"] == "flagged", "verdict %r (problems %s)"
          % (rec["verdict"], rec["problems"]))
    check(any(m["path"][1:] == ["docs/needle.txt"] and
              m["offset"] == h.manifest_head["needle_offset"]
              for m in rec["matches"]),
          "expected a match at ['-', 'docs/needle.txt'] offset %d, got %s"
          % (h.manifest_head["needle_offset"], fmt_matches(rec)))
    check(rec["size"] == len(data), "size %r, sent %d bytes"
          % (rec["size"], len(data)))
    check(rec["sha256"] == hashlib.sha256(data).hexdigest(),
          "sha256 %r is not that of the bytes sent" % rec["sha256"])
    check(res.rc == 1, "exit status %s, expected 1" % res.rc)


@case("stdin: clean input is clean, exit 0")
def _(h):
    res = h.scan(["-"], stdin=_read(h, "clean/clean.zip"))
    rec = h.one_record(res, "-")
    check(rec["verdict"] == "clean", "verdict %r" % rec["verdict"])
    check(res.rc == 0, "exit status %s, expected 0" % res.rc)


@case("stdin: text output names '-'")
def _(h):
    res = h.scan(["-"], stdin=_read(h, "needle.txt"), json_mode=False)
    lines = res.out.decode("utf-8", "replace").splitlines()
    check(any(re.fullmatch(r"-: flagged test_needle \(IV\.9\(7\), high\)"
                           r"( in .*)?", ln) for ln in lines),
          "no '-: flagged test_needle (IV.9(7), high)' line in %r"
          % short(res.out))
    check(res.rc == 1, "exit status %s, expected 1" % res.rc)


def _read(h, rel):
    with open(os.path.join(h.fix, rel), "rb") as f:
        return f.read()


# -- threads -------------------------------------------------------------------

def _thread_objects(h):
    """Copies of many fixtures, with long lines, in WORKDIR/threads."""
    d = os.path.join(h.work, "threads")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    objs = []
    for sub in ("formats", "filters"):
        for name in sorted(os.listdir(os.path.join(h.fix, sub))):
            dst = "%s-%s" % (sub, name)
            shutil.copyfile(os.path.join(h.fix, sub, name),
                            os.path.join(d, dst))
            objs.append(dst)
    for i in range(6):
        dst = "manymatch-%d.tar" % i
        shutil.copyfile(os.path.join(h.fix, "multi/manymatch.tar"),
                        os.path.join(d, dst))
        objs.append(dst)
    return d, objs


@case("threads: --threads 2 keeps --json lines whole, one per object")
def _(h):
    d, objs = _thread_objects(h)
    res = h.scan(objs, cwd=d, args=["--threads", "2"], timeout=120)
    recs = h.records(res)
    got = sorted(r["object"] for r in recs)
    check(got == sorted(objs), "objects reported %d, expected %d; missing "
          "%s, extra %s" % (len(got), len(objs),
                            sorted(set(objs) - set(got)),
                            sorted(set(got) - set(objs))))
    n = h.manifest_head["many_matches"]
    for r in recs:
        if r["object"].startswith("manymatch-"):
            k = len([m for m in r["matches"] if len(m["path"]) > 1])
            check(k == n, "%s: %d matches, expected %d" % (r["object"], k, n))
    check(res.rc == 1, "exit status %s, expected 1" % res.rc)
    single = h.records(h.scan(objs, cwd=d, args=["--threads", "1"],
                              timeout=120))
    v1 = {r["object"]: (r["verdict"], sorted(match_set(r))) for r in single}
    v2 = {r["object"]: (r["verdict"], sorted(match_set(r))) for r in recs}
    diff = sorted(o for o in v1 if v1[o] != v2.get(o))
    check(not diff, "--threads 1 and --threads 2 disagree on %s" % diff)


@case("threads: --threads 2 keeps text lines whole, one per object")
def _(h):
    d, objs = _thread_objects(h)
    res = h.scan(objs, cwd=d, args=["--threads", "2"], json_mode=False,
                 timeout=120)
    lines = res.out.decode("utf-8", "replace").splitlines()
    seen = []
    for ln in lines:
        obj = ln.split(": ", 1)[0]
        if obj in objs:
            check(re.fullmatch(re.escape(obj) + r": flagged \S+ \(.*\)"
                               r"( in .*)?", ln),
                  "malformed or interleaved line %r" % short(ln))
            seen.append(obj)
    check(sorted(seen) == sorted(objs), "%d object lines for %d objects; "
          "missing %s" % (len(seen), len(objs),
                          sorted(set(objs) - set(seen))))


# -- exit status -------------------------------------------------------------

def exit_case(paths, want_rc, want_verdicts):
    def run(h):
        res = h.scan(paths)
        recs = h.records(res)
        got = {os.path.normpath(r["object"]): r["verdict"] for r in recs}
        want = {os.path.normpath(p): v for p, v in want_verdicts.items()}
        check(got == want, "verdicts %s, expected %s" % (got, want))
        check(res.rc == want_rc, "exit status %s, expected %d (%s)"
              % (res.rc, want_rc, res.describe()))
        # The text form exits the same way.
        res2 = h.scan(paths, json_mode=False)
        check(res2.rc == want_rc, "text mode exit status %s, expected %d"
              % (res2.rc, want_rc))
    return run


case("exit 0: everything clean")(exit_case(
    ["clean/clean.txt", "clean/clean.zip"], 0,
    {"clean/clean.txt": "clean", "clean/clean.zip": "clean"}))
case("exit 1: one flagged among clean")(exit_case(
    ["clean/clean.txt", "needle.txt"], 1,
    {"clean/clean.txt": "clean", "needle.txt": "flagged"}))
case("exit 1: flagged wins over unscannable")(exit_case(
    ["needle.txt", "encrypted/zipcrypt.zip"], 1,
    {"needle.txt": "flagged", "encrypted/zipcrypt.zip": "unscannable"}))
case("exit 2: clean and unscannable")(exit_case(
    ["clean/clean.txt", "encrypted/zipcrypt.zip"], 2,
    {"clean/clean.txt": "clean", "encrypted/zipcrypt.zip": "unscannable"}))
case("exit 2: a missing path is an error verdict")(exit_case(
    ["clean/clean.txt", "does-not-exist.bin"], 2,
    {"clean/clean.txt": "clean", "does-not-exist.bin": "error"}))


def usage_case(args, rules=RULES, pattern=None):
    def run(h):
        res = h.run([h.vigil, "scan"] + (["--rules", rules] if rules else [])
                    + list(args), h.fix, timeout=30)
        check(res.rc == 3, "exit status %s, expected 3 (%s)"
              % (res.rc, res.describe()))
        check(res.err.strip(), "no message on stderr")
        check(not re.search(rb'"verdict"|: (clean|flagged|unscannable)',
                            res.out),
              "scanned despite the error: %r" % short(res.out))
        if pattern:
            check(re.search(pattern, res.err.decode("utf-8", "replace")),
                  "stderr %r does not match %r" % (short(res.err), pattern))
    return run


case("exit 3: no PATH")(usage_case(["--json"]))
case("exit 3: unknown option")(usage_case(["--no-such-option", "needle.txt"]))
case("exit 3: --max-bytes with a bad suffix")(
    usage_case(["--max-bytes", "10Q", "needle.txt"]))
case("exit 3: --max-depth not a number")(
    usage_case(["--max-depth", "deep", "needle.txt"]))
case("exit 3: --rules names a missing file")(
    usage_case(["needle.txt"], rules="/nonexistent/rules.yar"))


# -- rule files ----------------------------------------------------------------

def bad_rule_case(fname, pattern, also=None):
    def run(h):
        path = os.path.join(BAD_RULES, fname)
        usage_case(["needle.txt"], rules=path, pattern=pattern)(h)
        if also:
            res = h.run([h.vigil, "scan", "--rules", path, "needle.txt"],
                        h.fix, timeout=30)
            check(also in res.err.decode("utf-8", "replace").lower(),
                  "stderr %r does not mention %r" % (short(res.err), also))
    return run


case("rules: syntax error -> exit 3 naming syntax.yar:7:COLUMN")(
    bad_rule_case("syntax.yar", r"syntax\.yar:7:\d+"))
case("rules: unknown string modifier -> exit 3 naming modifier.yar:7:COLUMN")(
    bad_rule_case("modifier.yar", r"modifier\.yar:7:\d+"))
case("rules: missing clause meta -> exit 3 naming noclause.yar:LINE:COLUMN")(
    bad_rule_case("noclause.yar", r"noclause\.yar:\d+:\d+", "clause"))
case("rules: missing severity meta -> exit 3 naming the file")(
    bad_rule_case("noseverity.yar", r"noseverity\.yar:\d+:\d+", "severity"))
case("rules: severity outside low..critical -> exit 3 naming the file")(
    bad_rule_case("badseverity.yar", r"badseverity\.yar:\d+:\d+"))


@case("rules: one bad file in a rules directory fails the whole set")
def _(h):
    d = os.path.join(h.work, "rules-mixed")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    shutil.copy(os.path.join(RULES, "needle.yar"), d)
    shutil.copy(os.path.join(BAD_RULES, "syntax.yar"), d)
    usage_case(["needle.txt"], rules=d, pattern=r"syntax\.yar:7:\d+")(h)


@case("rules: a directory loads *.yar and *.yara and ignores other files")
def _(h):
    d = os.path.join(h.work, "rules-other")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    shutil.copy(os.path.join(RULES, "needle.yar"), d)
    shutil.copy(os.path.join(RULES, "static.yara"), d)
    with open(os.path.join(d, "README.txt"), "w") as f:
        f.write("not a rule file { at all\n")
    res = h.scan(["needle.txt"], rules=d)
    rec = h.one_record(res, "needle.txt")
    check(rec["verdict"] == "flagged", "verdict %r (%s)"
          % (rec["verdict"], res.describe()))
    res = h.scan(["test_read_format_lha_filename_utf16.lzh"], cwd=STATIC,
                 rules=d)
    rec = h.one_record(res, "test_read_format_lha_filename_utf16.lzh")
    check(rec["verdict"] == "flagged", "rules from static.yara not loaded: "
          "verdict %r" % rec["verdict"])


@case("rules: --rules with a single file loads only that file")
def _(h):
    res = h.scan(["needle.txt"], rules=os.path.join(RULES, "static.yara"))
    rec = h.one_record(res, "needle.txt")
    check(rec["verdict"] == "clean", "needle.txt flagged by static.yara "
          "alone: %s" % fmt_matches(rec))
    res = h.scan(["needle.txt"], rules=os.path.join(RULES, "needle.yar"))
    rec = h.one_record(res, "needle.txt")
    check(rec["verdict"] == "flagged", "verdict %r" % rec["verdict"])


# -- text output ---------------------------------------------------------------

def text_case(cwd_rel, obj, pattern, rc):
    def run(h):
        cwd = os.path.join(h.fix, cwd_rel)
        res = h.scan([obj], cwd=cwd, json_mode=False)
        lines = [ln for ln in res.out.decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        obj_lines = [ln for ln in lines if ln.startswith(obj + ": ")]
        check(len(obj_lines) == 1, "expected one line for %s, got %r"
              % (obj, lines))
        check(re.fullmatch(pattern, obj_lines[0]), "line %r does not match "
              "%r" % (obj_lines[0], pattern))
        i = lines.index(obj_lines[0])
        check(len(lines) > i + 1, "no summary after the object lines: %r"
              % lines)
        check(res.rc == rc, "exit status %s, expected %d" % (res.rc, rc))
    return run


case("text: clean line")(text_case(
    "clean", "clean.txt", r"clean\.txt: clean", 0))
case("text: flagged line names rule, clause, severity, member")(text_case(
    "formats", "needle-ustar.tar",
    r"needle-ustar\.tar: flagged test_needle \(IV\.9\(7\), high\) "
    r"in docs/needle\.txt", 1))
case("text: flagged plain file")(text_case(
    ".", "needle.txt",
    r"needle\.txt: flagged test_needle \(IV\.9\(7\), high\)"
    r"( in needle\.txt)?", 1))
case("text: each rule named carries its own clause and severity")(text_case(
    "multi", "two-rules.txt",
    r"two-rules\.txt: flagged (?=.*(test_needle|test_marker) \()"
    r"(?!.*test_needle \((?!IV\.9\(7\), high\)))"
    r"(?!.*test_marker \((?!network-safety, critical\))).*", 1))
case("text: unscannable line names the reason and member")(text_case(
    "encrypted", "zipcrypt.zip",
    r"zipcrypt\.zip: unscannable \(encrypted in needle\.txt\)", 2))
case("text: nested flagged line names the chain in order")(text_case(
    "nested", "nest3.tar.gz",
    r"nest3\.tar\.gz: flagged test_needle \(IV\.9\(7\), high\) in "
    r".*inner/level1\.zip.*level2\.7z.*docs/needle\.txt", 1))


# -- mime ------------------------------------------------------------------------

def mime_case(rel, want):
    def run(h):
        res, rec = scan_one(h, rel)
        got = rec["mime"].split(";")[0].strip()
        check(got == want, "%s: mime %r, expected %r" % (rel, rec["mime"],
                                                         want))
    return run


for _rel, _mime in (("needle.txt", "text/plain"),
                    ("formats/needle-deflate.zip", "application/zip"),
                    ("filters/needle.tar.gz", "application/gzip"),
                    ("formats/needle-lzma2.7z",
                     "application/x-7z-compressed"),
                    ("formats/needle-ustar.tar", "application/x-tar")):
    case("mime: %s is %s" % (_rel, _mime))(mime_case(_rel, _mime))


# ---------------------------------------------------------------------------
# Setup and the runner.

def load_rule_meta():
    meta = {}
    for name in sorted(os.listdir(RULES)):
        if not name.endswith((".yar", ".yara")):
            continue
        with open(os.path.join(RULES, name), encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"^rule\s+(\w+)\s*\{(.*?)^\}", text, re.S | re.M):
            clause = re.search(r'clause\s*=\s*"([^"]*)"', m.group(2))
            sev = re.search(r'severity\s*=\s*"([^"]*)"', m.group(2))
            meta[m.group(1)] = (clause.group(1), sev.group(1))
    return meta


def setup(h):
    """Build the fixtures and read the manifest; a Failure here is fatal."""
    os.makedirs(h.work, exist_ok=True)
    h.log = open(os.path.join(h.work, "scan_cli.log"), "w", encoding="utf-8")
    check(os.access(h.vigil, os.X_OK), "vigil not executable: %s" % h.vigil)
    if os.path.isdir(h.fix):
        shutil.rmtree(h.fix)
    res = h.run([h.mkfixtures, h.fix], h.work, timeout=300)
    check(res.rc == 0 and not res.timed_out, "mkfixtures failed: %s"
          % res.describe())
    sys.stdout.write(res.out.decode("utf-8", "replace"))
    with open(os.path.join(h.fix, "manifest.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(ln) for ln in f if ln.strip()]
    h.manifest_head = lines[0]
    for entry in lines[1:]:
        if "skip" in entry:
            h.skips.append(entry)
        else:
            h.manifest.append(entry)
    h.rule_meta = load_rule_meta()
    with open(os.path.join(RULES, "needle.yar"), encoding="utf-8") as f:
        text = f.read()
    for key in ("needle", "marker"):
        check('"%s"' % h.manifest_head[key] in text,
              "rules/good/needle.yar does not match the %s mkfixtures plants "
              "(%r)" % (key, h.manifest_head[key]))


def all_cases(h):
    cases = []
    for entry in h.manifest:
        cases.append(("fixture %s: %s" % (entry["file"], entry["verdict"]),
                      manifest_case(entry)))
    for fname, rule, member in STATIC_EXPECT:
        cases.append(("static %s: flagged by %s in its member" % (fname, rule),
                      static_case(fname, rule, member)))
        cases.append(("static %s: no problems" % fname,
                      static_problems_case(fname)))
    cases += CASES
    return cases


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    h = Harness(argv[1], argv[2], argv[3])
    only = argv[4:]
    passed = failed = skipped = 0
    try:
        setup(h)
    except (Failure, OSError, ValueError, KeyError, IndexError) as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1
    for entry in h.skips:
        print("SKIP fixture %s: %s" % (entry["skip"], entry["reason"]))
        skipped += 1
    for name, fn in all_cases(h):
        if only and not any(s in name for s in only):
            continue
        try:
            fn(h)
        except Failure as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            skipped += 1
        except Exception as e:          # a bug here, or vigil very wrong
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            failed += 1
        else:
            print("PASS %s" % name)
            passed += 1
        sys.stdout.flush()
    if failed:
        print("details of every vigil run: %s"
              % os.path.join(h.work, "scan_cli.log"))
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
