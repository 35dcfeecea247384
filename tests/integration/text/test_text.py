#!/usr/bin/env python3
"""End-to-end tests of the text layer: content as people read it.

usage: test_text.py VIGIL FIXTURES_DIR WORKDIR [CASE-SUBSTRING...]

FIXTURES_DIR is tests/fixtures/text: committed files made by LibreOffice,
Chromium, qpdf, iconv and Python's mail library, and manifest.json, which
says for each file which needles it holds and where vigil must report them
(see that directory's README.md).  The rules are rules/needles.yar beside
this script: plain text rules, so every match proves the text layer found a
phrase that the raw bytes hide.

Two kinds of case:
- "fixture F: ..." checks, with decoders independent of vigil (Python's
  zipfile, html.parser, email and codecs; pdftotext for PDFs), that F holds
  what the manifest says, so a wrong fixture cannot pass for a vigil bug.
- "scan F: ..." runs `vigil scan --json` on F (once per file) and checks one
  expectation per case: each needle reported by its rule with the expected
  path chain (ending in "#text" when only the normalised layer holds it),
  the verdict and exit status, no stray matches, and the raw-layer rule.

Prints one line per case (PASS, FAIL or SKIP), then "N passed, M failed[, K
skipped]"; exits 1 if any case failed.  Every vigil run is logged in full to
WORKDIR/text.log.  Optional CASE-SUBSTRING arguments run only the cases
whose names contain one of them.  Standard library only, Python >= 3.9.
"""

import email
import email.policy
import html
import html.parser
import io
import json
import mailbox
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "rules", "needles.yar")

RECORD_KEYS = {"object", "verdict", "size", "sha256", "mime", "matches",
               "problems"}
MATCH_KEYS = {"rule", "clause", "severity", "path", "offset"}
PROBLEM_KEYS = {"path", "reason"}
EXIT_FOR = {"clean": 0, "flagged": 1, "unscannable": 2}
CLAUSE, SEVERITY = "IV.9(7)", "high"
BUDGET = float(os.environ.get("VIGIL_TEXT_TEST_BUDGET", "540"))

ENV = dict(os.environ, LC_ALL="C")
ENV.pop("LANG", None)

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def fold(text):
    """What every text layer does last: NFKC, zero-width characters gone."""
    return unicodedata.normalize("NFKC", text).translate(ZERO_WIDTH)


def short(data, n=300):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "backslashreplace")
    data = data.strip()
    return (data[:n] + "...") if len(data) > n else data


# ---------------------------------------------------------------------------
# Path patterns from the manifest: "*" is one element, "**" zero or more.

def path_matches(pattern, path):
    if not pattern:
        return not path
    head = pattern[0]
    if head == "**":
        return any(path_matches(pattern[1:], path[i:])
                   for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and \
        path_matches(pattern[1:], path[1:])


# ---------------------------------------------------------------------------
# Independent decoders: what a reader of each form sees.

BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "table", "tr", "td", "th",
              "h1", "h2", "h3", "h4", "h5", "h6", "head", "body", "html",
              "title", "section", "article", "header", "footer", "pre",
              "blockquote", "hr", "script", "style"}


class _HTMLText(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):        # script and style data included
        self.out.append(data)


def decode_bytes(data, encoding=None):
    if encoding:
        return data.decode(encoding)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8")


def html_text(data, encoding=None):
    p = _HTMLText()
    p.feed(decode_bytes(data, encoding))
    p.close()
    return "".join(p.out)


XML_BREAK = re.compile(r"</(w:p|a:p|text:p|text:h|si|c|row|table:table-cell)"
                       r">|<(w:br|w:tab|text:line-break|text:tab)\b[^>]*>")


def xml_text(data):
    s = XML_BREAK.sub("\n", data.decode("utf-8"))
    return html.unescape(re.sub(r"<[^>]*>", "", s))


RTF_SKIP = {"fonttbl", "colortbl", "stylesheet", "info", "pict", "listtable",
            "listoverridetable", "rsidtbl", "header", "footer", "object",
            "generator", "xmlnstbl", "themedata", "datastore"}
RTF_CP = {"936": "gbk", "950": "big5", "932": "cp932", "949": "cp949"}


def rtf_text(data):
    """A small RTF reader: groups, destinations, \\uN with \\ucN fallback
    skipping, \\'hh in the document's code page."""
    s = data.decode("latin-1")
    out, pend = [], bytearray()
    cp = "cp1252"
    uc, skipping, to_skip = 1, False, 0
    stack = []
    i, n = 0, len(s)

    def flush():
        if pend:
            out.append(bytes(pend).decode(cp, "replace"))
            pend.clear()

    while i < n:
        c = s[i]
        if c == "{":
            stack.append((uc, skipping))
            i += 1
        elif c == "}":
            flush()
            uc, skipping = stack.pop() if stack else (1, False)
            to_skip = 0
            i += 1
        elif c in "\r\n":
            i += 1
        elif c == "\\":
            nxt = s[i + 1] if i + 1 < n else ""
            if nxt == "'":
                b = int(s[i + 2:i + 4], 16)
                i += 4
                if to_skip:
                    to_skip -= 1
                elif not skipping:
                    pend.append(b)
                continue
            if nxt.isalpha():
                m = re.match(r"([a-zA-Z]+)(-?\d+)? ?", s[i + 1:])
                word, arg = m.group(1), m.group(2)
                i += 1 + m.end()
                if word in RTF_SKIP:
                    skipping = True
                elif word == "ansicpg":
                    cp = RTF_CP.get(arg, "cp" + arg)
                elif word == "uc":
                    uc = int(arg)
                elif word == "u":
                    flush()
                    if not skipping:
                        out.append(chr(int(arg) % 65536))
                    to_skip = uc
                elif word in ("par", "line", "sect", "page", "row", "cell"):
                    flush()
                    if not skipping:
                        out.append("\n")
                elif word == "tab" and not skipping:
                    flush()
                    out.append("\t")
                continue
            # Control symbols.
            i += 2
            if nxt == "*":
                skipping = True
            elif nxt in "\\{}" and not skipping:
                flush()
                out.append(nxt)
            elif nxt == "~" and not skipping:
                flush()
                out.append("\u00a0")
        else:
            i += 1
            if to_skip:
                to_skip -= 1
            elif not skipping:
                flush()
                out.append(c)
    flush()
    return "".join(out)


def mail_text(msg):
    """Decoded headers, text parts and attachments (zip members too)."""
    parts = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_content_maintype() == "text":
            cs = part.get_content_charset() or "utf-8"
            parts.append(payload.decode(cs, "replace"))
        elif payload[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(payload)) as z:
                for name in z.namelist():
                    parts.append(z.read(name).decode("utf-8", "replace"))
        parts.append(str(part.get_filename() or ""))
    return "\n".join(parts)


def raw_layers(path):
    """{member chain (tuple): bytes} for the object and its zip members."""
    with open(path, "rb") as f:
        data = f.read()
    out = {(): data}
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                out[(name,)] = z.read(name)
    return out


def raw_has(data, kind, phrase):
    if kind == "ascii":
        return phrase.encode().lower() in data.lower()
    return phrase.encode("utf-8") in data


# ---------------------------------------------------------------------------

class Harness:
    def __init__(self, vigil, fixtures, workdir):
        self.vigil = os.path.abspath(vigil)
        self.fix = os.path.abspath(fixtures)
        self.work = os.path.abspath(workdir)
        self.start = time.monotonic()
        self.log = None
        self.man = None
        self.scans = {}

    def run(self, argv, cwd, timeout=60.0):
        left = BUDGET - (time.monotonic() - self.start)
        if left < 5:
            raise Failure("not run: the %.0f s time budget is spent" % BUDGET)
        proc = subprocess.Popen(argv, cwd=cwd, env=ENV,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=min(timeout, left - 2))
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        if self.log:
            self.log.write("=== %s\n    cwd=%s rc=%s%s\n--- stdout\n%s\n"
                           "--- stderr\n%s\n" % (
                               " ".join(argv), cwd, proc.returncode,
                               " TIMED OUT" if timed_out else "",
                               out.decode("utf-8", "backslashreplace"),
                               err.decode("utf-8", "backslashreplace")))
            self.log.flush()
        check(not timed_out, "%s did not finish in time" % " ".join(argv))
        return proc.returncode, out, err

    def scan(self, entry):
        """vigil scan --json on one fixture, run once and remembered."""
        rel = entry["file"]
        if rel not in self.scans:
            cwd = os.path.join(self.fix, os.path.dirname(rel))
            obj = os.path.basename(rel)
            try:
                rc, out, err = self.run([self.vigil, "scan", "--rules", RULES,
                                         "--json", obj], cwd)
                self.scans[rel] = (rc, parse_one(out, obj, rc, err), None)
            except Failure as e:
                self.scans[rel] = (None, None, str(e))
        rc, rec, error = self.scans[rel]
        check(error is None, error)
        return rc, rec


def parse_one(out, obj, rc, err):
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("stdout is not UTF-8")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    check(len(lines) == 1, "expected one --json line, got %d (rc=%s, "
          "stderr %r)" % (len(lines), rc, short(err)))
    try:
        rec = json.loads(lines[0])
    except ValueError as e:
        raise Failure("not JSON (%s): %r" % (e, short(lines[0])))
    check(isinstance(rec, dict) and set(rec) == RECORD_KEYS,
          "record keys %r" % (sorted(rec) if isinstance(rec, dict) else rec))
    check(rec["object"] == obj, "object %r, expected %r" % (rec["object"],
                                                           obj))
    for m in rec["matches"]:
        check(isinstance(m, dict) and set(m) == MATCH_KEYS,
              "match keys %r" % m)
        check(isinstance(m["path"], list) and m["path"] and
              m["path"][0] == obj, "match path %r does not start with %r"
              % (m["path"], obj))
        check(isinstance(m["offset"], int) and m["offset"] >= 0,
              "offset %r" % m["offset"])
        check((m["clause"], m["severity"]) == (CLAUSE, SEVERITY),
              "rule %s reported with %r/%r" % (m["rule"], m["clause"],
                                               m["severity"]))
    for p in rec["problems"]:
        check(isinstance(p, dict) and set(p) == PROBLEM_KEYS,
              "problem keys %r" % p)
    return rec


def fmt(rec):
    return [(m["rule"], m["path"]) for m in rec["matches"]]


# -- fixture self-checks -------------------------------------------------------

def reader_text(h, entry):
    """The fixture's text as a reader sees it, decoded without vigil."""
    path = os.path.join(h.fix, entry["file"])
    kind = entry.get("check")
    with open(path, "rb") as f:
        data = f.read()
    if kind == "text":
        return decode_bytes(data, entry.get("encoding"))
    if kind == "html":
        return html_text(data, entry.get("encoding"))
    if kind == "rtf":
        return rtf_text(data)
    if kind == "zipxml":
        with zipfile.ZipFile(path) as z:
            return "\n".join(xml_text(z.read(n)) for n in z.namelist()
                             if n.endswith(".xml"))
    if kind == "mail":
        if path.endswith(".mbox"):
            box = mailbox.mbox(path, create=False)
            msgs = [email.message_from_bytes(box.get_bytes(k),
                                             policy=email.policy.default)
                    for k in box.keys()]
            check(len(msgs) >= 2, "mbox has %d messages" % len(msgs))
            return "\n".join(mail_text(m) for m in msgs)
        return mail_text(email.message_from_bytes(
            data, policy=email.policy.default))
    if kind == "pdftotext":
        if shutil.which("pdftotext") is None:
            raise Skip("pdftotext (poppler-utils) not installed")
        argv = ["pdftotext", "-enc", "UTF-8"]
        if entry["verdict"] == "unscannable":
            rc, _, _ = h.run(argv + [path, "-"], h.work)
            check(rc != 0, "pdftotext reads %s without a password"
                  % entry["file"])
            argv += ["-upw", h.man["pdf_password"]]
        rc, out, err = h.run(argv + [path, "-"], h.work)
        check(rc == 0, "pdftotext failed: %r" % short(err))
        return out.decode("utf-8")
    raise Failure("manifest: unknown check %r" % kind)


def fixture_case(entry):
    def run(h):
        path = os.path.join(h.fix, entry["file"])
        st = os.stat(path)
        check(st.st_size < 100 * 1024, "%d bytes: over 100 KB" % st.st_size)
        text = fold(reader_text(h, entry))
        needles = h.man["needles"]
        if entry["near_miss"]:
            for phrase in entry.get("reads_as",
                                    list(entry["planted"].values())):
                check(fold(phrase) in text, "near phrase %r not in the "
                      "reader's text %r" % (phrase, short(text)))
        else:
            for kind, phrase in entry["planted"].items():
                check(phrase == needles[kind], "planted %r is not the "
                      "%s needle" % (phrase, kind))
                check(phrase in text, "needle %r not in the reader's text "
                      "%r" % (phrase, short(text)))
        if entry["near_miss"]:
            for kind, phrase in needles.items():
                found = phrase.lower() in text.lower() if kind == "ascii" \
                    else phrase in text
                check(not found, "near miss holds the %s needle" % kind)
        # The layer claims: "raw" means the bytes of that member hold the
        # needle as the rule spells it; "text" means they do not.
        layers = raw_layers(path)
        if entry["near_miss"]:
            for chain, data in layers.items():
                for kind, phrase in needles.items():
                    check(not raw_has(data, kind, phrase), "near miss holds "
                          "the %s needle in the raw bytes of %s"
                          % (kind, list(chain) or "the file"))
        for m in entry["matches"]:
            chain = m["path"][1:]
            if chain and chain[-1] == "#text":
                chain = chain[:-1]
            if "*" in chain or "**" in chain or \
                    tuple(chain) not in layers:
                if m["layer"] == "text":     # e.g. mail: the object itself
                    check(not raw_has(layers[()], m["needle"],
                                      needles[m["needle"]]),
                          "%s needle visible in the raw bytes" % m["needle"])
                continue
            has = raw_has(layers[tuple(chain)], m["needle"],
                          needles[m["needle"]])
            check(has == (m["layer"] == "raw"), "%s needle %s in the raw "
                  "bytes of %s, manifest says layer %s" % (
                      m["needle"], "found" if has else "not found",
                      m["path"][:-1] if m["layer"] == "text" else m["path"],
                      m["layer"]))
        # Decoded MIME parts are members this script does not model.
        fires = entry["raw_rule_fires"]
        if fires is not None and not entry["near_miss"] and \
                entry.get("check") != "mail":
            has = any(raw_has(d, "ascii", needles["ascii"])
                      for d in layers.values())
            check(has == fires, "raw_rule_fires %s but the raw bytes %s "
                  "the ASCII needle" % (fires, "hold" if has else "lack"))
    return run


# -- scan cases ------------------------------------------------------------------

def expected_case(entry, m):
    def run(h):
        rc, rec = h.scan(entry)
        got = [x["path"] for x in rec["matches"] if x["rule"] == m["rule"]]
        check(any(path_matches(m["path"], p) for p in got),
              "no %s match at %s; matches %s, problems %s"
              % (m["rule"], m["path"], fmt(rec), rec["problems"]))
    return run


def tolerated(entry, match):
    """A match not named by the manifest but allowed: the same needle seen
    in both layers of one member, or in the raw bytes of a container that
    holds it uncompressed on the way to the expected member."""
    p = match["path"]
    for m in entry["matches"]:
        if m["rule"] != match["rule"]:
            continue
        if path_matches(m["path"], p):
            return True
        if m["layer"] == "raw" and path_matches(m["path"] + ["#text"], p):
            return True
        if "#text" not in p and len(p) < len(m["path"]) and \
                path_matches(m["path"][:len(p)], p):
            return True
    return False


def verdict_case(entry):
    def run(h):
        rc, rec = h.scan(entry)
        want = entry["verdict"]
        check(rec["verdict"] == want, "verdict %r, expected %r (matches %s, "
              "problems %s)" % (rec["verdict"], want, fmt(rec),
                                rec["problems"]))
        check(rc == EXIT_FOR[want], "exit status %s, expected %d"
              % (rc, EXIT_FOR[want]))
        stray = [x for x in rec["matches"]
                 if x["rule"] != h.man["raw_rule"] and not tolerated(entry, x)]
        check(not stray, "unexpected matches %s" % fmt({"matches": stray}))
        if not entry["problems"]:
            check(not rec["problems"], "unexpected problems %s"
                  % rec["problems"])
        for p in entry["problems"]:
            hits = [q for q in rec["problems"] if q["reason"] == p["reason"]]
            check(hits, "expected problem %r missing; problems %s"
                  % (p["reason"], rec["problems"]))
            check(any(path_matches(p["path"], q["path"]) for q in hits),
                  "%s problem at %s, expected at %s" % (
                      p["reason"], [q["path"] for q in hits], p["path"]))
    return run


def raw_rule_case(entry):
    def run(h):
        rc, rec = h.scan(entry)
        raw = [x["path"] for x in rec["matches"]
               if x["rule"] == h.man["raw_rule"]]
        check(not any("#text" in p for p in raw),
              "layer = \"raw\" rule reported in the text layer at %s" % raw)
        fires = entry["raw_rule_fires"]
        if fires is True:
            check(raw, "the raw-layer rule did not fire though the raw bytes "
                  "hold the ASCII needle; matches %s" % fmt(rec))
        elif fires is False:
            check(not raw, "the raw-layer rule fired at %s though only the "
                  "text layer holds the ASCII needle" % raw)
    return run


def rules_case(h):
    rc, out, err = h.run([h.vigil, "rules", "check", RULES], h.work)
    check(rc == 0, "vigil rules check exit %s: %r" % (rc, short(err)))


FOLD_RULES = "".join("""
rule %s
{
    meta:
        clause = "IV.9(7)"
        severity = "high"%s
    strings:
        $a = "%s"%s
    condition:
        $a
}
""" % r for r in (
    ("fold_zh", "", "澳门，娱乐", ""),
    ("fold_fw", "", "ｃａｓｉｎｏ　ｒｏｙａｌｅ", " nocase"),
    ("fold_zw", "", "forbid\\xe2\\x80\\x8bden", ""),
    ("fold_raw", "\n        layer = \"raw\"", "澳门，娱乐", ""))) + """
rule fold_rx
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings:
        $r = /澳门，娱(乐|场)[^\\n]{0,4}（[0-9]+）/
    condition:
        $r
}
"""

FOLD_FILES = {
    "zh-utf8.txt": "欢迎光临澳门，娱乐场（24）。\n".encode(),
    "zh-gbk.txt": ("欢迎光临澳门，娱乐场（24），真的很好玩。\n" * 3
                   ).encode("gbk"),
    "zh-entity.html": (b"<html><body><p>\xe6\xac\xa2\xe8\xbf\x8e "
                       b"\xe6\xbe\xb3\xe9\x97\xa8&#xFF0C;\xe5\xa8\xb1"
                       b"\xe4\xb9\x90</p></body></html>\n"),
    "zh-utf16.txt": "\ufeff欢迎光临澳门，娱乐场（24）。\n".encode(
        "utf-16-le"),
    "zh-near.txt": ("欢迎光临澳门；娱乐场，再见。\n" * 3).encode("gbk"),
    "en-ascii.txt": b"Welcome to the Casino Royale tonight.\n",
    "en-fullwidth.txt": "ｃａｓｉｎｏ　ｒｏｙａｌｅ\n".encode(),
    "zw-plain.txt": b"this is forbidden text\n",
    "zw-near.txt": b"this is forbid den text\n",
    "zh-binary.bin": b"\x00\x01\x02\xff" * 64 + "澳门,娱乐".encode() +
                     b"\x00" * 64,
}
# file -> {rule: "raw" (reported at [file]) or "text" ([file, "#text"])}
FOLD_EXPECT = {
    "zh-utf8.txt": {"fold_zh": "raw", "fold_raw": "raw", "fold_rx": "raw"},
    "zh-gbk.txt": {"fold_zh": "text", "fold_rx": "text"},
    "zh-entity.html": {"fold_zh": "text"},
    "zh-utf16.txt": {"fold_zh": "text", "fold_rx": "text"},
    "zh-near.txt": {},
    "en-ascii.txt": {"fold_fw": "text"},
    "en-fullwidth.txt": {"fold_fw": "raw"},
    "zw-plain.txt": {"fold_zw": "text"},
    "zw-near.txt": {},
    "zh-binary.bin": {},
}


def scan_written(h, d, files, rules):
    """Writes files ({name: bytes}) into d and scans them with rules:
    {name: sorted [(rule, path tuple)]}."""
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    rc, out, err = h.run([h.vigil, "scan", "--json", "--no-summary",
                          "--rules", rules] + sorted(files), d)
    check(rc in (0, 1), "vigil scan exit %s: %r" % (rc, short(err)))
    got = {}
    for line in out.decode().splitlines():
        rec = json.loads(line)
        got[rec["object"]] = sorted((m["rule"], tuple(m["path"]))
                                    for m in rec["matches"])
    missing = set(files) - set(got)
    check(not missing, "no record for %s" % sorted(missing))
    return got


def fold_case(h):
    """Rule literals (and the characters of a regular expression outside
    its classes) that the text layer would change match it folded: a rule
    written with a full-width comma fires on GBK, an entity or UTF-16; one
    written in full-width letters fires on ASCII; a zero-width character
    in a rule is dropped as in text.  The raw layer stays exact: a binary
    with an ASCII comma, and a layer = "raw" rule, see only the bytes."""
    d = os.path.join(h.work, "fold")
    os.makedirs(d, exist_ok=True)
    rules = os.path.join(d, "fold.yar")
    with open(rules, "w", encoding="utf-8") as f:
        f.write(FOLD_RULES)
    got = scan_written(h, d, FOLD_FILES, rules)
    for name, want in FOLD_EXPECT.items():
        exp = sorted((r, (name,) if how == "raw" else (name, "#text"))
                     for r, how in want.items())
        check(got.get(name) == exp, "%s: matches %s, expected %s"
              % (name, got.get(name), exp))


# HTML as a browser lays it out: white space runs are one space, a line
# break between two Chinese characters is none (CSS Text 3), block
# elements keep words apart, <pre> keeps its spaces, and a non-breaking
# space is a space of its own.  file -> (bytes, the needle rule or None)
ZH = "网上赌场加微信"
WS_FILES = {
    "wrapped.html": (b"<html><body><p>Tonight: vigil needle casino\n"
                     b"        royale, at nine.</p></body></html>\n",
                     "needle_ascii"),
    "spaced.html": (b"<html><body><p>vigil \t needle\r\n\r\ncasino  "
                    b"royale</p></body></html>\n", "needle_ascii"),
    "blocks.html": (b"<html><body><div>vigil needle</div>\n  <div> casino "
                    b"royale</div></body></html>\n", "needle_ascii"),
    "pre.html": (b"<html><body><pre>vigil needle casino\n royale</pre>"
                 b"</body></html>\n", None),
    "nbsp2.html": (b"<html><body><p>vigil needle casino&nbsp;&nbsp;royale"
                   b"</p></body></html>\n", None),
    "zh-wrapped.html": (("<html><head><meta charset=\"utf-8\"></head>"
                         "<body><p>欢迎%s\n      %s。</p></body></html>\n"
                         % (ZH[:3], ZH[3:])).encode(), "needle_zh"),
    "zh-blocks.html": (("<html><head><meta charset=\"utf-8\"></head>"
                        "<body><p>%s</p>\n<p>%s</p></body></html>\n"
                        % (ZH[:3], ZH[3:])).encode(), None),
    "zh-spaced.html": (("<html><head><meta charset=\"utf-8\"></head>"
                        "<body><p>%s %s</p></body></html>\n"
                        % (ZH[:3], ZH[3:])).encode(), None),
}


def html_space_case(h):
    d = os.path.join(h.work, "html-space")
    os.makedirs(d, exist_ok=True)
    got = scan_written(h, d, {n: data for n, (data, _) in WS_FILES.items()},
                       RULES)
    for name, (_, rule) in WS_FILES.items():
        want = [(rule, (name, "#text"))] if rule else []
        check(got.get(name) == want, "%s: matches %s, expected %s"
              % (name, got.get(name), want))


# Chinese prose in UTF-8 folds only its full-width marks (，：；！？（）), so
# the text layer matches only the strings those marks can affect and takes
# the others from the raw layer (daemon/engine/delta.c).  A UTF-8 BOM makes
# a file's text layer an ordinary one, over the very same text: every file
# must give the same findings both ways, whatever else it holds (full-width
# letters, zero-width characters, combining marks, bad UTF-8), wherever.
DELTA_RULES = "".join("""
rule %s
{
    meta:
        clause = "IV.9(7)"
        severity = "high"%s
    strings:
%s
    condition:
        %s
}
""" % (name, meta, "\n".join("        " + s for s in strs), cond)
    for name, meta, strs, cond in (
        ("d_kw", "", ['$a = "casino royale" nocase', '$b = "gold, fish"',
                      '$c = "赌博"', '$d = "hello world" fullword'],
         "any of them"),
        ("d_comma", "", ['$a = "澳门，娱乐"', '$b = "kw: alpha"'],
         "any of them"),
        ("d_count", "", ['$a = "澳门"', '$b = "cafe"'],
         "#a >= 3 or #b >= 2"),
        ("d_not", "", ['$a = "gold"', '$b = "fish"'], "$a and not $b"),
        ("d_text", '\n        layer = "text"',
         ['$a = "casino"', '$b = "note"'], "any of them"),
        ("d_card", "", [r'$r = /card[ _-]?(no|num)[ \t]{0,4}[=:][ \t]{0,4}'
                        r'[0-9]{4}[ -]?[0-9]{4}/i'], "$r"),
        ("d_pass", "", ['$r = /pass(word)?[ \\t]{0,4}[=:][ \\t]{0,4}'
                        '["\'][^"\'\\s]{6,64}["\']/i'], "$r"),
        ("d_qq", "", ['$r = /QQ(:|：)? ?[1-9][0-9]{4,10}/i'], "$r"),
        ("d_gamble", "", [r'$r = /(澳门|葡京)[^\n]{0,12}(娱乐|赌场)/'],
         "$r"),
        ("d_url", "", [r'$r = /https?:\/\/[a-z0-9.-]{2,63}\.(top|xyz)\b/i'],
         "$r"),
        ("d_word", "", [r'$r = /\bcasino\b/', r'$s = /[a-z]{4} [a-z]{5}/'],
         "$r and #s > 1"),
        ("d_mix", "", ['$a = "hello"', '$r = /QQ: ?[0-9]{5}/'],
         "$a and $r"),
        ("d_hex", "", ['$h = { EF BC 8C E6 BE B3 }', '$z = { E2 80 8B }'],
         "any of them"),
        ("d_paren", "", ['$a = "(note)"', '$b = "葡京）赌场"'],
         "any of them"),
        # Met only at the end of the bytes: the layer wakes after them.
        ("d_tail", "", [r'$r = /tail: ?[0-9]{3}$/'], "$r")))
# The text's size, not the bytes': a layer that never wakes has both.
DELTA_RULES += """
rule d_size
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        layer = "text"
    condition:
        filesize < 1000
}
"""


def delta_files():
    """Deterministic text: prose with the marks, the rules' needles
    written both ways, and now and then something that is not a mark."""
    rng = random.Random(3)
    zh = "澳门娱乐赌场葡京的一是不了人我在有他这中大来上个国到说们为子和你地出"
    en = ("the of and to in is it you that gold fish card tel qq pass "
          "hello world casino royale note http").split()
    needles = ["casino royale", "澳门，娱乐", "澳门,娱乐", "card no：1234 5678",
               "card no:1234-5678", "password: 'hunter2xx'",
               "pass：\"s3cr3t\"", "qq：123456", "QQ 98765",
               "https：//abc.top", "http://x.xyz", "gold, fish", "gold，fish",
               "cafe", "hello world", "hello，world", "赌\u200b博", "赌博",
               "kw: alpha", "kw：alpha", "(note)", "（note）", "葡京（葡京）赌场",
               "澳门，，，，，，，娱乐", "ｃａｓｉｎｏ"]
    others = [["ｃａｓｉｎｏ", "１２３", "\u3000", "＠"], ["\u200b", "\ufeff"],
              ["e\u0301"], [], [], []]
    files = {}
    for i in range(120):
        size = int(200 * (1000 ** rng.random()))
        extra = rng.choice(others)
        parts = ["起，"]
        n = 6
        while n < size:
            r = rng.random()
            if r < 0.4:
                p = "".join(rng.choice(zh) for _ in range(rng.randint(2, 12)))
                p += rng.choice("，，：；！？（）")
            elif r < 0.8:
                p = " ".join(rng.choice(en) for _ in range(rng.randint(2, 7)))
                p += rng.choice([" ", ", ", "，", "\n"])
            else:
                p = rng.choice(needles) + rng.choice(["", " ", "，", "\n"])
            if extra and rng.random() < 0.01:
                p += rng.choice(extra)
            parts.append(p)
            n += len(p.encode())
        data = "".join(parts).encode()
        if i % 17 == 5:
            k = rng.randrange(len(data))
            data = data[:k] + b"\xe6\x89" + data[k:]
        files["d%03d.txt" % i] = data
    # Past the 4 MiB a dormant unit keeps: a late guard, a late upgrade.
    filler = ("澳门的人，" * 20 + "the gold of tel, ") * 9000
    files["big-guard.txt"] = ("起，" + filler + "card no：1234 5678").encode()
    files["big-upgrade.txt"] = ("card no：1234 5678 " + filler +
                                "ｃａｓｉｎｏ 澳门 cafe cafe").encode()
    files["tail.txt"] = ("起，" + zh[6:] * 40 + "，tail：123").encode()
    # 1,000 bytes, 980 of text: ten marks fold three bytes to one.
    size = ("的一是不了人我在有，" * 10).encode()
    files["size.txt"] = size + b"x" * (1000 - len(size))
    return files


def delta_case(h):
    d = os.path.join(h.work, "delta")
    os.makedirs(d, exist_ok=True)
    rules = os.path.join(d, "delta.yar")
    with open(rules, "w", encoding="utf-8") as f:
        f.write(DELTA_RULES)
    files = delta_files()
    both = dict(files)
    both.update(("bom-" + n, b"\xef\xbb\xbf" + data)
                for n, data in files.items())
    got = scan_written(h, d, both, rules)
    text_only = 0
    for name in files:
        plain = got[name]
        bom = [(r, (name,) + p[1:]) for r, p in got["bom-" + name]]
        check(plain == bom, "%s: %s, but with a BOM %s"
              % (name, plain, bom))
        text_only += sum(p[-1] == "#text" for _, p in plain)
    # The corpus must reach the text layer, or this proves nothing.
    check(text_only >= 100, "only %d text-layer findings" % text_only)
    for name, rule in (("big-guard.txt", "d_card"),
                       ("big-upgrade.txt", "d_card"),
                       ("tail.txt", "d_tail"), ("size.txt", "d_size")):
        check((rule, (name, "#text")) in got[name],
              "%s: no %s in the text layer: %s" % (name, rule, got[name]))


def all_cases(h):
    cases = [("rules: needles.yar compiles", rules_case),
             ("rules: literals and regexes the text layer folds match it "
              "folded",
              fold_case),
             ("html: white space flows as a browser shows it (CJK line "
              "breaks join), not in <pre>", html_space_case),
             ("delta: Chinese UTF-8 gives the same findings as with a BOM "
              "(text layer matched in full)", delta_case)]
    for e in h.man["fixtures"]:
        f = e["file"]
        cases.append(("fixture %s: holds what the manifest says" % f,
                      fixture_case(e)))
        if e["near_miss"]:
            cases.append(("scan %s: near miss of %s stays clean"
                          % (f, e["near_miss_of"]), verdict_case(e)))
            continue
        for m in e["matches"]:
            cases.append(("scan %s: %s at %s" % (f, m["rule"],
                                                 json.dumps(m["path"],
                                                            ensure_ascii=False)),
                          expected_case(e, m)))
        what = e["verdict"]
        if e["problems"]:
            what += " (%s)" % ", ".join(p["reason"] for p in e["problems"])
        cases.append(("scan %s: %s, exit %d, nothing else reported"
                      % (f, what, EXIT_FOR[e["verdict"]]), verdict_case(e)))
        if e["verdict"] != "unscannable":
            cases.append(("scan %s: raw-layer rule %s" % (
                f, {True: "fires, never at #text",
                    False: "stays silent",
                    None: "never at #text"}[e["raw_rule_fires"]]),
                raw_rule_case(e)))
    return cases


def setup(h):
    os.makedirs(h.work, exist_ok=True)
    h.log = open(os.path.join(h.work, "text.log"), "w", encoding="utf-8")
    check(os.access(h.vigil, os.X_OK), "vigil not executable: %s" % h.vigil)
    with open(os.path.join(h.fix, "manifest.json"), encoding="utf-8") as f:
        h.man = json.load(f)
    with open(RULES, encoding="utf-8") as f:
        text = f.read()
    for kind, rule in h.man["rules"].items():
        m = re.search(r"rule\s+%s\s*\{.*?\$\w+\s*=\s*\"([^\"]*)\"" % rule,
                      text, re.S)
        check(m and m.group(1) == h.man["needles"][kind],
              "needles.yar: rule %s does not search for the %s needle %r"
              % (rule, kind, h.man["needles"][kind]))
    m = re.search(r"rule\s+%s\s*\{(.*?)\n\}" % h.man["raw_rule"], text, re.S)
    check(m and re.search(r'layer\s*=\s*"raw"', m.group(1)),
          "needles.yar: no rule %s with layer = \"raw\"" % h.man["raw_rule"])
    for e in h.man["fixtures"]:
        check(os.path.isfile(os.path.join(h.fix, e["file"])),
              "manifest names a missing file %s" % e["file"])


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    h = Harness(argv[1], argv[2], argv[3])
    only = argv[4:]
    passed = failed = skipped = 0
    try:
        setup(h)
    except (Failure, OSError, ValueError, KeyError) as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1
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
              % os.path.join(h.work, "text.log"))
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
