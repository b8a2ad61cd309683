"""Accounts: the custom user model (the write model of the auth app)."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    # Unique email: API.md answers 400 for a duplicate email at registration.
    email = models.EmailField("email address", unique=True)

    @property
    def is_moderator(self) -> bool:
        """Staff count as moderators; others need the `moderators` group."""
        if self.is_staff:
            return True
        return self.groups.filter(name="moderators").exists()
