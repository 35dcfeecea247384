/*
 * vigil rule pack for clause IV.9(7) of the platform terms: obscenity,
 * pornography, gambling, violence, murder, terror or incitement to crime.
 *
 * Shipped rules cover one narrow, well-defined part of the clause: bulk
 * SPAM for online gambling and pornography, in English and Chinese.  A
 * single word ("casino", "博彩", "百家乐") is never enough: every rule wants
 * a gambling or sex term together with the machinery of spam (a sign-up
 * bonus, a contact lure such as "加微信", a click-through), so news,
 * novels and rule books stay clean.  A warning that quotes a whole spam
 * message can still match; that is why these rules are medium and a
 * reviewer decides.
 *
 * Chinese phrases are written as hex strings of their UTF-8 bytes (the
 * phrase is in the comment beside each): no string depends on how an
 * editor saves this file.  In raw bytes they match UTF-8 text only;
 * vigil's text layer ("#text") also presents GBK, UTF-16 and HTML text as
 * UTF-8, so such copies match there.  The real yara sees raw bytes only.
 *
 * Operators add their own IV.9(7) rules in a separate pack file (e.g.
 * local-iv9-7.yar next to this one), never in this file; see README.md.
 */

rule iv9_7_casino_spam_en
{
	meta:
		clause = "IV.9(7)"
		severity = "medium"
		description = "Online-casino spam: casino term plus two bonus offers plus a call to action"

	strings:
		$casino1 = "online casino" nocase
		$casino2 = "casino online" nocase
		$casino3 = "casino bonus" nocase
		$casino4 = "live casino" nocase
		$casino5 = "crypto casino" nocase

		$bonus1 = "free spins" nocase
		$bonus2 = "welcome bonus" nocase
		$bonus3 = "deposit bonus" nocase
		$bonus4 = "no deposit" nocase
		$bonus5 = "bonus code" nocase
		$bonus6 = "100% bonus" nocase
		$bonus7 = "100% match" nocase
		$bonus8 = "cashback" nocase fullword

		$cta1 = "sign up now" nocase
		$cta2 = "claim your" nocase
		$cta3 = "play now" nocase
		$cta4 = "click here" nocase
		$cta5 = "join now" nocase
		$cta6 = "register now" nocase
		$cta7 = "instant withdrawal" nocase
		$cta8 = "whatsapp" nocase fullword

	condition:
		any of ($casino*) and 2 of ($bonus*) and any of ($cta*)
}

rule iv9_7_gambling_spam_zh
{
	meta:
		clause = "IV.9(7)"
		severity = "medium"
		description = "Chinese gambling spam: gambling term plus contact lure plus deposit/winnings promise"

	strings:
		$game1 = { E5 8D 9A E5 BD A9 }			// 博彩
		$game2 = { E7 99 BE E5 AE B6 E4 B9 90 }		// 百家乐
		$game3 = { E7 BD 91 E4 B8 8A E8 B5 8C E5 9C BA }	// 网上赌场
		$game4 = { E7 BA BF E4 B8 8A E8 B5 8C E5 9C BA }	// 线上赌场
		$game5 = { E7 9C 9F E4 BA BA E8 8D B7 E5 AE 98 }	// 真人荷官
		$game6 = { E5 A8 B1 E4 B9 90 E5 9F 8E }		// 娱乐城
		$game7 = { E6 97 B6 E6 97 B6 E5 BD A9 }		// 时时彩
		$game8 = { E8 80 81 E8 99 8E E6 9C BA }		// 老虎机
		$game9 = { E4 BD 93 E8 82 B2 E6 8A 95 E6 B3 A8 }	// 体育投注
		$game10 = { E7 BD 91 E8 B5 8C }			// 网赌

		$contact1 = { E5 8A A0 E5 BE AE E4 BF A1 }	// 加微信
		$contact2 = { E5 BE AE E4 BF A1 E5 8F B7 }	// 微信号
		$contact3 = { E5 8A A0 ( 51 51 | 71 71 ) }	// 加QQ, 加qq
		$contact4 = { 51 51 E7 BE A4 }			// QQ群
		$contact5 = { E8 81 94 E7 B3 BB E5 AE A2 E6 9C 8D }	// 联系客服
		$contact6 = { E6 89 AB E7 A0 81 }		// 扫码
		$contact7 = { E7 BA B8 E9 A3 9E E6 9C BA }	// 纸飞机 (Telegram)
		$contact8 = { E5 8A A0 ( 56 | 76 ) }		// 加V, 加v
		$contact9 = { E8 96 87 E4 BF A1 }		// 薇信

		$promo1 = { E9 A6 96 E5 AD 98 }			// 首存
		$promo2 = { E6 B3 A8 E5 86 8C E9 80 81 }	// 注册送
		$promo3 = { E5 BD A9 E9 87 91 }			// 彩金
		$promo4 = { E8 BF 94 E6 B0 B4 }			// 返水
		$promo5 = { E6 97 A5 E8 B5 9A }			// 日赚
		$promo6 = { E7 A8 B3 E8 B5 9A }			// 稳赚
		$promo7 = { E5 8C 85 E8 B5 A2 }			// 包赢
		$promo8 = { E7 A7 92 E5 88 B0 E8 B4 A6 }	// 秒到账
		$promo9 = { E5 85 85 E5 80 BC E9 80 81 }	// 充值送

	condition:
		any of ($game*) and any of ($contact*) and any of ($promo*)
}

rule iv9_7_porn_spam_en
{
	meta:
		clause = "IV.9(7)"
		severity = "medium"
		description = "Pornography spam: two sex-spam phrases plus a sign-up or click-through lure"

	strings:
		$sex1 = "hot singles" nocase
		$sex2 = "horny" nocase fullword
		$sex3 = "sex chat" nocase
		$sex4 = "nude pics" nocase
		$sex5 = "nude photos" nocase
		$sex6 = "xxx videos" nocase
		$sex7 = "live sex" nocase
		$sex8 = "cam girls" nocase
		$sex9 = "adult dating" nocase
		$sex10 = "sex tonight" nocase
		$sex11 = "milfs" nocase fullword

		$lure1 = "click here" nocase
		$lure2 = "sign up free" nocase
		$lure3 = "no credit card" nocase
		$lure4 = "100% free" nocase
		$lure5 = "join free" nocase
		$lure6 = "chat now" nocase
		$lure7 = "in your area" nocase
		$lure8 = "verify your age" nocase

	condition:
		2 of ($sex*) and any of ($lure*)
}

rule iv9_7_porn_spam_zh
{
	meta:
		clause = "IV.9(7)"
		severity = "medium"
		description = "Chinese pornography spam: two sex-service phrases plus a contact lure"

	strings:
		$sex1 = { E7 BA A6 E7 82 AE }			// 约炮
		$sex2 = { E8 A3 B8 E8 81 8A }			// 裸聊
		$sex3 = { E4 B8 80 E5 A4 9C E6 83 85 }		// 一夜情
		$sex4 = { E5 90 8C E5 9F 8E E7 BA A6 }		// 同城约
		$sex5 = { E4 B8 8A E9 97 A8 E6 9C 8D E5 8A A1 }	// 上门服务
		$sex6 = { E6 88 90 E4 BA BA E8 A7 86 E9 A2 91 }	// 成人视频
		$sex7 = { E6 BF 80 E6 83 85 E8 A7 86 E9 A2 91 }	// 激情视频
		$sex8 = { E5 85 A8 E5 A5 97 E6 9C 8D E5 8A A1 }	// 全套服务
		$sex9 = { E6 97 A0 E7 A0 81 }			// 无码

		$contact1 = { E5 8A A0 E5 BE AE E4 BF A1 }	// 加微信
		$contact2 = { E5 BE AE E4 BF A1 E5 8F B7 }	// 微信号
		$contact3 = { E5 8A A0 ( 51 51 | 71 71 ) }	// 加QQ, 加qq
		$contact4 = { 51 51 E7 BE A4 }			// QQ群
		$contact5 = { E6 89 AB E7 A0 81 }		// 扫码
		$contact6 = { E7 BA B8 E9 A3 9E E6 9C BA }	// 纸飞机 (Telegram)
		$contact7 = { E5 8A A0 ( 56 | 76 ) }		// 加V, 加v
		$contact8 = { E8 96 87 E4 BF A1 }		// 薇信

	condition:
		2 of ($sex*) and any of ($contact*)
}

/*
 * Self-test canary: matches only its marker string (see README.md).
 */
rule vigil_canary_iv9_7
{
	meta:
		clause = "IV.9(7)"
		severity = "low"
		description = "Self-test canary for clause IV.9(7); matches only its marker string"

	strings:
		$canary = "VIGIL-CANARY-IV9-7-dc3b01"

	condition:
		$canary
}
