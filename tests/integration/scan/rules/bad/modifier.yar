/* Unknown string modifier "nocasey" on line 7. */
rule unknown_modifier
{
    meta:
        clause = "IV.9(7)"
        severity = "high"
    strings: $a = "VIGIL" nocasey
    condition:
        $a
}
