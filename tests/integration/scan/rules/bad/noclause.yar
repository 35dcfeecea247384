/* Valid YARA, but the rule lacks the clause meta vigil requires. */
rule no_clause
{
    meta:
        severity = "high"
    strings:
        $a = "VIGIL"
    condition:
        $a
}
