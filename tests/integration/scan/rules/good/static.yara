/*
 * Rules for the archives under tests/fixtures/static/, taken from
 * libarchive's test suite (see the README there): they cannot hold our
 * needle, so these match what they do hold.  The .yara extension is
 * deliberate: a rules directory takes *.yar and *.yara alike.
 */

rule static_rar4_kanji
{
    meta:
        clause = "IV.9(3)"
        severity = "medium"
        description = "the 5-byte member of test_read_format_rar_unicode.rar"

    strings:
        $a = "kanji"

    condition:
        $a
}

rule static_rar5_text
{
    meta:
        clause = "network-safety"
        severity = "low"
        description = "the text of test_read_format_rar5_unicode.rar"

    strings:
        $a = "This is from "

    condition:
        $a
}

rule static_lha_umlauts
{
    meta:
        clause = "IV.9(5)"
        severity = "critical"
        description = "UTF-8 \"äöüÄÖÜ\", test_read_format_lha_filename_utf16.lzh"

    strings:
        $a = { C3 A4 C3 B6 C3 BC C3 84 C3 96 C3 9C }

    condition:
        $a
}
