"""Crypto-shredding of personal data in immutable events (DESIGN.md guarantee 9, docs/privacy.md).

Personal values are sealed with a per-subject data key when an event is
appended and opened on every read; forgetting a subject destroys its key, so
its values read as `ERASED` from then on while the event rows stay untouched.
"""

from .keys import KeyRing, forget_subject, is_forgotten, rewrap_all_keys
from .sealing import (
    ERASED,
    METADATA_PERSONAL_FIELDS,
    find_sealed,
    holds_sealed,
    is_erased,
    needs_sealing,
    open_appended,
    open_event,
    open_found,
    open_sealed,
    seal_event,
    sealed_subjects,
    user_subject,
)

__all__ = [
    "ERASED",
    "METADATA_PERSONAL_FIELDS",
    "KeyRing",
    "find_sealed",
    "forget_subject",
    "holds_sealed",
    "is_erased",
    "is_forgotten",
    "needs_sealing",
    "open_appended",
    "open_event",
    "open_found",
    "open_sealed",
    "rewrap_all_keys",
    "seal_event",
    "sealed_subjects",
    "user_subject",
]
