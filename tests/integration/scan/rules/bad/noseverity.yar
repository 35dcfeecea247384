/* Valid YARA, but the rule lacks the severity meta vigil requires. */
rule no_severity
{
    meta:
        clause = "IV.9(7)"
    strings:
        $a = "VIGIL"
    condition:
        $a
}
