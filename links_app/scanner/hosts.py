"""Host canonicalisation: IPv4 in every browser-accepted spelling, IPv6, IDNA.

Browsers (WHATWG URL standard) read ``http://3232235777/``, ``http://0xC0A80101/``
and ``http://0300.0250.1.1/`` as ``192.168.1.1``. We canonicalise the same way
so that one address is one link, and report that the spelling was unusual
because that obfuscation is itself a warning sign.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from ..errors import InvalidURL

_ASCII_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
_NUMBER_LIKE = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
MAX_HOST_LENGTH = 253


@dataclass(frozen=True, slots=True)
class CanonicalHost:
    """The canonical host and what we learned while producing it."""

    host: str  # lower-case, ASCII (punycode), no trailing dot; IPv6 in brackets
    is_ip: bool
    obfuscated_ip: bool  # IPv4 written in decimal / hex / octal / short form
    unicode_host: str  # the host as a person reads it (IDNA-decoded)


def _parse_ipv4_part(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if not re.fullmatch(r"[0-7]+", part):
            raise InvalidURL(f"'{part}' is not a valid octal number in an IP address")
        return int(part, 8)
    return int(part)


def parse_ipv4(host: str) -> str | None:
    """Return the dotted-quad form if the browser would read ``host`` as IPv4."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _NUMBER_LIKE.match(parts[-1]):
        return None  # a domain name, not an address
    if len(parts) > 4 or not all(_NUMBER_LIKE.match(p) for p in parts):
        raise InvalidURL(f"'{host}' looks like an IP address but is not a valid one")
    numbers = [_parse_ipv4_part(p) for p in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL(f"'{host}' looks like an IP address but is out of range")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(value))


def _to_ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return idna.alabel(idna.uts46_remap(label, std3_rules=False)).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(f"host label '{label}' is not a valid internationalised name") from exc


def _to_unicode(host: str) -> str:
    if "xn--" not in host:
        return host
    labels = []
    for label in host.split("."):
        try:
            labels.append(idna.ulabel(label) if label.startswith("xn--") else label)
        except idna.IDNAError as exc:
            raise InvalidURL(f"host label '{label}' is not valid punycode") from exc
    return ".".join(labels)


def canonicalize_host(raw_host: str) -> CanonicalHost:
    """Lower-case, IDNA-encode and validate a host; raise InvalidURL if unusable."""
    if raw_host.startswith("["):
        if not raw_host.endswith("]"):
            raise InvalidURL("the IPv6 address in the URL is missing its closing ']'")
        try:
            address = ipaddress.IPv6Address(raw_host[1:-1])
        except ValueError as exc:
            raise InvalidURL(f"'{raw_host}' is not a valid IPv6 address") from exc
        return CanonicalHost(f"[{address.compressed}]", True, False, f"[{address.compressed}]")
    host = raw_host.lower().rstrip(".")
    if not host:
        raise InvalidURL("the URL has no host name")
    ipv4 = parse_ipv4(host)
    if ipv4 is not None:
        return CanonicalHost(ipv4, True, ipv4 != host, ipv4)
    labels = [_to_ascii_label(label) for label in host.split(".")]
    for label in labels:
        if not _ASCII_LABEL.match(label):
            reason = "an empty label" if not label else f"the label '{label}'"
            raise InvalidURL(f"the host name '{raw_host}' is not valid ({reason})")
    ascii_host = ".".join(labels)
    if len(ascii_host) > MAX_HOST_LENGTH:
        raise InvalidURL("the host name is longer than 253 characters")
    return CanonicalHost(ascii_host, False, False, _to_unicode(ascii_host))
