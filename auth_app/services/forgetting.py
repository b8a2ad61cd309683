"""Forgetting a user: crypto-shredding their personal data (docs/privacy.md)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from knox.models import AuthToken

from eventstore import (
    CHECK_FAILED,
    CHECK_PASSED,
    ErasureCheck,
    ErasureReceipt,
    atomic_command,
    collect_traces,
    privacy,
    publish,
    verify_erasure,
)

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


def user_forget_with_receipt(*, username: str, forgotten_by=None) -> ErasureReceipt:
    """Forget the user (`user_forget`), then check every place for readable copies; the stored receipt.

    The user's personal values are read first, while their key still opens
    them, so the checks know what to look for; they stay in memory. The forget
    commits before the checks run, so a failed check does not undo it: the
    receipt then names the places that still hold a readable copy, and
    `receipt.passed` is False. Raises like `user_forget`, before anything changed.
    """
    started_at = timezone.now()
    user = get_user_model()._default_manager.get(username=username)
    subject = privacy.user_subject(user.pk)
    if privacy.is_forgotten(subject):
        raise AlreadyForgotten(f"{username} was forgotten before")
    full_name = f"{user.first_name} {user.last_name}".strip()
    traces = collect_traces(subject, known_values=[user.email, full_name], public=[user.username])
    tokens = AuthToken.objects.filter(user=user).count()
    user = user_forget(username=username, forgotten_by=forgotten_by)
    erased = {"personal_data_keys_destroyed": 1, "account_rows_scrubbed": 1, "api_tokens_deleted": tokens}
    return verify_erasure(
        traces,
        started_at=started_at,
        erased=erased,
        extra_checks=[_account_check(user.pk)],
        requested_by_id=forgotten_by.pk if forgotten_by is not None else None,
    )


def _account_check(user_id: int) -> ErasureCheck:
    user = get_user_model()._default_manager.get(pk=user_id)
    left = [
        name
        for name, kept in [
            ("email", user.email != forgotten_email(user_id)),
            ("name", bool(user.first_name or user.last_name)),
            ("password", user.has_usable_password()),
            ("active flag", user.is_active),
            ("API tokens", AuthToken.objects.filter(user_id=user_id).exists()),
        ]
        if kept
    ]
    if left:
        return ErasureCheck("account row", CHECK_FAILED, 1, len(left), f"still holds: {', '.join(left)}")
    return ErasureCheck(
        "account row", CHECK_PASSED, 1, 0, "email replaced, name blanked, password unusable, tokens deleted"
    )
