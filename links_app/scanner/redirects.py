"""Links whose only effect is to send the reader to another URL, and that URL.

Two kinds, both on well-known hosts and both judged by where they lead
(``scan.py``), because their own shape says nothing about the danger:

- **forwarders**: a site's exit or interstitial page that passes the reader
  on to the address in one parameter (``google.com/url?q=…``,
  ``vk.com/away.php?to=…``, tumblr's ``safe-mode?url=…``). An open redirect
  on a famous domain is exactly as dangerous as its destination: a phishing
  page behind ``google.com/url`` is phishing, a blog behind tumblr's
  safe-mode page is a blog.
- **identity providers' sign-in pages**: after signing in, the provider sends
  the user on to the address the application registered (``redirect_uri``,
  ``continue``). The sign-in page is the provider's own; what the link leads
  to is the address behind it.

The hosts, paths and parameter names come from general knowledge of these
sites, not from the development data. Only hosts listed here are followed, so
a phishing kit's ``login.php?redirect=…`` on an unknown domain is still judged
by its own shape.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import unquote

from ..errors import InvalidURL
from .brands import is_official
from .normalize import normalize_parts
from .urlview import UrlView


class Forwarder(NamedTuple):
    path_prefix: str  # the page that forwards ("/" = any page of the host)
    parameters: tuple[str, ...]  # lower-case names of the parameter holding the destination


# Keys are hosts without a leading "www.".
FORWARDERS: dict[str, Forwarder] = {
    "google.com": Forwarder("/url", ("q", "url")),
    "youtube.com": Forwarder("/redirect", ("q",)),
    "vk.com": Forwarder("/away.php", ("to",)),
    "facebook.com": Forwarder("/l.php", ("u",)),
    "l.facebook.com": Forwarder("/l.php", ("u",)),
    "lm.facebook.com": Forwarder("/l.php", ("u",)),
    "l.instagram.com": Forwarder("/", ("u",)),
    "out.reddit.com": Forwarder("/", ("url",)),
    "tumblr.com": Forwarder("/safe-mode", ("url",)),
    "t.umblr.com": Forwarder("/redirect", ("z",)),
    "steamcommunity.com": Forwarder("/linkfilter/", ("url",)),
    "disq.us": Forwarder("/", ("url",)),
    "deref-gmx.net": Forwarder("/mail/client/", ("redirecturl",)),
    # identity providers: the address to go on to after signing in
    "login.microsoftonline.com": Forwarder("/", ("redirect_uri",)),
    "login.live.com": Forwarder("/", ("redirect_uri", "wreply")),
    "accounts.google.com": Forwarder("/", ("continue",)),
}
# Google's country sites (google.co.in, google.com.mx) serve the same search redirect.
_GOOGLE_COUNTRY_FORWARDER = FORWARDERS["google.com"]
# Links pasted from HTML often keep the escaped separator: "a=1&amp;q=…".
_ESCAPED_AMPERSAND = "amp;"


def _absolute_targets(query: str, names: tuple[str, ...]) -> set[str]:
    """Every http(s) URL given to one of ``names`` (percent-decoded, names case-blind)."""
    targets = set()
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower().removeprefix(_ESCAPED_AMPERSAND) in names:
            value = unquote(value).strip()
            if value[:8].lower().startswith(("http://", "https://")):
                targets.add(value)
    return targets


def _forwarder(view: UrlView) -> Forwarder | None:
    host = view.host_without_www
    forwarder = FORWARDERS.get(host)
    if forwarder is None and host == view.domain.registered_domain and view.domain.domain_label == "google":
        return _GOOGLE_COUNTRY_FORWARDER if is_official("google", host) else None
    return forwarder


def redirect_destination(view: UrlView) -> UrlView | None:
    """The URL a forwarder or sign-in page on a known host sends the reader to, or None.

    None also when the parameter is missing, relative or not a usable http(s)
    URL, and when the link names two different destinations (which of them the
    site follows is its own business, so a harmless first one could hide the
    second): then the link is judged as it stands.
    """
    forwarder = _forwarder(view)
    if forwarder is None or not view.parts.path.startswith(forwarder.path_prefix) or not view.parts.query:
        return None
    targets = _absolute_targets(view.parts.query, forwarder.parameters)
    if len(targets) != 1:
        return None
    (target,) = targets
    try:
        return UrlView(normalize_parts(target), target)
    except InvalidURL:
        return None
