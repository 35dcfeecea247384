#!/usr/bin/env python3
"""Vectorscan alone on the bench corpus: how its cost grows with the
keyword count, and what splitting the pattern set into several databases
costs.  This is the measurement behind issue 2's "10,000 vs 1,000
keywords" ceiling: vigil cannot keep more of its speed than the engine it
runs on.

usage: floor.py [--work DIR]   (DIR as for run.py; run run.py first)

Builds bench/scan/hsprobe.c with cc, writes the bench rules' keywords and
regexes as pattern files, and prints seconds (best of 3) per database
set.  Ratios are what count; the machine is shared.
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def esc(s):
    """A literal as a Vectorscan expression: non-alphanumerics as \\xHH."""
    return "".join(chr(b) if chr(b).isalnum() and b < 128 or b == 32
                   else "\\x%02x" % b for b in s.encode())


def yara_strings(path):
    src = open(path, encoding="utf-8").read()
    kws = [bytes(k, "utf-8").decode("unicode_escape").encode("latin-1")
           .decode("utf-8") for k in re.findall(
               r'\$k\w* = "((?:[^"\\]|\\.)*)"', src)]
    res = re.findall(r'\$r = /(.*)/(i?)\n', src)
    return kws, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/vigil-bench")
    a = ap.parse_args()
    rdir, pdir = os.path.join(a.work, "rules"), os.path.join(a.work, "plain")
    if not os.path.exists(os.path.join(rdir, "kw10k.yar")):
        sys.exit("no %s/kw10k.yar: run bench/scan/run.py first" % rdir)
    out = os.path.join(a.work, "floor")
    os.makedirs(out, exist_ok=True)
    probe = os.path.join(out, "hsprobe")
    subprocess.run(["cc", "-O2", "-o", probe,
                    os.path.join(HERE, "hsprobe.c"), "-lhs"], check=True)
    files = os.path.join(out, "files.txt")
    with open(files, "w") as f:
        for root, _, names in sorted(os.walk(pdir)):
            for n in sorted(names):
                f.write(os.path.join(root, n) + "\n")

    k1, res = yara_strings(os.path.join(rdir, "kw1k.yar"))
    k10, _ = yara_strings(os.path.join(rdir, "kw10k.yar"))

    def pats(name, kws, regexes=()):
        p = os.path.join(out, name + ".pat")
        with open(p, "w") as f:
            for k in kws:
                f.write("i1\t%s\n" % esc(k))
            for r, flag in regexes:
                f.write("%s\t%s\n" % (flag, r))
        return p

    cjk = [k for k in k10 if any(ord(c) > 127 for c in k)]
    ascii_ = [k for k in k10 if k not in set(cjk)]
    sets = [
        ("1,000 keywords + 20 regexes (kw1k)", [pats("k1re", k1, res)]),
        ("10,000 keywords + 20 regexes (kw10k)", [pats("k10re", k10, res)]),
        ("the 20 regexes alone", [pats("re", [], res)]),
        ("10,000 keywords alone", [pats("k10", k10)]),
        ("10,000 keywords, ASCII and CJK in two databases",
         [pats("k10a", ascii_), pats("k10c", cjk)]),
        ("10,000 keywords in two halves", [pats("h0", k10[0::2]),
                                           pats("h1", k10[1::2])]),
    ]
    t = {}
    print("Vectorscan alone, stream mode, 64 KiB calls, best of 3:")
    for label, files_ in sets:
        r = subprocess.run([probe, files] + files_, capture_output=True,
                           text=True)
        if r.returncode != 0:
            sys.exit("hsprobe: %s" % r.stderr.strip())
        secs, mbps, n = r.stdout.split()
        t[label] = float(secs)
        print("  %-50s %7s s %6s MB/s %6s matches" % (label, secs, mbps, n))
    print("  10k vs 1k keywords, throughput: %.0f%% (issue 2 asks 70%% of "
          "vigil)" % (100 * t[sets[0][0]] / t[sets[1][0]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
