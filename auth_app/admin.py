"""Users in the admin, each with their recent security events; lockout on the admin login."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils.html import format_html, format_html_join

from eventstore import (
    REDACTED,
    ReadOnlyAdmin,
    ViewerAwareAdminMixin,
    failed_places,
    note_shown_events,
    note_shown_value,
    privacy,
    redact_event,
    viewer_reads_personal_data,
)

from .errors import AlreadyForgotten
from .forms import LockoutAdminAuthenticationForm
from .models import LoginLockout, User
from .selectors import user_security_events
from .services import user_forget_with_receipt

# The admin login answers for the same lockout as the API login.
admin.site.login_form = LockoutAdminAuthenticationForm

_SHOWN_DATA = (
    "reason",
    "method",
    "session_id",
    "ip",
    "session_duration_seconds",
    "revoked_sessions",
    "locked_until",
)


def _summary(data: dict) -> str:
    return ", ".join(f"{key}={data[key]}" for key in _SHOWN_DATA if key in data)


@admin.register(User)
class PlatformUserAdmin(ViewerAwareAdminMixin, UserAdmin):
    list_display = ("username", "shown_email", "is_staff", "is_active", "date_joined", "last_login")
    readonly_fields = ("recent_security_events",)
    fieldsets = (*UserAdmin.fieldsets, ("Security", {"fields": ("recent_security_events",)}))
    actions = ["forget_users"]

    @admin.action(
        description="Forget selected users (crypto-shred their personal data)", permissions=["delete"]
    )
    def forget_users(self, request, queryset):
        forgotten, unconfirmed, skipped = [], [], []
        for user in queryset:
            try:
                receipt = user_forget_with_receipt(username=user.username, forgotten_by=request.user)
            except AlreadyForgotten:
                skipped.append(user.username)
                continue
            if receipt.passed:
                forgotten.append(f"{user.username} (receipt #{receipt.pk})")
            else:
                places = ", ".join(failed_places(receipt))
                unconfirmed.append(
                    f"{user.username}: readable copies remain in {places} (receipt #{receipt.pk})"
                )
        if forgotten:
            self.message_user(request, f"Forgotten: {', '.join(forgotten)}.", messages.SUCCESS)
        for line in unconfirmed:
            self.message_user(request, f"Key destroyed but erasure NOT confirmed for {line}.", messages.ERROR)
        if skipped:
            self.message_user(
                request, f"Already forgotten, unchanged: {', '.join(skipped)}.", messages.WARNING
            )

    def get_fieldsets(self, request, obj=None):
        # Without the personal-data permission the email is shown redacted, and not editable.
        fieldsets = super().get_fieldsets(request, obj)
        if viewer_reads_personal_data():
            if obj is not None:
                note_shown_value(privacy.user_subject(obj.pk), "account.email", obj.email)
            return fieldsets
        return [
            (
                name,
                {**options, "fields": tuple("shown_email" if f == "email" else f for f in options["fields"])},
            )
            for name, options in fieldsets
        ]

    def get_search_fields(self, request):
        # A search that matches on emails would confirm a guessed email to staff who may not read them.
        fields = super().get_search_fields(request)
        if viewer_reads_personal_data():
            return fields
        return tuple(f for f in fields if f.lstrip("=^@") != "email")

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "shown_email")

    @admin.display(description="email address", ordering="email")
    def shown_email(self, obj: User) -> str:
        if not viewer_reads_personal_data():
            return REDACTED
        note_shown_value(privacy.user_subject(obj.pk), "account.email", obj.email)
        return obj.email

    @admin.display(description="recent security events")
    def recent_security_events(self, obj: User):
        if obj.pk is None:
            return "—"
        events = user_security_events(user_id=obj.pk, limit=25)
        if viewer_reads_personal_data():
            note_shown_events(events)
        else:
            events = [redact_event(event) for event in events]
        if not events:
            return "No events yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (f"{e.recorded_at:%Y-%m-%d %H:%M:%S}", e.type, _summary(e.data), e.correlation_id)
                for e in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>when</th><th>event</th><th>details</th><th>correlation id</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(LoginLockout)
class LoginLockoutAdmin(ReadOnlyAdmin):
    """Read-only: locks are a projection of failed-attempt events."""

    list_display = ("scope", "key", "locked_at", "locked_until", "failed_attempts")
    list_filter = ("scope",)
    search_fields = ("=key",)
