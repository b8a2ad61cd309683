"""A read-only view of a normalised URL with the pieces rules and model share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .domains import DomainParts, split_host
from .normalize import NormalizedURL

_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class UrlView:
    """Everything derived from one URL, computed lazily and at most once."""

    parts: NormalizedURL
    original: str  # the input before normalisation, for obfuscation checks

    @cached_property
    def domain(self) -> DomainParts:
        """Registered domain split; empty parts for IP or single-label hosts."""
        if self.parts.host.is_ip:
            return DomainParts("", "", "", "", "")
        return split_host(self.parts.host.host)

    @cached_property
    def host_without_www(self) -> str:
        """The host minus a leading ``www.``, which says nothing about safety."""
        host = self.parts.host.host
        return host[4:] if host.startswith("www.") else host

    @cached_property
    def subdomain_labels(self) -> list[str]:
        """Labels left of the registered domain, ignoring a leading ``www``."""
        labels = [label for label in self.domain.subdomain.split(".") if label]
        return labels[1:] if labels[:1] == ["www"] else labels

    @cached_property
    def path_and_query(self) -> str:
        """Lower-cased path plus query, percent-escapes left as they are."""
        query = self.parts.query
        return (self.parts.path + ("?" + query if query else "")).lower()

    @cached_property
    def path_words(self) -> list[str]:
        """Alphanumeric words of the path and query."""
        return _WORDS.findall(self.path_and_query)

    @cached_property
    def file_extension(self) -> str:
        """Extension of the last path segment (``"exe"``), or ``""``."""
        last = self.parts.path.rsplit("/", 1)[-1].lower()
        stem, dot, extension = last.rpartition(".")
        return extension if dot and stem and extension.isalnum() else ""
