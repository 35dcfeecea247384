/*
 * vigil rule pack for clause IV.9(5) of the platform terms:
 * content promoting cults and superstition.
 *
 * This pack ships ONLY a canary rule.  vigil's maintainers do not write
 * term lists for this clause: what falls under it is for the operator,
 * advised by its own reviewers and counsel, to decide.
 *
 * Operators add their own rules in a separate pack file, never in this
 * one (package upgrades replace the shipped packs):
 *
 *   1. Create e.g. local-iv9-5.yar in the rules directory given to
 *      --rules (every *.yar and *.yara file there is loaded).
 *   2. Every rule needs   clause = "IV.9(5)"   and a severity of
 *      "low", "medium", "high" or "critical"; add a description.
 *   3. Use only the YARA subset described in rules/README.md, so the
 *      file also compiles with the real yara 4.2.3.
 *   4. Check it:  vigil rules check RULES_DIR
 *                 yara -w RULES_DIR/local-iv9-5.yar /dev/null
 *   5. Keep a positive and a negative sample for every rule you add.
 *
 * The canary below matches only its marker string.  Upload a file holding
 * the marker to check, end to end, that this pack is loaded and that
 * IV.9(5) flags reach the review queue.  Severity is low so a canary
 * never counts against an account.
 */

rule vigil_canary_iv9_5
{
	meta:
		clause = "IV.9(5)"
		severity = "low"
		description = "Self-test canary for clause IV.9(5); matches only its marker string"

	strings:
		$canary = "VIGIL-CANARY-IV9-5-b042d9"

	condition:
		$canary
}
