#!/usr/bin/env python3
"""Check every rule pack against its samples, with vigil and the real yara.

usage: check_samples.py VIGIL RULES_DIR SAMPLES_DIR [--yara PATH]

SAMPLES_DIR holds one directory per rule, named after the rule, with
positive samples pos* (must match that rule) and negative samples neg*
(must not match it).  Every rule in RULES_DIR/*.yar|*.yara needs at least
one of each; a sample directory for an unknown rule is an error too.

The check runs

  vigil rules check RULES_DIR                       (must exit 0)
  vigil scan --json --rules RULES_DIR SAMPLE...     (exit 0 or 1)
  yara -w -r RULES_DIR/*.yar WORKDIR

and requires, for every sample, that vigil's matches on the sample's own
bytes (a match path of one element) name the same rules as yara's, that
positives match in those bytes, that negatives match nowhere (not in
vigil's text layer "#text" or in unpacked members either), and that vigil
names the clause and severity written in the rule's meta.
VIGIL_ENGINE in the environment is passed through, so ctest runs this once
per engine (VIGIL_ENGINE=pcre2 forces the PCRE2-only path).

The EICAR samples are generated in the temporary work directory instead of
being committed: a repository holding the test file trips virus scanners on
developer machines, mail gateways and code hosts.  Generated samples are
listed in GENERATED below.

Exit status: 0 pass, 1 fail, 77 skipped (yara not installed).
Standard library only; runs on Debian 12's /usr/bin/python3.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def eicar():
    """The EICAR test string, assembled so this file never contains it."""
    head = "X5O!P%@AP[4" + chr(0x5C) + "PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*"
    return (head + tail).encode("ascii")


def generated_samples():
    """{rule: [(file name, bytes)]} written into the work directory."""
    e = eicar()
    return {
        "ns_eicar_test_file": [
            ("pos-gen-exact.com", e),
            ("pos-gen-embedded.txt",
             b"yara and clamscan find the test string anywhere:\n" + e +
             b"\nend of file\n"),
            ("neg-gen-truncated.txt", e[:-1] + b"\n"),
            ("neg-gen-split.txt", e[:34] + b"\n" + e[34:] + b"\n"),
        ],
    }


# --- a small YARA tokenizer: enough to find rule names and their meta ----

def tokenize(text):
    """Yield (kind, value) for identifiers, strings and punctuation.

    Comments are dropped; text strings, regexes and hex strings come out
    whole, so a "//" inside "stratum+tcp://" is not taken for a comment.
    """
    i, n = 0, len(text)
    prev = ""
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"':
            j = i + 1
            out = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j:j + 2])
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            prev = "string"
            yield "string", "".join(out)
            i = j + 1
        elif c == "/" and prev == "=":
            j = i + 1
            while j < n and text[j] != "/":
                j += 2 if text[j] == "\\" else 1
            prev = "regex"
            yield "regex", text[i:j + 1]
            i = j + 1
        elif c == "{" and prev == "=":
            j = text.find("}", i)
            j = n if j < 0 else j
            prev = "hex"
            yield "hex", text[i:j + 1]
            i = j + 1
        elif c.isalnum() or c in "_$#@!":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_$#@!*"):
                j += 1
            prev = text[i:j]
            yield "ident", prev
            i = j
        else:
            prev = c
            yield "punct", c
            i += 1


def parse_rules(path):
    """Return [(name, meta dict)] for the rules defined in one file."""
    with open(path, encoding="utf-8") as f:
        toks = list(tokenize(f.read()))
    rules = []
    depth = 0
    k = 0
    while k < len(toks):
        kind, val = toks[k]
        if kind == "punct" and val == "{":
            depth += 1
        elif kind == "punct" and val == "}":
            depth -= 1
        elif depth == 0 and kind == "ident" and val == "rule":
            name = toks[k + 1][1]
            meta = {}
            # Scan to the body, then read key = value pairs under meta:.
            j = k + 2
            while toks[j] != ("punct", "{"):
                j += 1
            j += 1
            section = None
            while j < len(toks) and toks[j] != ("punct", "}"):
                t = toks[j]
                if (t[0] == "ident" and j + 1 < len(toks) and
                        toks[j + 1] == ("punct", ":") and
                        t[1] in ("meta", "strings", "condition")):
                    section = t[1]
                    j += 2
                    continue
                if (section == "meta" and t[0] == "ident" and
                        toks[j + 1] == ("punct", "=")):
                    meta[t[1]] = toks[j + 2][1]
                    j += 3
                    continue
                j += 1
            rules.append((name, meta))
            # Hex strings came out as single tokens, so the first "}"
            # closes the body.
            k = j + 1
            continue
        k += 1
    return rules


def rule_files(rules_dir):
    if os.path.isfile(rules_dir):
        return [rules_dir]
    return sorted(os.path.join(rules_dir, f) for f in os.listdir(rules_dir)
                  if f.endswith((".yar", ".yara")))


# --- running the scanners --------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


def vigil_scan(vigil, rules_dir, files, problems):
    """{realpath: (set of rules, [match dicts], verdict)} from one run."""
    cmd = [vigil, "scan", "--json", "--rules", rules_dir] + files
    p = run(cmd)
    if p.returncode not in (0, 1):
        problems.append("vigil scan exited %d (want 0 or 1)\n  %s\n%s" %
                        (p.returncode, " ".join(cmd[:5]) + " ...",
                         p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append("vigil printed a line that is not JSON (%s): %r"
                            % (e, line[:200]))
            continue
        key = os.path.realpath(obj.get("object", ""))
        matches = obj.get("matches") or []
        # A path of one element is the object's own bytes, what yara
        # sees; longer paths are members or the text layer ("#text").
        raw = {m.get("rule") for m in matches if len(m.get("path") or
                                                     [None]) == 1}
        out[key] = (raw, {m.get("rule") for m in matches}, matches,
                    obj.get("verdict"), obj.get("problems") or [])
    return out


def yara_scan(yara, files, workdir, problems):
    """{realpath: set of rules} from one recursive yara run."""
    cmd = [yara, "-w", "-r"] + files + [workdir]
    p = run(cmd)
    if p.returncode != 0:
        problems.append("yara exited %d\n%s" % (p.returncode,
                                                p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        rule, _, path = line.partition(" ")
        if path:
            out.setdefault(os.path.realpath(path), set()).add(rule)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vigil")
    ap.add_argument("rules_dir")
    ap.add_argument("samples_dir")
    ap.add_argument("--yara", default=os.environ.get("YARA") or
                    shutil.which("yara"))
    a = ap.parse_args()

    if not a.yara:
        print("SKIP: the yara program is not installed")
        return SKIP

    problems = []
    files = rule_files(a.rules_dir)
    rules = {}
    for f in files:
        for name, meta in parse_rules(f):
            if name in rules:
                problems.append("rule %s defined twice (%s, %s)" %
                                (name, rules[name][0], f))
            rules[name] = (f, meta)
            for key in ("clause", "severity"):
                if key not in meta:
                    problems.append("rule %s (%s) has no meta %s" %
                                    (name, f, key))

    p = run([a.vigil, "rules", "check", a.rules_dir])
    if p.returncode != 0:
        problems.append("vigil rules check %s exited %d\n%s%s" %
                        (a.rules_dir, p.returncode, p.stdout, p.stderr))
    else:
        print("vigil rules check:\n  " +
              p.stdout.strip().replace("\n", "\n  "))

    with tempfile.TemporaryDirectory(prefix="vigil-rules-") as work:
        wsamples = os.path.join(work, "samples")
        shutil.copytree(a.samples_dir, wsamples)
        for rule, gens in generated_samples().items():
            os.makedirs(os.path.join(wsamples, rule), exist_ok=True)
            for name, data in gens:
                with open(os.path.join(wsamples, rule, name), "wb") as f:
                    f.write(data)

        # (rule, kind, path) for every sample.
        samples = []
        for d in sorted(os.listdir(wsamples)):
            full = os.path.join(wsamples, d)
            if not os.path.isdir(full):
                continue
            if d not in rules:
                problems.append("samples/%s: no rule of that name" % d)
            for s in sorted(os.listdir(full)):
                kind = ("pos" if s.startswith("pos") else
                        "neg" if s.startswith("neg") else None)
                if kind:
                    samples.append((d, kind, os.path.join(full, s)))
        for r in sorted(rules):
            for kind in ("pos", "neg"):
                if not any(x[0] == r and x[1] == kind for x in samples):
                    problems.append("rule %s has no %s* sample in %s" %
                                    (r, kind, a.samples_dir))

        paths = [x[2] for x in samples]
        vres = vigil_scan(a.vigil, a.rules_dir, paths, problems)
        yres = yara_scan(a.yara, files, wsamples, problems)

        for rule, kind, path in samples:
            rel = os.path.relpath(path, wsamples)
            key = os.path.realpath(path)
            if key not in vres:
                problems.append("%s: no result from vigil" % rel)
                continue
            vset, vall, matches, verdict, probs = vres[key]
            yset = yres.get(key, set())
            if verdict not in ("clean", "flagged"):
                problems.append("%s: vigil verdict %r, problems %s" %
                                (rel, verdict, json.dumps(probs)))
            if vset != yset:
                problems.append("%s: vigil and yara disagree\n"
                                "  vigil: %s\n  yara:  %s" %
                                (rel, sorted(vset), sorted(yset)))
            for m in matches:
                if len(m.get("path") or [None]) > 1:
                    print("info: %s: %s also in %s" % (
                        rel, m.get("rule"), " > ".join(map(str, m["path"]))))
            # A positive must match in the raw bytes (where yara can
            # agree); a negative must not match anywhere, text layer and
            # members included.
            want = kind == "pos"
            for tool, got in (("vigil", vset if want else vall),
                              ("yara", yset)):
                if (rule in got) != want:
                    problems.append("%s: %s %s rule %s" % (
                        rel, tool, "missed" if want else "wrongly matched",
                        rule))
            for m in matches:
                r = m.get("rule")
                if r not in rules:
                    problems.append("%s: vigil reports unknown rule %r" %
                                    (rel, r))
                    continue
                meta = rules[r][1]
                for key2 in ("clause", "severity"):
                    if m.get(key2) != meta.get(key2):
                        problems.append(
                            "%s: rule %s reported with %s %r, meta says %r"
                            % (rel, r, key2, m.get(key2), meta.get(key2)))

    engine = os.environ.get("VIGIL_ENGINE", "default")
    print("%d rules, %d samples, engine %s" % (len(rules), len(samples),
                                               engine))
    if problems:
        print("FAIL: %d problem(s)" % len(problems))
        for msg in problems:
            print("- " + msg)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
