"""Input and output shapes of the community API (API.md, "Community")."""

from __future__ import annotations

from rest_framework import serializers

from .services import BODY_MAX_LENGTH, COMMENT_MAX_LENGTH, TITLE_MAX_LENGTH, VOTE_VALUES


class PostCreateInput(serializers.Serializer):
    title = serializers.CharField(min_length=1, max_length=TITLE_MAX_LENGTH)
    body = serializers.CharField(min_length=1, max_length=BODY_MAX_LENGTH)


class PostUpdateInput(serializers.Serializer):
    title = serializers.CharField(min_length=1, max_length=TITLE_MAX_LENGTH, required=False)
    body = serializers.CharField(min_length=1, max_length=BODY_MAX_LENGTH, required=False)
    version = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs):
        if "title" not in attrs and "body" not in attrs:
            raise serializers.ValidationError("Give a title and/or a body to change.")
        return attrs


class CommentCreateInput(serializers.Serializer):
    body = serializers.CharField(min_length=1, max_length=COMMENT_MAX_LENGTH)


class VoteInput(serializers.Serializer):
    value = serializers.ChoiceField(choices=VOTE_VALUES, help_text="1 up, -1 down, 0 removes the vote.")


class AuthorOutput(serializers.Serializer):
    id = serializers.IntegerField(source="author_id")
    username = serializers.CharField(source="author_username")


class LinkOutput(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "completed", "failed"])
    verdict = serializers.ChoiceField(choices=["safe", "suspicious", "malicious"], allow_null=True)
    safety_score = serializers.IntegerField(allow_null=True)


class PostOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    author = AuthorOutput(source="*")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    score = serializers.IntegerField()
    comment_count = serializers.IntegerField()
    links = LinkOutput(many=True)
    flagged = serializers.BooleanField()
    version = serializers.IntegerField()


class CommentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    body = serializers.CharField()
    author = AuthorOutput(source="*")
    created_at = serializers.DateTimeField()


class VoteOutput(serializers.Serializer):
    score = serializers.IntegerField()
    my_vote = serializers.IntegerField()
