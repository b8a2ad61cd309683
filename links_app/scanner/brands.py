"""Frequently impersonated brands and the domains that really belong to them.

``token`` brands are ordinary words ("apple", "chase") and only count when they
stand alone between separators; ``distinctive`` brands ("paypal") count as
substrings too, because kits glue them to other words ("paypalsecure").
"""

from __future__ import annotations

import re

# brand -> registered domains (ICANN view) that the brand owns.
DISTINCTIVE_BRANDS: dict[str, frozenset[str]] = {
    "paypal": frozenset({"paypal.com", "paypal.me", "paypalobjects.com", "paypal-community.com"}),
    "netflix": frozenset({"netflix.com", "netflix.net", "nflxext.com"}),
    "microsoft": frozenset({"microsoft.com", "microsoftonline.com", "live.com", "msn.com"}),
    "office365": frozenset({"office.com", "microsoft.com", "office365.com"}),
    "facebook": frozenset({"facebook.com", "fb.com", "facebook.net", "fbcdn.net"}),
    "instagram": frozenset({"instagram.com"}),
    "whatsapp": frozenset({"whatsapp.com", "whatsapp.net"}),
    "linkedin": frozenset({"linkedin.com", "lnkd.in"}),
    "dropbox": frozenset({"dropbox.com", "db.tt", "dropboxusercontent.com"}),
    "docusign": frozenset({"docusign.com", "docusign.net"}),
    "coinbase": frozenset({"coinbase.com"}),
    "wellsfargo": frozenset({"wellsfargo.com", "wf.com"}),
    "bankofamerica": frozenset({"bankofamerica.com", "bofa.com"}),
    "americanexpress": frozenset({"americanexpress.com", "aexp.com"}),
    "icloud": frozenset({"icloud.com", "apple.com"}),
    "appleid": frozenset({"apple.com"}),
    "itunes": frozenset({"apple.com", "itunes.com"}),
    "hotmail": frozenset({"hotmail.com", "live.com", "microsoft.com"}),
    "outlook": frozenset({"outlook.com", "live.com", "office.com", "microsoft.com"}),
    "gmail": frozenset({"gmail.com", "google.com"}),
    "google": frozenset(
        {
            "google.com",
            "googleapis.com",
            "googleusercontent.com",
            "gstatic.com",
            "youtube.com",
            "goo.gl",
            "google.co.uk",
            "google.de",
            "google.fr",
            "blogger.com",
        }
    ),
    "yahoo": frozenset({"yahoo.com", "yahoo.co.jp", "yimg.com"}),
    "amazon": frozenset(
        {
            "amazon.com",
            "amazon.co.uk",
            "amazon.de",
            "amazon.fr",
            "amazon.co.jp",
            "amazon.in",
            "amazonaws.com",
            "a2z.com",
        }
    ),
    "ebay": frozenset({"ebay.com", "ebay.co.uk", "ebay.de", "ebayimg.com"}),
    "binance": frozenset({"binance.com"}),
    "metamask": frozenset({"metamask.io"}),
    "adobe": frozenset({"adobe.com", "adobe.io"}),
    "steamcommunity": frozenset({"steamcommunity.com"}),
    "steampowered": frozenset({"steampowered.com"}),
    "dhl": frozenset({"dhl.com", "dhl.de"}),
    "fedex": frozenset({"fedex.com"}),
    "usps": frozenset({"usps.com"}),
}
TOKEN_BRANDS: dict[str, frozenset[str]] = {
    "apple": frozenset({"apple.com", "icloud.com"}),
    "chase": frozenset({"chase.com", "jpmorganchase.com"}),
    "citi": frozenset({"citi.com", "citibank.com"}),
    "hsbc": frozenset({"hsbc.com", "hsbc.co.uk"}),
    "barclays": frozenset({"barclays.com", "barclays.co.uk"}),
    "santander": frozenset({"santander.com", "santander.co.uk"}),
    "visa": frozenset({"visa.com"}),
    "mastercard": frozenset({"mastercard.com"}),
    "steam": frozenset({"steampowered.com", "steamcommunity.com"}),
    "office": frozenset({"office.com", "microsoft.com"}),
}
ALL_BRANDS = {**DISTINCTIVE_BRANDS, **TOKEN_BRANDS}
# Brands that run their own sites on their bare name under country-code suffixes
# (google.co.in, amazon.com.br, yahoo.co.jp, visa.co.il), far more of them than the
# lists above could name. For these, ``BRAND.<country suffix>`` is the brand's own;
# a longer label (googlefeud.com) or a generic suffix other than the listed ones is not.
COUNTRY_DOMAIN_BRANDS = frozenset(
    ["google", "amazon", "yahoo", "ebay", "visa", "mastercard", "hsbc", "santander", "dhl"]
)
_TOKEN_SPLIT = re.compile(r"[^a-z]+")
# Digits and letter pairs that kits swap in to imitate a brand ("paypa1").
_LOOKALIKE_FOLD = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("3", "e"), ("5", "s"), ("4", "a"))


def brands_in(text: str) -> set[str]:
    """Brands mentioned in ``text`` (lower-case)."""
    found = {brand for brand in DISTINCTIVE_BRANDS if brand in text}
    if any(brand in text for brand in TOKEN_BRANDS):
        tokens = set(_TOKEN_SPLIT.split(text))
        found.update(brand for brand in TOKEN_BRANDS if brand in tokens)
    return found


def is_official(brand: str, registered_domain: str) -> bool:
    """True when ``registered_domain`` belongs to ``brand``."""
    if registered_domain in ALL_BRANDS[brand]:
        return True
    label, _, suffix = registered_domain.partition(".")
    return brand in COUNTRY_DOMAIN_BRANDS and label == brand and len(suffix.rsplit(".", 1)[-1]) == 2


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    index = 0
    while index < len(a) and a[index] == b[index]:
        index += 1
    return a[index + (len(a) == len(b)) :] == b[index + 1 :]


def lookalike_brand(domain_label: str) -> str | None:
    """The brand that ``domain_label`` imitates by a digit swap or one typo, if any."""
    folded = domain_label
    for fake, real in _LOOKALIKE_FOLD:
        folded = folded.replace(fake, real)
    for brand in DISTINCTIVE_BRANDS:
        if len(brand) >= 5 and (
            (folded == brand and domain_label != brand) or _within_one_edit(folded, brand)
        ):
            return brand
    return None
