/*
 * Rules for the fixtures tests/fixtures/mkfixtures.c writes.  The strings
 * must stay equal to NEEDLE and MARKER there; test_scan_cli.py checks that
 * against the manifest before it runs anything.
 */

rule test_needle
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
        description = "the needle planted in every generated fixture"

    strings:
        $needle = "VIGIL-NEEDLE-0c4f7a19e2b8"

    condition:
        $needle
}

rule test_marker
{
    meta:
        clause = "network-safety"
        severity = "critical"
        description = "a second marker, so clause and severity are per rule"

    strings:
        $marker = "VIGIL-SECOND-MARKER-5d2e"

    condition:
        $marker
}
