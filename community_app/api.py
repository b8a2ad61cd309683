"""The community's HTTP API: thin views that call one service or selector each."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from . import selectors, services
from .serializers import (
    CommentCreateInput,
    CommentOutput,
    PostCreateInput,
    PostOutput,
    PostUpdateInput,
    VoteInput,
    VoteOutput,
)

BAD_INPUT = OpenApiResponse(description="Invalid input (field errors); nothing is recorded.")
SIGN_IN = OpenApiResponse(description="Not signed in.")
NOT_ALLOWED = OpenApiResponse(description="Signed in, but not the author (or a moderator, for deletes).")
NO_POST = OpenApiResponse(description="No such post, or it was deleted.")
STALE = OpenApiResponse(description="`version` is not the post's current version.")


class CommunityApi(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    # Writes share the `write` rate (REST_FRAMEWORK DEFAULT_THROTTLE_RATES); reads are not limited.
    throttle_scope = "write"

    def get_throttles(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return []
        return [ScopedRateThrottle()]


class PostListApi(CommunityApi):
    serializer_class = PostOutput

    @extend_schema(operation_id="posts_list", responses=PostOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.post_list())
        return self.get_paginated_response(PostOutput(selectors.with_links(page), many=True).data)

    @extend_schema(
        operation_id="posts_create",
        request=PostCreateInput,
        responses={201: PostOutput, 400: BAD_INPUT, 401: SIGN_IN},
    )
    def post(self, request):
        given = PostCreateInput(data=request.data)
        given.is_valid(raise_exception=True)
        post = services.post_create(author=request.user, **given.validated_data)
        # The service built the new post from its event (as the projection wrote it): only its links are missing.
        return Response(PostOutput(selectors.with_links([post])[0]).data, status=status.HTTP_201_CREATED)


class PostDetailApi(CommunityApi):
    serializer_class = PostOutput

    @extend_schema(operation_id="posts_retrieve", responses={200: PostOutput, 404: NO_POST})
    def get(self, request, post_id):
        return Response(PostOutput(selectors.post_get(post_id=post_id)).data)

    @extend_schema(
        operation_id="posts_partial_update",
        request=PostUpdateInput,
        responses={200: PostOutput, 400: BAD_INPUT, 401: SIGN_IN, 403: NOT_ALLOWED, 404: NO_POST, 409: STALE},
    )
    def patch(self, request, post_id):
        given = PostUpdateInput(data=request.data)
        given.is_valid(raise_exception=True)
        fields = given.validated_data
        post = services.post_update(
            editor=request.user,
            post_id=post_id,
            title=fields.get("title"),
            body=fields.get("body"),
            expected_version=fields.get("version"),
        )
        # The service read the post in the edit's transaction already: only its links are missing.
        return Response(PostOutput(selectors.with_links([post])[0]).data)

    @extend_schema(
        operation_id="posts_destroy", responses={204: None, 401: SIGN_IN, 403: NOT_ALLOWED, 404: NO_POST}
    )
    def delete(self, request, post_id):
        services.post_delete(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostCommentsApi(CommunityApi):
    serializer_class = CommentOutput

    @extend_schema(
        operation_id="posts_comments_list", responses={200: CommentOutput(many=True), 404: NO_POST}
    )
    def get(self, request, post_id):
        page = self.paginate_queryset(selectors.comment_list(post_id=post_id))
        return self.get_paginated_response(CommentOutput(page, many=True).data)

    @extend_schema(
        operation_id="posts_comments_create",
        request=CommentCreateInput,
        responses={201: CommentOutput, 400: BAD_INPUT, 401: SIGN_IN, 404: NO_POST},
    )
    def post(self, request, post_id):
        given = CommentCreateInput(data=request.data)
        given.is_valid(raise_exception=True)
        comment = services.comment_create(author=request.user, post_id=post_id, **given.validated_data)
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class PostVoteApi(CommunityApi):
    serializer_class = VoteOutput

    @extend_schema(
        operation_id="posts_vote",
        request=VoteInput,
        responses={200: VoteOutput, 400: BAD_INPUT, 401: SIGN_IN, 404: NO_POST},
    )
    def post(self, request, post_id):
        given = VoteInput(data=request.data)
        given.is_valid(raise_exception=True)
        result = services.post_vote(voter=request.user, post_id=post_id, value=given.validated_data["value"])
        return Response(VoteOutput(result).data)
