"""Rules about the text of the URL: keywords, length, downloads, redirects."""

from __future__ import annotations

import re

from .lists import (
    ARCHIVE_EXTENSIONS,
    CREDENTIAL_WORDS,
    DOCUMENT_EXTENSIONS,
    EXECUTABLE_EXTENSIONS,
    UNWANTED_SOFTWARE_WORDS,
)
from .results import Finding
from .urlview import UrlView

_EMBEDDED_URL = re.compile(r"(?:https?|ftp)(?::|%3a)(?://|%2f%2f)", re.IGNORECASE)
_CREDENTIAL_SET = frozenset(CREDENTIAL_WORDS)
LONG_URL = 100
VERY_LONG_URL = 200


def credential_keywords(view: UrlView) -> Finding | None:
    """Words asking to log in / verify / update an account are phishing bait."""
    in_host = sorted({w for w in CREDENTIAL_WORDS if w in view.host_without_www})
    in_path = sorted(_CREDENTIAL_SET.intersection(view.path_words))
    words = sorted(set(in_host) | set(in_path))
    if not words:
        return None
    severity = "medium" if in_host or len(words) >= 2 else "low"
    return Finding(
        "credential_keywords",
        severity,
        f"The link uses account/credential words: {', '.join(words[:5])}.",
        "phishing",
    )


def long_url(view: UrlView) -> Finding | None:
    """Very long links hide their real structure from the reader."""
    length = len(view.parts.url)
    if length <= LONG_URL:
        return None
    severity = "medium" if length > VERY_LONG_URL else "low"
    return Finding("long_url", severity, f"The link is {length} characters long.")


def executable_download(view: UrlView) -> Finding | None:
    """Links straight to programs or archives are how malware is delivered."""
    extension = view.file_extension
    if extension in EXECUTABLE_EXTENSIONS:
        return Finding(
            "executable_download",
            "high",
            f"The link downloads a .{extension} file, which can run code.",
            "malware",
        )
    if extension in ARCHIVE_EXTENSIONS:
        return Finding("archive_download", "medium", f"The link downloads a .{extension} archive.", "malware")
    return None


def double_extension(view: UrlView) -> Finding | None:
    """``invoice.pdf.exe`` pretends to be a document."""
    last = view.parts.path.rsplit("/", 1)[-1].lower()
    pieces = last.split(".")
    if len(pieces) < 3 or pieces[-1] not in EXECUTABLE_EXTENSIONS or pieces[-2] not in DOCUMENT_EXTENSIONS:
        return None
    return Finding(
        "double_extension", "high", f"The file name {last[:60]} disguises a program as a document.", "malware"
    )


def unwanted_software_words(view: UrlView) -> Finding | None:
    """Crack / keygen / warez pages bundle adware and trojans."""
    words = sorted(UNWANTED_SOFTWARE_WORDS.intersection(view.path_words + view.host_without_www.split(".")))
    if not words:
        return None
    return Finding(
        "unwanted_software_words",
        "medium",
        f"The link uses software-piracy words: {', '.join(words)}.",
        "unwanted_software",
    )


def embedded_url(view: UrlView) -> Finding | None:
    """A second URL inside the path or query often means a redirect to somewhere else."""
    if not _EMBEDDED_URL.search(view.path_and_query):
        return None
    return Finding(
        "embedded_url", "low", "The link carries another URL in its path or query (a possible redirect)."
    )


def heavy_encoding(view: UrlView) -> Finding | None:
    """Many percent-escapes hide words from people and filters."""
    escapes = view.path_and_query.count("%")
    if escapes < 10:
        return None
    return Finding(
        "heavy_percent_encoding", "low", f"The link contains {escapes} percent-escaped characters."
    )


def plain_http(view: UrlView) -> Finding | None:
    """Informational only: plain HTTP is common for benign and malicious sites alike."""
    if view.parts.scheme != "http":
        return None
    return Finding("no_tls", "info", "The link does not use HTTPS.")


LEXICAL_RULES = (
    credential_keywords,
    long_url,
    executable_download,
    double_extension,
    unwanted_software_words,
    embedded_url,
    heavy_encoding,
    plain_http,
)
