"""Forgetting a user: crypto-shredding their personal data (docs/privacy.md)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from knox.models import AuthToken

from eventstore import atomic_command, privacy, publish

from ..errors import AlreadyForgotten
from ..events import USER_FORGOTTEN, user_stream


def forgotten_email(user_id: int) -> str:
    """The placeholder that replaces a forgotten user's email (unique, never deliverable)."""
    return f"forgotten-{user_id}@erased.invalid"


@atomic_command
def user_forget(*, username: str, forgotten_by=None):
    """Destroy the user's data key, scrub their account row and record `user:forgotten`.

    Afterwards every read of their events shows their personal values as
    `eventstore.privacy.ERASED`, and a replay leaves no trace of them in any
    projection. The account stays as an inactive shell: the username is kept
    (events and projections name authors by it; it is not personal data per
    DESIGN.md), the email is replaced by `forgotten_email`, the password made
    unusable, names blanked and every API token deleted (browser sessions die
    with `is_active=False`). Raises the user model's DoesNotExist for an unknown
    username and AlreadyForgotten when the user was forgotten before.
    """
    user = get_user_model()._default_manager.select_for_update().get(username=username)
    if not privacy.forget_subject(privacy.user_subject(user.pk)):
        raise AlreadyForgotten(f"{username} was forgotten before")
    user.email = forgotten_email(user.pk)
    user.first_name = user.last_name = ""
    user.set_unusable_password()
    user.is_active = False
    user.save(update_fields=["email", "first_name", "last_name", "password", "is_active"])
    AuthToken.objects.filter(user=user).delete()
    publish(
        USER_FORGOTTEN,
        stream_id=user_stream(user.pk),
        data={"user_id": user.pk, "username": user.username},
        metadata={"actor_id": forgotten_by.pk} if forgotten_by is not None else None,
    )
    return user
