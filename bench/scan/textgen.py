"""Deterministic text, keyword and regex-hit generation for bench/scan.

Everything here draws from a random.Random the caller seeds, so a corpus is
the same bytes on every machine.  Text is assembled from pools of lines that
are built once from word lists: per-byte Python loops would make a few
hundred MB take minutes.

DESIGN: keywords never occur in the base text by construction, except one
small kind (three common English words) that occurs naturally now and then,
as real keyword lists do.  English keywords contain a pseudo-word that is not
a substring of any word in the base vocabulary; Chinese keywords contain at
least one character that the base text never uses.  The generator then
plants keywords and regex hits into a known subset of files.  The ground
truth the benchmark uses is still what the real yara reports, so a natural
hit is counted, not assumed away.
"""

import string

# The classic list of common English words; rank order is frequency order.
EN_COMMON = """the of and to a in is it you that he was for on are with as
I his they be at one have this from or had by word but what some we can out
other were all there when up use your how said an each she which do their
time if will way about many then them write would like so these her long make
thing see him two has look more day could go come did number sound no most
people my over know water than call first who may down side been now find any
new work part take get place made live where after back little only round man
year came show every good me give our under name very through just form
sentence great think say help low line differ turn cause much mean before
move right boy old too same tell does set three want air well also play small
end put home read hand port large spell add even land here must big high such
follow act why ask men change went light kind off need house picture try us
again animal point mother world near build self earth father head stand own
page should country found answer school grow study still learn plant cover
food sun four between state keep eye never last let thought city tree cross
farm hard start might story saw far sea draw left late run while press close
night real life few north open seem together next white children begin got
walk example ease paper group always music those both mark often letter until
mile river car feet care second book carry took science eat room friend began
idea fish mountain stop once base hear horse cut sure watch color face wood
main enough plain girl usual young ready above ever red list though feel talk
bird soon body dog family direct pose leave song measure door product black
short numeral class wind question happen complete ship area half rock order
fire south problem piece told knew pass since top whole king space heard best
hour better true during hundred five remember step early hold west ground
interest reach fast verb sing listen six table travel less morning ten simple
several vowel toward war lay against pattern slow center love person money
serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box
noun field rest correct able pound done beauty drive stood contain front
teach week final gave green quick develop ocean warm free minute strong
special mind behind clear tail produce fact street inch multiply nothing
course stay wheel full force blue object decide surface deep moon island foot
system busy test record boat common gold possible plane stead dry wonder
laugh thousand ago ran check game shape equate miss brought heat snow tire
bring yes distant fill east paint language among grand ball yet wave drop
heart present heavy dance engine position arm wide sail material size vary
settle speak weight general ice matter circle pair include divide syllable
felt perhaps pick sudden count square reason length represent art subject
region energy hunt probable bed brother egg ride cell believe fraction forest
sit race window store summer train sleep prove lone exercise wall catch mount
wish sky board joy winter sat written wild instrument kept glass grass cow
job edge sign visit past soft fun bright gas weather month million bear
finish happy hope flower clothe strange gone jump baby eight village meet
root buy raise solve metal whether push seven paragraph third shall held hair
describe cook floor either result burn hill safe cat century consider type
law bit coast copy phrase silent tall sand soil roll temperature finger
industry value fight lie beat excite natural view sense ear else quite broke
case middle kill son lake moment scale loud spring observe child straight
consonant nation dictionary milk speed method organ pay age section dress
cloud surprise quiet stone tiny climb cool design poor lot experiment bottom
key iron single stick flat twenty skin smile crease hole trade melody trip
office receive row mouth exact symbol die least trouble shout except wrote
seed tone join suggest clean break lady yard rise bad blow oil blood touch
grew cent mix team wire cost lost brown wear garden equal sent choose fell
fit flow fair bank collect save control decimal gentle woman captain practice
separate difficult doctor please protect noon whose locate ring character
insect caught period indicate radio spoke atom human history effect electric
expect crop modern element hit student corner party supply bone rail imagine
provide agree thus capital chair danger fruit rich thick soldier process
operate guess necessary sharp wing create neighbor wash bat rather crowd corn
compare poem string bell depend meat rub tube famous dollar stream fear sight
thin triangle planet hurry chief colony clock mine tie enter major fresh
search send yellow gun allow print dead spot desert suit current lift rose
continue block chart hat sell success company subtract event particular deal
swim term opposite wife shoe shoulder spread arrange camp invent cotton born
determine quart nine truck noise level chance gather shop stretch throw shine
property column molecule select wrong gray repeat require broad prepare salt
nose plural anger claim continent oxygen sugar death pretty skill women
season solution magnet silver thank branch match suffix especially fig afraid
huge sister steel discuss forward similar guide experience score apple bought
led pitch coat mass card band rope slip win dream evening condition feed tool
total basic smell valley nor double seat arrive master track parent shore
division sheet substance favor connect post spend chord fat glad original
share station dad bread charge proper bar offer segment slave duck instant
market degree populate chick dear enemy reply drink occur support speech
nature range steam motion path liquid log meant quotient teeth shell
neck""".split()

# Common Chinese characters, roughly in frequency order: the base text uses
# only these.
ZH_COMMON = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生"
    "会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文"
    "无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与"
    "高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很"
    "业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内"
    "加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命"
    "张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界"
    "及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字"
    "请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变"
    "联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量"
    "空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越"
    "史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵"
    "弟谁校读志飞观争究包组造落视济喜离虽坏兴切")

# Characters that appear in Chinese policy keywords; those also in
# ZH_COMMON are dropped, so every keyword character taken from here is one
# the base text never contains.
ZH_KEYWORD = (
    "赌博彩票枪支毒品诈骗洗钱贩卖假证考黑客裸聊嫖迷药冰麻古氯胺酮罂粟娱乐弈私挂"
    "刷套贷孕弹炸恐袭暴邪销售灰产泄露盗號卡密码账户跑分菠菜棋牌捕鱼赔率庄闲骰"
    "虚拟币矿杠杆荐股喊单杀猪盘博弈菜码筹佣返水提款冲拉群引流粉丝")

PUNCT_ZH = "，，，，。、；："

SYL_ONSET = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p",
             "r", "s", "t", "v", "w", "z", "br", "cr", "dr", "fr", "gr",
             "pr", "st", "tr", "ch", "sh", "th", "pl", "cl", "sl"]
SYL_NUCLEUS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea",
               "ou", "io", "ee"]
SYL_CODA = ["", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "ck",
            "x", "v", "g"]

LOG_LEVELS = ["INFO"] * 8 + ["DEBUG"] * 4 + ["WARN"] * 2 + ["ERROR"]
HTTP_METHODS = ["GET"] * 6 + ["POST"] * 3 + ["PUT", "DELETE", "HEAD"]
HTTP_STATUS = [200] * 12 + [201, 204, 301, 302, 304, 400, 401, 403, 404,
                            404, 500, 502, 503]
TLDS_BASE = ["com", "org", "net", "cn", "io", "de"]
TLDS_BAD = ["top", "xyz", "icu", "buzz", "cyou"]
ALNUM = string.ascii_letters + string.digits
UPPERNUM = string.ascii_uppercase + string.digits
LOWERNUM = string.ascii_lowercase + string.digits


def zipf_cum(n, s=1.0, offset=8):
    """Cumulative Zipf-like weights for n ranked items."""
    cum, acc = [], 0.0
    for i in range(n):
        acc += 1.0 / (i + offset) ** s
        cum.append(acc)
    return cum


def pseudo_word(rng, nsyl):
    return "".join(rng.choice(SYL_ONSET) + rng.choice(SYL_NUCLEUS) +
        rng.choice(SYL_CODA) for _ in range(nsyl))


class Vocab:
    """Base vocabulary: common English words first, then pseudo-words."""

    def __init__(self, rng, npseudo=6000):
        words = list(dict.fromkeys(w.lower() for w in EN_COMMON))
        seen = set(words)
        pseudo = []
        while len(pseudo) < npseudo:
            w = pseudo_word(rng, rng.choice((1, 2, 2, 2, 3)))
            if len(w) >= 3 and w not in seen:
                seen.add(w)
                pseudo.append(w)
        # Interleave so that common English stays most frequent but the
        # pseudo-words ("jargon", names) take a fair share.
        self.common = words
        self.words = words[:200] + [x for pair in zip(pseudo, words[200:])
            for x in pair] + pseudo[len(words) - 200:]
        self.cum = zipf_cum(len(self.words))
        self.blob = "\n".join(self.words)
        self.zh = list(dict.fromkeys(ZH_COMMON))
        self.zh_cum = zipf_cum(len(self.zh), 0.9, 20)
        self.zh_kw = [c for c in dict.fromkeys(ZH_KEYWORD)
            if c not in set(self.zh)]

    def pick(self, rng, k):
        return rng.choices(self.words, cum_weights=self.cum, k=k)

    def pick_zh(self, rng, k):
        return rng.choices(self.zh, cum_weights=self.zh_cum, k=k)


# ---------------------------------------------------------------- lines


def en_sentence(rng, v, ws):
    s = " ".join(ws)
    if len(ws) > 8 and rng.random() < 0.4:
        i = s.find(" ", len(s) // 2)
        if i > 0:
            s = s[:i] + "," + s[i:]
    return s[0].upper() + s[1:] + rng.choice("....?!")


def en_line(rng, v):
    n = rng.randint(1, 4)
    lens = [rng.randint(5, 18) for _ in range(n)]
    ws = v.pick(rng, sum(lens))
    out, at = [], 0
    for ln in lens:
        out.append(en_sentence(rng, v, ws[at:at + ln]))
        at += ln
    return " ".join(out)


def zh_sentence(rng, v):
    parts = []
    for _ in range(rng.randint(1, 4)):
        parts.append("".join(v.pick_zh(rng, rng.randint(4, 16))))
        parts.append(rng.choice(PUNCT_ZH))
    parts[-1] = rng.choice("。。。！？")
    return "".join(parts)


def zh_line(rng, v):
    return "".join(zh_sentence(rng, v) for _ in range(rng.randint(1, 5)))


def mix_line(rng, v):
    out = []
    for _ in range(rng.randint(2, 4)):
        r = rng.random()
        if r < 0.45:
            out.append(zh_sentence(rng, v))
        elif r < 0.8:
            out.append(en_sentence(rng, v, v.pick(rng,
                rng.randint(3, 10))))
        else:
            w = v.pick(rng, 2)
            out.append("%s%s %s %d%%" % (w[0].capitalize(),
                "".join(v.pick_zh(rng, 3)), w[1], rng.randint(1, 99)))
    return " ".join(out)


def ident(rng, v):
    w = v.pick(rng, rng.randint(1, 3))
    if rng.random() < 0.5:
        return "_".join(w)
    return w[0] + "".join(x.capitalize() for x in w[1:])


def ipv4(rng):
    return "%d.%d.%d.%d" % (rng.choice((10, 172, 192, 100, 203)),
        rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))


def log_line(rng, v):
    ts = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (rng.randint(1, 12),
        rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
        rng.randint(0, 59), rng.randint(0, 999))
    r = rng.random()
    w = v.pick(rng, 6)
    if r < 0.4:
        return '%s %s [%s-%d] %s /api/v%d/%s/%d/%s %d %d %dms ip=%s ' \
            'user=%s' % (ts, rng.choice(LOG_LEVELS), w[0],
            rng.randint(1, 16), rng.choice(HTTP_METHODS),
            rng.randint(1, 3), w[1], rng.randint(1, 99999), w[2],
            rng.choice(HTTP_STATUS), rng.randint(0, 999999),
            rng.randint(0, 4000), ipv4(rng), w[3])
    if r < 0.7:
        return '%s - - [%02d/Mar/2024:%02d:%02d:%02d +0800] "%s ' \
            '/%s/%s.html HTTP/1.1" %d %d "https://www.%s.%s/%s" ' \
            '"Mozilla/5.0 (X11; Linux x86_64)"' % (ipv4(rng),
            rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59), rng.choice(HTTP_METHODS), w[0], w[1],
            rng.choice(HTTP_STATUS), rng.randint(0, 99999), w[2],
            rng.choice(TLDS_BASE), w[3])
    return "%s %s %s[%d]: %s %s" % (ts, rng.choice(LOG_LEVELS), w[0],
        rng.randint(100, 65000), en_sentence(rng, v, w[1:]),
        "".join(v.pick_zh(rng, rng.randint(0, 12))))


def code_line(rng, v):
    r = rng.random()
    ind = "    " * rng.randint(0, 3)
    if r < 0.25:
        return "%s%s = %s(%s, %d);" % (ind, ident(rng, v), ident(rng, v),
            ident(rng, v), rng.randint(0, 4096))
    if r < 0.4:
        return "%sif (%s > %d) { return %s(%s); }" % (ind, ident(rng, v),
            rng.randint(0, 999), ident(rng, v), ident(rng, v))
    if r < 0.55:
        return "%s// %s" % (ind, en_sentence(rng, v,
            v.pick(rng, rng.randint(4, 12))))
    if r < 0.65:
        return "def %s(%s, %s):" % (ident(rng, v), ident(rng, v),
            ident(rng, v))
    if r < 0.75:
        w = v.pick(rng, 3)
        return '%s"%s": "%s %s",' % (ind, w[0], w[1], w[2])
    if r < 0.82:
        w = v.pick(rng, 2)
        return "#include <%s/%s.h>" % (w[0], w[1])
    if r < 0.9:
        return "%sfor (int i = 0; i < %s; i++) %s[i] = %d;" % (ind,
            ident(rng, v), ident(rng, v), rng.randint(0, 255))
    return '%slog.info("%s", %s)' % (ind, "".join(v.pick_zh(rng,
        rng.randint(2, 10))), ident(rng, v))


GENRES = {
    "en": (en_line, 0.35),
    "zh": (zh_line, 0.25),
    "mix": (mix_line, 0.15),
    "log": (log_line, 0.15),
    "code": (code_line, 0.10),
}


class Pools:
    """Pools of ready-made lines per genre; files are drawn from them."""

    def __init__(self, rng, v, lines_per_genre=24000):
        self.lines = {}
        for g, (fn, _) in GENRES.items():
            self.lines[g] = [(fn(rng, v) + "\n").encode()
                for _ in range(lines_per_genre)]
        self.genres = list(GENRES)
        self.genre_weights = [GENRES[g][1] for g in self.genres]

    def text(self, rng, size, genre=None):
        """A list of UTF-8 lines, about size bytes, mostly of one genre."""
        if genre is None:
            genre = rng.choices(self.genres, self.genre_weights)[0]
        main = self.lines[genre]
        out, n = [], 0
        while n < size:
            k = max(4, (size - n) // 120)
            for ln in rng.choices(main, k=k):
                if rng.random() < 0.15:
                    other = rng.choice(self.genres)
                    ln = rng.choice(self.lines[other])
                out.append(ln)
                n += len(ln)
                if n >= size:
                    break
        return out


# ------------------------------------------------------------- keywords


def make_keywords(rng, v, n):
    """n unique keywords; the first 1,000 are the small set."""
    kws, seen = [], set()
    common = v.common[100:]
    while len(kws) < n:
        r = rng.random()
        if r < 0.33:
            kw = kw_pseudo(rng, v)
        elif r < 0.58:
            kw = "%s %s" % (rng.choice(common), kw_pseudo(rng, v)) \
                if rng.random() < 0.5 else \
                "%s %s" % (kw_pseudo(rng, v), rng.choice(common))
        elif r < 0.60:
            kw = " ".join(rng.sample(common, 3))
        elif r < 0.88:
            kw = kw_zh(rng, v)
        else:
            kw = kw_leet(rng, v)
        if kw is None or kw.lower() in seen:
            continue
        seen.add(kw.lower())
        kws.append(kw)
    return kws


def kw_pseudo(rng, v):
    while True:
        w = pseudo_word(rng, rng.choice((3, 3, 4)))
        if len(w) >= 7 and w not in v.blob:
            return w


def kw_zh(rng, v):
    n = rng.choice((2, 3, 3, 4, 4))
    chars = [rng.choice(v.zh_kw)]
    for _ in range(n - 1):
        chars.append(rng.choice(v.zh_kw) if rng.random() < 0.4
            else rng.choice(v.zh[:300]))
    rng.shuffle(chars)
    return "".join(chars)


LEET = str.maketrans("aeio", "4310")


def kw_leet(rng, v):
    w = kw_pseudo(rng, v)
    r = rng.random()
    if r < 0.4:
        return w.translate(LEET)
    if r < 0.7:
        return "%s%d" % (w, rng.randint(10, 999))
    return "%s-%s" % (w[:len(w) // 2], rng.choice(v.common[100:]))


def kw_variant(rng, kw):
    """The keyword as someone might type it: case varies."""
    r = rng.random()
    if r < 0.5:
        return kw
    if r < 0.7:
        return kw.upper()
    if r < 0.85:
        return kw.title()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in kw)


# --------------------------------------------------------------- regexes

# name, YARA regex (with flags), ClamAV trigger literals, case-insensitive
# triggers?  Each has a literal atom so yara 4.2 accepts it without the
# "may slow down scanning" warning; the same text is the PCRE for ClamAV.
REGEXES = [
    ("phone_cn", r"/(tel|phone|mobile|手机|电话)(:|：)? ?1[3-9][0-9]{9}\b/i",
        ["tel", "phone", "mobile", "手机", "电话"], True),
    ("phone_cn_intl", r"/\+86[ -]?1[3-9][0-9]{9}\b/", ["+86"], False),
    ("url_bad_tld",
        r"/https?:\/\/[a-z0-9.-]{2,63}\.(top|xyz|icu|buzz|cyou)\b/i",
        ["://"], False),
    ("telegram", r"/t\.me\/[a-z0-9_]{5,32}/i", ["t.me/"], True),
    ("email_disposable",
        r"/[a-z0-9._-]{1,64}@(mailinator|guerrillamail|yopmail)\.com/i",
        ["mailinator", "guerrillamail", "yopmail"], True),
    ("aws_key", r"/AKIA[0-9A-Z]{16}/", ["AKIA"], False),
    ("github_token", r"/ghp_[A-Za-z0-9]{36}/", ["ghp_"], False),
    ("private_key", r"/-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----/",
        ["PRIVATE KEY-----"], False),
    ("slack_webhook", r"/hooks\.slack\.com\/services\/T[A-Z0-9]{8,10}\/"
        r"B[A-Z0-9]{8,10}\/[A-Za-z0-9]{24}/",
        ["hooks.slack.com/services/"], False),
    ("jwt", r"/eyJ[A-Za-z0-9_-]{8,256}\.eyJ[A-Za-z0-9_-]{8,512}\."
        r"[A-Za-z0-9_-]{8,512}/", ["eyJ"], False),
    ("cn_id_card", r"/\b[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])"
        r"(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]\b/", ["19", "20"], False),
    ("wechat", r"/(wechat|weixin|vx|微信)(:|：)? ?[a-z][-_a-z0-9]{5,19}/i",
        ["wechat", "weixin", "vx", "微信"], True),
    ("qq", r"/QQ(:|：)? ?[1-9][0-9]{4,10}/i", ["qq"], True),
    ("price_cn", r"/[0-9]{2,5}元\/(次|晚|小时|夜)/", ["元/"], False),
    ("btc_bech32", r"/\bbc1[a-z0-9]{39,59}\b/", ["bc1"], False),
    ("onion", r"/[a-z2-7]{16,56}\.onion\b/i", [".onion"], True),
    ("iban_de", r"/\bDE[0-9]{2} ?([0-9]{4} ?){4}[0-9]{2}\b/", ["DE"],
        False),
    ("password_assign", r"/pass(word|wd)?[ \t]{0,4}[=:][ \t]{0,4}[\"']"
        r"[^\"'\s]{6,64}[\"']/i", ["pass"], True),
    ("gambling_cn", r"/(澳门|葡京|威尼斯人)[^\n]{0,30}(娱乐|赌场|博彩)/",
        ["澳门", "葡京", "威尼斯人"], False),
    ("card_number", r"/card[ _-]?(no|number|num)[ \t]{0,4}[=:][ \t]{0,4}"
        r"[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}/i",
        ["card"], True),
]


def _s(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def _digits(rng, n):
    return str(rng.randint(1, 9)) + _s(rng, string.digits, n - 1)


def regex_hit(rng, v, name):
    """A string the named regex matches, with word boundaries around it."""
    w = [x for x in v.pick(rng, 6) if x.isalpha()] + ["alpha", "beta"]
    if name == "phone_cn":
        return "%s%s1%d%s" % (rng.choice(["tel", "Phone", "mobile", "手机",
            "电话"]), rng.choice([":", "：", " ", ""]), rng.randint(3, 9),
            _s(rng, string.digits, 9))
    if name == "phone_cn_intl":
        return "+86 1%d%s" % (rng.randint(3, 9), _s(rng, string.digits, 9))
    if name == "url_bad_tld":
        return "https://%s-%s.%s/%s" % (w[0], w[1], rng.choice(TLDS_BAD),
            w[2])
    if name == "telegram":
        return "t.me/%s_%s" % (w[0][:12], w[1][:12])
    if name == "email_disposable":
        return "%s.%s@%s.com" % (w[0], w[1], rng.choice(["mailinator",
            "guerrillamail", "yopmail"]))
    if name == "aws_key":
        return "AKIA" + _s(rng, UPPERNUM, 16)
    if name == "github_token":
        return "ghp_" + _s(rng, ALNUM, 36)
    if name == "private_key":
        return "-----BEGIN %sPRIVATE KEY-----" % rng.choice(["RSA ", "EC ",
            "OPENSSH ", ""])
    if name == "slack_webhook":
        return "https://hooks.slack.com/services/T%s/B%s/%s" % (
            _s(rng, UPPERNUM, 9), _s(rng, UPPERNUM, 10), _s(rng, ALNUM, 24))
    if name == "jwt":
        b64 = ALNUM + "-_"
        return "eyJhbGciOiJIUzI1NiJ9.eyJ%s.%s" % (_s(rng, b64, 40),
            _s(rng, b64, 43))
    if name == "cn_id_card":
        return "%s%d%02d%02d%02d%s%s" % (_digits(rng, 6),
            rng.choice((19, 20)), rng.randint(0, 99), rng.randint(1, 12),
            rng.randint(1, 28), _s(rng, string.digits, 3),
            rng.choice("0123456789X"))
    if name == "wechat":
        return "%s: %s%s" % (rng.choice(["wechat", "WeiXin", "vx", "微信"]),
            rng.choice(string.ascii_lowercase), _s(rng, LOWERNUM, 9))
    if name == "qq":
        return "QQ：%s" % _digits(rng, rng.randint(6, 10))
    if name == "price_cn":
        return "%d元/%s" % (rng.randint(200, 3000), rng.choice(["次", "晚",
            "小时", "夜"]))
    if name == "btc_bech32":
        return "bc1q" + _s(rng, LOWERNUM, 40)
    if name == "onion":
        return _s(rng, "abcdefghijklmnopqrstuvwxyz234567", 56) + ".onion"
    if name == "iban_de":
        return "DE%02d %s %s %s %s %s" % (rng.randint(10, 99),
            *(_s(rng, string.digits, 4) for _ in range(4)),
            _s(rng, string.digits, 2))
    if name == "password_assign":
        return 'password = "%s"' % _s(rng, ALNUM, 12)
    if name == "gambling_cn":
        return "%s%s%s" % (rng.choice(["澳门", "葡京", "威尼斯人"]),
            rng.choice(["皇冠", "在线", "线上真人", ""]),
            rng.choice(["娱乐", "赌场", "博彩"]))
    if name == "card_number":
        return "card_no: %s %s %s %s" % tuple(_s(rng, string.digits, 4)
            for _ in range(4))
    raise ValueError(name)
