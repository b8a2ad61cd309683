"""URL normalisation: one canonical string per link, or InvalidURL.

Steps, in the order browsers apply them: trim, drop tab/newline, check the
scheme, treat ``\\`` as ``/`` before the query, split the authority, canonicalise
the host (IDNA, IPv4 spellings, trailing dot), drop default ports, normalise
percent-encoding, resolve ``.``/``..`` segments. The fragment is dropped: it
never reaches the server, so ``/a#x`` and ``/a#y`` are the same link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import InvalidURL
from .hosts import CanonicalHost, canonicalize_host

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_FORBIDDEN_SCHEMES = {
    "javascript": "javascript: links run code and are not allowed",
    "data": "data: links embed content and are not allowed",
    "vbscript": "vbscript: links run code and are not allowed",
    "file": "file: links point to local files and are not allowed",
}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters kept literally in path/query/userinfo; everything else is %-encoded.
_KEEP = _UNRESERVED | frozenset("!$&'()*+,;=:@/?[]")
_PERCENT_OR_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]]")


@dataclass(frozen=True, slots=True)
class NormalizedURL:
    """A normalised URL and its parts, so later stages never re-parse."""

    url: str
    scheme: str
    userinfo: str
    host: CanonicalHost
    port: int | None  # None when it is the scheme's default
    path: str
    query: str


def _fix_escape(match: re.Match[str]) -> str:
    text = match.group(0)
    if len(text) == 3:
        char = chr(int(text[1:], 16))
        return char if char in _UNRESERVED else text.upper()
    if text == "%":
        return "%25"
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))


def normalize_percent_encoding(text: str) -> str:
    """Decode needless escapes (``%7E`` → ``~``), upper-case the rest, encode unsafe chars."""
    return _PERCENT_OR_UNSAFE.sub(_fix_escape, text)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: ``/a/./b/../c`` → ``/a/c``."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments[1:], start=1):
        is_last = index == len(segments) - 1
        if segment == "..":
            if len(output) > 0:
                output.pop()
            if is_last:
                output.append("")
        elif segment == ".":
            if is_last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _check_scheme(text: str) -> tuple[str, str]:
    match = _SCHEME.match(text)
    if not match or "." in match.group(1):
        raise InvalidURL("the link must start with http:// or https://")
    scheme = match.group(1).lower()
    if scheme in _FORBIDDEN_SCHEMES:
        raise InvalidURL(_FORBIDDEN_SCHEMES[scheme])
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"only http and https links are supported, not {scheme}:")
    return scheme, text[match.end() :]


def _split_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        if not bracket:
            raise InvalidURL("the IPv6 address in the URL is missing its closing ']'")
        if rest and not rest.startswith(":"):
            raise InvalidURL("unexpected characters after the IPv6 address")
        return host + "]", rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def _parse_port(port_text: str, scheme: str) -> int | None:
    if not port_text:
        return None
    if not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidURL(f"'{port_text}' is not a valid port number")
    port = int(port_text)
    return None if port == DEFAULT_PORTS[scheme] else port


def normalize_parts(raw_url: str) -> NormalizedURL:
    """Normalise ``raw_url`` and return the result with its parts."""
    if not isinstance(raw_url, str):
        raise InvalidURL("the link must be text")
    text = raw_url.strip().replace("\t", "").replace("\n", "").replace("\r", "")
    if not text:
        raise InvalidURL("the link is empty")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"the link is longer than {MAX_URL_LENGTH:,} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise InvalidURL("the link contains control characters")
    scheme, rest = _check_scheme(text)
    rest, _, _fragment = rest.partition("#")
    before_query, question, query = rest.partition("?")
    before_query = before_query.replace("\\", "/").lstrip("/")
    authority, _slash, path = before_query.partition("/")
    userinfo, at_sign, hostport = authority.rpartition("@")
    raw_host, port_text = _split_port(hostport)
    host = canonicalize_host(normalize_percent_encoding_host(raw_host))
    port = _parse_port(port_text, scheme)
    path = remove_dot_segments(normalize_percent_encoding("/" + path))
    query = normalize_percent_encoding(query) if question else ""
    # An "@" inside the user part is data, not a delimiter: encode it like browsers do.
    userinfo = normalize_percent_encoding(userinfo).replace("@", "%40") if at_sign else ""
    url = "".join(
        (
            scheme,
            "://",
            userinfo,
            "@" if at_sign else "",
            host.host,
            f":{port}" if port is not None else "",
            path,
            "?" if query else "",
            query,
        )
    )
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the normalised link is longer than {MAX_URL_LENGTH:,} characters")
    return NormalizedURL(url, scheme, userinfo, host, port, path, query)


def normalize_percent_encoding_host(raw_host: str) -> str:
    """Browsers percent-decode hosts (``%65xample.com`` is ``example.com``)."""
    if "%" not in raw_host:
        return raw_host
    try:
        decoded = unquote(raw_host, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidURL("the host name has percent-escapes that are not UTF-8") from exc
    if "%" in decoded:
        raise InvalidURL("the host name contains a stray '%'")
    return decoded


def normalize_url(raw_url: str) -> str:
    """Return the canonical form of ``raw_url``; raise InvalidURL with a reason."""
    return normalize_parts(raw_url).url
