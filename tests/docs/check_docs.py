#!/usr/bin/env python3
"""Keeps the manual pages and the shipped vigil.conf in step with the code.

usage: check_docs.py SOURCE_DIR

(a) Every key of the settings tables in daemon/core/config.c has an
    ".It Ic KEY" entry in packaging/vigil.conf.5, under SERVE SETTINGS,
    POLICY SETTINGS or BUCKET SETTINGS as its table and "[policy] " doc
    prefix say; that entry names the key's type, its default and, for a
    number, its limits.  Every key is also a line of packaging/vigil.conf,
    and vigil.conf.5 documents no key the code does not have.
(b) Every long option of every getopt_long table under daemon/ appears in
    packaging/vigil.1: in the SYNOPSIS of its subcommand (all but --help)
    and as an ".It" entry in the subsection ".Ss vigil SUBCOMMAND"; a short
    option of the optstring as ".It Fl X , Fl -LONG".  The subcommand is the
    function holding the table: cli_bucket_scan is bucket-scan.
(c) mandoc -T lint -W warning (else groff -mandoc -ww -z) has nothing to
    say about either page.

The code is read as text, so a change in how config.c or a getopt table
is written fails here with a message saying what could not be parsed.
Exit 0 when all is well, 1 on drift, 77 (skip) when (a) and (b) pass but
neither mandoc nor groff is installed.
"""
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

problems = []


def problem(msg):
    problems.append(msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# mdoc text ----------------------------------------------------------------

def plain(lines):
    """The words of mdoc lines, macro names and escapes dropped."""
    out = []
    for line in lines:
        line = line.replace("\\&", "").replace("\\e", "\\")
        if line.startswith(".\\\""):
            continue
        if line.startswith("."):
            words = line[1:].split()
            # Drop macro names (Ql, Ns, No, ...), keep their arguments.
            words = [w for w in words
                     if not re.fullmatch(r"[A-Z][a-z][a-z]?|%[A-Z]", w)]
            line = " ".join(words)
        out.append(line)
    return " ".join(out)


def sections(text):
    """Maps each line number of an mdoc page to its .Sh heading."""
    cur, heads = "", []
    for line in text.splitlines():
        m = re.match(r"\.Sh\s+(.*)", line)
        if m:
            cur = m.group(1).strip()
        heads.append(cur)
    return heads


# (a) configuration keys -----------------------------------------------------

C_STR = r'"(?:[^"\\]|\\.)*"'


def c_limit(expr, consts):
    """The value of a min/max field of a setting row, or None."""
    expr = expr.strip()
    m = re.fullmatch(r"(\d+)[UL]*(?:\s*<<\s*(\d+))?", expr)
    if m:
        v = int(m.group(1))
        return v << int(m.group(2)) if m.group(2) else v
    return consts.get(expr)


def config_keys(src):
    """[(table, key, type, default or None, min, max, policy)] of config.c."""
    text = read(os.path.join(src, "daemon/core/config.c"))
    vigil_h = read(os.path.join(src, "include/vigil/vigil.h"))
    consts = {"UINT_MAX": 2**32 - 1, "UINT32_MAX": 2**32 - 1,
              "UINT64_MAX": 2**64 - 1}
    for m in re.finditer(r"#define\s+(VIGIL_\w+)\s+(\d+)", vigil_h):
        consts[m.group(1)] = int(m.group(2))
    tables = re.findall(
        r"static const struct setting (\w+)\[\] = \{(.*?)\n\};", text,
        re.S)
    if not tables:
        problem("config.c: no 'static const struct setting NAME[] = {' "
                "table found; teach tests/docs/check_docs.py the new form")
    row = re.compile(
        r"\{\s*\"(\w+)\",\s*(CFG_\w+),\s*(NULL|" + C_STR + r"),\s*"
        r"[FB]\([^)]*\),\s*([^,]+?),\s*([^,]+?),\s*(" + C_STR + r")")
    keys = []
    for name, body in tables:
        rows = row.findall(body)
        # Every row opens with '{ "': count them to catch a row the
        # pattern above failed to read.
        if len(rows) != len(re.findall(r"\{\s*\"", body)) or not rows:
            problem("config.c: could not read every row of %s[]; teach "
                    "tests/docs/check_docs.py the new form" % name)
        for key, typ, dflt, lo, hi, doc in rows:
            dflt = None if dflt == "NULL" else dflt[1:-1]
            keys.append((name, key, typ, dflt, c_limit(lo, consts),
                         c_limit(hi, consts), doc.startswith('"[policy] ')))
    sects = set(re.findall(r'strcmp\(section, "(\w+)"\)', text))
    if re.search(r'strncmp\(section, "bucket"', text):
        sects.add('bucket "')
    return keys, sects


def man_entries(text):
    """{key: (heading, plain text of its entry)} for '.It Ic KEY' lines."""
    lines = text.splitlines()
    heads = sections(text)
    entries = {}
    for i, line in enumerate(lines):
        m = re.match(r"\.It Ic (\S+)", line)
        if not m or m.group(1).startswith("["):
            continue
        j = i + 1
        while j < len(lines) and not re.match(r"\.(It Ic|Sh) ", lines[j]):
            j += 1
        entries[m.group(1)] = (heads[i], plain(lines[i + 1:j]))
    return entries


TYPE_WORDS = {"CFG_UINT": "Number", "CFG_SIZE": "Size",
              "CFG_BOOL": "Boolean", "CFG_SECONDS": "Seconds"}


def check_config(src):
    keys, sects = config_keys(src)
    page = read(os.path.join(src, "packaging/vigil.conf.5"))
    conf = read(os.path.join(src, "packaging/vigil.conf"))
    entries = man_entries(page)
    known = set()
    for table, key, typ, dflt, lo, hi, policy in keys:
        known.add(key)
        if not re.search(r"^#?%s =" % re.escape(key), conf, re.M):
            problem("packaging/vigil.conf: no line for '%s' (regenerate "
                    "it with vigil serve --print-defaults)" % key)
        if key not in entries:
            problem("vigil.conf.5: no '.It Ic %s' entry" % key)
            continue
        head, body = entries[key]
        if table == "bucket_settings":
            want = "BUCKET SETTINGS"
        elif table == "settings":
            want = "POLICY SETTINGS" if policy else "SERVE SETTINGS"
        else:
            want = None
            problem("config.c: unknown settings table %s[]; say in "
                    "tests/docs/check_docs.py where its keys belong" % table)
        if want is not None and head != want:
            problem("vigil.conf.5: %s is under %s, want %s" %
                    (key, head or "no heading", want))
        if typ in TYPE_WORDS and not re.search(r"\b%s\b" % TYPE_WORDS[typ],
                                               body):
            problem("vigil.conf.5: %s does not say its type (%s)" %
                    (key, TYPE_WORDS[typ]))
        if dflt is None:
            ok = "no default" in body
            shown = "'no default'"
        elif dflt == "":
            ok = re.search(r"default empty|empty, the default", body)
            shown = "'default empty'"
        else:
            ok = re.search(r"[Dd]efault\s+%s(?=[\s.,;)]|$)" %
                           re.escape(dflt), body)
            shown = "'default %s'" % dflt
        if not ok:
            problem("vigil.conf.5: the entry of %s does not say %s" %
                    (key, shown))
        if typ == "CFG_UINT":
            if lo is None or hi is None:
                problem("config.c: cannot evaluate the limits of %s; teach "
                        "tests/docs/check_docs.py" % key)
            elif hi == 2**64 - 1:
                if "at least %d" % lo not in body:
                    problem("vigil.conf.5: %s does not say 'at least %d'" %
                            (key, lo))
            elif "%d to %d" % (lo, hi) not in body:
                problem("vigil.conf.5: %s does not say '%d to %d'" %
                        (key, lo, hi))
    for key in entries:
        if key not in known:
            problem("vigil.conf.5: documents '%s', which config.c does "
                    "not accept" % key)
    for s in sorted(sects):
        if "[" + s not in page:
            problem("vigil.conf.5: section [%s] not described" % s)
        if "[" + s not in conf:
            problem("packaging/vigil.conf: section [%s] missing" % s)
    if not keys:
        problem("config.c: no settings found")
    return len(keys)


# (b) command-line options ---------------------------------------------------

def option_tables(src):
    """[(file, subcommand, [(long, short or None)], optstring)]."""
    found = []
    for root, _, files in os.walk(os.path.join(src, "daemon")):
        for fn in sorted(files):
            if not fn.endswith(".c"):
                continue
            path = os.path.join(root, fn)
            text = read(path)
            rel = os.path.relpath(path, src)
            for m in re.finditer(r"struct option \w+\[\] = \{(.*?)\};",
                                 text, re.S):
                rows = re.findall(
                    r'\{\s*"([\w-]+)",\s*\w+_argument,\s*NULL,\s*'
                    r"('.'|\d+)\s*\}", m.group(1))
                if not rows:
                    problem("%s: could not read a struct option table" % rel)
                    continue
                funcs = re.findall(r"^([a-z_]\w*)\(", text[:m.start()], re.M)
                func = funcs[-1] if funcs else ""
                if not func.startswith("cli_"):
                    problem("%s: option table in %s(), not a cli_ "
                            "function; say in tests/docs/check_docs.py "
                            "which subcommand it is" % (rel, func))
                    continue
                cmd = func[4:].replace("_", "-")
                rest = text[m.end():]
                og = re.search(r'getopt_long\(\s*\w+,\s*\w+,\s*"([^"]*)"',
                               rest)
                optstring = og.group(1) if og else ""
                opts = [(name, val[1] if val.startswith("'") else None)
                        for name, val in rows]
                found.append((rel, cmd, opts, optstring))
    return found


def check_options(src):
    page = read(os.path.join(src, "packaging/vigil.1"))
    lines = page.splitlines()
    heads = sections(page)
    synopsis, block = {}, None
    subsection, cur = {}, None
    for i, line in enumerate(lines):
        if heads[i] == "SYNOPSIS":
            if line.startswith(".Nm"):
                block = None
            elif block is None and line.startswith(".Cm "):
                block = line.split()[1]
                synopsis.setdefault(block, [])
            elif block is not None:
                synopsis[block].append(line)
        m = re.match(r"\.Ss vigil (\S+)", line)
        if m:
            cur = m.group(1)
        elif line.startswith((".Ss", ".Sh")):
            cur = None
        if cur is not None and line.startswith(".It "):
            subsection.setdefault(cur, []).append(line)
    count = 0
    tables = option_tables(src)
    if not tables:
        problem("daemon/: no struct option table found")
    for rel, cmd, opts, optstring in tables:
        shorts = {s: name for name, s in opts if s is not None}
        syn = " ".join(synopsis.get(cmd, []))
        items = subsection.get(cmd, [])
        if cmd not in synopsis:
            problem("vigil.1: no SYNOPSIS line for '%s' (%s)" % (cmd, rel))
        if cmd not in subsection:
            problem("vigil.1: no '.Ss vigil %s' subsection with .It "
                    "entries (%s)" % (cmd, rel))
        for name, _ in opts:
            count += 1
            fl = re.compile(r"\bFl -%s(?![\w-])" % re.escape(name))
            if name != "help" and not fl.search(syn):
                problem("vigil.1: --%s of %s missing from the SYNOPSIS" %
                        (name, cmd))
            if not any(fl.search(it) for it in items):
                problem("vigil.1: --%s of %s has no .It entry under "
                        "'.Ss vigil %s'" % (name, cmd, cmd))
        for c in optstring.replace(":", ""):
            if c not in shorts:
                problem("%s: short option -%s has no long form; document "
                        "it and teach tests/docs/check_docs.py" % (rel, c))
                continue
            want = "Fl %s , Fl -%s" % (c, shorts[c])
            if not any(want in it for it in items):
                problem("vigil.1: '.It %s' missing under '.Ss vigil %s'" %
                        (want, cmd))
    return count


# (c) lint ---------------------------------------------------------------------

def lint(src):
    pages = [os.path.join(src, "packaging", p)
             for p in ("vigil.1", "vigil.conf.5")]
    if shutil.which("mandoc"):
        cmd = ["mandoc", "-T", "lint", "-W", "warning"]
    elif shutil.which("groff"):
        cmd = ["groff", "-mandoc", "-ww", "-z"]
    else:
        return None
    for p in pages:
        r = subprocess.run(cmd + [p], capture_output=True, text=True)
        said = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or said:
            problem("%s %s:\n%s" % (" ".join(cmd), os.path.basename(p),
                                    said or "exit %d" % r.returncode))
    return cmd[0]


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src = sys.argv[1]
    nkeys = check_config(src)
    nopts = check_options(src)
    linter = lint(src)
    for p in problems:
        print("FAIL: " + p)
    if problems:
        print("%d problems: the manual pages have drifted from the code" %
              len(problems))
        return 1
    print("ok: %d config keys, %d options" % (nkeys, nopts))
    if linter is None:
        print("SKIP: neither mandoc nor groff is installed, pages not "
              "linted")
        return SKIP
    print("ok: %s finds nothing to say about either page" % linter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
