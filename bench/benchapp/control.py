"""The control for figure (24.5): what POST /api/posts/ and its vote endpoint do, the plain Django way.

Same middleware, authentication, throttle, serializers and tables as the
community's API (`community_app/api.py`), but the rows are written directly
with the ORM in one transaction: no event, no log, no projection. The ratio
of the API's rate to this one is the cost of event sourcing per request.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from community_app import selectors
from community_app.api import CommunityApi
from community_app.link_extraction import extract_urls
from community_app.models import Post, PostLink, Vote
from community_app.serializers import PostCreateInput, PostOutput, VoteInput, VoteOutput
from community_app.services.common import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, check_text, live_post


class ControlPostCreateApi(CommunityApi):
    def post(self, request):
        given = PostCreateInput(data=request.data)
        given.is_valid(raise_exception=True)
        title, body = given.validated_data["title"], given.validated_data["body"]
        check_text("title", title, TITLE_MAX_LENGTH)
        check_text("body", body, BODY_MAX_LENGTH)
        now = timezone.now()
        with transaction.atomic():
            post = Post.objects.create(
                id=uuid.uuid4(),
                title=title,
                body=body,
                author_id=request.user.id,
                author_username=request.user.get_username(),
                created_at=now,
                updated_at=now,
                created_position=0,
                version=1,
            )
            PostLink.objects.bulk_create(
                PostLink(post_id=post.id, normalized_url=url, rank=rank)
                for rank, url in enumerate(extract_urls(body))
            )
        return Response(PostOutput(selectors.with_links([post])[0]).data, status=status.HTTP_201_CREATED)


class ControlPostVoteApi(CommunityApi):
    def post(self, request, post_id):
        given = VoteInput(data=request.data)
        given.is_valid(raise_exception=True)
        value = given.validated_data["value"]
        with transaction.atomic():
            post = live_post(post_id)
            vote = Vote.objects.select_for_update().filter(post_id=post.id, voter_id=request.user.id).first()
            old_value = vote.value if vote else 0
            if value != old_value:
                if vote is None:
                    Vote.objects.create(
                        post_id=post.id,
                        voter_id=request.user.id,
                        value=value,
                        version=1,
                        updated_at=timezone.now(),
                    )
                else:
                    vote.value, vote.version, vote.updated_at = value, vote.version + 1, timezone.now()
                    vote.save(update_fields=["value", "version", "updated_at"])
                Post.objects.filter(id=post.id).update(score=F("score") + value - old_value)
            score = Post.objects.values_list("score", flat=True).get(id=post.id)
        return Response(VoteOutput({"score": score, "my_vote": value}).data)
