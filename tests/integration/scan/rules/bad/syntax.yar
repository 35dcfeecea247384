/* Syntax error on line 7: a second '=' where the string should start. */
rule broken_syntax
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings: $a = = "VIGIL"
    condition:
        $a
}
