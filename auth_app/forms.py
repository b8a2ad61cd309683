"""The admin login form: its password check is the API's (auth_app.services.login_attempts)."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from platform_site.correlation import client_ip

from .errors import InvalidCredentials, LoginLocked
from .services import login_credentials_check

LOCKED_MESSAGE = "Too many failed login attempts. Try again later."


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    """Checks the password through the login service instead of `authenticate()`.

    So the admin takes the same per-username lock as the API, counts towards the
    same lockout and records its failures and refusals the same way; nothing
    here sends `user_login_failed`, so nothing is recorded twice.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            ip = client_ip(self.request) if self.request is not None else ""
            try:
                self.user_cache = login_credentials_check(username=username, password=password, ip=ip)
            except LoginLocked:
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked") from None
            except InvalidCredentials:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
