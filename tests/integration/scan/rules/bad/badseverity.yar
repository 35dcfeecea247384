/* Valid YARA, but severity must be low, medium, high or critical. */
rule bad_severity
{
    meta:
        clause = "IV.9(7)"
        severity = "urgent"
    strings:
        $a = "VIGIL"
    condition:
        $a
}
