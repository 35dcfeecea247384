/*
 * vigil rule pack for clause IV.9(8) of the platform terms: insults,
 * slander and infringing others' rights.
 *
 * Shipped rules cover the part of the clause a pattern can judge: BULK
 * exposure of other people's personal data (a leaked customer list, a
 * spreadsheet of identity numbers).  One number in a file is somebody's
 * own form or an example; the rules want several.
 *
 * What a rule cannot check, and reviewers should know:
 *   - The last character of a resident identity number is an ISO 7064
 *     MOD 11-2 check digit and card numbers carry a Luhn digit; YARA
 *     conditions cannot compute either, so the shapes below (region
 *     digit, plausible birth date, card issuer prefix) stand in for them.
 *   - #x counts occurrences, not distinct values: one number repeated
 *     five times counts five.
 *   - Each number must have a non-digit on both sides, so one lying at
 *     the very first or last byte of a file is not counted.
 *
 * Operators add their own IV.9(8) rules in a separate pack file (e.g.
 * local-iv9-8.yar next to this one), never in this file; see README.md.
 */

rule iv9_8_cn_resident_id_list
{
	meta:
		clause = "IV.9(8)"
		severity = "high"
		description = "Five or more Chinese resident identity numbers (18 characters, birth date inside)"

	strings:
		/*
		 * 6-digit region code, birth date 19xx/20xx-MM-DD, 3-digit
		 * sequence, check character 0-9 or X; not part of a longer
		 * digit run.
		 */
		$id = /[^0-9][1-8][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx][^0-9]/

	condition:
		#id >= 5
}

rule iv9_8_payment_card_list
{
	meta:
		clause = "IV.9(8)"
		severity = "high"
		description = "Five or more 16-digit payment card numbers written in groups of four, in a file that speaks of cards"

	strings:
		/*
		 * Issuer prefixes: Visa 4, Mastercard 51-55 and 22-27,
		 * UnionPay 62, Discover 6011/644-649/65, JCB 35.  The first
		 * group is never 19xx or 20xx, so lists of years do not match.
		 * Groups separated consistently by spaces or by hyphens, and
		 * exactly four of them: the context on each side may not be
		 * a digit, nor a separator next to a digit, so a long run of
		 * 4-digit numbers (tables, PostScript) yields nothing.  yara
		 * warns that this string "may slow down scanning" (it has no
		 * literal atom); the warning is expected.
		 */
		$card = /([^0-9 -]|[^0-9][ -])(4[0-9]{3}|5[1-5][0-9]{2}|2[2-7][0-9]{2}|62[0-9]{2}|6011|64[4-9][0-9]|65[0-9]{2}|35[0-9]{2})( [0-9]{4} [0-9]{4} [0-9]{4}|-[0-9]{4}-[0-9]{4}-[0-9]{4})([^0-9 -]|[ -][^0-9])/

		/*
		 * Without a Luhn check, tables of 4-digit numbers (font
		 * metrics, catalogue data) still fit the shape, so the file
		 * must also speak of cards.
		 */
		$ctx1 = "card number" nocase
		$ctx2 = "card_number" nocase
		$ctx3 = "cardnumber" nocase
		$ctx4 = "card no" nocase
		$ctx5 = "cvv" nocase fullword
		$ctx6 = "cvc" nocase fullword
		$ctx7 = { E5 8D A1 E5 8F B7 }			// 卡号
		$ctx8 = { E4 BF A1 E7 94 A8 E5 8D A1 }		// 信用卡
		$ctx9 = { E9 93 B6 E8 A1 8C E5 8D A1 }		// 银行卡

	condition:
		#card >= 5 and any of ($ctx*)
}

rule iv9_8_cn_personal_data_table
{
	meta:
		clause = "IV.9(8)"
		severity = "medium"
		description = "Table of Chinese personal data: name and ID-number column headers, a contact column and three or more ID numbers"

	strings:
		$name = { E5 A7 93 E5 90 8D }				// 姓名
		$idcol = { E8 BA AB E4 BB BD E8 AF 81 }			// 身份证
		$contact1 = { E6 89 8B E6 9C BA E5 8F B7 }		// 手机号
		$contact2 = { E8 81 94 E7 B3 BB E7 94 B5 E8 AF 9D }	// 联系电话
		$contact3 = { E5 9C B0 E5 9D 80 }			// 地址
		$contact4 = { E9 93 B6 E8 A1 8C E5 8D A1 E5 8F B7 }	// 银行卡号
		$id = /[^0-9][1-8][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx][^0-9]/

	condition:
		$name and $idcol and any of ($contact*) and #id >= 3
}

/*
 * Self-test canary: matches only its marker string (see README.md).
 */
rule vigil_canary_iv9_8
{
	meta:
		clause = "IV.9(8)"
		severity = "low"
		description = "Self-test canary for clause IV.9(8); matches only its marker string"

	strings:
		$canary = "VIGIL-CANARY-IV9-8-6bf9f4"

	condition:
		$canary
}
