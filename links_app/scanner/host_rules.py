"""Rules about the host: IPs, homographs, brands, TLDs, shorteners, subdomains."""

from __future__ import annotations

import ipaddress

from .brands import brands_in, is_official, lookalike_brand
from .homographs import imitates_latin, latin_skeleton, mixed_script_labels
from .lists import SUSPICIOUS_TLDS, URL_SHORTENERS
from .results import Finding
from .urlview import UrlView

PHISHING = "phishing"


def ip_literal_host(view: UrlView) -> Finding | None:
    """Real sites use names; a bare IP hides who runs the server."""
    host = view.parts.host
    if not host.is_ip:
        return None
    address = ipaddress.ip_address(host.host.strip("[]"))
    if address.is_private or address.is_loopback or address.is_link_local:
        return Finding(
            "private_ip_host",
            "high",
            f"The link points to a private or local address ({host.host}).",
            PHISHING,
        )
    return Finding(
        "ip_literal_host",
        "high",
        f"The host is a bare IP address ({host.host}) instead of a domain name.",
        PHISHING,
    )


def obfuscated_ip_host(view: UrlView) -> Finding | None:
    """Decimal / hex / octal IPs exist almost only to fool people and filters."""
    if not view.parts.host.obfuscated_ip:
        return None
    return Finding(
        "obfuscated_ip_host",
        "high",
        f"The IP address is written in a disguised form (read as {view.parts.host.host}).",
        PHISHING,
    )


def userinfo_trick(view: UrlView) -> Finding | None:
    """``https://paypal.com@evil.example/`` goes to evil.example, not paypal.com."""
    userinfo = view.parts.userinfo
    if not userinfo:
        return None
    looks_like_host = "." in userinfo
    severity = "high" if looks_like_host else "medium"
    return Finding(
        "userinfo_in_url",
        severity,
        f"Text before '@' ({userinfo[:40]}) is not where the link goes; the real host is {view.parts.host.host}.",
        PHISHING,
    )


def punycode_host(view: UrlView) -> Finding | None:
    """IDN hosts are legitimate but are how homograph attacks are delivered."""
    if "xn--" not in view.parts.host.host:
        return None
    return Finding(
        "punycode_host",
        "low",
        f"The host is an internationalised name, shown to people as {view.parts.host.unicode_host}.",
    )


def homograph_host(view: UrlView) -> Finding | None:
    """Labels that mix scripts or are made of Latin look-alikes imitate another name."""
    unicode_host = view.parts.host.unicode_host
    if unicode_host.isascii():
        return None
    mixed = mixed_script_labels(unicode_host)
    imitations = [label for label in unicode_host.split(".") if imitates_latin(label)]
    if not mixed and not imitations:
        return None
    skeleton = latin_skeleton(unicode_host)
    brands = brands_in(skeleton)
    target = f" and imitates {', '.join(sorted(brands))}" if brands else f" (reads like '{skeleton}')"
    kind = "mixes writing systems" if mixed else "uses look-alike letters"
    return Finding("homograph_host", "high", f"The host name {kind}{target}.", PHISHING)


def brand_impersonation(view: UrlView) -> Finding | None:
    """A brand name in a host or path it does not own is the core of most phishing."""
    domain = view.domain
    if not domain.registered_domain:
        return None
    in_host = {b for b in brands_in(view.host_without_www) if not is_official(b, domain.registered_domain)}
    if in_host:
        return Finding(
            "brand_outside_domain",
            "high",
            f"The host mentions {', '.join(sorted(in_host))} but belongs to {domain.registered_domain}.",
            PHISHING,
        )
    in_path = {b for b in brands_in(view.path_and_query) if not is_official(b, domain.registered_domain)}
    if in_path:
        return Finding(
            "brand_in_path",
            "medium",
            f"The path mentions {', '.join(sorted(in_path))} on the unrelated site {domain.registered_domain}.",
            PHISHING,
        )
    return None


def brand_lookalike_domain(view: UrlView) -> Finding | None:
    """``paypa1.com``, ``micros0ft.com``: one typo or digit swap away from a brand."""
    brand = lookalike_brand(view.domain.domain_label) if view.domain.domain_label else None
    if brand is None or is_official(brand, view.domain.registered_domain):
        return None
    return Finding(
        "brand_lookalike_domain",
        "high",
        f"The domain {view.domain.registered_domain} looks like {brand} but is not.",
        PHISHING,
    )


def suspicious_tld(view: UrlView) -> Finding | None:
    """Some TLDs carry far more abuse than others (public abuse reports)."""
    tld = view.domain.suffix.rsplit(".", 1)[-1]
    if tld not in SUSPICIOUS_TLDS:
        return None
    return Finding("suspicious_tld", "medium", f"The top-level domain .{tld} is heavily used for abuse.")


def url_shortener(view: UrlView) -> Finding | None:
    """Shorteners hide the destination; the target must be checked separately."""
    if view.domain.registered_domain not in URL_SHORTENERS and view.parts.host.host not in URL_SHORTENERS:
        return None
    return Finding(
        "url_shortener",
        "medium",
        f"{view.parts.host.host} is a link shortener; the real destination is hidden.",
    )


def deep_subdomain(view: UrlView) -> Finding | None:
    """Long subdomain chains push the real domain out of sight on small screens."""
    depth = len(view.subdomain_labels)
    if depth < 3:
        return None
    severity = "medium" if depth >= 4 else "low"
    return Finding(
        "deep_subdomain",
        severity,
        f"The host has {depth} levels of subdomains before {view.domain.registered_domain}.",
    )


def hosting_platform(view: UrlView) -> Finding | None:
    """Free user-site platforms (github.io, blogspot, appspot …) host anyone's pages."""
    if not view.domain.on_hosting_platform:
        return None
    return Finding(
        "shared_hosting_site",
        "info",
        f"{view.domain.hosted_site} is a user site on a shared hosting platform.",
    )


def many_hyphens(view: UrlView) -> Finding | None:
    """``secure-account-update-paypal.com`` style names pack keywords with hyphens."""
    count = view.host_without_www.count("-")
    if count < 3:
        return None
    return Finding("many_hyphens_in_host", "low", f"The host name contains {count} hyphens.")


def non_standard_port(view: UrlView) -> Finding | None:
    """Public sites use the default ports; others suggest a makeshift server."""
    if view.parts.port is None:
        return None
    return Finding("non_standard_port", "medium", f"The link uses the unusual port {view.parts.port}.")


HOST_RULES = (
    ip_literal_host,
    obfuscated_ip_host,
    userinfo_trick,
    punycode_host,
    homograph_host,
    brand_impersonation,
    brand_lookalike_domain,
    suspicious_tld,
    url_shortener,
    deep_subdomain,
    hosting_platform,
    many_hyphens,
    non_standard_port,
)
