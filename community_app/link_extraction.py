"""Finding the links in a post's body (pure functions, no database)."""

from __future__ import annotations

import re

from links_app.scanner import InvalidURL, normalize_url

MAX_LINKS_PER_POST = 20

# A candidate runs from http(s):// to the next whitespace or character that
# cannot end a link in prose (quotes and angle brackets delimit links in text).
_CANDIDATE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
# Sentence punctuation right after a link belongs to the sentence, not the link.
_TRAILING_PUNCTUATION = ".,;:!?*"
_CLOSING_TO_OPENING = {")": "(", "]": "[", "}": "{"}


def _trim(candidate: str) -> str:
    while candidate:
        last = candidate[-1]
        if last in _TRAILING_PUNCTUATION:
            candidate = candidate[:-1]
        elif last in _CLOSING_TO_OPENING and candidate.count(last) > candidate.count(
            _CLOSING_TO_OPENING[last]
        ):
            # "(see https://x.example/a)" ends the parenthesis, but
            # "https://en.wikipedia.org/wiki/Go_(game)" keeps its own.
            candidate = candidate[:-1]
        else:
            return candidate
    return candidate


def extract_urls(body: str) -> list[str]:
    """The normalised http(s) URLs of `body`, in order, without duplicates, at most 20.

    Links that do not normalise (bad host, bad port, too long) are skipped:
    a post is text, and a broken link in it is not an error of the post.
    """
    found: list[str] = []
    for match in _CANDIDATE.finditer(body):
        try:
            url = normalize_url(_trim(match.group(0)))
        except InvalidURL:
            continue
        if url not in found:
            found.append(url)
            if len(found) == MAX_LINKS_PER_POST:
                break
    return found
