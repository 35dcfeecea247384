#!/usr/bin/env python3
"""YARA differential test: vigil must match exactly what yara 4.2.3 matches.

usage: yara_diff.py VIGIL WORKDIR [--engine default|pcre2|both]
                                  [--self-check] [--yara PATH]

Generates, deterministically (fixed seed), a corpus of a few hundred plain
files in WORKDIR/corpus and rule files exercising every construct of
vigil's YARA subset in WORKDIR/rules, then for each rule file runs

    yara -w -r RULEFILE WORKDIR/corpus
    vigil scan --json --rules RULEFILE FILE...

and requires the identical set of (file, rule) pairs.  --engine pcre2 runs
vigil with VIGIL_ENGINE=pcre2 (the PCRE2-only matching path); "both" (the
default) runs both engines.  WORKDIR/manifest.tsv says what was planted in
each corpus file.  Only matches on the file itself count (a match path of
one element); matches in unpacked members are listed but not compared.

--self-check needs no vigil: it checks with yara alone that every
hand-written rule matches at least one corpus file and misses at least
one (VIGIL may then be "none").

Exit status: 0 same results, 1 differences (printed), 77 yara missing.
Standard library only; runs on Debian 12's /usr/bin/python3.

HOW YARA 4.2.3 COUNTS AND MATCHES (found with `yara -s` and `#a == N`):

  Matches are per start offset.  For every string yara records at most one
  match per start offset, and #a is the number of distinct start offsets;
  `$a at N` and `$a in (N..M)` test start offsets, both range ends
  inclusive.

  Overlapping literals: "aa" in "aaaa" matches at 0, 1, 2: #a == 3.
  "abab" in "ababab" matches at 0 and 2.  nocase likewise: "aa" nocase in
  "aAaA" is 3.

  Regexes: one match per start offset where the regex matches, matches
  overlap freely.  /a+b/ on "xaaab" matches at 1, 2, 3 (#a == 3, shown as
  "aaab", "aab", "ab"); /a+/ on "aaaa" gives 4; lazy /a+?/ the same 4.
  Lengths are greedy but only start offsets matter to conditions.

  Hex jumps: one match per start offset, however many jump lengths fit;
  yara reports the shortest.  { 61 [1-3] 61 } on "aaaaa" matches at 0, 1,
  2 (#a == 3); { 61 [0-2] 62 } on "xaaab" at 1, 2, 3.  Alternatives at the
  same offset count once: { AA ( BB | BB CC ) } on AA BB CC is #a == 1.
  Hex jumps are not subject to the 4 KiB regex limit: yara splits long
  jumps into chained pieces ({ 78 [0-6000] 79 } matches 5000 bytes apart).

  ascii + wide: a string with both forms found at the same offset counts
  once ("a" ascii wide on "a\\x00" is #a == 1).  wide inserts 0x00 after
  every byte of the literal as written (UTF-8 "é" wide = C3 00 A9 00; it
  is not UTF-16 for non-ASCII).

  fullword: a match is dropped if the byte before or after it is an ASCII
  letter or digit [0-9A-Za-z].  Everything else is a boundary: "_", "-",
  ".", NUL, TAB and every byte >= 0x80 ("\\xe9word" and "_word_" match).
  For wide strings the neighbour is a 2-byte unit: dropped if the byte at
  -2 is alnum and the byte at -1 is 0x00, or the byte right after is
  alnum and the one after that is 0x00 ("a\\x00w\\x00o\\x00r\\x00d\\x00" is
  dropped, "aw\\x00o\\x00r\\x00d\\x00" and "a\\x01w\\x00..." are kept).
  Note regex \\b is different: it uses \\w = [A-Za-z0-9_], so "_" is a
  word character there but a boundary for fullword.

  nocase and the regex i flag fold ASCII letters only: "café" nocase
  matches CAFé but not CAFÉ (UTF-8) nor CAF\\xc9 (Latin-1).  [a-c]/i
  matches "ABC".

  Regex anchors: ^ matches only at offset 0 of the scanned data, $ only at
  its very end (no multiline, and unlike PCRE2's default $ does NOT match
  before a final "\\n": /abc$/ misses "abc\\n"; use PCRE2_DOLLAR_ENDONLY,
  and \\z for Hyperscan, whose $ also matches before a final newline).
  /^a/ on "aaa" gives #a == 1.  . matches any byte but \\n (also \\r, NUL,
  0xFF); with the s flag it matches \\n too.  \\s is [ \\t\\n\\v\\f\\r] (not
  0x85, not 0xA0).  {,m} is accepted and means {0,m} (PCRE2 10.42 reads it
  as a literal); {n,} works.

  Regex length limit: a regex match may not exceed the 4 KiB scan limit,
  but the limit is applied per direction from the atom yara picked:
  /xa*y/ matches x a{4094} y (4096 bytes) but not x a{4095} y, while
  /a*y/ on a{5000} y yields matches up to 4097 bytes long (4096 bytes
  before the atom "y", plus "y").  Exactly matching this needs yara's atom
  choice, so the corpus here keeps every regex match far below 4 KiB.

  Conditions: `and` binds tighter than `or`; `not` tighter than both but
  LOOSER than comparisons: `not #a == 2` is `not (#a == 2)` (true when
  #a is 0) and `not filesize >= 1KB` is `not (filesize >= 1KB)`.
  `3 of them` with two strings compiles and is false.  filesize 1KB is
  1024.  An unreferenced string is a compile error.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys

SEED = 20240611
SKIP = 77


# --------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------

WORDS = {
    "en": "the quick brown fox jumps over a lazy dog while policy content "
          "scanner rule engine archive member offset window byte string "
          "match count file text sample review".split(),
    "de": "über straße grüße fußball mädchen schön prüfen regel inhalt "
          "datei wörter ähnlich".split(),
    "fr": "été déjà garçon français règle contenu fichier œuvre naïve "
          "château élève".split(),
    "ru": "привет мир правило содержимое файл проверка строка поиск "
          "совпадение".split(),
    "zh": "你好 世界 规则 内容 文件 检查 字符串 匹配 网络 安全 数据".split(),
    "ja": "こんにちは 世界 規則 内容 ファイル 検査 文字列".split(),
    "ar": "مرحبا عالم قاعدة محتوى ملف فحص سلسلة".split(),
    "el": "γειά σου κόσμε κανόνας αρχείο έλεγχος".split(),
}

# Tokens planted in the corpus; the rules look for them.
TOKENS = [b"vigil", b"Quokka", b"needle", b"xyzzy", b"foo_bar", b"abcab",
          b"HeLLo", b"word", b"Zebra42"]
ESCAPES = [b'say "hi"', b"back\\slash", b"tab\there", b"cr\rlf\n",
           b"\x01ctl\xff"]
GRUSSE = "grüße".encode()            # gr\xc3\xbc\xc3\x9fe
RULE_ZH = "规则".encode()

# Bytes that may sit next to a token (fullword boundaries and near misses).
NEIGHBOURS = [b" ", b"_", b"-", b"a", b"Z", b"7", b"\xe9", b"\n", b".",
              b"\x00", b"\t", b"(", b""]


def wide(b):
    return b"".join(bytes([c, 0]) for c in b)


def show(b):
    """Bytes as printable ASCII for the manifest and failure reports."""
    return repr(bytes(b))[2:-1]


class Corpus:
    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.manifest = []

    def add(self, name, data, note):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        self.manifest.append((name, len(data), note))

    # -- building blocks --------------------------------------------------

    def words(self, lang, n):
        w = WORDS[lang]
        out = []
        for i in range(n):
            out.append(self.rng.choice(w))
            if i % 11 == 10:
                out.append("\n")
        return out

    def case_variant(self, tok):
        r = self.rng
        return bytes(c ^ 0x20 if (65 <= c <= 90 or 97 <= c <= 122) and
                     r.random() < 0.5 else c for c in tok)

    def variant(self, tok):
        """Return (bytes, description) for one planted form of tok."""
        r = self.rng
        kind = r.choice(["exact", "exact", "case", "wide", "widecase",
                         "near", "trunc", "upper"])
        if kind == "exact":
            b = tok
        elif kind == "case":
            b = self.case_variant(tok)
        elif kind == "upper":
            b = tok.upper()
        elif kind == "wide":
            b = wide(tok)
        elif kind == "widecase":
            b = wide(self.case_variant(tok))
        elif kind == "near":
            i = r.randrange(len(tok))
            b = tok[:i] + bytes([(tok[i] + 1) & 0xFF]) + tok[i + 1:]
        else:
            b = tok[:-1]
        pre, post = r.choice(NEIGHBOURS), r.choice(NEIGHBOURS)
        return pre + b + post, "%s:%s" % (kind, show(pre + b + post))

    def random_bytes(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    # -- families -----------------------------------------------------------

    def text_files(self, per_lang):
        r = self.rng
        for lang in sorted(WORDS):
            for i in range(per_lang):
                parts = [w.encode() for w in
                         self.words(lang, r.randrange(20, 700))]
                notes = []
                for _ in range(r.randrange(0, 6)):
                    tok = r.choice(TOKENS + ESCAPES + [GRUSSE, RULE_ZH])
                    b, note = self.variant(tok)
                    parts.insert(r.randrange(len(parts) + 1), b)
                    notes.append(note)
                data = b" ".join(parts)
                where = r.random()
                if where < 0.15:
                    tok = r.choice(TOKENS)
                    data = tok + data
                    notes.append("first:" + show(tok))
                elif where < 0.3:
                    tok = r.choice(TOKENS)
                    data = data + tok
                    notes.append("last:" + show(tok))
                self.add("text_%s_%02d.txt" % (lang, i), data,
                         " ".join(notes))

    def utf16_files(self, n):
        r = self.rng
        for i in range(n):
            lang = r.choice(sorted(WORDS))
            words = self.words(lang, r.randrange(10, 200))
            notes = []
            for _ in range(r.randrange(1, 4)):
                tok = r.choice(TOKENS)
                if r.random() < 0.5:
                    tok = self.case_variant(tok)
                words.insert(r.randrange(len(words) + 1), tok.decode())
                notes.append("wide:" + show(tok))
            data = " ".join(words).encode("utf-16le")
            if i % 2 == 0:
                data = b"\xff\xfe" + data
                notes.append("bom")
            self.add("utf16_%02d.txt" % i, data, " ".join(notes))

    def binary_files(self, n):
        r = self.rng
        hexpats = [b"MZ\x90\x00", b"MZ\x00\x00\x50\x45", b"\xab\xcd\xef",
                   b"\xc0\xff\xee", b"\xc0\xde", b"\xc0\xde\x00",
                   b"PE\x00\x00", b"\x7fELF"]
        for i in range(n):
            size = r.randrange(16, 4096)
            data = bytearray(self.random_bytes(size))
            notes = []
            for _ in range(r.randrange(0, 6)):
                if r.random() < 0.5:
                    b, note = self.variant(r.choice(TOKENS + ESCAPES))
                else:
                    b = r.choice(hexpats)
                    if b == b"\xab\xcd\xef":
                        k = r.randrange(0, 7)
                        b = b"\xab\xcd" + self.random_bytes(k) + b"\xef"
                        note = "hexjump:%d" % k
                    else:
                        note = "hex:" + b.hex()
                at = r.randrange(len(data) + 1)
                data[at:at] = b
                notes.append(note)
            # Never start with a container or executable magic: vigil
            # would unpack or classify it and the comparison is about
            # plain matching.
            if r.random() < 0.2:
                tok = r.choice(TOKENS)
                data[0:0] = tok
                notes.append("first:" + show(tok))
            else:
                data[0:0] = b"BIN\x00"
            if r.random() < 0.2:
                tok = r.choice(TOKENS)
                data += tok
                notes.append("last:" + show(tok))
            self.add("bin_%02d.bin" % i, bytes(data), " ".join(notes))

    def edge_files(self):
        r = self.rng
        filler = b" ".join(w.encode() for w in self.words("en", 40))
        for tok in TOKENS:
            t = tok.decode()
            self.add("first_%s.txt" % t, tok + b" " + filler, "first:" + t)
            self.add("last_%s.txt" % t, filler + b" " + tok, "last:" + t)
            self.add("only_%s.txt" % t, tok, "only:" + t)
            self.add("widefirst_%s.bin" % t, wide(tok) + wide(filler[:40]),
                     "wide first:" + t)
            self.add("widelast_%s.bin" % t, wide(filler[:40]) + wide(tok),
                     "wide last:" + t)
        for tok in ESCAPES:
            name = tok.hex()
            self.add("esc_%s.txt" % name, filler + tok + filler,
                     "escape:" + show(tok))
            near = tok[:-1] + bytes([(tok[-1] + 1) & 0xFF])
            self.add("escnear_%s.txt" % name, filler + near + filler,
                     "escape near miss:" + show(near))
        for n in range(1, 10):
            self.add("run_a_%d.txt" % n, b"a" * n, "run of %d a" % n)
        for n in range(1, 6):
            self.add("run_ab_%d.txt" % n, b"ab" * n, "ab x %d" % n)
        for n in range(1, 5):
            self.add("run_aab_%d.txt" % n, b"x" + b"a" * n + b"b",
                     "x a{%d} b" % n)
        self.add("abcab_overlap3.txt", b"abcabcabcab", "abcab x3 overlapping")
        self.add("abcab_overlap2.txt", b"abcabcab", "abcab x2 overlapping")
        self.add("empty.txt", b"", "empty file")
        for n in range(0, 9):
            parts = [filler] * (n + 1)
            self.add("count_needle_%d.txt" % n,
                     b" needle ".join(parts), "needle x %d" % n)
            self.add("count_NEEDLE_%d.txt" % n,
                     b" NeEdLe ".join(parts), "NeEdLe x %d" % n)
        for off in (0, 1, 9, 10, 11, 99, 100, 101, 1000, 1023, 1024):
            body = (filler * 40)[:off] + b"Quokka" + filler[:200]
            self.add("offset_%04d.txt" % off, body, "Quokka at %d" % off)
        for size in (1, 1023, 1024, 1025, 2047, 2048, 2049, 3071, 3072,
                     3073, 10240, 1048575, 1048576, 1048577):
            body = (filler + b"\n") * (size // len(filler) + 1)
            self.add("size_%07d.txt" % size, body[:size], "size %d" % size)
        for i in range(36):
            pre, post = r.choice(NEIGHBOURS), r.choice(NEIGHBOURS)
            form = r.choice([b"word", b"WORD", b"Word"])
            self.add("fullword_%02d.txt" % i, filler[:30] + pre + form +
                     post + filler[:30], "fullword " + show(pre + form + post))
        wide_cases = [b"a\x00" + wide(b"word") + b" \x00",
                      b"a" + wide(b"word") + b" \x00",
                      b"a\x01" + wide(b"word"),
                      wide(b"word") + b"b\x01",
                      wide(b"word") + b"b\x00",
                      b"\x00a" + wide(b"word"),
                      wide(b"1word"), wide(b" word "), wide(b"_word_"),
                      wide(b"WORD9"), b"\xe9\x00" + wide(b"word")]
        for i, data in enumerate(wide_cases):
            self.add("fullwide_%02d.bin" % i, data,
                     "wide fullword " + show(data))
        regex_cases = [
            (b"BEGIN middle END", "BEGIN..END"),
            (b"BEGIN middle END\n", "BEGIN..END + newline"),
            (b"xBEGIN middle END", "not at start"),
            (b"BEGIN\nEND", "BEGIN newline END"),
            (b"foo bar", "foo bar"), (b"foo\nbar", "foo LF bar"),
            (b"foo\rbar", "foo CR bar"), (b"foo\x00bar", "foo NUL bar"),
            (b"date 2024-06-11 and 1999-12-31", "two dates"),
            (b"date 2024-6-11 and 3024-06-11", "date near misses"),
            (b"mail alice@example.com bob_1@test.org", "two emails"),
            (b"mail alice@example.comx ALICE@EXAMPLE.COM", "email variants"),
            (b"color colour colouur", "colou?r"),
            (b"xy xay xaay xaaay xaaaay", "x a{0..4} y"),
            (b"tab  \t\v here tab\there tabhere", "whitespace"),
            (b"needles haystack needle", "alternation"),
            (b"123 4567 89 0000000000", "digit runs"),
            (b"$()[].* literal specials", "regex specials"),
            (b"qi qu q\x00 Qa", "q not u"),
            (b"Quokka and then vigil", "Quokka..vigil"),
            (b"Quokka" + b" padding" * 10 + b" vigil", "Quokka far vigil"),
            (b"GR\xc3\xbc\xc3\x9fE and GR\xc3\x9cSSE", "grusse case"),
            (b"word_ word-word _word", "word boundaries"),
            (b"aab ab aaab b", "a{2,3}b"),
        ]
        for i, (data, note) in enumerate(regex_cases):
            self.add("regex_%02d.txt" % i, data, note)
        self.add("combo_3_of_4.txt", b"one vigil two QUOKKA three " +
                 wide(b"needle") + b" four", "vigil QUOKKA wide needle")
        self.add("combo_needle_quokka.txt", filler[:50] + b" needle " +
                 filler[:50] + b" Quokka", "needle, then Quokka not at 0")
        for k in range(0, 8):
            data = (b"HEX" + b"\xab\xcd" + bytes(range(0x10, 0x10 + k)) +
                    b"\xef" + b"END")
            self.add("hexjump_%d.bin" % k, data, "AB CD +%d EF" % k)
        hex_cases = [
            b"MZ\x90\x00rest", b"MZ\x00\x00rest", b"MZ\x90\x01rest",
            b"MZ\x90\x00\x11\x22PE", b"MZ\x90\x04\x11\x22\x33NE",
            b"MZ\x90\x04\x11\x22\x33\x44\x55\x66PE",
            b"\xc0\xff\xee\x00", b"\xc0\xde\x00", b"\xc0\xdf\x00",
            b"\xc0\xff\x00\x00", b"\x4b\xcd", b"\xab\xcd\x0f", b"\x1b\xcd",
            b"\xab\xc5\xef", b"\xab\xd5\xef", b"n\x00e\x00e\x00d\x00",
        ]
        for i, data in enumerate(hex_cases):
            self.add("hex_%02d.bin" % i, b"H" + data + b"T",
                     "hex " + show(data))

    def write_manifest(self, path):
        with open(path, "w", encoding="utf-8") as f:
            for name, size, note in self.manifest:
                f.write("%s\t%d\t%s\n" % (name, size,
                                          note.replace("\n", "\\n")))


# --------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------

def rule(name, strings, condition):
    s = "rule %s\n{\n\tmeta:\n\t\tclause = \"IV.9(7)\"\n" \
        "\t\tseverity = \"low\"\n\t\tdescription = \"yara_diff %s\"\n" % (
            name, name)
    if strings:
        s += "\tstrings:\n"
        for k, v in strings:
            s += "\t\t%s = %s\n" % (k, v)
    s += "\tcondition:\n\t\t%s\n}\n\n" % condition
    return s


def one(name, string, cond="$a"):
    return rule(name, [("$a", string)], cond)


def text_rules():
    out = [
        one("t_plain", '"vigil"'),
        one("t_case_sensitive", '"Quokka"'),
        one("t_nocase", '"quokka" nocase'),
        one("t_ascii_explicit", '"xyzzy" ascii'),
        one("t_wide", '"needle" wide'),
        one("t_ascii_wide", '"needle" ascii wide'),
        one("t_wide_nocase", '"NEEDLE" wide nocase'),
        one("t_ascii_wide_nocase", '"XyZzY" ascii wide nocase'),
        one("t_fullword", '"word" fullword'),
        one("t_fullword_nocase", '"WORD" fullword nocase'),
        one("t_fullword_wide", '"word" wide fullword'),
        one("t_fullword_all", '"word" ascii wide nocase fullword'),
        one("t_fullword_underscore", '"foo_bar" fullword'),
        one("t_fullword_digits", '"Zebra42" fullword'),
        one("t_esc_quote", r'"say \"hi\""'),
        one("t_esc_backslash", r'"back\\slash"'),
        one("t_esc_tab", r'"tab\there"'),
        one("t_esc_crlf", r'"cr\rlf\n"'),
        one("t_esc_hex", r'"\x01ctl\xff"'),
        one("t_esc_hex_upper", r'"\x01CTL\xFF" nocase'),
        one("t_utf8", r'"gr\xc3\xbc\xc3\x9fe"'),
        one("t_utf8_nocase", r'"GR\xc3\xbc\xc3\x9fE" nocase'),
        one("t_utf8_zh", r'"\xe8\xa7\x84\xe5\x88\x99"'),
        one("t_mixed_case_lit", '"HeLLo"'),
        one("t_mixed_case_nocase", '"hello" nocase'),
        one("t_overlap_abcab", '"abcab"', "#a == 2"),
        one("t_overlap_abab", '"abab"', "#a >= 2"),
    ]
    for n in (1, 2, 3, 5, 8):
        out.append(one("t_count_aa_%d" % n, '"aa"', "#a == %d" % n))
    out.append(one("t_count_aa_nocase", '"AA" nocase', "#a == 4"))
    out.append(one("t_count_wide_ascii", '"needle" ascii wide',
                   "#a >= 2"))
    return out


def hex_rules():
    return [
        one("h_plain", "{ 4D 5A 90 00 }"),
        one("h_wildcard", "{ 4D 5A ?? 00 }"),
        one("h_nibble_low", "{ AB C? EF }"),
        one("h_nibble_high", "{ ?B CD }"),
        one("h_nibble_both", "{ C0 ?F E? }"),
        one("h_jump_fixed", "{ AB CD [2] EF }"),
        one("h_jump_range", "{ AB CD [0-3] EF }"),
        one("h_jump_range_high", "{ AB CD [2-5] EF }"),
        one("h_jump_exact_6", "{ AB CD [6-6] EF }"),
        one("h_alt", "{ C0 ( FF EE | DE ) }"),
        one("h_alt_wild", "{ C0 ( FF ?? | DE ) 00 }"),
        one("h_combo", "{ 4D 5A ?? 0? [1-4] ( 50 45 | 4E 45 ) }"),
        one("h_ascii", "{ 51 75 6F 6B 6B 61 }"),
        one("h_wide_bytes", "{ 6E 00 65 00 65 00 }"),
        one("h_jump_overlap_1", "{ 61 [1-3] 61 }", "#a == 1"),
        one("h_jump_overlap_3", "{ 61 [1-3] 61 }", "#a == 3"),
        one("h_jump_overlap_ge5", "{ 61 [0-2] 61 }", "#a >= 5"),
        one("h_jump_b_count", "{ 61 [0-2] 62 }", "#a == 3"),
        one("h_alt_count", "{ 61 ( 61 | 61 62 ) }", "#a == 2"),
    ]


def regex_rules():
    out = [
        one("r_plain", "/Quokka/"),
        one("r_i", "/quokka/i"),
        one("r_class_digits", "/Zebra[0-9]{2}/"),
        one("r_date", "/(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]/"),
        one("r_date_count", "/(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]/",
            "#a == 2"),
        one("r_email", r"/[a-z0-9._]{1,20}@[a-z0-9]{1,20}\.(com|org|net)/"),
        one("r_email_i", r"/[a-z0-9._]{1,20}@[a-z0-9]{1,20}\.com/i"),
        one("r_dot", "/foo.bar/"),
        one("r_dot_s", "/foo.bar/s"),
        one("r_dot_is", "/FOO.BAR/is"),
        one("r_anchor_start", "/^BEGIN/"),
        one("r_anchor_end", "/END$/"),
        one("r_anchor_both", "/^BEGIN[^\\n]{0,40}END$/"),
        one("r_anchor_start_token", "/^(vigil|Quokka|needle)/"),
        one("r_anchor_end_token", "/(vigil|Quokka|needle)$/"),
        one("r_alt", "/(needle|haystack)s?/"),
        one("r_alt_count", "/(needle|haystack)s?/", "#a == 3"),
        one("r_plus_count_1", "/a+b/", "#a == 1"),
        one("r_plus_count_3", "/a+b/", "#a == 3"),
        one("r_star", "/xa*y/", "#a >= 3"),
        one("r_question", "/colou?r/", "#a == 2"),
        one("r_neg_class", "/q[^u]/", "#a >= 2"),
        one("r_specials", r"/\$\(\)\[\]\.\*/"),
        one("r_hex_escape", r"/\x01ctl\xff/"),
        one("r_ws", r"/tab\s+here/"),
        one("r_ws_count", r"/tab\s*here/", "#a == 3"),
        one("r_word_class", r"/\w+_bar/"),
        one("r_digit_run", r"/[0-9]{3}/", "#a >= 8"),
        one("r_digit_class", r"/\d\d\D/", "#a >= 2"),
        one("r_utf8_i", r"/gr\xc3\xbc\xc3\x9fe/i"),
        one("r_bounded_gap", "/Quokka.{0,20}vigil/"),
        one("r_bounded_gap_far", "/Quokka.{0,100}vigil/"),
        one("r_brace", "/a{2,3}b/", "#a == 2"),
        one("r_nul", r"/foo\x00bar/"),
        one("r_upper_class_i", "/HELLO[ \\t]/i"),
        one("r_group_repeat", "/(ab){2}/", "#a >= 2"),
        one("r_nondigit_space", r"/\S+@\S+/", "#a >= 1"),
    ]
    return out


def edge_rules():
    """Regex syntax beyond the core subset; each may fail on its own."""
    return [
        one("e_word_boundary", r"/\bword\b/"),
        one("e_word_boundary_count", r"/\bword\b/", "#a >= 2"),
        one("e_lazy", "/Qu.{0,10}?ka/"),
        one("e_open_range", "/xa{2,}y/", "#a == 3"),
        one("e_no_min_range", "/xa{,2}y/", "#a == 3"),
        one("e_nonword_boundary", r"/\Bord/"),
    ]


def cond_rules():
    q = ('$q', '"Quokka"')
    n = ('$n', '"needle"')
    out = []
    for op, k in (("==", 3), ("!=", 3), ("<", 3), ("<=", 3), (">", 3),
                  (">=", 3), ("==", 0), (">", 0)):
        name = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt",
                ">=": "ge"}[op]
        out.append(rule("c_count_%s_%d" % (name, k), [n],
                        "#n %s %d and filesize < 4KB" % (op, k)))
    for off in (0, 1, 10, 100, 1000, 1024):
        out.append(rule("c_at_%d" % off, [q], "$q at %d" % off))
    for lo, hi in ((0, 10), (10, 100), (11, 99), (100, 101), (1000, 1024),
                   (1025, 5000)):
        out.append(rule("c_in_%d_%d" % (lo, hi), [q],
                        "$q in (%d..%d)" % (lo, hi)))
    out += [
        rule("c_fs_eq_1kb", [], "filesize == 1KB"),
        rule("c_fs_lt_2kb", [], "filesize < 2KB and filesize > 1KB"),
        rule("c_fs_le_3kb", [], "filesize <= 3KB and filesize >= 2KB"),
        rule("c_fs_ne", [], "filesize != 1024 and filesize < 1025"),
        rule("c_fs_gt_10kb", [], "filesize > 10KB"),
        rule("c_fs_mb", [], "filesize >= 1MB"),
        rule("c_fs_mb_eq", [], "filesize == 1MB"),
        rule("c_fs_zero", [], "filesize == 0"),
        rule("c_fs_and_string", [q], "$q and filesize < 1KB"),
    ]
    set4 = [("$k1", '"vigil"'), ("$k2", '"Quokka" nocase'),
            ("$k3", '"needle" wide'), ("$x", "{ 4D 5A ?? 00 }")]
    out += [
        rule("c_any_of_them", set4, "any of them"),
        rule("c_all_of_them", [("$a", '"Quokka"'), ("$b", '"vigil"')],
             "all of them"),
        rule("c_2_of_them", set4, "2 of them"),
        rule("c_3_of_them", set4, "3 of them"),
        rule("c_1_of_them", set4, "1 of them"),
        rule("c_any_of_wild", set4, "any of ($k*) and not $x"),
        rule("c_all_of_wild", [("$k1", '"Quokka"'), ("$k2", '"vigil"'),
                               ("$z", '"xyzzy"')],
             "all of ($k*) and not $z"),
        rule("c_n_of_mixed", set4, "2 of ($k*, $x)"),
        rule("c_n_of_list", set4, "2 of ($k1, $k3, $x) or #k2 > 100"),
        rule("c_true_and", [q], "true and $q"),
        rule("c_false_or", [q], "false or $q"),
        rule("c_not", [q], "not $q and filesize < 100"),
        rule("c_not_false", [q], "not false and $q at 0"),
        rule("c_not_binds_loosely", [n],
             "not #n == 2 and not filesize >= 2KB"),
        rule("c_true", [], "true"),
        rule("c_precedence", [("$a", '"vigil"'), ("$b", '"Quokka"'),
                              ("$c", '"needle"')],
             "$a or $b and $c"),
        rule("c_precedence_not", [("$a", '"vigil"'), ("$b", '"Quokka"')],
             "not $a or $b"),
        rule("c_parens", [("$a", '"vigil"'), ("$b", '"Quokka"'),
                          ("$c", '"needle"'), ("$d", '"xyzzy"')],
             "($a or $b) and not ($c or $d)"),
        rule("c_nested", [("$a", '"vigil"'), ("$b", '"Quokka"'),
                          ("$c", '"needle"')],
             "(($a and not $b) or ($b and not $a)) and not $c"),
        rule("c_count_and_at", [q, n], "#n >= 1 and not $q at 0 and $q"),
        rule("c_regex_at", [("$r", "/Quok+a/")], "$r at 0 or $r at 1024"),
        rule("c_hex_in", [("$h", "{ AB CD [0-6] EF }")],
             "$h in (0..3)"),
    ]
    return out


# Pools for the random rules.
TEXT_POOL = ["vigil", "Quokka", "needle", "xyzzy", "foo_bar", "abcab",
             "HeLLo", "word", "Zebra42", "aa", "ab", "the", r"say \"hi\"",
             r"tab\there", r"\x01ctl\xff", r"gr\xc3\xbc\xc3\x9fe"]
MODS = [[], ["nocase"], ["wide"], ["ascii", "wide"], ["wide", "nocase"],
        ["fullword"], ["nocase", "fullword"], ["wide", "fullword"],
        ["ascii", "wide", "nocase", "fullword"], ["ascii"]]
HEX_POOL = ["{ 4D 5A ?? 00 }", "{ AB CD [0-3] EF }", "{ C0 ( FF EE | DE ) }",
            "{ ?B CD }", "{ 61 [1-2] 61 }", "{ 51 75 6F 6B }",
            "{ 6E 00 65 00 }", "{ 0? 63 74 6C }", "{ 2? 6E 65 }"]
REGEX_POOL = ["/Quo[a-z]{3}/", "/quokka/i", "/a+b/", "/needles?/",
              "/[0-9]{2,3}/", "/(vigil|xyzzy)/", "/foo.bar/s", "/^[A-Za-z]/",
              "/[a-z]$/", r"/\d+-\d+/", "/w[o0]rd/i", "/the [a-z]{3,5}/"]


def random_rules(rng, prefix, count):
    out = []
    for i in range(count):
        nstr = rng.randrange(1, 5)
        strings = []
        groups = ["a", "b"]
        for j in range(nstr):
            g = groups[j % 2]
            name = "$%s%d" % (g, j)
            kind = rng.random()
            if kind < 0.55:
                mods = rng.choice(MODS)
                s = '"%s"' % rng.choice(TEXT_POOL)
                if mods:
                    s += " " + " ".join(mods)
            elif kind < 0.8:
                s = rng.choice(HEX_POOL)
            else:
                s = rng.choice(REGEX_POOL)
            strings.append((name, s))
        names = [s[0] for s in strings]
        used = set()

        def atom():
            r = rng.random()
            v = rng.choice(names)
            if r < 0.3:
                used.add(v)
                return v
            if r < 0.45:
                used.add(v)
                return "#%s %s %d" % (v[1:], rng.choice(
                    ["==", "!=", "<", "<=", ">", ">="]), rng.randrange(0, 5))
            if r < 0.52:
                used.add(v)
                return "%s at %d" % (v, rng.choice([0, 1, 10, 100, 1000]))
            if r < 0.6:
                used.add(v)
                lo = rng.choice([0, 5, 10, 100, 1000])
                return "%s in (%d..%d)" % (v, lo, lo + rng.choice(
                    [0, 10, 100, 2000]))
            if r < 0.68:
                return "filesize %s %dKB" % (rng.choice(
                    ["<", "<=", ">", ">="]), rng.choice([1, 2, 3, 10]))
            if r < 0.78:
                used.update(names)
                return "%s of them" % rng.choice(
                    ["any", "all"] + [str(k) for k in
                                      range(1, len(names) + 1)])
            if r < 0.9:
                g = rng.choice(groups)
                members = [x for x in names if x[1] == g]
                if not members:
                    return "true"
                used.update(members)
                extra = [x for x in names if x[1] != g]
                if extra and rng.random() < 0.5:
                    e = rng.choice(extra)
                    used.add(e)
                    k = rng.randrange(1, len(members) + 2)
                    return "%d of ($%s*, %s)" % (k, g, e)
                return "%s of ($%s*)" % (rng.choice(
                    ["any", "all", "1"]), g)
            return rng.choice(["true", "false"])

        def expr(depth):
            if depth == 0 or rng.random() < 0.35:
                a = atom()
                return "not " + a if rng.random() < 0.15 else a
            op = rng.choice(["and", "or"])
            left, right = expr(depth - 1), expr(depth - 1)
            e = "%s %s %s" % (left, op, right)
            if rng.random() < 0.6:
                e = "(%s)" % e
            if rng.random() < 0.1:
                e = "not (%s)" % e
            return e

        cond = expr(3)
        missing = [x for x in names if x not in used]
        if missing:
            cond = "(%s) and %s" % (cond, " and ".join(
                "#%s >= 0" % x[1:] for x in missing))
        out.append(rule("%s_%02d" % (prefix, i), strings, cond))
    return out


SYNTAX_MAIN = """/*
 * Syntax beyond single rules: include, tags, comments in odd places,
 * meta of every type, strings and conditions over several lines.
 */
include "inc/included.yar"

rule s_tags : tagone tagtwo
{
	meta:
		clause = "network-safety"
		severity = "medium"
		author = "yara_diff"		// extra meta is kept
		version = 3
		reviewed = true
	strings:
		$a = "vigil" /* inline comment */ nocase
		$b = { 4D 5A // comment inside a hex string
		       ?? 00 }
	condition:
		$a or
		$b
}

rule s_comment_in_string
{
	meta:
		clause = "IV.9(8)"
		severity = "high"
	strings:
		$a = "foo//bar"
		$b = "/*Quokka*/"
		$c = "Quokka"
	condition:
		($a or $b or $c) and not $b
}
"""

SYNTAX_INCLUDED = """// Included from syntax.yar, path relative to that file.
rule s_included
{
	meta:
		clause = "IV.9(1)"
		severity = "critical"
	strings:
		$a = "needle" fullword
	condition:
		#a >= 2
}
"""


def write_rule_file(path, rules):
    with open(path, "w") as f:
        f.write("// Generated by yara_diff.py (seed %d); do not edit.\n\n"
                % SEED)
        f.write("".join(rules))


def discriminating(yara, path, rules, corpus, nfiles, keep):
    """The first `keep` rules that yara finds in some but not all files.

    Random conditions are often constant (true for every file or none);
    those test little, so the candidates are filtered with yara.  yara is
    deterministic, so the kept set is too.
    """
    write_rule_file(path, rules)
    pairs, err = yara_pairs(yara, path, corpus)
    if err:
        raise RuntimeError("generated rules do not compile: " + err)
    count = {}
    for _, r in pairs:
        count[r] = count.get(r, 0) + 1
    return [r for r in rules
            if 0 < count.get(r.split()[1], 0) < nfiles][:keep]


def write_rules(rules_dir, rng, yara, corpus, nfiles):
    files = {
        "text.yar": text_rules(),
        "hex.yar": hex_rules(),
        "regex.yar": regex_rules(),
        "regex_edge.yar": edge_rules(),
        "cond.yar": cond_rules(),
    }
    hand = set()
    for name, rules in sorted(files.items()):
        write_rule_file(os.path.join(rules_dir, name), rules)
        for r in rules:
            hand.add(r.split()[1])
    os.makedirs(os.path.join(rules_dir, "inc"))
    with open(os.path.join(rules_dir, "inc", "included.yar"), "w") as f:
        f.write(SYNTAX_INCLUDED)
    with open(os.path.join(rules_dir, "syntax.yar"), "w") as f:
        f.write(SYNTAX_MAIN)
    files["syntax.yar"] = None
    hand.update(["s_tags", "s_comment_in_string", "s_included"])
    for k in range(4):
        name = "random_%d.yar" % k
        path = os.path.join(rules_dir, name)
        files[name] = discriminating(
            yara, path, random_rules(rng, "rnd%d" % k, 90), corpus, nfiles,
            30)
        write_rule_file(path, files[name])
    return sorted(files), hand


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def run(cmd, env=None):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env)


def rel(corpus, path):
    return os.path.relpath(os.path.realpath(path), os.path.realpath(corpus))


def yara_pairs(yara, rulefile, corpus):
    p = run([yara, "-w", "-r", rulefile, corpus])
    if p.returncode != 0:
        return None, "yara exit %d: %s" % (p.returncode, p.stderr.strip())
    pairs = set()
    for line in p.stdout.splitlines():
        r, _, path = line.partition(" ")
        pairs.add((rel(corpus, path), r))
    return pairs, None


def vigil_pairs(vigil, rulefile, corpus, files, engine):
    env = dict(os.environ)
    env.pop("VIGIL_ENGINE", None)
    if engine != "default":
        env["VIGIL_ENGINE"] = engine
    p = run([vigil, "scan", "--json", "--rules", rulefile] + files, env=env)
    if p.returncode not in (0, 1):
        return None, {}, "vigil exit %d: %s" % (p.returncode,
                                                p.stderr.strip()[:2000])
    pairs, offsets, notes = set(), {}, []
    deeper = []
    seen = set()
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            notes.append("not JSON: %r" % line[:200])
            continue
        f = rel(corpus, obj.get("object", ""))
        seen.add(f)
        if obj.get("verdict") not in ("clean", "flagged"):
            notes.append("%s: verdict %s %s" % (
                f, obj.get("verdict"), json.dumps(obj.get("problems"))))
        for m in obj.get("matches") or []:
            path = m.get("path") or [obj.get("object")]
            if len(path) > 1:
                deeper.append("%s in %s" % (m.get("rule"), " > ".join(
                    [f] + [str(x) for x in path[1:]])))
                continue
            pairs.add((f, m.get("rule")))
            offsets[(f, m.get("rule"))] = m.get("offset")
    if deeper:
        notes.append("%d match(es) only in members or the text layer, not "
                     "compared, e.g. %s" % (len(deeper),
                                            "; ".join(deeper[:3])))
    missing = sorted({rel(corpus, x) for x in files} - seen)
    if missing:
        # Exit status 1 means "flagged", but also a crash: insist on one
        # object per file.
        return None, {}, "vigil exit %d, no object for %d file(s) (%s)\n%s" % (
            p.returncode, len(missing), ", ".join(missing[:5]),
            p.stderr.strip()[:2000])
    return pairs, offsets, "\n".join(notes) if notes else None


def rule_texts(rulefile):
    """{name: source} of the rules in a generated file and its includes."""
    with open(rulefile) as f:
        text = f.read()
    out = {}
    for inc in re.findall(r'^include "([^"]+)"', text, re.M):
        out.update(rule_texts(os.path.join(os.path.dirname(rulefile), inc)))
    for m in re.finditer(r"^rule (\w+).*?^}", text, re.M | re.S):
        out[m.group(1)] = m.group(0)
    return out


def rule_names(rulefile):
    return list(rule_texts(rulefile))


def rule_source(rulefile, name):
    return rule_texts(rulefile).get(name, "(rule not found)")


def yara_strings(yara, rulefile, name, path):
    p = run([yara, "-w", "-s", "-i", name, rulefile, path])
    return "\n".join("      " + line for line in
                     p.stdout.splitlines()[:12]) or "      (no match)"


def self_check(yara, rules_dir, rulefiles, hand, corpus, nfiles, strict):
    """Every hand-written rule matches some file and misses some file."""
    bad = []
    trivial = 0
    for rf in rulefiles:
        pairs, err = yara_pairs(yara, os.path.join(rules_dir, rf), corpus)
        if err:
            bad.append("%s: %s" % (rf, err))
            continue
        count = {}
        for _, r in pairs:
            count[r] = count.get(r, 0) + 1
        for r in rule_names(os.path.join(rules_dir, rf)):
            c = count.get(r, 0)
            if 0 < c < nfiles:
                continue
            if r in hand and r != "c_true":
                bad.append("%s: %s matches %d of %d files" % (rf, r, c,
                                                               nfiles))
            else:
                trivial += 1
    print("self-check: %d random/true rules match all or no file" % trivial)
    for b in bad:
        print(("ERROR " if strict else "warning ") + "self-check: " + b)
    return not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vigil")
    ap.add_argument("workdir")
    ap.add_argument("--engine", choices=["default", "pcre2", "both"],
                    default="both")
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--yara", default=os.environ.get("YARA") or
                    shutil.which("yara"))
    a = ap.parse_args()
    if not a.yara:
        print("SKIP: the yara program is not installed")
        return SKIP

    rng = random.Random(SEED)
    corpus = os.path.join(a.workdir, "corpus")
    rules_dir = os.path.join(a.workdir, "rules")
    for d in (corpus, rules_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    c = Corpus(corpus, rng)
    c.text_files(12)
    c.utf16_files(16)
    c.binary_files(50)
    c.edge_files()
    c.write_manifest(os.path.join(a.workdir, "manifest.tsv"))
    notes = {n: note for n, _, note in c.manifest}
    files = sorted(os.path.join(corpus, n) for n in notes)
    rulefiles, hand = write_rules(rules_dir, rng, a.yara, corpus, len(files))
    print("yara_diff: %d corpus files, %d rule files in %s" %
          (len(files), len(rulefiles), a.workdir))

    ok = self_check(a.yara, rules_dir, rulefiles, hand, corpus, len(files),
                    a.self_check)
    if a.self_check:
        return 0 if ok else 1

    engines = ["default", "pcre2"] if a.engine == "both" else [a.engine]
    failures = 0
    total_rules = set()
    for engine in engines:
        for rf in rulefiles:
            path = os.path.join(rules_dir, rf)
            ypairs, err = yara_pairs(a.yara, path, corpus)
            if err:
                print("ERROR %s: %s" % (rf, err))
                failures += 1
                continue
            vpairs, offsets, note = vigil_pairs(a.vigil, path, corpus, files,
                                                engine)
            if vpairs is None:
                print("FAIL [%s] %s: %s" % (engine, rf, note))
                failures += 1
                continue
            if note:
                print("note [%s] %s:\n  %s" % (engine, rf,
                                               note.replace("\n", "\n  ")))
            names = rule_names(path)
            total_rules.update(names)
            for r in names:
                yf = {f for f, x in ypairs if x == r}
                vf = {f for f, x in vpairs if x == r}
                if yf == vf:
                    continue
                failures += 1
                print("\nFAIL [engine %s] %s: rule %s" % (engine, rf, r))
                print("  " + rule_source(path, r).replace("\n", "\n  "))
                for label, diff in (("yara only ", yf - vf),
                                    ("vigil only", vf - yf)):
                    for f in sorted(diff)[:8]:
                        print("  %s: %s  [%s]" % (label, f,
                                                  notes.get(f, "")))
                    if len(diff) > 8:
                        print("  %s: ... %d more" % (label, len(diff) - 8))
                first = sorted((yf - vf) | (vf - yf))[0]
                print("  yara -s on %s:" % first)
                print(yara_strings(a.yara, path, r,
                                   os.path.join(corpus, first)))
                if (first, r) in offsets:
                    print("  vigil offset: %s" % offsets[(first, r)])

    print("\nyara_diff: %d rules x %d files, engines %s: %s" % (
        len(total_rules), len(files), "+".join(engines),
        "PASS" if failures == 0 else "%d FAILURES" % failures))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
