"""The links API (API.md, "Links"): thin views, one service or selector each."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import selectors
from .serializers import (
    LinkFilterSerializer,
    LinkSafetySerializer,
    ScanOutputSerializer,
    ScanRequestInputSerializer,
    VerifyInputSerializer,
)
from .services import link_scan_request, link_verify


class IsModerator(BasePermission):
    message = "Only moderators can verify links."

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_moderator", False))


class ScanRequestApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "write"

    @extend_schema(
        operation_id="links_scan_request",
        request=ScanRequestInputSerializer,
        responses={
            202: OpenApiResponse(
                ScanOutputSerializer, "Scan requested (pending); records link:scan_requested."
            ),
            200: OpenApiResponse(
                ScanOutputSerializer,
                "A result younger than LINK_RESCAN_AFTER (24 h) answers the request; nothing is recorded. "
                "Send rescan=true to scan again.",
            ),
            400: OpenApiResponse(description='Unusable URL: {"url": [message]}; nothing is recorded.'),
        },
    )
    def post(self, request):
        params = ScanRequestInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        outcome = link_scan_request(
            url=params.validated_data["url"],
            requested_by=request.user.pk,
            rescan=params.validated_data["rescan"],
        )
        answered_from_result = not outcome.created and outcome.scan.status == "completed"
        return Response(
            ScanOutputSerializer(outcome.scan).data,
            status=status.HTTP_200_OK if answered_from_result else status.HTTP_202_ACCEPTED,
        )


class ScanDetailApi(APIView):
    @extend_schema(operation_id="links_scan_detail", responses=ScanOutputSerializer)
    def get(self, request, scan_id: uuid.UUID):
        scan = selectors.scan_get(scan_id=scan_id)
        if scan is None:
            raise NotFound("No such scan.")
        return Response(ScanOutputSerializer(scan).data)


class LinkListApi(GenericAPIView):
    serializer_class = LinkSafetySerializer

    @extend_schema(
        operation_id="links_list",
        responses=LinkSafetySerializer(many=True),  # a page of them, not one (the paginator wraps it)
        parameters=[
            OpenApiParameter(
                "domain", str, description="Registered domain (www.example.com counts as example.com)."
            ),
            OpenApiParameter(
                "verdict", str, enum=["safe", "suspicious", "malicious"], description="Effective verdict."
            ),
        ],
    )
    def get(self, request):
        filters = LinkFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.link_list(**filters.validated_data))
        return self.get_paginated_response(LinkSafetySerializer(page, many=True).data)


class LinkDetailApi(APIView):
    @extend_schema(operation_id="links_detail", responses=LinkSafetySerializer)
    def get(self, request, link_id: uuid.UUID):
        link = selectors.link_get(link_id=link_id)
        if link is None:
            raise NotFound("No such link.")
        return Response(LinkSafetySerializer(link).data)


class LinkVerifyApi(APIView):
    permission_classes = [IsAuthenticated, IsModerator]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "write"

    @extend_schema(
        operation_id="links_verify",
        request=VerifyInputSerializer,
        responses={200: OpenApiResponse(LinkSafetySerializer, "Recorded link:link_verified.")},
    )
    def post(self, request, link_id: uuid.UUID):
        params = VerifyInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        link = link_verify(link_id=link_id, moderator=request.user, **params.validated_data)
        return Response(LinkSafetySerializer(link).data)
