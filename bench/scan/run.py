#!/usr/bin/env python3
"""Benchmark `vigil scan` against cat, yara and clamscan.

Generates (deterministically, cached in the work dir) a plain-text corpus,
an archive corpus, keyword+regex rule sets in YARA and ClamAV form, then
times every tool on the same input in the same run, best of --reps runs,
and prints throughput, ratios and the target checks.  See bench/README.md.

Exit status: 0 when every tool ran (whatever the ratios), 1 when a tool
failed to run or gave an unexpected exit status, 64 on a usage error.

Only the standard library; runs with Debian 12's /usr/bin/python3 (3.11).
"""

import argparse
import gzip
import io
import json
import lzma
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

sys.dont_write_bytecode = True  # keep the checkout free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import textgen as tg  # noqa: E402

SEED = 20240611
# Bump when anything generated changes: cached corpora are then rebuilt.
GEN_VERSION = 4
MB = 1e6
KIB, MIB = 1024, 1024 * 1024
FIXED_MTIME = 1704067200  # 2024-01-01, so archives are byte-identical
KW_PER_RULE = 50
META = '        clause = "IV.9(7)"\n        severity = "high"\n'
MEMBER_RE = re.compile(r"a\d{3}_m\d{3}\.txt")
ARCHIVE_RE = re.compile(r"a\d{3}\.(?:tar\.gz|zip|tar\.zst|tar\.xz)")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

FAILURES = []
# A child forked from this process starts with its RSS high-water mark, so
# wait4's ru_maxrss would report at least ours; /usr/bin/time (package
# "time") forks from a small process and reports the child's own peak.
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------ running


class Result:
    def __init__(self, seconds, rc, maxrss_kib, stdout=b""):
        self.seconds = seconds
        self.rc = rc
        self.maxrss_kib = maxrss_kib
        self.stdout = stdout


def run(cmd, ok=(0,), capture=False, what=None):
    """Run cmd (list, or str for sh -c); time it and take its peak RSS.

    Returns a Result, or None after recording a failure when the exit
    status is not in ok.  stdout goes to /dev/null unless capture.
    """
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    shown = cmd
    rssf = tempfile.NamedTemporaryFile(prefix="vigil-bench-rss.")
    rssf.close()
    if TIME:
        cmd = [TIME, "-o", rssf.name, "-f", "%M"] + cmd
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                 stdout=out if capture else subprocess.DEVNULL,
                                 stderr=err)
        except OSError as e:
            FAILURES.append("%s: %s" % (what or cmd[0], e))
            log("FAILED to start %s: %s" % (cmd[0], e))
            return None
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        maxrss = None
        if TIME:
            try:
                with open(rssf.name) as f:
                    maxrss = int(f.read().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
            try:
                os.unlink(rssf.name)
            except OSError:
                pass
        if rc not in ok:
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
            FAILURES.append("%s: exit %d" % (what or " ".join(shown), rc))
            log("FAILED (exit %d): %s\n%s" % (rc, " ".join(shown), tail))
            return None
        data = b""
        if capture:
            out.seek(0)
            data = out.read()
        return Result(dt, rc, maxrss, data)


def dir_bytes(path):
    n = 0
    for root, _, files in os.walk(path):
        for f in files:
            n += os.path.getsize(os.path.join(root, f))
    return n


def warm(path):
    run("find '%s' -type f -print0 | xargs -0 cat > /dev/null" % path,
        what="warm cache")


# --------------------------------------------------------- generation


def text_file(rng, pools, size, plants):
    """Bytes of about size; plants (str) go on lines at random places."""
    lines = pools.text(rng, size)
    for p in plants:
        ctx = rng.choice(pools.lines[rng.choice(("en", "zh", "mix"))])
        ctx = ctx.decode()
        cut = rng.randint(0, max(0, len(ctx) - 2))
        sep = "" if not p.isascii() and rng.random() < 0.5 else " "
        line = (ctx[:cut] + sep + p + sep + ctx[cut:]).encode()
        lines.insert(rng.randint(0, len(lines)), line)
    return b"".join(lines)


def log_uniform(rng, lo, hi):
    return int(lo * (hi / lo) ** rng.random())


def gen_plain(work, quick, vocab, pools, kws):
    """The plain corpus; returns {relpath: [planted things]}."""
    rng = random.Random(SEED + 1)
    nfiles = 240 if quick else 2400
    root = os.path.join(work, "plain")
    planted = {}
    for i in range(nfiles):
        size = log_uniform(rng, KIB, MIB)
        plants, tags = [], []
        r = rng.random()
        if r < 0.04:
            for kw in rng.sample(kws[:1000], rng.randint(1, 3)):
                plants.append(tg.kw_variant(rng, kw))
                tags.append("kw:" + kw)
        elif r < 0.07:
            for kw in rng.sample(kws[1000:], rng.randint(1, 2)):
                plants.append(tg.kw_variant(rng, kw))
                tags.append("kw:" + kw)
        if rng.random() < 0.02:
            name = rng.choice(tg.REGEXES)[0]
            plants.append(tg.regex_hit(rng, vocab, name))
            tags.append("re:" + name)
        rel = "d%02d/f%05d.txt" % (i // 100, i)
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text_file(rng, pools, size, plants))
        if tags:
            planted[rel] = tags
    return planted


def tar_bytes(members):
    """An uncompressed tar of [(name, bytes)] with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = FIXED_MTIME
            ti.mode = 0o644
            ti.uname = ti.gname = "vigil"
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def zstd_bytes(data):
    return subprocess.run(["zstd", "-q", "-3", "-c"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def gen_archives(work, quick, vocab, pools, kws):
    """The archive corpus.  Members are also written, unpacked, under
    archives-src/ (for yara's ground truth) and inner archives of nested
    ones under archives-inner/ (for decompress-only timing)."""
    rng = random.Random(SEED + 2)
    kinds = (["tar.gz"] * 14 + ["zip"] * 14 + ["tar.zst"] * 10 +
             ["tar.xz"] * 8 + ["nested"] * 8)
    if quick:
        kinds = kinds[::5]
    adir = os.path.join(work, "archives")
    sdir = os.path.join(work, "archives-src")
    idir = os.path.join(work, "archives-inner")
    for d in (adir, sdir, idir):
        os.makedirs(d, exist_ok=True)
    planted = {}

    def members(aid, count_from, target):
        out, n, mid = [], 0, count_from
        plant_here = rng.random() < 0.4
        while n < target:
            size = log_uniform(rng, KIB, 256 * KIB)
            name = "a%03d_m%03d.txt" % (aid, mid)
            plants = []
            if plant_here and (rng.random() < 0.15 or n + size >= target):
                plants = [tg.kw_variant(rng, rng.choice(kws[:1000]))]
                planted[name] = plants
                plant_here = rng.random() < 0.3
            data = text_file(rng, pools, size, plants)
            out.append(("docs/%s/%s" % (rng.choice(vocab.common[:50]),
                                         name), data))
            n += len(data)
            mid += 1
        return out

    for aid, kind in enumerate(kinds):
        target = log_uniform(rng, 400 * KIB, 2 * MIB)
        ext = "tar.gz" if kind == "nested" else kind
        aname = "a%03d.%s" % (aid, ext)
        mem = members(aid, 0, target)
        src = os.path.join(sdir, aname)
        if kind == "nested":
            inner = members(aid, len(mem), target)
            iname = "a%03d_inner.zip" % aid
            izip = zip_bytes(inner)
            with open(os.path.join(idir, iname), "wb") as f:
                f.write(izip)
            for name, data in inner:
                p = os.path.join(src, "bundle", iname, name)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "wb") as f:
                    f.write(data)
            whole = mem[:len(mem) // 2] + [("bundle/" + iname, izip)] + \
                mem[len(mem) // 2:]
        else:
            whole = mem
        for name, data in mem:
            p = os.path.join(src, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        if kind == "zip":
            blob = zip_bytes(whole)
        else:
            tb = tar_bytes(whole)
            if ext == "tar.gz":
                blob = gzip.compress(tb, compresslevel=6, mtime=0)
            elif ext == "tar.xz":
                blob = lzma.compress(tb, preset=6)
            else:
                blob = zstd_bytes(tb)
        with open(os.path.join(adir, aname), "wb") as f:
            f.write(blob)
    return planted


def yara_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def hexs(s):
    return s.encode().hex()


def write_rules(rdir, kws):
    """kw1k and kw10k as .yar (vigil and yara read the same file) and .ldb."""
    os.makedirs(rdir, exist_ok=True)
    for tag, n in (("kw1k", 1000), ("kw10k", 10000)):
        yar, ldb = [], []
        yar.append("// vigil bench: %d case-insensitive keywords in rules "
                   "of %d, and %d regexes.\n// Generated by bench/scan/run.py"
                   "; do not edit.\n" % (n, KW_PER_RULE, len(tg.REGEXES)))
        for r in range(n // KW_PER_RULE):
            chunk = kws[r * KW_PER_RULE:(r + 1) * KW_PER_RULE]
            name = "kw_%04d" % r
            yar.append("rule %s\n{\n    meta:\n%s    strings:\n" %
                       (name, META))
            for i, kw in enumerate(chunk):
                yar.append("        $k%02d = %s nocase\n" % (i, yara_str(kw)))
            yar.append("    condition:\n        any of them\n}\n\n")
            ldb.append("%s;Engine:81-255,Target:0;%s;%s" % (
                name, "|".join(str(i) for i in range(len(chunk))),
                ";".join(hexs(kw) + "::i" for kw in chunk)))
        for rname, rx, triggers, nocase in tg.REGEXES:
            name = "re_" + rname
            yar.append("rule %s\n{\n    meta:\n%s    strings:\n"
                       "        $r = %s\n    condition:\n        $r\n}\n\n" %
                       (name, META, rx))
            body, flags = rx[1:].rsplit("/", 1)
            subs = [hexs(t) + ("::i" if nocase else "") for t in triggers]
            trig = "|".join(str(i) for i in range(len(subs)))
            # ';' separates ldb fields, so it cannot appear in the PCRE.
            assert ";" not in body
            ldb.append("%s;Engine:81-255,Target:0;%d;%s;%s/%s/%s" % (
                name, len(subs), ";".join(subs), trig, body, flags))
        with open(os.path.join(rdir, tag + ".yar"), "w") as f:
            f.write("".join(yar))
        with open(os.path.join(rdir, tag + ".ldb"), "w") as f:
            f.write("\n".join(ldb) + "\n")


def check_rules(rdir, vocab, kws):
    """yarac must compile without warnings; yara and clamscan must both
    find every sample (one per regex, a few keywords)."""
    rng = random.Random(SEED + 3)
    sdir = os.path.join(rdir, "samples")
    os.makedirs(sdir, exist_ok=True)
    want = {}
    for rname, *_ in tg.REGEXES:
        want["re_" + rname] = "x %s y\n" % tg.regex_hit(rng, vocab, rname)
    for i in (0, 999, 1000, 9999):
        want["kw_%04d" % (i // KW_PER_RULE)] = "x %s y\n" % \
            tg.kw_variant(rng, kws[i])
    for name, text in want.items():
        with open(os.path.join(sdir, name + ".txt"), "w") as f:
            f.write(text)
    ok = True
    for tag in ("kw1k", "kw10k"):
        yar = os.path.join(rdir, tag + ".yar")
        p = subprocess.run(["yarac", yar, yar + "c"], capture_output=True,
                           text=True)
        if p.returncode != 0 or p.stderr.strip():
            log("yarac %s: exit %d\n%s" % (tag, p.returncode, p.stderr))
            FAILURES.append("yarac " + tag)
            ok = False
        hits = set()
        p = subprocess.run(["yara", "-r", "-C", yar + "c", sdir],
                           capture_output=True, text=True)
        for line in p.stdout.splitlines():
            rule, path = line.split(" ", 1)
            if os.path.basename(path) == rule + ".txt":
                hits.add(rule)
        p = subprocess.run(["clamscan", "--no-summary", "--allmatch", "-d",
                            os.path.join(rdir, tag + ".ldb"), sdir],
                           capture_output=True, text=True)
        if p.returncode not in (0, 1):
            log("clamscan -d %s.ldb: exit %d\n%s" % (tag, p.returncode,
                                                     p.stderr))
            FAILURES.append("clamscan -d %s.ldb" % tag)
            ok = False
        chits = set()
        for line in p.stdout.splitlines():
            m = re.match(r"(.*): (\S+?)(?:\.UNOFFICIAL)? FOUND$", line)
            if m and os.path.basename(m.group(1)) == m.group(2) + ".txt":
                chits.add(m.group(2))
        exp = {n for n in want if tag == "kw10k" or not
               n.startswith("kw_") or int(n[3:]) < 1000 // KW_PER_RULE}
        for who, got in (("yara", hits), ("clamscan", chits)):
            if exp - got:
                log("%s %s missed samples: %s" % (who, tag,
                                                  sorted(exp - got)))
                ok = False
    return ok


def yara_truth(rules, path):
    """{relpath: set(rules)} that the real yara reports for path."""
    p = subprocess.run(["yara", "-r", "-w", "-p", "2", rules, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        FAILURES.append("yara truth")
        log("yara truth: exit %d\n%s" % (p.returncode, p.stderr))
    out = {}
    for line in p.stdout.splitlines():
        rule, f = line.split(" ", 1)
        out.setdefault(os.path.relpath(f, path), set()).add(rule)
    return out


def write_big(work, pools, kws, size_mib):
    path = os.path.join(work, "big", "big-%dM.txt" % size_mib)
    if os.path.exists(path) and os.path.getsize(path) >= size_mib * MIB:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = random.Random(SEED + 4)
    blocks = [b"".join(pools.text(rng, 16 * MIB)) for _ in range(4)]
    tail = text_file(rng, pools, 64 * KIB, [kws[7]])
    with open(path + ".tmp", "wb") as f:
        n, i = 0, 0
        while n < size_mib * MIB - len(tail):
            b = blocks[i % 4][:size_mib * MIB - len(tail) - n]
            f.write(b)
            n += len(b)
            i += 1
        f.write(tail)
    os.rename(path + ".tmp", path)
    return path


def generate(work, quick, need_plain, need_archives):
    """Build (or reuse) corpora and rules; returns the manifest."""
    mpath = os.path.join(work, "manifest.json")
    man = {}
    if os.path.exists(mpath):
        with open(mpath) as f:
            man = json.load(f)
        if man.get("version") != GEN_VERSION or man.get("quick") != quick:
            man = {}
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    vocab = tg.Vocab(rng)
    kws = tg.make_keywords(rng, vocab, 10000)
    pools = tg.Pools(rng, vocab)
    if not man:
        for d in ("plain", "archives", "archives-src", "archives-inner",
                  "rules"):
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        man = {"version": GEN_VERSION, "quick": quick, "seed": SEED}
    os.makedirs(work, exist_ok=True)
    rdir = os.path.join(work, "rules")
    if "rules" not in man:
        log("generating rules ...")
        write_rules(rdir, kws)
        man["rules_ok"] = check_rules(rdir, vocab, kws)
        man["rules"] = rdir
    if need_plain and "plain" not in man:
        log("generating plain corpus ...")
        planted = gen_plain(work, quick, vocab, pools, kws)
        pdir = os.path.join(work, "plain")
        man["plain"] = {
            "files": sum(len(f) for _, _, f in os.walk(pdir)),
            "bytes": dir_bytes(pdir),
            "planted": planted,
            "truth": {t: {k: sorted(v) for k, v in yara_truth(
                os.path.join(rdir, t + ".yar"), pdir).items()}
                for t in ("kw1k", "kw10k")},
        }
    if need_archives and "archives" not in man:
        log("generating archive corpus ...")
        planted = gen_archives(work, quick, vocab, pools, kws)
        sdir = os.path.join(work, "archives-src")
        truth = yara_truth(os.path.join(rdir, "kw1k.yar"), sdir)
        man["archives"] = {
            "files": len(os.listdir(os.path.join(work, "archives"))),
            "bytes": dir_bytes(os.path.join(work, "archives")),
            "unpacked_bytes": dir_bytes(sdir),
            "planted": planted,
            # Member names are unique, so they stand for their paths.
            "truth": {os.path.basename(k): sorted(v)
                      for k, v in truth.items()},
        }
    with open(mpath + ".tmp", "w") as f:
        json.dump(man, f, ensure_ascii=False, indent=1)
    os.rename(mpath + ".tmp", mpath)
    log("corpora ready in %.1f s" % (time.perf_counter() - t0))
    return man, pools, kws


# ------------------------------------------------------- measurement


class Bench:
    """Round-robin timing: every config runs once per round, so noise that
    drifts over minutes hits all tools alike."""

    def __init__(self, reps):
        self.reps = reps
        self.configs = []   # (key, label, cmd, ok)
        self.times = {}
        self.rss = {}

    def add(self, key, label, cmd, ok=(0,)):
        self.configs.append((key, label, cmd, ok))

    def go(self):
        for rep in range(self.reps):
            for key, label, cmd, ok in self.configs:
                if key in self.times and self.times[key] is None:
                    continue
                log("  round %d/%d: %s" % (rep + 1, self.reps, label))
                r = run(cmd, ok=ok, what=label)
                if r is None:
                    self.times[key] = None
                    continue
                self.times.setdefault(key, []).append(r.seconds)
                if r.maxrss_kib is not None:
                    self.rss[key] = max(self.rss.get(key, 0), r.maxrss_kib)

    def best(self, key):
        t = self.times.get(key)
        return min(t) if t else None

    def spread(self, key):
        t = self.times.get(key)
        return (max(t) / min(t) - 1) * 100 if t else None


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def ratio(a, b):
    """Speed of a relative to b, from times: b / a."""
    if a is None or b is None or a <= 0:
        return None
    return b / a


CHECKS = []


def check(label, value, target, unit="x", net=None):
    """Record a target check; net is the same ratio with every tool's
    start-up (rule compile or load) subtracted, shown for reference."""
    CHECKS.append((label, value, target, unit, net))


def show(value, unit):
    if value is None:
        return "-"
    if unit == "%":
        return "%.0f%%" % value
    if unit == "MB<":
        return "%.0f MB" % value
    return "%.2fx" % value


def print_checks():
    if not CHECKS:
        return
    print("\nTarget checks (ratios from the same run; the exit status "
          "ignores them;\n'net' = with each tool's start-up subtracted, "
          "for reference, shown\nonly where start-up is under half of "
          "each run)")
    for label, value, target, unit, net in CHECKS:
        if value is None:
            mark = "[ n/a]"
        elif unit == "MB<":
            mark = "[PASS]" if value < target else "[FAIL]"
        elif unit == "x<=":
            mark = "[PASS]" if value <= target else "[FAIL]"
        else:
            mark = "[PASS]" if value >= target else "[FAIL]"
        tshown = {"x": ">= %gx" % target, "%": ">= %g%%" % target,
                  "MB<": "< %g MB" % target,
                  "x<=": "<= %gx" % target}[unit]
        print("  %s %-55s %7s  (target %s)%s" % (
            mark, label, show(value, unit), tshown,
            "  net %s" % show(net, unit) if net is not None else ""))


def vigil_cmd(vigil, rules, threads, paths, extra=()):
    return [vigil, "scan", "--rules", rules, "--threads", str(threads)] + \
        list(extra) + list(paths)


def find_vigil(arg):
    if arg:
        return arg if os.access(arg, os.X_OK) else None
    for c in (os.path.join(REPO, "build", "daemon", "vigil"),
              os.path.join(os.path.dirname(REPO), "build", "daemon", "vigil"),
              os.path.join("build", "daemon", "vigil")):
        if os.access(c, os.X_OK):
            return c
    return None


def probe_vigil(vigil, rules, work):
    """vigil is usable if it scans one clean file with our rules."""
    if vigil is None:
        return False
    f = os.path.join(work, "probe.txt")
    with open(f, "w") as fh:
        fh.write("nothing to see here\n")
    p = subprocess.run([vigil, "scan", "--rules", rules, f],
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        log("vigil probe failed (exit %d):\n%s%s" % (p.returncode,
                                                      p.stdout, p.stderr))
        FAILURES.append("vigil probe")
        return False
    return True


def vigil_json(vigil, rules, path, extra=()):
    """Parsed --json lines of one vigil run, or None."""
    r = run(vigil_cmd(vigil, rules, 2, [path], ("--json",) + tuple(extra)),
            ok=(0, 1, 2), capture=True, what="vigil --json")
    if r is None:
        return None
    out = []
    for line in r.stdout.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def obj_path(o):
    for k in ("object", "path", "file", "name"):
        if isinstance(o.get(k), str):
            return o[k]
    return ""


def flagged(o):
    return bool(o.get("matches")) or o.get("verdict") in ("flagged",
                                                          "match", "infected")


def clam_flagged(stdout):
    out = set()
    for line in stdout.decode(errors="replace").splitlines():
        if line.endswith(" FOUND"):
            out.add(line.rsplit(": ", 1)[0])
    return out


def tiny_file(work):
    """A 2-byte file: scanning it times start-up (rule compile or load)."""
    tiny = os.path.join(work, "tiny.txt")
    with open(tiny, "w") as f:
        f.write("x\n")
    return tiny


def planted_rules(tags, kwindex, tag):
    """The rules of ruleset tag that planted tags must fire."""
    out = set()
    for t in tags:
        kind, what = t.split(":", 1)
        if kind == "re":
            out.add("re_" + what)
        elif tag == "kw10k" or kwindex[what] < 1000:
            out.add("kw_%04d" % (kwindex[what] // KW_PER_RULE))
    return out


def bench_plain(args, man, vigil, kws):
    info = man["plain"]
    pdir = os.path.join(args.work, "plain")
    rdir = man["rules"]
    nbytes = info["bytes"]
    print("\n== Plain-text corpus: %d files, %.1f MB; best of %d runs "
          "(MB = 10^6 bytes)" % (info["files"], nbytes / MB, args.reps))
    kwindex = {k: i for i, k in enumerate(kws)}
    for t in ("kw1k", "kw10k"):
        tr = info["truth"][t]
        want = {(f, r) for f, tags in info["planted"].items()
                for r in planted_rules(tags, kwindex, t)}
        got = {(f, r) for f, rs in tr.items() for r in rs}
        print("   %s: yara flags %d files (%.1f%%), %d without a plant; "
              "yara finds %d/%d planted (file, rule) pairs" % (
                  t, len(tr), 100 * len(tr) / info["files"],
                  len(set(tr) - set(info["planted"])), len(want & got),
                  len(want)))
    tiny = tiny_file(args.work)
    warm(pdir)
    b = Bench(args.reps)
    b.add("cat", "cat", "find '%s' -type f -print0 | xargs -0 cat "
          "> /dev/null" % pdir)
    for t in ("kw1k", "kw10k"):
        yar = os.path.join(rdir, t + ".yar")
        for n in (1, 2):
            b.add(("yara", t, n, "src"), "yara -p %d %s" % (n, t),
                  ["yara", "-r", "-w", "-p", str(n), yar, pdir])
            b.add(("yara", t, n, "C"), "yara -C -p %d %s" % (n, t),
                  ["yara", "-r", "-w", "-p", str(n), "-C", yar + "c", pdir])
        b.add(("clam", t), "clamscan %s" % t,
              ["clamscan", "--no-summary", "-r", "-d",
               os.path.join(rdir, t + ".ldb"), pdir], ok=(0, 1))
        b.add(("yara0", t), "yara startup %s" % t,
              ["yara", "-w", yar, tiny])
        b.add(("yaraC0", t), "yara -C startup %s" % t,
              ["yara", "-w", "-C", yar + "c", tiny])
        b.add(("clam0", t), "clamscan startup %s" % t,
              ["clamscan", "--no-summary", "-d",
               os.path.join(rdir, t + ".ldb"), tiny], ok=(0, 1))
        if vigil:
            for n in (1, 2):
                b.add(("vigil", t, n), "vigil --threads %d %s" % (n, t),
                      vigil_cmd(vigil, yar, n, [pdir]), ok=(0, 1))
            b.add(("vigil0", t), "vigil startup %s" % t,
                  vigil_cmd(vigil, yar, 1, [tiny]), ok=(0, 1))
            if t == "kw1k":
                # Issue 3: the text layer's cost on plain text.
                b.add(("vigil_raw", t, 1), "vigil --threads 1 "
                      "--no-text-layer %s" % t,
                      vigil_cmd(vigil, yar, 1, [pdir], ("--no-text-layer",)),
                      ok=(0, 1))
    b.go()

    def yara_best(t, n):
        c = [k for k in (("yara", t, n, "src"), ("yara", t, n, "C"))
             if b.best(k) is not None]
        return min(c, key=b.best) if c else None

    cat = b.best("cat")
    print("\n%-30s %8s %8s %7s %9s %8s %7s %7s" % (
        "tool", "best s", "MB/s", "spread", "net MB/s", "x cat",
        "x peer", "RSS MB"))

    def row(label, key, start_key=None, peer=None):
        t = b.best(key)
        s0 = b.best(start_key) if start_key else None
        net = nbytes / MB / (t - s0) if t and s0 is not None and \
            2 * s0 <= t else None
        print("%-30s %8s %8s %6s%% %9s %8s %7s %7s" % (
            label, fmt(t, ".3f"), fmt(nbytes / MB / t if t else None, ".0f"),
            fmt(b.spread(key), ".0f"), fmt(net, ".0f"),
            fmt(ratio(t, cat), ".3f"),
            fmt(ratio(t, b.best(peer)) if peer else None, ".2f"),
            fmt(b.rss.get(key, 0) / 1024 if key in b.rss else None, ".0f")))

    row("cat (read limit)", "cat")
    for t in ("kw1k", "kw10k"):
        print("-- %s (%s keywords + %d regexes)" % (
            t, "1,000" if t == "kw1k" else "10,000", len(tg.REGEXES)))
        for n in (1, 2):
            for v in ("src", "C"):
                row("yara -p %d%s" % (n, " (yarac -C)" if v == "C" else ""),
                    ("yara", t, n, v), ("yara0" if v == "src" else "yaraC0",
                                        t))
        row("clamscan", ("clam", t), ("clam0", t))
        if vigil:
            for n in (1, 2):
                row("vigil --threads %d  (x yara -p%d)" % (n, n),
                    ("vigil", t, n), ("vigil0", t), yara_best(t, n))
            if t == "kw1k":
                row("vigil -t 1 --no-text-layer", ("vigil_raw", t, 1),
                    ("vigil0", t))
        print("   startup on a 2-byte file: yara %s s, yara -C %s s, "
              "clamscan %s s%s" % (
                  fmt(b.best(("yara0", t)), ".3f"),
                  fmt(b.best(("yaraC0", t)), ".3f"),
                  fmt(b.best(("clam0", t)), ".3f"),
                  ", vigil %s s" % fmt(b.best(("vigil0", t)), ".3f")
                  if vigil else ""))
    print("   x peer: vigil's speed over the faster yara variant with the "
          "same thread count.\n   net MB/s: after subtracting the startup "
          "time (rule compile or load);\n   '-' where start-up is over half "
          "of the run (then net is mostly noise).")

    # Issue 3: the text layer's cost, from runs side by side in
    # alternating order (on, off, off, on, ...), so that neither side
    # always follows the same heavy peer in the rounds above.
    ab = {"on": [], "off": []}
    if vigil:
        yar1k = os.path.join(rdir, "kw1k.yar")
        for rep in range(2 * args.reps):
            for side in ("on", "off") if rep % 2 == 0 else ("off", "on"):
                log("  text layer A/B %d/%d: %s" % (rep + 1, 2 * args.reps,
                                                    side))
                r = run(vigil_cmd(vigil, yar1k, 1, [pdir],
                                  () if side == "on" else
                                  ("--no-text-layer",)),
                        ok=(0, 1), what="vigil text layer %s" % side)
                if r:
                    ab[side].append(r.seconds)
        if ab["on"] and ab["off"]:
            print("   text layer A/B, kw1k, 1 thread, %d alternating runs "
                  "each: on %.3f s, off %.3f s (best)" % (
                      len(ab["on"]), min(ab["on"]), min(ab["off"])))

    # Correctness, untimed: vigil and clamscan against yara's verdicts.
    truth = set(info["truth"]["kw1k"])
    r = run(["clamscan", "--no-summary", "-r", "-d",
             os.path.join(rdir, "kw1k.ldb"), pdir], ok=(0, 1), capture=True,
            what="clamscan (verdicts)")
    if r:
        got = {os.path.relpath(p, pdir) for p in clam_flagged(r.stdout)}
        print("   verdicts vs yara, kw1k: clamscan flags %d, misses %d, "
              "extra %d" % (len(got), len(truth - got), len(got - truth)))
    if vigil:
        objs = vigil_json(vigil, os.path.join(rdir, "kw1k.yar"), pdir)
        if objs is not None:
            got, bad = set(), 0
            for o in objs:
                if o.get("verdict") in ("unscannable", "error"):
                    bad += 1
                if flagged(o):
                    p = obj_path(o)
                    got.add(os.path.relpath(p, pdir) if p.startswith("/")
                            else os.path.relpath(os.path.abspath(p), pdir))
            print("   verdicts vs yara, kw1k: vigil flags %d, misses %d, "
                  "extra %d; unscannable/error verdicts %d" % (
                      len(got), len(truth - got), len(got - truth), bad))
            if bad:
                print("   WARNING: vigil failed on %d files, so its times "
                      "above are not comparable" % bad)
            check("vigil flags exactly the files yara flags (kw1k)",
                  100.0 * len(got & truth) / max(1, len(got | truth)),
                  100, "%")

    def net(key, start_key):
        t, s0 = b.best(key), b.best(start_key)
        return t - s0 if t and s0 is not None and 2 * s0 <= t else None

    def yara_times(t, n):
        k = yara_best(t, n)
        if k is None:
            return None, None
        return b.best(k), net(k, ("yara0" if k[3] == "src" else "yaraC0", t))

    res, resn = {}, {}
    for t in ("kw1k", "kw10k"):
        for n in (1, 2):
            res[(t, n)] = b.best(("vigil", t, n))
            resn[(t, n)] = net(("vigil", t, n), ("vigil0", t))
    y1, y1n = yara_times("kw1k", 1)
    y2, y2n = yara_times("kw1k", 2)
    clam = b.best(("clam", "kw1k"))
    clamn = net(("clam", "kw1k"), ("clam0", "kw1k"))
    check("plain 1k: vigil --threads 2 vs yara -p 2",
          ratio(res[("kw1k", 2)], y2), 2, net=ratio(resn[("kw1k", 2)], y2n))
    check("plain 1k: vigil --threads 1 vs yara -p 1 (aim 3x)",
          ratio(res[("kw1k", 1)], y1), 2, net=ratio(resn[("kw1k", 1)], y1n))
    check("plain 1k: vigil --threads 1 vs clamscan (1 thread each)",
          ratio(res[("kw1k", 1)], clam), 10,
          net=ratio(resn[("kw1k", 1)], clamn))
    check("plain 1k: vigil --threads 2 vs clamscan",
          ratio(res[("kw1k", 2)], clam), 10,
          net=ratio(resn[("kw1k", 2)], clamn))
    for n in (1, 2):
        a, z = res[("kw1k", n)], res[("kw10k", n)]
        an, zn = resn[("kw1k", n)], resn[("kw10k", n)]
        check("plain: 10k vs 1k keywords, throughput, --threads %d" % n,
              100 * a / z if a and z else None, 70, "%",
              net=100 * an / zn if an and zn else None)
    a = min(ab["off"]) if ab["off"] else None
    z = min(ab["on"]) if ab["on"] else None
    check("plain 1k: text layer on vs off, throughput, --threads 1 (A/B)",
          100 * a / z if a and z else None, 75, "%",
          net=100 * (a - b.best(("vigil0", "kw1k"))) /
          (z - b.best(("vigil0", "kw1k"))) if a and z and
          b.best(("vigil0", "kw1k")) is not None else None)
    if vigil and ("vigil", "kw1k", 2) in b.rss:
        check("peak RSS, plain corpus, --threads 2 (kw1k)",
              b.rss[("vigil", "kw1k", 2)] / 1024, 200, "MB<")
        check("peak RSS, plain corpus, --threads 2 (kw10k)",
              b.rss[("vigil", "kw10k", 2)] / 1024, 200, "MB<")
    return {"bytes": nbytes, "times": {str(k): v for k, v in
                                       b.times.items()},
            "rss_kib": {str(k): v for k, v in b.rss.items()}}


def bench_archives(args, man, vigil):
    info = man["archives"]
    adir = os.path.join(args.work, "archives")
    idir = os.path.join(args.work, "archives-inner")
    rules = os.path.join(man["rules"], "kw1k.yar")
    ldb = os.path.join(man["rules"], "kw1k.ldb")
    ub = info["unpacked_bytes"]
    truth_members = {m: set(rs) for m, rs in info["truth"].items()}
    truth_arch = {}
    for m, rs in truth_members.items():
        truth_arch.setdefault(m[:4], set()).update(rs)
    print("\n== Archive corpus: %d archives, %.1f MB packed, %.1f MB "
          "unpacked; %d members hold hits, in %d archives; kw1k rules; "
          "best of %d" % (info["files"], info["bytes"] / MB, ub / MB,
                          len(truth_members), len(truth_arch), args.reps))
    archives = sorted(os.listdir(adir))
    inners = sorted(os.listdir(idir))
    # Decompress-only: every archive once to /dev/null, then every inner
    # archive of a nested one from its own copy: each compressed byte is
    # decompressed exactly once, as a scanner has to.  The same number of
    # bsdtar runs on an empty tar measures process start-up, which is
    # subtracted.
    empty = os.path.join(args.work, "empty.tar")
    with open(empty, "wb") as f:
        f.write(b"\0" * 1024)
    tiny = tiny_file(args.work)
    script = "".join("bsdtar -xOf '%s' > /dev/null || exit 1\n" %
                     os.path.join(adir, a) for a in archives)
    script += "".join("bsdtar -xOf '%s' > /dev/null || exit 1\n" %
                      os.path.join(idir, a) for a in inners)
    spawn = ("bsdtar -xOf '%s' > /dev/null || exit 1\n" % empty) * \
        (len(archives) + len(inners))
    warm(adir)
    warm(idir)
    b = Bench(args.reps)
    b.add("decomp", "bsdtar decompress-only", script)
    b.add("spawn", "bsdtar start-up x%d" % (len(archives) + len(inners)),
          spawn)
    b.add("clam", "clamscan archives",
          ["clamscan", "--no-summary", "-r", "-d", ldb, adir], ok=(0, 1))
    b.add("clam0", "clamscan start-up",
          ["clamscan", "--no-summary", "-d", ldb, tiny], ok=(0, 1))
    if vigil:
        for n in (1, 2):
            b.add(("vigil", n), "vigil --threads %d archives" % n,
                  vigil_cmd(vigil, rules, n, [adir]), ok=(0, 1, 2))
        b.add("vigil0", "vigil start-up",
              vigil_cmd(vigil, rules, 1, [tiny]), ok=(0, 1, 2))
    b.go()
    dec = b.best("decomp")
    spawn_t = b.best("spawn")
    net = dec - spawn_t if dec and spawn_t is not None else dec
    clam = b.best("clam")
    print("\n%-34s %8s %12s %7s %7s" % ("tool", "best s", "unpacked MB/s",
                                         "spread", "RSS MB"))
    for label, key in (("bsdtar decompress-only (raw)", "decomp"),
                       ("  of which bsdtar start-up", "spawn"),
                       ("clamscan", "clam"),
                       ("vigil --threads 1", ("vigil", 1)),
                       ("vigil --threads 2", ("vigil", 2))):
        if key not in b.times:
            continue
        t = b.best(key)
        print("%-34s %8s %12s %6s%% %7s" % (
            label, fmt(t, ".3f"), fmt(ub / MB / t if t else None, ".0f"),
            fmt(b.spread(key), ".0f"),
            fmt(b.rss.get(key, 0) / 1024 if key in b.rss else None, ".0f")))
    print("   decompress-only net of start-up: %s s (%s unpacked MB/s)" % (
        fmt(net, ".3f"), fmt(ub / MB / net if net else None, ".0f")))

    # Recall, untimed.  A detection counts only with a rule the archive
    # really holds: clamscan on compressed bytes can fire a loose regex
    # by chance (a false positive is not a find).
    r = run(["clamscan", "--no-summary", "--allmatch", "-r", "-d", ldb,
             adir], ok=(0, 1), capture=True, what="clamscan archives "
            "(verdicts)")
    clam_rules = {}
    if r:
        for line in r.stdout.decode(errors="replace").splitlines():
            m = re.match(r"(.*): (\S+?)(?:\.UNOFFICIAL)? FOUND$", line)
            if m:
                clam_rules.setdefault(os.path.basename(m.group(1))[:4],
                                      set()).add(m.group(2))
    clam_arch = {a for a, rs in clam_rules.items()
                 if rs & truth_arch.get(a, set())}
    clam_fp = {a for a, rs in clam_rules.items()
               if rs - truth_arch.get(a, set())}
    by_kind = {}
    for a in archives:
        k = "nested" if os.path.exists(os.path.join(
            idir, a[:4] + "_inner.zip")) else a.split(".", 1)[1]
        by_kind.setdefault(k, set()).add(a[:4])

    def per_kind(found):
        return ", ".join("%s %d/%d" % (k, len(found & v & set(truth_arch)),
                                       len(v & set(truth_arch)))
                         for k, v in sorted(by_kind.items()))

    crec = 100.0 * len(clam_arch) / max(1, len(truth_arch))
    print("   clamscan recall (archives): %.0f%% (%s); archives with a "
          "false rule hit: %d" % (crec, per_kind(clam_arch), len(clam_fp)))
    vrec = vmrec = None
    if vigil:
        objs = vigil_json(vigil, rules, adir)
        if objs is not None:
            hits, unscannable = set(), 0
            for o in objs:
                if o.get("verdict") in ("unscannable", "error"):
                    unscannable += 1
                for m in o.get("matches") or []:
                    for mem in MEMBER_RE.findall(json.dumps(m)):
                        hits.add((mem, m.get("rule")))
            vm = {mem for mem, rule in hits
                  if rule in truth_members.get(mem, ())}
            va = {mem[:4] for mem in vm}
            extra = {h for h in hits
                     if h[1] not in truth_members.get(h[0], ())}
            vrec = 100.0 * len(va) / max(1, len(truth_arch))
            vmrec = 100.0 * len(vm) / max(1, len(truth_members))
            print("   vigil recall (archives): %.0f%% (%s)" % (vrec,
                                                               per_kind(va)))
            print("   vigil recall (members named in match paths, right "
                  "rule): %.0f%% (%d/%d); false (member, rule) hits %d; "
                  "unscannable/error verdicts %d" % (
                      vmrec, len(vm), len(truth_members), len(extra),
                      unscannable))
            if unscannable:
                print("   WARNING: vigil failed on %d archives, so its "
                      "times above are not comparable" % unscannable)
            missed = sorted(set(truth_members) - vm)
            if missed:
                print("   vigil missed: " + " ".join(missed[:12]))
    v1 = b.best(("vigil", 1))
    v2 = b.best(("vigil", 2))
    v0 = b.best("vigil0")
    c0 = b.best("clam0")

    def minus(t, s0):
        return t - s0 if t and s0 is not None and 2 * s0 <= t else None

    if vigil:
        print("   start-up on a 2-byte file: vigil %s s, clamscan %s s" % (
            fmt(v0, ".3f"), fmt(c0, ".3f")))
    check("archives: vigil --threads 1 vs clamscan (time)", ratio(v1, clam),
          5, net=ratio(minus(v1, v0), minus(clam, c0)))
    check("archives: vigil --threads 2 vs clamscan (time)", ratio(v2, clam),
          5, net=ratio(minus(v2, v0), minus(clam, c0)))
    check("archives: vigil recall, archives", vrec, 100, "%")
    check("archives: vigil recall, members", vmrec, 100, "%")
    # bsdtar's per-archive process start-up is an artefact of measuring
    # with one process per archive, so it is always subtracted.
    check("archives: vigil -t1 time / decompress-only time",
          v1 / net if v1 and net else None, 1.5, "x<=",
          net=minus(v1, v0) / net if minus(v1, v0) and net else None)
    return {"times": {str(k): v for k, v in b.times.items()},
            "clam_recall": crec, "vigil_recall": vrec,
            "vigil_member_recall": vmrec}


def bench_rss(args, man, pools, kws, vigil):
    big = write_big(args.work, pools, kws, args.big_mib)
    rules = os.path.join(man["rules"], "kw1k.yar")
    size = os.path.getsize(big)
    print("\n== Peak RSS: one %d MiB text file (keyword planted at the end), "
          "kw1k rules, one run" % (size // MIB))
    warm(big)
    rows = []
    r = run(["yara", "-w", "-C", rules + "c", big], what="yara big file",
            capture=True)
    if r:
        rows.append(("yara -C (reference)", r, b"kw_0000" in r.stdout))
    if vigil:
        cmd = vigil_cmd(vigil, rules, 2, [big],
                        ("--max-bytes", str(2 * size), "--max-time", "3600"))
        r = run(cmd + ["--json"], ok=(0, 1, 2), what="vigil big file",
                capture=True)
        if r:
            rows.append(("vigil --threads 2", r, r.rc == 1))
            check("peak RSS, %d MiB file" % (size // MIB),
                  r.maxrss_kib / 1024 if r.maxrss_kib else None, 200, "MB<")
            if r.rc != 1:
                log("vigil did not flag the big file (exit %d): %s" % (
                    r.rc, r.stdout[:500]))
    print("%-24s %8s %8s %8s %8s" % ("tool", "s", "MB/s", "RSS MB",
                                      "flagged"))
    for label, r, hit in rows:
        print("%-24s %8.2f %8.0f %8s %8s" % (
            label, r.seconds, size / MB / r.seconds,
            fmt(r.maxrss_kib / 1024 if r.maxrss_kib else None, ".0f"),
            "yes" if hit else "NO"))
    if TIME is None:
        print("   RSS not measured: /usr/bin/time is missing (apt package "
              "time)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", help="vigil binary (default: "
                    "build/daemon/vigil of this checkout or ../build)")
    ap.add_argument("--work", default="/tmp/vigil-bench",
                    help="work dir for corpora and rules "
                    "(default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="~30 MB corpus for a smoke run")
    ap.add_argument("--only", choices=("plain", "archives", "rss"))
    ap.add_argument("--reps", type=int, default=3,
                    help="runs per measurement; the best is kept")
    ap.add_argument("--big-mib", type=int, default=1024,
                    help="size of the single-file RSS test (MiB)")
    ap.add_argument("--no-vigil", action="store_true",
                    help="run the peers only")
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    for tool in ("yara", "yarac", "clamscan", "bsdtar", "zstd"):
        if shutil.which(tool) is None:
            log("missing %s: run scripts/install-deps --bench" % tool)
            return 1
    sections = [args.only] if args.only else ["plain", "archives", "rss"]
    man, pools, kws = generate(args.work, args.quick, "plain" in sections,
                               "archives" in sections)
    vigil = None if args.no_vigil else find_vigil(args.vigil)
    if not args.no_vigil and vigil is None:
        print("vigil: no binary found%s; vigil runs skipped" % (
            " at " + args.vigil if args.vigil else
            " (looked in build/daemon/vigil)"))
    elif vigil and not probe_vigil(vigil, os.path.join(man["rules"],
                                                        "kw1k.yar"),
                                   args.work):
        print("vigil: %s does not scan; vigil runs skipped" % vigil)
        vigil = None
    print("vigil bench: work dir %s%s; vigil %s; rules self-check %s" % (
        args.work, " (quick)" if args.quick else "", vigil or "-",
        "ok" if man.get("rules_ok") else "FAILED"))
    vigil_stamp = vigil and os.stat(vigil).st_mtime_ns
    results = {"quick": args.quick, "vigil": vigil}
    if "plain" in sections:
        results["plain"] = bench_plain(args, man, vigil, kws)
    if "archives" in sections:
        results["archives"] = bench_archives(args, man, vigil)
    if "rss" in sections:
        bench_rss(args, man, pools, kws, vigil)
    print_checks()
    if vigil and (not os.path.exists(vigil) or
                  os.stat(vigil).st_mtime_ns != vigil_stamp):
        print("\nWARNING: %s was rebuilt during this run: its numbers mix "
              "two builds" % vigil)
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if FAILURES:
        print("\nTools that failed to run: " + "; ".join(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
