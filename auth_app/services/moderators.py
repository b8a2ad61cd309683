"""Granting the moderator role: membership of the `moderators` group."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from eventstore import atomic_command, publish

from ..events import MODERATOR_GRANTED, user_stream

MODERATORS_GROUP = "moderators"


@atomic_command
def moderator_grant(*, username: str) -> bool:
    """Add the user to `moderators` (creating the group if missing); False if already a member.

    Records `auth:moderator_granted` only when membership changes. Raises
    the user model's DoesNotExist for an unknown username.
    """
    user = get_user_model().objects.get(username=username)
    group, _created = Group.objects.get_or_create(name=MODERATORS_GROUP)
    if user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.add(group)
    publish(
        MODERATOR_GRANTED,
        stream_id=user_stream(user.pk),
        data={"user_id": user.pk, "username": user.username},
    )
    return True
