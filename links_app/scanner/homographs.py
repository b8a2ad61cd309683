"""Homograph checks on internationalised host names (confusable-homoglyphs)."""

from __future__ import annotations

from functools import lru_cache

from confusable_homoglyphs import categories, confusables


@lru_cache(maxsize=4096)
def latin_skeleton(text: str) -> str:
    """Replace each non-ASCII character by an ASCII look-alike when one exists.

    ``"аррӏе"`` (Cyrillic) becomes ``"apple"``-ish; characters without an ASCII
    twin are kept, so a genuinely non-Latin name keeps its non-ASCII skeleton.
    """
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        twins = confusables.confusables_data.get(char, [])
        ascii_twin = next((t["c"] for t in twins if t["c"].isascii() and t["c"].isalnum()), None)
        out.append(ascii_twin.lower() if ascii_twin else char)
    return "".join(out)


@lru_cache(maxsize=4096)
def mixed_script_labels(unicode_host: str) -> tuple[str, ...]:
    """Host labels that mix scripts (e.g. Latin with Cyrillic), a classic spoof."""
    mixed = []
    for label in unicode_host.split("."):
        if label.isascii():
            continue
        scripts = categories.unique_aliases(label) - {"COMMON"}
        if len(scripts) > 1:
            mixed.append(label)
    return tuple(mixed)


def imitates_latin(label: str) -> bool:
    """True when a non-ASCII label is made only of Latin look-alikes."""
    return not label.isascii() and latin_skeleton(label).isascii()
