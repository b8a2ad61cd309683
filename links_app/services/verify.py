"""A moderator's verdict on a link: it overrides the scanner's in every read."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError

from eventstore import atomic_command, publish

from ..errors import LinkNotFound, NotAModerator
from ..events import LINK_VERIFIED, LinkVerified, link_stream
from ..models import Link, Verdict

MAX_NOTE_LENGTH = 1000


@atomic_command(retry_conflicts=True)
def link_verify(*, link_id: uuid.UUID, verdict: str, note: str = "", moderator) -> Link:
    """Record `link:link_verified`: `moderator` (who must be one) judges the link by hand.

    Raises NotAModerator for a non-moderator, ValidationError for a verdict
    or note that does not fit, LinkNotFound for an unknown link. Safe to rerun
    on a conflict (e.g. with a scan completing meanwhile): the moderator's
    decision does not depend on the link's other state.
    """
    if not getattr(moderator, "is_moderator", False):
        raise NotAModerator("Only moderators can verify links.")
    if verdict not in Verdict.values:
        raise ValidationError({"verdict": f"Must be one of: {', '.join(Verdict.values)}."})
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationError({"note": f"At most {MAX_NOTE_LENGTH} characters."})
    link = Link.objects.filter(id=link_id).first()
    if link is None:
        raise LinkNotFound(link_id)
    publish(
        LINK_VERIFIED,
        stream_id=link_stream(link.id),
        expected_version=link.stream_version,
        data=LinkVerified(
            link_id=link.id,
            normalized_url=link.normalized_url,
            verdict=verdict,
            note=note,
            verified_by=moderator.pk,
            verified_by_username=moderator.get_username(),
            previous_verdict=link.verdict or None,
        ),
        metadata={"actor_id": moderator.pk},
    )
    link.refresh_from_db()
    return link
