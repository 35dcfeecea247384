/*
 * vigil rule pack for "network-safety": content that attacks the platform
 * or its users rather than breaking a clause of IV.9 by what it says.
 * Webshells, cryptocurrency miners, phishing kits and the EICAR test file.
 *
 * Every rule wants a structural marker (a PHP or ASP tag, a config key,
 * a URL scheme) next to the telltale call or name, so security
 * documentation that merely mentions "eval", "stratum" or "phishtank"
 * stays clean.  Regexes start with a literal word (eval, assert, <%)
 * and allow only short runs of blanks, so they stay cheap to match.
 *
 * Operators add their own network-safety rules in a separate pack file
 * (e.g. local-network-safety.yar next to this one); see README.md.
 */

/* Webshells ---------------------------------------------------------- */

rule ns_webshell_php_eval_request
{
	meta:
		clause = "network-safety"
		severity = "critical"
		description = "PHP webshell: eval/assert of request input, possibly through a decoder (China Chopper PHP one-liner and kin)"

	strings:
		$php = "<?"
		$eval = /(eval|assert)[ \t]*\([ \t]*@?[ \t]*(base64_decode|gzinflate|gzuncompress|str_rot13|stripslashes|urldecode|rawurldecode)?[ \t]*\(?[ \t]*@?\$_(POST|GET|REQUEST|COOKIE)[ \t]*\[/i

	condition:
		$php and $eval
}

rule ns_webshell_china_chopper_asp
{
	meta:
		clause = "network-safety"
		severity = "critical"
		description = "China Chopper ASP/ASPX one-liner: eval of a request field"

	strings:
		$aspx = /eval[ \t]*\([ \t]*Request(\.Item)?[ \t]*\[[^\]\r\n]{1,64}\][ \t]*,[ \t]*"unsafe"/i
		$asp = /<%[ \t]*(eval|execute)[ \t]*\(?[ \t]*request[ \t]*\(/i

	condition:
		any of them
}

rule ns_webshell_php_packed_eval
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "PHP code that evals a compressed base64 blob, the usual wrapper of packed webshells"

	strings:
		$php = "<?"
		$eval = /eval[ \t]*\([ \t]*(gzinflate|gzuncompress|gzdecode|str_rot13)[ \t]*\([ \t]*(base64_decode|str_rot13)[ \t]*\(/i

	condition:
		$php and $eval
}

rule ns_webshell_banner
{
	meta:
		clause = "network-safety"
		severity = "critical"
		description = "Known webshell family name or default key inside server-side code that runs commands"

	strings:
		$tag1 = "<?"
		$tag2 = "<%"

		$name1 = "c99shell" nocase
		$name2 = "r57shell" nocase
		$name3 = "b374k" nocase
		$name4 = "wso_version"
		$name5 = "FilesMan"
		$name6 = "IndoXploit" nocase
		$name7 = "phpspy" nocase fullword
		$name8 = "e45e329feb5d925b"		// Behinder default AES key
		$name9 = "3c6e0b8a9c15224a"		// Godzilla default key

		$run1 = "shell_exec(" nocase
		$run2 = "passthru(" nocase
		$run3 = "proc_open(" nocase
		$run4 = "popen(" nocase
		$run5 = "system(" nocase
		$run6 = "openssl_decrypt(" nocase
		$run7 = "Runtime.getRuntime"
		$run8 = "Cipher.getInstance"
		$run9 = "WScript.Shell" nocase

	condition:
		any of ($tag*) and any of ($name*) and any of ($run*)
}

/* Cryptocurrency miners ---------------------------------------------- */

rule ns_miner_stratum_url
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "Mining pool URL with a stratum scheme"

	strings:
		$s1 = "stratum+tcp://" nocase
		$s2 = "stratum+ssl://" nocase
		$s3 = "stratum+tls://" nocase
		$s4 = "stratum2+tcp://" nocase

	condition:
		any of them
}

rule ns_miner_xmrig
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "XMRig miner: its JSON config keys, or its name with its command-line options (binary or launcher script)"

	strings:
		$cfg_donate = "\"donate-level\""
		$cfg_pools = "\"pools\""
		$cfg_key1 = "\"rig-id\""
		$cfg_key2 = "\"nicehash\""
		$cfg_key3 = "\"keepalive\""
		$cfg_key4 = "\"randomx\""

		$cli_donate = "--donate-level"
		$cli_name = "xmrig" nocase

	condition:
		($cfg_donate and $cfg_pools and any of ($cfg_key*))
		or ($cli_donate and $cli_name)
}

rule ns_miner_browser
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "In-browser cryptocurrency miner script (CoinHive and its clones)"

	strings:
		$js1 = "coinhive.min.js" nocase
		$js2 = "CoinHive.Anonymous"
		$js3 = "CoinHive.User"
		$js4 = "authedmine.com" nocase
		$js5 = "coin-hive.com" nocase
		$js6 = "cryptoloot.pro" nocase
		$js7 = "crypto-loot.com" nocase
		$js8 = "webmine.pro" nocase

	condition:
		any of them
}

rule ns_miner_pool_host
{
	meta:
		clause = "network-safety"
		severity = "medium"
		description = "Name of a well-known mining pool host; alone it may be a block list, so medium"

	strings:
		$p1 = "minexmr.com" nocase
		$p2 = "supportxmr.com" nocase
		$p3 = "xmrpool.eu" nocase
		$p4 = "moneroocean.stream" nocase
		$p5 = "nanopool.org" nocase
		$p6 = "hashvault.pro" nocase
		$p7 = "c3pool.com" nocase
		$p8 = "f2pool.com" nocase
		$p9 = "2miners.com" nocase
		$p10 = "herominers.com" nocase
		$p11 = "unmineable.com" nocase
		$p12 = "minergate.com" nocase
		$p13 = "monerohash.com" nocase
		$p14 = "ethermine.org" nocase

	condition:
		any of them
}

/* Phishing kits ------------------------------------------------------ */

rule ns_phish_kit_telegram_exfil
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "Phishing kit back end: posted credentials forwarded to a Telegram bot"

	strings:
		$php = "<?"
		$bot = "api.telegram.org/bot"
		$send = "sendMessage"
		$cred = /\$_(POST|REQUEST)[ \t]*\[[ \t]*['"](pass|password|passwd|pwd|pin|otp|cvv|ccnum|cardnumber)['"]/i

	condition:
		$php and $bot and $send and $cred
}

rule ns_phish_kit_mail_exfil
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "Phishing kit back end: posted credentials mailed out together with visitor geolocation or a results banner"

	strings:
		$php = "<?"
		$mail = "mail(" nocase
		$cred = /\$_(POST|REQUEST)[ \t]*\[[ \t]*['"](pass|password|passwd|pwd|pin|otp|cvv|ccnum|cardnumber)['"]/i

		$kit1 = "geoplugin.net/json.gp" nocase
		$kit2 = "geoplugin_countryName"
		$kit3 = "ip-api.com/json" nocase
		$kit4 = "rezult" nocase

	condition:
		$php and $mail and $cred and any of ($kit*)
}

rule ns_phish_kit_antibot
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "Phishing kit cloaking: server code that turns away the crawlers of anti-phishing services"

	strings:
		$php = "<?"
		$ua1 = "HTTP_USER_AGENT"
		$ua2 = "REMOTE_ADDR"
		$ua3 = "gethostbyaddr"

		$crawler1 = "phishtank" nocase
		$crawler2 = "netcraft" nocase
		$crawler3 = "safebrowsing" nocase
		$crawler4 = "spamhaus" nocase
		$crawler5 = "bitdefender" nocase
		$crawler6 = "kaspersky" nocase
		$crawler7 = "trendmicro" nocase
		$crawler8 = "surbl" nocase fullword

	condition:
		$php and any of ($ua*) and 3 of ($crawler*)
}

/* Test files --------------------------------------------------------- */

rule ns_eicar_test_file
{
	meta:
		clause = "network-safety"
		severity = "high"
		description = "EICAR anti-malware test string; like yara and clamscan, matched anywhere in the content"

	strings:
		/*
		 * The 68 characters EICAR publishes, with the one backslash
		 * escaped.  That escape also keeps this file itself from being
		 * the test string.
		 */
		$eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

	condition:
		$eicar
}

/*
 * Self-test canary: matches only its marker string (see README.md).
 */
rule vigil_canary_network_safety
{
	meta:
		clause = "network-safety"
		severity = "low"
		description = "Self-test canary for network-safety; matches only its marker string"

	strings:
		$canary = "VIGIL-CANARY-NS-d20c08"

	condition:
		$canary
}
