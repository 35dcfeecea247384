/*
 * Plain text rules for the text-layer fixtures in tests/fixtures/text/.
 * The strings must stay equal to "needles" in that directory's
 * manifest.json; test_text.py checks that before it scans anything.
 * Nothing here knows about encodings, tags or escapes: finding the phrases
 * inside documents, PDFs, mail, pages and legacy charsets is the text
 * layer's job.
 */

rule needle_ascii
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        description = "ASCII needle planted in every text-layer fixture"

    strings:
        $a = "vigil needle casino royale" nocase

    condition:
        $a
}

rule needle_zh
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        description = "Chinese (simplified) needle, UTF-8"

    strings:
        $zh = "网上赌场加微信"

    condition:
        $zh
}

rule needle_zh_hant
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        description = "Chinese (traditional) needle, for Big5, UTF-8"

    strings:
        $zh = "網上賭場加微信"

    condition:
        $zh
}

rule needle_ja
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        description = "Japanese needle, for Shift_JIS and half-width kana"

    strings:
        $ja = "カジノ予約"

    condition:
        $ja
}

rule needle_ascii_raw
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        layer = "raw"
        description = "the ASCII needle in raw bytes only: must never fire on the text layer"

    strings:
        $a = "vigil needle casino royale" nocase

    condition:
        $a
}
