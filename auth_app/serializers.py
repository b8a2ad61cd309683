"""Input and output shapes of the accounts API (API.md, "Accounts")."""

from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

# Passwords are write-only everywhere and never trimmed: spaces are characters too.
_password = {"write_only": True, "trim_whitespace": False, "max_length": 4096}


class RegisterInput(serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(**_password)


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(**_password)


class PasswordChangeInput(serializers.Serializer):
    old_password = serializers.CharField(**_password)
    new_password = serializers.CharField(**_password)


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()


class UserRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class LoginOutput(serializers.Serializer):
    token = serializers.CharField()
    user = UserRefOutput()


class MeOutput(UserOutput):
    is_moderator = serializers.BooleanField()
