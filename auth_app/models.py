"""Accounts: the custom user model (the write model) and the login-security read model.

`LoginFailure` and `LoginLockout` are projection tables, written only by
`auth_app.projections` from `auth:failed_login_attempt` events, so a replay
rebuilds them. They hold plain keys (the keyed-hash username key, the ip), no foreign keys.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    # Unique email: API.md answers 400 for a duplicate email at registration.
    email = models.EmailField("email address", unique=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            # Registration refuses case variants; these keep a race from slipping one in.
            models.UniqueConstraint(Lower("username"), name="auth_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="auth_user_email_ci_unique"),
        ]

    @property
    def is_moderator(self) -> bool:
        """Staff count as moderators; others need the `moderators` group."""
        if self.is_staff:
            return True
        return self.groups.filter(name="moderators").exists()


class LoginFailure(models.Model):
    """One counted failed login (a password was tried and not accepted)."""

    event_id = models.UUIDField(unique=True)
    username_key = models.CharField(max_length=200, db_index=True)
    ip = models.CharField(max_length=64, db_index=True)
    attempted_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.username_key} from {self.ip} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class LoginLockout(models.Model):
    """The latest lock of one username key or one ip; it is in force while `locked_until` is ahead."""

    SCOPES = [("username", "username"), ("ip", "ip")]

    scope = models.CharField(max_length=16, choices=SCOPES)
    key = models.CharField(max_length=200)
    locked_at = models.DateTimeField()
    locked_until = models.DateTimeField()
    failed_attempts = models.PositiveIntegerField()
    triggered_by = models.UUIDField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="auth_lockout_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} locked until {self.locked_until:%Y-%m-%d %H:%M:%S}"
