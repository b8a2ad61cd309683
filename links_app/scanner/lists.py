"""Curated word and domain lists used by the rules.

Sources are public, general knowledge, not the development data set: abused
TLDs from Spamhaus / Interisle phishing-landscape reports, well-known public
link shorteners, and the vocabulary phishing kits use to ask for credentials.
"""

# TLDs with persistently high abuse rates in public reports (cheap or free
# registration) plus the file-name-like ``zip``/``mov``.
SUSPICIOUS_TLDS = frozenset(
    [
        "tk",
        "ml",
        "ga",
        "cf",
        "gq",
        "top",
        "xyz",
        "icu",
        "cyou",
        "buzz",
        "cam",
        "monster",
        "rest",
        "sbs",
        "bond",
        "cfd",
        "click",
        "link",
        "work",
        "support",
        "country",
        "kim",
        "loan",
        "men",
        "review",
        "stream",
        "download",
        "racing",
        "win",
        "bid",
        "trade",
        "date",
        "faith",
        "party",
        "science",
        "accountant",
        "cricket",
        "gdn",
        "webcam",
        "quest",
        "surf",
        "lol",
        "zip",
        "mov",
        "casa",
    ]
)

URL_SHORTENERS = frozenset(
    [
        "bit.ly",
        "bitly.com",
        "tinyurl.com",
        "goo.gl",
        "t.co",
        "ow.ly",
        "is.gd",
        "v.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "bit.do",
        "tiny.cc",
        "rb.gy",
        "t.ly",
        "s.id",
        "x.co",
        "lnkd.in",
        "soo.gd",
        "shorte.st",
        "adf.ly",
        "bc.vc",
        "qr.net",
        "tr.im",
        "clck.ru",
        "u.to",
        "urlz.fr",
        "shrtco.de",
        "tiny.one",
        "surl.li",
        "qrco.de",
        "ouo.io",
        "gg.gg",
        "db.tt",
        "youtu.be",
        "po.st",
        "mcaf.ee",
        "su.pr",
    ]
)

# Words that ask a visitor to act on an account; matched as whole tokens in
# the path and as substrings of host labels ("secure-login-update").
CREDENTIAL_WORDS = (
    "login",
    "logon",
    "signin",
    "verify",
    "verification",
    "validate",
    "account",
    "update",
    "secure",
    "security",
    "banking",
    "confirm",
    "password",
    "passwd",
    "credential",
    "webscr",
    "authenticate",
    "unlock",
    "suspend",
    "suspended",
    "recover",
    "recovery",
    "billing",
    "wallet",
    "ebayisapi",
    "reactivate",
)

# Extensions of files that run when opened (malware delivery) or archives
# that usually carry them.
EXECUTABLE_EXTENSIONS = frozenset(
    [
        "exe",
        "scr",
        "msi",
        "bat",
        "cmd",
        "com",
        "pif",
        "jar",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "ps1",
        "dll",
        "apk",
        "hta",
        "lnk",
        "iso",
        "dmg",
    ]
)
ARCHIVE_EXTENSIONS = frozenset(["zip", "rar", "7z", "gz", "tgz", "cab", "ace"])
DOCUMENT_EXTENSIONS = frozenset(["pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf"])

# Words of software-download and crack sites (potentially unwanted software).
UNWANTED_SOFTWARE_WORDS = frozenset(
    ["crack", "keygen", "serial", "warez", "nulled", "torrent", "activator", "patch-download", "freedownload"]
)
