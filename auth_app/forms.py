"""The admin login form, with the API's lockout in front of the password check."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from platform_site.correlation import client_ip

from .selectors import login_block
from .services import login_failure_record

LOCKED_MESSAGE = "Too many failed login attempts. Try again later."


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    """Refuses a locked username or ip before `authenticate()` runs, recording the refusal.

    Failures themselves are recorded by auth_app.signals (user_login_failed),
    so they count towards the same lock as API logins.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        if username:
            ip = client_ip(self.request) if self.request is not None else ""
            block = login_block(username=username, ip=ip)
            if block is not None:
                reason = "locked" if block.scope == "username" else "ip_locked"
                login_failure_record(username=username, ip=ip, reason=reason)
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        return super().clean()
