"""Username policy against look-alike and invisible-character tricks (docs/security.md).

- Usernames are NFKC-normalised before anything else, so full-width or
  ligature forms ("ａｄｍｉｎ") become the plain name ("admin") and clash with
  it case-insensitively instead of impersonating it.
- Invisible and direction-changing characters (zero-width joiners, RTL
  overrides) never pass UnicodeUsernameValidator (they are not word characters).
- A name mixing letters of scripts that contain Latin look-alikes (Latin with
  Cyrillic, Greek, ...) is refused: "раypal" with a Cyrillic "р" is the classic
  homoglyph impersonation. Single-script names in any script stay welcome.
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs import categories
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

# Scripts whose letters double as Latin ones; mixing any two of them is how look-alikes are built.
LOOKALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
MIXED_SCRIPTS = "Use letters of one script only; names mixing look-alike scripts are not allowed."
MAX_LENGTH = 150
TOO_LONG = f"At most {MAX_LENGTH} characters (after Unicode normalisation)."


def normalize_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username)


def username_problem(username: str) -> str | None:
    """Why `username` (already normalised) is refused, or None.

    The API validated the raw name, but normalisation can lengthen it ("ﷺ" is
    18 characters in NFKC) or produce characters the validator refuses ("½").
    """
    if len(username) > MAX_LENGTH:
        return TOO_LONG
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as invalid:
        return invalid.messages[0]
    scripts = categories.unique_aliases(username) & LOOKALIKE_SCRIPTS
    if len(scripts) > 1:
        return MIXED_SCRIPTS
    return None
